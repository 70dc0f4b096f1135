//! One `/ws` connection as a hand-written future: what an idle connection costs is
//! exactly the fields of [`WsSession`] (the socket, three `Arc`s, a 24-byte
//! [`KeepaliveClock`] and two empty `Option<Box<_>>`s), with no compiler-laid-out `async` state
//! around it.
//!
//! Guarantees (the same as a `select!` loop over read, outbox and heartbeat would give):
//! - Reading, handling a client message, and writing a batch happen one at a time, in
//!   that task: a message's replies are queued before the next frame is read.
//! - Server frames are written straight from the shared JSON bytes (`raw_write.rs`),
//!   not through tungstenite's write buffer, which would keep the capacity of the largest
//!   frame ever written for the life of the connection. Tungstenite still reads every
//!   frame (RFC 6455 checks, close codes) and writes its own control replies (pong,
//!   close); its buffer is flushed before each raw write so frames never interleave.
//! - No timer per connection: the shared ticker (`lifecycle::ticker`) wakes every
//!   session each `heartbeat`; a woken session asks its [`KeepaliveClock`] what is due:
//!   a ping, or a close with 4000 once nothing arrived for `idle_timeout`.
//! - A batch the client does not take within the write timeout (`idle_timeout`) closes
//!   it as a slow consumer (4001); the timer for that exists only while a write is stuck.
//! - Rarely used work (opening, handling a client message, closing) runs as a boxed
//!   future that exists only while it runs.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use futures_util::Stream;
use switchboard_hub::{Connection, Delivery, Hub};
use switchboard_protocol::{CloseCode, ErrorCode, ProtocolError};
use tokio_tungstenite::tungstenite::Message;

use super::{
    fail_code,
    raw_write::{PendingWrite, WriteOutcome},
};
use crate::{
    config::{ServerConfig, WS_WRITE_BATCH},
    transports::{
        lifecycle::{
            CLOSE_NOTICE_TIMEOUT, Due, EndReason, Keepalive, KeepaliveClock, cut_slow_consumer,
        },
        upgrade::ServerSocket,
        websocket::{close, close_and_linger},
    },
};

/// A boxed piece of cold work.
type Cold = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Closing the socket (the `cold` future); then disconnect from the hub.
    Ending(EndReason),
    /// Leaving the hub (the `cold` future); then done.
    Disconnecting,
}

pub(crate) struct WsSession {
    /// `None` once handed to the closing future.
    socket: Option<ServerSocket>,
    hub: Arc<Hub>,
    connection: Arc<Connection>,
    config: Arc<ServerConfig>,
    clock: KeepaliveClock,
    write: Option<Box<PendingWrite>>,
    cold: Option<Cold>,
    phase: Phase,
}

impl WsSession {
    /// A session that first opens `connection` with `open` (a boxed `lifecycle::open`).
    pub(crate) fn new(
        socket: ServerSocket,
        hub: Arc<Hub>,
        connection: Arc<Connection>,
        config: Arc<ServerConfig>,
        open: Cold,
    ) -> Self {
        Self {
            socket: Some(socket),
            hub,
            connection,
            config,
            clock: KeepaliveClock::new(),
            write: None,
            cold: Some(open),
            phase: Phase::Running,
        }
    }

    /// Computed, not stored: three more durations per connection would cost 48 bytes.
    fn keepalive(&self) -> Keepalive {
        Keepalive::websocket(&self.config.ws)
    }

    /// Starts the end of the session: `closing` (if any) runs, then the hub forgets it.
    fn end(&mut self, reason: EndReason, closing: Option<Cold>) {
        tracing::debug!(connection = %self.connection.id(), ?reason, "WebSocket closed");
        reason.record(&self.connection);
        self.write = None;
        self.phase = Phase::Ending(reason);
        self.cold = closing;
    }

    /// Takes the socket into a closing future that sends `reason`.
    fn close_with(&mut self, reason: CloseCode, within: Duration) -> Option<Cold> {
        let mut socket = self.socket.take()?;
        Some(Box::pin(async move {
            close(&mut socket, reason, within).await;
        }))
    }

