//! Channels over real WebSockets: publish and ack, resume with `since`, gaps beyond
//! history, epoch changes, per-channel order under concurrent publishers, presence,
//! read-only channels and unsubscribe.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::{WsClient, start, start_default};
use serde_json::{Value, json};
use switchboard_server::ServerConfig;

async fn publish(client: &mut WsClient, channel: &str, data: Value, id: u64) -> Value {
    client
        .send(json!({"type": "publish", "channel": channel, "data": data, "id": id}))
        .await;
    client.recv_type("ack").await
}

#[tokio::test]
async fn publish_with_id_is_acked_with_the_assigned_seq() {
    let server = start_default().await;
    let mut publisher = WsClient::connect_ready(&server, "?channels=", 1).await;
    let mut reader = WsClient::connect_ready(&server, "?channels=news", 2).await;
    for expected in 1..=3u64 {
        let ack = publish(
            &mut publisher,
            "news",
            json!({"n": expected}),
            100 + expected,
        )
        .await;
        assert_eq!(ack["id"], 100 + expected);
        assert_eq!(ack["channel"], "news");
        assert_eq!(ack["seq"], expected);
        let message = reader.recv_type("message").await;
        assert_eq!(message["seq"], expected);
        assert_eq!(message["data"], json!({"n": expected}));
        assert_eq!(message["from"], publisher.connection_id.as_str());
        assert_eq!(message["ts"], ack["ts"]);
    }
    // Without an id there is no ack: the next reply is the pong.
    publisher
        .send(json!({"type": "publish", "channel": "news", "data": 1}))
        .await;
    publisher.send(json!({"type": "ping", "id": "p"})).await;
    assert_eq!(publisher.recv().await["type"], "pong");
    server.shutdown().await;
}

