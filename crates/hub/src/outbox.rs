//! The bounded outbound queue every connection has, and its slow-consumer policy.
//!
//! The hub pushes into an outbox without ever waiting (pushes happen under a channel's
//! lock during fan-out); the connection's transport task drains it. The queue is bounded
//! twice, by message count and by bytes. When a push would exceed either bound the
//! connection is a *slow consumer*: its queue is dropped at once (memory comes back
//! immediately) and the outbox closes with [`CloseCode::SlowConsumer`]. The client then
//! reconnects and resumes with `since`, recovering from history what it missed, so a slow
//! reader costs itself a reconnect and costs nobody else anything.
//!
//! Messages recovered from history on resume (`push_replay`) are bounded separately, by
//! the replay limit: they are the same allocations history already holds (a pointer each),
//! so a client coming back from a long absence can recover a full history without being
//! taken for a slow consumer, while the live queue keeps its tight bound.
//!
//! An empty outbox holds no heap memory beyond its own struct: the queue allocates on
//! first use, which keeps idle connections cheap.

use std::{
    collections::VecDeque,
    sync::Arc,
    task::{Context, Poll},
};

use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use switchboard_protocol::CloseCode;

use crate::delivery::Delivery;

/// What happened to a pushed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// The message was queued, within the outbox's bounds.
    Queued,
    /// The outbox was already closed; the message was dropped.
    Closed,
    /// This push overflowed the queue: the queue was dropped and the outbox closed.
    Overflowed,
}

/// A bounded, single-consumer queue of deliveries.
#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    /// The waiting consumer's waker. One slot, not a `Notify`: an outbox has one consumer
    /// at a time (its transport task, or the one poll request a polling session allows),
    /// and the slot is 8 bytes smaller per connection and keeps no waiter list.
    consumer: AtomicWaker,
    max_messages: u32,
    max_bytes: u32,
    max_replay: u32,
}

#[derive(Debug, Default)]
struct State {
    /// Deliveries in order; the flag marks those recovered from history.
    queue: VecDeque<(Arc<Delivery>, bool)>,
    /// Bytes and count of the live (not replayed) deliveries queued (each under its
    /// `u32` bound, so `u32` holds them: 12 bytes less per connection).
    bytes: u32,
    live: u32,
    replayed: u32,
    closed: Option<CloseCode>,
    /// A consumer found nothing and is parked until a push, a close or a wake (see
    /// [`Outbox::has_waiting_consumer`]).
    consumer_waiting: bool,
}

impl Outbox {
    /// An outbox whose live queue holds at most `max_messages` deliveries and `max_bytes`
    /// bytes; replayed deliveries are bounded by `max_messages` too (see [`Outbox::with_replay_limit`]).
    pub fn new(max_messages: usize, max_bytes: usize) -> Self {
        let max_messages = max_messages.min(u32::MAX as usize) as u32;
        Self {
            state: Mutex::new(State::default()),
            consumer: AtomicWaker::new(),
            max_messages,
            max_bytes: max_bytes.min(u32::MAX as usize) as u32,
            max_replay: max_messages,
        }
    }

    /// Sets how many replayed (history) deliveries may be queued at once.
    pub fn with_replay_limit(mut self, max_replay: usize) -> Self {
        self.max_replay = max_replay.min(u32::MAX as usize) as u32;
        self
    }

    /// Queues a live `delivery` without waiting, applying the slow-consumer policy.
    pub fn push(&self, delivery: Arc<Delivery>) -> Push {
        self.push_entry(delivery, false)
    }

    /// Queues a delivery recovered from history (counted against the replay limit).
    pub fn push_replay(&self, delivery: Arc<Delivery>) -> Push {
        self.push_entry(delivery, true)
    }

    fn push_entry(&self, delivery: Arc<Delivery>, replay: bool) -> Push {
        let mut state = self.state.lock();
        if state.closed.is_some() {
            return Push::Closed;
        }
        let overflow = if replay {
            state.replayed >= self.max_replay
        } else {
            state.live >= self.max_messages
                || state.bytes as usize + delivery.cost() > self.max_bytes as usize
        };
        if overflow {
            state.queue = VecDeque::new();
            state.bytes = 0;
            state.live = 0;
            state.replayed = 0;
            state.closed = Some(CloseCode::SlowConsumer);
            drop(state);
            self.wake_consumers();
            return Push::Overflowed;
        }
        if replay {
            state.replayed += 1;
        } else {
            state.live += 1;
            // Fits: the check above kept the total under `max_bytes`, a `u32`.
            state.bytes += delivery.cost() as u32;
        }
        state.queue.push_back((delivery, replay));
        let was_empty = state.queue.len() == 1;
        drop(state);
        if was_empty {
            self.wake_consumers();
        }
        Push::Queued
    }

