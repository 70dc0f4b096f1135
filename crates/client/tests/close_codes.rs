//! The reconnect rule for close codes, end to end: a server close that blames the
//! client's own bytes (1009 here) ends the client instead of starting a reconnect that
//! would be closed the same way, whether the code comes in a WebSocket close frame or in
//! raw TCP's `close` message; a shutdown (1001) is reconnected. Also: text that is not
//! JSON gets the same `error` 100 on every transport, including those whose HTTP
//! envelope cannot carry it.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use common::{PATIENCE, http_url, quick_options, start_server, wait_for};
use serde_json::json;
use switchboard_client::{Client, ClientEvent, ServerMessage, TransportChoice};
use switchboard_protocol::{ChannelName, ClientMessage};

/// Comfortably over any message limit the server announces (64 KiB by default).
const OVERSIZED: usize = 1024 * 1024;

/// Sends one oversized publish and returns the events up to and including `Closed`.
async fn events_after_an_oversized_message(client: &Client) -> Vec<ClientEvent> {
    let channel = ChannelName::new("big").unwrap();
    let message = ClientMessage::publish(channel, &json!({"pad": "x".repeat(OVERSIZED)})).unwrap();
    client.send(&message).await.unwrap();
    let mut seen = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(event) = client.next_event().await {
            let closed = matches!(event, ClientEvent::Closed { .. });
            seen.push(event);
            if closed {
                return;
            }
        }
    })
    .await
    .expect("the client ends within the patience window");
    seen
}

fn assert_ended_without_reconnecting(events: &[ClientEvent]) {
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ClientEvent::Reconnecting { .. })),
        "no reconnect after 1009: {events:?}"
    );
    match events.last() {
        Some(ClientEvent::Closed { reason }) => {
            assert!(reason.contains("close code 1009"), "{reason}");
        }
        other => panic!("expected Closed last, got {other:?}"),
    }
}

#[tokio::test]
async fn a_1009_close_frame_ends_a_websocket_client() {
    let server = start_server().await;
    let client = Client::connect(
        &http_url(&server),
        TransportChoice::Websocket,
        quick_options(),
    )
    .await
    .unwrap();
    let events = events_after_an_oversized_message(&client).await;
    assert_ended_without_reconnecting(&events);
    assert!(client.status().closed);
}

#[tokio::test]
async fn a_1009_close_notice_ends_a_tcp_client() {
    let server = start_server().await;
    let url = format!("tcp://{}", server.tcp_addr().expect("TCP is on"));
    let client = Client::connect(&url, TransportChoice::Tcp, quick_options())
        .await
        .unwrap();
    let events = events_after_an_oversized_message(&client).await;
    // The notice itself reaches the application too, before the end.
    assert!(
        events.iter().any(|e| matches!(
            e,
            ClientEvent::Message(ServerMessage::Close { code: 1009, .. })
        )),
        "{events:?}"
    );
    assert_ended_without_reconnecting(&events);
}

#[tokio::test]
async fn a_shutdown_is_reconnected() {
    let server = start_server().await;
    let client = Client::connect(
        &http_url(&server),
        TransportChoice::Websocket,
        quick_options(),
    )
    .await
    .unwrap();
    server.shutdown().await;
    let reason = wait_for(&client, |e| match e {
        ClientEvent::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert!(reason.contains("1001"), "{reason}");
    wait_for(&client, |e| {
        matches!(e, ClientEvent::Reconnecting { .. }).then_some(())
    })
    .await;
    client.close().await;
}

#[tokio::test]
async fn text_that_is_not_json_gets_error_100_on_every_transport() {
    let server = start_server().await;
    for choice in [
        TransportChoice::Websocket,
        TransportChoice::Sse,
        TransportChoice::LongPoll,
        TransportChoice::ShortPoll,
        TransportChoice::Tcp,
    ] {
        let url = match choice {
            TransportChoice::Tcp => format!("tcp://{}", server.tcp_addr().expect("TCP is on")),
            _ => http_url(&server),
        };
        let client = Client::connect(&url, choice, quick_options())
            .await
            .unwrap();
        client.send_raw("{not json").await.unwrap();
        let code = wait_for(&client, |e| match e {
            ClientEvent::Message(ServerMessage::Error { code, .. }) => Some(*code),
            _ => None,
        })
        .await;
        assert_eq!(code, 100, "over {choice:?}");
        // The link is still usable afterwards.
        client.ping().await.unwrap();
        client.close().await;
    }
}
