//! Server frames written straight to the socket: a 2–10-byte RFC 6455 header and the
//! shared JSON payload per delivery, a whole batch in one buffer and one write.
//!
//! Guarantees:
//! - Frames never interleave with tungstenite's own: its buffer (pongs, close replies)
//!   is flushed before the first raw byte, and the session reads nothing while a raw
//!   write is unfinished.
//! - Server frames are unmasked, final, text (or an empty ping), with the shortest
//!   length form, as RFC 6455 5.2 requires of a server.
//! - Bounded in time: the first time the socket pushes back, a timer of `idle_timeout`
//!   starts; when it fires the write reports [`WriteOutcome::TimedOut`] (a slow
//!   consumer). No timer exists while writes go through.
//! - Bounded in memory: one batch (at most `WS_WRITE_BATCH` deliveries, each under the
//!   message limit) at a time, freed once written.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};

use futures_util::Sink;
use switchboard_hub::Delivery;
use tokio::{io::AsyncWrite, time::Sleep};
use tokio_tungstenite::tungstenite::Message;

use crate::transports::upgrade::ServerSocket;

/// RFC 6455 first header byte: FIN and the text opcode.
const TEXT_FRAME: u8 = 0x81;
/// An unmasked, empty ping: FIN and the ping opcode, length 0.
const PING_FRAME: [u8; 2] = [0x89, 0x00];
/// The longest server frame header: 2 bytes and a 64-bit length.
const MAX_HEADER: usize = 10;

/// Bytes on their way to the socket.
pub(super) struct PendingWrite {
    bytes: Vec<u8>,
    written: usize,
    /// True once tungstenite's own buffered frames (pongs) are out.
    tungstenite_flushed: bool,
    /// Armed the first time the socket pushes back.
    deadline: Option<Pin<Box<Sleep>>>,
}

/// How a write ended.
pub(super) enum WriteOutcome {
    Done,
    /// The socket failed; the read side reports it.
    Failed,
    /// The client did not take the bytes within `idle_timeout`.
    TimedOut,
}

impl PendingWrite {
    /// The frames for `batch`, then an empty ping if `ping`.
    pub(super) fn new(batch: &[Arc<Delivery>], ping: bool) -> Self {
        let len: usize = batch.iter().map(|d| d.json.len() + MAX_HEADER).sum();
        let mut bytes = Vec::with_capacity(len + PING_FRAME.len());
        for delivery in batch {
            push_text_header(&mut bytes, delivery.json.len());
            bytes.extend_from_slice(&delivery.json);
        }
        if ping {
            bytes.extend_from_slice(&PING_FRAME);
        }
        Self {
            bytes,
            written: 0,
            tungstenite_flushed: false,
            deadline: None,
        }
    }

    /// Writes what is left; `Pending` with the task's waker registered while the socket
    /// (or the timer) makes it wait.
    pub(super) fn poll(
        &mut self,
        socket: &mut ServerSocket,
        cx: &mut Context<'_>,
        idle_timeout: Duration,
    ) -> Poll<WriteOutcome> {
        let progress = self.poll_bytes(socket, cx);
        if progress.is_ready() {
            return progress;
        }
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle_timeout)));
        ready!(deadline.as_mut().poll(cx));
        Poll::Ready(WriteOutcome::TimedOut)
    }

    fn poll_bytes(
        &mut self,
        socket: &mut ServerSocket,
        cx: &mut Context<'_>,
    ) -> Poll<WriteOutcome> {
        if !self.tungstenite_flushed {
            match <ServerSocket as Sink<Message>>::poll_flush(Pin::new(&mut *socket), cx) {
                Poll::Ready(Ok(())) => self.tungstenite_flushed = true,
                Poll::Ready(Err(_)) => return Poll::Ready(WriteOutcome::Failed),
                Poll::Pending => return Poll::Pending,
            }
        }
        let io = socket.get_mut();
        while self.written < self.bytes.len() {
            match Pin::new(&mut *io).poll_write(cx, &self.bytes[self.written..]) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    return Poll::Ready(WriteOutcome::Failed);
                }
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Pending => return Poll::Pending,
            }
        }
        match Pin::new(io).poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(WriteOutcome::Done),
            Poll::Ready(Err(_)) => Poll::Ready(WriteOutcome::Failed),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Appends an unmasked text frame header for a payload of `len` bytes (RFC 6455 5.2).
fn push_text_header(bytes: &mut Vec<u8>, len: usize) {
    bytes.push(TEXT_FRAME);
    if len < 126 {
        bytes.push(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        bytes.push(126);
        bytes.extend_from_slice(&len.to_be_bytes());
    } else {
        bytes.push(127);
        bytes.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::push_text_header;

    #[test]
    fn headers_use_the_shortest_length_form() {
        for (len, expected) in [
            (0usize, vec![0x81, 0]),
            (125, vec![0x81, 125]),
            (126, vec![0x81, 126, 0, 126]),
            (65_535, vec![0x81, 126, 0xff, 0xff]),
            (65_536, vec![0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] {
            let mut bytes = Vec::new();
            push_text_header(&mut bytes, len);
            assert_eq!(bytes, expected, "length {len}");
        }
    }
}
