//! The keepalive every streaming transport is held to: how often the server sends a
//! heartbeat, how long a silent client lives, how long a write may take; and the small
//! per-connection clock that says, when the shared ticker wakes a connection, what is due.
//!
//! The clock is 24 bytes (an instant and two wrapping millisecond counters), so the
//! hand-written `/ws` session keeps its size; no timer exists per connection.

use std::{future::Future, sync::Arc, task::Poll, time::Duration};

use switchboard_hub::{Delivery, Outbox, Timings};
use switchboard_protocol::CloseCode;
use tokio::time::Instant;

use super::CLOSE_NOTICE_TIMEOUT;
use crate::config::{MIN_HEARTBEAT, SseConfig, TcpConfig, WsConfig};

/// A stream whose client has not taken a chunk for this long is closed (as a slow
/// consumer): it can reconnect and resume, and meanwhile holds no queue.
pub(crate) const SSE_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// One transport's keepalive settings, as announced in `welcome` and enforced.
///
/// Kept as whole milliseconds (12 bytes rather than 48): streams and TCP connections
/// hold one each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keepalive {
    heartbeat_ms: u32,
    /// 0 for none.
    idle_timeout_ms: u32,
    write_timeout_ms: u32,
}

/// Whole milliseconds, saturating (at 49 days, far past any sensible setting).
fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

impl Keepalive {
    /// Settings with the heartbeat floor applied (the one place it is applied). An idle
    /// timeout under a millisecond counts as none.
    pub(crate) fn new(
        heartbeat: Duration,
        idle_timeout: Option<Duration>,
        write_timeout: Duration,
    ) -> Self {
        Self {
            // `ServerConfig::validate` refuses less; a config built by hand is floored here too.
            heartbeat_ms: millis(heartbeat.max(MIN_HEARTBEAT)),
            idle_timeout_ms: idle_timeout.map_or(0, millis),
            write_timeout_ms: millis(write_timeout),
        }
    }

    /// How often a heartbeat goes out (at least [`MIN_HEARTBEAT`]).
    pub(crate) fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.into())
    }

    /// A connection from which nothing arrived for this long is closed with 4000;
    /// `None` for a transport without a read side (SSE).
    pub(crate) fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout_ms > 0).then(|| Duration::from_millis(self.idle_timeout_ms.into()))
    }

    /// A write the client does not take within this long closes it with 4001.
    pub(crate) fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms.into())
    }

    /// `/ws` and `/ws/echo`: a write may take as long as a client may stay silent.
    pub(crate) fn websocket(config: &WsConfig) -> Self {
        Self::new(
            config.heartbeat,
            Some(config.idle_timeout),
            config.idle_timeout,
        )
    }

    /// `/sse`: nothing to read, so nothing to cull for silence.
    pub(crate) fn sse(config: &SseConfig) -> Self {
        Self::new(config.heartbeat, None, SSE_WRITE_TIMEOUT)
    }

    /// Raw TCP.
    pub(crate) fn tcp(config: &TcpConfig) -> Self {
        Self::new(
            config.heartbeat,
            Some(config.idle_timeout),
            config.write_timeout,
        )
    }

    /// What `welcome` announces (an idle timeout of 0 means none).
    pub(crate) fn timings(&self) -> Timings {
        Timings {
            heartbeat_interval_ms: self.heartbeat_ms.into(),
            idle_timeout_ms: self.idle_timeout_ms.into(),
        }
    }

    /// How long the final close notice for `reason` may take. A client closed for
    /// silence or for breaking the protocol is not waited for; for any other reason
    /// (shutdown, its own end, an outbox overflow) what was queued before the notice
    /// still gets the regular write timeout. After a write that already timed out, the
    /// notice gets [`CLOSE_NOTICE_TIMEOUT`] whatever the reason.
    pub(crate) fn close_within(&self, reason: CloseCode) -> Duration {
        match reason {
            CloseCode::IdleTimeout
            | CloseCode::ProtocolError
            | CloseCode::InvalidPayload
            | CloseCode::MessageTooBig => CLOSE_NOTICE_TIMEOUT.min(self.write_timeout()),
            _ => self.write_timeout(),
        }
    }
}

/// What the keepalive asks for when a connection is woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Send a heartbeat in the transport's framing.
    Heartbeat,
    /// Nothing arrived within `idle_timeout`: close with 4000.
    IdleTimeout,
}

/// When a connection last heard from its client and last sent a heartbeat.
///
/// Times are wrapping milliseconds since `started` (half the size of two more instants,
/// and exact for gaps under 49 days).
#[derive(Debug)]
pub(crate) struct KeepaliveClock {
    started: Instant,
    heard_ms: u32,
    beat_ms: u32,
}

