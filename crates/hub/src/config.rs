//! The hub's limits and defaults, each a named constant with the reason for its value,
//! and [`HubConfig::validate`], the one place that says which combinations the hub can
//! run with (the server calls it at start; nothing downstream clamps what it guarantees).

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
/// Bytes of history the hub keeps across every channel (each message counted as its JSON
/// plus a fixed per-entry overhead): the count and age bounds alone allow
/// 100,000 channels × 1,000 messages × 64 KiB, terabytes. 256 MiB holds a full default
/// history for hundreds of busy channels of small messages and fits a small server; past
/// it the oldest messages hub-wide go first (a later resume gets a `gap`).
pub const DEFAULT_HISTORY_MAX_BYTES: usize = 256 * 1024 * 1024;
/// Bytes of history one channel keeps (counted as for [`DEFAULT_HISTORY_MAX_BYTES`]):
/// a full default history (1,000 messages) of messages up to about 16 KiB, while one
/// channel of large messages takes at most a sixteenth of the global budget, so a single
/// busy channel cannot flush every other channel's history by itself.
pub const DEFAULT_HISTORY_CHANNEL_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Channels created by one client address (an IPv4 address, or an IPv6 /64) that may
/// exist at once: a tenth of [`DEFAULT_MAX_CHANNELS`], so one address cannot fill the hub
/// and lock everyone else out of creating channels, while a load test from one machine
/// can still make 10,000. Channels the server creates (feeds) do not count.
pub const DEFAULT_MAX_CHANNELS_PER_ADDR: usize = 10_000;
/// Channels listed in `stats` (those with the most subscribers first): with 100,000
/// channels a full list is a 6 MB reply that would close the asker as a slow consumer;
/// 100 entries keep it a few kilobytes, and the totals still count every channel.
pub const STATS_TOP_CHANNELS: usize = 100;

/// Channels a new connection joins when its transport names none (besides `broadcast`):
/// the demo page's chat room, so a first visitor lands somewhere with others.
pub const DEFAULT_AUTO_SUBSCRIBE: [&str; 1] = ["lobby"];
/// Channels only the server may publish to: the ones its feeds own.
pub const DEFAULT_READ_ONLY_CHANNELS: [&str; 3] = ["clock", "metrics", "weather"];
/// The largest queue bound (messages or bytes) an outbox can hold: it counts in `u32`
/// to keep every connection small.
pub const MAX_QUEUE_BOUND: usize = u32::MAX as usize;

/// The hub's configuration.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Messages kept per channel for resume, at most; older ones are dropped (a resume
    /// from before them gets a `gap`). See [`DEFAULT_HISTORY_SIZE`].
    pub history_size: usize,
    /// How long a message stays in history. See [`DEFAULT_HISTORY_TTL`].
    pub history_ttl: Duration,
    /// Bytes of history kept across every channel; past it the oldest messages hub-wide
    /// are dropped first. See [`DEFAULT_HISTORY_MAX_BYTES`].
    pub history_max_bytes: usize,
    /// Bytes of history one channel keeps; past it that channel's oldest messages are
    /// dropped. See [`DEFAULT_HISTORY_CHANNEL_MAX_BYTES`].
    pub history_channel_max_bytes: usize,
    /// Messages queued for one connection before it is closed as a slow consumer (4001).
    pub queue_messages: usize,
    /// Bytes (serialized messages) queued for one connection before it is closed as a
    /// slow consumer (4001); at least `max_message_bytes`.
    pub queue_bytes: usize,
    /// Recovered (history) messages queued per connection at once; see [`DEFAULT_REPLAY_MESSAGES`].
    pub replay_messages: usize,
    /// Messages per second one connection may send on average (0: unlimited); over it
    /// they are dropped with error 113.
    pub rate_limit_per_sec: u32,
    /// Messages one connection may send at once before the average applies.
    pub rate_limit_burst: u32,
    /// The largest client message accepted, in bytes, on every transport (error 105 over it).
    pub max_message_bytes: usize,
    /// Subscriptions one connection may hold, `broadcast` included (error 110 over it).
    pub max_subscriptions: usize,
    /// Channels the hub holds at once (error 111 when a new one would pass it).
    pub max_channels: usize,
    /// Channels created by one client address that may exist at once (error
    /// `channel_quota_exceeded` beyond it). See [`DEFAULT_MAX_CHANNELS_PER_ADDR`].
    pub max_channels_per_addr: usize,
    /// Channels a new connection joins when its transport names none (besides `broadcast`).
    pub auto_subscribe: Vec<ChannelName>,
    /// Channels only the server may publish to (its feeds); `broadcast` is always one.
    pub read_only_channels: Vec<ChannelName>,
}

