//! The header and keep-alive timeouts, through hyper's one header-read timer.
//!
//! hyper starts its header-read timer whenever it waits for a request head: on a new
//! connection, and on a persistent one as soon as the previous response is done, so the
//! same timer bounds both a slow head (slowloris) and an idle keep-alive connection.
//! [`HeadTimer`] is given to one connection's hyper and tells the two apart: the first
//! wait of the connection gets `http_header_timeout`, every later one (idle time plus
//! the next head) `http_keepalive_timeout`.

use std::{
    pin::Pin,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use hyper::rt::{Sleep, Timer};
use hyper_util::rt::TokioTimer;

/// One connection's timer for hyper (see the module documentation).
#[derive(Debug)]
pub(crate) struct HeadTimer {
    keepalive: Duration,
    first_head_started: AtomicBool,
    tokio: TokioTimer,
}

impl HeadTimer {
    pub(crate) fn new(keepalive: Duration) -> Self {
        Self {
            keepalive,
            first_head_started: AtomicBool::new(false),
            tokio: TokioTimer::new(),
        }
    }

    /// hyper asks for `now + header timeout`; after the first head it gets the keep-alive bound.
    fn deadline(&self, asked: Instant) -> Instant {
        if self.first_head_started.swap(true, Ordering::Relaxed) {
            Instant::now() + self.keepalive
        } else {
            asked
        }
    }
}

impl Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.tokio.sleep(duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        self.tokio.sleep_until(self.deadline(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        self.tokio.reset(sleep, self.deadline(new_deadline));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_head_gets_the_header_timeout_and_later_ones_the_keepalive() {
        let timer = HeadTimer::new(Duration::from_secs(30));
        let asked = Instant::now() + Duration::from_secs(10);
        assert_eq!(timer.deadline(asked), asked);
        let later = timer.deadline(asked);
        assert!(later > Instant::now() + Duration::from_secs(29));
    }
}
