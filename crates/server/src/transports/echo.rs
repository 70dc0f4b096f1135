//! `GET /ws/echo`: a bare WebSocket echo. Every text or binary message comes back
//! unchanged; no hub, no JSON, no `welcome`. It is the baseline that shows what the hub
//! costs: benchmarks and the academy run the same load against both.
//!
//! It still goes through the shared [`lifecycle`](super::lifecycle) like every transport, with `/ws`'s
//! [`Keepalive`]: a ping every `heartbeat` (woken by the server's one ticker, no timer
//! per connection), a close with 4000 once nothing (not even a pong) arrived within
//! `idle_timeout`, a close with 4001 when an echo is not taken within that same time,
//! and 1001 at shutdown.

use axum::{extract::Request, response::Response};
use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::CloseCode;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

use super::{
    http_error::transport_disabled,
    lifecycle::{CLOSE_NOTICE_TIMEOUT, Due, EndReason, Keepalive, KeepaliveClock, ticker::Ticks},
    upgrade::{ServerSocket, accept},
    websocket::{close, socket_config},
};
use crate::app::AppState;

/// Answers the upgrade; `ticks` is the server's shared heartbeat tick.
pub(crate) fn handler(state: &AppState, ticks: Ticks, request: Request) -> Response {
    if !state.config.ws.enabled {
        return transport_disabled("websocket");
    }
    let config = socket_config(&state.config.ws, state.hub.config().max_message_bytes);
    let keepalive = Keepalive::websocket(&state.config.ws);
    let shutdown = state.shutdown.clone();
    accept(request, config, &state.tasks, move |socket| async move {
        let ended = echo(socket, keepalive, ticks, shutdown).await;
        tracing::debug!(?ended, "WebSocket echo closed");
    })
}

/// Echoes until the client leaves or the lifecycle ends the connection.
async fn echo(
    mut socket: ServerSocket,
    keepalive: Keepalive,
    mut ticks: Ticks,
    shutdown: tokio_util::sync::CancellationToken,
) -> EndReason {
    let mut clock = KeepaliveClock::new();
    loop {
        let message = tokio::select! {
            message = socket.next() => message,
            () = ticks.next() => match clock.due(&keepalive) {
                Some(Due::Heartbeat) => {
                    let ping = socket.send(Message::Ping(Default::default()));
                    match timeout(keepalive.write_timeout(), ping).await {
                        Ok(Ok(())) => continue,
                        Ok(Err(_)) => return EndReason::ClientGone,
                        Err(_) => return end(socket, CloseCode::SlowConsumer, CLOSE_NOTICE_TIMEOUT).await,
                    }
                }
                Some(Due::IdleTimeout) => {
                    let within = keepalive.close_within(CloseCode::IdleTimeout);
                    return end(socket, CloseCode::IdleTimeout, within).await;
                }
                None => continue,
            },
            () = shutdown.cancelled() => {
                let within = keepalive.close_within(CloseCode::GoingAway);
                return end(socket, CloseCode::GoingAway, within).await;
            }
        };
        match message {
            Some(Ok(message)) => {
                clock.heard();
                if let Message::Text(_) | Message::Binary(_) = message {
                    match timeout(keepalive.write_timeout(), socket.send(message)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return EndReason::ClientGone,
                        Err(_) => {
                            return end(socket, CloseCode::SlowConsumer, CLOSE_NOTICE_TIMEOUT)
                                .await;
                        }
                    }
                }
            }
            Some(Err(_)) | None => return EndReason::ClientGone,
        }
    }
}

/// Sends the close frame for `reason` (bounded by `within`).
async fn end(
    mut socket: ServerSocket,
    reason: CloseCode,
    within: std::time::Duration,
) -> EndReason {
    close(&mut socket, reason, within).await;
    EndReason::Closed(reason)
}
