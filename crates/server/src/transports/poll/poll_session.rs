//! Polling sessions: a hub connection that lives between requests, its cursor and the
//! messages handed out but not yet acknowledged, and the store that finds them by id.
//!
//! Guarantees:
//! - At-least-once between polls: a message taken from the outbox gets the next cursor
//!   number and stays *pending* until a poll acknowledges a cursor at or past it, and
//!   every response repeats all pending messages first. A response lost on the wire is
//!   therefore delivered again (a duplicate is recognisable by its `seq`).
//! - Bounded: pending holds at most one response's worth ([`ResponseBounds`]: `max_batch`
//!   messages and `max_response_bytes`, overshot by at most one message); the rest waits
//!   in the hub's bounded outbox, whose overflow closes the session as a slow consumer.
//! - A response carries pending messages oldest first up to the byte bound, and always
//!   at least one (a message larger than the bound goes alone, so nothing is stuck); its
//!   cursor acknowledges exactly what it carries, and the rest comes in the next poll.
//! - One poll at a time per session ([`PollSession::begin`]); a session being polled is
//!   never expired.
//! - Sessions per client address are capped; the count is released when a session ends.

use std::{
    collections::{HashMap, VecDeque},
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

// parking_lot, as in the hub and the client: no poisoning to undo (every critical
// section here is a few field updates), and a one-byte lock per session.
use parking_lot::Mutex;
use switchboard_hub::{Connection, ConnectionId, Delivery};

/// How much one poll response may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResponseBounds {
    pub(crate) messages: usize,
    pub(crate) bytes: usize,
}

/// One polling session.
#[derive(Debug)]
pub(crate) struct PollSession {
    connection: Arc<Connection>,
    /// The secret every response repeats (issued once at open; a poll proved it already).
    token: Box<str>,
    addr: IpAddr,
    state: Mutex<SessionState>,
    /// True while a poll holds the session: the outbox has one consumer at a time.
    polling: AtomicBool,
}

#[derive(Debug)]
struct SessionState {
    /// Handed out, not yet acknowledged, with their cursor numbers, oldest first.
    pending: VecDeque<(u64, Arc<Delivery>)>,
    /// The JSON bytes of `pending`.
    pending_bytes: usize,
    /// The last cursor number handed out.
    issued: u64,
    last_seen: Instant,
}

/// Releases a session's poll slot (and marks it seen) when the poll ends, however it ends.
#[derive(Debug)]
pub(crate) struct PollGuard<'a> {
    session: &'a PollSession,
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.session.state.lock().last_seen = Instant::now();
        self.session.polling.store(false, Ordering::Release);
    }
}

impl PollSession {
    pub(crate) fn new(connection: Arc<Connection>, addr: IpAddr, token: String) -> Self {
        Self {
            connection,
            token: token.into_boxed_str(),
            addr,
            state: Mutex::new(SessionState {
                pending: VecDeque::new(),
                pending_bytes: 0,
                issued: 0,
                last_seen: Instant::now(),
            }),
            polling: AtomicBool::new(false),
        }
    }

    pub(crate) fn connection(&self) -> &Arc<Connection> {
        &self.connection
    }

