//! The hub's limits and defaults, each a named constant with the reason for its value.

use std::time::Duration;

use switchboard_protocol::ChannelName;

/// Messages kept per channel for resume: enough for a client that was away for a few
/// seconds on a busy channel, small enough that 10,000 channels stay in tens of MB.
pub const DEFAULT_HISTORY_SIZE: usize = 1_000;
/// How long history is kept: long enough to ride out a network change or a server restart
/// of a peer node, short enough that idle channels give their memory back.
pub const DEFAULT_HISTORY_TTL: Duration = Duration::from_secs(300);
/// Queued messages per connection before it counts as a slow consumer.
pub const DEFAULT_QUEUE_MESSAGES: usize = 1_024;
/// Queued bytes per connection before it counts as a slow consumer (bounds memory when
/// messages are large: 1,024 × 64 KiB would otherwise be 64 MiB for one reader).
pub const DEFAULT_QUEUE_BYTES: usize = 1024 * 1024;
/// Messages recovered from history that one connection may have queued at once: enough
/// to resume sixteen channels with a full default history each. They are shared with
/// history (a pointer each), so the bound is about repeated resumes, not message size.
pub const DEFAULT_REPLAY_MESSAGES: usize = 16 * DEFAULT_HISTORY_SIZE;
/// Messages per second one connection may send on average: far above any interactive
/// client and above a busy publisher (the fan-out benchmark publishes about 3,000/s), low
/// enough that one flooding client cannot monopolize the hub.
pub const DEFAULT_RATE_LIMIT_PER_SEC: u32 = 10_000;
/// Messages one connection may send at once before the average applies.
pub const DEFAULT_RATE_LIMIT_BURST: u32 = 10_000;
/// The largest client message accepted, in bytes, on every transport.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Subscriptions one connection may hold (including `broadcast`).
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 128;
/// Channels the hub will hold at once; channels are created on first use, so this bounds
/// what clients can make the server store.
pub const DEFAULT_MAX_CHANNELS: usize = 100_000;

/// The hub's configuration.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub history_size: usize,
    pub history_ttl: Duration,
    pub queue_messages: usize,
    pub queue_bytes: usize,
    /// Recovered (history) messages queued per connection at once; see [`DEFAULT_REPLAY_MESSAGES`].
    pub replay_messages: usize,
    /// Messages per second per connection (0: unlimited), and the burst allowed.
    pub rate_limit_per_sec: u32,
    pub rate_limit_burst: u32,
    pub max_message_bytes: usize,
    pub max_subscriptions: usize,
    pub max_channels: usize,
    /// Channels a new connection joins when its transport names none (besides `broadcast`).
    pub auto_subscribe: Vec<ChannelName>,
    /// Channels only the server may publish to (its feeds); `broadcast` is always one.
    pub read_only_channels: Vec<ChannelName>,
}

impl Default for HubConfig {
    fn default() -> Self {
        let names = |list: &[&str]| {
            list.iter()
                .filter_map(|n| ChannelName::new(n).ok())
                .collect()
        };
        Self {
            history_size: DEFAULT_HISTORY_SIZE,
            history_ttl: DEFAULT_HISTORY_TTL,
            queue_messages: DEFAULT_QUEUE_MESSAGES,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            replay_messages: DEFAULT_REPLAY_MESSAGES,
            rate_limit_per_sec: DEFAULT_RATE_LIMIT_PER_SEC,
            rate_limit_burst: DEFAULT_RATE_LIMIT_BURST,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
            max_channels: DEFAULT_MAX_CHANNELS,
            auto_subscribe: names(&["lobby"]),
            read_only_channels: names(&["clock", "metrics", "weather"]),
        }
    }
}
