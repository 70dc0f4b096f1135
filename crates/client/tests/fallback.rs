//! The `Auto` cascade: WebSocket, then SSE + POST, then long polling, then short polling;
//! the client reports where it settled and why, and moves back up when it can.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{proxy::Proxy, quick_options, start_server, wait_for};
use switchboard_client::{Client, ClientEvent, ClientOptions, Transport, TransportChoice};
use switchboard_server::{Server, ServerConfig};

#[tokio::test]
async fn auto_prefers_websocket() {
    let server = start_server().await;
    let client = Client::connect(
        &common::http_url(&server),
        TransportChoice::Auto,
        quick_options(),
    )
    .await
    .unwrap();
    assert_eq!(client.transport(), Some(Transport::Websocket));
    assert!(client.status().reason.contains("first choice"));
}

#[tokio::test]
async fn auto_settles_on_sse_when_a_proxy_refuses_websocket_upgrades() {
    let server = start_server().await;
    let proxy = Proxy::start(server.http_addr()).await;
    proxy.refuse_websocket(true);
    let client = Client::connect(&proxy.http_url(), TransportChoice::Auto, quick_options())
        .await
        .unwrap();
    let status = client.status();
    assert_eq!(status.transport, Some(Transport::Sse));
    assert!(
        status.reason.contains("websocket: refused") && status.reason.contains("403"),
        "{}",
        status.reason
    );
    client.ping().await.unwrap();
}

#[tokio::test]
async fn auto_settles_on_long_polling_when_streams_are_held_back_too() {
    let server = start_server().await;
    let proxy = Proxy::start(server.http_addr()).await;
    proxy.refuse_websocket(true);
    proxy.hold_streams(true);
    let options = ClientOptions {
        welcome_timeout: Duration::from_millis(500),
        ..quick_options()
    };
    let client = Client::connect(&proxy.http_url(), TransportChoice::Auto, options)
        .await
        .unwrap();
    let status = client.status();
    assert_eq!(status.transport, Some(Transport::LongPoll));
    assert!(
        status.reason.contains("sse: no welcome"),
        "{}",
        status.reason
    );
    client
        .chat(None, "ann", "through long polling")
        .await
        .unwrap();
}

#[tokio::test]
async fn auto_skips_a_transport_the_server_turned_off() {
    let mut config = ServerConfig::ephemeral();
    config.ws.enabled = false;
    config.sse.enabled = false;
    let server = Server::start(config).await.unwrap();
    let client = Client::connect(
        &common::http_url(&server),
        TransportChoice::Auto,
        quick_options(),
    )
    .await
    .unwrap();
    let status = client.status();
    assert_eq!(status.transport, Some(Transport::LongPoll));
    assert!(status.reason.contains("503"), "{}", status.reason);
}

#[tokio::test]
async fn auto_moves_back_up_when_websocket_works_again() {
    let server = start_server().await;
    let proxy = Proxy::start(server.http_addr()).await;
    proxy.refuse_websocket(true);
    let options = ClientOptions {
        upgrade_interval: Some(Duration::from_millis(300)),
        ..quick_options()
    };
    let client = Client::connect(&proxy.http_url(), TransportChoice::Auto, options)
        .await
        .unwrap();
    assert_eq!(client.transport(), Some(Transport::Sse));
    proxy.refuse_websocket(false);
    let (transport, reason) = wait_for(&client, |e| match e {
        ClientEvent::Connected {
            transport, reason, ..
        } if *transport == Transport::Websocket => Some((*transport, reason.clone())),
        _ => None,
    })
    .await;
    assert_eq!(transport, Transport::Websocket);
    assert!(reason.contains("moved back up"), "{reason}");
    client.ping().await.unwrap();
}
