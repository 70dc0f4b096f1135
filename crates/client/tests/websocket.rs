//! The library over WebSocket against a real server: every request type, the event
//! stream and callbacks, and errors surfaced with their codes.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, atomic::AtomicUsize};

use common::{http_url, quick_options, start_server, wait_for};
use serde_json::json;
use switchboard_client::{
    Client, ClientError, ClientEvent, ServerMessage, Transport, TransportChoice,
};

#[tokio::test]
async fn every_request_type_round_trips_over_websocket() {
    let server = start_server().await;
    let client = Client::connect(
        &http_url(&server),
        TransportChoice::Websocket,
        quick_options(),
    )
    .await
    .unwrap();
    let status = client.status();
    assert_eq!(status.transport, Some(Transport::Websocket));
    assert_eq!(status.epoch, server.hub().epoch());
    let connected = wait_for(&client, |e| match e {
        ClientEvent::Connected { transport, .. } => Some(*transport),
        _ => None,
    })
    .await;
    assert_eq!(connected, Transport::Websocket);

    let seq = client.chat(None, "ann", "hello").await.unwrap();
    assert_eq!(seq, 1);
    let chat = wait_for(&client, |e| match e {
        ClientEvent::Message(ServerMessage::Chat {
            text, seq, channel, ..
        }) => Some((text.clone(), *seq, channel.clone())),
        _ => None,
    })
    .await;
    assert_eq!(chat, ("hello".to_owned(), 1, "lobby".to_owned()));

    assert_eq!(client.broadcast("to all").await.unwrap(), 1);
    assert!(client.ping().await.unwrap() < std::time::Duration::from_secs(1));
    let (server_stats, client_stats) = client.get_stats().await.unwrap();
    assert_eq!(server_stats.connections.websocket, 1);
    assert_eq!(client_stats.connection_id, status.connection_id);

    let subscribed = client.subscribe("news").await.unwrap();
    assert!(
        matches!(subscribed, ServerMessage::Subscribed { ref channel, .. } if channel == "news")
    );
    assert_eq!(client.publish("news", &json!({"n": 1})).await.unwrap(), 1);
    let data = wait_for(&client, |e| match e {
        ClientEvent::Message(ServerMessage::Message { data, .. }) => Some(data.clone()),
        _ => None,
    })
    .await;
    assert_eq!(data, json!({"n": 1}));
    let members = client.presence("news").await.unwrap();
    assert_eq!(members.len(), 1);
    client.unsubscribe("news").await.unwrap();

    // Server errors come back typed, with their code.
    match client.custom("dance", None).await {
        Err(ClientError::Server { code, .. }) => assert_eq!(code, 107),
        other => panic!("expected unknown_action, got {other:?}"),
    }
    match client.publish("broadcast", &json!(1)).await {
        Err(ClientError::Server { code, .. }) => assert_eq!(code, 109),
        other => panic!("expected read_only_channel, got {other:?}"),
    }
    client.close().await;
    assert!(client.status().closed);
}

#[tokio::test]
async fn callbacks_see_messages_from_other_connections() {
    let server = start_server().await;
    let listener = Client::connect(
        &http_url(&server),
        TransportChoice::Websocket,
        quick_options(),
    )
    .await
    .unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    listener.set_message_callback(move |message| {
        if let ServerMessage::Chat { user, .. } = message {
            assert_eq!(user, "bob");
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let _events = listener.events();
    let talker = Client::connect(
        &http_url(&server),
        TransportChoice::Websocket,
        quick_options(),
    )
    .await
    .unwrap();
    for i in 0..5 {
        talker
            .chat(None, "bob", &format!("line {i}"))
            .await
            .unwrap();
    }
    tokio::time::timeout(common::PATIENCE, async {
        while seen.load(std::sync::atomic::Ordering::SeqCst) < 5 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the callback sees all five lines");
}

#[tokio::test]
async fn connecting_to_nothing_fails_with_every_attempt_listed() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let err = Client::connect(
        &format!("http://{addr}"),
        TransportChoice::Auto,
        quick_options(),
    )
    .await
    .err()
    .expect("nothing to connect to");
    let ClientError::Connect(why) = err else {
        panic!("expected Connect, got {err:?}")
    };
    assert!(
        why.contains("websocket:") && why.contains("short_poll:"),
        "{why}"
    );
}

#[tokio::test]
async fn messages_arrive_as_a_stream() {
    use futures_util::StreamExt;
    let server = start_server().await;
    let client = Client::connect(
        &http_url(&server),
        TransportChoice::Websocket,
        quick_options(),
    )
    .await
    .unwrap();
    let mut messages = Box::pin(client.messages());
    for n in 0..3 {
        client
            .chat(None, "ann", &format!("line {n}"))
            .await
            .unwrap();
    }
    let mut texts = Vec::new();
    while texts.len() < 3 {
        let message = tokio::time::timeout(common::PATIENCE, messages.next())
            .await
            .expect("in time")
            .expect("stream open");
        if let ServerMessage::Chat { text, .. } = message {
            texts.push(text);
        }
    }
    assert_eq!(texts, ["line 0", "line 1", "line 2"]);
    // The queue now belongs to the stream.
    assert!(client.next_event().await.is_none());
}
