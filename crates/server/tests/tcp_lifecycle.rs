//! Raw TCP connection lifecycle: heartbeats, idle culling, shutdown notices, the
//! connection limit, the client's own end of stream, and turning TCP off.

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
    let mut client = TcpClient::connect_ready(&server, 3).await;
    let close = client.recv_close().await;
    assert_eq!(close["code"], 4000);
    // The hub forgot the connection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.hub().stats().connections.tcp, 0);
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
    let mut config = quiet_config();
    config.tcp.enabled = false;
    let server = start(config).await;
    assert_eq!(server.tcp_addr(), None);
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_as_a_slow_consumer() {
    let mut config = quiet_config();
    config.tcp.write_timeout = Duration::from_millis(300);
    let server = start(config).await;
    let mut client = TcpClient::connect_ready(&server, 3).await;
    let lobby = switchboard_protocol::ChannelName::new("lobby").unwrap();
    let data = serde_json::value::to_raw_value(&"x".repeat(32 * 1024)).unwrap();
    // ~20 MB while the client reads nothing: more than the socket buffers and the
    // outbox (1 MiB) together can hold.
    for _ in 0..640 {
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
    assert!(rest.len() < 20 * 1024 * 1024, "the server stopped writing");
    server.shutdown().await;
}
