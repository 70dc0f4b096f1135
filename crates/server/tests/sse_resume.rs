//! Resuming an event stream: `Last-Event-ID` (or `?lastEventId=`) recovers exactly what
//! was missed on every channel, a gap beyond history is announced, and a token that is
//! not ours starts a fresh stream with an `error` event saying so.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use std::time::Duration;

use common::WsClient;
use http::{SseStream, eventually};
use serde_json::json;
use switchboard_server::{Server, ServerConfig};

/// Opens `/sse?channels=lobby` (with an optional resume header) and reads up to the
/// `subscribed` events; returns the stream, the last id seen and the connection id.
async fn open(server: &Server, headers: &[(&str, &str)]) -> (SseStream, String, String) {
    let mut stream = SseStream::open(server.http_addr(), "/sse?channels=lobby", headers).await;
    let welcome = stream.next_of("welcome").await.json();
    stream.next_of("subscribed").await;
    let lobby = stream.next_of("subscribed").await;
    let connection_id = welcome["session_token"].as_str().unwrap().to_owned();
    (
        stream,
        lobby.id.expect("subscribed carries an id"),
        connection_id,
    )
}

async fn chat(ws: &mut WsClient, text: &str) {
    ws.send(json!({"type": "chat", "user": "ws", "text": text}))
        .await;
    ws.recv_type("chat").await;
}

