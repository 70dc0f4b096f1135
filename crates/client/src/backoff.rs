//! Reconnect delays: exponential backoff with full jitter (a uniformly random delay
//! between zero and the exponential cap), so a thousand clients cut off by one server
//! restart spread their reconnects out instead of arriving together.

use std::{
    hash::{BuildHasher, Hasher},
    time::Duration,
};

/// The first retry's cap: quick enough that a blip is barely noticed.
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_millis(200);
/// The largest cap: a server that is down for long is probed every few seconds at most.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The reconnect policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The cap of the first retry's delay ([`DEFAULT_BACKOFF_INITIAL`] by default); it
    /// doubles with each failed attempt.
    pub initial: Duration,
    /// The largest cap a delay can reach however many attempts failed
    /// ([`DEFAULT_BACKOFF_MAX`] by default).
    pub max: Duration,
    /// Give up after this many consecutive failed attempts; `None` retries forever.
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: DEFAULT_BACKOFF_INITIAL,
            max: DEFAULT_BACKOFF_MAX,
            max_attempts: None,
        }
    }
}

impl Backoff {
    /// The cap for attempt `attempt` (0-based): `initial * 2^attempt`, at most `max`.
    pub fn cap(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// A random delay in `[0, cap(attempt)]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let cap = self.cap(attempt).as_micros() as u64;
        Duration::from_micros(random_u64() % (cap + 1))
    }
}

/// A random number from the standard library's per-process hash seed mixed with the
/// clock: plenty for spreading reconnects, and no extra dependency.
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_grow_then_stop_and_delays_stay_under_them() {
        let b = Backoff::default();
        assert_eq!(b.cap(0), Duration::from_millis(200));
        assert_eq!(b.cap(3), Duration::from_millis(1600));
        assert_eq!(b.cap(40), DEFAULT_BACKOFF_MAX);
        let delays: Vec<_> = (0..50).map(|_| b.delay(5)).collect();
        assert!(delays.iter().all(|d| *d <= b.cap(5)));
        // Full jitter: not all the same.
        assert!(delays.iter().any(|d| *d != delays[0]));
    }
}
