//! Shared helpers for the client's integration tests: a real server on 127.0.0.1 port 0,
//! client options with short intervals, and [`proxy::Proxy`], a TCP proxy that can cut,
//! freeze, refuse WebSocket upgrades and hold back streaming responses.

#![allow(dead_code, unreachable_pub)]

pub mod proxy;

use std::time::Duration;

use switchboard_client::{Backoff, ClientEvent, ClientOptions};
use switchboard_server::{Server, ServerConfig};

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub async fn start_server() -> Server {
    Server::start(ServerConfig::ephemeral())
        .await
        .expect("server starts")
}

pub fn http_url(server: &Server) -> String {
    format!("http://{}", server.http_addr())
}

/// Options for tests: quick reconnects and timeouts, no upgrade probing.
pub fn quick_options() -> ClientOptions {
    ClientOptions {
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
            max_attempts: Some(50),
        },
        connect_timeout: Duration::from_secs(2),
        welcome_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        upgrade_interval: None,
        short_poll_interval: Duration::from_millis(50),
        ..ClientOptions::default()
    }
}

/// Reads events until `pick` returns `Some`, within the patience window.
pub async fn wait_for<T>(
    client: &switchboard_client::Client,
    mut pick: impl FnMut(&ClientEvent) -> Option<T>,
) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = client.next_event().await.expect("event stream open");
            if let Some(found) = pick(&event) {
                return found;
            }
        }
    })
    .await
    .expect("the awaited event arrives in time")
}
