//! The history budget: exact byte accounting, the hub-wide bound (oldest first, across
//! channels), the per-channel byte bound, and entries already dropped by their channel
//! staying within the budget.

use serde_json::json;
use switchboard_protocol::{ChannelName, server::Transport};

use super::{drain, hub_with, publish_n, send};
use crate::{
    Connection, Hub,
    broker::memory::{ledger::LEDGER_SLOT_BYTES, usage::HISTORY_ENTRY_OVERHEAD_BYTES},
};

/// Publishes `count` messages with `size` bytes of padding each to `channel`.
async fn publish_padded(hub: &Hub, channel: &str, count: usize, size: usize) {
    let channel = ChannelName::new(channel).unwrap();
    for n in 0..count {
        let data = json!({"n": n, "pad": "x".repeat(size)});
        let data = serde_json::value::to_raw_value(&data).unwrap();
        hub.publish(&channel, &data).await.unwrap();
    }
}

/// The JSON lengths of the channel messages queued to `connection`.
fn json_lengths(connection: &Connection) -> Vec<usize> {
    let mut batch = Vec::new();
    connection.outbox().drain_into(&mut batch, usize::MAX);
    batch
        .iter()
        .filter(|d| d.position.is_some())
        .map(|d| d.json.len())
        .collect()
}

#[tokio::test]
async fn every_retained_byte_is_counted_and_given_back() {
    let hub = hub_with(|c| c.history_size = 3);
    let reader = hub.connect(Transport::Websocket, None);
    send(&hub, &reader, json!({"type": "subscribe", "channel": "c"})).await;
    publish_padded(&hub, "c", 5, 100).await;
    let lengths = json_lengths(&reader);
    assert_eq!(lengths.len(), 5);
    let kept: usize = lengths[2..]
        .iter()
        .map(|len| len + HISTORY_ENTRY_OVERHEAD_BYTES)
        .sum();
    let stats = hub.stats();
    assert_eq!(stats.history_messages, 3);
    // Five ledger entries (two of them for messages the channel's count bound dropped).
    assert_eq!(stats.history_bytes as usize, kept + 5 * LEDGER_SLOT_BYTES);
}

#[tokio::test]
async fn over_the_global_budget_the_oldest_messages_hub_wide_go_first() {
    const PAD: usize = 1_000;
    // Room for about ten padded messages, whatever channel they are on.
    let budget = 10 * (PAD + 100 + HISTORY_ENTRY_OVERHEAD_BYTES + LEDGER_SLOT_BYTES);
    let hub = hub_with(|c| {
        c.history_max_bytes = budget;
        c.history_channel_max_bytes = budget;
        c.max_message_bytes = PAD + 100;
    });
    publish_padded(&hub, "old", 5, PAD).await;
    publish_padded(&hub, "new", 20, PAD).await;
    let stats = hub.stats();
    assert!(stats.history_bytes as usize <= budget, "{stats:?}");
    assert!(stats.history_messages >= 8, "the budget is used: {stats:?}");
    // `old` lost everything (and, unused, was dropped); `new` kept its newest.
    assert!(stats.channels.iter().all(|c| c.name != "old"));
    let client = hub.connect(Transport::Websocket, None);
    send(
        &hub,
        &client,
        json!({"type": "subscribe", "channel": "old", "since": 0}),
    )
    .await;
    send(
        &hub,
        &client,
        json!({"type": "subscribe", "channel": "new", "since": 0}),
    )
    .await;
    let messages = drain(&client);
    assert_eq!(messages[0]["recovered"], 0);
    assert_eq!(
        messages[1],
        json!({"type": "gap", "channel": "old", "epoch": hub.epoch(), "from": 1, "to": 5, "reason": "history_exceeded"})
    );
    let recovered = messages[2]["recovered"].as_u64().unwrap();
    assert_eq!(
        messages[3]["to"].as_u64(),
        Some(20 - recovered),
        "the gap ends where what is kept begins"
    );
    let seqs = super::seqs(&messages[4..]);
    let newest: Vec<u64> = (21 - recovered..=20).collect();
    assert_eq!(seqs, newest);
}

#[tokio::test]
async fn the_channel_byte_bound_trims_only_that_channel() {
    let hub = hub_with(|c| {
        c.history_channel_max_bytes = 4 * 1024;
        c.max_message_bytes = 2 * 1024;
    });
    publish_padded(&hub, "quiet", 3, 10).await;
    publish_padded(&hub, "loud", 20, 1_000).await;
    let stats = hub.stats();
    let history = |name: &str| {
        stats
            .channels
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.history)
    };
    assert_eq!(history("quiet"), Some(3));
    let loud = history("loud").unwrap();
    assert!(
        (1..=3).contains(&loud),
        "4 KiB hold 3 messages of 1.3 KiB: {loud}"
    );
}

#[tokio::test]
async fn entries_dropped_by_their_channel_stay_within_the_budget() {
    let budget = 64 * 1024;
    let hub = hub_with(|c| {
        c.history_size = 1;
        c.history_max_bytes = budget;
        c.history_channel_max_bytes = budget;
        c.max_message_bytes = 1024;
    });
    publish_n(&hub, "c", 20_000).await;
    let stats = hub.stats();
    assert!(stats.history_bytes as usize <= budget, "{stats:?}");
    assert_eq!(stats.history_messages, 1);
}
