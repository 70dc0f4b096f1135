//! The `weather` feed: current conditions for a list of cities from Open-Meteo's forecast
//! API, published into the read-only `weather` channel.
//!
//! Every `refresh` the feed fetches all cities in parallel (one request each, with a
//! per-request timeout and retries with exponential backoff, see the `source` module)
//! and publishes one snapshot of all cities, but only when a reading (or an error)
//! changed since the last publication, so subscribers see news rather than repeats.
//!
//! Honesty rule: a city whose source cannot be reached is reported with
//! `source: "unreachable"` and the error. Unless `simulate_when_unreachable` is off, it
//! also carries simulated readings, marked `simulated: true`: a dashboard stays alive
//! offline, and nobody mistakes the numbers for real ones.

use std::{sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use switchboard_hub::Hub;
use switchboard_protocol::{ChannelName, now_ms};
use tokio_util::sync::CancellationToken;

mod source;

use self::source::{Fetcher, simulated_reading};

/// Open-Meteo's public API (no key needed).
pub const DEFAULT_WEATHER_BASE_URL: &str = "https://api.open-meteo.com";
/// Open-Meteo updates current conditions every 15 minutes; asking every 5 catches each
/// update soon without loading a free public service.
pub const DEFAULT_WEATHER_REFRESH: Duration = Duration::from_secs(300);
/// A healthy answer takes well under a second; past 5 s the source is treated as down.
pub const DEFAULT_WEATHER_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries after a failed request (so 3 attempts in all).
pub const DEFAULT_WEATHER_RETRIES: u32 = 2;
/// Wait before the first retry; doubled before each next one (0.5 s, 1 s, ...).
pub const DEFAULT_WEATHER_BACKOFF: Duration = Duration::from_millis(500);
/// Cities fetched at most; each is one request per refresh.
pub const MAX_WEATHER_CITIES: usize = 32;
/// The channel the feed publishes into (read-only for clients).
pub const WEATHER_CHANNEL: &str = "weather";
/// The default cities, as `name:latitude:longitude` separated by `;`.
pub const DEFAULT_WEATHER_CITIES: &str = "London:51.51:-0.13;New York:40.71:-74.01;\
Tokyo:35.68:139.69;Sydney:-33.87:151.21;São Paulo:-23.55:-46.63;Cairo:30.04:31.24;\
Mumbai:19.08:72.88;Reykjavík:64.15:-21.94";

/// A city to report on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct City {
    /// Display name, as given in the list (trimmed; may contain spaces and accents).
    pub name: String,
    /// Degrees north, −90 to 90 (checked by [`parse_cities`]).
    pub latitude: f64,
    /// Degrees east, −180 to 180 (checked by [`parse_cities`]).
    pub longitude: f64,
}

/// Parses `name:lat:lon;name:lat:lon...` (`;` or newlines between cities).
pub fn parse_cities(text: &str) -> Result<Vec<City>, String> {
    let cities: Vec<City> = text
        .split([';', '\n'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let mut parts = entry.rsplitn(3, ':');
            let (Some(lon), Some(lat), Some(name)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("{entry:?}: expected name:latitude:longitude"));
            };
            let latitude: f64 = lat
                .trim()
                .parse()
                .map_err(|_| format!("{entry:?}: bad latitude"))?;
            let longitude: f64 = lon
                .trim()
                .parse()
                .map_err(|_| format!("{entry:?}: bad longitude"))?;
            if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
                return Err(format!("{entry:?}: coordinates out of range"));
            }
            Ok(City {
                name: name.trim().to_owned(),
                latitude,
                longitude,
            })
        })
        .collect::<Result<_, _>>()?;
    if cities.len() > MAX_WEATHER_CITIES {
        return Err(format!("at most {MAX_WEATHER_CITIES} cities"));
    }
    Ok(cities)
}

/// Settings of the `weather` feed.
#[derive(Debug, Clone)]
pub struct WeatherFeedConfig {
    /// Whether the feed runs at all (on by default); when off, `weather` stays silent and
    /// nothing is fetched.
    pub enabled: bool,
    /// Scheme, host and port of the forecast API; `/v1/forecast?...` is appended.
    pub base_url: String,
    /// The cities reported on, in this order in every snapshot; at most
    /// [`MAX_WEATHER_CITIES`] when parsed with [`parse_cities`].
    pub cities: Vec<City>,
    /// Wait between the end of one round of fetches and the start of the next
    /// ([`DEFAULT_WEATHER_REFRESH`] by default).
    pub refresh: Duration,
    /// Limit on one HTTP request, connect to last byte ([`DEFAULT_WEATHER_REQUEST_TIMEOUT`]
    /// by default); past it the attempt fails as a timeout.
    pub request_timeout: Duration,
    /// Retries after a failed attempt, per city and round ([`DEFAULT_WEATHER_RETRIES`] by
    /// default); an answer that asking again cannot fix (a 4xx other than 429) is not
    /// retried.
    pub retries: u32,
    /// Wait before the first retry, doubled before each next one
    /// ([`DEFAULT_WEATHER_BACKOFF`] by default).
    pub backoff: Duration,
    /// Publish labelled, simulated readings for cities that cannot be fetched.
    pub simulate_when_unreachable: bool,
    /// Root certificates (PEM) trusted beside the system's, for a source behind a
    /// private CA (and for tests, whose stand-in has a test CA).
    pub extra_root_certificates: Vec<String>,
}

