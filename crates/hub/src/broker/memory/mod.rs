//! The in-memory broker: one process, every channel in a table, one lock per channel.
//!
//! Per channel, a publish takes the channel's lock, assigns `seq`, renders the JSON once,
//! appends it to history and pushes it into every subscriber's outbox (a push never
//! waits, so the lock is held for microseconds even with thousands of subscribers).
//! Doing all of that under one lock is what makes per-channel order and gap-free resume
//! hold under concurrent publishers and subscribers.
//!
//! # Memory
//! - History is bounded per channel (`history_size` messages, `history_channel_max_bytes`
//!   bytes), by age (`history_ttl`) and hub-wide (`history_max_bytes`, oldest first; see
//!   [`ledger`]). A resume that asks for what was dropped gets a `gap`.
//! - A channel with no subscriber and no history is dropped ([`table`]), and recreated on
//!   next use with its `seq` continuing, so old cursors report a `gap`, never a silent hole.
//! - Periodic work ([`MemoryBroker::sweep`], every [`HISTORY_SWEEP_INTERVAL`]) looks only
//!   at the oldest retained message: idle channels cost no CPU.
//!
//! # Layout
//! - `channel`: one channel's state, history bounds and fan-out.
//! - [`ledger`]: the hub-wide history budget and the oldest-first queue.
//! - [`table`]: the channels by name, creation limits and dropping.
//! - [`usage`]: what every history holds together, and the per-message overhead.
//! - `ranking`: channels by subscriber count, for `stats`.
//! - `resume`: the gap arithmetic of a resume.

mod channel;
pub(crate) mod ledger;
mod ranking;
mod resume;
pub(crate) mod table;
pub(crate) mod usage;

use std::{
    collections::HashSet,
    net::IpAddr,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use switchboard_protocol::{
    BROADCAST_CHANNEL, ChannelName, ServerMessage, delivery,
    delivery::Body,
    now_ms,
    server::{ChannelStats, Member},
};

use self::{
    channel::{ChannelCell, ChannelState, HistoryBounds, Retained, Subscriber, member_of},
    ledger::Ledger,
    ranking::SubscriberRanking,
    resume::BadSince,
    table::ChannelTable,
};
use super::{Broker, BrokerError, ChannelSummary, Published, SubscribeOutcome, SubscribeRequest};
use crate::{
    config::HubConfig,
    connection::Connection,
    delivery::{Delivery, Position},
    stats::HubCounters,
};

/// How often expired history is given back (and channels left unused dropped) when
/// nothing else triggers it: within a second of the TTL, at the cost of one look at the
/// oldest retained message per second.
pub const HISTORY_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A broker that keeps everything in this process.
#[derive(Debug)]
pub struct MemoryBroker {
    epoch: String,
    table: ChannelTable,
    ledger: Ledger,
    ranking: SubscriberRanking,
    bounds: HistoryBounds,
    history_ttl: Duration,
    counters: Arc<HubCounters>,
}

impl MemoryBroker {
    /// A broker with a fresh random epoch and the history and channel limits of `config`.
    pub fn new(config: &HubConfig, counters: Arc<HubCounters>) -> Self {
        Self {
            epoch: new_epoch(),
            table: ChannelTable::new(
                config.max_channels,
                config.max_channels_per_addr,
                server_channels(config),
            ),
            ledger: Ledger::new(config.history_max_bytes, config.history_ttl),
            ranking: SubscriberRanking::default(),
            bounds: HistoryBounds {
                messages: config.history_size,
                bytes: config.history_channel_max_bytes,
            },
            history_ttl: config.history_ttl,
            counters,
        }
    }

    /// Runs [`MemoryBroker::sweep`] every [`HISTORY_SWEEP_INTERVAL`] on the current tokio
    /// runtime (none: nothing is started, and expiry happens on publish and subscribe
    /// only). The task ends when the broker is dropped.
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let broker = Arc::downgrade(self);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(HISTORY_SWEEP_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(broker) = broker.upgrade() else {
                    break;
                };
                broker.sweep();
            }
        });
    }

    /// Runs `work` on the live channel `name` (created for `creator` if needed) under its
    /// lock, looking the name up again if the channel was dropped in between.
    fn with_channel<R>(
        &self,
        name: &ChannelName,
        creator: Option<IpAddr>,
        mut work: impl FnMut(&mut ChannelState) -> R,
    ) -> Result<(Arc<ChannelCell>, R), BrokerError> {
        loop {
            let channel = self.table.get_or_create(name, creator)?;
            let mut state = channel.lock();
            if state.dropped {
                continue;
            }
            let result = work(&mut state);
            drop(state);
            return Ok((channel, result));
        }
    }

    /// Drops each channel that is (still) unused.
    fn drop_unused(&self, channels: Vec<Arc<ChannelCell>>) {
        for channel in channels {
            self.table.drop_if_unused(&channel);
        }
    }
}

