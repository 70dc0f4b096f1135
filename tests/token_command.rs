//! `switchboard token` and `serve --auth-*` as a user runs them: a minted token opens a
//! WebSocket on a server that requires one (its user is the token's, whatever the chat
//! claims), a forged one is refused with 401, and neither token nor secret appears in
//! the server's logs (at `trace`) or in `--help`.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod common;

use std::{
    io::{BufRead, BufReader, Read},
    process::{Command, Stdio},
    time::Duration,
};

use common::ChildGuard;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message};

const PATIENCE: Duration = Duration::from_secs(10);
const SECRET: &str = "token_command test secret: at least 32 bytes";

fn switchboard() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command.env("SWITCHBOARD_AUTH_HMAC_SECRET", SECRET);
    command
}

async fn next_of(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    kind: &str,
) -> Value {
    loop {
        let frame = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("valid");
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["type"] == kind {
                return message;
            }
        }
    }
}

#[tokio::test]
async fn a_minted_token_connects_and_no_token_or_secret_is_logged() {
    let minted = switchboard()
        .args([
            "token",
            "--sub",
            "alice",
            "--ttl",
            "10m",
            "--channel",
            "news",
        ])
        .output()
        .unwrap();
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let token = String::from_utf8(minted.stdout).unwrap().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");

    let mut child = ChildGuard::spawn(
        switchboard()
            .args(["serve", "--port", "0", "--auth-required", "true"])
            .env("SWITCHBOARD_TCP_PORT", "0")
            .env("SWITCHBOARD_WEATHER_ENABLED", "false")
            .env("SWITCHBOARD_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let stdout = child.stdout.take().unwrap();
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("switchboard listening on http://") {
                let _ = address_tx.send(addr.to_owned());
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let addr = tokio::task::spawn_blocking(move || address_rx.recv_timeout(PATIENCE))
        .await
        .unwrap()
        .expect("the listening line in time");

    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={token}"))
        .await
        .expect("a minted token is accepted");
    let welcome = next_of(&mut socket, "welcome").await;
    assert_eq!(welcome["user"], "alice", "{welcome}");
    loop {
        if next_of(&mut socket, "subscribed").await["channel"] == "news" {
            break;
        }
    }
    let chat = json!({"type": "chat", "channel": "news", "user": "mallory", "text": "hi"});
    socket.send(Message::text(chat.to_string())).await.unwrap();
    assert_eq!(next_of(&mut socket, "chat").await["user"], "alice");

    // A forged signature: 401, and the error body does not repeat the token.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    match tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={forged}")).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("406"), "{body}");
            assert!(!body.contains(&forged), "{body}");
        }
        other => panic!("a forged token was not refused: {other:?}"),
    }
    drop(socket);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait_within(PATIENCE).await;
    let logs = logs.join().unwrap();
    // The logs did see both connections (trace level), just not their tokens.
    assert!(logs.contains("connection token refused"), "{logs}");
    assert!(logs.contains("406"), "{logs}");
    let signature = token.rsplit('.').next().unwrap();
    for secret in [token.as_str(), forged.as_str(), signature, SECRET] {
        assert!(!logs.contains(secret), "the logs hold {secret:?}");
    }

    let help = switchboard().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("--auth-hmac-secret"), "{help}");
    assert!(!help.contains(SECRET), "--help shows the secret");
}
