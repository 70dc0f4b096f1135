//! The broker seam: where messages get their sequence numbers, where history lives, and
//! how a publish reaches subscribers.
//!
//! Transports never see a broker; they talk to the [`crate::Hub`], which holds an
//! `Arc<dyn Broker>`. Today there is [`MemoryBroker`] (one process); a Redis-backed
//! broker implements the same trait to let several nodes share channels.
//!
//! A broker must guarantee, per channel: sequence numbers strictly increase by one within
//! an epoch; every local subscriber receives messages in `seq` order; a subscription with
//! `since` atomically gets the `subscribed` reply, then a `gap` if anything is lost, then
//! every retained missed message, then live messages, with no duplicate and no hole between
//! recovered and live.

mod memory;

use std::sync::Arc;

use async_trait::async_trait;
use switchboard_protocol::{
    ChannelName, RequestId,
    delivery::Body,
    server::{ChannelStats, Member},
};

pub use memory::{HISTORY_SWEEP_INTERVAL, MemoryBroker};

use crate::connection::Connection;

/// What a publish was assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The message's sequence number in its channel: one more than the channel's previous
    /// message, starting at 1 in each epoch.
    pub seq: u64,
    /// When the broker assigned `seq`, in milliseconds since the Unix epoch (wall clock);
    /// the same `ts` the subscribers' copy carries.
    pub ts: u64,
    /// Local subscribers the message was queued for.
    pub delivered: usize,
}

/// A subscription request, as the broker needs it.
#[derive(Debug, Clone)]
pub struct SubscribeRequest {
    /// The client's request id, echoed in the `subscribed` reply (`None` for the
    /// subscriptions the hub makes itself when a connection opens).
    pub id: Option<RequestId>,
    /// The channel to join; created on first use, within the hub's channel limit.
    pub channel: ChannelName,
    /// The subscriber: the reply, any `gap`, recovered messages and live messages are all
    /// queued to its outbox, in that order.
    pub connection: Arc<Connection>,
    /// Resume after this sequence number.
    pub since: Option<u64>,
    /// The epoch `since` belongs to; when it differs from the broker's, history is lost.
    pub epoch: Option<String>,
    /// Whether this subscriber wants `join` / `leave` events.
    pub presence: bool,
}

/// How a subscription went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOutcome {
    /// The channel's last sequence number when the subscription took effect (0 if nothing
    /// was published in this epoch yet); live messages continue from `last_seq + 1`.
    pub last_seq: u64,
    /// Every message after `since` was (or is being) delivered.
    pub resumed: bool,
    /// How many messages were replayed from history to this subscriber (0 without `since`).
    pub recovered: u64,
    /// False when the connection was already subscribed (the request only re-synced it).
    pub new_subscription: bool,
}

/// The channels in figures, as `stats` reports them: totals over every channel, and the
/// few with the most subscribers in detail.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelSummary {
    /// Channels that exist right now.
    pub channels: u64,
    /// Messages kept in history, over every channel.
    pub history_messages: u64,
    /// Bytes counted against the history budget (`history_max_bytes`) right now.
    pub history_bytes: u64,
    /// Up to the requested number of channels: those with the most subscribers first
    /// (ties by name), then, if there is room, channels without subscribers.
    pub top: Vec<ChannelStats>,
}

/// Broker failures a client can be told about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The channel does not exist yet and creating it would exceed the configured maximum
    /// number of channels (the value carried); error `too_many_channels` to the client.
    #[error("the hub already holds its maximum of {0} channels")]
    TooManyChannels(usize),
    /// The channel does not exist yet and the client's address already created the most
    /// channels one address may have at once (the value carried); error
    /// `channel_quota_exceeded` to the client.
    #[error(
        "this address already created {0} channels that still exist, the most one address may; \
         channels are freed when they have no subscribers and no history"
    )]
    ChannelQuota(usize),
    /// A resume asked for messages after a sequence number the channel has not reached
    /// in the current epoch; error `invalid_since` to the client.
    #[error("since {since} is ahead of channel {channel}'s last sequence number {last}")]
    SinceAhead {
        /// The channel the client tried to resume.
        channel: ChannelName,
        /// The sequence number the client asked to resume after.
        since: u64,
        /// The channel's actual last sequence number.
        last: u64,
    },
    /// A resume from another epoch asked for messages after `u64::MAX`, a position no
    /// channel can reach; error `invalid_since` to the client.
    #[error("since {since} is not a position channel {channel} can have reached")]
    SinceOutOfRange {
        /// The channel the client tried to resume.
        channel: ChannelName,
        /// The sequence number the client asked to resume after.
        since: u64,
    },
    /// The broker's backing store cannot be reached (a networked broker); the text says
    /// why. Reported to the client as an internal error.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
}

/// Where publishing, history and fan-out happen.
#[async_trait]
pub trait Broker: Send + Sync + std::fmt::Debug + 'static {
    /// This broker's epoch: changes whenever sequence numbers start over.
    fn epoch(&self) -> &str;

    /// Assigns the next `seq` on `channel`, records the message in history and queues it
    /// (rendered once) for every subscriber. `from` is the publishing connection (`None`
    /// for the server itself): its id goes in the message, and a channel it creates
    /// counts against its address's share.
    async fn publish(
        &self,
        channel: &ChannelName,
        body: Body<'_>,
        from: Option<&Connection>,
    ) -> Result<Published, BrokerError>;

    /// Subscribes a connection, queueing `subscribed` (and `gap` and recovered messages)
    /// into its outbox as described in the module docs.
    async fn subscribe(&self, request: SubscribeRequest) -> Result<SubscribeOutcome, BrokerError>;

    /// Removes a subscription; returns whether there was one.
    async fn unsubscribe(&self, channel: &ChannelName, connection: &Connection) -> bool;

    /// Who is subscribed to `channel` (on this node).
    async fn presence(&self, channel: &ChannelName) -> Vec<Member>;

    /// Totals over every channel, and at most `top` channels in detail (most subscribers
    /// first); never a walk over every channel.
    fn channel_summary(&self, top: usize) -> ChannelSummary;

    /// Gives back history older than the TTL (and drops channels left unused). The hub
    /// calls it periodically; it must cost O(1) when nothing is due.
    fn sweep(&self) {}
}