#[tokio::test]
async fn subscribe_since_resumes_exactly_the_missed_messages_in_order() {
    let server = start_default().await;
    let mut publisher = WsClient::connect_ready(&server, "?channels=", 1).await;
    for n in 1..=5u64 {
        publish(&mut publisher, "feed", json!(n), n).await;
    }
    let mut late = WsClient::connect_ready(&server, "?channels=", 1).await;
    let subscribed = late.subscribe("feed", Some(2)).await;
    assert_eq!(subscribed["resumed"], true);
    assert_eq!(subscribed["recovered"], 3);
    assert_eq!(subscribed["seq"], 5);
    assert_eq!(subscribed["epoch"], server.hub().epoch());
    for n in 3..=5u64 {
        let message = late.recv().await;
        assert_eq!(
            (message["type"].clone(), message["seq"].clone()),
            (json!("message"), json!(n))
        );
        assert_eq!(message["data"], n);
    }
    // Live messages continue right after the recovered ones, without a hole.
    publish(&mut publisher, "feed", json!(6), 6).await;
    assert_eq!(late.recv().await["seq"], 6);

    // Resuming on connect, through the query string, works the same way.
    let mut again = WsClient::connect(&server, "?channels=feed").await;
    again.recv_type("subscribed").await; // broadcast
    let subscribed = again.recv_type("subscribed").await;
    assert_eq!(
        (subscribed["channel"].clone(), subscribed["resumed"].clone()),
        (json!("feed"), json!(false))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_gap_beyond_history_is_reported_with_its_range() {
    let mut config = ServerConfig::ephemeral();
    config.hub.history_size = 3;
    let server = start(config).await;
    let mut publisher = WsClient::connect_ready(&server, "?channels=", 1).await;
    for n in 1..=10u64 {
        publish(&mut publisher, "feed", json!(n), n).await;
    }
    let mut late = WsClient::connect_ready(&server, "?channels=", 1).await;
    let subscribed = late.subscribe("feed", Some(2)).await;
    assert_eq!(subscribed["resumed"], false);
    assert_eq!(subscribed["recovered"], 3);
    let gap = late.recv().await;
    assert_eq!(gap["type"], "gap");
    assert_eq!(gap["channel"], "feed");
    assert_eq!(gap["from"], 3);
    assert_eq!(gap["to"], 7);
    assert_eq!(gap["reason"], "history_exceeded");
    assert_eq!(gap["epoch"], server.hub().epoch());
    let seqs: Vec<Value> = [late.recv().await, late.recv().await, late.recv().await]
        .iter()
        .map(|m| m["seq"].clone())
        .collect();
    assert_eq!(seqs, [json!(8), json!(9), json!(10)]);
    server.shutdown().await;
}

#[tokio::test]
async fn an_epoch_mismatch_is_reported_and_the_new_epoch_replayed() {
    let server = start_default().await;
    let mut publisher = WsClient::connect_ready(&server, "?channels=", 1).await;
    publish(&mut publisher, "feed", json!("a"), 1).await;
    publish(&mut publisher, "feed", json!("b"), 2).await;
    let mut client = WsClient::connect_ready(&server, "?channels=", 1).await;
    client
        .send(json!({"type": "subscribe", "channel": "feed", "since": 40, "epoch": "0123456789ab"}))
        .await;
    let subscribed = client.recv_type("subscribed").await;
    assert_eq!(subscribed["resumed"], false);
    assert_eq!(subscribed["epoch"], server.hub().epoch());
    let gap = client.recv().await;
    assert_eq!(gap["type"], "gap");
    assert_eq!(gap["reason"], "epoch_changed");
    assert_eq!(gap["from"], 41);
    assert!(gap.get("to").is_none(), "{gap}");
    // Everything of the current epoch that history holds follows.
    assert_eq!(client.recv().await["seq"], 1);
    assert_eq!(client.recv().await["seq"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn since_ahead_of_the_channel_is_error_112() {
    let server = start_default().await;
    let mut client = WsClient::connect_ready(&server, "?channels=", 1).await;
    publish(&mut client, "feed", json!(1), 1).await;
    client
        .send(json!({"type": "subscribe", "channel": "feed", "since": 5, "id": "s"}))
        .await;
    let error = client.recv_type("error").await;
    assert_eq!(error["code"], 112);
    assert_eq!(error["error"], "invalid_since");
    assert_eq!(error["id"], "s");
    // The failed subscription left nothing behind: the channel has no subscriber.
    client
        .send(json!({"type": "presence", "channel": "feed"}))
        .await;
    assert_eq!(client.recv_type("presence").await["members"], json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn per_channel_order_holds_under_concurrent_publishers() {
    const PUBLISHERS: u64 = 4;
    const EACH: u64 = 100;
    let server = start_default().await;
    let mut subscribers = Vec::new();
    for _ in 0..3 {
        subscribers.push(WsClient::connect_ready(&server, "?channels=race", 2).await);
    }
    let mut tasks = Vec::new();
    for p in 0..PUBLISHERS {
        let mut publisher = WsClient::connect_ready(&server, "?channels=", 1).await;
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                publisher
                    .send(json!({"type": "publish", "channel": "race", "data": {"p": p, "n": n}}))
                    .await;
            }
            publisher
        }));
    }
    let total = PUBLISHERS * EACH;
    let readers: Vec<_> = subscribers
        .into_iter()
        .map(|mut subscriber| {
            tokio::spawn(async move {
                let mut last_n: HashMap<u64, u64> = HashMap::new();
                for expected_seq in 1..=total {
                    let message = subscriber.recv_type("message").await;
                    assert_eq!(message["seq"], expected_seq, "consecutive seq");
                    let (p, n) = (
                        message["data"]["p"].as_u64().unwrap(),
                        message["data"]["n"].as_u64().unwrap(),
                    );
                    let previous = last_n.insert(p, n);
                    assert_eq!(
                        n,
                        previous.map_or(0, |prev| prev + 1),
                        "publisher {p} in send order"
                    );
                }
                last_n
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for reader in readers {
        let last_n = reader.await.unwrap();
        assert_eq!(last_n.len() as u64, PUBLISHERS);
        assert!(last_n.values().all(|n| *n == EACH - 1));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn presence_lists_members_and_announces_join_and_leave() {
    let server = start_default().await;
    let mut watcher = WsClient::connect_ready(&server, "?channels=", 1).await;
    watcher
        .send(json!({"type": "subscribe", "channel": "room", "presence": true}))
        .await;
    watcher.recv_type("subscribed").await;
    // A subscriber that did not ask for presence gets no events.
    let mut quiet = WsClient::connect_ready(&server, "?channels=room", 2).await;
    let join = watcher.recv().await;
    assert_eq!(join["type"], "join");
    assert_eq!(join["channel"], "room");
    assert_eq!(
        join["member"]["connection_id"],
        quiet.connection_id.as_str()
    );
    assert_eq!(join["member"]["transport"], "websocket");

    watcher
        .send(json!({"type": "presence", "channel": "room", "id": 3}))
        .await;
    let presence = watcher.recv().await;
    assert_eq!(presence["type"], "presence");
    assert_eq!(presence["id"], 3);
    let mut members: Vec<&str> = presence["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["connection_id"].as_str().unwrap())
        .collect();
    members.sort();
    let mut expected = vec![watcher.connection_id.as_str(), quiet.connection_id.as_str()];
    expected.sort();
    assert_eq!(members, expected);

    // A disconnect counts as leaving too. The quiet subscriber is still in the room
    // while this member comes and goes, so it would see the join and the leave if
    // presence events reached subscribers that did not ask for them.
    let gone = WsClient::connect_ready(&server, "?channels=room", 2).await;
    assert_eq!(watcher.recv().await["type"], "join");
    let gone_id = gone.connection_id.clone();
    drop(gone);
    let leave = watcher.recv().await;
    assert_eq!(
        (
            leave["type"].clone(),
            leave["member"]["connection_id"].clone()
        ),
        (json!("leave"), json!(gone_id))
    );
    // The watcher has the leave, so the hub has fanned it out to every subscriber that
    // gets it; a ping queues behind anything already in the quiet one's outbox, so its
    // next message being the pong shows no presence event was queued for it.
    quiet.send(json!({"type": "ping", "id": 0})).await;
    let next = quiet.recv().await;
    assert_eq!(next["type"], "pong", "quiet subscriber got {next}");

    quiet
        .send(json!({"type": "unsubscribe", "channel": "room", "id": "u"}))
        .await;
    let unsubscribed = quiet.recv().await;
    assert_eq!(
        (
            unsubscribed["type"].clone(),
            unsubscribed["id"].clone(),
            unsubscribed["channel"].clone()
        ),
        (json!("unsubscribed"), json!("u"), json!("room"))
    );
    let leave = watcher.recv().await;
    assert_eq!(leave["type"], "leave");
    assert_eq!(
        leave["member"]["connection_id"],
        quiet.connection_id.as_str()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn server_channels_refuse_client_publishes_with_109() {
    let server = start_default().await;
    let mut client = WsClient::connect_ready(&server, "", 2).await;
    for channel in ["broadcast", "clock", "metrics", "weather"] {
        client
            .send(json!({"type": "publish", "channel": channel, "data": 1, "id": channel}))
            .await;
        let error = client.recv_type("error").await;
        assert_eq!(error["code"], 109, "{channel}");
        assert_eq!(error["error"], "read_only_channel");
        assert_eq!(error["id"], channel);
        client
            .send(json!({"type": "chat", "channel": channel, "user": "x", "text": "y"}))
            .await;
        assert_eq!(client.recv_type("error").await["code"], 109, "{channel}");
    }
    // Subscribing to them is fine.
    assert_eq!(client.subscribe("clock", None).await["channel"], "clock");
    server.shutdown().await;
}

#[tokio::test]
async fn unsubscribe_when_not_subscribed_is_108() {
    let server = start_default().await;
    let mut client = WsClient::connect_ready(&server, "", 2).await;
    client
        .send(json!({"type": "unsubscribe", "channel": "never", "id": 1}))
        .await;
    let error = client.recv_type("error").await;
    assert_eq!(error["code"], 108);
    assert_eq!(error["error"], "not_subscribed");
    assert_eq!(error["id"], 1);
    // Unsubscribing twice: the second is 108 too.
    client
        .send(json!({"type": "unsubscribe", "channel": "lobby"}))
        .await;
    client.recv_type("unsubscribed").await;
    client
        .send(json!({"type": "unsubscribe", "channel": "lobby"}))
        .await;
    assert_eq!(client.recv_type("error").await["code"], 108);
    server.shutdown().await;
}

#[tokio::test]
async fn subscription_and_channel_limits_are_110_and_111() {
    let mut config = ServerConfig::ephemeral();
    config.hub.max_subscriptions = 2;
    config.hub.max_channels = 4;
    let server = start(config).await;
    let mut client = WsClient::connect_ready(&server, "", 2).await; // broadcast + lobby
    client
        .send(json!({"type": "subscribe", "channel": "third"}))
        .await;
    let error = client.recv_type("error").await;
    assert_eq!(
        (error["code"].clone(), error["error"].clone()),
        (json!(110), json!("too_many_subscriptions"))
    );
    // Channels are created on first use until the hub holds its maximum (server feeds
    // such as `clock` may hold some already), then the next new one is refused.
    let mut refused = None;
    for n in 1..=4u64 {
        client
            .send(json!({"type": "publish", "channel": format!("c{n}"), "data": 1, "id": n}))
            .await;
        let reply = client.recv().await;
        if reply["type"] == "error" {
            refused = Some(reply);
            break;
        }
        assert_eq!(reply["type"], "ack");
    }
    let error = refused.expect("the channel limit was reached");
    assert_eq!(error["code"], 111);
    assert_eq!(error["error"], "too_many_channels");
    assert_eq!(server.hub().stats().channels.len(), 4);
    server.shutdown().await;
}
