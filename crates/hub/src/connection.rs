//! Connections: one per client (a socket, or a polling session), with a unique id, its
//! own counters, its subscriptions and its outbox; and the registry that finds them.

use std::{
    collections::HashSet,
    hash::{Hash, Hasher},
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::Instant,
};

use parking_lot::{Mutex, RwLock};
use smallvec::SmallVec;
use switchboard_protocol::{ChannelName, CloseCode, server::Transport};

use crate::{
    delivery::Delivery,
    outbox::{Outbox, Push},
    rate::{Admission, RateLimit, TokenBucket},
    stats::HubCounters,
};

/// A connection id: a random UUID (v4). It is public (other clients see it in `from`,
/// presence and stats) and grants nothing: the HTTP transports' credential is a separate
/// session token, issued and checked by the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(Arc<str>);

impl ConnectionId {
    /// A fresh id: a random v4 UUID in its hyphenated form (36 ASCII characters).
    pub fn random() -> Self {
        Self(Arc::from(uuid::Uuid::new_v4().hyphenated().to_string()))
    }

    /// The id as text, as sent to the client in `welcome` and accepted back in URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ConnectionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who is on a connection, when its client authenticated (an auth token's claims, checked
/// by the server before the connection opens). Anonymous connections have none.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The user id (the token's `sub`): `welcome` announces it, and the connection's chat
    /// `user` and presence entries carry it whatever the client writes.
    pub user: String,
    /// Public data about the user (the token's `info` claim), shown in presence entries.
    pub info: Option<serde_json::Value>,
}

/// A connection's channels: most hold two (`broadcast` and one of their own), so two fit
/// inline and an idle connection needs no separate allocation for them.
pub(crate) type Subscriptions = SmallVec<[ChannelName; 2]>;

/// One client connection, shared by its transport task and the hub.
///
/// Its size is part of every idle connection's cost (see docs/benchmarks.md), hence
/// the compact fields (`opened_ms`, the inline subscriptions, the outbox's `u32`s).
#[derive(Debug)]
pub struct Connection {
    id: ConnectionId,
    transport: Transport,
    remote: Option<SocketAddr>,
    /// When it opened, in milliseconds after the hub started (half an `Instant`).
    opened_ms: u64,
    outbox: Outbox,
    pub(crate) subscriptions: Mutex<Subscriptions>,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    disconnected: AtomicBool,
    counters: Arc<HubCounters>,
    rate: Mutex<TokenBucket>,
    /// Boxed: one pointer on every connection, anonymous ones included (the size guard
    /// below counts it).
    identity: Option<Box<Identity>>,
}

impl Connection {
    pub(crate) fn new(
        transport: Transport,
        remote: Option<SocketAddr>,
        opened_ms: u64,
        outbox: Outbox,
        counters: Arc<HubCounters>,
        rate: TokenBucket,
        identity: Option<Identity>,
    ) -> Self {
        Self {
            id: ConnectionId::random(),
            transport,
            remote,
            opened_ms,
            outbox,
            subscriptions: Mutex::new(Subscriptions::new()),
            messages_in: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            disconnected: AtomicBool::new(false),
            counters,
            rate: Mutex::new(rate),
            identity: identity.map(Box::new),
        }
    }

    /// The connection's id, unique and public (see [`ConnectionId`]).
    pub fn id(&self) -> &ConnectionId {
        &self.id
    }