    /// The session's `session_token`.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// Claims the session for one poll; `None` when another poll holds it.
    pub(crate) fn begin(&self) -> Option<PollGuard<'_>> {
        self.polling
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        self.state.lock().last_seen = Instant::now();
        Some(PollGuard { session: self })
    }

    /// Drops pending messages up to `cursor`. Err(last issued) when `cursor` is ahead
    /// of anything handed out.
    pub(crate) fn acknowledge(&self, cursor: u64) -> Result<(), u64> {
        let mut state = self.state.lock();
        if cursor > state.issued {
            return Err(state.issued);
        }
        while state.pending.front().is_some_and(|(n, _)| *n <= cursor) {
            if let Some((_, delivery)) = state.pending.pop_front() {
                state.pending_bytes -= delivery.json.len();
            }
        }
        Ok(())
    }

    /// How many more messages the next response can take from the outbox: none once
    /// pending holds `bounds.bytes`, so pending overshoots it by one message at most
    /// when they are taken one at a time.
    pub(crate) fn room(&self, bounds: ResponseBounds) -> usize {
        let state = self.state.lock();
        if state.pending_bytes >= bounds.bytes {
            return 0;
        }
        bounds.messages.saturating_sub(state.pending.len())
    }

    /// Numbers `fresh` deliveries and makes them pending.
    pub(crate) fn extend(&self, fresh: impl IntoIterator<Item = Arc<Delivery>>) {
        let mut state = self.state.lock();
        for delivery in fresh {
            state.issued += 1;
            let n = state.issued;
            state.pending_bytes += delivery.json.len();
            state.pending.push_back((n, delivery));
        }
    }

    /// What a response carries: pending messages, oldest first, up to `max_bytes` of
    /// JSON (at least one), and the cursor that acknowledges exactly those.
    pub(crate) fn response(&self, max_bytes: usize) -> (Vec<Arc<Delivery>>, u64) {
        let state = self.state.lock();
        let mut messages = Vec::new();
        let mut bytes = 0usize;
        let mut cursor = state.issued;
        for (n, delivery) in &state.pending {
            let size = delivery.json.len();
            if !messages.is_empty() && bytes + size > max_bytes {
                break;
            }
            bytes += size;
            cursor = *n;
            messages.push(delivery.clone());
        }
        if messages.len() == state.pending.len() {
            cursor = state.issued;
        }
        (messages, cursor)
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.state.lock().pending.is_empty()
    }

    fn expired(&self, grace: Duration) -> bool {
        !self.polling.load(Ordering::Acquire) && self.state.lock().last_seen.elapsed() > grace
    }
}

/// Every polling session, by connection id, with the per-address counts.
#[derive(Debug)]
pub(crate) struct Sessions {
    inner: Mutex<Store>,
    max_per_addr: usize,
}

#[derive(Debug, Default)]
struct Store {
    sessions: HashMap<ConnectionId, Arc<PollSession>>,
    per_addr: HashMap<IpAddr, usize>,
}

/// The address already holds the maximum number of sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AddressFull(pub(crate) usize);

impl Sessions {
    pub(crate) fn new(max_per_addr: usize) -> Self {
        Self {
            inner: Mutex::new(Store::default()),
            max_per_addr,
        }
    }

    /// Reserves a session slot for `addr`, to be filled with [`Sessions::insert`] (which
    /// cannot fail, so a reserved slot is never left empty).
    pub(crate) fn reserve(&self, addr: IpAddr) -> Result<(), AddressFull> {
        let mut store = self.inner.lock();
        let count = store.per_addr.entry(addr).or_default();
        if *count >= self.max_per_addr {
            return Err(AddressFull(self.max_per_addr));
        }
        *count += 1;
        Ok(())
    }

