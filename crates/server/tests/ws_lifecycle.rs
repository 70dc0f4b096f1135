//! Connection lifecycle over WebSocket: heartbeats and the idle timeout, the
//! slow-consumer policy, graceful shutdown, plus `/ws/echo`, `/healthz` and `/api/stats`.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::SeqCst},
    },
    time::Duration,
};

use common::{
    PATIENCE, WsClient, eventually, http_get,
    raw::{OP_CLOSE, OP_PING, RawWs},
    start, start_default,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_protocol::ChannelName;
use switchboard_server::ServerConfig;
use tokio_tungstenite::tungstenite::Message;

fn quick_heartbeat() -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.ws.heartbeat = Duration::from_millis(100);
    config.ws.idle_timeout = Duration::from_millis(400);
    config
}

#[tokio::test]
async fn a_client_that_never_answers_pings_is_culled_with_4000() {
    let server = start(quick_heartbeat()).await;
    let mut raw = RawWs::connect(server.http_addr(), "/ws").await;
    let started = tokio::time::Instant::now();
    let mut pings = 0;
    let close = loop {
        let frame = raw.read_frame().await.expect("frames until the close");
        match frame.opcode {
            OP_PING => pings += 1,
            OP_CLOSE => break frame,
            _ => {}
        }
    };
    assert_eq!(close.close_code(), Some(4000));
    assert_eq!(&close.payload[2..], b"idle timeout");
    assert!(pings >= 2, "heartbeats were sent first ({pings})");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    eventually("the culled connection to be forgotten", || {
        server.hub().connection_count() == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_answers_pings_outlives_the_idle_timeout() {
    let server = start(quick_heartbeat()).await;
    let mut client = WsClient::connect_ready(&server, "", 2).await;
    // tungstenite answers each ping while we read; read for three idle timeouts.
    let until = tokio::time::Instant::now() + Duration::from_millis(1200);
    let mut pings = 0;
    while let Ok(frame) = tokio::time::timeout_at(until, client.socket.next()).await {
        match frame.expect("open").expect("valid") {
            Message::Ping(_) => pings += 1,
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
    assert!(pings >= 5, "{pings}");
    client.send(json!({"type": "ping", "id": 1})).await;
    assert_eq!(client.recv_type("pong").await["id"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_consumer_is_closed_with_4001_while_a_fast_one_gets_everything() {
    let mut config = ServerConfig::ephemeral();
    config.hub.queue_messages = 64;
    config.hub.queue_bytes = 256 * 1024;
    config.ws.idle_timeout = Duration::from_secs(8);
    config.ws.heartbeat = Duration::from_secs(7); // under the idle timeout, as validate() requires
    let server = start(config).await;
    let addr = server.http_addr();

    // The slow reader: a small receive buffer, and it stops reading after the handshake.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let (mut slow, _) =
        tokio_tungstenite::client_async(format!("ws://{addr}/ws?channels=flood"), stream)
            .await
            .unwrap();

    let mut fast = WsClient::connect_ready(&server, "?channels=flood", 2).await;
    let fast_seen = Arc::new(AtomicU64::new(0));
    let reader = {
        let fast_seen = fast_seen.clone();
        tokio::spawn(async move {
            loop {
                let message = fast.recv_type("message").await;
                let seq = message["seq"].as_u64().unwrap();
                assert_eq!(seq, fast_seen.load(SeqCst) + 1, "fast reader in order");
                fast_seen.store(seq, SeqCst);
                if message["data"]["last"] == true {
                    return seq;
                }
            }
        })
    };

    let channel = ChannelName::new("flood").unwrap();
    let filler = "x".repeat(1000);
    let hub = server.hub().clone();
    let mut published = 0;
    // Publish in bursts the fast reader keeps up with, until the slow one overflows.
    while hub.stats().slow_consumer_disconnects == 0 {
        assert!(published < 50_000, "the slow consumer never overflowed");
        for _ in 0..16 {
            let data = serde_json::value::to_raw_value(&json!({"pad": filler})).unwrap();
            published = hub.publish(&channel, &data).await.unwrap().seq;
        }
        let target = published;
        eventually("the fast reader to catch up", || {
            fast_seen.load(SeqCst) >= target
        })
        .await;
    }
    let data = serde_json::value::to_raw_value(&json!({"last": true})).unwrap();
    let last = hub.publish(&channel, &data).await.unwrap().seq;
    assert_eq!(
        tokio::time::timeout(PATIENCE, reader)
            .await
            .unwrap()
            .unwrap(),
        last
    );
    assert_eq!(hub.stats().slow_consumer_disconnects, 1);

    // The slow reader, reading again, finds what was in flight and then the 4001 close.
    let mut received = 0u64;
    let code = loop {
        match tokio::time::timeout(PATIENCE, slow.next()).await.unwrap() {
            Some(Ok(Message::Text(_))) => received += 1,
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(err)) => panic!("no close frame, error {err} after {received}"),
            None => panic!("no close frame after {received} messages"),
        }
    };
    assert_eq!(code, Some(4001));
    assert!(received < last + 3, "the overflowed queue was dropped");
    drop(slow);
    eventually("both connections to be gone", || {
        server.hub().connection_count() == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_flushes_queued_messages_then_closes_with_1001() {
    let server = start_default().await;
    let mut client = WsClient::connect_ready(&server, "?channels=news", 2).await;
    let channel = ChannelName::new("news").unwrap();
    let hub = server.hub().clone();
    for n in 0..200 {
        let data = serde_json::value::to_raw_value(&json!(n)).unwrap();
        hub.publish(&channel, &data).await.unwrap();
    }
    let stopping = tokio::spawn(server.shutdown());
    for n in 0..200 {
        let message = client.recv().await;
        assert_eq!(message["data"], n);
    }
    let close = client.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1001);
    assert_eq!(close.reason.as_str(), "server shutting down");
    let report = tokio::time::timeout(PATIENCE, stopping)
        .await
        .unwrap()
        .unwrap();
    assert!(report.clean);
}

#[tokio::test]
async fn while_shutting_down_healthz_is_503_and_new_sockets_are_turned_away() {
    let server = start_default().await;
    let (status, _, body) = http_get(server.http_addr(), "/healthz").await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["epoch"], server.hub().epoch());

    server.hub().shutdown();
    let (status, _, body) = http_get(server.http_addr(), "/healthz").await;
    assert_eq!(status, 503);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["status"],
        "shutting_down"
    );
    // A socket that still gets through is closed at once with 1001, before any welcome.
    let mut raw = RawWs::connect(server.http_addr(), "/ws").await;
    let frame = raw.read_frame().await.expect("a close frame");
    assert_eq!(frame.close_code(), Some(1001));
    assert!(server.shutdown().await.clean);
}

#[tokio::test]
async fn api_stats_is_json_with_the_server_figures() {
    let server = start_default().await;
    let _client = WsClient::connect_ready(&server, "", 2).await;
    let (status, head, body) = http_get(server.http_addr(), "/api/stats").await;
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("application/json"));
    let stats: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stats["connections"]["websocket"], 1);
    assert_eq!(stats["epoch"], server.hub().epoch());
    assert!(
        stats["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "lobby")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn ws_echo_returns_text_and_binary_unchanged() {
    let server = start_default().await;
    let url = format!("ws://{}/ws/echo", server.http_addr());
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let messages = [
        Message::Text("not even JSON {".into()),
        Message::Binary(vec![0u8, 159, 146, 150, 255].into()),
        Message::Text("x".repeat(10_000).into()),
    ];
    for message in messages {
        socket.send(message.clone()).await.unwrap();
        let echoed = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echoed, message);
    }
    // No hub involved: nothing was counted as a hub connection.
    assert_eq!(server.hub().stats().connections_accepted.websocket, 0);
    // Shutdown closes it with 1001 too.
    let stopping = tokio::spawn(server.shutdown());
    let close = loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.expect("a close code"),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(u16::from(close.code), 1001);
    assert!(stopping.await.unwrap().clean);
}

#[tokio::test]
async fn a_client_close_is_echoed_and_the_connection_forgotten() {
    let server = start_default().await;
    let mut client = WsClient::connect_ready(&server, "?channels=room", 2).await;
    assert_eq!(server.hub().stats().connections.websocket, 1);
    client.socket.close(None).await.unwrap();
    // The server answers the close handshake, then the stream ends.
    let mut echoed = false;
    while let Some(frame) = tokio::time::timeout(PATIENCE, client.socket.next())
        .await
        .unwrap()
    {
        if let Ok(Message::Close(_)) = frame {
            echoed = true;
        }
    }
    assert!(echoed, "the server answered the close frame");
    eventually("the connection to be forgotten", || {
        server.hub().connection_count() == 0
    })
    .await;
    let stats = server.hub().stats();
    assert_eq!(stats.connections.websocket, 0);
    // Its only subscriber gone and nothing in history, the channel itself was freed.
    assert!(stats.channels.iter().all(|c| c.name != "room"), "{stats:?}");
    server.shutdown().await;
}
