//! `GET /metrics` scraped over a real socket and parsed by an outside parser (the Python
//! Prometheus client's): the families and their types, counters that move by exactly
//! what real traffic did, no per-channel or per-connection labels; `/metrics` on an
//! address of its own; `/readyz` flipping to 503 during the drain.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "metrics/scrape.rs"]
mod scrape;

use std::time::Duration;

use common::{WsClient, http_get};
use scrape::{Families, scrape};
use serde_json::json;
use switchboard_server::ServerConfig;
use tokio_tungstenite::tungstenite::Message;

/// A server with no feeds, so nothing but the test's own traffic moves the counters.
fn quiet_config() -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.clock.enabled = false;
    config
}

#[tokio::test]
async fn the_families_are_there_with_their_types_and_bounded_labels() {
    let server = common::start(quiet_config()).await;
    let families = scrape(server.http_addr()).await;
    let expected = [
        ("switchboard_build_info", "gauge"),
        ("switchboard_connections_open", "gauge"),
        ("switchboard_connections_accepted", "counter"),
        ("switchboard_connections_closed", "counter"),
        ("switchboard_connection_closes", "counter"),
        ("switchboard_connection_duration_seconds", "histogram"),
        ("switchboard_messages_received", "counter"),
        ("switchboard_messages_sent", "counter"),
        ("switchboard_errors_sent", "counter"),
        ("switchboard_slow_consumer_disconnects", "counter"),
        ("switchboard_channels", "gauge"),
        ("switchboard_history_messages", "gauge"),
        ("switchboard_history_bytes", "gauge"),
        ("switchboard_draining", "gauge"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_cpu_seconds", "counter"),
        ("process_open_fds", "gauge"),
    ];
    for (name, kind) in expected {
        assert_eq!(families.kind(name), kind, "{name}");
    }
    // Labels come from a closed set: never a channel, a user or a connection.
    let allowed = [
        "transport",
        "reason",
        "code",
        "error",
        "le",
        "version",
        "commit",
    ];
    for (name, label) in families.label_names() {
        assert!(
            allowed.contains(&label.as_str()),
            "{name} has label {label}"
        );
    }
    assert_eq!(
        families.value(
            "switchboard_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // Real buckets: more than the +Inf one.
    let buckets = families.samples("switchboard_connection_duration_seconds_bucket");
    assert!(buckets.len() > 5, "{buckets:?}");
    assert!(families.value("process_resident_memory_bytes", &[]) > 0.0);
    // docs/operations.md cannot drift: every family has a row in its table.
    let operations = include_str!("../../../docs/operations.md");
    for name in families.names() {
        assert!(
            operations.contains(&format!("| `{name}` |")),
            "docs/operations.md has no row for {name}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn counters_move_by_exactly_what_the_traffic_did() {
    let server = common::start(quiet_config()).await;
    let addr = server.http_addr();
    let ws = [("transport", "websocket")];
    let before = scrape(addr).await;

    let mut client = WsClient::connect_ready(&server, "", 2).await;
    let during = scrape(addr).await;
    assert_eq!(
        during.delta(&before, "switchboard_connections_open", &ws),
        1.0
    );
    assert_eq!(
        during.delta(&before, "switchboard_connections_accepted_total", &ws),
        1.0
    );

    const CHATS: usize = 3;
    for n in 0..CHATS {
        client
            .send(json!({"type": "chat", "user": "m", "text": format!("hi {n}")}))
            .await;
        client.recv_type("chat").await;
    }
    // One malformed message: counted as received, and as one invalid_json error.
    client.send_raw(Message::Text("not json".into())).await;
    assert_eq!(client.recv_type("error").await["code"], 100);
    client.send_raw(Message::Close(None)).await;
    drop(client);
    let hub = server.hub().clone();
    common::eventually("the connection to be gone", || {
        hub.counters()
            .open_connections()
            .get(switchboard_protocol::server::Transport::Websocket)
            == 0
    })
    .await;

    let after = scrape(addr).await;
    assert_eq!(
        after.delta(&before, "switchboard_connections_open", &ws),
        0.0
    );
    assert_eq!(
        after.delta(&before, "switchboard_connections_accepted_total", &ws),
        1.0
    );
    assert_eq!(
        after.delta(&before, "switchboard_connections_closed_total", &ws),
        1.0
    );
    let sse = [("transport", "sse")];
    assert_eq!(
        after.delta(&before, "switchboard_connections_accepted_total", &sse),
        0.0
    );
    assert_eq!(
        after.delta(&before, "switchboard_messages_received_total", &[]),
        CHATS as f64 + 1.0
    );
    let invalid_json = [("code", "100"), ("error", "invalid_json")];
    assert_eq!(
        after.delta(&before, "switchboard_errors_sent_total", &invalid_json),
        1.0
    );
    let rate_limited = [("error", "rate_limited")];
    assert_eq!(
        after.delta(&before, "switchboard_errors_sent_total", &rate_limited),
        0.0
    );
    // Each chat came back to its sender at least: welcome, 2 subscribed and 3 chats.
    assert!(after.delta(&before, "switchboard_messages_sent_total", &[]) >= 6.0);
    let gone = [("reason", "client_gone"), ("code", "none")];
    assert_eq!(
        after.delta(&before, "switchboard_connection_closes_total", &gone),
        1.0
    );
    assert_eq!(
        after.delta(
            &before,
            "switchboard_connection_duration_seconds_count",
            &[]
        ),
        1.0
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_close_the_server_decides_is_counted_by_its_code() {
    let mut config = quiet_config();
    config.hub.max_message_bytes = 1024;
    let server = common::start(config).await;
    let addr = server.http_addr();
    let before = scrape(addr).await;
    let mut client = WsClient::connect_ready(&server, "", 2).await;
    let over = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(4096));
    client.send_raw(Message::Text(over.into())).await;
    assert_eq!(u16::from(client.recv_close().await.unwrap().code), 1009);
    drop(client);
    let too_big = [("reason", "message_too_big"), ("code", "1009")];
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let after = scrape(addr).await;
        if after.delta(&before, "switchboard_connection_closes_total", &too_big) == 1.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no 1009 close counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_on_an_address_of_their_own_are_not_on_the_main_port() {
    let mut config = quiet_config();
    config.prometheus.addr = Some("127.0.0.1:0".parse().unwrap());
    let server = common::start(config).await;
    let own = server.prometheus_addr().expect("a listener of its own");
    assert_ne!(own, server.http_addr());
    let families: Families = scrape(own).await;
    assert_eq!(families.kind("switchboard_connections_open"), "gauge");
    assert_eq!(http_get(own, "/readyz").await.0, 200);
    assert_eq!(http_get(server.http_addr(), "/metrics").await.0, 404);
    // Nothing else is served there.
    assert_eq!(http_get(own, "/api/stats").await.0, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let mut config = quiet_config();
    config.prometheus.enabled = false;
    let server = common::start(config).await;
    assert_eq!(http_get(server.http_addr(), "/metrics").await.0, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn readyz_is_ready_then_refuses_during_the_drain() {
    let mut config = quiet_config();
    config.shutdown_drain = Duration::from_millis(600);
    let server = common::start(config).await;
    let addr = server.http_addr();
    let (status, _, body) = http_get(addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ready\""), "{body}");
    let hub = server.hub().clone();
    let stopping = tokio::spawn(server.shutdown());
    common::eventually("the drain to begin", || hub.is_draining()).await;
    let (status, _, body) = http_get(addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let families = scrape(addr).await;
    assert_eq!(families.value("switchboard_draining", &[]), 1.0);
    assert!(stopping.await.unwrap().clean);
}
