//! Unit tests of the [`Hub`] facade with no sockets: what `open` queues and in which
//! order, the size limit (105), counters, idempotent disconnect, and shutdown.

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_protocol::{CloseCode, server::Transport};

use crate::{Connection, Hub, HubConfig, Timings};

fn drain(connection: &Connection) -> (Vec<Value>, Option<CloseCode>) {
    let mut batch = Vec::new();
    let closed = connection.outbox().drain_into(&mut batch, usize::MAX);
    let messages = batch
        .iter()
        .map(|d| serde_json::from_slice(&d.json).expect("JSON"))
        .collect();
    (messages, closed)
}

fn timings() -> Timings {
    Timings {
        heartbeat_interval_ms: 1_000,
        idle_timeout_ms: 3_000,
    }
}

#[tokio::test]
async fn open_queues_welcome_then_broadcast_then_the_auto_subscriptions() {
    let hub = Hub::memory(HubConfig::default());
    let connection = hub.connect(Transport::Sse, None);
    hub.open(&connection, None, timings()).await;
    let (messages, _) = drain(&connection);
    let kinds: Vec<&Value> = messages.iter().map(|m| &m["type"]).collect();
    assert_eq!(kinds, ["welcome", "subscribed", "subscribed"]);
    assert_eq!(messages[0]["connection_id"], connection.id().as_str());
    assert_eq!(messages[0]["transport"], "sse");
    assert_eq!(messages[0]["heartbeat_interval_ms"], 1_000);
    assert_eq!(messages[0]["idle_timeout_ms"], 3_000);
    assert_eq!(messages[1]["channel"], "broadcast");
    assert_eq!(messages[2]["channel"], "lobby");
}

#[tokio::test]
async fn a_message_over_the_limit_is_error_105_and_counted_in() {
    let hub = Hub::memory(HubConfig {
        max_message_bytes: 32,
        ..HubConfig::default()
    });
    let connection = hub.connect(Transport::LongPoll, None);
    let long = json!({"type": "ping", "pad": "x".repeat(40)}).to_string();
    hub.handle_text(&connection, &long).await;
    hub.handle_text(&connection, r#"{"type":"ping","id":1}"#)
        .await;
    let (messages, closed) = drain(&connection);
    assert_eq!(messages[0]["code"], 105);
    assert_eq!(messages[0]["error"], "message_too_large");
    assert_eq!(messages[1]["type"], "pong");
    assert_eq!(closed, None, "the connection stays open");
    assert_eq!(connection.messages_in(), 2);
    let stats = hub.stats();
    assert_eq!(
        (stats.messages_in, stats.errors_out, stats.messages_out),
        (2, 1, 2)
    );
}

#[tokio::test]
async fn disconnect_is_idempotent_and_releases_everything() {
    let hub = Hub::memory(HubConfig::default());
    let connection = hub.connect(Transport::Tcp, None);
    hub.open(&connection, None, timings()).await;
    assert_eq!(hub.stats().connections.tcp, 1);
    hub.disconnect(&connection).await;
    hub.disconnect(&connection).await;
    let stats = hub.stats();
    assert_eq!(stats.connections.tcp, 0);
    assert_eq!(stats.connections_accepted.tcp, 1);
    assert!(stats.channels.iter().all(|c| c.subscribers == 0));
    assert!(hub.connection(connection.id().as_str()).is_none());
    assert!(connection.subscriptions().is_empty());
    // Queued messages are still handed out, then the close reason.
    let (messages, _) = drain(&connection);
    assert_eq!(messages.len(), 3);
    assert_eq!(drain(&connection).1, Some(CloseCode::Normal));
}

#[tokio::test]
async fn shutdown_closes_every_outbox_with_1001_after_what_is_queued() {
    let hub = Hub::memory(HubConfig::default());
    let connections: Vec<Arc<Connection>> = (0..3)
        .map(|_| hub.connect(Transport::Websocket, None))
        .collect();
    for connection in &connections {
        hub.open(connection, None, timings()).await;
    }
    hub.shutdown();
    assert!(hub.is_shutting_down());
    for connection in &connections {
        let (messages, closed) = drain(connection);
        assert_eq!(messages.len(), 3, "welcome and two subscribed are flushed");
        assert_eq!(closed, None);
        assert_eq!(drain(connection).1, Some(CloseCode::GoingAway));
    }
    let late = hub.connect(Transport::Websocket, None);
    hub.open(&late, None, timings()).await;
    assert_eq!(drain(&late), (Vec::new(), Some(CloseCode::GoingAway)));
}
