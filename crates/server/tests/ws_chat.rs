//! Chat, broadcast, ping and stats over real WebSockets on loopback: the seed's message
//! types, end to end through the hub.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use common::{WsClient, server_stats, start_default};
use serde_json::json;

#[tokio::test]
async fn two_clients_chat_in_the_lobby() {
    let server = start_default().await;
    let mut ann = WsClient::connect_ready(&server, "", 2).await;
    let mut bob = WsClient::connect_ready(&server, "", 2).await;
    ann.send(json!({"type": "chat", "user": "ann", "text": "hello bob"}))
        .await;
    let ann_id = ann.connection_id.clone();
    for client in [&mut ann, &mut bob] {
        let chat = client.recv_type("chat").await;
        assert_eq!(chat["channel"], "lobby");
        assert_eq!(chat["user"], "ann");
        assert_eq!(chat["text"], "hello bob");
        assert_eq!(chat["seq"], 1);
        assert_eq!(chat["from"], ann_id.as_str());
        assert!(chat["ts"].as_u64().unwrap() > 0);
    }
    bob.send(json!({"type": "chat", "user": "bob", "text": "hi ann", "channel": "lobby"}))
        .await;
    let reply = ann.recv_type("chat").await;
    assert_eq!(
        (reply["user"].clone(), reply["seq"].clone()),
        (json!("bob"), json!(2))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn welcome_announces_id_version_heartbeat_and_limits() {
    let server = start_default().await;
    let client = WsClient::connect(&server, "").await;
    let welcome = &client.welcome;
    assert_eq!(welcome["server"], "switchboard");
    assert_eq!(welcome["transport"], "websocket");
    assert_eq!(welcome["protocol"], 1);
    assert_eq!(welcome["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(welcome["heartbeat_interval_ms"], 25_000);
    assert_eq!(welcome["idle_timeout_ms"], 60_000);
    assert_eq!(welcome["limits"]["max_message_bytes"], 65_536);
    assert_eq!(welcome["epoch"], server.hub().epoch());
    assert_eq!(client.connection_id.len(), 36, "a UUID");
    server.shutdown().await;
}

#[tokio::test]
async fn broadcast_reaches_every_connection_whatever_it_subscribed_to() {
    let server = start_default().await;
    let mut lobby = WsClient::connect_ready(&server, "", 2).await;
    // Subscribed only to `news` (plus the `broadcast` every connection is on).
    let mut elsewhere = WsClient::connect_ready(&server, "?channels=news", 2).await;
    let mut sender = WsClient::connect_ready(&server, "?channels=", 1).await;
    sender
        .send(json!({"type": "broadcast", "text": "server maintenance at 5", "id": "b1"}))
        .await;
    // The sender is a subscriber too: its copy is queued during the publish, the ack after.
    let own_copy = sender.recv().await;
    assert_eq!(own_copy["type"], "broadcast");
    let ack = sender.recv().await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["id"], "b1");
    assert_eq!(ack["channel"], "broadcast");
    assert_eq!(own_copy["seq"], ack["seq"]);
    for client in [&mut lobby, &mut elsewhere] {
        let message = client.recv_type("broadcast").await;
        assert_eq!(message["text"], "server maintenance at 5");
        assert_eq!(message["channel"], "broadcast");
        assert_eq!(message["seq"], ack["seq"]);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn ping_is_answered_by_pong_with_the_same_id() {
    let server = start_default().await;
    let mut client = WsClient::connect_ready(&server, "", 2).await;
    client.send(json!({"type": "ping", "id": 42})).await;
    let pong = client.recv().await;
    assert_eq!(pong["type"], "pong");
    assert_eq!(pong["id"], 42);
    assert!(pong["ts"].as_u64().unwrap() > 0);
    client.send(json!({"type": "ping", "id": "rtt-7"})).await;
    assert_eq!(client.recv().await["id"], "rtt-7");
    client.send(json!({"type": "ping"})).await;
    let bare = client.recv().await;
    assert_eq!(bare["type"], "pong");
    assert!(bare.get("id").is_none(), "no id asked, none echoed: {bare}");
    server.shutdown().await;
}

#[tokio::test]
async fn get_stats_counts_connections_messages_channels_and_the_client_itself() {
    let server = start_default().await;
    let mut ann = WsClient::connect_ready(&server, "", 2).await;
    let mut bob = WsClient::connect_ready(&server, "?channels=lobby,news", 3).await;
    ann.send(json!({"type": "chat", "user": "ann", "text": "one"}))
        .await;
    ann.recv_type("chat").await;
    bob.recv_type("chat").await;
    ann.send(json!({"type": "ping", "id": 1})).await;
    ann.recv_type("pong").await;
    // Ann has received welcome, 2 × subscribed, chat and pong before she asks.
    ann.send(json!({"type": "custom", "action": "get_stats", "id": "s"}))
        .await;
    let stats = ann.recv_type("stats").await;
    assert_eq!(stats["id"], "s");

    let server_part = &stats["server"];
    assert_eq!(server_part["connections"]["websocket"], 2);
    assert_eq!(server_part["connections"]["sse"], 0);
    assert_eq!(server_part["connections_accepted"]["websocket"], 2);
    assert_eq!(server_part["messages_in"], 3, "chat, ping, custom");
    // welcome + subscribed ×2 (ann) + welcome + subscribed ×3 (bob) + chat ×2 + pong.
    assert_eq!(server_part["messages_out"], 10);
    assert_eq!(server_part["epoch"], server.hub().epoch());
    assert!(server_part["uptime_ms"].is_u64());
    let channel = |name: &str| {
        server_part["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("channel {name} in {server_part}"))
    };
    assert_eq!(channel("lobby")["subscribers"], 2);
    assert_eq!(channel("lobby")["last_seq"], 1);
    assert_eq!(channel("lobby")["history"], 1);
    assert_eq!(channel("broadcast")["subscribers"], 2);
    assert_eq!(channel("news")["subscribers"], 1);
    assert_eq!(channel("news")["last_seq"], 0);

    let client = &stats["client"];
    assert_eq!(client["connection_id"], ann.connection_id.as_str());
    assert_eq!(client["transport"], "websocket");
    assert_eq!(client["messages_in"], 3);
    assert_eq!(client["messages_out"], 5);
    assert_eq!(client["subscriptions"], json!(["broadcast", "lobby"]));

    // The HTTP API reports the same server figures.
    let api = server_stats(&server);
    assert_eq!(api["connections"]["websocket"], 2);
    assert_eq!(api["messages_in"], 3);
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_custom_action_is_error_107() {
    let server = start_default().await;
    let mut client = WsClient::connect_ready(&server, "", 2).await;
    client
        .send(json!({"type": "custom", "action": "dance", "id": 9}))
        .await;
    let error = client.recv_type("error").await;
    assert_eq!(error["code"], 107);
    assert_eq!(error["error"], "unknown_action");
    assert_eq!(error["id"], 9);
    server.shutdown().await;
}
