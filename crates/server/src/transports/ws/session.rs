//! One `/ws` connection as a hand-written future: what an idle connection costs is
//! exactly the fields of [`Session`] (the socket, three `Arc`s, an instant, two `u32`
//! times and two empty `Option<Box<_>>`s), with no compiler-laid-out `async` state
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
//! - No timer per connection: a shared ticker ([`super::spawn_heartbeat`]) wakes every
//!   session each `heartbeat`; a woken session pings if it has not for half an interval,
//!   and closes with 4000 once nothing arrived for `idle_timeout`.
//! - A batch the client does not take within `idle_timeout` closes it as a slow
//!   consumer (4001); the timer for that exists only while a write is stuck.
//! - Rarely used work (opening, handling a client message, closing) runs as a boxed
//!   future that exists only while it runs.

use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, atomic::Ordering::Relaxed},
    task::{Context, Poll, ready},
    time::Duration,
};

use futures_util::Stream;
use switchboard_hub::{Connection, Delivery, Hub};
use switchboard_protocol::{CloseCode, ErrorCode, ProtocolError};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{
    CLOSE_LINGER, Ended, close, fail_code, linger,
    raw_write::{PendingWrite, WriteOutcome},
};
use crate::{
    config::{WS_WRITE_BATCH, WsConfig},
    transports::upgrade::ServerSocket,
};

/// A boxed piece of cold work.
type Cold = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Closing the socket (the `cold` future); then disconnect from the hub.
    Ending(Ended),
    /// Leaving the hub (the `cold` future); then done.
    Disconnecting,
}

pub(crate) struct Session {
    /// `None` once handed to the closing future.
    socket: Option<ServerSocket>,
    hub: Arc<Hub>,
    connection: Arc<Connection>,
    config: Arc<crate::config::ServerConfig>,
    /// When the session started; `heard_ms` and `pinged_ms` count from it (wrapping
    /// milliseconds: half the size of two more instants, and exact for gaps under 49 days).
    started: Instant,
    heard_ms: u32,
    pinged_ms: u32,
    write: Option<Box<PendingWrite>>,
    cold: Option<Cold>,
    phase: Phase,
}

impl Session {
    /// A session that first opens `connection` with `open` (a boxed [`Hub::open`]).
    pub(crate) fn new(
        socket: ServerSocket,
        hub: Arc<Hub>,
        connection: Arc<Connection>,
        config: Arc<crate::config::ServerConfig>,
        open: Cold,
    ) -> Self {
        Self {
            socket: Some(socket),
            hub,
            connection,
            config,
            started: Instant::now(),
            heard_ms: 0,
            pinged_ms: 0,
            write: None,
            cold: Some(open),
            phase: Phase::Running,
        }
    }

    fn ws(&self) -> &WsConfig {
        &self.config.ws
    }

    /// Milliseconds since `started`, wrapping (see `started`).
    fn now_ms(&self) -> u32 {
        self.started.elapsed().as_millis() as u32
    }

    /// Starts the end of the session: `closing` (if any) runs, then the hub forgets it.
    fn end(&mut self, reason: Ended, closing: Option<Cold>) {
        tracing::debug!(connection = %self.connection.id(), ?reason, "WebSocket closed");
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
                self.heard_ms = self.now_ms();
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
                        let within = self.ws().idle_timeout;
                        let flush = self.socket.take().map(|mut socket| -> Cold {
                            Box::pin(async move {
                                let flushing = futures_util::SinkExt::flush(&mut socket);
                                let _ = tokio::time::timeout(within, flushing).await;
                            })
                        });
                        self.end(Ended::ClientGone, flush);
                    }
                }
            }
            Some(Err(err)) => match fail_code(&self.connection, &err) {
                Some(code) => {
                    let closing = self.socket.take().map(|mut socket| -> Cold {
                        Box::pin(async move {
                            close(&mut socket, code, Duration::from_secs(1)).await;
                            linger(socket, CLOSE_LINGER).await;
                        })
                    });
                    self.end(Ended::Closed(code), closing);
                }
                None => self.end(Ended::ClientGone, None),
            },
            None => self.end(Ended::ClientGone, None),
        }
    }

    /// Queues `batch` (and a ping, if asked) as one raw write.
    fn start_write(&mut self, batch: &[Arc<Delivery>], ping: bool) {
        self.write = Some(Box::new(PendingWrite::new(batch, ping)));
    }

    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<WriteOutcome> {
        let idle_timeout = self.config.ws.idle_timeout;
        match (self.socket.as_mut(), self.write.as_mut()) {
            (Some(socket), Some(write)) => write.poll(socket, cx, idle_timeout),
            _ => Poll::Ready(WriteOutcome::Done),
        }
    }

    /// The client did not take a batch in time: a slow consumer.
    fn on_write_timeout(&mut self) {
        // Count it once: an outbox overflow while the write was stuck already counted it.
        if self.connection.outbox().closed() != Some(CloseCode::SlowConsumer) {
            self.hub
                .counters()
                .slow_consumer_disconnects
                .fetch_add(1, Relaxed);
        }
        self.connection.close(CloseCode::SlowConsumer);
        // Queued behind the stuck write; reaches the client only if it reads again.
        self.write = None;
        let closing = self.close_with(CloseCode::SlowConsumer, Duration::from_secs(1));
        self.end(Ended::Closed(CloseCode::SlowConsumer), closing);
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
            self.end(Ended::ClientGone, None);
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
                let closing = self.close_with(reason, self.ws().idle_timeout);
                self.end(Ended::Closed(reason), closing);
                return Poll::Ready(());
            }
            Poll::Ready(None) => {
                self.start_write(&batch, false);
                return Poll::Ready(());
            }
            Poll::Pending => {}
        }
        // Woken by the shared heartbeat ticker (or by anything else): keepalive.
        let now = self.now_ms();
        let since = |then: u32| Duration::from_millis(u64::from(now.wrapping_sub(then)));
        if since(self.heard_ms) >= self.ws().idle_timeout {
            let closing = self.close_with(CloseCode::IdleTimeout, Duration::from_secs(1));
            self.end(Ended::Closed(CloseCode::IdleTimeout), closing);
            return Poll::Ready(());
        }
        if since(self.pinged_ms) >= self.ws().heartbeat / 2 {
            self.pinged_ms = now;
            self.start_write(&[], true);
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Future for Session {
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
    use super::Session;

    /// The session is most of an idle connection's task, which tokio rounds up to a
    /// multiple of 128 bytes: at 408 bytes the task is 512 (measured with heaptrack, see
    /// docs/benchmarks.md); a larger session risks the 640-byte step for every connection.
    #[test]
    fn an_idle_session_stays_small() {
        let size = std::mem::size_of::<Session>();
        assert!(size <= 408, "Session is {size} bytes");
    }
}