impl KeepaliveClock {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            heard_ms: 0,
            beat_ms: 0,
        }
    }

    /// Wrapping milliseconds since the clock started: a cheap mark for [`Self::since`].
    pub(crate) fn now_ms(&self) -> u32 {
        self.started.elapsed().as_millis() as u32
    }

    /// How long ago the mark `then` (from [`Self::now_ms`]) was taken.
    pub(crate) fn since(&self, then_ms: u32) -> Duration {
        Duration::from_millis(u64::from(self.now_ms().wrapping_sub(then_ms)))
    }

    /// Something arrived from the client.
    pub(crate) fn heard(&mut self) {
        self.heard_ms = self.now_ms();
    }

    /// What is due now. Called at every wake-up; the ticker wakes each connection once
    /// per heartbeat, so a heartbeat is due when none went out for three quarters of an
    /// interval (ticks are not aligned with the connection's start, and other wake-ups
    /// come between them), and is recorded as sent.
    pub(crate) fn due(&mut self, keepalive: &Keepalive) -> Option<Due> {
        let now = self.now_ms();
        let since = |then: u32| Duration::from_millis(u64::from(now.wrapping_sub(then)));
        if keepalive
            .idle_timeout()
            .is_some_and(|idle| since(self.heard_ms) >= idle)
        {
            return Some(Due::IdleTimeout);
        }
        if since(self.beat_ms) >= keepalive.heartbeat() * 3 / 4 {
            self.beat_ms = now;
            return Some(Due::Heartbeat);
        }
        None
    }
}

/// Why a connection task woke up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Deliveries were moved into the batch (`None`), or the outbox is closed and
    /// drained (`Some(reason)`).
    Outbox(Option<CloseCode>),
    /// The keepalive asks for something.
    Keepalive(Due),
}

/// Waits for the outbox (up to `max` deliveries into `batch`) or, when `keepalive` is
/// given, for the shared ticker to make something [`Due`]. The ticker wakes the task
/// through the outbox's waker, so this needs no timer. Cancel-safe.
pub(crate) fn next_wake<'a>(
    outbox: &'a Outbox,
    batch: &'a mut Vec<Arc<Delivery>>,
    max: usize,
    keepalive: Option<(&'a mut KeepaliveClock, &'a Keepalive)>,
) -> impl Future<Output = Wake> + 'a {
    let mut keepalive = keepalive;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(closed) = outbox.poll_next_batch(cx, batch, max) {
            return Poll::Ready(Wake::Outbox(closed));
        }
        match keepalive
            .as_mut()
            .and_then(|(clock, settings)| clock.due(settings))
        {
            Some(due) => Poll::Ready(Wake::Keepalive(due)),
            None => Poll::Pending,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_asks_for_heartbeats_and_the_idle_close() {
        let keepalive = Keepalive::new(
            Duration::from_millis(100),
            Some(Duration::from_millis(350)),
            Duration::from_secs(1),
        );
        let mut clock = KeepaliveClock::new();
        assert_eq!(clock.due(&keepalive), None, "nothing is due at once");
        tokio::time::advance(Duration::from_millis(70)).await;
        assert_eq!(
            clock.due(&keepalive),
            None,
            "not before three quarters of a heartbeat"
        );
        tokio::time::advance(Duration::from_millis(30)).await;
        assert_eq!(clock.due(&keepalive), Some(Due::Heartbeat));
        assert_eq!(clock.due(&keepalive), None, "one heartbeat per tick");
        tokio::time::advance(Duration::from_millis(100)).await;
        clock.heard();
        assert_eq!(clock.due(&keepalive), Some(Due::Heartbeat));
        tokio::time::advance(Duration::from_millis(300)).await;
        assert_eq!(
            clock.due(&keepalive),
            Some(Due::Heartbeat),
            "heard 300 ms ago"
        );
        tokio::time::advance(Duration::from_millis(49)).await;
        assert_eq!(clock.due(&keepalive), None, "heard 349 ms ago");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(
            clock.due(&keepalive),
            Some(Due::IdleTimeout),
            "heard 350 ms ago"
        );
    }

    #[test]
    fn the_heartbeat_floor_holds_for_every_transport() {
        let zero = Duration::ZERO;
        let ws = Keepalive::websocket(&WsConfig {
            heartbeat: zero,
            ..WsConfig::default()
        });
        let sse = Keepalive::sse(&SseConfig {
            heartbeat: zero,
            ..SseConfig::default()
        });
        let tcp = Keepalive::tcp(&TcpConfig {
            heartbeat: zero,
            ..TcpConfig::default()
        });
        for keepalive in [ws, sse, tcp] {
            assert_eq!(keepalive.heartbeat(), MIN_HEARTBEAT);
            assert_eq!(keepalive.timings().heartbeat_interval_ms, 10);
        }
        assert_eq!(
            sse.timings().idle_timeout_ms,
            0,
            "SSE culls no one for silence"
        );
    }
}
