//! Finding 1: history had no global memory bound (two clients publishing 64 KiB
//! messages to 25 channels took the server to 1.67 GiB in 3 s). With
//! `history_max_bytes` at 8 MiB the same attack must leave the server's memory within
//! that budget plus a fixed allowance, every channel still usable, and a resume from the
//! start told exactly what was dropped.

use serde_json::json;
use switchboard_server::ServerConfig;
use tokio_tungstenite::tungstenite::Message;

use super::support::{Bystander, MIB, PeakRss, SERIAL, rss_bytes};
use crate::common::{self, WsClient};

const HISTORY_MAX_BYTES: u64 = 8 * MIB;
const CHANNELS: usize = 25;
/// Rounds over every channel per attacker: 2 × 25 × 48 messages of 60 KB is 144 MB
/// published, eighteen times the history budget.
const ROUNDS: usize = 48;
const PAD: usize = 60_000;
/// What the server may use beyond the history budget while it is attacked: the
/// connections' queues (1 MiB each by default), their read buffers for 64 KiB messages,
/// and what the allocator keeps of messages in flight. Without the budget the same
/// attack adds more than 100 MiB.
const ALLOWANCE: u64 = 40 * MIB;

async fn attack(addr: std::net::SocketAddr) {
    let mut attacker = WsClient::connect_ready_at(addr, "?channels=", 1).await;
    let pad = "x".repeat(PAD);
    let frames: Vec<Message> = (0..CHANNELS)
        .map(|channel| {
            let text = json!({"type": "publish", "channel": format!("big-{channel}"), "data": pad});
            Message::Text(text.to_string().into())
        })
        .collect();
    for _ in 0..ROUNDS {
        for frame in &frames {
            attacker.send_raw(frame.clone()).await;
        }
    }
    // Replies come in order: the pong means every publish before it was handled.
    attacker.send(json!({"type": "ping", "id": "done"})).await;
    let pong = attacker.recv_type("pong").await;
    assert_eq!(pong["id"], "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_messages_to_many_channels_stay_within_the_history_budget() {
    let _serial = SERIAL.lock().await;
    let mut config = ServerConfig::ephemeral();
    config.hub.history_max_bytes = HISTORY_MAX_BYTES as usize;
    config.hub.history_channel_max_bytes = 2 * MIB as usize;
    let server = common::start(config).await;
    let bystander = Bystander::start(&server).await;
    let before = rss_bytes();
    let peak = PeakRss::start();

    let attackers: Vec<_> = (0..2)
        .map(|_| tokio::spawn(attack(server.http_addr())))
        .collect();
    for attacker in attackers {
        attacker.await.expect("the attacker ran");
    }

    let peak = peak.stop().await;
    let report = bystander.finish().await;
    let stats = server.hub().stats();
    eprintln!(
        "RSS before {} MiB, peak {} MiB (+{} MiB); history {} bytes in {} messages; bystander {report:?}",
        before / MIB,
        peak / MIB,
        peak.saturating_sub(before) / MIB,
        stats.history_bytes,
        stats.history_messages
    );
    assert!(stats.history_bytes <= HISTORY_MAX_BYTES, "{stats:?}");
    assert!(
        peak.saturating_sub(before) <= HISTORY_MAX_BYTES + ALLOWANCE,
        "RSS grew by {} MiB, over the {} MiB history budget plus {} MiB",
        peak.saturating_sub(before) / MIB,
        HISTORY_MAX_BYTES / MIB,
        ALLOWANCE / MIB
    );
    assert!(report.pings > 0, "{report:?}");
    assert!(report.slowest.as_secs_f64() < 2.0, "{report:?}");

    // Afterwards: a reader resuming a channel from the start is told what was dropped,
    // then gets what is kept, newest last; and a new channel is creatable.
    let mut reader = WsClient::connect_ready(&server, "?channels=", 1).await;
    let subscribed = reader.subscribe("big-0", Some(0)).await;
    assert_eq!(subscribed["resumed"], false);
    let last = subscribed["seq"].as_u64().unwrap();
    assert_eq!(last, 2 * ROUNDS as u64);
    let recovered = subscribed["recovered"].as_u64().unwrap();
    let gap = reader.recv_type("gap").await;
    assert_eq!(
        (
            gap["from"].clone(),
            gap["to"].clone(),
            gap["reason"].clone()
        ),
        (json!(1), json!(last - recovered), json!("history_exceeded"))
    );
    let fresh = reader.subscribe("after-the-attack", None).await;
    assert_eq!(fresh["type"], "subscribed");
    assert!(rss_bytes().saturating_sub(before) <= HISTORY_MAX_BYTES + ALLOWANCE);
}
