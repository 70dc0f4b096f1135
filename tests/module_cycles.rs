//! The shape of every crate's modules. One layout style: a module with submodules is a
//! folder with a `mod.rs` (never `x.rs` beside a folder `x/`). And no crate has an import
//! cycle between its modules: the module graph of every crate in
//! the workspace is a one-way stack, so each file can be read knowing only what is below
//! it.
//!
//! The graph is built from the source text: a file is a node (inline modules such as
//! `mod tests { … }` belong to their file); an edge `a → b` is any path in `a` that
//! resolves to module `b` (`crate::b::…`, `super::…`, `self::…` or a child module's
//! name, inside `use` trees and in expressions alike), following re-exports (`crate::X`
//! where the root has `pub use b::X` counts as a use of `b`). Declaring a child
//! (`mod b;`) is not a use of it, and a file's unit tests (`#[cfg(test)]` items) may look
//! anywhere. A module may use its own ancestors' items: a child module is part of its
//! parent (Rust lets it see the parent's private items for that reason), so the edges that
//! count are those between modules that are not one another's ancestor. A cycle is a
//! strongly connected component of more than one file; the test prints each one with the
//! uses that close it.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The crates' source roots, relative to the workspace root.
fn source_roots(workspace: &Path) -> Vec<PathBuf> {
    let mut roots = vec![workspace.join("src"), workspace.join("bench/src")];
    let crates = fs::read_dir(workspace.join("crates")).expect("crates/ is readable");
    for entry in crates.flatten() {
        let src = entry.path().join("src");
        if src.is_dir() {
            roots.push(src);
        }
    }
    roots.sort();
    roots
}

/// A module path inside one crate: `[]` is the crate root.
type ModPath = Vec<String>;

/// Every `.rs` file under `dir`, with the module path it defines.
fn module_files(root: &Path) -> BTreeMap<ModPath, PathBuf> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)
            .expect("source dir is readable")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(root).expect("under its root");
            let mut segments: ModPath = relative
                .iter()
                .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            let last = segments.last().map(String::as_str);
            if matches!(last, Some("mod" | "lib" | "main")) {
                segments.pop();
            }
            // A binary's extra entry points (src/bin/x.rs) are separate crates: skip them.
            if segments.first().is_some_and(|first| first == "bin") {
                continue;
            }
            files.insert(segments, path);
        }
    }
    files
}

/// The source with comments, string and char literals blanked out (same length, so
/// nothing that looks like a path inside them is taken for one).
fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            out.push_str(&" ".repeat(end));
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |at| at + 2);
            out.push_str(&" ".repeat(end));
            i += end;
        } else if let Some(len) = raw_string_len(rest) {
            out.push_str(&" ".repeat(len));
            i += len;
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() {
                match rest.as_bytes()[j] {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            let len = (j + 1).min(rest.len());
            out.push_str(&" ".repeat(len));
            i += len;
        } else if let Some(len) = char_literal_len(rest) {
            out.push_str(&" ".repeat(len));
            i += len;
        } else {
            let c = rest.chars().next().expect("not at the end");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Length of a raw string literal (`r"…"`, `r#"…"#`, `br"…"`) starting here, if one does.
fn raw_string_len(rest: &str) -> Option<usize> {
    let after_prefix = rest.strip_prefix("br").or_else(|| rest.strip_prefix('r'))?;
    let hashes = after_prefix.len() - after_prefix.trim_start_matches('#').len();
    let body = after_prefix[hashes..].strip_prefix('"')?;
    let closing = format!("\"{}", "#".repeat(hashes));
    let end = body.find(&closing)?;
    Some(rest.len() - body.len() + end + closing.len())
}

/// Length of a char literal (`'a'`, `'\n'`, `'\''`) starting here; lifetimes are not one.
fn char_literal_len(rest: &str) -> Option<usize> {
    let body = rest.strip_prefix('\'')?;
    let mut chars = body.char_indices();
    let (_, first) = chars.next()?;
    if first == '\\' {
        let end = body[1..].find('\'')? + 1;
        return Some(end + 2);
    }
    let (at, next) = chars.next()?;
    (next == '\'').then_some(at + 2)
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The code with every `#[cfg(test)]` item (the attribute and the braced block or
/// `mod x;` after it) blanked: unit tests may reach across the crate.
fn without_test_items(code: &str) -> String {
    let mut out = code.to_owned();
    let mut from = 0;
    while let Some(found) = out[from..].find("#[cfg(test)]") {
        let start = from + found;
        let after = start + "#[cfg(test)]".len();
        let open = out[after..].find('{').map(|at| after + at);
        let semi = out[after..].find(';').map(|at| after + at);
        let end = match (open, semi) {
            (Some(open), Some(semi)) if semi < open => semi + 1,
            (Some(open), _) => matching_brace(&out, open).map_or(out.len(), |at| at + 1),
            (None, Some(semi)) => semi + 1,
            (None, None) => out.len(),
        };
        out.replace_range(start..end, &" ".repeat(end - start));
        from = end;
    }
    out
}

fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (at, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + at);
                }
            }
            _ => {}
        }
    }
    None
}