impl Default for WeatherFeedConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            base_url: DEFAULT_WEATHER_BASE_URL.to_owned(),
            cities: parse_cities(DEFAULT_WEATHER_CITIES).unwrap_or_default(),
            refresh: DEFAULT_WEATHER_REFRESH,
            request_timeout: DEFAULT_WEATHER_REQUEST_TIMEOUT,
            retries: DEFAULT_WEATHER_RETRIES,
            backoff: DEFAULT_WEATHER_BACKOFF,
            simulate_when_unreachable: true,
            extra_root_certificates: Vec::new(),
        }
    }
}

/// Where a city's reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Fetched from Open-Meteo this round (`"open-meteo"`).
    OpenMeteo,
    /// Every attempt this round failed (`"unreachable"`); the report's `error` says why.
    Unreachable,
}

/// Current conditions in one city.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    /// Air temperature 2 m above ground, in degrees Celsius.
    pub temperature_c: f64,
    /// Relative humidity 2 m above ground, in percent (0–100).
    pub humidity_pct: f64,
    /// Wind speed 10 m above ground, in km/h.
    pub wind_speed_kmh: f64,
    /// The WMO weather interpretation code (0 clear sky, 61 rain, 95 thunderstorm...).
    pub weather_code: u16,
    /// `weather_code` in English words ("Partly cloudy"), or "Unknown" for a code
    /// outside the WMO table.
    pub conditions: &'static str,
    /// The observation time the source gave (ISO 8601, UTC), or when it was simulated.
    pub observed_at: String,
}

/// One city in a published snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CityReport {
    /// The city, its fields inlined in the report (`name`, `latitude`, `longitude`).
    #[serde(flatten)]
    pub city: City,
    /// Where `reading` came from this round.
    pub source: Source,
    /// True when `reading` is made up because the source could not be reached.
    pub simulated: bool,
    /// Why the source could not be reached (the last attempt's error); absent when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The conditions: real, simulated (see `simulated`), or `null` when the source was
    /// unreachable and simulation is off.
    pub reading: Option<Reading>,
}

/// What the feed publishes (the `data` of a `message` on `weather`).
#[derive(Debug, Clone, Serialize)]
pub struct WeatherSnapshot {
    /// `open-meteo` when every city was fetched, `unreachable` when none was, else `partial`.
    pub source: &'static str,
    /// True when any reading is simulated.
    pub simulated: bool,
    /// The first error met, when any city could not be fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the round of fetches ended, in milliseconds since the Unix epoch.
    pub fetched_at: u64,
    /// One report per configured city, in configuration order.
    pub cities: Vec<CityReport>,
}

/// Fetches, compares and publishes until `stop` is cancelled.
pub(crate) async fn run(hub: Arc<Hub>, config: WeatherFeedConfig, stop: CancellationToken) {
    let Ok(channel) = ChannelName::new(WEATHER_CHANNEL) else {
        return;
    };
    let fetcher = Fetcher::new(&config);
    let mut last_published: Option<Vec<CityReport>> = None;
    let mut round: u64 = 0;
    loop {
        let reports = tokio::select! {
            _ = stop.cancelled() => break,
            reports = fetch_all(&fetcher, &config, round) => reports,
        };
        round += 1;
        if last_published.as_ref() != Some(&reports) {
            let snapshot = summarize(reports.clone());
            match serde_json::value::to_raw_value(&snapshot) {
                Ok(raw) => match hub.publish(&channel, &raw).await {
                    Ok(_) => {
                        tracing::debug!(source = snapshot.source, "weather published");
                        last_published = Some(reports);
                    }
                    Err(err) => tracing::warn!(%err, "cannot publish weather"),
                },
                Err(err) => tracing::warn!(%err, "cannot serialize weather"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(config.refresh) => {}
        }
    }
    tracing::debug!("weather feed stopped");
}

/// Every city at once; the slowest one bounds the round (timeout × attempts + backoff).
async fn fetch_all(fetcher: &Fetcher, config: &WeatherFeedConfig, round: u64) -> Vec<CityReport> {
    let requests = config.cities.iter().map(|city| async move {
        match fetcher.fetch(city).await {
            Ok(reading) => CityReport {
                city: city.clone(),
                source: Source::OpenMeteo,
                simulated: false,
                error: None,
                reading: Some(reading),
            },
            Err(err) => {
                tracing::debug!(city = %city.name, %err, "weather source unreachable");
                let reading = config
                    .simulate_when_unreachable
                    .then(|| simulated_reading(city, round));
                CityReport {
                    city: city.clone(),
                    source: Source::Unreachable,
                    simulated: reading.is_some(),
                    error: Some(err.to_string()),
                    reading,
                }
            }
        }
    });
    futures_util::future::join_all(requests).await
}

fn summarize(cities: Vec<CityReport>) -> WeatherSnapshot {
    let reachable = cities
        .iter()
        .filter(|c| c.source == Source::OpenMeteo)
        .count();
    let source = if reachable == cities.len() {
        "open-meteo"
    } else if reachable == 0 {
        "unreachable"
    } else {
        "partial"
    };
    WeatherSnapshot {
        source,
        simulated: cities.iter().any(|c| c.simulated),
        error: cities.iter().find_map(|c| c.error.clone()),
        fetched_at: now_ms(),
        cities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cities_parse() {
        let cities = parse_cities(DEFAULT_WEATHER_CITIES).unwrap();
        assert_eq!(cities.len(), 8);
        assert_eq!(cities[1].name, "New York");
        assert_eq!(cities[3].latitude, -33.87);
    }

    #[test]
    fn bad_cities_are_refused() {
        assert!(parse_cities("Nowhere:91:0").is_err());
        assert!(parse_cities("Oslo:59.9").is_err());
        assert!(parse_cities("Oslo:north:10").is_err());
    }
}
