//! `POST /sse/message`: a client-to-server message on an SSE connection reaches other
//! transports (and theirs reach the stream), replies come back as events, and every
//! envelope that cannot be delivered is refused with its status and error code.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use common::WsClient;
use http::{SseStream, post_json, request};
use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};

async fn open_stream(server: &Server) -> (SseStream, String) {
    let mut stream = SseStream::open(server.http_addr(), "/sse?channels=lobby", &[]).await;
    let welcome = stream.next_of("welcome").await.json();
    stream.next_of("subscribed").await;
    stream.next_of("subscribed").await;
    let id = welcome["session_token"].as_str().unwrap().to_owned();
    (stream, id)
}

async fn send(server: &Server, connection_id: &str, message: Value) -> u16 {
    let body = json!({"session_token": connection_id, "message": message});
    post_json(server.http_addr(), "/sse/message", &body)
        .await
        .status
}

#[tokio::test]
async fn chat_crosses_between_sse_and_websocket_both_ways() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let (mut stream, id) = open_stream(&server).await;
    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;

    let status = send(
        &server,
        &id,
        json!({"type": "chat", "user": "sse", "text": "hi ws"}),
    )
    .await;
    assert_eq!(status, 204);
    for got in [
        ws.recv_type("chat").await,
        stream.next_of("chat").await.json(),
    ] {
        assert_eq!(
            (got["user"].clone(), got["seq"].clone()),
            (json!("sse"), json!(1))
        );
    }

    ws.send(json!({"type": "chat", "user": "ws", "text": "hi sse"}))
        .await;
    let event = stream.next_of("chat").await;
    assert_eq!(event.json()["text"], "hi sse");
    assert_eq!(event.json()["seq"], 2);

    // Replies and content errors come back on the stream, in order.
    assert_eq!(
        send(&server, &id, json!({"type": "ping", "id": 7})).await,
        204
    );
    assert_eq!(stream.next_of("pong").await.json()["id"], 7);
    assert_eq!(send(&server, &id, json!({"type": "nonsense"})).await, 204);
    assert_eq!(stream.next_of("error").await.json()["code"], 102);
    server.shutdown().await;
}

#[tokio::test]
async fn undeliverable_envelopes_are_refused() {
    let mut config = ServerConfig::ephemeral();
    config.sse.max_body_bytes = 1024;
    config.hub.max_message_bytes = 1024; // a body limit must carry the largest message
    let server = common::start(config).await;
    let addr = server.http_addr();
    let (_stream, id) = open_stream(&server).await;
    let ping = json!({"session_token": id, "message": {"type": "ping"}}).to_string();

    let plain = [("Content-Type", "text/plain")];
    request(addr, "POST", "/sse/message", &plain, ping.as_bytes())
        .await
        .assert_error(415, 202);
    let unknown = json!({"session_token": "nope", "message": {"type": "ping"}});
    post_json(addr, "/sse/message", &unknown)
        .await
        .assert_error(403, 400);
    let json_type = [("Content-Type", "application/json")];
    request(
        addr,
        "POST",
        "/sse/message",
        &json_type,
        b"{\"connection_id\": ",
    )
    .await
    .assert_error(400, 100);
    let missing = json!({"session_token": id});
    post_json(addr, "/sse/message", &missing)
        .await
        .assert_error(400, 103);
    let big = json!({"session_token": id, "message": {"type": "chat", "text": "x".repeat(2000)}});
    post_json(addr, "/sse/message", &big)
        .await
        .assert_error(413, 206);

    // A WebSocket connection's id is public: no token, nothing sent.
    let ws = WsClient::connect_ready(&server, "", 2).await;
    let foreign = json!({"session_token": ws.connection_id, "message": {"type": "ping"}});
    post_json(addr, "/sse/message", &foreign)
        .await
        .assert_error(403, 400);
    server.shutdown().await;
}
