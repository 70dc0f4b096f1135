//! The hub-wide history ledger: what every channel's history costs together, and the one
//! queue that says which retained message is the oldest anywhere.
//!
//! Every message kept in a history gets one entry here, pushed when it is published. The
//! entries are in publish order, so the front is the oldest message hub-wide: when the
//! total is over `history_max_bytes`, or the front is older than the TTL, the front is
//! popped and its channel drops everything up to that `seq`. Each entry is pushed once
//! and popped once, so keeping the bound costs O(1) amortized per publish, and expiry
//! costs nothing for channels with nothing to expire (no walk over channels, ever).
//!
//! An entry whose message already left its channel (the channel's own count or byte
//! bound dropped it) stays until it reaches the front; it costs [`LEDGER_SLOT_BYTES`],
//! which the total counts, so these entries are bounded by the same budget.
//!
//! Lock order: the queue, then a channel. Nobody holding a channel's lock takes the
//! queue's (publishers record after releasing their channel).

use std::{
    collections::VecDeque,
    sync::{Arc, Weak},
    time::{Duration, Instant},
};

use parking_lot::Mutex;

use super::{channel::ChannelCell, usage::HistoryUsage};

/// What one ledger entry costs while it is queued (live or already dropped by its
/// channel): the 32-byte entry, times the 2× spare capacity a growing queue has.
pub(crate) const LEDGER_SLOT_BYTES: usize = 2 * std::mem::size_of::<LedgerEntry>();

/// One retained message, by channel and `seq`.
#[derive(Debug)]
pub(super) struct LedgerEntry {
    /// Weak, so that a dropped channel's memory is not held by its old entries.
    channel: Weak<ChannelCell>,
    seq: u64,
    at: Instant,
}

/// The hub-wide history budget. See the module docs.
#[derive(Debug)]
pub(super) struct Ledger {
    entries: Mutex<VecDeque<LedgerEntry>>,
    /// What every channel's history holds (updated under those channels' locks).
    usage: HistoryUsage,
    max_bytes: usize,
    ttl: Duration,
}

impl Ledger {
    pub(super) fn new(max_bytes: usize, ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            usage: HistoryUsage::default(),
            max_bytes,
            ttl,
        }
    }

    /// What every channel's history holds; channels report to it as they change.
    pub(super) fn usage(&self) -> &HistoryUsage {
        &self.usage
    }

    /// Bytes counted against `history_max_bytes` now: every retained message's cost plus
    /// every queued entry's slot.
    pub(super) fn charged_bytes(&self) -> usize {
        let slots = self.entries.lock().len() * LEDGER_SLOT_BYTES;
        self.usage.bytes() + slots
    }

    /// Messages in every channel's history.
    pub(super) fn retained_messages(&self) -> usize {
        self.usage.messages()
    }

    /// Records that `channel` kept `seq` at `at`, then enforces the budget and the TTL.
    /// Channels left with neither history nor subscribers are added to `emptied` (to be
    /// dropped by the caller, outside every lock).
    pub(super) fn record(
        &self,
        channel: &Arc<ChannelCell>,
        seq: u64,
        at: Instant,
        emptied: &mut Vec<Arc<ChannelCell>>,
    ) {
        let mut entries = self.entries.lock();
        entries.push_back(LedgerEntry {
            channel: Arc::downgrade(channel),
            seq,
            at,
        });
        self.evict(&mut entries, at, emptied);
    }

    /// Drops what is over the budget or older than the TTL, and gives back spare queue
    /// capacity; for the periodic sweep (costs O(1) when nothing is due).
    pub(super) fn sweep(&self, now: Instant, emptied: &mut Vec<Arc<ChannelCell>>) {
        let mut entries = self.entries.lock();
        self.evict(&mut entries, now, emptied);
        let (len, capacity) = (entries.len(), entries.capacity());
        if capacity > 1024 && len * 4 < capacity {
            entries.shrink_to(len * 2);
        }
    }

    fn evict(
        &self,
        entries: &mut VecDeque<LedgerEntry>,
        now: Instant,
        emptied: &mut Vec<Arc<ChannelCell>>,
    ) {
        while let Some(front) = entries.front() {
            let expired = now.saturating_duration_since(front.at) > self.ttl;
            let charged = self.usage.bytes() + entries.len() * LEDGER_SLOT_BYTES;
            if !expired && charged <= self.max_bytes {
                break;
            }
            let Some(oldest) = entries.pop_front() else {
                break;
            };
            // A channel that is gone took its history with it.
            let Some(channel) = oldest.channel.upgrade() else {
                continue;
            };
            let mut state = channel.lock();
            // Entries of one channel may be queued slightly out of `seq` order by
            // concurrent publishers; dropping everything up to `seq` keeps the history
            // contiguous, and the later (smaller) entry then finds nothing to drop.
            state.drop_through(oldest.seq, &self.usage);
            let unused = !state.dropped && state.is_unused();
            drop(state);
            if unused {
                emptied.push(channel);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_slot_is_charged_twice_its_size() {
        assert_eq!(std::mem::size_of::<LedgerEntry>(), 32);
        assert_eq!(LEDGER_SLOT_BYTES, 64);
    }
}
