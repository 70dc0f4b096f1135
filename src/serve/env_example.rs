//! `.env.example` and the command line cannot drift apart: every `SWITCHBOARD_*`
//! variable a flag reads (enumerated from clap's `Command`, not from a hand list: every
//! `serve` setting, the global log filter and the `client` defaults) is in `.env.example`
//! with the default `--help` shows, and every variable `.env.example` sets is read by
//! some flag.

use std::collections::BTreeMap;

use clap::CommandFactory;

const ENV_EXAMPLE: &str = include_str!("../../.env.example");

/// `NAME=value` lines of `.env.example`, surrounding quotes removed.
fn documented() -> BTreeMap<String, String> {
    ENV_EXAMPLE
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!(".env.example: {line:?} is not NAME=value"));
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            (name.trim().to_owned(), value.to_owned())
        })
        .collect()
}

/// Every flag's variable, with its default as `--help` shows it (a list flag's defaults
/// joined by its delimiter, as one would write the variable), for `command` and its
/// subcommands.
fn flags(command: &clap::Command, found: &mut BTreeMap<String, Option<String>>) {
    for arg in command.get_arguments() {
        let Some(env) = arg.get_env() else { continue };
        let name = env.to_string_lossy().into_owned();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let delimiter = arg.get_value_delimiter().unwrap_or(',').to_string();
        let default = (!defaults.is_empty()).then(|| defaults.join(&delimiter));
        found.insert(name, default);
    }
    for sub in command.get_subcommands() {
        flags(sub, found);
    }
}

fn every_flag() -> BTreeMap<String, Option<String>> {
    let mut found = BTreeMap::new();
    flags(&crate::Cli::command(), &mut found);
    found
}

#[test]
fn every_flag_variable_is_in_env_example_with_its_default() {
    let cli = crate::Cli::command();
    let serve = cli.find_subcommand("serve").expect("the serve subcommand");
    let mut serve_flags = BTreeMap::new();
    flags(serve, &mut serve_flags);
    // Guards the enumeration itself: `serve` has one variable per setting.
    assert!(
        serve_flags.len() > 50,
        "{} serve variables",
        serve_flags.len()
    );
    let documented = documented();
    let mut problems = Vec::new();
    for (name, default) in every_flag() {
        assert!(name.starts_with("SWITCHBOARD_"), "{name}");
        match (documented.get(&name), default) {
            (None, _) => problems.push(format!("{name} is missing from .env.example")),
            (Some(value), Some(default)) if *value != default => problems.push(format!(
                "{name}: .env.example says {value:?}, --help says {default:?}"
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_variable_in_env_example_is_a_flag() {
    let flags = every_flag();
    let strays: Vec<_> = documented()
        .into_keys()
        .filter(|name| !flags.contains_key(name))
        .collect();
    assert!(strays.is_empty(), "not read by any flag: {strays:?}");
}

#[test]
fn the_defaults_make_a_valid_configuration() {
    use clap::Parser;
    let cli = crate::Cli::try_parse_from(["switchboard", "serve"]).expect("parses");
    let crate::Command::Serve(args) = cli.command else {
        panic!("not serve")
    };
    let config = args.into_config();
    config.validate().expect("the defaults are valid");
    let defaults = switchboard_server::ServerConfig::default();
    assert_eq!(config.http, defaults.http);
    assert_eq!(config.ws.heartbeat, defaults.ws.heartbeat);
    assert_eq!(config.tcp.channels, defaults.tcp.channels);
    assert_eq!(config.hub.auto_subscribe, defaults.hub.auto_subscribe);
}
