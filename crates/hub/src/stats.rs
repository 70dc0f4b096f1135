//! Hub-wide counters: lock-free, updated on the hot path, read by `stats` and `/api/stats`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use switchboard_protocol::server::{Transport, TransportCounts};

/// Counters shared by the hub and every connection.
#[derive(Debug, Default)]
pub struct HubCounters {
    /// Client messages received since the hub started, counted before the rate limit,
    /// size check and parsing (so dropped and malformed ones count too).
    pub messages_in: AtomicU64,
    /// Server messages queued to connections since the hub started: replies, errors and
    /// every subscriber's copy of a channel message (one per subscriber queued for).
    pub messages_out: AtomicU64,
    /// `error` replies sent to clients since the hub started (each also counts in
    /// `messages_out` when it is queued).
    pub errors_out: AtomicU64,
    /// Connections closed because their outbox overflowed (close code 4001).
    pub slow_consumer_disconnects: AtomicU64,
    open: [AtomicU64; 5],
    accepted: [AtomicU64; 5],
    /// `/ws/echo` connections: not hub connections (no `welcome`, no channels), but
    /// sockets all the same, so stats show them as `websocket_echo`.
    echo_open: AtomicU64,
    echo_accepted: AtomicU64,
}

/// One open `/ws/echo` connection, counted for as long as it lives.
#[derive(Debug)]
pub struct EchoConnection<'a>(&'a HubCounters);

impl Drop for EchoConnection<'_> {
    fn drop(&mut self) {
        self.0.echo_open.fetch_sub(1, Relaxed);
    }
}

impl HubCounters {
    /// Counts a connection opened on `transport`: one more open and one more accepted.
    pub fn opened(&self, transport: Transport) {
        self.open[transport.index()].fetch_add(1, Relaxed);
        self.accepted[transport.index()].fetch_add(1, Relaxed);
    }

    /// Counts a connection on `transport` gone; call exactly once per [`HubCounters::opened`].
    pub fn closed(&self, transport: Transport) {
        self.open[transport.index()].fetch_sub(1, Relaxed);
    }

    /// Counts an `/ws/echo` connection opened; it counts as open until the guard drops.
    pub fn echo_opened(&self) -> EchoConnection<'_> {
        self.echo_open.fetch_add(1, Relaxed);
        self.echo_accepted.fetch_add(1, Relaxed);
        EchoConnection(self)
    }

    /// Connections open right now, per transport.
    pub fn open_connections(&self) -> TransportCounts {
        Self::counts(&self.open, &self.echo_open)
    }

    /// Connections accepted since the hub started (open or since closed), per transport.
    pub fn accepted_connections(&self) -> TransportCounts {
        Self::counts(&self.accepted, &self.echo_accepted)
    }

    fn counts(values: &[AtomicU64; 5], echo: &AtomicU64) -> TransportCounts {
        let mut counts = TransportCounts {
            websocket_echo: echo.load(Relaxed),
            ..TransportCounts::default()
        };
        for transport in Transport::ALL {
            *counts.get_mut(transport) = values[transport.index()].load(Relaxed);
        }
        counts
    }
}
