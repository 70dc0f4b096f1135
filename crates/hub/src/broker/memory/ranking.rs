//! Channels ordered by subscriber count, so `stats` can list the busiest few without
//! visiting every channel (100,000 channels made it a 6 MB reply and 0.1 s of CPU).
//!
//! Only channels with at least one subscriber are in it; it changes on subscribe and
//! unsubscribe (O(log n)), never on publish. Lock order: a channel, then the ranking.

use std::{cmp::Reverse, collections::BTreeSet};

use parking_lot::Mutex;
use switchboard_protocol::ChannelName;

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct SubscriberRanking {
    ranked: Mutex<BTreeSet<(Reverse<usize>, ChannelName)>>,
}

impl SubscriberRanking {
    /// `channel` went from `before` to `after` subscribers.
    pub(super) fn moved(&self, channel: &ChannelName, before: usize, after: usize) {
        if before == after {
            return;
        }
        let mut ranked = self.ranked.lock();
        if before > 0 {
            ranked.remove(&(Reverse(before), channel.clone()));
        }
        if after > 0 {
            ranked.insert((Reverse(after), channel.clone()));
        }
    }

    /// Up to `limit` channels, most subscribers first (ties by name).
    pub(super) fn top(&self, limit: usize) -> Vec<ChannelName> {
        self.ranked
            .lock()
            .iter()
            .take(limit)
            .map(|(_, name)| name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_subscribed_come_first_and_empty_channels_leave() {
        let ranking = SubscriberRanking::default();
        let name = |n: &str| ChannelName::new(n).unwrap();
        ranking.moved(&name("a"), 0, 1);
        ranking.moved(&name("b"), 0, 1);
        ranking.moved(&name("b"), 1, 2);
        ranking.moved(&name("c"), 0, 1);
        ranking.moved(&name("c"), 1, 0);
        assert_eq!(ranking.top(10), [name("b"), name("a")]);
        assert_eq!(ranking.top(1), [name("b")]);
    }
}
