//! Per-connection rate limiting: a token bucket over the messages a client sends.
//!
//! Each connection may send `rate` messages per second on average, in bursts of up to
//! `burst`. A message over the limit is dropped and answered with `error` 113
//! (`rate_limited`), at most once per [`RATE_LIMIT_NOTICE_EVERY`] so that a flood does
//! not turn into a flood of errors (which would only fill the flooder's own outbox).
//! Everyone else is unaffected: a flooder can publish no faster than its bucket allows.

use std::time::{Duration, Instant};

/// How often a rate-limited connection is told so (one `error` per interval at most).
pub const RATE_LIMIT_NOTICE_EVERY: Duration = Duration::from_secs(1);

/// The limit every connection's bucket applies: `rate` tokens a second, at most `burst`
/// saved up; `rate == 0` means unlimited. One per hub, not one per connection.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
}

impl RateLimit {
    /// `rate` messages per second on average (0 for no limit), in bursts of up to `burst`
    /// messages (at least 1, whatever `burst` says).
    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
        }
    }
}

/// One connection's token bucket under a [`RateLimit`] (which the caller passes in, so
/// that each connection keeps only its own state: 32 bytes, not 56; the time since the
/// last notice is an `f32` of seconds rather than a 16-byte `Instant`, which is what
/// leaves room for a connection's identity within its size guard).
#[derive(Debug)]
pub struct TokenBucket {
    tokens: f64,
    /// Seconds since the client was last told it is limited, as of `refilled`
    /// (infinite before the first notice; only compared with a one-second interval).
    since_notice: f32,
    refilled: Instant,
}

/// What to do with one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handle it: a token was taken (or the limit is off).
    Admit,
    /// Drop it and tell the client (first drop in a notice interval).
    DropAndNotify,
    /// Drop it silently (the client was told recently).
    Drop,
}

impl TokenBucket {
    /// A full bucket (`burst` tokens) as of `now`, so a new connection may send a burst
    /// straight away.
    pub fn new(limit: &RateLimit, now: Instant) -> Self {
        Self {
            tokens: limit.burst,
            since_notice: f32::INFINITY,
            refilled: now,
        }
    }

    /// Takes one token if there is one.
    pub fn admit(&mut self, limit: &RateLimit, now: Instant) -> Admission {
        if limit.rate == 0.0 {
            return Admission::Admit;
        }
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.rate).min(limit.burst);
        self.since_notice += elapsed as f32;
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Admission::Admit;
        }
        if self.since_notice < RATE_LIMIT_NOTICE_EVERY.as_secs_f32() {
            Admission::Drop
        } else {
            self.since_notice = 0.0;
            Admission::DropAndNotify
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let start = Instant::now();
        let limit = RateLimit::new(10, 3);
        let mut bucket = TokenBucket::new(&limit, start);
        for _ in 0..3 {
            assert_eq!(bucket.admit(&limit, start), Admission::Admit);
        }
        assert_eq!(bucket.admit(&limit, start), Admission::DropAndNotify);
        assert_eq!(bucket.admit(&limit, start), Admission::Drop);
        // 100 ms at 10/s is one token.
        let later = start + Duration::from_millis(100);
        assert_eq!(bucket.admit(&limit, later), Admission::Admit);
        assert_eq!(bucket.admit(&limit, later), Admission::Drop);
        // The notice comes again once per interval.
        let much_later = start + RATE_LIMIT_NOTICE_EVERY + Duration::from_millis(150);
        assert_eq!(bucket.admit(&limit, much_later), Admission::Admit);
        assert_eq!(bucket.admit(&limit, much_later), Admission::Admit);
        assert_eq!(bucket.admit(&limit, much_later), Admission::Admit);
        assert_eq!(bucket.admit(&limit, much_later), Admission::DropAndNotify);
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let now = Instant::now();
        let limit = RateLimit::new(0, 1);
        let mut bucket = TokenBucket::new(&limit, now);
        for _ in 0..10_000 {
            assert_eq!(bucket.admit(&limit, now), Admission::Admit);
        }
    }
}
