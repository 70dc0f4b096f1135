//! The channel table: every live channel by name, created on first use and dropped when
//! nothing would be lost (no subscriber, no history), so `max_channels` bounds memory
//! without locking the hub once it was reached.
//!
//! Two rules keep that safe:
//! - **Resume stays honest across a drop.** A channel recreated under the same name
//!   continues its `seq` from at least where the dropped one stopped (a small table of
//!   per-name-hash floors remembers the highest `last_seq` dropped, in bounded memory).
//!   An old cursor is therefore never "ahead" of the new channel and never matches a
//!   different message: resuming from it reports the lost range as a `gap`.
//! - **One address cannot take every channel.** Channels created by one client address
//!   (an IPv4 address or an IPv6 /64) that still exist are counted; past
//!   `max_channels_per_addr` creation is refused (error 115). Dropping a channel gives
//!   its creator's share back.
//!
//! Lock order: the table, then a channel.

use std::{
    collections::{HashMap, HashSet},
    hash::{BuildHasher, RandomState},
    net::IpAddr,
    sync::Arc,
};

use parking_lot::{Mutex, RwLock};
use switchboard_protocol::ChannelName;

use super::channel::{ChannelCell, ChannelState};
use crate::broker::BrokerError;

/// Slots of the `seq` floor table: 4,096 × 8 bytes = 32 KiB, whatever the number of
/// channels ever dropped. Names that share a slot share a floor, so a recreated channel
/// may start above its own old `last_seq` (a larger `gap` for an old cursor, never a
/// silent one), and the more slots the rarer that is.
pub(crate) const SEQ_FLOOR_SLOTS: usize = 4096;

#[derive(Debug)]
struct Tables {
    channels: HashMap<ChannelName, Arc<ChannelCell>>,
    /// Highest `last_seq` of any dropped channel whose name hashes to each slot.
    seq_floors: Box<[u64]>,
    /// Live channels created per client address.
    created_by: HashMap<IpAddr, usize>,
}

/// Every channel, with the creation limits. See the module docs.
#[derive(Debug)]
pub(super) struct ChannelTable {
    tables: RwLock<Tables>,
    /// Keyed per hub run, so that which names share a floor cannot be predicted.
    floor_hasher: RandomState,
    /// Channels the server names itself (`broadcast`, auto-subscribe, read-only feeds):
    /// creating them counts against nobody's share.
    server_channels: HashSet<ChannelName>,
    max_channels: usize,
    max_per_addr: usize,
}

impl ChannelTable {
    pub(super) fn new(
        max_channels: usize,
        max_per_addr: usize,
        server_channels: HashSet<ChannelName>,
    ) -> Self {
        Self {
            tables: RwLock::new(Tables {
                channels: HashMap::new(),
                seq_floors: vec![0; SEQ_FLOOR_SLOTS].into_boxed_slice(),
                created_by: HashMap::new(),
            }),
            floor_hasher: RandomState::new(),
            server_channels,
            max_channels,
            max_per_addr,
        }
    }

    /// The channel called `name`, if it exists.
    pub(super) fn get(&self, name: &ChannelName) -> Option<Arc<ChannelCell>> {
        self.tables.read().channels.get(name).cloned()
    }

    /// Live channels.
    pub(super) fn len(&self) -> usize {
        self.tables.read().channels.len()
    }

    /// The channel called `name`, created (counted against `creator`'s share) if needed.
    pub(super) fn get_or_create(
        &self,
        name: &ChannelName,
        creator: Option<IpAddr>,
    ) -> Result<Arc<ChannelCell>, BrokerError> {
        if let Some(channel) = self.get(name) {
            return Ok(channel);
        }
        let mut tables = self.tables.write();
        if let Some(channel) = tables.channels.get(name) {
            return Ok(channel.clone());
        }
        if tables.channels.len() >= self.max_channels {
            return Err(BrokerError::TooManyChannels(self.max_channels));
        }
        let creator = creator
            .filter(|_| !self.server_channels.contains(name))
            .map(address_key);
        if let Some(address) = creator {
            let created = tables.created_by.entry(address).or_insert(0);
            if *created >= self.max_per_addr {
                return Err(BrokerError::ChannelQuota(self.max_per_addr));
            }
            *created += 1;
        }
        let floor = tables.seq_floors[self.floor_slot(name)];
        let channel = Arc::new(Mutex::new(ChannelState::new(name.clone(), floor, creator)));
        tables.channels.insert(name.clone(), channel.clone());
        Ok(channel)
    }

    /// Drops `channel` if it is still in the table and unused; returns whether it did.
    /// Call with no lock held.
    pub(super) fn drop_if_unused(&self, channel: &Arc<ChannelCell>) -> bool {
        let mut tables = self.tables.write();
        let mut state = channel.lock();
        if state.dropped || !state.is_unused() {
            return false;
        }
        let tables = &mut *tables;
        if !tables
            .channels
            .get(&state.name)
            .is_some_and(|current| Arc::ptr_eq(current, channel))
        {
            return false;
        }
        tables.channels.remove(&state.name);
        state.dropped = true;
        let slot = self.floor_slot(&state.name);
        tables.seq_floors[slot] = tables.seq_floors[slot].max(state.last_seq);
        if let Some(address) = state.creator
            && let Some(created) = tables.created_by.get_mut(&address)
        {
            *created -= 1;
            if *created == 0 {
                tables.created_by.remove(&address);
            }
        }
        true
    }

    /// Up to `limit` channels (in no particular order), skipping those `skip` accepts;
    /// visits at most `limit` plus the skipped ones.
    pub(super) fn some(
        &self,
        limit: usize,
        skip: impl Fn(&ChannelName) -> bool,
    ) -> Vec<Arc<ChannelCell>> {
        self.tables
            .read()
            .channels
            .iter()
            .filter(|(name, _)| !skip(name))
            .take(limit)
            .map(|(_, channel)| channel.clone())
            .collect()
    }

    fn floor_slot(&self, name: &ChannelName) -> usize {
        (self.floor_hasher.hash_one(name.as_str()) as usize) % SEQ_FLOOR_SLOTS
    }
}

/// The address a channel's creation counts against: the IPv4 address, or the IPv6 /64
/// (one host usually holds a whole /64, so per-address would be no limit at all).
fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_host_counts_as_its_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_key(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}
