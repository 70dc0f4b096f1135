//! The in-memory broker: one process, every channel in a map, one lock per channel.
//!
//! Per channel, a publish takes the channel's lock, assigns `seq`, renders the JSON once,
//! appends it to history and pushes it into every subscriber's outbox (a push never
//! waits, so the lock is held for microseconds even with thousands of subscribers).
//! Doing all of that under one lock is what makes per-channel order and gap-free resume
//! hold under concurrent publishers and subscribers.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    hash::{Hash, Hasher},
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use switchboard_protocol::{
    ChannelName, ServerMessage, delivery,
    delivery::Body,
    now_ms,
    server::{ChannelStats, GapReason, Member},
};

use super::{Broker, BrokerError, Published, SubscribeOutcome, SubscribeRequest};
use crate::{
    connection::{Connection, ConnectionId},
    delivery::{Delivery, Position},
    stats::HubCounters,
};

/// A broker that keeps everything in this process.
#[derive(Debug)]
pub struct MemoryBroker {
    epoch: String,
    channels: RwLock<HashMap<ChannelName, Arc<Mutex<ChannelState>>>>,
    history_size: usize,
    history_ttl: Duration,
    max_channels: usize,
    counters: Arc<HubCounters>,
}

#[derive(Debug)]
struct ChannelState {
    name: ChannelName,
    last_seq: u64,
    history: VecDeque<(Instant, Arc<Delivery>)>,
    subscribers: HashSet<Subscriber>,
}

/// A channel's subscriber, found by its connection's id: a set of these rather than a
/// map from id keeps each slot 16 bytes instead of 32 (per subscriber per channel, the
/// largest part of what a subscription costs; see docs/benchmarks.md, idle memory).
#[derive(Debug)]
struct Subscriber {
    connection: Arc<Connection>,
    presence: bool,
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

impl MemoryBroker {
    /// A broker with a fresh random epoch.
    pub fn new(
        history_size: usize,
        history_ttl: Duration,
        max_channels: usize,
        counters: Arc<HubCounters>,
    ) -> Self {
        Self {
            epoch: new_epoch(),
            channels: RwLock::new(HashMap::new()),
            history_size,
            history_ttl,
            max_channels,
            counters,
        }
    }

    fn channel(&self, name: &ChannelName) -> Result<Arc<Mutex<ChannelState>>, BrokerError> {
        if let Some(channel) = self.channels.read().get(name) {
            return Ok(channel.clone());
        }
        let mut channels = self.channels.write();
        if let Some(channel) = channels.get(name) {
            return Ok(channel.clone());
        }
        if channels.len() >= self.max_channels {
            return Err(BrokerError::TooManyChannels(self.max_channels));
        }
        let channel = Arc::new(Mutex::new(ChannelState {
            name: name.clone(),
            last_seq: 0,
            history: VecDeque::new(),
            subscribers: HashSet::new(),
        }));
        channels.insert(name.clone(), channel.clone());
        Ok(channel)
    }

    fn existing(&self, name: &ChannelName) -> Option<Arc<Mutex<ChannelState>>> {
        self.channels.read().get(name).cloned()
    }
}

/// Twelve hex digits of randomness: distinct across restarts, short on the wire.
fn new_epoch() -> String {
    let random = uuid::Uuid::new_v4().as_u128();
    format!("{:012x}", (random >> 80) as u64)
}

impl ChannelState {
    fn expire(&mut self, ttl: Duration) {
        let now = Instant::now();
        while let Some((at, _)) = self.history.front() {
            if now.duration_since(*at) <= ttl {
                break;
            }
            self.history.pop_front();
        }
    }

