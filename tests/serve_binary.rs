//! The real `switchboard` binary: `serve --port 0` announces its address on stdout,
//! serves WebSocket clients, and on SIGTERM closes them with 1001 and exits 0 within the
//! grace period.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::ChildGuard;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn sigterm_closes_websockets_with_1001_and_exits_zero() {
    let mut child = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--port", "0", "--shutdown-grace", "3s"])
            // Keep the test self-contained: no fixed ports, no outbound requests.
            .env("SWITCHBOARD_TCP_PORT", "0")
            .env("SWITCHBOARD_WEATHER_ENABLED", "false")
            .env("SWITCHBOARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    );
    // Read stdout to its end on a thread: the address comes through the channel, and the
    // pipe stays open (the binary prints more lines, and a closed pipe would fail them).
    let stdout = child.stdout.take().expect("stdout");
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("switchboard listening on http://") {
                let _ = address_tx.send(addr.to_owned());
            }
        }
    });
    let addr = tokio::task::spawn_blocking(move || address_rx.recv_timeout(PATIENCE))
        .await
        .expect("reader task")
        .expect("the listening line in time");

    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("websocket connects");
    let first = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .expect("welcome in time")
        .expect("open")
        .expect("valid");
    let welcome: serde_json::Value = serde_json::from_str(first.to_text().unwrap()).unwrap();
    assert_eq!(welcome["type"], "welcome");

    let stopped_at = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());

    let close = loop {
        match tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("close in time")
        {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1001);

    let exit = child.wait_within(PATIENCE).await;
    assert!(exit.success(), "exit status {exit:?}");
    assert!(
        stopped_at.elapsed() < Duration::from_secs(3),
        "exited within the grace period ({:?})",
        stopped_at.elapsed()
    );
}