#[tokio::test]
async fn last_event_id_recovers_exactly_the_missed_messages() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;
    let (mut stream, _, _) = open(&server, &[]).await;
    chat(&mut ws, "one").await;
    let one = stream.next_of("chat").await;
    assert_eq!(one.json()["seq"], 1);
    let token = one.id.expect("a channel message carries an id");
    drop(stream);
    let hub = server.hub().clone();
    eventually(|| hub.stats().connections.sse == 0, "the stream to close").await;

    for text in ["two", "three", "four"] {
        chat(&mut ws, text).await;
    }
    let mut stream = SseStream::open(
        server.http_addr(),
        "/sse?channels=lobby",
        &[("Last-Event-ID", &token)],
    )
    .await;
    stream.next_of("welcome").await;
    stream.next_of("subscribed").await; // broadcast
    let subscribed = stream.next_of("subscribed").await.json();
    assert_eq!(subscribed["channel"], "lobby");
    assert_eq!(subscribed["resumed"], true);
    assert_eq!(subscribed["recovered"], 3);
    for (seq, text) in [(2, "two"), (3, "three"), (4, "four")] {
        let event = stream.next_event().await.unwrap();
        assert_eq!(event.event, "chat");
        assert_eq!(event.json()["seq"], seq);
        assert_eq!(event.json()["text"], text);
    }
    // Nothing else was replayed: the next event is the next live message.
    chat(&mut ws, "five").await;
    let next = stream.next_event().await.unwrap();
    assert_eq!(next.json()["seq"], 5);
    assert_eq!(
        next.id,
        Some(format!("{};broadcast=0;lobby=5", server.hub().epoch()))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_reconnect_before_any_message_still_loses_nothing() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;
    let (stream, token, _) = open(&server, &[]).await;
    drop(stream);
    chat(&mut ws, "while away").await;
    // The query parameter works for clients that cannot set headers.
    let path = format!(
        "/sse?channels=lobby&lastEventId={}",
        token.replace(';', "%3B")
    );
    let mut stream = SseStream::open(server.http_addr(), &path, &[]).await;
    let missed = stream.next_of("chat").await.json();
    assert_eq!(
        (missed["seq"].clone(), missed["text"].clone()),
        (json!(1), json!("while away"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn history_exceeded_is_announced_with_a_gap_event() {
    let mut config = ServerConfig::ephemeral();
    config.hub.history_size = 2;
    let server = common::start(config).await;
    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;
    let (stream, token, _) = open(&server, &[]).await;
    drop(stream);
    for n in 1..=5 {
        chat(&mut ws, &format!("m{n}")).await;
    }
    let mut stream = SseStream::open(
        server.http_addr(),
        "/sse?channels=lobby",
        &[("Last-Event-ID", &token)],
    )
    .await;
    let subscribed = loop {
        let event = stream.next_of("subscribed").await.json();
        if event["channel"] == "lobby" {
            break event;
        }
    };
    assert_eq!(subscribed["resumed"], false);
    let gap = stream.next_event().await.unwrap();
    assert_eq!(gap.event, "gap");
    let gap = gap.json();
    assert_eq!(
        (
            gap["from"].clone(),
            gap["to"].clone(),
            gap["reason"].clone()
        ),
        (json!(1), json!(3), json!("history_exceeded"))
    );
    for seq in [4, 5] {
        assert_eq!(stream.next_of("chat").await.json()["seq"], seq);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_foreign_token_starts_fresh_and_says_so() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let mut stream = SseStream::open(
        server.http_addr(),
        "/sse?channels=lobby",
        &[("Last-Event-ID", "not a token")],
    )
    .await;
    assert_eq!(stream.status, 200);
    assert_eq!(stream.next_event().await.unwrap().event, "welcome");
    stream.next_of("subscribed").await;
    stream.next_of("subscribed").await;
    let error = stream.next_of("error").await.json();
    assert_eq!(error["code"], 103);

    // A well-formed token whose seq is ahead of the channel: the hub refuses that
    // position (112) and the stream joins the channel afresh.
    let token = format!("{};lobby=99", server.hub().epoch());
    let mut stream = SseStream::open(
        server.http_addr(),
        "/sse?channels=lobby",
        &[("Last-Event-ID", &token)],
    )
    .await;
    let mut opening = Vec::new();
    while opening.len() < 4 {
        let event = stream.next_event().await.expect("the stream stays open");
        opening.push((event.event.clone(), event.json()));
    }
    let kinds: Vec<&str> = opening.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["welcome", "subscribed", "error", "subscribed"],
        "{opening:?}"
    );
    let refused = &opening[2].1;
    assert_eq!(refused["code"], 112, "{refused}");
    let joined = &opening[3].1;
    assert_eq!(joined["channel"], "lobby");
    assert_ne!(joined["resumed"], true, "joined afresh: {joined}");
    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;
    chat(&mut ws, "live").await;
    let event = stream.next_of("chat").await;
    assert_eq!(event.json()["text"], "live");
    tokio::time::sleep(Duration::from_millis(10)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn channels_joined_later_are_in_the_token_and_resumed_too() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let (mut stream, _, welcome_id) = open(&server, &[]).await;
    let subscribe =
        json!({"session_token": welcome_id, "message": {"type": "subscribe", "channel": "news"}});
    let sent = http::post_json(server.http_addr(), "/sse/message", &subscribe).await;
    assert_eq!(sent.status, 204);
    let news = stream.next_of("subscribed").await;
    let token = news.id.unwrap();
    assert!(token.ends_with(";lobby=0;news=0"), "{token}");
    drop(stream);

    let mut ws = WsClient::connect_ready(&server, "?channels=news", 2).await;
    ws.send(json!({"type": "chat", "channel": "news", "user": "ws", "text": "later"}))
        .await;
    ws.recv_type("chat").await;
    // Reconnect to the same URL (which names only lobby): news comes back by the token.
    let mut stream = SseStream::open(
        server.http_addr(),
        "/sse?channels=lobby",
        &[("Last-Event-ID", &token)],
    )
    .await;
    let chat = stream.next_of("chat").await.json();
    assert_eq!(
        (chat["channel"].clone(), chat["text"].clone()),
        (json!("news"), json!("later"))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_token_from_before_a_restart_gets_an_epoch_gap() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;
    chat(&mut ws, "after the restart").await;
    let (mut stream, _, _) = open(&server, &[("Last-Event-ID", "000000000000;lobby=7")]).await;
    let gap = stream.next_of("gap").await.json();
    assert_eq!(gap["reason"], "epoch_changed");
    assert_eq!(gap["from"], 8);
    // Everything the new epoch still holds follows.
    let chat = stream.next_of("chat").await.json();
    assert_eq!(
        (chat["seq"].clone(), chat["text"].clone()),
        (json!(1), json!("after the restart"))
    );
    server.shutdown().await;
}
