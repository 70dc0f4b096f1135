//! The same conversation over every transport through the library, against a real
//! server: welcome, chat with its ack and delivery, broadcast, ping, stats naming the
//! transport, subscribe + publish + delivery, unsubscribe, error replies, close.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{quick_options, start_server, wait_for};
use serde_json::json;
use switchboard_client::{
    Client, ClientError, ClientEvent, ClientOptions, ServerMessage, Transport, TransportChoice,
};

async fn converse(url: &str, choice: TransportChoice, expected: Transport) {
    let options = ClientOptions {
        short_poll_interval: Duration::from_millis(50),
        ..quick_options()
    };
    let client = Client::connect(url, choice, options).await.unwrap();
    assert_eq!(client.transport(), Some(expected));

    let seq = client.chat(None, "ann", "hi there").await.unwrap();
    let delivered = wait_for(&client, |e| match e {
        ClientEvent::Message(ServerMessage::Chat { seq, text, .. }) => Some((*seq, text.clone())),
        _ => None,
    })
    .await;
    assert_eq!(delivered, (seq, "hi there".to_owned()));

    let seq = client.broadcast("everyone").await.unwrap();
    let delivered = wait_for(&client, |e| match e {
        ClientEvent::Message(ServerMessage::Broadcast { seq, .. }) => Some(*seq),
        _ => None,
    })
    .await;
    assert_eq!(delivered, seq);

    client.ping().await.unwrap();
    let (server, me) = client.get_stats().await.unwrap();
    assert_eq!(me.transport, expected);
    assert_eq!(server.connections.get(expected), 1);

    client.subscribe("news").await.unwrap();
    for n in 1..=3 {
        assert_eq!(client.publish("news", &json!({"n": n})).await.unwrap(), n);
    }
    for n in 1..=3u64 {
        let got = wait_for(&client, |e| match e {
            ClientEvent::Message(ServerMessage::Message {
                channel, seq, data, ..
            }) if channel == "news" => Some((*seq, data.clone())),
            _ => None,
        })
        .await;
        assert_eq!(got, (n, json!({"n": n})), "over {expected}");
    }
    client.unsubscribe("news").await.unwrap();
    match client.unsubscribe("news").await {
        Err(ClientError::Server { code, .. }) => assert_eq!(code, 108),
        other => panic!("expected not_subscribed over {expected}, got {other:?}"),
    }
    client.close().await;
    assert!(client.status().closed);
}

#[tokio::test]
async fn sse_carries_the_whole_protocol() {
    let server = start_server().await;
    converse(
        &common::http_url(&server),
        TransportChoice::Sse,
        Transport::Sse,
    )
    .await;
}

#[tokio::test]
async fn long_polling_carries_the_whole_protocol() {
    let server = start_server().await;
    converse(
        &common::http_url(&server),
        TransportChoice::LongPoll,
        Transport::LongPoll,
    )
    .await;
}

#[tokio::test]
async fn short_polling_carries_the_whole_protocol() {
    let server = start_server().await;
    converse(
        &common::http_url(&server),
        TransportChoice::ShortPoll,
        Transport::ShortPoll,
    )
    .await;
}

#[tokio::test]
async fn raw_tcp_carries_the_whole_protocol() {
    let server = start_server().await;
    let addr = server.tcp_addr().expect("the TCP listener is on");
    converse(
        &format!("tcp://{addr}"),
        TransportChoice::Tcp,
        Transport::Tcp,
    )
    .await;
}

#[tokio::test]
async fn messages_cross_transports_in_the_same_order() {
    let server = start_server().await;
    let url = common::http_url(&server);
    let options = ClientOptions {
        channels: Some(vec!["x".to_owned()]),
        short_poll_interval: Duration::from_millis(50),
        ..quick_options()
    };
    let mut listeners = Vec::new();
    for choice in [
        TransportChoice::Sse,
        TransportChoice::LongPoll,
        TransportChoice::ShortPoll,
    ] {
        listeners.push(
            Client::connect(&url, choice, options.clone())
                .await
                .unwrap(),
        );
    }
    let tcp = format!("tcp://{}", server.tcp_addr().unwrap());
    listeners.push(
        Client::connect(&tcp, TransportChoice::Tcp, options.clone())
            .await
            .unwrap(),
    );
    let publisher = Client::connect(&url, TransportChoice::Websocket, quick_options())
        .await
        .unwrap();
    for n in 1..=20 {
        publisher.publish("x", &json!(n)).await.unwrap();
    }
    for listener in &listeners {
        for n in 1..=20u64 {
            let seq = wait_for(listener, |e| match e {
                ClientEvent::Message(ServerMessage::Message { channel, seq, .. })
                    if channel == "x" =>
                {
                    Some(*seq)
                }
                _ => None,
            })
            .await;
            assert_eq!(seq, n, "over {:?}", listener.transport());
        }
    }
}
