//! Long and short polling over real HTTP: sessions, holds and timeouts, cursors and
//! redelivery, messages in both directions, expiry and shutdown.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use std::time::Duration;

use common::WsClient;
use http::{eventually, post_json};
use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};
use tokio::time::Instant;

fn config(timeout: Duration) -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.poll.timeout = timeout;
    config
}

/// Opens a session on `path` and returns its first response.
async fn open(server: &Server, path: &str, body: Value) -> Value {
    let response = post_json(server.http_addr(), path, &body).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
    response.json()
}

async fn poll(server: &Server, path: &str, id: &str, cursor: u64) -> Value {
    let body = json!({"session_token": id, "cursor": cursor});
    let response = post_json(server.http_addr(), path, &body).await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response.json()
}

fn types(response: &Value) -> Vec<String> {
    response["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn open_returns_welcome_and_subscriptions_at_once() {
    let server = common::start(config(Duration::from_secs(10))).await;
    let first = open(&server, "/poll", json!({"channels": ["lobby", "news"]})).await;
    assert_eq!(
        types(&first),
        ["welcome", "subscribed", "subscribed", "subscribed"]
    );
    assert_eq!(first["timeout"], false);
    assert_eq!(first["cursor"], 4);
    let welcome = &first["messages"][0];
    assert_eq!(welcome["session_token"], first["session_token"]);
    assert_eq!(welcome["transport"], "long_poll");
    assert_eq!(server.hub().stats().connections.long_poll, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_long_poll_holds_then_times_out() {
    let server = common::start(config(Duration::from_millis(300))).await;
    let first = open(&server, "/poll", json!({})).await;
    let id = first["session_token"].as_str().unwrap();
    let started = Instant::now();
    let empty = poll(&server, "/poll", id, 3).await;
    let held = started.elapsed();
    assert!(held >= Duration::from_millis(290), "held only {held:?}");
    assert!(held < Duration::from_secs(3), "held {held:?}");
    assert_eq!(empty["timeout"], true);
    assert_eq!(empty["messages"], json!([]));
    assert_eq!(empty["cursor"], 3);
    server.shutdown().await;
}

#[tokio::test]
async fn a_held_poll_returns_as_soon_as_a_message_arrives() {
    let server = common::start(config(Duration::from_secs(10))).await;
    let first = open(&server, "/poll", json!({"channels": ["lobby"]})).await;
    let id = first["session_token"].as_str().unwrap().to_owned();
    let cursor = first["cursor"].as_u64().unwrap();
    let addr = server.http_addr();
    let held = {
        let id = id.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let body = json!({"session_token": id, "cursor": cursor});
            (
                post_json(addr, "/poll", &body).await.json(),
                started.elapsed(),
            )
        })
    };
    // The message must wake a poll already held, not be waiting when the poll arrives.
    common::poll_is_held(&server, &id).await;
    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;
    ws.send(json!({"type": "chat", "user": "ws", "text": "wake up"}))
        .await;
    let (response, elapsed) = held.await.unwrap();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(response["timeout"], false);
    assert_eq!(types(&response), ["chat"]);
    assert_eq!(response["messages"][0]["text"], "wake up");
    assert_eq!(response["cursor"], cursor + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn an_unacknowledged_response_is_delivered_again() {
    let server = common::start(config(Duration::from_millis(200))).await;
    let first = open(&server, "/short-poll", json!({"channels": ["lobby"]})).await;
    let id = first["session_token"].as_str().unwrap().to_owned();
    let c0 = first["cursor"].as_u64().unwrap();
    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;
    for text in ["a", "b"] {
        ws.send(json!({"type": "chat", "user": "ws", "text": text}))
            .await;
        ws.recv_type("chat").await;
    }
    let lost = poll(&server, "/short-poll", &id, c0).await;
    assert_eq!(types(&lost), ["chat", "chat"]);
    // The response above is "lost": the client polls again with the old cursor.
    ws.send(json!({"type": "chat", "user": "ws", "text": "c"}))
        .await;
    ws.recv_type("chat").await;
    let again = poll(&server, "/short-poll", &id, c0).await;
    let seqs: Vec<_> = again["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3], "a and b again (same seq), then c");
    // Acknowledging drops them for good.
    let c1 = again["cursor"].as_u64().unwrap();
    let after = poll(&server, "/short-poll", &id, c1).await;
    assert_eq!(after["messages"], json!([]));
    assert_eq!(after["cursor"], c1);
    assert_eq!(after["timeout"], false);
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_sent_by_poll_reaches_websocket_and_its_ack_comes_back() {
    let server = common::start(config(Duration::from_secs(5))).await;
    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;
    let first = open(&server, "/poll", json!({"channels": ["lobby"]})).await;
    let id = first["session_token"].as_str().unwrap();
    let body = json!({
        "session_token": id,
        "cursor": first["cursor"],
        "message": {"type": "chat", "id": "m1", "user": "poller", "text": "over http"},
    });
    let response = post_json(server.http_addr(), "/poll", &body).await.json();
    // The hub fans the chat out (to this session too) before it acknowledges.
    assert_eq!(types(&response), ["chat", "ack"]);
    assert_eq!(response["messages"][1]["id"], "m1");
    assert_eq!(response["messages"][1]["seq"], 1);
    let chat = ws.recv_type("chat").await;
    assert_eq!(
        (chat["user"].clone(), chat["seq"].clone()),
        (json!("poller"), json!(1))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn short_polls_answer_at_once_even_when_empty() {
    let server = common::start(config(Duration::from_secs(10))).await;
    let first = open(&server, "/short-poll", json!({})).await;
    assert_eq!(first["messages"][0]["transport"], "short_poll");
    assert_eq!(server.hub().stats().connections.short_poll, 1);
    let id = first["session_token"].as_str().unwrap();
    let started = Instant::now();
    let empty = poll(
        &server,
        "/short-poll",
        id,
        first["cursor"].as_u64().unwrap(),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(empty["messages"], json!([]));
    assert_eq!(empty["timeout"], false);
    server.shutdown().await;
}

#[tokio::test]
async fn a_session_that_stops_polling_expires() {
    let mut config = config(Duration::from_secs(5));
    config.poll.session_grace = Duration::from_millis(200);
    let server = common::start(config).await;
    let first = open(&server, "/poll", json!({})).await;
    let id = first["session_token"].as_str().unwrap();
    assert_eq!(server.hub().connection_count(), 1);
    let hub = server.hub().clone();
    eventually(|| hub.connection_count() == 0, "the idle session to expire").await;
    assert_eq!(server.hub().stats().connections.long_poll, 0);
    let body = json!({"session_token": id, "cursor": 3});
    post_json(server.http_addr(), "/poll", &body)
        .await
        .assert_error(404, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_a_held_poll_at_once() {
    let server = common::start(config(Duration::from_secs(30))).await;
    let first = open(&server, "/poll", json!({})).await;
    let body = json!({"session_token": first["session_token"], "cursor": first["cursor"]});
    let addr = server.http_addr();
    let held = tokio::spawn(async move { post_json(addr, "/poll", &body).await.json() });
    common::poll_is_held(&server, first["session_token"].as_str().unwrap()).await;
    let started = Instant::now();
    let report = server.shutdown().await;
    assert!(report.clean);
    assert!(started.elapsed() < Duration::from_secs(3));
    let response = tokio::time::timeout(Duration::from_secs(3), held)
        .await
        .expect("the held poll is answered")
        .unwrap();
    assert_eq!(response["closed"]["code"], 1001);
}
