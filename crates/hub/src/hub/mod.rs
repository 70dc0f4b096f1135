//! The facade every transport talks to: open a connection, hand it client messages,
//! disconnect it; plus stats, server-side publishing (feeds) and shutdown. What happens
//! to each client message is in `dispatch`.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use switchboard_protocol::{
    BROADCAST_CHANNEL, ChannelName, ClientMessage, CloseCode, PROTOCOL_VERSION, ProtocolError,
    SERVER_NAME, ServerMessage,
    channel::MAX_CHANNEL_NAME_LEN,
    delivery::Body,
    now_ms,
    server::{ClientStats, Limits, ServerStats, Transport},
};

use crate::{
    broker::{Broker, BrokerError, MemoryBroker, Published},
    config::{HubConfig, STATS_TOP_CHANNELS},
    connection::{Connection, Identity, Registry},
    delivery::Delivery,
    outbox::Outbox,
    rate::{RateLimit, TokenBucket},
    stats::HubCounters,
};

/// The transport's keepalive settings, announced in `welcome`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// How often the server sends a heartbeat on this transport, in milliseconds; 0 when
    /// the transport sends none (polling).
    pub heartbeat_interval_ms: u64,
    /// How long the server waits without hearing from the client before it closes the
    /// connection, in milliseconds; 0 when the transport has no idle timeout (SSE).
    pub idle_timeout_ms: u64,
}

/// A channel to join when a connection opens, optionally resuming.
#[derive(Debug, Clone)]
pub struct InitialSubscription {
    /// The channel to join.
    pub channel: ChannelName,
    /// Resume after this sequence number (missed messages still in history are
    /// replayed); `None` joins at the live end.
    pub since: Option<u64>,
    /// The epoch `since` belongs to; if it is not the hub's, the client is told its
    /// history is gone (`gap`, `epoch_changed`).
    pub epoch: Option<String>,
}

impl InitialSubscription {
    /// Joins `channel` at the live end, without resuming.
    pub fn new(channel: ChannelName) -> Self {
        Self {
            channel,
            since: None,
            epoch: None,
        }
    }
}

/// The hub. Cheap to share (`Arc<Hub>`); every method is safe to call concurrently.
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    broker: Arc<dyn Broker>,
    registry: Registry,
    counters: Arc<HubCounters>,
    /// Every connection's rate limit (from the config; each keeps only its bucket).
    rate_limit: RateLimit,
    started: Instant,
    broadcast: ChannelName,
    shutting_down: AtomicBool,
    /// Set when shutdown is announced but connections are still served (the drain).
    draining: AtomicBool,
}

impl Hub {
    /// A hub with the in-memory broker; inside a tokio runtime, it also starts the
    /// broker's periodic history sweep (see [`MemoryBroker::spawn_sweeper`]).
    pub fn memory(config: HubConfig) -> Arc<Self> {
        let counters = Arc::new(HubCounters::default());
        let broker = Arc::new(MemoryBroker::new(&config, counters.clone()));
        broker.spawn_sweeper();
        Self::with_broker(config, broker, counters)
    }

    /// A hub over any broker; `counters` must be the ones the broker updates.
    pub fn with_broker(
        config: HubConfig,
        broker: Arc<dyn Broker>,
        counters: Arc<HubCounters>,
    ) -> Arc<Self> {
        Arc::new(Self {
            rate_limit: RateLimit::new(config.rate_limit_per_sec, config.rate_limit_burst),
            config,
            broker,
            registry: Registry::default(),
            counters,
            started: Instant::now(),
            broadcast: ChannelName::new(BROADCAST_CHANNEL).unwrap_or_else(|_| unreachable!()),
            shutting_down: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        })
    }

    /// The limits and defaults the hub was built with.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The broker's epoch: sequence numbers are only comparable within one epoch, and a
    /// new one starts whenever they start over (for the in-memory broker, every hub run).
    pub fn epoch(&self) -> &str {
        self.broker.epoch()
    }

    /// The hub-wide counters (messages in and out, errors, connections per transport).
    pub fn counters(&self) -> &HubCounters {
        &self.counters
    }

    /// Finds an open connection by id.
    pub fn connection(&self, id: &str) -> Option<Arc<Connection>> {
        self.registry.get(id)
    }

    /// Wakes the transport task of every `transport` connection (see [`Outbox::wake`]):
    /// one shared heartbeat ticker instead of a timer per connection.
    pub fn wake_connections(&self, transport: Transport) {
        self.registry.for_each(|connection| {
            if connection.transport() == transport {
                connection.outbox().wake();
            }
        });
    }

    /// Connections registered right now, over every transport.
    pub fn connection_count(&self) -> usize {
        self.registry.len()
    }

