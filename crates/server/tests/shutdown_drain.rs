//! The drain before shutdown: `/healthz` fails at once while connections, old and new,
//! are still served; only after `shutdown_drain` do they close with 1001.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{WsClient, http_get};
use serde_json::json;
use switchboard_server::ServerConfig;
use tokio::time::Instant;

#[tokio::test]
async fn healthz_fails_during_the_drain_while_everything_is_still_served() {
    let mut config = ServerConfig::ephemeral();
    config.shutdown_drain = Duration::from_millis(800);
    let server = common::start(config).await;
    let addr = server.http_addr();
    let mut old = WsClient::connect_ready(&server, "", 2).await;
    assert_eq!(http_get(addr, "/healthz").await.0, 200);

    let started = Instant::now();
    let hub = server.hub().clone();
    let stopping = tokio::spawn(server.shutdown());
    common::eventually("the drain to begin", || hub.is_draining()).await;

    let (status, _, body) = http_get(addr, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    // Still serving: a new client connects and chats with the old one.
    let mut new = WsClient::connect_ready_at(addr, "", 2).await;
    new.send(json!({"type": "chat", "user": "late", "text": "made it"}))
        .await;
    assert_eq!(old.recv_type("chat").await["text"], "made it");

    // After the drain, both close with 1001.
    for client in [&mut old, &mut new] {
        let frame = client.recv_close().await.expect("a close frame");
        assert_eq!(u16::from(frame.code), 1001);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "closed before the drain ended"
    );
    assert!(stopping.await.unwrap().clean);
}