/// Twelve hex digits of randomness: distinct across restarts, short on the wire.
fn new_epoch() -> String {
    let random = uuid::Uuid::new_v4().as_u128();
    format!("{:012x}", (random >> 80) as u64)
}

/// The channels the server names itself: `broadcast`, the auto-subscribe list and the
/// read-only (feed) channels.
fn server_channels(config: &HubConfig) -> HashSet<ChannelName> {
    let broadcast = ChannelName::new(BROADCAST_CHANNEL).ok();
    broadcast
        .into_iter()
        .chain(config.auto_subscribe.iter().cloned())
        .chain(config.read_only_channels.iter().cloned())
        .collect()
}

fn creator_of(connection: &Connection) -> Option<IpAddr> {
    connection.remote().map(|address| address.ip())
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
        from: Option<&Connection>,
    ) -> Result<Published, BrokerError> {
        let sender = from.map(|connection| connection.id().as_str());
        let now = Instant::now();
        let (channel, (seq, ts, delivered, kept, unused)) =
            self.with_channel(channel, from.and_then(creator_of), |state| {
                state.last_seq += 1;
                let seq = state.last_seq;
                let ts = now_ms();
                let mut json = delivery::render_channel_message(&state.name, seq, ts, body, sender);
                // History counts `len` bytes: make that what the allocation holds.
                json.shrink_to_fit();
                let message = Arc::new(Delivery {
                    kind: body.kind(),
                    position: Some(Position {
                        channel: state.name.clone(),
                        seq,
                    }),
                    json: Bytes::from(json),
                });
                if self.bounds.messages > 0 {
                    let retained = Retained {
                        at: now,
                        seq,
                        message: message.clone(),
                    };
                    state.retain(retained, self.bounds, self.ledger.usage());
                }
                let kept = state.history.back().is_some_and(|r| r.seq == seq);
                let delivered = state.fan_out(&message, false, None);
                (seq, ts, delivered, kept, state.is_unused())
            })?;
        self.counters
            .messages_out
            .fetch_add(delivered as u64, Relaxed);
        let mut emptied = Vec::new();
        if kept {
            self.ledger.record(&channel, seq, now, &mut emptied);
        }
        if unused {
            emptied.push(channel);
        }
        self.drop_unused(emptied);
        Ok(Published { seq, ts, delivered })
    }

    async fn subscribe(&self, request: SubscribeRequest) -> Result<SubscribeOutcome, BrokerError> {
        let connection = &request.connection;
        let epoch_changed = request.epoch.as_deref().is_some_and(|e| e != self.epoch);
        let now = Instant::now();
        let (channel, outcome) =
            self.with_channel(&request.channel, creator_of(connection), |state| {
                state.expire(now, self.history_ttl, self.ledger.usage());
                let last_seq = state.last_seq;
                let plan = resume::plan(request.since, epoch_changed, last_seq, state.first_kept())
                    .map_err(|bad| {
                        let (channel, since) =
                            (request.channel.clone(), request.since.unwrap_or_default());
                        match bad {
                            BadSince::Ahead => BrokerError::SinceAhead {
                                channel,
                                since,
                                last: last_seq,
                            },
                            BadSince::OutOfRange => BrokerError::SinceOutOfRange { channel, since },
                        }
                    })?;
                let missed: Vec<Arc<Delivery>> = match plan.replay_after {
                    None => Vec::new(),
                    Some(after) => state
                        .history
                        .iter()
                        .skip_while(|r| r.seq <= after)
                        .map(|r| r.message.clone())
                        .collect(),
                };
                let resumed = request.since.is_some() && plan.gaps.is_empty();
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
                for (from, to, reason) in plan.gaps {
                    let gap = ServerMessage::Gap {
                        channel: request.channel.to_string(),
                        epoch: self.epoch.clone(),
                        from,
                        to,
                        reason,
                    };
                    sent +=
                        u64::from(connection.send(Delivery::reply(&gap)) == crate::Push::Queued);
                }
                for delivery in &missed {
                    sent +=
                        u64::from(connection.send_replay(delivery.clone()) == crate::Push::Queued);
                }
                self.counters.messages_out.fetch_add(sent, Relaxed);

                let before = state.subscribers.len();
                let new_subscription = !state.subscribers.contains(connection.id().as_str());
                if new_subscription {
                    state.presence_event(connection, true, &self.counters);
                }
                state.subscribers.replace(Subscriber {
                    connection: connection.clone(),
                    presence: request.presence,
                });
                self.ranking
                    .moved(&state.name, before, state.subscribers.len());
                Ok(SubscribeOutcome {
                    last_seq,
                    resumed,
                    recovered: missed.len() as u64,
                    new_subscription,
                })
            })?;
        if outcome.is_err() {
            // A refused resume may have created the channel, or emptied it by expiry.
            self.drop_unused(vec![channel]);
        }
        outcome
    }

    async fn unsubscribe(&self, channel: &ChannelName, connection: &Connection) -> bool {
        let Some(channel) = self.table.get(channel) else {
            return false;
        };
        let (removed, unused) = {
            let mut state = channel.lock();
            let before = state.subscribers.len();
            let removed = state.subscribers.remove(connection.id().as_str());
            if removed {
                state.presence_event(connection, false, &self.counters);
                self.ranking
                    .moved(&state.name, before, state.subscribers.len());
            }
            (removed, !state.dropped && state.is_unused())
        };
        if unused {
            self.drop_unused(vec![channel]);
        }
        removed
    }

    async fn presence(&self, channel: &ChannelName) -> Vec<Member> {
        let Some(channel) = self.table.get(channel) else {
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

    fn channel_summary(&self, top: usize) -> ChannelSummary {
        let ranked = self.ranking.top(top);
        let mut channels: Vec<Arc<ChannelCell>> = ranked
            .iter()
            .filter_map(|name| self.table.get(name))
            .collect();
        if channels.len() < top {
            let listed: HashSet<&ChannelName> = ranked.iter().collect();
            channels.extend(
                self.table
                    .some(top - channels.len(), |name| listed.contains(name)),
            );
        }
        let mut listed: Vec<ChannelStats> = channels
            .iter()
            .map(|channel| {
                let state = channel.lock();
                ChannelStats {
                    name: state.name.to_string(),
                    subscribers: state.subscribers.len() as u64,
                    last_seq: state.last_seq,
                    history: state.history.len() as u64,
                }
            })
            .collect();
        listed.sort_by(|a, b| {
            b.subscribers
                .cmp(&a.subscribers)
                .then_with(|| a.name.cmp(&b.name))
        });
        ChannelSummary {
            channels: self.table.len() as u64,
            history_messages: self.ledger.retained_messages() as u64,
            history_bytes: self.ledger.charged_bytes() as u64,
            top: listed,
        }
    }

    fn sweep(&self) {
        let mut emptied = Vec::new();
        self.ledger.sweep(Instant::now(), &mut emptied);
        self.drop_unused(emptied);
    }
}

#[cfg(test)]
mod tests;
