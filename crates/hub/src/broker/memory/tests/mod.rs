//! Unit tests of the in-memory broker, driven through the [`Hub`] facade with no sockets:
//! order, resume, gaps (history size and TTL), epoch changes, `since` ahead, and the
//! channel and subscription limits; the history budget in `budget`, dropping and
//! recreating channels in `lifecycle`.

mod budget;
mod lifecycle;

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use switchboard_protocol::{ChannelName, server::Transport};

use crate::{Connection, Hub, HubConfig};

pub(super) fn hub_with(configure: impl FnOnce(&mut HubConfig)) -> Arc<Hub> {
    let mut config = HubConfig::default();
    configure(&mut config);
    Hub::memory(config)
}

/// Everything queued to `connection` so far, parsed.
pub(super) fn drain(connection: &Connection) -> Vec<Value> {
    let mut batch = Vec::new();
    connection.outbox().drain_into(&mut batch, usize::MAX);
    batch
        .iter()
        .map(|d| serde_json::from_slice(&d.json).expect("JSON"))
        .collect()
}

pub(super) async fn send(hub: &Hub, connection: &Arc<Connection>, message: Value) {
    hub.handle_text(connection, &message.to_string()).await;
}

pub(super) async fn publish_n(hub: &Hub, channel: &str, count: u64) {
    let channel = ChannelName::new(channel).unwrap();
    for n in 1..=count {
        let data = serde_json::value::to_raw_value(&json!(n)).unwrap();
        hub.publish(&channel, &data).await.unwrap();
    }
}

pub(super) fn seqs(messages: &[Value]) -> Vec<u64> {
    messages.iter().filter_map(|m| m["seq"].as_u64()).collect()
}

