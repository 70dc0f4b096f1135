//! [`EdgeStream`]: an accepted HTTP socket with its admission slot, which reports to its
//! connection's [`StallWatch`] whether writes are getting through.
//!
//! Why a thread-local signal rather than a field: during the HTTP phase the socket is
//! owned by hyper, and after an upgrade by the WebSocket session (inside hyper's boxed
//! `Upgraded`), so the connection task cannot look at it. The socket is only ever
//! written while its owner's task is being polled, on that thread, so the connection
//! task clears the signal, polls hyper, and reads what this poll's writes reported. A
//! shared cell instead would cost every WebSocket an allocation for the life of the
//! connection; this costs nothing beyond the slot, and after an upgrade nobody reads it.
//!
//! Guarantees: a stream is as large as a `TcpStream` plus one pointer (the slot), so an
//! upgraded WebSocket's boxed socket grows by one pointer only.

use std::{
    cell::Cell,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
    time::{Instant, Sleep},
};

use super::admission::ConnectionSlot;

/// A write went through (some bytes taken) during this poll.
const PROGRESSED: u8 = 1;
/// The last write attempt of this poll found the socket full.
const BLOCKED: u8 = 2;

thread_local! {
    /// What the writes of the connection polled last on this thread reported.
    static WRITES: Cell<u8> = const { Cell::new(0) };
}

/// An accepted socket and, when admitted, its place in the caps (`None` for a
/// connection over a cap that is only answered, see [`super::http`]).
#[derive(Debug)]
pub(crate) struct EdgeStream {
    stream: TcpStream,
    _slot: Option<ConnectionSlot>,
}

impl EdgeStream {
    pub(crate) fn new(stream: TcpStream, slot: Option<ConnectionSlot>) -> Self {
        Self {
            stream,
            _slot: slot,
        }
    }
}

fn report<T>(poll: &Poll<io::Result<T>>, wrote: impl FnOnce(&T) -> bool) {
    match poll {
        Poll::Pending => WRITES.with(|w| w.set(w.get() | BLOCKED)),
        Poll::Ready(Ok(value)) if wrote(value) => WRITES.with(|w| w.set(PROGRESSED)),
        Poll::Ready(_) => {}
    }
}

impl AsyncRead for EdgeStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for EdgeStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        report(&poll, |n| *n > 0);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        report(&poll, |n| *n > 0);
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The write timeout of one HTTP connection: a timer that exists only while the
/// connection's writes are stuck, restarted whenever a write gets through.
#[derive(Debug)]
pub(crate) struct StallWatch {
    timeout: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl StallWatch {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            timer: None,
        }
    }

    /// Call right before polling the connection: forgets what other connections reported.
    pub(crate) fn before_poll(&self) {
        WRITES.with(|w| w.set(0));
    }

    /// Call right after polling the connection (when it is still pending): `Ready` once
    /// its writes have been stuck for the whole timeout.
    pub(crate) fn after_poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let writes = WRITES.with(|w| w.replace(0));
        if writes & BLOCKED != 0 {
            let deadline = Instant::now() + self.timeout;
            match &mut self.timer {
                Some(timer) if writes & PROGRESSED != 0 => timer.as_mut().reset(deadline),
                Some(_) => {}
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        } else if writes & PROGRESSED != 0 {
            self.timer = None;
        }
        match &mut self.timer {
            Some(timer) => timer.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upgraded WebSocket's socket is boxed with this inside: it may grow by the slot only.
    #[test]
    fn a_stream_is_a_tcp_stream_and_a_pointer() {
        assert_eq!(
            std::mem::size_of::<EdgeStream>(),
            std::mem::size_of::<TcpStream>() + 8
        );
    }
}
