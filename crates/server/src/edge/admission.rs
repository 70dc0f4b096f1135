//! Admission: the global and per-address connection caps, counted once per accepted
//! socket on every listener (HTTP, and so its WebSockets, event streams and polls; raw TCP).
//!
//! Guarantees:
//! - At most `max` connections are admitted at once, and at most `max_per_addr` from one
//!   client address (0: no per-address cap). The count is taken before anything else is
//!   done with the socket and given back when its [`ConnectionSlot`] drops, however the
//!   connection ends (a WebSocket keeps its slot inside its socket after the upgrade).
//! - Cost per connection: one atomic add and one map update under a short lock at accept
//!   and at close, and an 8-byte slot beside the socket. An address has one map entry,
//!   shared by its connections and removed with its last one, so the map holds only the
//!   addresses that are connected.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use parking_lot::Mutex;

/// Counts open connections against the caps. Cloning shares the counts.
#[derive(Debug, Clone)]
pub struct Admission {
    counts: Arc<Counts>,
}

#[derive(Debug)]
struct Counts {
    max: usize,
    /// 0: no per-address cap.
    max_per_addr: usize,
    open: AtomicUsize,
    per_addr: Mutex<HashMap<IpAddr, AddrCount>>,
}

#[derive(Debug)]
struct AddrCount {
    open: usize,
    /// Shared by every slot of this address: a slot is one pointer, not an address.
    entry: Arc<AddrEntry>,
}

#[derive(Debug)]
struct AddrEntry {
    counts: Arc<Counts>,
    addr: IpAddr,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds `max` connections (answered 503 / `error` 302 `server_full`).
    ServerFull {
        /// The server-wide cap, `connections.max`.
        max: usize,
    },
    /// The client's address holds `max` connections (answered 429 / `error` 207
    /// `too_many_connections`).
    AddressFull {
        /// The per-address cap, `connections.max_per_addr`.
        max: usize,
    },
}

/// One admitted connection; dropping it gives the place back.
#[derive(Debug)]
pub struct ConnectionSlot(Arc<AddrEntry>);

impl Admission {
    /// Caps of `max` connections in all and `max_per_addr` per address (0: none).
    pub fn new(max: usize, max_per_addr: usize) -> Self {
        Self {
            counts: Arc::new(Counts {
                max,
                max_per_addr,
                open: AtomicUsize::new(0),
                per_addr: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Admits a connection from `addr`, or says which cap it meets.
    pub fn try_admit(&self, addr: IpAddr) -> Result<ConnectionSlot, Refusal> {
        let counts = &self.counts;
        counts
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < counts.max).then_some(open + 1)
            })
            .map_err(|_| Refusal::ServerFull { max: counts.max })?;
        let mut per_addr = counts.per_addr.lock();
        let count = per_addr.entry(addr).or_insert_with(|| AddrCount {
            open: 0,
            entry: Arc::new(AddrEntry {
                counts: counts.clone(),
                addr,
            }),
        });
        if counts.max_per_addr != 0 && count.open >= counts.max_per_addr {
            drop(per_addr);
            counts.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::AddressFull {
                max: counts.max_per_addr,
            });
        }
        count.open += 1;
        Ok(ConnectionSlot(count.entry.clone()))
    }

    /// Connections admitted and not yet closed.
    pub fn open(&self) -> usize {
        self.counts.open.load(Ordering::Acquire)
    }

    /// Connections from `addr` admitted and not yet closed.
    pub fn open_from(&self, addr: IpAddr) -> usize {
        self.counts.per_addr.lock().get(&addr).map_or(0, |c| c.open)
    }

    /// Addresses with at least one open connection (the size of the per-address map).
    pub fn addresses(&self) -> usize {
        self.counts.per_addr.lock().len()
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let entry = &self.0;
        let counts = &entry.counts;
        {
            let mut per_addr = counts.per_addr.lock();
            if let Some(count) = per_addr.get_mut(&entry.addr) {
                count.open = count.open.saturating_sub(1);
                if count.open == 0 {
                    per_addr.remove(&entry.addr);
                }
            }
        }
        counts.open.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn the_per_address_cap_leaves_room_for_other_addresses() {
        let admission = Admission::new(10, 2);
        let first = admission.try_admit(A).unwrap();
        let _second = admission.try_admit(A).unwrap();
        assert_eq!(
            admission.try_admit(A).unwrap_err(),
            Refusal::AddressFull { max: 2 }
        );
        let _other = admission.try_admit(B).unwrap();
        assert_eq!((admission.open(), admission.open_from(A)), (3, 2));
        drop(first);
        assert_eq!(admission.open_from(A), 1);
        assert!(admission.try_admit(A).is_ok());
    }

    #[test]
    fn the_global_cap_holds_and_every_place_comes_back() {
        let admission = Admission::new(2, 0);
        let slots = [
            admission.try_admit(A).unwrap(),
            admission.try_admit(B).unwrap(),
        ];
        assert_eq!(
            admission.try_admit(A).unwrap_err(),
            Refusal::ServerFull { max: 2 }
        );
        drop(slots);
        assert_eq!((admission.open(), admission.addresses()), (0, 0));
    }

    #[test]
    fn a_refused_address_leaves_no_entry_behind() {
        let admission = Admission::new(1, 1);
        let slot = admission.try_admit(A).unwrap();
        assert!(admission.try_admit(B).is_err());
        assert_eq!(admission.addresses(), 1);
        drop(slot);
        assert_eq!(admission.addresses(), 0);
    }

    /// The slot rides inside every upgraded WebSocket's socket: it must stay one pointer.
    #[test]
    fn a_slot_is_one_pointer() {
        assert_eq!(std::mem::size_of::<ConnectionSlot>(), 8);
        assert_eq!(std::mem::size_of::<Option<ConnectionSlot>>(), 8);
    }
}
