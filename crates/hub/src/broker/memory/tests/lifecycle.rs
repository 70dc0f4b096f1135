//! Channels come and go: an unused channel is dropped, the channel cap then frees up, a
//! recreated channel keeps old cursors honest (a `gap`, never a silent hole), one address
//! has a share of creation (115), `since` cannot overflow, and `stats` stays bounded.

use std::{net::SocketAddr, time::Duration};

use serde_json::{Value, json};
use switchboard_protocol::server::Transport;

use super::{drain, hub_with, publish_n, send, seqs};
use crate::config::STATS_TOP_CHANNELS;

fn from(address: &str) -> Option<SocketAddr> {
    Some(address.parse().unwrap())
}

#[tokio::test]
async fn a_channel_with_no_subscriber_and_no_history_is_dropped() {
    let hub = hub_with(|c| c.history_size = 0);
    let client = hub.connect(Transport::Websocket, None);
    send(&hub, &client, json!({"type": "subscribe", "channel": "a"})).await;
    assert_eq!(hub.stats().channel_count, 1);
    send(
        &hub,
        &client,
        json!({"type": "unsubscribe", "channel": "a"}),
    )
    .await;
    assert_eq!(hub.stats().channel_count, 0);
    // Publishing to nobody, with no history to keep, leaves nothing behind either.
    publish_n(&hub, "b", 3).await;
    assert_eq!(hub.stats().channel_count, 0);
}

#[tokio::test]
async fn the_channel_cap_frees_up_when_channels_are_dropped() {
    let hub = hub_with(|c| c.max_channels = 2);
    let client = hub.connect(Transport::Websocket, None);
    for channel in ["a", "b", "c"] {
        send(
            &hub,
            &client,
            json!({"type": "subscribe", "channel": channel}),
        )
        .await;
    }
    assert_eq!(drain(&client)[2]["code"], 111);
    send(
        &hub,
        &client,
        json!({"type": "unsubscribe", "channel": "a"}),
    )
    .await;
    send(&hub, &client, json!({"type": "subscribe", "channel": "c"})).await;
    let messages = drain(&client);
    assert_eq!(messages[1]["type"], "subscribed", "{messages:?}");
}

#[tokio::test]
async fn a_recreated_channel_continues_its_seq_so_old_cursors_see_a_gap() {
    let hub = hub_with(|c| c.history_ttl = Duration::from_millis(20));
    let reader = hub.connect(Transport::Websocket, None);
    send(&hub, &reader, json!({"type": "subscribe", "channel": "c"})).await;
    publish_n(&hub, "c", 5).await;
    assert_eq!(seqs(&drain(&reader)[1..]), [1, 2, 3, 4, 5]);
    hub.disconnect(&reader).await;
    // The history expires; with no subscriber left the channel is dropped.
    std::thread::sleep(Duration::from_millis(40));
    hub.sweep_history();
    assert_eq!(hub.stats().channel_count, 0);
    // Recreated by a publish: it continues after 5 rather than starting at 1 again.
    publish_n(&hub, "c", 2).await;
    let resume = |since: u64| {
        let hub = hub.clone();
        async move {
            let client = hub.connect(Transport::Sse, None);
            send(
                &hub,
                &client,
                json!({"type": "subscribe", "channel": "c", "since": since, "epoch": hub.epoch()}),
            )
            .await;
            drain(&client)
        }
    };
    // A cursor from before the drop that had missed 4 and 5: told so, then 6 and 7.
    let messages = resume(3).await;
    assert_eq!(messages[0]["resumed"], false);
    assert_eq!(
        (
            messages[1]["reason"].clone(),
            messages[1]["from"].clone(),
            messages[1]["to"].clone()
        ),
        (json!("history_exceeded"), json!(4), json!(5))
    );
    assert_eq!(seqs(&messages[2..]), [6, 7]);
    // A cursor that had seen everything before the drop misses nothing.
    let messages = resume(5).await;
    assert_eq!(messages[0]["resumed"], true);
    assert_eq!(seqs(&messages[1..]), [6, 7]);
}