    /// One frame (or the end of the stream) from the client.
    fn on_frame(&mut self, frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) {
        match frame {
            Some(Ok(message)) => {
                self.clock.heard();
                match message {
                    Message::Text(text) => {
                        let (hub, connection) = (self.hub.clone(), self.connection.clone());
                        self.cold = Some(Box::pin(async move {
                            hub.handle_text(&connection, text.as_str()).await;
                        }));
                    }
                    Message::Binary(_) => self.hub.send_error(
                        &self.connection,
                        &ProtocolError::new(
                            ErrorCode::UnsupportedFrame,
                            "binary frames are not part of the protocol; send JSON as text frames",
                        ),
                    ),
                    // tungstenite answers pings and queues the reply to a close itself.
                    Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                    Message::Close(_) => {
                        let within = self.keepalive().close_within(CloseCode::Normal);
                        let flush = self.socket.take().map(|mut socket| -> Cold {
                            Box::pin(async move {
                                let flushing = futures_util::SinkExt::flush(&mut socket);
                                let _ = tokio::time::timeout(within, flushing).await;
                            })
                        });
                        self.end(EndReason::ClientGone, flush);
                    }
                }
            }
            Some(Err(err)) => match fail_code(&self.connection, &err) {
                Some(code) => {
                    let closing = self
                        .socket
                        .take()
                        .map(|socket| -> Cold { Box::pin(close_and_linger(socket, code)) });
                    self.end(EndReason::Closed(code), closing);
                }
                None => self.end(EndReason::ClientGone, None),
            },
            None => self.end(EndReason::ClientGone, None),
        }
    }

    /// Queues `batch` (and a ping, if asked) as one raw write.
    fn start_write(&mut self, batch: &[Arc<Delivery>], ping: bool) {
        self.write = Some(Box::new(PendingWrite::new(batch, ping)));
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<WriteOutcome> {
        let write_timeout = self.keepalive().write_timeout();
        match (self.socket.as_mut(), self.write.as_mut()) {
            (Some(socket), Some(write)) => write.poll(socket, cx, write_timeout),
            _ => Poll::Ready(WriteOutcome::Done),
        }
    }

    /// The client did not take a batch in time: a slow consumer.
    fn on_write_timeout(&mut self) {
        cut_slow_consumer(&self.hub, &self.connection);
        // Queued behind the stuck write; reaches the client only if it reads again.
        self.write = None;
        let closing = self.close_with(CloseCode::SlowConsumer, CLOSE_NOTICE_TIMEOUT);
        self.end(EndReason::Closed(CloseCode::SlowConsumer), closing);
    }

    /// Running: one pass over write, read and outbox. `Ready` when something happened.
    fn poll_running(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.write.is_some() {
            match ready!(self.poll_write(cx)) {
                WriteOutcome::Done => self.write = None,
                WriteOutcome::Failed => {
                    tracing::debug!(connection = %self.connection.id(), "WebSocket write failed");
                    self.write = None;
                }
                WriteOutcome::TimedOut => self.on_write_timeout(),
            }
            return Poll::Ready(());
        }
        let Some(socket) = self.socket.as_mut() else {
            self.end(EndReason::ClientGone, None);
            return Poll::Ready(());
        };
        if let Poll::Ready(frame) = Pin::new(socket).poll_next(cx) {
            self.on_frame(frame);
            return Poll::Ready(());
        }
        // Allocated only when deliveries arrive; freed with the batch.
        let mut batch = Vec::new();
        match self
            .connection
            .outbox()
            .poll_next_batch(cx, &mut batch, WS_WRITE_BATCH)
        {
            Poll::Ready(Some(reason)) => {
                let closing = self.close_with(reason, self.keepalive().close_within(reason));
                self.end(EndReason::Closed(reason), closing);
                return Poll::Ready(());
            }
            Poll::Ready(None) => {
                self.start_write(&batch, false);
                return Poll::Ready(());
            }
            Poll::Pending => {}
        }
        // Woken by the shared heartbeat ticker (or by anything else): keepalive.
        match self.clock.due(&self.keepalive()) {
            Some(Due::IdleTimeout) => {
                let reason = CloseCode::IdleTimeout;
                let closing = self.close_with(reason, self.keepalive().close_within(reason));
                self.end(EndReason::Closed(reason), closing);
                Poll::Ready(())
            }
            Some(Due::Heartbeat) => {
                self.start_write(&[], true);
                Poll::Ready(())
            }
            None => Poll::Pending,
        }
    }
}

impl Future for WsSession {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            if let Some(cold) = this.cold.as_mut() {
                ready!(cold.as_mut().poll(cx));
                this.cold = None;
            }
            match this.phase {
                Phase::Running => ready!(this.poll_running(cx)),
                Phase::Ending(_) if this.cold.is_some() => {}
                Phase::Ending(_) => {
                    this.socket = None;
                    this.phase = Phase::Disconnecting;
                    let (hub, connection) = (this.hub.clone(), this.connection.clone());
                    this.cold = Some(Box::pin(async move { hub.disconnect(&connection).await }));
                }
                Phase::Disconnecting => return Poll::Ready(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WsSession;

    /// The session is most of an idle connection's task, which tokio rounds up to a
    /// multiple of 128 bytes: at 408 bytes the task is 512 (measured with heaptrack, see
    /// docs/benchmarks.md); a larger session risks the 640-byte step for every connection.
    #[test]
    fn an_idle_session_stays_small() {
        let size = std::mem::size_of::<WsSession>();
        assert!(size <= 408, "WsSession is {size} bytes");
    }
}
