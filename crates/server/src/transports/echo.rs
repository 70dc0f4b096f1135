//! `GET /ws/echo`: a bare WebSocket echo. Every text or binary message comes back
//! unchanged; no hub, no JSON, no `welcome`. It is the baseline that shows what the hub
//! costs: benchmarks and the academy run the same load against both.
//!
//! It still goes through the shared [`lifecycle`](super::lifecycle) like every
//! transport, with `/ws`'s [`Keepalive`]: a ping every `heartbeat` (woken by the server's
//! one ticker, no timer per connection), a close with 4000 once nothing (not even a pong)
//! arrived within `idle_timeout`, a close with 4001 when an echo is not taken within the
//! write timeout (checked at the ticks, so within one heartbeat after it), and 1001 at
//! shutdown.

use std::time::{Duration, Instant};

use axum::{extract::Request, response::Response};
use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::CloseCode;

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
    let hub = state.hub.clone();
    accept(request, config, &state.tasks, move |socket| async move {
        let _counted = hub.counters().echo_opened();
        let ended = echo(socket, keepalive, ticks, shutdown).await;
        tracing::debug!(?ended, "WebSocket echo closed");
    })
}

/// Echoes until the client leaves or the lifecycle ends the connection.
///
/// The future stays small because an idle echo connection is mostly this future: no
/// timer is armed per connection (a stuck write is noticed at the shared ticks, like
/// every other deadline here), and the rare paths (a heartbeat, a close) are boxed so
/// their state is not reserved inside every connection.
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
                    let ping = Message::Ping(Default::default());
                    let sent = Box::pin(send_bounded(&mut socket, &mut ticks, keepalive.write_timeout(), ping));
                    match sent.await {
                        Ok(()) => continue,
                        Err(Stalled::Gone) => return EndReason::ClientGone,
                        Err(Stalled::Stuck) => return Box::pin(end(socket, CloseCode::SlowConsumer, CLOSE_NOTICE_TIMEOUT)).await,
                    }
                }
                Some(Due::IdleTimeout) => {
                    let within = keepalive.close_within(CloseCode::IdleTimeout);
                    return Box::pin(end(socket, CloseCode::IdleTimeout, within)).await;
                }
                None => continue,
            },
            () = shutdown.cancelled() => {
                let within = keepalive.close_within(CloseCode::GoingAway);
                return Box::pin(end(socket, CloseCode::GoingAway, within)).await;
            }
        };
        match message {
            Some(Ok(message)) => {
                clock.heard();
                if let Message::Text(_) | Message::Binary(_) = message {
                    let within = keepalive.write_timeout();
                    match send_bounded(&mut socket, &mut ticks, within, message).await {
                        Ok(()) => {}
                        Err(Stalled::Gone) => return EndReason::ClientGone,
                        Err(Stalled::Stuck) => {
                            let close = end(socket, CloseCode::SlowConsumer, CLOSE_NOTICE_TIMEOUT);
                            return Box::pin(close).await;
                        }
                    }
                }
            }
            Some(Err(_)) | None => return EndReason::ClientGone,
        }
    }
}

/// Why a write did not go out.
enum Stalled {
    /// The connection failed.
    Gone,
    /// The client took nothing for the write timeout.
    Stuck,
}

/// Sends `message`; a write still pending at a tick `within` after it began is stuck.
/// Checked at the shared ticks (no timer per write), so a stuck write is noticed between
/// `within` and `within` plus one heartbeat after it began.
async fn send_bounded(
    socket: &mut ServerSocket,
    ticks: &mut Ticks,
    within: Duration,
    message: Message,
) -> Result<(), Stalled> {
    let started = Instant::now();
    let send = socket.send(message);
    tokio::pin!(send);
    loop {
        tokio::select! {
            sent = &mut send => return sent.map_err(|_| Stalled::Gone),
            () = ticks.next() => if started.elapsed() >= within {
                return Err(Stalled::Stuck);
            },
        }
    }
}

/// Sends the close frame for `reason` (bounded by `within`).
async fn end(mut socket: ServerSocket, reason: CloseCode, within: Duration) -> EndReason {
    close(&mut socket, reason, within).await;
    EndReason::Closed(reason)
}
