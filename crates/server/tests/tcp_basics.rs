//! The hub over raw TCP: welcome, chat across transports, resume, stats and fan-out to
//! many clients, over real sockets on loopback.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    WsClient, start,
    tcp::{Header, TcpClient},
};
use serde_json::json;
use switchboard_server::ServerConfig;

/// An ephemeral server without the clock, so no clock message interleaves.
fn quiet_config() -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.clock.enabled = false;
    config
}

#[tokio::test]
async fn welcome_first_then_the_default_subscriptions() {
    let server = start(ServerConfig::ephemeral()).await;
    let mut client = TcpClient::connect(&server).await;
    let welcome = &client.welcome;
    assert_eq!(welcome["transport"], "tcp");
    assert_eq!(welcome["server"], "switchboard");
    assert_eq!(welcome["heartbeat_interval_ms"], 25_000);
    assert_eq!(welcome["idle_timeout_ms"], 60_000);
    assert_eq!(welcome["limits"]["max_message_bytes"], 65_536);
    // Seed 004 sends every TCP client the time: `clock` is joined by default.
    for channel in ["broadcast", "lobby", "clock"] {
        let subscribed = client.recv().await;
        assert_eq!(subscribed["type"], "subscribed");
        assert_eq!(subscribed["channel"], channel);
    }
    client.send(json!({"type": "ping", "id": 7})).await;
    let pong = client.recv_type("pong").await;
    assert_eq!(pong["id"], 7);
    server.shutdown().await;
}

#[tokio::test]
async fn chat_between_tcp_and_websocket_both_ways() {
    let server = start(quiet_config()).await;
    let mut tcp = TcpClient::connect_ready(&server, 3).await;
    let mut ws = WsClient::connect_ready(&server, "", 2).await;

    tcp.send(json!({"type": "chat", "user": "tina", "text": "from tcp"}))
        .await;
    for (chat, from) in [
        (ws.recv_type("chat").await, "ws"),
        (tcp.recv_type("chat").await, "tcp"),
    ] {
        assert_eq!(chat["text"], "from tcp", "seen by {from}");
        assert_eq!(chat["user"], "tina");
        assert_eq!(chat["seq"], 1);
        assert_eq!(chat["from"], tcp.connection_id.as_str());
    }

    ws.send(json!({"type": "chat", "user": "walt", "text": "from ws, héllo"}))
        .await;
    let chat = tcp.recv_type("chat").await;
    assert_eq!(chat["text"], "from ws, héllo");
    assert_eq!(chat["seq"], 2);
    assert_eq!(chat["from"], ws.connection_id.as_str());
    server.shutdown().await;
}

#[tokio::test]
async fn resume_with_since_recovers_what_was_missed() {
    let server = start(quiet_config()).await;
    let mut ws = WsClient::connect_ready(&server, "", 2).await;
    let mut first = TcpClient::connect_ready(&server, 3).await;
    first.subscribe("room", None).await;
    for n in 1..=2 {
        ws.send(json!({"type": "chat", "channel": "room", "user": "w", "text": format!("m{n}")}))
            .await;
        assert_eq!(first.recv_type("chat").await["seq"], n);
    }
    drop(first);
    // Published while the TCP client is away.
    for n in 3..=5 {
        ws.send(json!({"type": "chat", "channel": "room", "user": "w", "text": format!("m{n}"), "id": n}))
            .await;
        ws.recv_type("ack").await;
    }

    let mut again = TcpClient::connect_ready(&server, 3).await;
    let subscribed = again.subscribe("room", Some(2)).await;
    assert_eq!(subscribed["resumed"], true);
    assert_eq!(subscribed["recovered"], 3);
    for n in 3..=5 {
        let chat = again.recv_type("chat").await;
        assert_eq!(chat["seq"], n);
        assert_eq!(chat["text"], format!("m{n}"));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn stats_count_tcp_connections() {
    let server = start(quiet_config()).await;
    let mut one = TcpClient::connect_ready(&server, 3).await;
    let _two = TcpClient::connect_ready(&server, 3).await;
    one.send(json!({"type": "custom", "action": "get_stats"}))
        .await;
    let stats = one.recv_type("stats").await;
    assert_eq!(stats["server"]["connections"]["tcp"], 2);
    assert_eq!(stats["client"]["transport"], "tcp");
    assert_eq!(server.hub().stats().connections.tcp, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn two_hundred_tcp_clients_all_receive_a_broadcast() {
    let server = start(quiet_config()).await;
    let addr = server.tcp_addr().unwrap();
    let mut clients = Vec::new();
    for _ in 0..200 {
        clients.push(tokio::spawn(async move {
            let mut client = TcpClient::connect_to(addr, Header::U32).await;
            for _ in 0..3 {
                client.recv_type("subscribed").await;
            }
            client
        }));
    }
    let mut ready = Vec::new();
    for client in clients {
        ready.push(client.await.unwrap());
    }
    assert_eq!(server.hub().stats().connections.tcp, 200);
    let mut ws = WsClient::connect_ready(&server, "", 2).await;
    ws.send(json!({"type": "broadcast", "text": "to everyone"}))
        .await;
    let receivers = ready.into_iter().map(|mut client| {
        tokio::spawn(async move {
            let message = client.recv_type("broadcast").await;
            (message["text"].clone(), message["seq"].clone())
        })
    });
    for receiver in receivers.collect::<Vec<_>>() {
        assert_eq!(receiver.await.unwrap(), (json!("to everyone"), json!(1)));
    }
    server.shutdown().await;
}
