//! Finding 5: channels were never freed (one client filled the 100,000-channel cap in
//! 12 s, after which nobody could create a channel until restart). Now a channel with no
//! subscribers and no history is dropped, so churning through channels leaves nothing
//! behind and a full hub empties as history expires; and one address may only create a
//! share of the channels (error 115), so clients from elsewhere still can.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};
use tokio::net::TcpSocket;

use super::support::{Bystander, MIB, PeakRss, SERIAL, rss_bytes};
use crate::common::{self, PATIENCE, WsClient};

/// Subscribes `client` to `channel` and returns the answer (`subscribed` or `error`).
async fn try_subscribe(client: &mut WsClient, channel: &str) -> Value {
    client
        .send(json!({"type": "subscribe", "channel": channel, "id": channel}))
        .await;
    loop {
        let reply = client.recv().await;
        if reply["id"] == channel {
            return reply;
        }
    }
}

/// A WebSocket client whose socket comes from `source` (another loopback address, so
/// the server sees a different client address).
async fn connect_from(server: &Server, source: &str) -> WsClient {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("address"))
        .expect("bind to another loopback address");
    let stream = socket.connect(server.http_addr()).await.expect("connects");
    let url = format!("ws://{}/ws?channels=", server.http_addr());
    let (socket, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .expect("handshake");
    let mut client = WsClient {
        socket,
        connection_id: String::new(),
        welcome: Value::Null,
    };
    client.recv_type("subscribed").await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churning_through_channels_leaves_nothing_behind_and_a_full_hub_empties() {
    const CHURN: usize = 5_000;
    let _serial = SERIAL.lock().await;
    let mut config = ServerConfig::ephemeral();
    config.hub.max_channels = 500;
    config.hub.max_channels_per_addr = 500;
    config.hub.history_ttl = Duration::from_millis(500);
    config.clock.enabled = false;
    let server = common::start(config).await;
    let bystander = Bystander::start(&server).await;
    let baseline_channels = server.hub().stats().channel_count;
    let before = rss_bytes();
    let peak = PeakRss::start();

    // Ten times the cap, joined and left one after another: each is freed on leaving.
    let mut attacker = WsClient::connect_ready(&server, "?channels=", 1).await;
    for n in 0..CHURN {
        let channel = format!("churn-{n}");
        let reply = try_subscribe(&mut attacker, &channel).await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
        attacker
            .send(json!({"type": "unsubscribe", "channel": channel}))
            .await;
    }
    attacker.send(json!({"type": "ping", "id": "done"})).await;
    attacker.recv_type("pong").await;
    assert_eq!(server.hub().stats().channel_count, baseline_channels);

    // Filling the hub with channels that hold history: the cap answers 111...
    let mut refused = 0;
    for n in 0..600 {
        attacker
            .send(json!({"type": "publish", "channel": format!("fill-{n}"), "data": n, "id": n}))
            .await;
        let reply = attacker.recv().await;
        if reply["type"] == "error" {
            assert_eq!(reply["code"], 111, "{reply}");
            refused += 1;
        }
    }
    assert!(refused >= 100, "the cap held: {refused} refused");
    let peak = peak.stop().await;
    // ...until the history expires and the sweep frees the channels.
    let mut newcomer = WsClient::connect_ready(&server, "?channels=", 1).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let reply = try_subscribe(&mut newcomer, "after-the-attack").await;
        if reply["type"] == "subscribed" {
            break;
        }
        assert_eq!(reply["code"], 111, "{reply}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub stayed full"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = bystander.finish().await;
    eprintln!(
        "RSS before {} MiB, peak +{} MiB; bystander {report:?}",
        before / MIB,
        peak.saturating_sub(before) / MIB
    );
    assert!(report.slowest.as_secs_f64() < 2.0, "{report:?}");
    assert!(
        peak.saturating_sub(before) < 16 * MIB,
        "RSS grew by {} MiB",
        peak.saturating_sub(before) / MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_a_share_of_the_channels_and_others_still_create() {
    let _serial = SERIAL.lock().await;
    let mut config = ServerConfig::ephemeral();
    config.hub.max_channels = 1_000;
    config.hub.max_channels_per_addr = 100;
    config.clock.enabled = false;
    let server = common::start(config).await;

    let mut attacker = WsClient::connect_ready(&server, "?channels=", 1).await;
    let mut refused = 0;
    for n in 0..300 {
        attacker
            .send(json!({"type": "publish", "channel": format!("mine-{n}"), "data": n, "id": n}))
            .await;
        let reply = attacker.recv().await;
        if reply["type"] == "error" {
            assert_eq!(
                (reply["code"].clone(), reply["error"].clone()),
                (json!(115), json!("channel_quota_exceeded"))
            );
            refused += 1;
        }
    }
    // The channels the server joins every connection to (`broadcast`) do not count.
    assert_eq!(refused, 200);

    // A client from another address creates channels as usual...
    let mut other = connect_from(&server, "127.0.0.2").await;
    let reply = try_subscribe(&mut other, "elsewhere").await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    // ...and the attacker's own address can still join channels that exist.
    let reply = try_subscribe(&mut attacker, "elsewhere").await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
}
