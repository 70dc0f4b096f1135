//! The `metrics` feed over a real WebSocket: snapshots arrive at the configured interval
//! with every figure the dashboard charts, including switchboard's own.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{WsClient, start};
use serde_json::Value;
use switchboard_feeds::metrics::MetricsFeedConfig;
use switchboard_server::ServerConfig;

async fn next_metrics(client: &mut WsClient) -> (u64, Value) {
    loop {
        let message = client.recv_type("message").await;
        if message["channel"] == "metrics" {
            return (message["seq"].as_u64().unwrap(), message["data"].clone());
        }
    }
}

#[tokio::test]
async fn snapshots_carry_machine_and_switchboard_figures() {
    let mut config = ServerConfig::ephemeral();
    config.metrics = MetricsFeedConfig {
        enabled: true,
        interval: Duration::from_millis(200),
    };
    let server = start(config).await;
    let mut client = WsClient::connect_ready(&server, "?channels=metrics", 2).await;

    let started = std::time::Instant::now();
    let (first_seq, _) = next_metrics(&mut client).await;
    let (second_seq, data) = next_metrics(&mut client).await;
    assert_eq!(second_seq, first_seq + 1);
    assert!(started.elapsed() < Duration::from_secs(2));

    let cpu = &data["cpu"];
    assert!((0.0..=100.0).contains(&cpu["total"].as_f64().unwrap()));
    assert!(!cpu["per_core"].as_array().unwrap().is_empty());
    assert!(data["memory"]["total_bytes"].as_u64().unwrap() > 0);
    assert!(data["memory"]["percent"].as_f64().unwrap() > 0.0);
    assert!(data["swap"]["total_bytes"].is_u64());
    assert!(data["disk"]["total_bytes"].as_u64().unwrap() > 0);
    assert!(data["disk"]["read_bytes_per_s"].is_f64());
    assert!(data["network"]["rx_total_bytes"].is_u64());
    assert!(data["load"]["one"].is_f64());
    let own = &data["switchboard"];
    assert_eq!(own["connections"]["websocket"], 1);
    assert_eq!(own["connections_total"], 1);
    assert!(own["messages_out_per_s"].is_f64());
    assert!(own["uptime_ms"].as_u64().unwrap() > 0);
    assert!(own["rss_bytes"].as_u64().unwrap() > 1_000_000);
    server.shutdown().await;
}
