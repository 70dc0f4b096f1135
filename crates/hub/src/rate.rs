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

/// A token bucket; `rate == 0` means unlimited.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
    last_notice: Option<Instant>,
}

/// What to do with one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admit,
    /// Drop it and tell the client (first drop in a notice interval).
    DropAndNotify,
    /// Drop it silently (the client was told recently).
    Drop,
}

impl TokenBucket {
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            refilled: now,
            last_notice: None,
        }
    }

    /// Takes one token if there is one.
    pub fn admit(&mut self, now: Instant) -> Admission {
        if self.rate == 0.0 {
            return Admission::Admit;
        }
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Admission::Admit;
        }
        match self.last_notice {
            Some(at) if now.saturating_duration_since(at) < RATE_LIMIT_NOTICE_EVERY => {
                Admission::Drop
            }
            _ => {
                self.last_notice = Some(now);
                Admission::DropAndNotify
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_at_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 3, start);
        for _ in 0..3 {
            assert_eq!(bucket.admit(start), Admission::Admit);
        }
        assert_eq!(bucket.admit(start), Admission::DropAndNotify);
        assert_eq!(bucket.admit(start), Admission::Drop);
        // 100 ms at 10/s is one token.
        let later = start + Duration::from_millis(100);
        assert_eq!(bucket.admit(later), Admission::Admit);
        assert_eq!(bucket.admit(later), Admission::Drop);
        // The notice comes again once per interval.
        let much_later = start + RATE_LIMIT_NOTICE_EVERY + Duration::from_millis(150);
        assert_eq!(bucket.admit(much_later), Admission::Admit);
        assert_eq!(bucket.admit(much_later), Admission::Admit);
        assert_eq!(bucket.admit(much_later), Admission::Admit);
        assert_eq!(bucket.admit(much_later), Admission::DropAndNotify);
    }

    #[test]
    fn zero_rate_is_unlimited() {
        let now = Instant::now();
        let mut bucket = TokenBucket::new(0, 1, now);
        for _ in 0..10_000 {
            assert_eq!(bucket.admit(now), Admission::Admit);
        }
    }
}