impl Default for HubConfig {
    fn default() -> Self {
        let names = |list: &[&str]| {
            // The lists above are valid channel names; a test checks none is dropped.
            list.iter()
                .filter_map(|n| ChannelName::new(n).ok())
                .collect()
        };
        Self {
            history_size: DEFAULT_HISTORY_SIZE,
            history_ttl: DEFAULT_HISTORY_TTL,
            history_max_bytes: DEFAULT_HISTORY_MAX_BYTES,
            history_channel_max_bytes: DEFAULT_HISTORY_CHANNEL_MAX_BYTES,
            queue_messages: DEFAULT_QUEUE_MESSAGES,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            replay_messages: DEFAULT_REPLAY_MESSAGES,
            rate_limit_per_sec: DEFAULT_RATE_LIMIT_PER_SEC,
            rate_limit_burst: DEFAULT_RATE_LIMIT_BURST,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
            max_channels: DEFAULT_MAX_CHANNELS,
            max_channels_per_addr: DEFAULT_MAX_CHANNELS_PER_ADDR,
            auto_subscribe: names(&DEFAULT_AUTO_SUBSCRIBE),
            read_only_channels: names(&DEFAULT_READ_ONLY_CHANNELS),
        }
    }
}

/// A hub configuration the hub cannot run with, found by [`HubConfig::validate`]. Each
/// names the field (`hub.<field>`) and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubConfigError {
    /// A setting that must be positive is 0.
    #[error("`hub.{field}` is 0: {why}")]
    Zero {
        /// The setting, as `hub.<field>`.
        field: &'static str,
        /// Why 0 cannot work.
        why: &'static str,
    },
    /// A queue bound above what an outbox counts ([`MAX_QUEUE_BOUND`]).
    #[error("`hub.{field}` is {value}, above the most an outbox can count ({max})")]
    AboveQueueBound {
        /// The setting, as `hub.<field>`.
        field: &'static str,
        /// The configured value.
        value: usize,
        /// The largest value allowed.
        max: usize,
    },
    /// The per-connection byte bound cannot hold one message of the largest size.
    #[error(
        "`hub.queue_bytes` ({queue_bytes}) is below `hub.max_message_bytes` ({max_message_bytes}): \
         one message of the largest size accepted would close every subscriber as a slow consumer"
    )]
    QueueBytesBelowMessage {
        /// The configured `queue_bytes`.
        queue_bytes: usize,
        /// The configured `max_message_bytes`.
        max_message_bytes: usize,
    },
    /// The per-channel history bound is above the hub-wide one.
    #[error(
        "`hub.history_channel_max_bytes` ({channel}) is above `hub.history_max_bytes` ({global}): \
         the per-channel bound could never apply"
    )]
    ChannelHistoryAboveGlobal {
        /// The configured `history_channel_max_bytes`.
        channel: usize,
        /// The configured `history_max_bytes`.
        global: usize,
    },
    /// The per-channel history bound cannot hold one message of the largest size.
    #[error(
        "`hub.history_channel_max_bytes` ({channel}) is below `hub.max_message_bytes` ({max_message_bytes}): \
         a message of the largest size accepted could never be kept for resume"
    )]
    ChannelHistoryBelowMessage {
        /// The configured `history_channel_max_bytes`.
        channel: usize,
        /// The configured `max_message_bytes`.
        max_message_bytes: usize,
    },
    /// A rate limit with no burst would refuse every message.
    #[error(
        "`hub.rate_limit_burst` is 0 while `hub.rate_limit_per_sec` is {per_sec}: \
         no message could ever be sent (use rate_limit_per_sec 0 for unlimited)"
    )]
    ZeroBurst {
        /// The configured `rate_limit_per_sec`.
        per_sec: u32,
    },
}

