//! [`BurstLog`]: at most one log line a second for a repeated event (accept errors,
//! refused connections), with a count of what it left out, so a flood cannot flood the log.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Events closer together than this belong to the same burst.
const BURST_QUIET: Duration = Duration::from_secs(1);

/// Says when an event is worth a log line.
#[derive(Debug, Default)]
pub(crate) struct BurstLog {
    state: Mutex<BurstState>,
}

#[derive(Debug, Default)]
struct BurstState {
    last_logged: Option<Instant>,
    left_out: u64,
}

impl BurstLog {
    /// Records one event: `Some(left_out)` (events not logged since the last line) when
    /// this one should be logged, `None` when it belongs to a burst already reported.
    pub(crate) fn note(&self) -> Option<u64> {
        let mut state = self.state.lock();
        let now = Instant::now();
        if state
            .last_logged
            .is_some_and(|last| now.duration_since(last) < BURST_QUIET)
        {
            state.left_out += 1;
            return None;
        }
        state.last_logged = Some(now);
        Some(std::mem::take(&mut state.left_out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_burst() {
        let log = BurstLog::default();
        assert_eq!(log.note(), Some(0));
        assert_eq!(log.note(), None);
        assert_eq!(log.note(), None);
        log.state.lock().last_logged = Some(Instant::now() - BURST_QUIET);
        assert_eq!(log.note(), Some(2));
    }
}
