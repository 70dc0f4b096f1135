//! The measured comparison (`POST /api/academy/compare`): the same ping workload over
//! every transport, with bytes counted at the client's socket. Checks the figures make
//! sense relative to each other, the transcripts show the real bytes, and the counts are
//! exact: the last ping's count equals the bytes of the whole frames and HTTP messages
//! its transcript holds (computed here from their headers), nothing more, nothing less.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use common::start;
use serde_json::Value;
use switchboard_academy::{COMPARE_PINGS, Target, TransportFigures, compare};
use switchboard_protocol::frame::Framing;
use switchboard_server::ServerConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_is_measured_at_the_socket() {
    let server = start(ServerConfig::ephemeral()).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("http://{}/api/academy/compare", server.http_addr());
    let answer: Value = reqwest::Client::new()
        .post(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["pings"], COMPARE_PINGS);
    let figures: Vec<&Value> = answer["transports"].as_array().unwrap().iter().collect();
    let by = |name: &str| {
        *figures
            .iter()
            .find(|f| f["transport"] == name)
            .unwrap_or_else(|| panic!("{name} measured"))
    };
    assert_eq!(figures.len(), 5, "{answer}");
    for figure in &figures {
        assert_eq!(figure["ok"], true, "{figure}");
        let p50 = figure["rtt_p50_ms"].as_f64().unwrap();
        assert!(
            p50 > 0.0 && p50 <= figure["rtt_max_ms"].as_f64().unwrap(),
            "{figure}"
        );
        assert!(figure["connect_ms"].as_f64().unwrap() > 0.0, "{figure}");
        assert!(
            figure["bytes_per_message"].as_f64().unwrap() > 20.0,
            "{figure}"
        );
        assert!(
            figure.get("ping_bytes").is_none(),
            "internal figures stay out"
        );
    }
    let bytes = |name: &str| by(name)["bytes_per_message"].as_f64().unwrap();
    let requests = |name: &str| by(name)["requests_per_message"].as_f64().unwrap();
    // Framed transports cost a few bytes of header; HTTP ones a request and response head.
    assert!(bytes("tcp") < bytes("sse"), "{answer}");
    assert!(bytes("websocket") < bytes("sse"), "{answer}");
    assert!(bytes("websocket") < bytes("long-poll"), "{answer}");
    assert_eq!(requests("websocket"), 0.0);
    assert_eq!(requests("tcp"), 0.0);
    assert_eq!(requests("sse"), 1.0);
    // The ping goes beside the held poll (`POST /poll/message`), and the poll the pong
    // wakes is followed by the next one.
    assert_eq!(requests("long-poll"), 2.0);
    assert_eq!(requests("short-poll"), 1.0);

    let transcript = |name: &str| {
        by(name)["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                format!(
                    "{} {}",
                    entry[0].as_str().unwrap(),
                    entry[1].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let poll = transcript("long-poll");
    assert!(
        poll.contains(">> POST /poll/message HTTP/1.1\r\n"),
        "{poll}"
    );
    // The 204 and the answered poll come on two connections, in either order.
    assert!(poll.contains("HTTP/1.1 204 No Content\r\n"), "{poll}");
    assert!(poll.contains("HTTP/1.1 200 OK\r\n"), "{poll}");
    assert!(poll.contains(">> POST /poll HTTP/1.1\r\n"), "{poll}");
    assert!(poll.contains(r#""type":"pong""#), "{poll}");
    let sse = transcript("sse");
    assert!(sse.contains(">> POST /sse/message HTTP/1.1"), "{sse}");
    assert!(sse.contains("event: pong\n"), "{sse}");
    let short = transcript("short-poll");
    assert!(short.contains(">> POST /short-poll HTTP/1.1"), "{short}");
    // WebSocket frames: header bytes in hex; the client's payload masked (shown unmasked).
    let ws = transcript("websocket");
    assert!(
        ws.contains(r#"<< [81 "#) && ws.contains(r#"] {"type":"pong","#),
        "{ws}"
    );
    assert!(ws.contains(r#"(masked payload; unmasked:) {"#), "{ws}");
    assert!(
        !ws.contains("[88 "),
        "the close after the measurement is not shown: {ws}"
    );
    let tcp = transcript("tcp");
    assert!(tcp.contains(">> [00 00 00 "), "{tcp}");
    assert!(tcp.contains(r#"{"type":"pong","#), "{tcp}");
    server.shutdown().await;
}

/// The header bytes (`[81 97 ...]`) and the payload text of each frame line.
fn frame_lines(text: &str) -> Vec<(Vec<u8>, String)> {
    text.lines()
        .map(|line| {
            let (header, payload) = line
                .strip_prefix('[')
                .and_then(|rest| rest.split_once(']'))
                .unwrap_or_else(|| panic!("not a frame: {line:?}"));
            let header = header
                .split(' ')
                .map(|b| u8::from_str_radix(b, 16).unwrap())
                .collect();
            let payload = payload
                .trim_start_matches(" (masked payload; unmasked:)")
                .trim_start_matches(' ');
            (header, payload.to_owned())
        })
        .collect()
}

/// Consumes whole HTTP messages (head + `Content-Length` body) and chunks (`size\r\n
/// data\r\n`) from `bytes`; panics on anything partial. Returns how many were heads.
fn whole_http(mut bytes: &str) -> usize {
    let mut heads = 0;
    while !bytes.is_empty() {
        if bytes.starts_with("HTTP/1.1 ") || bytes.starts_with("POST ") || bytes.starts_with("GET ")
        {
            let end = bytes.find("\r\n\r\n").expect("a whole head") + 4;
            let length = bytes[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .map_or(0, |n| n.trim().parse::<usize>().unwrap());
            assert!(bytes.len() >= end + length, "a whole body: {bytes:?}");
            bytes = &bytes[end + length..];
            heads += 1;
        } else {
            let (size, rest) = bytes.split_once("\r\n").expect("a chunk size line");
            let size = usize::from_str_radix(size, 16).unwrap();
            assert_eq!(&rest[size..size + 2], "\r\n", "a whole chunk: {bytes:?}");
            bytes = &rest[size + 2..];
        }
    }
    heads
}

fn last_ping_bytes(figure: &TransportFigures) -> u64 {
    assert!(figure.ok, "{figure:?}");
    assert_eq!(figure.ping_bytes.len(), COMPARE_PINGS);
    // Every ping's exchange is the same but for digits (ids, cursors): an exchange
    // counted partly in its neighbour's window would stand out.
    let (least, most) = (
        figure.ping_bytes.iter().min().unwrap(),
        figure.ping_bytes.iter().max().unwrap(),
    );
    assert!(most - least <= 8, "{figure:?}");
    let total: u64 = figure.ping_bytes.iter().sum();
    assert_eq!(
        figure.bytes_per_message,
        (total as f64 / COMPARE_PINGS as f64).round()
    );
    *figure.ping_bytes.last().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_counts_are_exact() {
    let server = start(ServerConfig::ephemeral()).await;
    let target = Target::loopback(server.http_addr(), server.tcp_addr(), Framing::U32);
    let figures = compare(&target).await;
    let by = |name: &str| figures.iter().find(|f| f.transport == name).unwrap();

    // Raw TCP: one ping frame out, one pong frame in, each a 4-byte length + the JSON.
    let tcp = by("tcp");
    let [(sent, ping), (received, pong)] = &tcp.transcript[..] else {
        panic!("one frame each way: {tcp:?}");
    };
    assert_eq!((*sent, *received), (">>", "<<"));
    let frames: Vec<_> = frame_lines(ping)
        .into_iter()
        .chain(frame_lines(pong))
        .collect();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(frames[0].1.contains(r#""type":"ping""#) && frames[1].1.contains(r#""type":"pong""#));
    for (header, payload) in &frames {
        assert_eq!(header, &(payload.len() as u32).to_be_bytes(), "{payload}");
    }
    let framed = 4 + frames[0].1.len() + 4 + frames[1].1.len();
    assert_eq!(last_ping_bytes(tcp), framed as u64, "{tcp:?}");

    // WebSocket: a masked client frame (2 + 4 mask bytes) and a bare server frame (2).
    let ws = by("websocket");
    let lines: Vec<_> = ws
        .transcript
        .iter()
        .flat_map(|(_, text)| frame_lines(text))
        .collect();
    assert_eq!(lines.len(), 2, "{ws:?}");
    let (ping_header, ping) = &lines[0];
    let (pong_header, pong) = &lines[1];
    assert_eq!(
        ping_header.len(),
        6,
        "masked, short length: {ping_header:?}"
    );
    assert_eq!(ping_header[..2], [0x81, 0x80 | ping.len() as u8]);
    assert_eq!(pong_header[..], [0x81, pong.len() as u8]);
    let framed = 6 + ping.len() + 2 + pong.len();
    assert_eq!(last_ping_bytes(ws), framed as u64, "{ws:?}");

    // HTTP transports: the last ping's count is whole messages and chunks, exactly.
    for (name, requests) in [("sse", 1), ("long-poll", 2), ("short-poll", 1)] {
        let figure = by(name);
        let mut heads = 0;
        let mut length = 0;
        for (direction, text) in &figure.transcript {
            let sent_heads = whole_http(text);
            if *direction == ">>" {
                heads += sent_heads;
            }
            length += text.len();
        }
        assert_eq!(heads, requests, "{name}: {figure:?}");
        assert_eq!(last_ping_bytes(figure), length as u64, "{name}: {figure:?}");
    }
    server.shutdown().await;
}
