//! Bad input on the polling endpoints: each is refused with its status and error code,
//! and none of them disturbs the session it names.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use std::time::Duration;

use http::{post_json, request};
use serde_json::json;
use switchboard_server::ServerConfig;

#[tokio::test]
async fn malformed_requests_are_refused() {
    let mut config = ServerConfig::ephemeral();
    config.poll.max_body_bytes = 1024;
    config.hub.max_message_bytes = 1024; // a body limit must carry the largest message
    let server = common::start(config).await;
    let addr = server.http_addr();
    for path in ["/poll", "/short-poll"] {
        request(addr, "POST", path, &[("Content-Type", "text/plain")], b"{}")
            .await
            .assert_error(415, 202);
        request(addr, "POST", path, &[], b"{}")
            .await
            .assert_error(415, 202);
        let json_type = [("Content-Type", "application/json")];
        request(addr, "POST", path, &json_type, b"{\"session_token\"")
            .await
            .assert_error(400, 100);
        request(addr, "POST", path, &json_type, b"")
            .await
            .assert_error(400, 100);
        post_json(addr, path, &json!({"connectionId": "typo"}))
            .await
            .assert_error(400, 103);
        post_json(addr, path, &json!({"session_token": "nope"}))
            .await
            .assert_error(403, 400);
        post_json(addr, path, &json!({"channels": ["bad name"]}))
            .await
            .assert_error(400, 104);
        let big = json!({"message": {"type": "chat", "text": "x".repeat(2000)}});
        post_json(addr, path, &big).await.assert_error(413, 206);
    }
    assert_eq!(server.hub().connection_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_concurrent_poll_is_refused() {
    let mut config = ServerConfig::ephemeral();
    config.poll.timeout = Duration::from_secs(2);
    let server = common::start(config).await;
    let addr = server.http_addr();
    let first = post_json(addr, "/poll", &json!({})).await.json();
    let body = json!({"session_token": first["session_token"], "cursor": first["cursor"]});
    let held = {
        let body = body.clone();
        tokio::spawn(async move { post_json(addr, "/poll", &body).await })
    };
    common::poll_is_held(&server, first["session_token"].as_str().unwrap()).await;
    post_json(addr, "/poll", &body).await.assert_error(409, 201);
    post_json(addr, "/short-poll", &body)
        .await
        .assert_error(409, 201);
    // The held poll is unaffected and ends normally.
    let response = held.await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["timeout"], true);
    // A cursor ahead of anything issued is refused.
    let ahead = json!({"session_token": first["session_token"], "cursor": 999});
    post_json(addr, "/short-poll", &ahead)
        .await
        .assert_error(400, 103);
    server.shutdown().await;
}

#[tokio::test]
async fn sessions_per_address_are_limited() {
    let mut config = ServerConfig::ephemeral();
    config.poll.max_sessions_per_addr = 2;
    config.poll.session_grace = Duration::from_millis(200);
    let server = common::start(config).await;
    let addr = server.http_addr();
    for _ in 0..2 {
        assert_eq!(post_json(addr, "/short-poll", &json!({})).await.status, 200);
    }
    post_json(addr, "/poll", &json!({}))
        .await
        .assert_error(429, 203);
    // Expired sessions give their slots back.
    let hub = server.hub().clone();
    http::eventually(|| hub.connection_count() == 0, "sessions to expire").await;
    assert_eq!(post_json(addr, "/poll", &json!({})).await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn disabled_transports_answer_503() {
    let mut config = ServerConfig::ephemeral();
    config.poll.long_enabled = false;
    let server = common::start(config.clone()).await;
    let addr = server.http_addr();
    post_json(addr, "/poll", &json!({}))
        .await
        .assert_error(503, 204);
    assert_eq!(post_json(addr, "/short-poll", &json!({})).await.status, 200);
    server.shutdown().await;

    config.poll.long_enabled = true;
    config.poll.short_enabled = false;
    let server = common::start(config).await;
    post_json(server.http_addr(), "/short-poll", &json!({}))
        .await
        .assert_error(503, 204);
    server.shutdown().await;
}
