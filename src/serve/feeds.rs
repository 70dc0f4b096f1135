//! `serve` flag sections for what the server publishes itself: the `clock`, `metrics`
//! and `weather` feeds, and the dashboard's connection simulator. Every default is the
//! feed's named constant (or, for the on/off switches, its config's `Default`).

use clap::Args;
use switchboard_academy::simulator::{self, SimulatorConfig};
use switchboard_feeds::{
    clock::{self, ClockFeedConfig},
    metrics::{self, MetricsFeedConfig},
    weather::{self, City, WeatherFeedConfig},
};

use super::values::HumanDuration;

/// The parsed city list (a type alias, so clap takes the whole list as one value).
type WeatherCities = Vec<City>;

/// The server time on the read-only `clock` channel.
#[derive(Debug, Args)]
#[command(next_help_heading = "Clock feed")]
pub(crate) struct ClockArgs {
    /// Publish the server time on the `clock` channel.
    #[arg(long, env = "SWITCHBOARD_CLOCK_ENABLED", default_value_t = ClockFeedConfig::default().enabled, action = clap::ArgAction::Set)]
    clock_enabled: bool,
    /// How often the `clock` feed publishes.
    #[arg(long, env = "SWITCHBOARD_CLOCK_INTERVAL", default_value_t = HumanDuration(clock::DEFAULT_CLOCK_INTERVAL))]
    clock_interval: HumanDuration,
}

impl ClockArgs {
    pub(super) fn into_config(self) -> ClockFeedConfig {
        ClockFeedConfig {
            enabled: self.clock_enabled,
            interval: self.clock_interval.into(),
        }
    }
}

/// Machine and switchboard figures on the read-only `metrics` channel.
#[derive(Debug, Args)]
#[command(next_help_heading = "Metrics feed")]
pub(crate) struct MetricsArgs {
    /// Publish machine and switchboard figures on the `metrics` channel.
    #[arg(long, env = "SWITCHBOARD_METRICS_ENABLED", default_value_t = MetricsFeedConfig::default().enabled, action = clap::ArgAction::Set)]
    metrics_enabled: bool,
    /// How often the `metrics` feed publishes (50ms at least).
    #[arg(long, env = "SWITCHBOARD_METRICS_INTERVAL", default_value_t = HumanDuration(metrics::DEFAULT_METRICS_INTERVAL))]
    metrics_interval: HumanDuration,
}

impl MetricsArgs {
    pub(super) fn into_config(self) -> MetricsFeedConfig {
        MetricsFeedConfig {
            enabled: self.metrics_enabled,
            interval: self.metrics_interval.into(),
        }
    }
}

/// Open-Meteo current conditions on the read-only `weather` channel.
#[derive(Debug, Args)]
#[command(next_help_heading = "Weather feed")]
pub(crate) struct WeatherArgs {
    /// Publish current conditions on the `weather` channel.
    #[arg(long, env = "SWITCHBOARD_WEATHER_ENABLED", default_value_t = WeatherFeedConfig::default().enabled, action = clap::ArgAction::Set)]
    weather_enabled: bool,
    /// Open-Meteo base URL (scheme, host, port); `/v1/forecast` is appended.
    #[arg(long, env = "SWITCHBOARD_WEATHER_BASE_URL", default_value = weather::DEFAULT_WEATHER_BASE_URL)]
    weather_base_url: String,
    /// Cities as `name:latitude:longitude`, separated by `;`.
    #[arg(long, env = "SWITCHBOARD_WEATHER_CITIES", default_value = weather::DEFAULT_WEATHER_CITIES, value_parser = weather::parse_cities)]
    weather_cities: WeatherCities,
    /// How often the weather is fetched.
    #[arg(long, env = "SWITCHBOARD_WEATHER_REFRESH", default_value_t = HumanDuration(weather::DEFAULT_WEATHER_REFRESH))]
    weather_refresh: HumanDuration,
    /// Timeout of one weather request.
    #[arg(long, env = "SWITCHBOARD_WEATHER_TIMEOUT", default_value_t = HumanDuration(weather::DEFAULT_WEATHER_REQUEST_TIMEOUT))]
    weather_timeout: HumanDuration,
    /// Retries after a failed weather request (exponential backoff).
    #[arg(long, env = "SWITCHBOARD_WEATHER_RETRIES", default_value_t = weather::DEFAULT_WEATHER_RETRIES)]
    weather_retries: u32,
    /// Wait before the first retry; doubled before each next one.
    #[arg(long, env = "SWITCHBOARD_WEATHER_BACKOFF", default_value_t = HumanDuration(weather::DEFAULT_WEATHER_BACKOFF))]
    weather_backoff: HumanDuration,
    /// When the source is unreachable, publish readings marked `simulated: true`.
    #[arg(long, env = "SWITCHBOARD_WEATHER_SIMULATE", default_value_t = WeatherFeedConfig::default().simulate_when_unreachable, action = clap::ArgAction::Set)]
    weather_simulate: bool,
}

impl WeatherArgs {
    pub(super) fn into_config(self) -> WeatherFeedConfig {
        WeatherFeedConfig {
            enabled: self.weather_enabled,
            base_url: self.weather_base_url,
            cities: self.weather_cities,
            refresh: self.weather_refresh.into(),
            request_timeout: self.weather_timeout.into(),
            retries: self.weather_retries,
            backoff: self.weather_backoff.into(),
            simulate_when_unreachable: self.weather_simulate,
            // Not a setting: the system's roots are what production trusts; tests add a
            // local test CA here.
            extra_root_certificates: Vec::new(),
        }
    }
}

/// The dashboard's connection simulator.
#[derive(Debug, Args)]
#[command(next_help_heading = "Connection simulator")]
pub(crate) struct SimulatorArgs {
    /// Simulated connections the dashboard's connection simulator may open at most.
    #[arg(long, env = "SWITCHBOARD_SIMULATOR_MAX_CONNECTIONS", default_value_t = simulator::DEFAULT_SIMULATOR_MAX_CONNECTIONS)]
    simulator_max_connections: usize,
    /// Seconds one simulator run may last at most before it stops itself (a request's
    /// `duration_s` defaults to it).
    #[arg(long, env = "SWITCHBOARD_SIMULATOR_MAX_DURATION_S", default_value_t = simulator::DEFAULT_SIMULATOR_MAX_DURATION_S)]
    simulator_max_duration_s: u64,
}

impl SimulatorArgs {
    pub(super) fn into_config(self) -> SimulatorConfig {
        SimulatorConfig {
            max_connections: self.simulator_max_connections,
            max_duration_s: self.simulator_max_duration_s,
            ..SimulatorConfig::default()
        }
    }
}
