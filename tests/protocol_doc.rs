//! Keeps `docs/protocol.md` honest: every error code (number and name), every close code
//! and every message type must be documented, and every JSON example in the document must
//! parse as the message it claims to be.
//!
//! Examples are fenced code blocks whose info string says what they are:
//! ```` ```json client ```` (a valid client message), ```` ```json server ```` (a server
//! message) and ```` ```json http ```` (an HTTP body, only checked to be JSON).

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use switchboard_protocol::{
    CloseCode, ErrorCode, ServerMessage, client::CLIENT_TYPES, parse_client_message,
};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/protocol.md");
    std::fs::read_to_string(path).expect("docs/protocol.md is readable")
}

/// `(info string, body)` of every fenced block.
fn code_blocks(doc: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in doc.lines() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some((info.trim().to_owned(), String::new())),
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    blocks
}

/// The names serde accepts for an enum, read from the "unknown variant" error it gives
/// for a probe that is none of them, so a new variant is picked up without touching
/// this test.
fn variant_names(err: serde_json::Error) -> Vec<String> {
    let text = err.to_string();
    let list = text
        .split("expected one of ")
        .nth(1)
        .unwrap_or_else(|| panic!("unexpected serde message: {text}"));
    list.split(", ")
        .map(|name| {
            name.split('`')
                .nth(1)
                .unwrap_or_else(|| panic!("unexpected serde message: {text}"))
                .to_owned()
        })
        .collect()
}

fn server_types() -> Vec<String> {
    let probe = serde_json::from_str::<ServerMessage>(r#"{"type":"no such type"}"#);
    variant_names(probe.expect_err("not a server message type"))
}

fn close_code_names() -> Vec<String> {
    let probe = serde_json::from_str::<CloseCode>(r#""NoSuchCloseCode""#);
    variant_names(probe.expect_err("not a close code"))
}

#[test]
fn every_error_code_is_documented_with_its_number_and_name() {
    let doc = doc();
    for code in ErrorCode::ALL {
        let number = code.code().to_string();
        let name = format!("`{}`", code.name());
        assert!(
            doc.lines()
                .any(|line| line.contains(&format!("| {number} ")) && line.contains(&name)),
            "docs/protocol.md has no table row for error {number} {name}"
        );
    }
}

#[test]
fn every_close_code_is_documented() {
    let doc = doc();
    let names = close_code_names();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let code: CloseCode = serde_json::from_str(&format!("\"{name}\"")).unwrap();
        let number = code.code().to_string();
        assert!(
            doc.lines()
                .any(|line| line.contains(&format!("| {number} ")) && line.contains(code.reason())),
            "docs/protocol.md has no table row for close code {number} ({})",
            code.reason()
        );
    }
}

#[test]
fn every_message_type_has_a_parsing_example() {
    let doc = doc();
    let mut client_seen = BTreeSet::new();
    let mut server_seen = BTreeSet::new();
    for (info, body) in code_blocks(&doc) {
        let mut words = info.split_whitespace();
        if words.next() != Some("json") {
            continue;
        }
        match words.next() {
            Some("client") => {
                let message = parse_client_message(body.trim())
                    .unwrap_or_else(|e| panic!("client example does not parse ({e}):\n{body}"));
                client_seen.insert(message.kind().to_owned());
            }
            Some("server") => {
                let message: ServerMessage = serde_json::from_str(&body)
                    .unwrap_or_else(|e| panic!("server example does not parse ({e}):\n{body}"));
                server_seen.insert(message.kind().to_owned());
            }
            _ => {
                serde_json::from_str::<serde_json::Value>(&body)
                    .unwrap_or_else(|e| panic!("JSON example does not parse ({e}):\n{body}"));
            }
        }
    }
    for kind in CLIENT_TYPES {
        assert!(
            client_seen.contains(kind),
            "no ```json client example of `{kind}`"
        );
    }
    let server = server_types();
    assert!(server.len() >= 14, "{server:?}");
    for kind in server {
        assert!(
            server_seen.contains(&kind),
            "no ```json server example of `{kind}`"
        );
    }
}
