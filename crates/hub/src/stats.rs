//! Hub-wide counters: lock-free, updated on the hot path, read by `stats` and `/api/stats`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use switchboard_protocol::server::{Transport, TransportCounts};

/// Counters shared by the hub and every connection.
#[derive(Debug, Default)]
pub struct HubCounters {
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub errors_out: AtomicU64,
    pub slow_consumer_disconnects: AtomicU64,
    open: [AtomicU64; 5],
    accepted: [AtomicU64; 5],
}

impl HubCounters {
    pub fn opened(&self, transport: Transport) {
        self.open[transport.index()].fetch_add(1, Relaxed);
        self.accepted[transport.index()].fetch_add(1, Relaxed);
    }

    pub fn closed(&self, transport: Transport) {
        self.open[transport.index()].fetch_sub(1, Relaxed);
    }

    pub fn open_connections(&self) -> TransportCounts {
        Self::counts(&self.open)
    }

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
