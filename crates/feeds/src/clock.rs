//! The `clock` feed: the server time, published into the read-only `clock` channel every
//! `interval` (3 s by default, the time broadcast of the classic raw-socket demo).
//!
//! Each tick publishes one `message` whose `data` is
//! `{"iso":"2026-11-21T22:30:00.123Z","unix_ms":1795300200123}` (RFC 3339 in UTC with
//! milliseconds, and the same instant in milliseconds since the Unix epoch). Like every
//! channel message it gets the next `seq`, is kept in history and reaches subscribers on
//! every transport. A tick that comes late (a stalled runtime) is skipped rather than
//! published in a burst. The feed stops when the shutdown token is cancelled.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::Serialize;
use serde_json::value::RawValue;
use switchboard_hub::Hub;
use switchboard_protocol::ChannelName;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Every 3 s, like the time broadcast of the classic raw-socket demo: often enough to see
/// it tick, rare enough to cost nothing.
pub const DEFAULT_CLOCK_INTERVAL: Duration = Duration::from_secs(3);
/// The shortest interval honoured: a zero interval would spin (the server's
/// configuration check refuses anything shorter; a config built by hand is held to it).
pub const MIN_CLOCK_INTERVAL: Duration = Duration::from_millis(1);
/// The channel the feed publishes into (read-only for clients).
pub const CLOCK_CHANNEL: &str = "clock";

/// Settings of the `clock` feed.
#[derive(Debug, Clone)]
pub struct ClockFeedConfig {
    /// Whether the feed runs at all (on by default); when off, `clock` stays silent.
    pub enabled: bool,
    /// Time between two ticks ([`DEFAULT_CLOCK_INTERVAL`] by default); zero is treated as
    /// 1 ms, and a tick missed while the runtime stalled is skipped, not made up.
    pub interval: Duration,
}

impl Default for ClockFeedConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: DEFAULT_CLOCK_INTERVAL,
        }
    }
}

/// One tick (the `data` of a `message` on `clock`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClockTick {
    /// RFC 3339, UTC, millisecond precision.
    pub iso: String,
    /// The same instant in milliseconds since the Unix epoch.
    pub unix_ms: u64,
}

impl ClockTick {
    /// The tick for `time`; a time before the Unix epoch gives `unix_ms` 0.
    pub fn at(time: SystemTime) -> Self {
        let unix_ms = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            iso: humantime::format_rfc3339_millis(time).to_string(),
            unix_ms,
        }
    }

    fn to_raw(&self) -> Option<Box<RawValue>> {
        serde_json::to_string(self)
            .ok()
            .and_then(|json| RawValue::from_string(json).ok())
    }
}

/// Publishes a tick every `config.interval` until `shutdown` is cancelled.
pub async fn run(hub: Arc<Hub>, config: ClockFeedConfig, shutdown: CancellationToken) {
    let Ok(channel) = ChannelName::new(CLOCK_CHANNEL) else {
        return;
    };
    // tokio panics on a zero period; a zero interval means "as fast as sensible".
    let mut ticks = tokio::time::interval(config.interval.max(MIN_CLOCK_INTERVAL));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    tracing::debug!(interval = ?config.interval, "clock feed started");
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let Some(data) = ClockTick::at(SystemTime::now()).to_raw() else {
            continue;
        };
        if let Err(err) = hub.publish(&channel, &data).await {
            tracing::warn!(%err, "clock feed: publish failed");
        }
    }
    tracing::debug!("clock feed stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_renders_iso_and_unix_ms_of_the_same_instant() {
        let time = UNIX_EPOCH + Duration::from_millis(1_795_300_200_123);
        let tick = ClockTick::at(time);
        assert_eq!(tick.unix_ms, 1_795_300_200_123);
        assert_eq!(tick.iso, "2026-11-21T22:30:00.123Z");
        assert_eq!(
            tick.to_raw().unwrap().get(),
            r#"{"iso":"2026-11-21T22:30:00.123Z","unix_ms":1795300200123}"#
        );
    }
}
