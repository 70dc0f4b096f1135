//! Bad input over WebSocket: every malformed message gets its numbered `error` and the
//! connection stays usable; every RFC 6455 violation closes with the code the RFC asks
//! for. After each, the server keeps serving and other clients notice nothing.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    WsClient, http_get,
    raw::{OP_BINARY, OP_TEXT, RawWs, client_frame, masked_text},
    start, start_default,
};
use serde_json::json;
use switchboard_server::{Server, ServerConfig};
use tokio_tungstenite::tungstenite::Message;

/// Two bystanders chat; proves the server still serves everyone else.
async fn bystanders_still_chat(server: &Server) {
    let mut ann = WsClient::connect_ready(server, "?channels=side", 2).await;
    let mut bob = WsClient::connect_ready(server, "?channels=side", 2).await;
    ann.send(json!({"type": "chat", "channel": "side", "user": "ann", "text": "still here?"}))
        .await;
    let chat = bob.recv_type("chat").await;
    assert_eq!(chat["text"], "still here?");
}

async fn expect_error(client: &mut WsClient, text: &str, code: u16, name: &str) {
    client.send_raw(Message::Text(text.into())).await;
    let error = client.recv().await;
    assert_eq!(error["type"], "error", "{text}");
    assert_eq!(error["code"], code, "{text}: {error}");
    assert_eq!(error["error"], name, "{text}");
    assert!(!error["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn malformed_messages_get_numbered_errors_and_the_connection_stays_usable() {
    let server = start_default().await;
    let mut client = WsClient::connect_ready(&server, "", 2).await;
    let cases = [
        ("{not json", 100, "invalid_json"),
        ("[1,2,3]", 100, "invalid_json"),
        (r#""ping""#, 100, "invalid_json"),
        (r#"{"text":"no type"}"#, 101, "missing_type"),
        (r#"{"type":7}"#, 101, "missing_type"),
        (r#"{"type":"dance"}"#, 102, "unknown_type"),
        (r#"{"type":"chat","text":"who?"}"#, 103, "invalid_field"),
        (
            r#"{"type":"chat","user":"ann","text":5}"#,
            103,
            "invalid_field",
        ),
        (r#"{"type":"subscribe"}"#, 103, "invalid_field"),
        (
            r#"{"type":"subscribe","channel":"news","since":"x"}"#,
            103,
            "invalid_field",
        ),
        (
            r#"{"type":"publish","channel":"news"}"#,
            103,
            "invalid_field",
        ),
        (r#"{"type":"ping","id":[1]}"#, 103, "invalid_field"),
        (
            r#"{"type":"subscribe","channel":"a b"}"#,
            104,
            "invalid_channel",
        ),
        (
            r#"{"type":"chat","channel":"","user":"a","text":"b"}"#,
            104,
            "invalid_channel",
        ),
        (
            r#"{"type":"publish","channel":"ünï","data":1}"#,
            104,
            "invalid_channel",
        ),
    ];
    for (text, code, name) in cases {
        expect_error(&mut client, text, code, name).await;
    }
    // The request id is echoed even when the message is wrong.
    client.send(json!({"type": "dance", "id": "r1"})).await;
    assert_eq!(client.recv().await["id"], "r1");
    client.send(json!({"type": "ping", "id": 1})).await;
    assert_eq!(client.recv().await["type"], "pong");
    let errors = server.hub().stats().errors_out;
    assert_eq!(errors, cases.len() as u64 + 1);
    bystanders_still_chat(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_binary_frame_is_error_106_and_the_connection_stays_open() {
    let server = start_default().await;
    let mut client = WsClient::connect_ready(&server, "", 2).await;
    client
        .send_raw(Message::Binary(vec![1u8, 2, 3].into()))
        .await;
    let error = client.recv().await;
    assert_eq!(error["code"], 106);
    assert_eq!(error["error"], "unsupported_frame");
    client.send(json!({"type": "ping", "id": 2})).await;
    assert_eq!(client.recv().await["id"], 2);
    bystanders_still_chat(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_closes_with_1009() {
    let mut config = ServerConfig::ephemeral();
    config.hub.max_message_bytes = 1024;
    let server = start(config).await;
    let mut client = WsClient::connect_ready(&server, "", 2).await;
    assert_eq!(client.welcome["limits"]["max_message_bytes"], 1024);
    // Exactly at the limit is fine.
    let padding = "x".repeat(1024 - r#"{"type":"ping","pad":""}"#.len());
    let at_limit = format!(r#"{{"type":"ping","pad":"{padding}"}}"#);
    assert_eq!(at_limit.len(), 1024);
    client.send_raw(Message::Text(at_limit.into())).await;
    assert_eq!(client.recv().await["type"], "pong");
    // Far over the limit, so the rest of it is still arriving when the server refuses
    // it: the close frame must still reach the client (no TCP reset in its way).
    let over = format!(
        r#"{{"type":"ping","pad":"{padding}{}"}}"#,
        "x".repeat(1 << 20)
    );
    client.send_raw(Message::Text(over.into())).await;
    let close = client.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);
    drop(client);
    bystanders_still_chat(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let server = start_default().await;
    let mut raw = RawWs::connect(server.http_addr(), "/ws").await;
    assert_eq!(raw.read_json().await["type"], "welcome");
    raw.write(&client_frame(
        OP_TEXT,
        &[b'{', 0xff, 0xfe, b'}'],
        Some([1, 2, 3, 4]),
    ))
    .await;
    assert_eq!(raw.read_close_code().await, Some(1007));
    drop(raw);
    bystanders_still_chat(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_unmasked_client_frame_closes_with_1002() {
    let server = start_default().await;
    let mut raw = RawWs::connect(server.http_addr(), "/ws").await;
    assert_eq!(raw.read_json().await["type"], "welcome");
    raw.write(&client_frame(OP_TEXT, br#"{"type":"ping"}"#, None))
        .await;
    assert_eq!(raw.read_close_code().await, Some(1002));
    drop(raw);
    bystanders_still_chat(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_reserved_opcode_closes_with_1002() {
    let server = start_default().await;
    let mut raw = RawWs::connect(server.http_addr(), "/ws").await;
    assert_eq!(raw.read_json().await["type"], "welcome");
    raw.write(&client_frame(0x3, b"??", Some([9, 9, 9, 9])))
        .await;
    assert_eq!(raw.read_close_code().await, Some(1002));
    drop(raw);
    bystanders_still_chat(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn reserved_bits_and_fragmented_control_frames_close_with_1002() {
    let server = start_default().await;
    // RSV1 set without a negotiated extension.
    let mut raw = RawWs::connect(server.http_addr(), "/ws").await;
    let mut frame = masked_text(r#"{"type":"ping"}"#);
    frame[0] |= 0x40;
    raw.write(&frame).await;
    assert_eq!(raw.read_close_code().await, Some(1002));
    drop(raw);
    // A ping without FIN (control frames must not be fragmented).
    let mut raw = RawWs::connect(server.http_addr(), "/ws").await;
    let mut frame = client_frame(0x9, b"", Some([0, 0, 0, 0]));
    frame[0] &= 0x7F;
    raw.write(&frame).await;
    assert_eq!(raw.read_close_code().await, Some(1002));
    drop(raw);
    bystanders_still_chat(&server).await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_documented_frame_bytes_are_a_ping_the_server_answers() {
    // The masked client frame shown in docs/protocol.md, byte for byte.
    let documented =
        "81 96 37 fa 21 3d 4c d8 55 44 47 9f 03 07 15 8a 48 53 50 d8 0d 1f 5e 9e 03 07 06 87";
    let bytes: Vec<u8> = documented
        .split(' ')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    assert_eq!(bytes, masked_text(r#"{"type":"ping","id":1}"#));
    let server = start_default().await;
    let mut raw = RawWs::connect(server.http_addr(), "/ws?channels=").await;
    assert_eq!(raw.read_json().await["type"], "welcome");
    assert_eq!(raw.read_json().await["type"], "subscribed");
    raw.write(&bytes).await;
    let frame = raw.read_frame().await.unwrap();
    assert_eq!((frame.fin, frame.opcode), (true, OP_TEXT));
    let pong: serde_json::Value = serde_json::from_slice(&frame.payload).unwrap();
    assert_eq!(
        (pong["type"].clone(), pong["id"].clone()),
        (json!("pong"), json!(1))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn plain_get_on_ws_is_426_with_a_json_error() {
    let server = start_default().await;
    let (status, head, body) = http_get(server.http_addr(), "/ws").await;
    assert_eq!(status, 426);
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket"),
        "{head}"
    );
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["type"], "error");
    assert!(error["code"].is_u64());
    // A bad channel list in the query is refused before the upgrade.
    let (status, _, body) = http_get(server.http_addr(), "/ws?channels=a%20b").await;
    assert_eq!(status, 400);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["code"], 104);
    server.shutdown().await;
}

#[tokio::test]
async fn binary_frames_on_the_raw_socket_do_not_disturb_others() {
    let server = start_default().await;
    let mut raw = RawWs::connect(server.http_addr(), "/ws?channels=").await;
    assert_eq!(raw.read_json().await["type"], "welcome");
    assert_eq!(raw.read_json().await["type"], "subscribed");
    raw.write(&client_frame(OP_BINARY, &[0; 10], Some([5, 6, 7, 8])))
        .await;
    assert_eq!(raw.read_json().await["code"], 106);
    bystanders_still_chat(&server).await;
    raw.send_text(r#"{"type":"ping","id":5}"#).await;
    assert_eq!(raw.read_json().await["id"], 5);
    server.shutdown().await;
}
