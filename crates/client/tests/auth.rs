//! The `token` option over every transport against a server that requires tokens: each
//! transport sends it its own way (`?token=`, `Authorization: Bearer`, a TCP `connect`
//! frame), the chat the client sends is delivered under the token's user whatever name
//! it gives, presence names that user, and without a token the connection is refused.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{quick_options, wait_for};
use switchboard_client::{Client, ClientEvent, ClientOptions, ServerMessage, TransportChoice};
use switchboard_server::{
    Server, ServerConfig,
    security::{AuthConfig, Secret, auth::mint_hs256},
};

const SECRET: &str = "the client auth test's secret, 32 bytes or more";

async fn required_server() -> Server {
    let mut config = ServerConfig::ephemeral();
    config.security.auth = AuthConfig {
        required: true,
        hmac_secret: Some(Secret::new(SECRET)),
        ..AuthConfig::default()
    };
    Server::start(config).await.unwrap()
}

fn targets(server: &Server) -> [(String, TransportChoice); 5] {
    let http = common::http_url(server);
    let tcp = format!("tcp://{}", server.tcp_addr().unwrap());
    [
        (http.clone(), TransportChoice::Websocket),
        (http.clone(), TransportChoice::Sse),
        (http.clone(), TransportChoice::LongPoll),
        (http, TransportChoice::ShortPoll),
        (tcp, TransportChoice::Tcp),
    ]
}

#[tokio::test]
async fn a_token_authenticates_on_every_transport() {
    let server = required_server().await;
    let token = mint_hs256(
        &Secret::new(SECRET),
        "alice",
        Duration::from_secs(60),
        &["room".to_owned()],
    )
    .unwrap();
    for (url, choice) in targets(&server) {
        let options = ClientOptions {
            token: Some(token.clone()),
            reconnect: false,
            ..quick_options()
        };
        let client = Client::connect(&url, choice, options).await.unwrap();
        client.chat(Some("room"), "mallory", "hello").await.unwrap();
        let user = wait_for(&client, |event| match event {
            ClientEvent::Message(ServerMessage::Chat { user, .. }) => Some(user.clone()),
            _ => None,
        })
        .await;
        assert_eq!(user, "alice", "{choice:?}");
        let members = client.presence("room").await.unwrap();
        assert!(
            members.iter().all(|m| m.user.as_deref() == Some("alice")),
            "{choice:?}: {members:?}"
        );
        client.close().await;
    }
}

#[tokio::test]
async fn anonymous_clients_connect_at_once_where_tokens_are_optional() {
    let mut config = ServerConfig::ephemeral();
    config.security.auth = AuthConfig {
        hmac_secret: Some(Secret::new(SECRET)),
        ..AuthConfig::default()
    };
    let server = Server::start(config).await.unwrap();
    for (url, choice) in targets(&server) {
        // Within the 1 s welcome timeout of `quick_options`: raw TCP must not wait out
        // the server's 5 s connect timeout (the client sends an anonymous `connect`).
        let client = Client::connect(&url, choice, quick_options())
            .await
            .unwrap();
        client.ping().await.unwrap();
        client.close().await;
    }
}

#[tokio::test]
async fn without_a_token_every_transport_is_refused() {
    let server = required_server().await;
    for (url, choice) in targets(&server) {
        let options = ClientOptions {
            reconnect: false,
            ..quick_options()
        };
        let refused = Client::connect(&url, choice, options).await;
        assert!(refused.is_err(), "{choice:?} connected without a token");
    }
    assert_eq!(server.hub().stats().connections_accepted.websocket, 0);
}