    /// True once [`Hub::shutdown`] has been called: every connection is being closed and
    /// new ones are closed at once.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Relaxed)
    }

    /// Announces an upcoming shutdown (health checks fail) while everything is still
    /// served normally, so load balancers stop sending new clients first.
    pub fn begin_drain(&self) {
        self.draining.store(true, Relaxed);
    }

    /// True from [`Hub::begin_drain`] or [`Hub::shutdown`] on.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Relaxed) || self.is_shutting_down()
    }

    /// Registers a new connection. Call [`Hub::open`] next, and [`Hub::disconnect`] when
    /// the transport is done with it.
    pub fn connect(&self, transport: Transport, remote: Option<SocketAddr>) -> Arc<Connection> {
        self.connect_as(transport, remote, None)
    }

    /// As [`Hub::connect`], for a client that authenticated as `identity` (the server
    /// checked its token): `welcome`, chat and presence then name its user.
    pub fn connect_as(
        &self,
        transport: Transport,
        remote: Option<SocketAddr>,
        identity: Option<Identity>,
    ) -> Arc<Connection> {
        let outbox = Outbox::new(self.config.queue_messages, self.config.queue_bytes)
            .with_replay_limit(self.config.replay_messages);
        let connection = Arc::new(Connection::new(
            transport,
            remote,
            self.started.elapsed().as_millis() as u64,
            outbox,
            self.counters.clone(),
            TokenBucket::new(&self.rate_limit, std::time::Instant::now()),
            identity,
        ));
        self.registry.insert(connection.clone());
        self.counters.opened(transport);
        // One event when a connection opens and one when it closes, whatever the transport:
        // what an operator greps for (the close carries duration, reason and counts).
        tracing::info!(
            connection = %connection.id(),
            %transport,
            remote = remote.map(tracing::field::display),
            user = connection.user(),
            "connection opened"
        );
        if self.is_shutting_down() {
            connection.close(CloseCode::GoingAway);
        }
        connection
    }

    /// Queues `welcome`, then subscribes the connection to `broadcast` and to `channels`
    /// (or, when `channels` is `None`, to the configured auto-subscribe list), each
    /// answered by `subscribed` as if the client had asked.
    pub async fn open(
        &self,
        connection: &Arc<Connection>,
        channels: Option<Vec<InitialSubscription>>,
        timings: Timings,
    ) {
        self.open_session(connection, channels, timings, None).await;
    }

    /// As [`Hub::open`], with the secret `session_token` that `welcome` hands to the
    /// session's owner (SSE and polling; the transport issues and checks it, the hub only
    /// carries it in `welcome`).
    pub async fn open_session(
        &self,
        connection: &Arc<Connection>,
        channels: Option<Vec<InitialSubscription>>,
        timings: Timings,
        session_token: Option<String>,
    ) {
        let welcome = ServerMessage::Welcome {
            connection_id: connection.id().to_string(),
            session_token,
            user: connection.user().map(str::to_owned),
            server: SERVER_NAME.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            protocol: PROTOCOL_VERSION,
            epoch: self.epoch().to_owned(),
            transport: connection.transport(),
            heartbeat_interval_ms: timings.heartbeat_interval_ms,
            idle_timeout_ms: timings.idle_timeout_ms,
            limits: self.limits(),
            ts: now_ms(),
        };
        self.reply(connection, &welcome);
        let channels = match channels {
            Some(mut channels) => {
                // A name the hub already holds is shared rather than kept once per
                // connection (it is one allocation per connection otherwise).
                for initial in &mut channels {
                    if let Some(shared) = self.shared_name(&initial.channel) {
                        initial.channel = shared;
                    }
                }
                channels
            }
            None => self
                .config
                .auto_subscribe
                .iter()
                .cloned()
                .map(InitialSubscription::new)
                .collect(),
        };
        let broadcast = InitialSubscription::new(self.broadcast.clone());
        let already_broadcast = channels.iter().any(|c| c.channel == self.broadcast);
        let all = (!already_broadcast)
            .then_some(broadcast)
            .into_iter()
            .chain(channels);
        for initial in all {
            let message = ClientMessage::Subscribe {
                id: None,
                channel: initial.channel,
                since: initial.since,
                epoch: initial.epoch,
                presence: false,
            };
            self.dispatch(connection, message).await;
        }
    }

    /// The limits announced in `welcome`.
    pub fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.config.max_message_bytes,
            max_channel_name_bytes: MAX_CHANNEL_NAME_LEN,
            max_subscriptions: self.config.max_subscriptions,
            history_size: self.config.history_size,
            history_ttl_ms: self.config.history_ttl.as_millis() as u64,
            queue_messages: self.config.queue_messages,
            queue_bytes: self.config.queue_bytes,
        }
    }

    /// Queues a reply (not part of any channel's sequence) to one connection.
    pub fn reply(&self, connection: &Connection, message: &ServerMessage) {
        if connection.send(Delivery::reply(message)) == crate::Push::Queued {
            self.counters.messages_out.fetch_add(1, Relaxed);
        }
    }

    /// Queues an `error` to one connection.
    pub fn send_error(&self, connection: &Connection, err: &ProtocolError) {
        tracing::debug!(connection = %connection.id(), code = err.code.code(), message = %err.message, "client error");
        self.counters.error_sent(err.code);
        self.reply(connection, &ServerMessage::from_error(err));
    }

    /// Publishes from the server itself (feeds such as `clock`), bypassing the
    /// read-only rule that applies to clients.
    pub async fn publish(
        &self,
        channel: &ChannelName,
        data: &serde_json::value::RawValue,
    ) -> Result<Published, BrokerError> {
        self.broker
            .publish(channel, Body::Message { data }, None)
            .await
    }

    /// Unsubscribes the connection everywhere and forgets it. Idempotent.
    pub async fn disconnect(&self, connection: &Arc<Connection>) {
        if !connection.mark_disconnected() {
            return;
        }
        // The code the server closed it with; none means the client ended it.
        let closed_with = connection.outbox().closed();
        connection.close(CloseCode::Normal);
        let channels = std::mem::take(&mut *connection.subscriptions.lock());
        for channel in &channels {
            self.broker.unsubscribe(channel, connection).await;
        }
        self.registry.remove(connection.id());
        self.counters.closed(connection.transport());
        let lasted = Duration::from_millis(
            (self.started.elapsed().as_millis() as u64).saturating_sub(connection.opened_ms()),
        );
        self.counters.ended(closed_with, lasted);
        // One event per connection, whatever its transport: what an operator greps for.
        tracing::info!(
            connection = %connection.id(),
            transport = %connection.transport(),
            remote = connection.remote().map(tracing::field::display),
            user = connection.user(),
            duration_ms = lasted.as_millis() as u64,
            close_code = closed_with.map(CloseCode::code),
            close_reason = closed_with.map_or("client_gone", CloseCode::reason),
            messages_in = connection.messages_in(),
            messages_out = connection.messages_out(),
            "connection closed"
        );
    }

    /// The hub's own copy of `channel`'s name (`broadcast` or an auto-subscribe
    /// channel), if it holds one.
    fn shared_name(&self, channel: &ChannelName) -> Option<ChannelName> {
        std::iter::once(&self.broadcast)
            .chain(&self.config.auto_subscribe)
            .find(|name| *name == channel)
            .cloned()
    }

    /// Gives back history older than the TTL and drops channels left with neither
    /// subscribers nor history. The in-memory hub does this by itself every
    /// [`crate::broker::HISTORY_SWEEP_INTERVAL`]; tests call it to not wait for that.
    pub fn sweep_history(&self) {
        self.broker.sweep();
    }

    /// Server-wide figures: totals over every channel, and the
    /// [`STATS_TOP_CHANNELS`] channels with the most subscribers in detail (bounded, so
    /// asking costs the same with 10 channels or 100,000).
    pub fn stats(&self) -> ServerStats {
        let summary = self.broker.channel_summary(STATS_TOP_CHANNELS);
        ServerStats {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            epoch: self.epoch().to_owned(),
            uptime_ms: self.started.elapsed().as_millis() as u64,
            connections: self.counters.open_connections(),
            connections_accepted: self.counters.accepted_connections(),
            messages_in: self.counters.messages_in.load(Relaxed),
            messages_out: self.counters.messages_out.load(Relaxed),
            errors_out: self.counters.errors_out.load(Relaxed),
            slow_consumer_disconnects: self.counters.slow_consumer_disconnects.load(Relaxed),
            channel_count: summary.channels,
            history_messages: summary.history_messages,
            history_bytes: summary.history_bytes,
            channels: summary.top,
        }
    }

    /// One connection's own figures.
    pub fn client_stats(&self, connection: &Connection) -> ClientStats {
        ClientStats {
            connection_id: connection.id().to_string(),
            transport: connection.transport(),
            connected_ms: (self.started.elapsed().as_millis() as u64)
                .saturating_sub(connection.opened_ms()),
            messages_in: connection.messages_in(),
            messages_out: connection.messages_out(),
            subscriptions: connection
                .subscriptions()
                .iter()
                .map(|c| c.to_string())
                .collect(),
        }
    }

    /// Counts a `/ws/echo` connection (not a hub connection, but shown in stats as
    /// `websocket_echo`) until the returned guard is dropped.
    pub fn echo_opened(self: &Arc<Self>) -> EchoConnection {
        self.counters().echo_opened();
        EchoConnection(self.clone())
    }

    /// Starts shutdown: every connection's outbox closes with 1001 (going away) after
    /// flushing what is queued; new connections are closed at once.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Relaxed);
        for connection in self.registry.all() {
            connection.close(CloseCode::GoingAway);
        }
    }
}

/// One open `/ws/echo` connection, counted in stats for as long as it lives.
#[derive(Debug)]
pub struct EchoConnection(Arc<Hub>);

impl Drop for EchoConnection {
    fn drop(&mut self) {
        self.0.counters().echo_closed();
    }
}

mod dispatch;
#[cfg(test)]
mod tests;
