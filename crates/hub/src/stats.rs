//! Hub-wide counters: lock-free, updated on the hot path, read by `stats`, `/api/stats`
//! and the server's `/metrics` (which reads them at scrape time instead of counting twice).
//!
//! Guarantees: a connection's end is counted once (by reason and in the duration
//! histogram), in [`HubCounters::ended`], which [`crate::Hub::disconnect`] calls once per
//! connection; nothing here is touched per delivery beyond `messages_out`.

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

use switchboard_protocol::{
    CloseCode, ErrorCode,
    server::{Transport, TransportCounts},
};

/// Upper bounds (seconds) of the connection-duration histogram's buckets: from a failed
/// handshake or a single short poll (under 0.1 s) through page views (seconds to minutes)
/// to dashboards left open all day; Prometheus adds `+Inf`.
pub const CONNECTION_DURATION_BUCKETS: [f64; 10] = [
    0.1,
    1.0,
    10.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4.0 * 3600.0,
    12.0 * 3600.0,
    86400.0,
];

/// Why connections ended: one slot per [`CloseCode`] the server closed with, and a last
/// one for connections the client ended (closed, went away, or whose socket failed).
const END_REASONS: usize = CloseCode::ALL.len() + 1;

/// Counters shared by the hub and every connection.
#[derive(Debug)]
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
    /// `error` replies per [`ErrorCode`] (in the order of `ErrorCode::ALL`).
    errors_by_code: [AtomicU64; ErrorCode::ALL.len()],
    ends: [AtomicU64; END_REASONS],
    /// Per bucket of [`CONNECTION_DURATION_BUCKETS`] (not cumulative), then `+Inf`.
    duration_buckets: [AtomicU64; CONNECTION_DURATION_BUCKETS.len() + 1],
    duration_sum_micros: AtomicU64,
    /// `/ws/echo` connections: not hub connections (no `welcome`, no channels), but
    /// sockets all the same, so stats show them as `websocket_echo`.
    echo_open: AtomicU64,
    echo_accepted: AtomicU64,
}

// By hand: `Default` is derived for arrays of at most 32 elements, and there are more
// error codes than that.
impl Default for HubCounters {
    fn default() -> Self {
        let zeros = || AtomicU64::new(0);
        Self {
            messages_in: zeros(),
            messages_out: zeros(),
            errors_out: zeros(),
            slow_consumer_disconnects: zeros(),
            open: std::array::from_fn(|_| zeros()),
            accepted: std::array::from_fn(|_| zeros()),
            errors_by_code: std::array::from_fn(|_| zeros()),
            ends: std::array::from_fn(|_| zeros()),
            duration_buckets: std::array::from_fn(|_| zeros()),
            duration_sum_micros: zeros(),
            echo_open: zeros(),
            echo_accepted: zeros(),
        }
    }
}

/// A snapshot of the connection-duration histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationHistogram {
    /// `(upper bound in seconds, connections in this bucket alone)`, the last bound `+Inf`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of every duration observed, in seconds.
    pub sum_seconds: f64,
    /// Connections observed.
    pub count: u64,
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

    /// Counts an `error` reply with `code`: in `errors_out` and by its code.
    pub fn error_sent(&self, code: ErrorCode) {
        self.errors_out.fetch_add(1, Relaxed);
        if let Some(index) = ErrorCode::ALL.iter().position(|c| *c == code) {
            self.errors_by_code[index].fetch_add(1, Relaxed);
        }
    }

    /// `error` replies sent since the hub started, per code (every code, zeros included).
    pub fn errors_by_code(&self) -> Vec<(ErrorCode, u64)> {
        ErrorCode::ALL
            .iter()
            .zip(&self.errors_by_code)
            .map(|(code, count)| (*code, count.load(Relaxed)))
            .collect()
    }

    /// Counts a connection's end: `closed_with` is the code the server closed it with, or
    /// `None` when the client ended it; `lasted` goes to the duration histogram. Called
    /// once per connection, beside [`HubCounters::closed`].
    pub fn ended(&self, closed_with: Option<CloseCode>, lasted: Duration) {
        let reason = closed_with
            .and_then(|code| CloseCode::ALL.iter().position(|c| *c == code))
            .unwrap_or(CloseCode::ALL.len());
        self.ends[reason].fetch_add(1, Relaxed);
        let seconds = lasted.as_secs_f64();
        let bucket = CONNECTION_DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(CONNECTION_DURATION_BUCKETS.len());
        self.duration_buckets[bucket].fetch_add(1, Relaxed);
        let micros = u64::try_from(lasted.as_micros()).unwrap_or(u64::MAX);
        self.duration_sum_micros.fetch_add(micros, Relaxed);
    }

    /// Connections ended since the hub started, by reason: each [`CloseCode`] the server
    /// closed with (`Some`), and those the client ended (`None`).
    pub fn ends_by_reason(&self) -> Vec<(Option<CloseCode>, u64)> {
        CloseCode::ALL
            .iter()
            .map(|code| Some(*code))
            .chain(std::iter::once(None))
            .zip(&self.ends)
            .map(|(reason, count)| (reason, count.load(Relaxed)))
            .collect()
    }

    /// How long the connections that ended had lasted.
    pub fn durations(&self) -> DurationHistogram {
        let buckets: Vec<(f64, u64)> = CONNECTION_DURATION_BUCKETS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(&self.duration_buckets)
            .map(|(bound, count)| (bound, count.load(Relaxed)))
            .collect();
        DurationHistogram {
            count: buckets.iter().map(|(_, count)| count).sum(),
            buckets,
            sum_seconds: self.duration_sum_micros.load(Relaxed) as f64 / 1e6,
        }
    }

    /// Counts an `/ws/echo` connection opened (see `Hub::echo_opened`, whose guard
    /// calls [`HubCounters::echo_closed`]).
    pub fn echo_opened(&self) {
        self.echo_open.fetch_add(1, Relaxed);
        self.echo_accepted.fetch_add(1, Relaxed);
    }

    /// Counts an `/ws/echo` connection gone; once per [`HubCounters::echo_opened`].
    pub fn echo_closed(&self) {
        self.echo_open.fetch_sub(1, Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_are_counted_by_reason_and_duration() {
        let counters = HubCounters::default();
        counters.ended(Some(CloseCode::SlowConsumer), Duration::from_millis(50));
        counters.ended(None, Duration::from_secs(2));
        counters.ended(None, Duration::from_secs(200_000));
        let ends = counters.ends_by_reason();
        assert!(ends.contains(&(Some(CloseCode::SlowConsumer), 1)));
        assert!(ends.contains(&(None, 2)));
        assert!(ends.contains(&(Some(CloseCode::Normal), 0)));
        let durations = counters.durations();
        assert_eq!(durations.count, 3);
        assert_eq!(durations.buckets[0], (0.1, 1));
        assert_eq!(durations.buckets[2], (10.0, 1));
        assert_eq!(durations.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((durations.sum_seconds - 200_002.05).abs() < 1e-6);
    }

    #[test]
    fn errors_are_counted_in_total_and_by_code() {
        let counters = HubCounters::default();
        counters.error_sent(ErrorCode::InvalidJson);
        counters.error_sent(ErrorCode::InvalidJson);
        assert_eq!(counters.errors_out.load(Relaxed), 2);
        let by_code = counters.errors_by_code();
        assert_eq!(by_code.len(), ErrorCode::ALL.len());
        assert!(by_code.contains(&(ErrorCode::InvalidJson, 2)));
        assert_eq!(by_code.iter().map(|(_, n)| n).sum::<u64>(), 2);
    }
}
