//! [`CloseCode::should_reconnect`] against the "reconnect?" column of the close-code table
//! in `docs/protocol.md`: the rule in code and the rule in prose cannot drift apart.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

use switchboard_protocol::CloseCode;

/// `code -> reconnect?` from the table under `### Close codes`.
fn documented_rule() -> Vec<(u16, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    let doc = std::fs::read_to_string(path).expect("docs/protocol.md is readable");
    let section = doc
        .split("### Close codes")
        .nth(1)
        .expect("docs/protocol.md has a Close codes section");
    section
        .lines()
        .skip_while(|line| !line.starts_with("| code |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells[1].parse().expect("the first column is a number");
            (code, cells[cells.len() - 2].to_owned())
        })
        .collect()
}

#[test]
fn the_code_follows_the_documented_reconnect_column() {
    let rows = documented_rule();
    assert_eq!(rows.len(), CloseCode::ALL.len(), "one row per close code");
    for (number, column) in rows {
        let code = CloseCode::from_code(number).expect("a documented code exists");
        let documented = !column.starts_with("no");
        assert_eq!(
            code.should_reconnect(),
            documented,
            "close code {number}: docs say {column:?}"
        );
    }
}
