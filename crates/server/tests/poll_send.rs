//! `POST /poll/message` (send without polling, allowed while a long poll is held) and
//! `POST /poll/close` (end a session now), over real HTTP.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use std::time::Duration;

use http::{post_json, request};
use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};

async fn open_session(server: &Server) -> (String, u64) {
    let opened = post_json(server.http_addr(), "/poll", &json!({"channels": ["lobby"]})).await;
    assert_eq!(opened.status, 200);
    let body = opened.json();
    (
        body["session_token"].as_str().unwrap().to_owned(),
        body["cursor"].as_u64().unwrap(),
    )
}

fn types(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_message_sent_beside_a_held_poll_wakes_it_with_the_reply() {
    let mut config = ServerConfig::ephemeral();
    config.poll.timeout = Duration::from_secs(10);
    let server = common::start(config).await;
    let (id, cursor) = open_session(&server).await;

    let addr = server.http_addr();
    let poll_id = id.clone();
    let held = tokio::spawn(async move {
        post_json(
            addr,
            "/poll",
            &json!({"session_token": poll_id, "cursor": cursor}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !held.is_finished(),
        "the poll is held while nothing is waiting"
    );

    let chat = json!({"type": "chat", "id": 7, "user": "ann", "text": "hi"});
    let sent = post_json(
        addr,
        "/poll/message",
        &json!({"session_token": id, "message": chat}),
    )
    .await;
    assert_eq!(sent.status, 204, "{}", String::from_utf8_lossy(&sent.body));

    let response = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("the held poll answers at once")
        .unwrap();
    let body = response.json();
    assert_eq!(body["timeout"], false);
    let kinds = types(&body);
    assert!(kinds.contains(&"chat".to_owned()), "{body}");
    let ack = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "ack")
        .expect("ack in the same response");
    assert_eq!(ack["id"], 7);
    server.shutdown().await;
}

#[tokio::test]
async fn close_ends_the_session_and_answers_a_held_poll() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let (id, cursor) = open_session(&server).await;
    let addr = server.http_addr();
    let poll_id = id.clone();
    let held = tokio::spawn(async move {
        post_json(
            addr,
            "/poll",
            &json!({"session_token": poll_id, "cursor": cursor}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let closed = post_json(addr, "/poll/close", &json!({"session_token": id})).await;
    assert_eq!(closed.status, 204);
    let last = tokio::time::timeout(Duration::from_secs(5), held)
        .await
        .expect("the held poll answers")
        .unwrap()
        .json();
    assert_eq!(last["closed"]["code"], 1000, "{last}");

    let after = post_json(addr, "/poll", &json!({"session_token": id, "cursor": 0})).await;
    after.assert_error(404, 200);
    let stats = common::server_stats(&server);
    assert_eq!(stats["connections"]["long_poll"], 0, "{stats}");
    server.shutdown().await;
}

#[tokio::test]
async fn side_doors_reject_bad_requests_with_their_codes() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let addr = server.http_addr();
    let unknown = json!({"session_token": "nope", "message": {"type": "ping"}});
    post_json(addr, "/poll/message", &unknown)
        .await
        .assert_error(403, 400);
    post_json(addr, "/poll/close", &json!({"session_token": "nope"}))
        .await
        .assert_error(403, 400);
    request(
        addr,
        "POST",
        "/poll/message",
        &[("Content-Type", "text/plain")],
        b"hi",
    )
    .await
    .assert_error(415, 202);
    request(
        addr,
        "POST",
        "/poll/message",
        &[("Content-Type", "application/json")],
        b"{nope",
    )
    .await
    .assert_error(400, 100);
    // A protocol error inside a well-formed envelope is the session's business: it is
    // answered in the next poll, like any reply.
    let (id, cursor) = open_session(&server).await;
    let bad = json!({"session_token": id, "message": {"type": "dance"}});
    assert_eq!(post_json(addr, "/poll/message", &bad).await.status, 204);
    let next = post_json(
        addr,
        "/poll",
        &json!({"session_token": id, "cursor": cursor}),
    )
    .await
    .json();
    let error = &next["messages"][0];
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], 102);
    server.shutdown().await;
}
