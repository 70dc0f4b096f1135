//! The end of a connection: why it ended, the slow-consumer cut, and the linger after
//! the close notice.
//!
//! Guarantees: the code a connection ended with is recorded on it ([`EndReason::record`])
//! before the hub forgets it, so its one `connection closed` event and the
//! `switchboard_connection_closes_total` counter say why; a slow consumer is counted once however it is noticed (outbox overflow,
//! a stuck write, or both); the linger is bounded in time ([`CLOSE_LINGER`]) and in
//! memory (one scratch buffer on the heap, only while it runs).

use std::{sync::atomic::Ordering::Relaxed, time::Duration};

use switchboard_hub::{Connection, Hub};
use switchboard_protocol::CloseCode;
use tokio::{
    io::{AsyncRead, AsyncReadExt},
    time::{Instant, timeout_at},
};

/// How long the final close notice (a WebSocket close frame, a TCP `close` frame) may
/// take when the client is already known to be slow, silent or misbehaving.
pub(crate) const CLOSE_NOTICE_TIMEOUT: Duration = Duration::from_secs(1);
/// After the close notice and FIN, input is read and discarded for at most this long.
pub(crate) const CLOSE_LINGER: Duration = Duration::from_secs(1);
/// Scratch space for discarding input during the linger.
const LINGER_READ_CHUNK: usize = 4096;

/// Why a connection ended (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// The server ended it with this code (after sending the close notice, when the
    /// transport could).
    Closed(CloseCode),
    /// The client closed, went away, or the socket failed.
    ClientGone,
}

impl EndReason {
    /// Records the code on the connection (its outbox keeps the first one), where
    /// [`Hub::disconnect`] reads it for the close event and the closes-by-code counter.
    /// A client that went away leaves none: counted as `client_gone`.
    pub(crate) fn record(self, connection: &Connection) {
        if let EndReason::Closed(code) = self {
            connection.close(code);
        }
    }
}

/// A write the client did not take in time: closes the connection's outbox as a slow
/// consumer (4001) and counts it, unless an outbox overflow already did.
pub(crate) fn cut_slow_consumer(hub: &Hub, connection: &Connection) {
    if connection.outbox().closed() != Some(CloseCode::SlowConsumer) {
        hub.counters()
            .slow_consumer_disconnects
            .fetch_add(1, Relaxed);
    }
    connection.close(CloseCode::SlowConsumer);
    tracing::info!(connection = %connection.id(), "slow consumer: a write timed out, closing");
}

/// After the close notice and FIN: reads and discards what the client still sends, until
/// it closes too or [`CLOSE_LINGER`] passes. Dropping a socket with unread bytes makes
/// the kernel answer with a TCP reset, which can destroy the notice before the client
/// reads it, turning a documented close code into an unexplained "connection reset".
pub(crate) async fn linger(mut input: impl AsyncRead + Unpin) {
    let deadline = Instant::now() + CLOSE_LINGER;
    // On the heap: an array here would be reserved inside every connection's future.
    let mut scratch = vec![0u8; LINGER_READ_CHUNK];
    while let Ok(Ok(n)) = timeout_at(deadline, input.read(&mut scratch)).await {
        if n == 0 {
            break;
        }
    }
}