#[tokio::test]
async fn one_address_gets_a_share_of_channel_creation_and_it_comes_back() {
    let hub = hub_with(|c| c.max_channels_per_addr = 2);
    let greedy = hub.connect(Transport::Tcp, from("10.0.0.1:5000"));
    let same_host = hub.connect(Transport::Websocket, from("10.0.0.1:5001"));
    let other = hub.connect(Transport::Websocket, from("10.0.0.2:5000"));
    for channel in ["a", "b"] {
        send(
            &hub,
            &greedy,
            json!({"type": "subscribe", "channel": channel}),
        )
        .await;
    }
    send(
        &hub,
        &same_host,
        json!({"type": "publish", "channel": "c", "data": 1, "id": 7}),
    )
    .await;
    let refused = &drain(&same_host)[0];
    assert_eq!(
        (
            refused["code"].clone(),
            refused["error"].clone(),
            refused["id"].clone()
        ),
        (json!(115), json!("channel_quota_exceeded"), json!(7))
    );
    // Joining an existing channel is not creating one; another address has its own share.
    send(
        &hub,
        &same_host,
        json!({"type": "subscribe", "channel": "a"}),
    )
    .await;
    send(&hub, &other, json!({"type": "subscribe", "channel": "c"})).await;
    assert_eq!(drain(&same_host)[0]["type"], "subscribed");
    assert_eq!(drain(&other)[0]["type"], "subscribed");
    // Once a channel it created is gone, the address may create another.
    send(
        &hub,
        &greedy,
        json!({"type": "unsubscribe", "channel": "b"}),
    )
    .await;
    send(&hub, &greedy, json!({"type": "subscribe", "channel": "d"})).await;
    let messages = drain(&greedy);
    assert_eq!(
        messages.last().unwrap()["type"],
        "subscribed",
        "{messages:?}"
    );
}

#[tokio::test]
async fn the_largest_since_is_refused_with_112_not_wrapped() {
    // Tests run with overflow checks on: a `since + 1` anywhere would panic here.
    let hub = hub_with(|_| {});
    publish_n(&hub, "c", 2).await;
    let client = hub.connect(Transport::LongPoll, None);
    for epoch in [Value::Null, json!(hub.epoch()), json!("old-epoch")] {
        send(
            &hub,
            &client,
            json!({"type": "subscribe", "channel": "c", "since": u64::MAX, "epoch": epoch}),
        )
        .await;
        let messages = drain(&client);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages[0]["code"], 112, "{messages:?}");
    }
    assert!(client.subscriptions().is_empty());
    // One below is a valid old-epoch cursor: a gap from u64::MAX, then this epoch.
    send(
        &hub,
        &client,
        json!({"type": "subscribe", "channel": "c", "since": u64::MAX - 1, "epoch": "old-epoch"}),
    )
    .await;
    let messages = drain(&client);
    assert_eq!(messages[1]["from"], u64::MAX);
    assert_eq!(seqs(&messages[2..]), [1, 2]);
}

#[tokio::test]
async fn stats_list_a_bounded_number_of_channels_busiest_first() {
    let hub = hub_with(|_| {});
    let extra = 30;
    let mut clients = Vec::new();
    for n in 0..STATS_TOP_CHANNELS + extra {
        let client = hub.connect(Transport::Websocket, None);
        send(
            &hub,
            &client,
            json!({"type": "subscribe", "channel": format!("ch-{n}")}),
        )
        .await;
        clients.push(client);
    }
    // One channel with three subscribers, and channels with none (history only).
    for client in &clients[..3] {
        send(
            &hub,
            client,
            json!({"type": "subscribe", "channel": "busy"}),
        )
        .await;
    }
    publish_n(&hub, "quiet", 1).await;
    let stats = hub.stats();
    assert_eq!(stats.channel_count as usize, STATS_TOP_CHANNELS + extra + 2);
    assert_eq!(stats.channels.len(), STATS_TOP_CHANNELS);
    assert_eq!(
        (
            stats.channels[0].name.as_str(),
            stats.channels[0].subscribers
        ),
        ("busy", 3)
    );
    assert!(stats.channels.iter().all(|c| c.subscribers >= 1));
    let reply = serde_json::to_string(&stats).unwrap();
    assert!(reply.len() < 16 * 1024, "stats are {} bytes", reply.len());
}
