//! The `clock` feed: the server time on a read-only channel, reaching every transport.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{WsClient, start, tcp::TcpClient};
use serde_json::json;
use switchboard_protocol::now_ms;
use switchboard_server::ServerConfig;

fn fast_clock() -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.clock.interval = Duration::from_millis(100);
    config
}

#[tokio::test]
async fn a_websocket_subscriber_gets_ticks_with_consecutive_seqs() {
    let server = start(fast_clock()).await;
    let mut ws = WsClient::connect_ready(&server, "?channels=clock", 2).await;
    let mut last_seq = None;
    for _ in 0..4 {
        let tick = ws.recv_type("message").await;
        assert_eq!(tick["channel"], "clock");
        let seq = tick["seq"].as_u64().unwrap();
        if let Some(last) = last_seq {
            assert_eq!(seq, last + 1);
        }
        last_seq = Some(seq);
        let unix_ms = tick["data"]["unix_ms"].as_u64().unwrap();
        assert!(now_ms().abs_diff(unix_ms) < 5_000, "clock is close to now");
        let iso = tick["data"]["iso"].as_str().unwrap();
        assert_eq!(iso.len(), "2026-11-21T22:30:00.123Z".len(), "{iso}");
        assert!(iso.ends_with('Z') && iso.as_bytes()[10] == b'T', "{iso}");
        assert!(tick.get("from").is_none(), "published by the server");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_clients_get_the_time_by_default() {
    let server = start(fast_clock()).await;
    let mut tcp = TcpClient::connect_ready(&server, 3).await;
    let first = tcp.recv_type("message").await;
    let second = tcp.recv_type("message").await;
    assert_eq!(first["channel"], "clock");
    assert_eq!(
        second["seq"].as_u64().unwrap(),
        first["seq"].as_u64().unwrap() + 1
    );
    server.shutdown().await;
}

#[tokio::test]
async fn clients_cannot_publish_to_the_clock() {
    let server = start(fast_clock()).await;
    let mut ws = WsClient::connect_ready(&server, "", 2).await;
    ws.send(json!({"type": "publish", "channel": "clock", "data": {"iso": "fake"}}))
        .await;
    assert_eq!(ws.recv_type("error").await["code"], 109);
    server.shutdown().await;
}

#[tokio::test]
async fn the_clock_stops_with_the_server() {
    let server = start(fast_clock()).await;
    let hub = server.hub().clone();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let report = server.shutdown().await;
    assert!(report.clean);
    let seq_at_shutdown = clock_seq(&hub);
    assert!(seq_at_shutdown >= 2, "ticked before shutdown");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(clock_seq(&hub), seq_at_shutdown, "no tick after shutdown");
}

fn clock_seq(hub: &switchboard_hub::Hub) -> u64 {
    hub.stats()
        .channels
        .iter()
        .find(|c| c.name == "clock")
        .map_or(0, |c| c.last_seq)
}
