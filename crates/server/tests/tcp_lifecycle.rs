//! Raw TCP connection lifecycle: heartbeats, idle culling, shutdown notices, the
//! connection limit, the client's own end of stream, and turning TCP off.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{start, tcp::TcpClient};
use serde_json::json;
use switchboard_server::ServerConfig;
use tokio::io::AsyncWriteExt;

fn quiet_config() -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.clock.enabled = false;
    config
}

#[tokio::test]
async fn heartbeats_keep_coming_while_the_client_pings() {
    let mut config = quiet_config();
    config.tcp.heartbeat = Duration::from_millis(100);
    config.tcp.idle_timeout = Duration::from_millis(400);
    let server = start(config).await;
    let mut client = TcpClient::connect_ready(&server, 3).await;
    assert_eq!(client.welcome["heartbeat_interval_ms"], 100);
    // Well past the idle timeout, kept alive by pings.
    let mut heartbeats = 0;
    for round in 0..8 {
        client.send(json!({"type": "ping", "id": round})).await;
        loop {
            let message = client.recv_any().await;
            match message["type"].as_str() {
                Some("heartbeat") => {
                    assert!(message["ts"].as_u64().unwrap() > 0);
                    heartbeats += 1;
                }
                Some("pong") => break,
                other => panic!("unexpected {other:?}: {message}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(heartbeats >= 5, "only {heartbeats} heartbeats in ~1.2 s");
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_client_is_closed_with_4000() {
    let mut config = quiet_config();
    config.tcp.heartbeat = Duration::from_millis(100);
    config.tcp.idle_timeout = Duration::from_millis(300);
    let server = start(config).await;
    // The server cannot start the idle clock before the client connects, so the close
    // can come no sooner than the idle timeout after this instant.
    let connecting = tokio::time::Instant::now();
    let mut client = TcpClient::connect_ready(&server, 3).await;
    assert_eq!(server.hub().stats().connections.tcp, 1);
    let close = client.recv_close().await;
    let silent_for = connecting.elapsed();
    assert_eq!(close["code"], 4000);
    assert!(
        silent_for >= Duration::from_millis(300),
        "closed after {silent_for:?}, before the 300 ms idle timeout"
    );
    // The hub forgets the connection.
    common::eventually("the hub to forget the culled connection", || {
        server.hub().stats().connections.tcp == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_sends_every_tcp_client_the_close_notice() {
    let server = start(quiet_config()).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(TcpClient::connect_ready(&server, 3).await);
    }
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut client| tokio::spawn(async move { client.recv_close().await }))
        .collect();
    let report = server.shutdown().await;
    for reader in readers {
        let close = reader.await.unwrap();
        assert_eq!(close["code"], 1001);
        assert_eq!(close["reason"], "server shutting down");
    }
    assert!(report.clean, "every TCP task ended within the grace period");
}

#[tokio::test]
async fn the_client_ending_its_side_still_gets_its_answers() {
    let server = start(quiet_config()).await;
    let mut client = TcpClient::connect_ready(&server, 3).await;
    client.send(json!({"type": "ping", "id": "last"})).await;
    client.stream.shutdown().await.unwrap();
    assert_eq!(client.recv_type("pong").await["id"], "last");
    assert_eq!(client.recv_close().await["code"], 1000);
    server.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_refused_with_error_203() {
    let mut config = quiet_config();
    config.tcp.max_connections = 2;
    let server = start(config).await;
    let _one = TcpClient::connect_ready(&server, 3).await;
    let _two = TcpClient::connect_ready(&server, 3).await;
    let mut refused = TcpClient {
        stream: tokio::net::TcpStream::connect(server.tcp_addr().unwrap())
            .await
            .unwrap(),
        header: common::tcp::Header::U32,
        connection_id: String::new(),
        welcome: serde_json::Value::Null,
    };
    let error = refused.recv().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], 203);
    assert!(
        refused.recv_frame().await.is_none(),
        "closed after the error"
    );
    assert_eq!(server.hub().stats().connections.tcp, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn tcp_can_be_turned_off() {
    // A port that was free a moment ago: with TCP on, the server would listen there.
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|probe| probe.local_addr())
        .expect("a free port")
        .port();
    let mut config = quiet_config();
    config.tcp.enabled = false;
    config.tcp.port = free_port;
    let server = start(config).await;
    assert_eq!(server.tcp_addr(), None);
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", free_port)).await;
    assert_eq!(
        refused.map(|_| ()).map_err(|err| err.kind()),
        Err(std::io::ErrorKind::ConnectionRefused),
        "nothing listens on the TCP port"
    );
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
async fn a_client_that_stops_reading_is_closed_as_a_slow_consumer() {
    let mut config = quiet_config();
    config.tcp.write_timeout = Duration::from_millis(300);
    let queue_bytes = config.hub.queue_bytes;
    let server = start(config).await;
    // A small, fixed receive buffer, so the kernel holds little on the client's side.
    let receive_buffer: u32 = 64 * 1024;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .set_recv_buffer_size(receive_buffer)
        .expect("SO_RCVBUF");
    let stream = socket
        .connect(server.tcp_addr().expect("TCP enabled"))
        .await
        .expect("TCP connects");
    let mut client = TcpClient::from_stream(stream, common::tcp::Header::U32).await;
    for _ in 0..3 {
        client.recv_type("subscribed").await;
    }
    // All a stopped reader can ever be given: the outbox's byte bound, the server's
    // kernel send buffer at its largest, and the client's receive buffer (which Linux
    // doubles for bookkeeping), plus one message being written.
    let message_bytes = 32 * 1024;
    let deliverable =
        queue_bytes + max_kernel_send_buffer() + 2 * receive_buffer as usize + 2 * message_bytes;
    // Publish three times that while the client reads nothing.
    let lobby = switchboard_protocol::ChannelName::new("lobby").unwrap();
    let data = serde_json::value::to_raw_value(&"x".repeat(message_bytes)).unwrap();
    let published = 3 * deliverable / message_bytes;
    for _ in 0..published {
        server.hub().publish(&lobby, &data).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.hub().stats().connections.tcp > 0 {
        assert!(tokio::time::Instant::now() < deadline, "still connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.hub().stats().slow_consumer_disconnects >= 1);
    // What was already in flight arrives, then the stream ends.
    let mut rest = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut client.stream, &mut rest),
    )
    .await
    .expect("the server closed the stream")
    .expect("read");
    assert!(
        rest.len() <= deliverable,
        "{} bytes arrived after the client stopped reading, more than the {deliverable} \
         the queues can hold (of {} published): the server kept writing",
        rest.len(),
        published * message_bytes
    );
    eprintln!(
        "slow consumer: {} bytes delivered of {} published, bound {deliverable}",
        rest.len(),
        published * message_bytes
    );
    server.shutdown().await;
}