    /// Who authenticated on this connection; `None` when it is anonymous.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_deref()
    }

    /// The authenticated user id, if any (see [`Identity::user`]).
    pub fn user(&self) -> Option<&str> {
        self.identity().map(|identity| identity.user.as_str())
    }

    /// The transport the client connected with; fixed for the connection's life.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The client's socket address as the server saw it (no proxy headers are read);
    /// `None` when the transport had none to give.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    /// When the connection opened, in milliseconds after the hub started.
    pub fn opened_ms(&self) -> u64 {
        self.opened_ms
    }

    /// The queue the transport drains.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Queues a delivery for this connection (never waits). Counts it, and applies the
    /// slow-consumer policy: an overflow closes the connection.
    pub fn send(&self, delivery: Arc<Delivery>) -> Push {
        self.count_push(self.outbox.push(delivery))
    }

    /// Queues a delivery recovered from history (see [`Outbox::push_replay`]).
    pub fn send_replay(&self, delivery: Arc<Delivery>) -> Push {
        self.count_push(self.outbox.push_replay(delivery))
    }

    fn count_push(&self, result: Push) -> Push {
        match result {
            Push::Queued => {
                self.messages_out.fetch_add(1, Relaxed);
            }
            Push::Overflowed => {
                self.counters
                    .slow_consumer_disconnects
                    .fetch_add(1, Relaxed);
                tracing::info!(connection = %self.id, transport = %self.transport, "slow consumer: outbox overflowed, closing");
            }
            Push::Closed => {}
        }
        result
    }

    /// Asks the transport to close the connection with `reason` after flushing what is queued.
    pub fn close(&self, reason: CloseCode) {
        self.outbox.close(reason);
    }

    /// Messages this client has sent, counted before the rate limit, size check and
    /// parsing (so dropped and malformed ones count too).
    pub fn messages_in(&self) -> u64 {
        self.messages_in.load(Relaxed)
    }

    /// Messages queued to this client (replies, errors, channel messages, events); a
    /// push that found the outbox closed or overflowed it is not counted.
    pub fn messages_out(&self) -> u64 {
        self.messages_out.load(Relaxed)
    }

    /// Applies the connection's rate limit to one incoming message.
    pub(crate) fn admit(&self, limit: &RateLimit) -> Admission {
        self.rate.lock().admit(limit, Instant::now())
    }

    pub(crate) fn count_in(&self) {
        self.messages_in.fetch_add(1, Relaxed);
        self.counters.messages_in.fetch_add(1, Relaxed);
    }

    /// The channels the connection is subscribed to right now (a copy, in the order it
    /// joined them).
    pub fn subscriptions(&self) -> Vec<ChannelName> {
        self.subscriptions.lock().to_vec()
    }

    /// Whether the connection is subscribed to `channel` right now.
    pub fn is_subscribed(&self, channel: &ChannelName) -> bool {
        self.subscriptions.lock().contains(channel)
    }

    /// Marks the connection gone; true only for the first call.
    pub(crate) fn mark_disconnected(&self) -> bool {
        !self.disconnected.swap(true, Relaxed)
    }
}

/// A registry entry: the connection itself, found by its id. A set of these rather than
/// a map from id to connection keeps each slot one pointer wide (8 bytes, not 24).
#[derive(Debug)]
struct ById(Arc<Connection>);

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

impl Eq for ById {}

impl Hash for ById {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that lookups by `&str` (through `Borrow`) find it.
        self.0.id().as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for ById {
    fn borrow(&self) -> &str {
        self.0.id().as_str()
    }
}

/// All open connections, by id.
#[derive(Debug, Default)]
pub struct Registry {
    connections: RwLock<HashSet<ById>>,
}

impl Registry {
    /// Adds a connection (replacing any entry with the same id, which a random UUID makes
    /// impossible in practice).
    pub fn insert(&self, connection: Arc<Connection>) {
        self.connections.write().replace(ById(connection));
    }

    /// Removes the connection with `id`, returning it if it was registered.
    pub fn remove(&self, id: &ConnectionId) -> Option<Arc<Connection>> {
        self.connections
            .write()
            .take(id.as_str())
            .map(|entry| entry.0)
    }

    /// The open connection whose id is `id` (as text, straight from a request), if any.
    pub fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.connections.read().get(id).map(|entry| entry.0.clone())
    }

    /// How many connections are registered right now.
    pub fn len(&self) -> usize {
        self.connections.read().len()
    }

    /// True when no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every registered connection, taken under the read lock and returned
    /// without it, so the caller may do slow work (or touch the registry) with each.
    pub fn all(&self) -> Vec<Arc<Connection>> {
        self.connections
            .read()
            .iter()
            .map(|entry| entry.0.clone())
            .collect()
    }

    /// Calls `visit` for every open connection, under the registry's read lock (so
    /// `visit` must be quick and must not touch the registry).
    pub fn for_each(&self, mut visit: impl FnMut(&Arc<Connection>)) {
        self.connections
            .read()
            .iter()
            .for_each(|entry| visit(&entry.0));
    }
}

#[cfg(test)]
mod tests {
    use super::Connection;

    /// `Arc<Connection>` is one allocation per connection: at 280 bytes (296 with the
    /// counts) it takes glibc's 304-byte chunk; 8 bytes more would take the 320-byte one.
    #[test]
    fn a_connection_stays_small() {
        let size = std::mem::size_of::<Connection>();
        assert!(size <= 280, "Connection is {size} bytes");
    }
}