    /// Queues `delivery` for every subscriber; returns how many took it.
    fn fan_out(
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

    fn presence_event(&self, connection: &Connection, joined: bool, counters: &HubCounters) {
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

fn member_of(connection: &Connection) -> Member {
    Member {
        connection_id: connection.id().to_string(),
        transport: connection.transport(),
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    fn epoch(&self) -> &str {
        &self.epoch
    }

    async fn publish(
        &self,
        channel: &ChannelName,
        body: Body<'_>,
        from: Option<&str>,
    ) -> Result<Published, BrokerError> {
        let channel = self.channel(channel)?;
        let mut state = channel.lock();
        state.last_seq += 1;
        let seq = state.last_seq;
        let ts = now_ms();
        let json = delivery::render_channel_message(&state.name, seq, ts, body, from);
        let message = Arc::new(Delivery {
            kind: body.kind(),
            position: Some(Position {
                channel: state.name.clone(),
                seq,
            }),
            json: Bytes::from(json),
        });
        if self.history_size > 0 {
            if state.history.len() >= self.history_size {
                state.history.pop_front();
            }
            state.history.push_back((Instant::now(), message.clone()));
        }
        state.expire(self.history_ttl);
        let delivered = state.fan_out(&message, false, None);
        drop(state);
        self.counters
            .messages_out
            .fetch_add(delivered as u64, Relaxed);
        Ok(Published { seq, ts, delivered })
    }

    async fn subscribe(&self, request: SubscribeRequest) -> Result<SubscribeOutcome, BrokerError> {
        let channel = self.channel(&request.channel)?;
        let mut state = channel.lock();
        state.expire(self.history_ttl);
        let last_seq = state.last_seq;
        let epoch_changed = request.epoch.as_deref().is_some_and(|e| e != self.epoch);

        // What to recover, from which seq, and what is lost.
        // What is lost, in the order the client should hear it: first that its epoch is
        // gone (if it is), then any hole in what this epoch's history still holds.
        let mut gaps: Vec<(u64, Option<u64>, GapReason)> = Vec::new();
        let recover_after = match request.since {
            None => None,
            Some(since) if epoch_changed => {
                gaps.push((since + 1, None, GapReason::EpochChanged));
                Some(0)
            }
            Some(since) if since > last_seq => {
                return Err(BrokerError::SinceAhead {
                    channel: request.channel,
                    since,
                    last: last_seq,
                });
            }
            Some(since) => Some(since),
        };
        let mut missed: Vec<Arc<Delivery>> = Vec::new();
        if let Some(after) = recover_after {
            let first_kept = state
                .history
                .front()
                .and_then(|(_, d)| d.position.as_ref().map(|p| p.seq))
                .unwrap_or(last_seq + 1);
            if after + 1 < first_kept {
                gaps.push((after + 1, Some(first_kept - 1), GapReason::HistoryExceeded));
            }
            missed.extend(
                state
                    .history
                    .iter()
                    .filter(|(_, d)| d.position.as_ref().is_some_and(|p| p.seq > after))
                    .map(|(_, d)| d.clone()),
            );
        }
        let resumed = request.since.is_some() && gaps.is_empty();
        let connection = &request.connection;

        let subscribed = ServerMessage::Subscribed {
            id: request.id.clone(),
            channel: request.channel.to_string(),
            epoch: self.epoch.clone(),
            seq: last_seq,
            resumed,
            recovered: missed.len() as u64,
        };
        let mut sent =
            u64::from(connection.send(Delivery::reply(&subscribed)) == crate::Push::Queued);
        for (from, to, reason) in gaps {
            let gap = ServerMessage::Gap {
                channel: request.channel.to_string(),
                epoch: self.epoch.clone(),
                from,
                to,
                reason,
            };
            sent += u64::from(connection.send(Delivery::reply(&gap)) == crate::Push::Queued);
        }
        for delivery in &missed {
            sent += u64::from(connection.send_replay(delivery.clone()) == crate::Push::Queued);
        }
        self.counters.messages_out.fetch_add(sent, Relaxed);

        let new_subscription = !state.subscribers.contains(connection.id().as_str());
        if new_subscription {
            state.presence_event(connection, true, &self.counters);
        }
        state.subscribers.replace(Subscriber {
            connection: connection.clone(),
            presence: request.presence,
        });
        Ok(SubscribeOutcome {
            last_seq,
            resumed,
            recovered: missed.len() as u64,
            new_subscription,
        })
    }

    async fn unsubscribe(&self, channel: &ChannelName, connection: &Connection) -> bool {
        let Some(channel) = self.existing(channel) else {
            return false;
        };
        let mut state = channel.lock();
        let removed = state.subscribers.remove(connection.id().as_str());
        if removed {
            state.presence_event(connection, false, &self.counters);
        }
        removed
    }

    async fn presence(&self, channel: &ChannelName) -> Vec<Member> {
        let Some(channel) = self.existing(channel) else {
            return Vec::new();
        };
        let state = channel.lock();
        let mut members: Vec<Member> = state
            .subscribers
            .iter()
            .map(|s| member_of(&s.connection))
            .collect();
        members.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
        members
    }

    fn channel_stats(&self) -> Vec<ChannelStats> {
        let channels: Vec<_> = self.channels.read().values().cloned().collect();
        let mut stats: Vec<ChannelStats> = channels
            .iter()
            .map(|channel| {
                let mut state = channel.lock();
                state.expire(self.history_ttl);
                ChannelStats {
                    name: state.name.to_string(),
                    subscribers: state.subscribers.len() as u64,
                    last_seq: state.last_seq,
                    history: state.history.len() as u64,
                }
            })
            .collect();
        stats.sort_by(|a, b| a.name.cmp(&b.name));
        stats
    }
}

#[cfg(test)]
mod tests;
