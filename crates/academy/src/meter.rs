//! The comparison's meter: a [`WireLog`] handed to a client, so every byte its transport
//! reads or writes is counted where it crosses the socket (HTTP heads, chunk headers,
//! WebSocket and TCP frame headers included), with the HTTP requests written and the
//! responses read, and the bytes of one chosen exchange kept as a transcript.
//!
//! A client's link may still be finishing an exchange when its reply has reached the
//! application (the `204` of an SSE send, the next long poll, or just the count of a
//! write the server answered before the writing thread counted it), so
//! [`Meter::settle`] waits until the link is idle again: no socket write under way and
//! no HTTP request outstanding beyond the one a long-polling link keeps held.
//!
//! Bounds: a transcript keeps at most [`TRANSCRIPT_BYTES`]; a settle waits at most the
//! time it is given.

use std::{
    sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed, Ordering::SeqCst},
    time::Duration,
};

use parking_lot::Mutex;
use switchboard_client::wire::{Direction, WireLog};
use tokio::sync::Notify;

use crate::render::{Layout, frames};

/// Transcript bytes kept (the wire view shows one exchange).
pub(crate) const TRANSCRIPT_BYTES: usize = 8 * 1024;

/// What crossed the socket so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reading {
    /// Bytes written and read, together.
    pub(crate) bytes: u64,
    /// HTTP requests written.
    pub(crate) requests: u64,
}

#[derive(Debug, Default)]
struct Transcript {
    recording: bool,
    kept: usize,
    entries: Vec<(Direction, Vec<u8>)>,
}

/// Counts a client's traffic; see the module docs.
#[derive(Debug)]
pub(crate) struct Meter {
    layout: Layout,
    bytes: AtomicU64,
    requests: AtomicU64,
    responses: AtomicU64,
    /// Socket writes under way (started, not yet counted).
    writes: AtomicI64,
    transcript: Mutex<Transcript>,
    /// Woken on every count, for [`Meter::settle`].
    changed: Notify,
}

impl Meter {
    pub(crate) fn new(layout: Layout) -> Self {
        Self {
            layout,
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            writes: AtomicI64::new(0),
            transcript: Mutex::default(),
            changed: Notify::new(),
        }
    }

    pub(crate) fn reading(&self) -> Reading {
        Reading {
            bytes: self.bytes.load(Relaxed),
            requests: self.requests.load(Relaxed),
        }
    }

    /// Waits until no socket write is under way and no HTTP request is outstanding
    /// beyond `held` (1 for a long-polling link, whose poll waits on the server; 0
    /// otherwise), at most `within`.
    pub(crate) async fn settle(&self, held: u64, within: Duration) -> Result<(), String> {
        let idle = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                let outstanding = self
                    .requests
                    .load(Relaxed)
                    .saturating_sub(self.responses.load(Relaxed));
                if outstanding == held && self.writes.load(SeqCst) == 0 {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(within, idle).await.map_err(|_| {
            format!(
                "the link did not go idle within {within:?} ({} requests, {} responses)",
                self.requests.load(Relaxed),
                self.responses.load(Relaxed)
            )
        })
    }

    /// Starts a fresh transcript: what crosses from now on is kept.
    pub(crate) fn record(&self) {
        let mut transcript = self.transcript.lock();
        *transcript = Transcript {
            recording: true,
            ..Transcript::default()
        };
    }

    /// Stops keeping a transcript (the counts go on).
    pub(crate) fn stop_recording(&self) {
        self.transcript.lock().recording = false;
    }

    /// The transcript, consecutive bytes of one direction rendered together.
    pub(crate) fn transcript(&self) -> Vec<(Direction, String)> {
        self.transcript
            .lock()
            .entries
            .iter()
            .map(|(direction, bytes)| (*direction, frames(bytes, self.layout)))
            .collect()
    }
}

impl WireLog for Meter {
    /// The human rendering is `--show-wire`'s; the meter keeps the raw bytes instead.
    fn log(&self, _direction: Direction, _text: &str) {}

    fn counted(&self, direction: Direction, bytes: &[u8]) {
        self.bytes.fetch_add(bytes.len() as u64, Relaxed);
        {
            let mut transcript = self.transcript.lock();
            let room = TRANSCRIPT_BYTES.saturating_sub(transcript.kept);
            let kept = &bytes[..bytes.len().min(room)];
            if transcript.recording && !kept.is_empty() {
                transcript.kept += kept.len();
                match transcript.entries.last_mut() {
                    Some((last, buffer)) if *last == direction => buffer.extend_from_slice(kept),
                    _ => transcript.entries.push((direction, kept.to_vec())),
                }
            }
        }
        self.changed.notify_waiters();
    }

    fn request_sent(&self) {
        self.requests.fetch_add(1, Relaxed);
        self.changed.notify_waiters();
    }

    fn response_received(&self) {
        self.responses.fetch_add(1, Relaxed);
        self.changed.notify_waiters();
    }

    fn writing(&self, started: bool) {
        if started {
            self.writes.fetch_add(1, SeqCst);
        } else {
            self.writes.fetch_sub(1, SeqCst);
            self.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn counts_everything_and_records_only_when_asked() {
        let meter = Arc::new(Meter::new(Layout::Text));
        meter.counted(Direction::Sent, b"before ");
        meter.record();
        meter.counted(Direction::Sent, b"GET / HTTP/1.1\r\n");
        meter.counted(Direction::Sent, b"\r\n");
        meter.counted(Direction::Received, b"HTTP/1.1 204 No Content\r\n\r\n");
        meter.stop_recording();
        meter.counted(Direction::Sent, b"after");
        assert_eq!(meter.reading().bytes, 7 + 16 + 2 + 27 + 5);
        assert_eq!(
            meter.transcript(),
            [
                (Direction::Sent, "GET / HTTP/1.1\r\n\r\n".to_owned()),
                (
                    Direction::Received,
                    "HTTP/1.1 204 No Content\r\n\r\n".to_owned()
                )
            ]
        );
    }

    #[tokio::test]
    async fn settle_waits_for_the_outstanding_response() {
        let meter = Arc::new(Meter::new(Layout::Text));
        meter.request_sent();
        let short = meter.settle(0, Duration::from_millis(20)).await;
        assert!(short.is_err(), "one request is outstanding");
        let waiting = tokio::spawn({
            let meter = meter.clone();
            async move { meter.settle(0, Duration::from_secs(5)).await }
        });
        meter.writing(true);
        meter.response_received();
        assert!(
            meter.settle(0, Duration::from_millis(20)).await.is_err(),
            "a write is under way"
        );
        meter.writing(false);
        waiting.await.unwrap().unwrap();
        assert_eq!(meter.reading().requests, 1);
    }
}
