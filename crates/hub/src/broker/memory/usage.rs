//! What every channel's history holds together, in messages and in bytes as the history
//! bounds count them, kept exact by the channels as they add and drop messages.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// What one retained message costs beyond its JSON bytes, counted against both history
/// bounds: the shared `Delivery` (with its `Arc` header, about 90 bytes), the `Bytes`
/// header it gets when a transport clones it (32), and its slot in the channel's history
/// (32 bytes, times the 4× spare capacity a history may have before it shrinks). A test
/// in `channel` checks the figure still covers these sizes.
pub(crate) const HISTORY_ENTRY_OVERHEAD_BYTES: usize = 256;

/// Messages and bytes in every channel's history. Updated under the channel's lock at
/// the moment a message is kept or dropped, so it never drifts from the channels' sum.
#[derive(Debug, Default)]
pub(super) struct HistoryUsage {
    bytes: AtomicUsize,
    messages: AtomicUsize,
}

impl HistoryUsage {
    /// A channel kept a message costing `cost`.
    pub(super) fn retained(&self, cost: usize) {
        self.bytes.fetch_add(cost, Relaxed);
        self.messages.fetch_add(1, Relaxed);
    }

    /// A channel dropped a message costing `cost`.
    pub(super) fn released(&self, cost: usize) {
        self.bytes.fetch_sub(cost, Relaxed);
        self.messages.fetch_sub(1, Relaxed);
    }

    /// Sum of the retained messages' costs.
    pub(super) fn bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }

    /// Messages retained.
    pub(super) fn messages(&self) -> usize {
        self.messages.load(Relaxed)
    }
}
