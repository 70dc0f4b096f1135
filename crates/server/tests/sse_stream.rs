//! `GET /sse` over a real socket: headers and exact framing, welcome first, heartbeats,
//! cleanup when the client goes away, and a prompt end at shutdown.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use std::time::Duration;

use http::{SseStream, eventually, request};
use switchboard_server::{
    ServerConfig,
    transports::sse::{SSE_STREAM_CHUNKS, SSE_WRITE_BATCH},
};

fn config() -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.sse.retry = Duration::from_millis(1500);
    config
}

#[tokio::test]
async fn headers_retry_hint_and_welcome_first() {
    let server = common::start(config()).await;
    let mut stream = SseStream::open(server.http_addr(), "/sse?channels=lobby", &[]).await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.header("content-type"),
        Some("text/event-stream; charset=utf-8")
    );
    assert_eq!(stream.header("cache-control"), Some("no-cache"));
    assert_eq!(stream.header("x-accel-buffering"), Some("no"));

    assert_eq!(stream.next_block().await.as_deref(), Some("retry: 1500"));
    let welcome = stream.next_block().await.unwrap();
    assert!(
        welcome.starts_with("event: welcome\ndata: {\"type\":\"welcome\""),
        "{welcome}"
    );
    assert_eq!(welcome.lines().count(), 2, "no id on welcome: {welcome}");
    let epoch = server.hub().epoch().to_owned();
    let connection_id = {
        let data = welcome.strip_prefix("event: welcome\ndata: ").unwrap();
        let value: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(value["transport"], "sse");
        value["connection_id"].as_str().unwrap().to_owned()
    };
    assert!(server.hub().connection(&connection_id).is_some());

    // Each subscription moves the resume token, so each `subscribed` carries an id.
    let broadcast = stream.next_event().await.unwrap();
    assert_eq!(broadcast.event, "subscribed");
    assert_eq!(broadcast.id, Some(format!("{epoch};broadcast=0")));
    let lobby = stream.next_event().await.unwrap();
    assert_eq!(lobby.json()["channel"], "lobby");
    assert_eq!(lobby.id, Some(format!("{epoch};broadcast=0;lobby=0")));

    // A channel message: exactly id, event, one data line, blank line.
    let data = serde_json::value::RawValue::from_string(r#"{"n":1}"#.into()).unwrap();
    let lobby_name = switchboard_protocol::ChannelName::new("lobby").unwrap();
    server.hub().publish(&lobby_name, &data).await.unwrap();
    let block = stream.next_block().await.unwrap();
    let lines: Vec<&str> = block.split('\n').collect();
    assert_eq!(lines.len(), 3, "{block}");
    assert_eq!(lines[0], format!("id: {epoch};broadcast=0;lobby=1"));
    assert_eq!(lines[1], "event: message");
    assert!(
        lines[2].starts_with(r#"data: {"type":"message","channel":"lobby","seq":1,"ts":"#)
            && lines[2].ends_with(r#","data":{"n":1}}"#),
        "{block}"
    );
    assert!(!stream.raw.contains(&b'\r') && !stream.raw.contains(&0));
    server.shutdown().await;
}

#[tokio::test]
async fn heartbeat_comments_arrive() {
    let mut config = config();
    config.sse.heartbeat = Duration::from_millis(100);
    let server = common::start(config).await;
    let mut stream = SseStream::open(server.http_addr(), "/sse", &[]).await;
    let started = tokio::time::Instant::now();
    let mut heartbeats = 0;
    while heartbeats < 3 {
        let block = stream.next_block().await.unwrap();
        if block == ": heartbeat" {
            heartbeats += 1;
        }
    }
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(3));
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_goes_away_is_disconnected() {
    let server = common::start(config()).await;
    let mut stream = SseStream::open(server.http_addr(), "/sse", &[]).await;
    stream.next_of("welcome").await;
    assert_eq!(server.hub().stats().connections.sse, 1);
    drop(stream);
    let hub = server.hub().clone();
    eventually(
        || hub.stats().connections.sse == 0,
        "the SSE connection to close",
    )
    .await;
    assert_eq!(server.hub().connection_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_the_stream_with_a_close_comment() {
    let server = common::start(config()).await;
    let mut stream = SseStream::open(server.http_addr(), "/sse", &[]).await;
    stream.next_of("welcome").await;
    let report = tokio::time::timeout(Duration::from_secs(3), server.shutdown())
        .await
        .expect("shutdown does not wait on the stream");
    assert!(report.clean);
    let mut last = String::new();
    while let Some(block) = stream.next_block().await {
        last = block;
    }
    assert_eq!(last, ": close 1001 server shutting down");
}

#[tokio::test]
async fn refusals_never_look_like_a_stream() {
    let mut config = config();
    let server = common::start(config.clone()).await;
    let bad = request(
        server.http_addr(),
        "GET",
        "/sse?channels=no%20spaces",
        &[],
        b"",
    )
    .await;
    bad.assert_error(400, 104);
    assert_eq!(bad.header("content-type"), Some("application/json"));
    server.shutdown().await;

    config.sse.enabled = false;
    let server = common::start(config).await;
    let off = request(server.http_addr(), "GET", "/sse", &[], b"").await;
    off.assert_error(503, 204);
    server.shutdown().await;
}

/// The largest send buffer the kernel lets a socket grow to (`tcp_wmem`'s maximum), or
/// Linux's usual 4 MiB where that cannot be read.
fn max_kernel_send_buffer() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|text| text.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 * 1024 * 1024)
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_with_bounded_memory() {
    let mut config = config();
    config.hub.queue_bytes = 256 * 1024;
    let queue_bytes = config.hub.queue_bytes;
    let server = common::start(config).await;
    // Open the stream (with a small, fixed receive buffer) and then stop reading.
    let receive_buffer: u32 = 64 * 1024;
    let mut stream = SseStream::open_with_receive_buffer(
        server.http_addr(),
        "/sse?channels=firehose",
        receive_buffer,
    )
    .await;
    stream.next_of("welcome").await;
    let channel = switchboard_protocol::ChannelName::new("firehose").unwrap();
    let payload = format!(r#"{{"pad":"{}"}}"#, "x".repeat(8 * 1024));
    let event_bytes = payload.len() + 256; // with its `id:` token and `event:` line
    let data = serde_json::value::RawValue::from_string(payload).unwrap();
    // Everything the server side may hold for a stalled stream: the outbox's byte bound,
    // the encoded chunks between the stream task and hyper (plus the one being
    // encoded and the one hyper is writing), hyper's write buffer, and the kernel
    // buffers on both ends (Linux doubles SO_RCVBUF for bookkeeping).
    let chunk_bytes = SSE_WRITE_BATCH * event_bytes;
    let hyper_write_buffer = 512 * 1024;
    let deliverable = queue_bytes
        + (SSE_STREAM_CHUNKS + 2) * chunk_bytes
        + hyper_write_buffer
        + max_kernel_send_buffer()
        + 2 * receive_buffer as usize;
    // Publish three times that while the client reads nothing.
    let hub = server.hub().clone();
    let published = 3 * deliverable / event_bytes;
    for _ in 0..published {
        hub.publish(&channel, &data).await.unwrap();
        tokio::task::yield_now().await;
    }
    eventually(
        || hub.stats().connections.sse == 0,
        "the stalled stream to be cut off",
    )
    .await;
    assert!(hub.stats().slow_consumer_disconnects >= 1);
    // Now read what was in flight: the stream ends, and it carried no more than the
    // buffers can hold, so the server let go of everything past them.
    while stream.next_block().await.is_some() {}
    assert!(
        stream.raw.len() <= deliverable,
        "{} bytes reached a client that stopped reading, more than the {deliverable} \
         the buffers hold (of {} published)",
        stream.raw.len(),
        published * event_bytes
    );
    eprintln!(
        "stalled SSE stream: {} bytes delivered of {} published, bound {deliverable}",
        stream.raw.len(),
        published * event_bytes
    );
    server.shutdown().await;
}
