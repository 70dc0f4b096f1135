//! Where the `weather` feed's readings come from: Open-Meteo's forecast API over a real
//! HTTP client (one request per city, bounded by a timeout, retried with exponential
//! backoff), and, when that source cannot be reached, plausible simulated readings that
//! the feed labels as such.
//!
//! Request: `GET {base}/v1/forecast?latitude=..&longitude=..&current=temperature_2m,
//! relative_humidity_2m,wind_speed_10m,weather_code`; the answer's `current` object holds
//! the readings.

use std::time::Duration;

use serde::Deserialize;

use super::{City, Reading, WeatherFeedConfig};

/// The readings asked of Open-Meteo.
const CURRENT_FIELDS: &str = "temperature_2m,relative_humidity_2m,wind_speed_10m,weather_code";

/// Why a city could not be fetched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("no HTTP client: {0}")]
    NoClient(String),
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("HTTP {status} from {url}")]
    Status { url: String, status: u16 },
    #[error("unexpected answer from {url}: {reason}")]
    Body { url: String, reason: String },
}

impl FetchError {
    /// A 4xx other than 429 will not get better by asking again.
    fn is_permanent(&self) -> bool {
        matches!(self, FetchError::Status { status, .. } if (400..500).contains(status) && *status != 429)
            || matches!(self, FetchError::NoClient(_))
    }
}

/// Open-Meteo's answer, as much of it as the feed reads.
#[derive(Debug, Deserialize)]
struct ForecastAnswer {
    current: CurrentConditions,
}

#[derive(Debug, Deserialize)]
struct CurrentConditions {
    time: String,
    temperature_2m: f64,
    relative_humidity_2m: f64,
    wind_speed_10m: f64,
    weather_code: u16,
}

/// One HTTP client (connection pool) for every city and refresh.
pub(crate) struct Fetcher {
    client: Result<reqwest::Client, String>,
    base_url: String,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
}

impl Fetcher {
    pub(crate) fn new(config: &WeatherFeedConfig) -> Self {
        // reqwest is built without a bundled crypto provider: use ring (no C toolchain
        // needed). Installing twice is harmless; the first one wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = extra_roots(&config.extra_root_certificates).and_then(|roots| {
            reqwest::Client::builder()
                .timeout(config.request_timeout)
                .connect_timeout(config.request_timeout)
                .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
                .tls_certs_merge(roots)
                .build()
                .map_err(|err| err.to_string())
        });
        if let Err(err) = &client {
            tracing::warn!(%err, "no HTTP client for the weather feed; readings will be simulated");
        }
        Self {
            client,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            timeout: config.request_timeout,
            retries: config.retries,
            backoff: config.backoff,
        }
    }

    /// Fetches one city, retrying transient failures with exponential backoff.
    pub(crate) async fn fetch(&self, city: &City) -> Result<Reading, FetchError> {
        let mut delay = self.backoff;
        let mut attempt = 0;
        loop {
            match self.fetch_once(city).await {
                Ok(reading) => return Ok(reading),
                Err(err) if attempt >= self.retries || err.is_permanent() => return Err(err),
                Err(err) => {
                    tracing::debug!(city = %city.name, attempt, %err, ?delay, "weather fetch failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
            }
        }
    }

    async fn fetch_once(&self, city: &City) -> Result<Reading, FetchError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| FetchError::NoClient(e.clone()))?;
        let url = format!("{}/v1/forecast", self.base_url);
        let transport_error = |err: reqwest::Error| {
            if err.is_timeout() {
                FetchError::Timeout(self.timeout)
            } else {
                FetchError::Connect {
                    url: url.clone(),
                    reason: root_cause(&err),
                }
            }
        };
        let response = client
            .get(&url)
            .query(&[
                ("latitude", city.latitude.to_string()),
                ("longitude", city.longitude.to_string()),
                ("current", CURRENT_FIELDS.to_owned()),
            ])
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                url,
                status: status.as_u16(),
            });
        }
        let body = response.bytes().await.map_err(transport_error)?;
        let answer: ForecastAnswer =
            serde_json::from_slice(&body).map_err(|err| FetchError::Body {
                url: url.clone(),
                reason: err.to_string(),
            })?;
        let current = answer.current;
        Ok(Reading {
            temperature_c: current.temperature_2m,
            humidity_pct: current.relative_humidity_2m,
            wind_speed_kmh: current.wind_speed_10m,
            weather_code: current.weather_code,
            conditions: describe(current.weather_code),
            observed_at: current.time,
        })
    }
}