    /// Adds a session into a slot reserved for its address.
    pub(crate) fn insert(&self, session: Arc<PollSession>) {
        let id = session.connection.id().clone();
        self.inner.lock().sessions.insert(id, session);
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<PollSession>> {
        self.inner.lock().sessions.get(id).cloned()
    }

    /// Forgets a session and frees its address slot; `None` if it was already gone.
    pub(crate) fn remove(&self, id: &ConnectionId) -> Option<Arc<PollSession>> {
        let mut store = self.inner.lock();
        let session = store.sessions.remove(id)?;
        Self::release_locked(&mut store, session.addr);
        Some(session)
    }

    fn release_locked(store: &mut Store, addr: IpAddr) {
        if let Some(count) = store.per_addr.get_mut(&addr) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                store.per_addr.remove(&addr);
            }
        }
    }

    /// Removes and returns the sessions idle for longer than `grace`.
    pub(crate) fn take_expired(&self, grace: Duration) -> Vec<Arc<PollSession>> {
        let mut store = self.inner.lock();
        let expired: Vec<ConnectionId> = store
            .sessions
            .iter()
            .filter(|(_, s)| s.expired(grace))
            .map(|(id, _)| id.clone())
            .collect();
        let mut taken = Vec::with_capacity(expired.len());
        for id in expired {
            if let Some(session) = store.sessions.remove(&id) {
                Self::release_locked(&mut store, session.addr);
                taken.push(session);
            }
        }
        taken
    }

    /// Removes and returns every session (at shutdown).
    pub(crate) fn take_all(&self) -> Vec<Arc<PollSession>> {
        let mut store = self.inner.lock();
        store.per_addr.clear();
        store.sessions.drain().map(|(_, s)| s).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use switchboard_hub::{Hub, HubConfig, Transport};
    use switchboard_protocol::ServerMessage;

    use super::*;

    fn pong(ts: u64) -> Arc<Delivery> {
        Delivery::reply(&ServerMessage::Pong { id: None, ts })
    }

    fn session() -> PollSession {
        let hub = Hub::memory(HubConfig::default());
        let connection = hub.connect(Transport::LongPoll, None);
        PollSession::new(connection, IpAddr::V4(Ipv4Addr::LOCALHOST), String::new())
    }

    const UNBOUNDED: usize = usize::MAX;

    fn bounds(messages: usize) -> ResponseBounds {
        ResponseBounds {
            messages,
            bytes: UNBOUNDED,
        }
    }

    #[test]
    fn pending_until_acknowledged_then_dropped() {
        let session = session();
        session.extend([pong(1), pong(2)]);
        assert_eq!(session.response(UNBOUNDED).1, 2);
        // No ack, or an old one: everything is delivered again.
        session.acknowledge(0).unwrap();
        session.extend([pong(3)]);
        let (messages, cursor) = session.response(UNBOUNDED);
        assert_eq!((messages.len(), cursor), (3, 3));
        // A partial ack drops exactly what it covers.
        session.acknowledge(2).unwrap();
        assert_eq!(session.response(UNBOUNDED).0.len(), 1);
        assert_eq!(session.room(bounds(2)), 1);
        session.acknowledge(3).unwrap();
        assert!(!session.has_pending());
        assert_eq!(session.acknowledge(4), Err(3));
    }

    #[test]
    fn a_response_stops_at_the_byte_bound_and_its_cursor_covers_only_what_it_carries() {
        let session = session();
        let one = pong(1).json.len();
        session.extend([pong(1), pong(2), pong(3)]);
        // Room for two messages' bytes: two go, the cursor acknowledges those two.
        let (messages, cursor) = session.response(2 * one);
        assert_eq!((messages.len(), cursor), (2, 2));
        session.acknowledge(cursor).unwrap();
        let (messages, cursor) = session.response(2 * one);
        assert_eq!((messages.len(), cursor), (1, 3));
        // A bound smaller than one message still lets one through, alone.
        session.extend([pong(4)]);
        let (messages, cursor) = session.response(1);
        assert_eq!((messages.len(), cursor), (1, 3));
        // Pending full by bytes: nothing more is taken from the outbox.
        let full = ResponseBounds {
            messages: 100,
            bytes: 2 * one,
        };
        assert_eq!(session.room(full), 0);
        session.acknowledge(4).unwrap();
        assert_eq!(session.room(full), 100);
    }

    #[test]
    fn one_poll_at_a_time_and_never_expired_while_polling() {
        let session = session();
        let guard = session.begin().unwrap();
        assert!(session.begin().is_none());
        assert!(!session.expired(Duration::ZERO));
        drop(guard);
        std::thread::sleep(Duration::from_millis(2));
        assert!(session.expired(Duration::from_millis(1)));
        assert!(session.begin().is_some());
    }

    #[test]
    fn address_slots_are_bounded_and_given_back() {
        let sessions = Sessions::new(1);
        let addr = IpAddr::V4(Ipv4Addr::LOCALHOST);
        sessions.reserve(addr).unwrap();
        assert_eq!(sessions.reserve(addr), Err(AddressFull(1)));
        let session = Arc::new(session());
        let id = session.connection().id().clone();
        sessions.insert(session);
        assert!(sessions.get(id.as_str()).is_some());
        assert!(sessions.remove(&id).is_some());
        assert!(sessions.remove(&id).is_none());
        sessions.reserve(addr).unwrap();
    }
}
