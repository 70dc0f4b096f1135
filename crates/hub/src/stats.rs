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

    /// Connections open right now, per transport.
    pub fn open_connections(&self) -> TransportCounts {
        Self::counts(&self.open)
    }

    /// Connections accepted since the hub started (open or since closed), per transport.
    pub fn accepted_connections(&self) -> TransportCounts {
        Self::counts(&self.accepted)
    }

    fn counts(values: &[AtomicU64; 5]) -> TransportCounts {
        let mut counts = TransportCounts::default();
        for transport in Transport::ALL {
            *counts.get_mut(transport) = values[transport.index()].load(Relaxed);
        }
        counts
    }
}