/// The configured extra root certificates, parsed; an unreadable one is an error rather
/// than silently trusting less than asked.
fn extra_roots(pems: &[String]) -> Result<Vec<reqwest::Certificate>, String> {
    pems.iter()
        .map(|pem| {
            reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|err| format!("extra root certificate: {err}"))
        })
        .collect()
}

/// The innermost error, which names the real cause (DNS, refused, TLS...).
fn root_cause(err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// A made-up but plausible reading: warmer near the equator, a daily swing following the
/// city's solar time, and a small wobble per refresh `round`. Deterministic, so tests can
/// rely on it.
pub(crate) fn simulated_reading(city: &City, round: u64) -> Reading {
    let now_s = switchboard_protocol::now_ms() / 1000;
    let solar_hours = ((now_s % 86_400) as f64 / 3600.0 + city.longitude / 15.0).rem_euclid(24.0);
    let daily = ((solar_hours - 9.0) / 24.0 * std::f64::consts::TAU).sin();
    let seed = city
        .name
        .bytes()
        .fold(round, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let wobble = (seed % 21) as f64 / 10.0 - 1.0;
    let temperature = 28.0 - 0.45 * city.latitude.abs() + 5.0 * daily + wobble;
    let codes = [0, 1, 2, 3, 45, 61, 80];
    let weather_code = codes[(seed / 7 % codes.len() as u64) as usize];
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    Reading {
        temperature_c: round1(temperature),
        humidity_pct: (55.0 + 25.0 * -daily + wobble * 5.0)
            .round()
            .clamp(5.0, 100.0),
        wind_speed_kmh: round1(8.0 + (seed % 17) as f64),
        weather_code,
        conditions: describe(weather_code),
        observed_at: iso_minute(now_s),
    }
}

/// `YYYY-MM-DDTHH:MM` in UTC, the format Open-Meteo gives `current.time` in.
fn iso_minute(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let (hour, minute) = (unix_s % 86_400 / 3600, unix_s % 3600 / 60);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}")
}

/// WMO weather interpretation codes, as Open-Meteo documents them.
pub(crate) fn describe(code: u16) -> &'static str {
    match code {
        0 => "Clear sky",
        1 => "Mainly clear",
        2 => "Partly cloudy",
        3 => "Overcast",
        45 | 48 => "Fog",
        51 | 53 | 55 => "Drizzle",
        56 | 57 => "Freezing drizzle",
        61 | 63 | 65 => "Rain",
        66 | 67 => "Freezing rain",
        71 | 73 | 75 | 77 => "Snow",
        80..=82 => "Rain showers",
        85 | 86 => "Snow showers",
        95 => "Thunderstorm",
        96 | 99 => "Thunderstorm with hail",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_minute_matches_known_instants() {
        assert_eq!(iso_minute(0), "1970-01-01T00:00");
        assert_eq!(iso_minute(951_782_400), "2000-02-29T00:00");
        assert_eq!(iso_minute(1_795_300_573), "2026-11-21T22:36");
    }

    #[test]
    fn simulated_readings_are_plausible() {
        let city = City {
            name: "Oslo".into(),
            latitude: 59.91,
            longitude: 10.75,
        };
        let reading = simulated_reading(&city, 3);
        assert!((-30.0..40.0).contains(&reading.temperature_c));
        assert!((5.0..=100.0).contains(&reading.humidity_pct));
        assert_ne!(reading.conditions, "Unknown");
    }
}