/// Child modules a file declares (`mod x;` or `mod x { … }`), by name.
fn declared_children(code: &str) -> BTreeSet<String> {
    let mut children = BTreeSet::new();
    let words: Vec<&str> = code
        .split(|c: char| !is_ident_char(c))
        .filter(|w| !w.is_empty())
        .collect();
    for pair in words.windows(2) {
        if pair[0] == "mod" {
            children.insert(pair[1].to_owned());
        }
    }
    children
}

/// A path found in the code, and whether it was imported by a `use` item.
struct FoundPath {
    segments: Vec<String>,
    in_use_item: bool,
}

/// Every path in `code` that starts at `crate`, `super`, `self` or one of `children`,
/// with `use` trees (`a::{b, c::d}`) expanded, as lists of segments.
fn paths(code: &str, children: &BTreeSet<String>) -> Vec<FoundPath> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_ident_char(chars[i])
            || (i > 0 && (is_ident_char(chars[i - 1]) || chars[i - 1] == ':'))
        {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_ident_char(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let is_start =
            matches!(word.as_str(), "crate" | "super" | "self") || children.contains(&word);
        if is_start && chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            let before: String = chars[..start].iter().collect();
            let in_use_item =
                before.trim_end().ends_with("use") && !before.trim_end().ends_with("_use");
            let (tree, end) = parse_tree(&chars, start);
            found.extend(tree.into_iter().map(|segments| FoundPath {
                segments,
                in_use_item,
            }));
            i = end;
        }
    }
    found
}

/// Parses a path or use tree starting at `at`; returns its expanded paths and where it ended.
fn parse_tree(chars: &[char], mut at: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        while chars.get(at).is_some_and(|c| c.is_whitespace()) {
            at += 1;
        }
        if chars.get(at) == Some(&'{') {
            let mut all = Vec::new();
            at += 1;
            loop {
                while chars
                    .get(at)
                    .is_some_and(|c| c.is_whitespace() || *c == ',')
                {
                    at += 1;
                }
                match chars.get(at) {
                    None => return (all, at),
                    Some('}') => return (all, at + 1),
                    Some(_) => {}
                }
                let (inner, end) = parse_tree(chars, at);
                for path in inner {
                    let mut full = prefix.clone();
                    full.extend(path);
                    all.push(full);
                }
                // Skip `as alias` and anything else up to the next item.
                at = end;
                while chars.get(at).is_some_and(|c| *c != ',' && *c != '}') {
                    at += 1;
                }
            }
        }
        let start = at;
        while chars.get(at).is_some_and(|c| is_ident_char(*c)) {
            at += 1;
        }
        if at == start {
            return (vec![prefix], at);
        }
        prefix.push(chars[start..at].iter().collect());
        if chars.get(at) == Some(&':') && chars.get(at + 1) == Some(&':') {
            at += 2;
        } else {
            return (vec![prefix], at);
        }
    }
}