impl HubConfig {
    /// Checks every limit and cross-limit the hub relies on; the first problem found is
    /// the error. A configuration that passes needs no clamping anywhere downstream.
    pub fn validate(&self) -> Result<(), HubConfigError> {
        let nonzero = [
            (
                "queue_messages",
                self.queue_messages,
                "every delivery would close its connection as a slow consumer",
            ),
            (
                "queue_bytes",
                self.queue_bytes,
                "every delivery would close its connection as a slow consumer",
            ),
            (
                "max_message_bytes",
                self.max_message_bytes,
                "no client message could be accepted",
            ),
            (
                "max_subscriptions",
                self.max_subscriptions,
                "no connection could join even `broadcast`",
            ),
            (
                "max_channels",
                self.max_channels,
                "not even `broadcast` could exist",
            ),
            (
                "max_channels_per_addr",
                self.max_channels_per_addr,
                "no client could create a channel",
            ),
            (
                "history_max_bytes",
                self.history_max_bytes,
                "no message could be kept (use history_size 0 to turn history off)",
            ),
            (
                "history_channel_max_bytes",
                self.history_channel_max_bytes,
                "no message could be kept (use history_size 0 to turn history off)",
            ),
        ];
        for (field, value, why) in nonzero {
            if value == 0 {
                return Err(HubConfigError::Zero { field, why });
            }
        }
        let queue_bounds = [
            ("queue_messages", self.queue_messages),
            ("queue_bytes", self.queue_bytes),
            ("replay_messages", self.replay_messages),
        ];
        for (field, value) in queue_bounds {
            if value > MAX_QUEUE_BOUND {
                return Err(HubConfigError::AboveQueueBound {
                    field,
                    value,
                    max: MAX_QUEUE_BOUND,
                });
            }
        }
        if self.queue_bytes < self.max_message_bytes {
            return Err(HubConfigError::QueueBytesBelowMessage {
                queue_bytes: self.queue_bytes,
                max_message_bytes: self.max_message_bytes,
            });
        }
        if self.history_channel_max_bytes > self.history_max_bytes {
            return Err(HubConfigError::ChannelHistoryAboveGlobal {
                channel: self.history_channel_max_bytes,
                global: self.history_max_bytes,
            });
        }
        if self.history_channel_max_bytes < self.max_message_bytes {
            return Err(HubConfigError::ChannelHistoryBelowMessage {
                channel: self.history_channel_max_bytes,
                max_message_bytes: self.max_message_bytes,
            });
        }
        if self.rate_limit_per_sec > 0 && self.rate_limit_burst == 0 {
            return Err(HubConfigError::ZeroBurst {
                per_sec: self.rate_limit_per_sec,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_keep_every_listed_channel() {
        let config = HubConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.auto_subscribe.len(), DEFAULT_AUTO_SUBSCRIBE.len());
        assert_eq!(
            config.read_only_channels.len(),
            DEFAULT_READ_ONLY_CHANNELS.len()
        );
    }

    #[test]
    fn rejects_limits_the_hub_cannot_run_with() {
        let invalid = |edit: fn(&mut HubConfig)| {
            let mut config = HubConfig::default();
            edit(&mut config);
            config.validate().expect_err("invalid")
        };
        assert!(matches!(
            invalid(|c| c.queue_bytes = 0),
            HubConfigError::Zero {
                field: "queue_bytes",
                ..
            }
        ));
        assert!(matches!(
            invalid(|c| c.max_subscriptions = 0),
            HubConfigError::Zero {
                field: "max_subscriptions",
                ..
            }
        ));
        assert_eq!(
            invalid(|c| c.queue_bytes = 1000),
            HubConfigError::QueueBytesBelowMessage {
                queue_bytes: 1000,
                max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES
            }
        );
        assert_eq!(
            invalid(|c| c.rate_limit_burst = 0),
            HubConfigError::ZeroBurst {
                per_sec: DEFAULT_RATE_LIMIT_PER_SEC
            }
        );
        assert!(matches!(
            invalid(|c| c.history_max_bytes = 0),
            HubConfigError::Zero {
                field: "history_max_bytes",
                ..
            }
        ));
        assert!(matches!(
            invalid(|c| c.max_channels_per_addr = 0),
            HubConfigError::Zero {
                field: "max_channels_per_addr",
                ..
            }
        ));
        assert_eq!(
            invalid(|c| c.history_max_bytes = DEFAULT_HISTORY_CHANNEL_MAX_BYTES - 1),
            HubConfigError::ChannelHistoryAboveGlobal {
                channel: DEFAULT_HISTORY_CHANNEL_MAX_BYTES,
                global: DEFAULT_HISTORY_CHANNEL_MAX_BYTES - 1
            }
        );
        assert_eq!(
            invalid(|c| c.history_channel_max_bytes = 1000),
            HubConfigError::ChannelHistoryBelowMessage {
                channel: 1000,
                max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES
            }
        );
        #[cfg(target_pointer_width = "64")]
        assert!(matches!(
            invalid(|c| c.replay_messages = MAX_QUEUE_BOUND + 1),
            HubConfigError::AboveQueueBound {
                field: "replay_messages",
                ..
            }
        ));
    }

    #[test]
    fn unlimited_rate_needs_no_burst() {
        let config = HubConfig {
            rate_limit_per_sec: 0,
            rate_limit_burst: 0,
            ..HubConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }
}
