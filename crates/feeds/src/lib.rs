//! switchboard's server feeds: tasks that publish into read-only channels through
//! [`Hub::publish`](switchboard_hub::Hub::publish), so their messages get sequence numbers,
//! history and every transport like any other channel message. Clients cannot publish
//! into these channels (error 109).
//!
//! Every feed runs as one task on the server's task tracker and stops when the shutdown
//! token is cancelled, so graceful shutdown waits for it.
//!
//! # Layout
//! - [`clock`]: the server time on `clock`, every 3 s by default.
//! - [`metrics`]: machine (CPU, memory, disk, network) and switchboard figures on
//!   `metrics`, charted by the dashboard.
//! - [`weather`]: Open-Meteo current conditions on `weather`, fetched by
//!   `weather::source`, for the dashboard's weather cards.

pub mod clock;
pub mod metrics;
pub mod weather;

use std::sync::Arc;

use switchboard_hub::Hub;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{clock::ClockFeedConfig, metrics::MetricsFeedConfig, weather::WeatherFeedConfig};

/// Which feeds run, and how: the feeds' part of the server configuration.
#[derive(Debug, Clone, Copy)]
pub struct FeedsConfig<'a> {
    /// The `clock` feed: the server time every few seconds.
    pub clock: &'a ClockFeedConfig,
    /// The `metrics` feed: machine and switchboard figures every second.
    pub metrics: &'a MetricsFeedConfig,
    /// The `weather` feed: Open-Meteo conditions for a list of cities.
    pub weather: &'a WeatherFeedConfig,
}

/// Starts every enabled feed on `tasks`; each stops when `shutdown` is cancelled.
pub fn spawn_all(
    hub: &Arc<Hub>,
    config: FeedsConfig<'_>,
    tasks: &TaskTracker,
    shutdown: &CancellationToken,
) {
    if config.clock.enabled {
        tasks.spawn(clock::run(
            hub.clone(),
            config.clock.clone(),
            shutdown.clone(),
        ));
    }
    if config.metrics.enabled {
        tasks.spawn(metrics::run(
            hub.clone(),
            config.metrics.clone(),
            shutdown.clone(),
        ));
    }
    if config.weather.enabled {
        tasks.spawn(weather::run(
            hub.clone(),
            config.weather.clone(),
            shutdown.clone(),
        ));
    }
}