/// What each module imports with `use`: the imported name, and the path it came by.
type Imports = BTreeMap<ModPath, BTreeMap<String, Vec<String>>>;

/// Re-exports followed at most this deep (a chain longer than this is a loop).
const MAX_REEXPORT_DEPTH: usize = 8;

/// The file-backed module a path from `from` lands in: the deepest known module on its
/// way, or, when the path then names an item that module imported, where that item is.
fn resolve(
    from: &ModPath,
    path: &[String],
    modules: &BTreeMap<ModPath, PathBuf>,
    imports: &Imports,
    depth: usize,
) -> Option<ModPath> {
    let mut current: ModPath = from.clone();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            current.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                current.pop()?;
                rest = &rest[1..];
            }
        }
        _ => {}
    }
    while let Some(segment) = rest.first() {
        let mut deeper = current.clone();
        deeper.push(segment.clone());
        if modules.contains_key(&deeper) {
            current = deeper;
            rest = &rest[1..];
        } else {
            break;
        }
    }
    if let Some(name) = rest.first()
        && depth < MAX_REEXPORT_DEPTH
        && let Some(imported) = imports.get(&current).and_then(|names| names.get(name))
    {
        let imported = relative_to_module(imported);
        return resolve(&current, &imported, modules, imports, depth + 1);
    }
    modules.contains_key(&current).then_some(current)
}

/// A path as written in a module, with a bare child name made explicit (`self::child`).
fn relative_to_module(path: &[String]) -> Vec<String> {
    match path.first().map(String::as_str) {
        Some("crate" | "self" | "super") => path.to_vec(),
        _ => std::iter::once("self".to_owned())
            .chain(path.iter().cloned())
            .collect(),
    }
}

