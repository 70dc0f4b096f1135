//! `--log-format json`: every stderr line of the real binary is a JSON object, a
//! connection's start is one `connection opened` event (id, transport, remote address)
//! and its end one `connection closed` event carrying its id, transport, remote address,
//! duration, close reason and message counts.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use common::ChildGuard;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_closed_connection_is_one_json_event_with_its_fields() {
    let mut child = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--port", "0", "--log-format", "json"])
            .env("SWITCHBOARD_TCP_PORT", "0")
            .env("SWITCHBOARD_WEATHER_ENABLED", "false")
            .env("SWITCHBOARD_CLOCK_ENABLED", "false")
            .env("SWITCHBOARD_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stdout = child.stdout.take().unwrap();
    let (address_tx, address_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("switchboard listening on http://") {
                let _ = address_tx.send(addr.to_owned());
            }
        }
    });
    // Every stderr line, parsed (a line that is not JSON fails the test here).
    let stderr = child.stderr.take().unwrap();
    let (event_tx, event_rx) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let event = serde_json::from_str(&line)
                .unwrap_or_else(|err| Value::String(format!("not JSON ({err}): {line}")));
            if event_tx.send(event).is_err() {
                break;
            }
        }
    });
    let addr = tokio::task::spawn_blocking(move || address_rx.recv_timeout(PATIENCE))
        .await
        .unwrap()
        .expect("the listening line in time");

    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let welcome = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let welcome: Value = serde_json::from_str(welcome.to_text().unwrap()).unwrap();
    let id = welcome["connection_id"].as_str().unwrap().to_owned();
    socket
        .send(Message::Text(r#"{"type":"ping"}"#.into()))
        .await
        .unwrap();
    socket.close(None).await.unwrap();
    drop(socket);

    let (opened, found) = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + PATIENCE;
        let mut opened = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = event_rx
                .recv_timeout(left)
                .expect("the close event in time");
            assert!(event.is_object(), "{event}");
            let fields = &event["fields"];
            if fields["connection"] != id.as_str() {
                continue;
            }
            if fields["message"] == "connection opened" {
                opened = Some(event);
            } else if fields["message"] == "connection closed" {
                return (opened.expect("the open event before the close"), event);
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(opened["level"], "INFO", "{opened}");
    assert_eq!(opened["fields"]["transport"], "websocket", "{opened}");
    assert!(
        opened["fields"]["remote"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{opened}"
    );
    let fields = &found["fields"];
    assert_eq!(found["level"], "INFO", "{found}");
    assert_eq!(fields["transport"], "websocket", "{found}");
    assert!(
        fields["remote"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{found}"
    );
    assert!(fields["duration_ms"].is_u64(), "{found}");
    assert_eq!(fields["close_reason"], "client_gone", "{found}");
    // The ping came in; welcome, the automatic subscriptions and the pong went out.
    assert_eq!(fields["messages_in"], 1, "{found}");
    assert!(fields["messages_out"].as_u64().unwrap() >= 2, "{found}");
}