    /// Closes the outbox. Messages already queued are still handed out (so a shutdown
    /// flushes them); later pushes are dropped. The first reason given wins.
    pub fn close(&self, reason: CloseCode) {
        let mut state = self.state.lock();
        if state.closed.is_none() {
            state.closed = Some(reason);
        }
        drop(state);
        self.wake_consumers();
    }

    fn wake_consumers(&self) {
        self.consumer.wake();
    }

    /// Wakes a polling consumer without queueing anything (a shared heartbeat ticker
    /// uses this so that idle connections need no timer of their own).
    pub fn wake(&self) {
        self.consumer.wake();
    }

    /// Moves up to `max` queued deliveries into `batch` without waiting.
    /// Returns the close reason once the queue is empty and the outbox closed.
    pub fn drain_into(&self, batch: &mut Vec<Arc<Delivery>>, max: usize) -> Option<CloseCode> {
        Self::drain_locked(&mut self.state.lock(), batch, max)
    }

    fn drain_locked(
        state: &mut State,
        batch: &mut Vec<Arc<Delivery>>,
        max: usize,
    ) -> Option<CloseCode> {
        let take = state.queue.len().min(max);
        for (delivery, replay) in state.queue.drain(..take) {
            if replay {
                state.replayed -= 1;
            } else {
                state.live -= 1;
                state.bytes -= delivery.cost() as u32;
            }
            batch.push(delivery);
        }
        if state.queue.is_empty() {
            // An empty queue holds no memory: most connections are idle most of the
            // time, and keeping even the few slots `welcome` needed costs 64 bytes each.
            if state.queue.capacity() > 0 {
                state.queue = VecDeque::new();
            }
            if batch.is_empty() {
                return state.closed;
            }
        }
        None
    }

    /// Waits until at least one delivery is queued (moving up to `max` into `batch`) or
    /// the outbox is closed and empty (returning the reason). Cancel-safe.
    pub async fn next_batch(
        &self,
        batch: &mut Vec<Arc<Delivery>>,
        max: usize,
    ) -> Option<CloseCode> {
        // A waiter dropped while parked (a `select!` that took another branch) is no
        // longer waiting.
        let mut parked = Parked {
            outbox: self,
            armed: false,
        };
        std::future::poll_fn(|cx| {
            let poll = self.poll_next_batch(cx, batch, max);
            parked.armed = poll.is_pending();
            poll
        })
        .await
    }

    /// The polling form of [`Outbox::next_batch`] for one consumer: `Ready(None)` with
    /// deliveries moved into `batch`, `Ready(Some(reason))` once closed and drained, or
    /// `Pending` with the task's waker registered (woken by a push, a close or [`Outbox::wake`]).
    pub fn poll_next_batch(
        &self,
        cx: &mut Context<'_>,
        batch: &mut Vec<Arc<Delivery>>,
        max: usize,
    ) -> Poll<Option<CloseCode>> {
        // Registered before looking, so a push between the look and the return wakes us.
        self.consumer.register(cx.waker());
        let mut state = self.state.lock();
        let closed = Self::drain_locked(&mut state, batch, max);
        state.consumer_waiting = closed.is_none() && batch.is_empty();
        match closed {
            Some(reason) => Poll::Ready(Some(reason)),
            None if batch.is_empty() => Poll::Pending,
            None => Poll::Ready(None),
        }
    }

    /// Whether the consumer is parked right now, waiting for a delivery (from a
    /// `Pending` of [`Outbox::poll_next_batch`] until its next poll, or until a
    /// [`Outbox::next_batch`] future is dropped). Lets a test or a diagnostic know that
    /// a transport is waiting (a long poll held, say) instead of sleeping and hoping.
    pub fn has_waiting_consumer(&self) -> bool {
        self.state.lock().consumer_waiting
    }

    /// The close reason, if the outbox is closed.
    pub fn closed(&self) -> Option<CloseCode> {
        self.state.lock().closed
    }

