//! Resuming after a long absence: recovering far more messages than the live queue
//! holds must not be mistaken for a slow consumer (recovered messages have their own
//! bound, since they are shared with history).

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use common::WsClient;
use serde_json::json;
use switchboard_server::ServerConfig;

#[tokio::test]
async fn a_resume_larger_than_the_live_queue_recovers_everything() {
    let mut config = ServerConfig::ephemeral();
    config.hub.history_size = 500;
    config.hub.queue_messages = 50;
    let server = common::start(config).await;

    let mut publisher = WsClient::connect_ready(&server, "?channels=", 1).await;
    for n in 0..300 {
        publisher
            .send(json!({"type": "publish", "channel": "news", "data": n, "id": n}))
            .await;
        publisher.recv_type("ack").await;
    }

    let mut reader = WsClient::connect_ready(&server, "?channels=", 1).await;
    let subscribed = reader.subscribe("news", Some(0)).await;
    assert_eq!(subscribed["resumed"], true, "{subscribed}");
    assert_eq!(subscribed["recovered"], 300);
    for seq in 1..=300u64 {
        let message = reader.recv_type("message").await;
        assert_eq!(message["seq"], seq);
        assert_eq!(message["data"], seq - 1);
    }
    // Still connected and live: a new publish arrives after the recovered ones.
    publisher
        .send(json!({"type": "publish", "channel": "news", "data": "live"}))
        .await;
    let live = reader.recv_type("message").await;
    assert_eq!(live["seq"], 301);
    let stats = common::server_stats(&server);
    assert_eq!(stats["slow_consumer_disconnects"], 0, "{stats}");
    server.shutdown().await;
}
