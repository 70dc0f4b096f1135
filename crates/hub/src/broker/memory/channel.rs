//! One channel of the in-memory broker: its sequence counter, its history (and the bytes
//! that history holds), its subscribers, the address that created it, and the fan-out.
//!
//! Everything here runs under the channel's own lock. History is a contiguous run of
//! `seq`s (appended at the back, dropped only from the front), so "is `seq` still kept"
//! is a comparison with the front, and dropping "everything up to `seq`" is exact. Every
//! byte added to or removed from a history is reported to the hub-wide tally at the
//! moment it happens ([`HistoryUsage`]), so the global figure never drifts from the sum of
//! the channels.

use std::{
    collections::{HashSet, VecDeque},
    hash::{Hash, Hasher},
    net::IpAddr,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use bytes::Bytes;
use parking_lot::Mutex;
use switchboard_protocol::{ChannelName, delivery, now_ms, server::Member};

use super::usage::{HISTORY_ENTRY_OVERHEAD_BYTES, HistoryUsage};
use crate::{
    connection::{Connection, ConnectionId},
    delivery::Delivery,
    stats::HubCounters,
};

/// A channel behind its lock, as the table, the ledger and publishers share it.
pub(super) type ChannelCell = Mutex<ChannelState>;

/// How much history a channel keeps: the hub's count and per-channel byte bounds.
#[derive(Debug, Clone, Copy)]
pub(super) struct HistoryBounds {
    pub(super) messages: usize,
    pub(super) bytes: usize,
}

/// A message kept for resume.
#[derive(Debug)]
pub(super) struct Retained {
    pub(super) at: Instant,
    pub(super) seq: u64,
    pub(super) message: Arc<Delivery>,
}

impl Retained {
    /// What this entry counts against the history bounds: its JSON plus the fixed
    /// per-entry overhead (see [`HISTORY_ENTRY_OVERHEAD_BYTES`]).
    pub(super) fn cost(&self) -> usize {
        self.message.json.len() + HISTORY_ENTRY_OVERHEAD_BYTES
    }
}

#[derive(Debug)]
pub(super) struct ChannelState {
    pub(super) name: ChannelName,
    pub(super) last_seq: u64,
    pub(super) history: VecDeque<Retained>,
    /// Sum of [`Retained::cost`] over `history`.
    pub(super) history_bytes: usize,
    pub(super) subscribers: HashSet<Subscriber>,
    /// The address whose client created the channel (its quota is given back when the
    /// channel is dropped); `None` for channels the server created.
    pub(super) creator: Option<IpAddr>,
    /// Set (under the table's write lock) when the channel left the table: whoever still
    /// holds this cell must look the name up again.
    pub(super) dropped: bool,
}

impl ChannelState {
    /// A new channel whose first message gets `last_seq + 1`.
    pub(super) fn new(name: ChannelName, last_seq: u64, creator: Option<IpAddr>) -> Self {
        Self {
            name,
            last_seq,
            history: VecDeque::new(),
            history_bytes: 0,
            subscribers: HashSet::new(),
            creator,
            dropped: false,
        }
    }

    /// No subscriber and nothing in history: nothing would be lost by dropping it.
    pub(super) fn is_unused(&self) -> bool {
        self.subscribers.is_empty() && self.history.is_empty()
    }

    /// The oldest `seq` still in history (`last_seq + 1`, saturating, when it is empty).
    pub(super) fn first_kept(&self) -> u64 {
        self.history
            .front()
            .map_or(self.last_seq.saturating_add(1), |r| r.seq)
    }

    /// Appends a message, then drops the oldest while over either bound (which may drop
    /// the new message itself if it alone is over the byte bound).
    pub(super) fn retain(&mut self, entry: Retained, bounds: HistoryBounds, usage: &HistoryUsage) {
        let cost = entry.cost();
        self.history.push_back(entry);
        self.history_bytes += cost;
        usage.retained(cost);
        while self.history.len() > bounds.messages || self.history_bytes > bounds.bytes {
            if !self.pop_oldest(usage) {
                break;
            }
        }
    }

    /// Drops every kept message with `seq <= through`.
    pub(super) fn drop_through(&mut self, through: u64, usage: &HistoryUsage) {
        while self.history.front().is_some_and(|r| r.seq <= through) {
            self.pop_oldest(usage);
        }
    }

    /// Drops every kept message older than `ttl`.
    pub(super) fn expire(&mut self, now: Instant, ttl: Duration, usage: &HistoryUsage) {
        while self
            .history
            .front()
            .is_some_and(|r| now.saturating_duration_since(r.at) > ttl)
        {
            self.pop_oldest(usage);
        }
    }

    fn pop_oldest(&mut self, usage: &HistoryUsage) -> bool {
        let Some(oldest) = self.history.pop_front() else {
            return false;
        };
        let cost = oldest.cost();
        self.history_bytes -= cost;
        usage.released(cost);
        // Give spare capacity back once it is mostly empty (amortized O(1): a shrink
        // halves it at most once per len pops), so a channel that once held a full
        // history does not keep its slots for as long as it lives.
        let capacity = self.history.capacity();
        if capacity > 16 && self.history.len() * 4 < capacity {
            self.history.shrink_to(capacity / 2);
        }
        true
    }

    /// Queues `delivery` for every subscriber; returns how many took it.
    pub(super) fn fan_out(
        &self,
        delivery: &Arc<Delivery>,
        only_presence: bool,
        skip: Option<&ConnectionId>,
    ) -> usize {
        let mut delivered = 0;
        for subscriber in &self.subscribers {
            if (only_presence && !subscriber.presence)
                || skip.is_some_and(|id| id == subscriber.connection.id())
            {
                continue;
            }
            if subscriber.connection.send(delivery.clone()) == crate::Push::Queued {
                delivered += 1;
            }
        }
        delivered
    }

    pub(super) fn presence_event(
        &self,
        connection: &Connection,
        joined: bool,
        counters: &HubCounters,
    ) {
        if !self.subscribers.iter().any(|s| s.presence) {
            return;
        }
        let member = member_of(connection);
        let json = delivery::render_presence_event(&self.name, now_ms(), &member, joined);
        let event = Arc::new(Delivery {
            kind: if joined { "join" } else { "leave" },
            position: None,
            json: Bytes::from(json),
        });
        let delivered = self.fan_out(&event, true, Some(connection.id()));
        counters.messages_out.fetch_add(delivered as u64, Relaxed);
    }
}

pub(super) fn member_of(connection: &Connection) -> Member {
    Member {
        connection_id: connection.id().to_string(),
        transport: connection.transport(),
        user: connection.user().map(str::to_owned),
        info: connection
            .identity()
            .and_then(|identity| identity.info.clone()),
    }
}

/// A channel's subscriber, found by its connection's id: a set of these rather than a
/// map from id keeps each slot 16 bytes instead of 32 (per subscriber per channel, the
/// largest part of what a subscription costs; see docs/benchmarks.md, idle memory).
#[derive(Debug)]
pub(super) struct Subscriber {
    pub(super) connection: Arc<Connection>,
    pub(super) presence: bool,
}

impl PartialEq for Subscriber {
    fn eq(&self, other: &Self) -> bool {
        self.connection.id() == other.connection.id()
    }
}

impl Eq for Subscriber {}

impl Hash for Subscriber {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that lookups by `&str` (through `Borrow`) find it.
        self.connection.id().as_str().hash(state);
    }
}

impl std::borrow::Borrow<str> for Subscriber {
    fn borrow(&self) -> &str {
        self.connection.id().as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overhead_covers_what_a_retained_message_allocates() {
        let delivery = 2 * std::mem::size_of::<usize>() + std::mem::size_of::<Delivery>();
        let bytes_header = 32;
        let slot = std::mem::size_of::<Retained>();
        assert!(
            delivery + bytes_header + 4 * slot <= HISTORY_ENTRY_OVERHEAD_BYTES,
            "delivery {delivery} + bytes {bytes_header} + 4 × slot {slot}"
        );
    }
}
