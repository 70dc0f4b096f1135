//! Finding 8, the hub's parts: a `since` of `u64::MAX` (it wrapped `since + 1` to a gap
//! from 0) is refused with 112 on every path that takes one; `get_stats` with thousands
//! of channels stays a small reply (it was 5.9 MB with 100,000, closing the asker as a
//! slow consumer); and the periodic work and `stats` cost the same with 20,000 idle
//! channels as with 200 (they used to walk every channel).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_hub::Hub;
use switchboard_protocol::ChannelName;
use switchboard_server::ServerConfig;

use super::support::SERIAL;
use crate::{
    common::{self, WsClient},
    http::post_json,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_since_is_refused_with_112_on_websocket_and_polling() {
    let _serial = SERIAL.lock().await;
    let server = common::start(ServerConfig::ephemeral()).await;
    let mut client = WsClient::connect_ready(&server, "?channels=", 1).await;
    client
        .send(json!({"type": "publish", "channel": "news", "data": 1, "id": 1}))
        .await;
    client.recv_type("ack").await;
    for epoch in [json!("old-epoch"), json!(server.hub().epoch())] {
        client
            .send(json!({"type": "subscribe", "channel": "news", "since": u64::MAX, "epoch": epoch, "id": "s"}))
            .await;
        let reply = client.recv().await;
        assert_eq!(
            (reply["type"].clone(), reply["code"].clone()),
            (json!("error"), json!(112)),
            "{reply}"
        );
    }
    // The connection is fine afterwards.
    client.send(json!({"type": "ping", "id": 2})).await;
    assert_eq!(client.recv_type("pong").await["id"], 2);

    let spec = json!({"channels": [{"channel": "news", "since": u64::MAX, "epoch": "old-epoch"}]});
    let opened = post_json(server.http_addr(), "/short-poll", &spec)
        .await
        .json();
    let messages = opened["messages"].as_array().expect("messages");
    let refused: Vec<&Value> = messages.iter().filter(|m| m["type"] == "error").collect();
    assert_eq!(refused.len(), 1, "{opened}");
    assert_eq!(refused[0]["code"], 112);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_stats_with_thousands_of_channels_is_a_small_reply() {
    const CHANNELS: usize = 3_000;
    let _serial = SERIAL.lock().await;
    let server = common::start(ServerConfig::ephemeral()).await;
    let mut attacker = WsClient::connect_ready(&server, "?channels=", 1).await;
    for n in 0..CHANNELS {
        attacker
            .send(json!({"type": "publish", "channel": format!("c-{n}"), "data": n}))
            .await;
    }
    for round in 0..20 {
        attacker
            .send(json!({"type": "custom", "action": "get_stats", "id": round}))
            .await;
        let reply = attacker.recv_type("stats").await;
        let size = reply.to_string().len();
        assert!(size < 16 * 1024, "a stats reply of {size} bytes");
        assert!(reply["server"]["channel_count"].as_u64().unwrap() as usize >= CHANNELS);
        assert_eq!(reply["server"]["channels"].as_array().unwrap().len(), 100);
    }
}

/// The fastest of `rounds` timings of `work`.
fn fastest(rounds: usize, mut work: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

async fn hub_with_idle_channels(count: usize) -> std::sync::Arc<Hub> {
    let hub = Hub::memory(switchboard_hub::HubConfig::default());
    let data = serde_json::value::RawValue::from_string("1".into()).unwrap();
    for n in 0..count {
        let channel = ChannelName::new(&format!("idle-{n}")).unwrap();
        hub.publish(&channel, &data).await.unwrap();
    }
    hub
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_work_and_stats_do_not_walk_idle_channels() {
    let _serial = SERIAL.lock().await;
    let few = hub_with_idle_channels(200).await;
    let many = hub_with_idle_channels(20_000).await;
    // Interleaved and the fastest kept, so a busy machine slows both sides alike.
    let (mut sweep_few, mut sweep_many) = (Duration::MAX, Duration::MAX);
    let (mut stats_few, mut stats_many) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        sweep_few = sweep_few.min(fastest(3, || (0..200).for_each(|_| few.sweep_history())));
        sweep_many = sweep_many.min(fastest(3, || (0..200).for_each(|_| many.sweep_history())));
        stats_few = stats_few.min(fastest(3, || (0..20).for_each(|_| drop(few.stats()))));
        stats_many = stats_many.min(fastest(3, || (0..20).for_each(|_| drop(many.stats()))));
    }
    eprintln!(
        "200 sweeps: {sweep_few:?} (200 channels) vs {sweep_many:?} (20,000); \
         20 stats: {stats_few:?} vs {stats_many:?}"
    );
    // Walking 100 times the channels would cost about 100 times as much.
    let slack = Duration::from_millis(2);
    assert!(
        sweep_many < sweep_few * 10 + slack,
        "{sweep_few:?} vs {sweep_many:?}"
    );
    assert!(
        stats_many < stats_few * 10 + slack,
        "{stats_few:?} vs {stats_many:?}"
    );
    assert_eq!(many.stats().channel_count, 20_000);
}