/// Strongly connected components of more than one node (Tarjan).
fn cycles(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'g> {
        graph: &'g BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'g ModPath, usize>,
        low: BTreeMap<&'g ModPath, usize>,
        stack: Vec<&'g ModPath>,
        on_stack: BTreeSet<&'g ModPath>,
        found: Vec<Vec<ModPath>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g ModPath) {
        let next = state.index.len();
        state.index.insert(node, next);
        state.low.insert(node, next);
        state.stack.push(node);
        state.on_stack.insert(node);
        for target in state.graph.get(node).into_iter().flatten() {
            if !state.index.contains_key(target) {
                visit(state, target);
                let low = state.low[node].min(state.low[target]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target) {
                let low = state.low[node].min(state.index[target]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.push(member.clone());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.found
}

/// The module graph of one crate: every file, and the files each one uses.
fn module_graph(root: &Path) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let modules = module_files(root);
    let mut found_paths = BTreeMap::new();
    let mut imports = Imports::new();
    for (module, file) in &modules {
        let source = fs::read_to_string(file).expect("source is readable");
        let code = without_test_items(&code_only(&source));
        let found = paths(&code, &declared_children(&code));
        let names = imports.entry(module.clone()).or_default();
        for path in found.iter().filter(|path| path.in_use_item) {
            if let Some(name) = path.segments.last()
                && !matches!(name.as_str(), "self" | "super" | "crate")
            {
                names.insert(name.clone(), path.segments.clone());
            }
        }
        found_paths.insert(module.clone(), found);
    }
    let mut graph = BTreeMap::new();
    for (module, found) in &found_paths {
        let mut uses = BTreeSet::new();
        for path in found {
            let path = relative_to_module(&path.segments);
            let Some(target) = resolve(module, &path, &modules, &imports, 0) else {
                continue;
            };
            let is_ancestor = module.starts_with(&target);
            if !is_ancestor {
                uses.insert(target);
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

fn name(module: &ModPath) -> String {
    if module.is_empty() {
        "(crate root)".to_owned()
    } else {
        module.join("::")
    }
}

/// One cycle: its files, then every use between them.
fn show(
    root: &Path,
    graph: &BTreeMap<ModPath, BTreeSet<ModPath>>,
    component: &[ModPath],
) -> String {
    let names: Vec<String> = component.iter().map(name).collect();
    let mut text = format!("{}: {}", root.display(), names.join(", "));
    for from in component {
        for to in &graph[from] {
            if component.contains(to) {
                text.push_str(&format!("\n    {} uses {}", name(from), name(to)));
            }
        }
    }
    text
}

#[test]
fn no_crate_has_an_import_cycle() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for root in source_roots(workspace) {
        let graph = module_graph(&root);
        for component in cycles(&graph) {
            found.push(show(&root, &graph, &component));
        }
    }
    assert!(
        found.is_empty(),
        "import cycles between modules (each line lists the files of one cycle):\n{}",
        found.join("\n")
    );
}

#[test]
fn one_module_layout_style() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut mixed = Vec::new();
    for root in source_roots(workspace) {
        for file in module_files(&root).values() {
            let beside = file.with_extension("");
            let is_entry = file
                .file_name()
                .is_some_and(|name| name == "mod.rs" || name == "lib.rs" || name == "main.rs");
            if !is_entry && beside.is_dir() {
                mixed.push(format!("{} beside {}/", file.display(), beside.display()));
            }
        }
    }
    assert!(
        mixed.is_empty(),
        "modules with submodules are a folder with mod.rs; move these into their folder:\n{}",
        mixed.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle_and_resolves_use_trees() {
    let dir = std::env::temp_dir().join(format!("switchboard-cycles-{}", std::process::id()));
    let src = dir.join("src");
    fs::create_dir_all(src.join("b")).expect("temp dir");
    fs::write(
        src.join("lib.rs"),
        "mod a;\nmod b;\nmod c;\nmod d;\npub use d::Reexported;\n",
    )
    .expect("write");
    // a → b::inner through a use tree; b::inner → a through an expression path.
    fs::write(
        src.join("a.rs"),
        "use crate::{b::{inner::Thing, self}, c};\n",
    )
    .expect("write");
    // b uses its child; the child uses b (its parent) and the root: not counted.
    fs::write(src.join("b/mod.rs"), "pub mod inner;\nuse inner::Thing;\n").expect("write");
    // d uses the root's re-export of itself (not a cycle) and of c, through the root.
    fs::write(
        src.join("d.rs"),
        "pub struct Reexported;\nfn f() { super::c::g(); }\n",
    )
    .expect("write");
    fs::write(
        src.join("b/inner.rs"),
        "// crate::c::nothing in a comment\nuse super::X;\nfn f() { let s = \"crate::c\"; crate::a::g(); }\n",
    )
    .expect("write");
    fs::write(
        src.join("c.rs"),
        "fn g() { crate::Reexported; }\n#[cfg(test)]\nmod tests { use crate::a::X; }\n",
    )
    .expect("write");
    let graph = module_graph(&src);
    let module = |path: &str| -> ModPath { path.split("::").map(str::to_owned).collect() };
    assert!(graph[&module("a")].contains(&module("b::inner")));
    assert!(graph[&module("a")].contains(&module("b")));
    assert!(graph[&module("a")].contains(&module("c")));
    assert_eq!(graph[&module("b::inner")], BTreeSet::from([module("a")]));
    assert!(graph[&module("b")].contains(&module("b::inner")));
    assert_eq!(
        graph[&module("c")],
        BTreeSet::from([module("d")]),
        "a re-export is followed; test modules and literals are not uses"
    );
    assert_eq!(graph[&module("d")], BTreeSet::from([module("c")]));
    let mut found = cycles(&graph);
    found.sort();
    assert_eq!(
        found,
        vec![
            vec![module("a"), module("b"), module("b::inner")],
            vec![module("c"), module("d")],
        ]
    );
    let _ = fs::remove_dir_all(&dir);
}
