//! The `text/event-stream` encoding (WHATWG HTML, "Server-sent events"), byte for byte.
//!
//! Guarantees: every event is a block of `field: value` lines ended by one blank line,
//! with `\n` as the only line terminator; only the fields `id`, `event`, `data` and
//! `retry` and comment lines (`:`) are written; `data` is split into one `data:` line per
//! line of the payload (on `\r\n`, `\r` or `\n`), so a client joins them back with `\n`
//! and gets the payload exactly; no `\r` and no NUL is ever written (NUL is replaced by
//! U+FFFD; the hub's JSON never holds one, since JSON escapes every control character).

use std::time::Duration;

/// Appends one event: `id:` (when given), `event:`, then the payload as `data:` lines.
///
/// `id` and `event` must be single-line and NUL-free; the callers pass resume tokens and
/// message types, which are ASCII without control characters by construction.
pub(crate) fn push_event(out: &mut Vec<u8>, id: Option<&str>, event: &str, data: &str) {
    if let Some(id) = id {
        push_field(out, "id", id);
    }
    push_field(out, "event", event);
    push_data(out, data);
    out.push(b'\n');
}

/// Appends a comment line (ignored by clients; keeps proxies and the TCP path alive).
pub(crate) fn push_comment(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b": ");
    out.extend_from_slice(single_line(text).as_bytes());
    out.extend_from_slice(b"\n\n");
}

/// Appends a `retry:` hint, in milliseconds.
pub(crate) fn push_retry(out: &mut Vec<u8>, retry: Duration) {
    out.extend_from_slice(format!("retry: {}\n\n", retry.as_millis()).as_bytes());
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(single_line(value).as_bytes());
    out.push(b'\n');
}

/// One `data:` line per line of `data`; an empty payload is one empty `data:` line, so
/// the event is still dispatched (with empty data) rather than silently dropped.
fn push_data(out: &mut Vec<u8>, data: &str) {
    let mut rest = data;
    loop {
        let (line, next) = match rest.find(['\r', '\n']) {
            Some(at) => {
                let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
                (&rest[..at], Some(&rest[at + skip..]))
            }
            None => (rest, None),
        };
        out.extend_from_slice(b"data: ");
        push_without_nul(out, line);
        out.push(b'\n');
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
}

fn push_without_nul(out: &mut Vec<u8>, text: &str) {
    if text.contains('\0') {
        out.extend_from_slice(text.replace('\0', "\u{FFFD}").as_bytes());
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// `text` cut at its first line break, without NULs: a field value cannot span lines.
fn single_line(text: &str) -> String {
    let line = text.split(['\r', '\n']).next().unwrap_or("");
    line.replace('\0', "\u{FFFD}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: Option<&str>, kind: &str, data: &str) -> String {
        let mut out = Vec::new();
        push_event(&mut out, id, kind, data);
        String::from_utf8(out).unwrap()
    }

    /// What a WHATWG parser makes of one event block's data lines.
    fn parse_data(block: &str) -> String {
        block
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|v| v.strip_prefix(' ').unwrap_or(v))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn single_line_json_is_one_data_line() {
        assert_eq!(
            event(Some("e1;lobby=3"), "chat", r#"{"type":"chat","seq":3}"#),
            "id: e1;lobby=3\nevent: chat\ndata: {\"type\":\"chat\",\"seq\":3}\n\n"
        );
        assert_eq!(event(None, "pong", "{}"), "event: pong\ndata: {}\n\n");
    }

    #[test]
    fn every_line_break_starts_a_new_data_line() {
        let text = event(None, "message", "a\nb\r\nc\rd");
        assert_eq!(
            text,
            "event: message\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert!(!text.contains('\r'));
        assert_eq!(parse_data(&text), "a\nb\nc\nd");
    }

    #[test]
    fn edge_lines_round_trip() {
        for data in [
            "",
            "\n",
            "x\n",
            "\nx",
            " leading space",
            "a\n\nb",
            "\r\n\r\n",
        ] {
            let text = event(None, "m", data);
            assert!(text.ends_with("\n\n") && !text.contains('\r'), "{data:?}");
            assert_eq!(
                parse_data(&text),
                data.replace("\r\n", "\n").replace('\r', "\n"),
                "{data:?}"
            );
        }
    }

    #[test]
    fn nul_and_line_breaks_never_leak_into_fields() {
        let text = event(Some("a\nid: forged"), "x\r\ndata: forged", "n\0l");
        assert_eq!(text, "id: a\nevent: x\ndata: n\u{FFFD}l\n\n");
        let mut out = Vec::new();
        push_comment(&mut out, "heart\nbeat");
        assert_eq!(out, b": heart\n\n");
    }

    #[test]
    fn retry_hint() {
        let mut out = Vec::new();
        push_retry(&mut out, Duration::from_millis(2500));
        assert_eq!(out, b"retry: 2500\n\n");
    }
}