    /// Queued messages right now.
    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// True when nothing is queued right now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Clears [`State::consumer_waiting`] when a parked [`Outbox::next_batch`] is dropped.
struct Parked<'a> {
    outbox: &'a Outbox,
    armed: bool,
}

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.outbox.state.lock().consumer_waiting = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn delivery(text: &'static str) -> Arc<Delivery> {
        Arc::new(Delivery {
            kind: "message",
            position: None,
            json: Bytes::from_static(text.as_bytes()),
        })
    }

    #[tokio::test]
    async fn delivers_in_order_and_flushes_before_close() {
        let outbox = Outbox::new(10, 1000);
        assert_eq!(outbox.push(delivery("1")), Push::Queued);
        assert_eq!(outbox.push(delivery("2")), Push::Queued);
        outbox.close(CloseCode::GoingAway);
        assert_eq!(outbox.push(delivery("3")), Push::Closed);
        let mut batch = Vec::new();
        assert_eq!(outbox.next_batch(&mut batch, 10).await, None);
        let texts: Vec<_> = batch.iter().map(|d| d.text().to_owned()).collect();
        assert_eq!(texts, ["1", "2"]);
        batch.clear();
        assert_eq!(
            outbox.next_batch(&mut batch, 10).await,
            Some(CloseCode::GoingAway)
        );
    }

    #[tokio::test]
    async fn overflow_by_count_drops_queue_and_closes() {
        let outbox = Outbox::new(2, 1000);
        outbox.push(delivery("1"));
        outbox.push(delivery("2"));
        assert_eq!(outbox.push(delivery("3")), Push::Overflowed);
        assert!(outbox.is_empty());
        let mut batch = Vec::new();
        assert_eq!(
            outbox.next_batch(&mut batch, 10).await,
            Some(CloseCode::SlowConsumer)
        );
    }

    #[test]
    fn replayed_deliveries_have_their_own_bound() {
        let outbox = Outbox::new(2, 1000).with_replay_limit(3);
        for _ in 0..3 {
            assert_eq!(outbox.push_replay(delivery("old")), Push::Queued);
        }
        // The live queue is still empty, so live messages are accepted...
        assert_eq!(outbox.push(delivery("new")), Push::Queued);
        assert_eq!(outbox.push(delivery("new")), Push::Queued);
        assert_eq!(outbox.len(), 5);
        // ...and each bound still holds on its own.
        assert_eq!(outbox.push_replay(delivery("old")), Push::Overflowed);
    }

    #[test]
    fn draining_frees_the_right_bound() {
        let outbox = Outbox::new(1, 1000).with_replay_limit(1);
        assert_eq!(outbox.push_replay(delivery("old")), Push::Queued);
        assert_eq!(outbox.push(delivery("new")), Push::Queued);
        let mut batch = Vec::new();
        outbox.drain_into(&mut batch, 10);
        assert_eq!(outbox.push_replay(delivery("old")), Push::Queued);
        assert_eq!(outbox.push(delivery("new")), Push::Queued);
    }

    #[test]
    fn overflow_by_bytes() {
        let outbox = Outbox::new(100, 5);
        assert_eq!(outbox.push(delivery("abc")), Push::Queued);
        assert_eq!(outbox.push(delivery("abc")), Push::Overflowed);
    }

    #[tokio::test]
    async fn wakes_a_waiting_consumer() {
        let outbox = Arc::new(Outbox::new(10, 1000));
        let waiter = {
            let outbox = outbox.clone();
            tokio::spawn(async move {
                let mut batch = Vec::new();
                outbox.next_batch(&mut batch, 10).await;
                batch.len()
            })
        };
        // The push must find the consumer parked, or this tests nothing but a queue.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while !outbox.has_waiting_consumer() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the consumer never parked"
            );
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished());
        outbox.push(delivery("x"));
        let taken = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the push woke the consumer");
        assert_eq!(taken.unwrap(), 1);
        assert!(!outbox.has_waiting_consumer());
    }

    /// A parked consumer's waker is called by a push, exactly once, and the next poll
    /// takes the delivery.
    #[test]
    fn a_push_wakes_the_parked_waker() {
        struct CountingWaker(std::sync::atomic::AtomicUsize);
        impl std::task::Wake for CountingWaker {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let counter = Arc::new(CountingWaker(Default::default()));
        let waker = std::task::Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let outbox = Outbox::new(10, 1000);
        let mut batch = Vec::new();
        assert!(outbox.poll_next_batch(&mut cx, &mut batch, 10).is_pending());
        assert!(outbox.has_waiting_consumer());
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::SeqCst), 0);
        outbox.push(delivery("x"));
        assert_eq!(counter.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(
            outbox.poll_next_batch(&mut cx, &mut batch, 10),
            Poll::Ready(None)
        );
        assert_eq!(batch.len(), 1);
        assert!(!outbox.has_waiting_consumer());
    }

    #[tokio::test]
    async fn a_dropped_waiter_is_no_longer_waiting() {
        let outbox = Outbox::new(10, 1000);
        let mut batch = Vec::new();
        let waited = tokio::time::timeout(
            std::time::Duration::from_millis(10),
            outbox.next_batch(&mut batch, 10),
        )
        .await;
        assert!(waited.is_err());
        assert!(!outbox.has_waiting_consumer());
    }
}
