//! Raw TCP framing over real sockets: the decimal10 compatibility mode byte for byte,
//! and every kind of bad input (oversized, lying, malformed, empty, not a number).

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{
    start,
    tcp::{Header, TcpClient},
};
use serde_json::json;
use switchboard_protocol::frame::Framing;
use switchboard_server::ServerConfig;

fn config(framing: Framing) -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.clock.enabled = false;
    config.tcp.framing = framing;
    config
}

#[tokio::test]
async fn decimal10_mode_round_trips_like_the_python_demo() {
    let server = start(config(Framing::Decimal10)).await;
    let addr = server.tcp_addr().unwrap();
    // The demo client: header = f"{len(msg):<10}", then the bytes.
    let mut client = TcpClient::connect_to(addr, Header::Decimal10).await;
    assert_eq!(client.welcome["transport"], "tcp");
    for _ in 0..3 {
        client.recv_type("subscribed").await;
    }
    let message = r#"{"type":"chat","user":"py","text":"héllo"}"#;
    let mut wire = format!("{:<10}", message.len()).into_bytes();
    wire.extend_from_slice(message.as_bytes());
    // The length counts bytes (é is two), as the header must.
    assert_eq!(&wire[..10], b"43        ");
    client.send_raw(&wire).await;
    let chat = client.recv_type("chat").await;
    assert_eq!(chat["text"], "héllo");

    // Byte for byte: the reply's header is the decimal length, left-justified.
    client.send(json!({"type": "ping", "id": 1})).await;
    let mut header = [0u8; 10];
    tokio::io::AsyncReadExt::read_exact(&mut client.stream, &mut header)
        .await
        .unwrap();
    let text = std::str::from_utf8(&header).unwrap();
    let len: usize = text.trim_end().parse().unwrap();
    assert_eq!(text, format!("{len:<10}"));
    let mut payload = vec![0; len];
    tokio::io::AsyncReadExt::read_exact(&mut client.stream, &mut payload)
        .await
        .unwrap();
    let pong: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        (pong["type"].as_str(), pong["id"].as_i64()),
        (Some("pong"), Some(1))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn decimal10_header_that_is_not_a_number_gets_an_error_and_a_close() {
    let server = start(config(Framing::Decimal10)).await;
    let mut client = TcpClient::connect_to(server.tcp_addr().unwrap(), Header::Decimal10).await;
    client.send_raw(b"hello, server").await;
    let error = client.recv_type("error").await;
    assert_eq!(error["code"], 106);
    let close = client.recv_close().await;
    assert_eq!(close["code"], 1002);
    server.shutdown().await;
}

#[tokio::test]
async fn oversized_frame_gets_error_205_then_close() {
    let mut config = config(Framing::U32);
    config.hub.max_message_bytes = 1024;
    let server = start(config).await;
    let mut client = TcpClient::connect_ready(&server, 3).await;
    // Header and payload both sent: the server must not wait for or buffer the payload.
    client.send_payload(&vec![b' '; 1025]).await;
    let error = client.recv_type("error").await;
    assert_eq!(error["code"], 205);
    assert_eq!(error["error"], "frame_too_large");
    let close = client.recv_close().await;
    assert_eq!(close["code"], 1009);
    server.shutdown().await;
}

#[tokio::test]
async fn json_typed_without_a_header_is_refused_as_too_large() {
    // What `nc` sends when someone types JSON: `{"ty` reads as a 2 GB length.
    let server = start(config(Framing::U32)).await;
    let mut client = TcpClient::connect_ready(&server, 3).await;
    client.send_raw(b"{\"type\":\"ping\"}\n").await;
    assert_eq!(client.recv_type("error").await["code"], 205);
    assert_eq!(client.recv_close().await["code"], 1009);
    server.shutdown().await;
}

#[tokio::test]
async fn header_that_lies_is_closed_by_the_idle_timeout() {
    let mut config = config(Framing::U32);
    config.tcp.heartbeat = Duration::from_millis(200);
    config.tcp.idle_timeout = Duration::from_millis(600);
    let server = start(config).await;
    let mut client = TcpClient::connect_ready(&server, 3).await;
    let started = Instant::now();
    // Announces 100 bytes, sends 10, then nothing.
    client.send_raw(&100u32.to_be_bytes()).await;
    client.send_raw(b"{\"type\":\"p").await;
    let close = client.recv_close().await;
    assert_eq!(close["code"], 4000);
    assert_eq!(close["reason"], "idle timeout");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(4),
        "closed after {waited:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_content_in_a_good_frame_is_an_error_and_the_connection_goes_on() {
    let server = start(config(Framing::U32)).await;
    let mut client = TcpClient::connect_ready(&server, 3).await;
    let bad: [&[u8]; 4] = [b"{not json", b"", &[0xff, 0xfe, b'{'], b"[1,2]"];
    for payload in bad {
        client.send_payload(payload).await;
        let error = client.recv_type("error").await;
        assert_eq!(error["code"], 100, "for {payload:?}: {error}");
    }
    client.send(json!({"type": "mystery"})).await;
    assert_eq!(client.recv_type("error").await["code"], 102);
    // Still open, still in sync.
    client.send(json!({"type": "ping", "id": "after"})).await;
    assert_eq!(client.recv_type("pong").await["id"], "after");
    server.shutdown().await;
}

#[tokio::test]
async fn frames_split_and_packed_arrive_whole_and_in_order() {
    let server = start(config(Framing::U32)).await;
    let mut client = TcpClient::connect_ready(&server, 3).await;
    let mut wire = Vec::new();
    for id in 1..=3 {
        wire.extend(Header::U32.encode(json!({"type": "ping", "id": id}).to_string().as_bytes()));
    }
    // The first two frames in one write, the third one byte at a time.
    let split = wire.len() - 23;
    client.send_raw(&wire[..split]).await;
    for byte in &wire[split..] {
        client.send_raw(std::slice::from_ref(byte)).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for id in 1..=3 {
        assert_eq!(client.recv_type("pong").await["id"], id);
    }
    server.shutdown().await;
}
