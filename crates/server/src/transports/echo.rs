//! `GET /ws/echo`: a bare WebSocket echo. Every text or binary message comes back
//! unchanged; no hub, no JSON, no `welcome`. It is the baseline that shows what the hub
//! costs: benchmarks and the academy run the same load against both.
//!
//! It still goes through the shared `transports::lifecycle` like every
//! transport, with `/ws`'s `Keepalive`: a ping every `heartbeat` (woken by the server's
//! one ticker, no timer per connection), a close with 4000 once nothing (not even a pong)
//! arrived within `idle_timeout`, a close with 4001 when an echo is not taken within the
//! write timeout (checked at the ticks, so within one heartbeat after it; then a linger,
//! since such a client always has unread messages in flight), and 1001 at shutdown (the
//! ticker's last wake-up).
//!
//! One connection is one hand-written future, `EchoSession`, whose fields are its whole
//! idle state: the socket, its place among the ticker's waiters, the keepalive clock, and
//! two empty options. An `async` loop over the same steps keeps the state of every
//! future it awaits (a tick receiver, a shutdown token's waiter, a write) inside every
//! connection, and measured 2,900–3,450 bytes per idle connection against 1,585 for
//! the echo without a lifecycle (docs/benchmarks.md, "Issue 8 and after").

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::{extract::Request, response::Response};
use futures_util::{Sink, Stream};
use switchboard_hub::EchoConnection;
use switchboard_protocol::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use super::{
    http_error::transport_disabled,
    lifecycle::{
        Due, EndReason, KeepaliveClock,
        ticker::{TickWait, TickWaiter, Ticks},
    },
    upgrade::{ServerSocket, accept},
    websocket::{close, close_and_linger, socket_config},
};
use crate::app::AppState;

/// Answers the upgrade; `ticks` is the server's shared heartbeat tick.
pub(crate) fn handler(state: &AppState, ticks: Ticks, request: Request) -> Response {
    if !state.config.ws.enabled {
        return transport_disabled("websocket");
    }
    let config = socket_config(&state.config.ws, state.hub.config().max_message_bytes);
    let hub = state.hub.clone();
    accept(request, config, &state.tasks, move |socket| {
        EchoSession::new(socket, ticks.waiter(), hub.echo_opened())
    })
}

/// The closing handshake, boxed: it exists only while a connection closes.
type Closing = Pin<Box<dyn Future<Output = EndReason> + Send>>;

/// One `/ws/echo` connection (see the module documentation).
pub(crate) struct EchoSession {
    /// `None` once handed to the closing future.
    socket: Option<ServerSocket>,
    ticks: TickWaiter,
    clock: KeepaliveClock,
    /// When the write in flight (an echo or a ping) began, as a clock mark; `None` when
    /// nothing is being written.
    writing_since: Option<u32>,
    closing: Option<Closing>,
    /// Counts this connection in stats (`websocket_echo`) until the session is dropped.
    _counted: EchoConnection,
}

/// How the running phase ended.
enum Ending {
    /// The client left or the socket failed: nothing to send.
    Gone,
    /// Send a close frame with this code, taking at most this long.
    Close(CloseCode, Duration),
    /// Send a close frame with this code, then FIN, then discard input for a while: the
    /// client still has messages on their way that were never read, and closing over
    /// unread input would reset the connection and destroy the notice.
    CloseAndLinger(CloseCode),
}

impl EchoSession {
    fn new(socket: ServerSocket, ticks: TickWaiter, counted: EchoConnection) -> Self {
        Self {
            socket: Some(socket),
            ticks,
            clock: KeepaliveClock::new(),
            writing_since: None,
            closing: None,
            _counted: counted,
        }
    }

