//! The measured comparison (`POST /api/academy/compare`): the same ping workload over
//! every transport, with bytes counted at the socket. Checks the figures make sense
//! relative to each other and the transcripts show the real bytes.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use common::start;
use serde_json::Value;
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
    let figures: Vec<&Value> = answer["transports"].as_array().unwrap().iter().collect();
    let by = |name: &str| {
        *figures
            .iter()
            .find(|f| f["transport"] == name)
            .unwrap_or_else(|| panic!("{name} measured"))
    };
    for figure in &figures {
        assert_eq!(figure["ok"], true, "{figure}");
        assert!(figure["rtt_p50_ms"].as_f64().unwrap() > 0.0, "{figure}");
        assert!(
            figure["bytes_per_message"].as_f64().unwrap() > 20.0,
            "{figure}"
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
    assert_eq!(requests("long-poll"), 1.0);
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
    assert!(poll.contains(">> POST /poll HTTP/1.1\r\n"), "{poll}");
    assert!(poll.contains("<< HTTP/1.1 200 OK\r\n"), "{poll}");
    assert!(poll.contains(r#""type":"pong","id":20"#), "{poll}");
    let sse = transcript("sse");
    assert!(sse.contains("POST /sse/message HTTP/1.1"), "{sse}");
    assert!(sse.contains("event: pong\n"), "{sse}");
    // WebSocket frames: header bytes in hex; the client's payload masked (shown unmasked).
    let ws = transcript("websocket");
    assert!(ws.contains(r#"<< [81 2a] {"type":"pong","id":20,"#), "{ws}");
    assert!(
        ws.contains(r#"(masked payload; unmasked:) {"type":"ping","id":20}"#),
        "{ws}"
    );
    assert!(ws.contains(">> [81 97 "), "{ws}");
    assert!(
        !ws.contains("[88 "),
        "the close after the measurement is not shown: {ws}"
    );
    let tcp = transcript("tcp");
    assert!(
        tcp.contains(r#">> [00 00 00 17]{"type":"ping","id":20}"#),
        "{tcp}"
    );
    server.shutdown().await;
}