#[tokio::test]
async fn subscribers_get_consecutive_seqs_in_publish_order() {
    let hub = hub_with(|_| {});
    let reader = hub.connect(Transport::Websocket, None);
    send(&hub, &reader, json!({"type": "subscribe", "channel": "c"})).await;
    publish_n(&hub, "c", 5).await;
    let messages = drain(&reader);
    assert_eq!(messages[0]["type"], "subscribed");
    assert_eq!(seqs(&messages[1..]), [1, 2, 3, 4, 5]);
    let data: Vec<&Value> = messages[1..].iter().map(|m| &m["data"]).collect();
    assert_eq!(data, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn resume_delivers_exactly_what_was_missed_then_live() {
    let hub = hub_with(|_| {});
    publish_n(&hub, "c", 5).await;
    let late = hub.connect(Transport::Sse, None);
    send(
        &hub,
        &late,
        json!({"type": "subscribe", "channel": "c", "since": 2, "epoch": hub.epoch()}),
    )
    .await;
    publish_n(&hub, "c", 1).await; // seq 6
    let messages = drain(&late);
    assert_eq!(messages[0]["type"], "subscribed");
    assert_eq!(messages[0]["resumed"], true);
    assert_eq!(messages[0]["recovered"], 3);
    assert_eq!(seqs(&messages[1..]), [3, 4, 5, 6]);
    // `since` equal to the last seq recovers nothing and is still a full resume.
    let current = hub.connect(Transport::Sse, None);
    send(
        &hub,
        &current,
        json!({"type": "subscribe", "channel": "c", "since": 6}),
    )
    .await;
    let messages = drain(&current);
    assert_eq!(messages.len(), 1);
    assert_eq!(
        (
            messages[0]["resumed"].clone(),
            messages[0]["recovered"].clone()
        ),
        (json!(true), json!(0))
    );
}

#[tokio::test]
async fn a_gap_beyond_the_history_size_is_reported_before_what_is_kept() {
    let hub = hub_with(|c| c.history_size = 4);
    publish_n(&hub, "c", 10).await;
    let late = hub.connect(Transport::LongPoll, None);
    send(
        &hub,
        &late,
        json!({"type": "subscribe", "channel": "c", "since": 1}),
    )
    .await;
    let messages = drain(&late);
    assert_eq!(messages[0]["resumed"], false);
    assert_eq!(messages[0]["recovered"], 4);
    assert_eq!(
        messages[1],
        json!({"type": "gap", "channel": "c", "epoch": hub.epoch(), "from": 2, "to": 6, "reason": "history_exceeded"})
    );
    assert_eq!(seqs(&messages[2..]), [7, 8, 9, 10]);
}

#[tokio::test]
async fn history_older_than_the_ttl_is_gone_and_so_is_its_unused_channel() {
    let hub = hub_with(|c| c.history_ttl = Duration::from_millis(30));
    publish_n(&hub, "c", 3).await;
    std::thread::sleep(Duration::from_millis(60));
    hub.sweep_history();
    let stats = hub.stats();
    assert!(stats.channels.iter().all(|c| c.name != "c"), "dropped");
    assert_eq!(
        (
            stats.channel_count,
            stats.history_messages,
            stats.history_bytes
        ),
        (0, 0, 0)
    );
    // Recreated on resume, it continues after seq 3: the old messages are a gap.
    let late = hub.connect(Transport::Websocket, None);
    send(
        &hub,
        &late,
        json!({"type": "subscribe", "channel": "c", "since": 0}),
    )
    .await;
    let messages = drain(&late);
    assert_eq!(messages[0]["recovered"], 0);
    assert_eq!(messages[1]["type"], "gap");
    assert_eq!(
        (messages[1]["from"].clone(), messages[1]["to"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(messages.len(), 2);
}

#[tokio::test]
async fn a_subscribe_expires_old_history_without_waiting_for_the_sweep() {
    let hub = hub_with(|c| c.history_ttl = Duration::from_millis(30));
    let keeper = hub.connect(Transport::Websocket, None);
    send(&hub, &keeper, json!({"type": "subscribe", "channel": "c"})).await;
    publish_n(&hub, "c", 3).await;
    std::thread::sleep(Duration::from_millis(60));
    let late = hub.connect(Transport::Websocket, None);
    send(
        &hub,
        &late,
        json!({"type": "subscribe", "channel": "c", "since": 1}),
    )
    .await;
    let messages = drain(&late);
    assert_eq!(messages[0]["recovered"], 0);
    assert_eq!(
        (messages[1]["from"].clone(), messages[1]["to"].clone()),
        (json!(2), json!(3))
    );
}

#[tokio::test]
async fn an_epoch_change_is_a_gap_and_the_current_epoch_is_replayed() {
    let hub = hub_with(|_| {});
    publish_n(&hub, "c", 2).await;
    let client = hub.connect(Transport::Websocket, None);
    send(
        &hub,
        &client,
        json!({"type": "subscribe", "channel": "c", "since": 9, "epoch": "old-epoch"}),
    )
    .await;
    let messages = drain(&client);
    assert_eq!(messages[0]["resumed"], false);
    assert_eq!(messages[0]["epoch"], hub.epoch());
    assert_eq!(messages[1]["reason"], "epoch_changed");
    assert_eq!(messages[1]["from"], 10);
    assert_eq!(seqs(&messages[2..]), [1, 2]);
}

#[tokio::test]
async fn an_epoch_change_with_a_short_history_reports_both_gaps() {
    let hub = hub_with(|config| config.history_size = 2);
    publish_n(&hub, "c", 5).await;
    let client = hub.connect(Transport::Websocket, None);
    send(
        &hub,
        &client,
        json!({"type": "subscribe", "channel": "c", "since": 9, "epoch": "old-epoch"}),
    )
    .await;
    let messages = drain(&client);
    assert_eq!(messages[0]["type"], "subscribed");
    assert_eq!(messages[0]["resumed"], false);
    assert_eq!(messages[1]["reason"], "epoch_changed");
    assert_eq!(messages[1]["from"], 10);
    assert!(messages[1].get("to").is_none());
    // This epoch's seqs 1..=3 fell out of the 2-message history before the client came.
    assert_eq!(messages[2]["reason"], "history_exceeded");
    assert_eq!(
        (messages[2]["from"].clone(), messages[2]["to"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(seqs(&messages[3..]), [4, 5]);
}

#[tokio::test]
async fn since_ahead_is_112_and_keeps_an_existing_subscription_intact() {
    let hub = hub_with(|_| {});
    publish_n(&hub, "c", 2).await;
    let client = hub.connect(Transport::Websocket, None);
    send(
        &hub,
        &client,
        json!({"type": "subscribe", "channel": "new", "since": 1}),
    )
    .await;
    assert_eq!(drain(&client)[0]["code"], 112);
    assert!(client.subscriptions().is_empty());

    send(&hub, &client, json!({"type": "subscribe", "channel": "c"})).await;
    send(
        &hub,
        &client,
        json!({"type": "subscribe", "channel": "c", "since": 7, "id": 1}),
    )
    .await;
    let messages = drain(&client);
    assert_eq!(messages[1]["code"], 112);
    assert_eq!(messages[1]["id"], 1);
    // Still subscribed, on both sides: it gets the next message, and leaves cleanly.
    assert_eq!(client.subscriptions(), [ChannelName::new("c").unwrap()]);
    publish_n(&hub, "c", 1).await;
    assert_eq!(seqs(&drain(&client)), [3]);
    hub.disconnect(&client).await;
    let observer = hub.connect(Transport::Websocket, None);
    send(&hub, &observer, json!({"type": "presence", "channel": "c"})).await;
    assert_eq!(
        drain(&observer)[0]["members"],
        json!([]),
        "no ghost subscriber"
    );
}

#[tokio::test]
async fn the_channel_limit_is_111() {
    let hub = hub_with(|c| c.max_channels = 2);
    let client = hub.connect(Transport::Websocket, None);
    send(
        &hub,
        &client,
        json!({"type": "publish", "channel": "a", "data": 1}),
    )
    .await;
    send(&hub, &client, json!({"type": "subscribe", "channel": "b"})).await;
    send(
        &hub,
        &client,
        json!({"type": "subscribe", "channel": "c", "id": "x"}),
    )
    .await;
    send(
        &hub,
        &client,
        json!({"type": "publish", "channel": "d", "data": 1}),
    )
    .await;
    let messages = drain(&client);
    assert_eq!(messages[0]["type"], "subscribed");
    assert_eq!(
        (messages[1]["code"].clone(), messages[1]["id"].clone()),
        (json!(111), json!("x"))
    );
    assert_eq!(messages[2]["code"], 111);
    assert_eq!(hub.stats().channels.len(), 2);
    assert_eq!(client.subscriptions(), [ChannelName::new("b").unwrap()]);
}

#[tokio::test]
async fn the_subscription_limit_is_110_and_resubscribing_does_not_count() {
    let hub = hub_with(|c| c.max_subscriptions = 2);
    let client = hub.connect(Transport::Websocket, None);
    for channel in ["a", "b", "a", "c"] {
        send(
            &hub,
            &client,
            json!({"type": "subscribe", "channel": channel}),
        )
        .await;
    }
    let kinds: Vec<Value> = drain(&client).iter().map(|m| m["type"].clone()).collect();
    assert_eq!(kinds, ["subscribed", "subscribed", "subscribed", "error"]);
    assert_eq!(client.subscriptions().len(), 2);
}

#[tokio::test]
async fn presence_events_go_only_to_subscribers_that_asked() {
    let hub = hub_with(|_| {});
    let watcher = hub.connect(Transport::Websocket, None);
    let quiet = hub.connect(Transport::Websocket, None);
    send(
        &hub,
        &watcher,
        json!({"type": "subscribe", "channel": "room", "presence": true}),
    )
    .await;
    send(
        &hub,
        &quiet,
        json!({"type": "subscribe", "channel": "room"}),
    )
    .await;
    let newcomer = hub.connect(Transport::Tcp, None);
    send(
        &hub,
        &newcomer,
        json!({"type": "subscribe", "channel": "room"}),
    )
    .await;
    hub.disconnect(&newcomer).await;
    let events = drain(&watcher);
    let kinds: Vec<&Value> = events.iter().map(|m| &m["type"]).collect();
    assert_eq!(kinds, ["subscribed", "join", "join", "leave"]);
    assert_eq!(
        events[3]["member"],
        json!({"connection_id": newcomer.id().as_str(), "transport": "tcp"})
    );
    assert_eq!(drain(&quiet).len(), 1, "only its own `subscribed`");
}