    /// Echoes until the client leaves or the lifecycle ends the connection. A message is
    /// read only once the previous echo is written, so a client that does not read
    /// cannot queue more than one echo.
    fn poll_running(&mut self, cx: &mut Context<'_>) -> Poll<Ending> {
        let Some(socket) = self.socket.as_mut() else {
            return Poll::Ready(Ending::Gone);
        };
        let mut socket = Pin::new(socket);
        loop {
            if self.writing_since.is_some() {
                match socket.as_mut().poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.writing_since = None,
                    Poll::Ready(Err(_)) => return Poll::Ready(Ending::Gone),
                    Poll::Pending => {}
                }
            }
            if self.writing_since.is_none() {
                match socket.as_mut().poll_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => return Poll::Ready(Ending::Gone),
                    Poll::Pending => self.writing_since = Some(self.clock.now_ms()),
                }
            }
            if self.writing_since.is_none() {
                match socket.as_mut().poll_next(cx) {
                    Poll::Ready(Some(Ok(message))) => {
                        self.clock.heard();
                        if let Message::Text(_) | Message::Binary(_) = message {
                            if socket.as_mut().start_send(message).is_err() {
                                return Poll::Ready(Ending::Gone);
                            }
                            self.writing_since = Some(self.clock.now_ms());
                        }
                        continue;
                    }
                    Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(Ending::Gone),
                    Poll::Pending => {}
                }
            }
            // Nothing to do until the socket or a tick wakes us: what does the
            // keepalive say?
            let keepalive = self.ticks.keepalive();
            if self.ticks.register(cx) == TickWait::Stopped {
                let within = keepalive.close_within(CloseCode::GoingAway);
                return Poll::Ready(Ending::Close(CloseCode::GoingAway, within));
            }
            if let Some(since) = self.writing_since {
                if self.clock.since(since) >= keepalive.write_timeout() {
                    return Poll::Ready(Ending::CloseAndLinger(CloseCode::SlowConsumer));
                }
                return Poll::Pending;
            }
            match self.clock.due(&keepalive) {
                Some(Due::Heartbeat) => {
                    // `poll_ready` said ready above; a failed send is a failed socket.
                    if socket
                        .as_mut()
                        .start_send(Message::Ping(Default::default()))
                        .is_err()
                    {
                        return Poll::Ready(Ending::Gone);
                    }
                    self.writing_since = Some(self.clock.now_ms());
                }
                Some(Due::IdleTimeout) => {
                    let within = keepalive.close_within(CloseCode::IdleTimeout);
                    return Poll::Ready(Ending::Close(CloseCode::IdleTimeout, within));
                }
                None => return Poll::Pending,
            }
        }
    }
}

impl Future for EchoSession {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.closing.is_none() {
            match ready!(this.poll_running(cx)) {
                Ending::Gone => {
                    tracing::debug!(ended = ?EndReason::ClientGone, "WebSocket echo closed");
                    this.socket = None;
                    return Poll::Ready(());
                }
                Ending::Close(reason, within) => {
                    let Some(socket) = this.socket.take() else {
                        return Poll::Ready(());
                    };
                    this.closing = Some(Box::pin(end(socket, reason, within)));
                }
                Ending::CloseAndLinger(reason) => {
                    let Some(socket) = this.socket.take() else {
                        return Poll::Ready(());
                    };
                    this.closing = Some(Box::pin(async move {
                        close_and_linger(socket, reason).await;
                        EndReason::Closed(reason)
                    }));
                }
            }
        }
        if let Some(closing) = this.closing.as_mut() {
            let ended = ready!(closing.as_mut().poll(cx));
            tracing::debug!(?ended, "WebSocket echo closed");
            this.closing = None;
        }
        Poll::Ready(())
    }
}

/// Sends the close frame for `reason` (bounded by `within`).
async fn end(mut socket: ServerSocket, reason: CloseCode, within: Duration) -> EndReason {
    close(&mut socket, reason, within).await;
    EndReason::Closed(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle echo connection is this future inside a tokio task, which tokio rounds up
    /// to 128 bytes: at 408 bytes or less the task takes 512 bytes (as `/ws`'s session),
    /// one more byte and it takes 640 for every connection.
    #[test]
    fn an_idle_echo_stays_small() {
        let size = std::mem::size_of::<EchoSession>();
        assert!(size <= 408, "EchoSession is {size} bytes");
    }
}
