//! A flooding client is rate limited (error 113, at most once a second, messages
//! dropped) while the server keeps serving everyone else in order.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::WsClient;
use futures_util::SinkExt;
use serde_json::json;
use switchboard_server::ServerConfig;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_flood_is_rate_limited_and_nobody_else_notices() {
    let mut config = ServerConfig::ephemeral();
    config.hub.rate_limit_per_sec = 50;
    config.hub.rate_limit_burst = 20;
    let server = common::start(config).await;
    let mut flooder = WsClient::connect_ready(&server, "?channels=flood", 2).await;
    let mut bystander = WsClient::connect_ready(&server, "?channels=lobby,flood", 3).await;

    // 2,000 publishes as fast as the socket takes them (fed, flushed once).
    let flood_started = tokio::time::Instant::now();
    for n in 0..2_000 {
        let message = json!({"type": "publish", "channel": "flood", "data": n});
        flooder
            .socket
            .feed(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }
    flooder.socket.flush().await.unwrap();

    // Once the flood stops, the flooder's bucket refills (time must pass for that) and
    // it is served again. Its pong comes after every reply to the flood, so what arrives
    // before it is everything the flood earned.
    tokio::time::sleep(Duration::from_millis(500)).await;
    flooder.send(json!({"type": "ping", "id": "after"})).await;
    let mut rate_limit_errors = 0;
    loop {
        let message = flooder.recv().await;
        match message["type"].as_str() {
            Some("pong") => {
                assert_eq!(message["id"], "after");
                break;
            }
            Some("error") => {
                assert_eq!(message["code"], 113, "{message}");
                assert_eq!(message["error"], "rate_limited");
                rate_limit_errors += 1;
            }
            _ => {}
        }
    }
    let flood_lasted = flood_started.elapsed();
    // At most one notice a second, however many messages were dropped.
    let allowed = 1 + flood_lasted.as_secs() as usize;
    assert!(
        (1..=allowed).contains(&rate_limit_errors),
        "{rate_limit_errors} rate-limit errors in {flood_lasted:?} (at most {allowed})"
    );

    // Far fewer than 2,000 messages got through.
    let stats = common::server_stats(&server);
    let published = stats["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "flood")
        .map(|c| c["last_seq"].as_u64().unwrap())
        .unwrap();
    assert!(
        (20..200).contains(&published),
        "the burst (20) plus at most ~50/s got through, not {published}"
    );

    // The bystander received exactly what was admitted, in order, and its own traffic flows.
    for seq in 1..=published {
        let message = bystander.recv_type("message").await;
        assert_eq!(message["seq"], seq);
    }
    bystander
        .send(json!({"type": "chat", "user": "calm", "text": "still here"}))
        .await;
    let chat = bystander.recv_type("chat").await;
    assert_eq!(chat["text"], "still here");
    server.shutdown().await;
}
