//! [`ServerConfig::validate`]: every check and cross-check the server's settings must
//! pass before anything binds. A combination the server cannot run as asked (a heartbeat
//! that a quiet client cannot answer before its idle cut-off, a body limit that cannot
//! carry the largest message, a zero batch) is a [`ConfigError`] at start, never a
//! silent clamp somewhere downstream. Every section is checked whether or not its
//! transport or feed is turned on: a setting is valid or not on its own.

use std::time::Duration;

use humantime::format_duration;
use switchboard_hub::config::HubConfigError;

use super::{MIN_CLOCK_INTERVAL, MIN_HEARTBEAT, MIN_METRICS_INTERVAL, ServerConfig};
use switchboard_feeds::weather::MAX_WEATHER_CITIES;

/// A server configuration the server cannot run with. Each names the setting by its
/// field path in [`ServerConfig`] (`ws.heartbeat`, `hub.queue_bytes`) and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The hub's own limits ([`switchboard_hub::HubConfig::validate`]) refused a setting.
    #[error(transparent)]
    Hub(#[from] HubConfigError),
    /// A count, size or duration that must be positive is 0.
    #[error("`{field}` is 0: {why}")]
    Zero {
        /// The setting, as its field path (`poll.max_batch`).
        field: &'static str,
        /// What the server would do with 0 (`a poll could never return a message`).
        why: &'static str,
    },
    /// An interval below its floor (a heartbeat under [`MIN_HEARTBEAT`], a feed
    /// interval under its feed's minimum).
    #[error(
        "`{field}` is {}, below the shortest allowed ({}): {why}",
        format_duration(*value),
        format_duration(*floor)
    )]
    BelowFloor {
        /// The setting, as its field path (`ws.heartbeat`).
        field: &'static str,
        /// The value configured.
        value: Duration,
        /// The shortest value allowed.
        floor: Duration,
        /// Why shorter is refused.
        why: &'static str,
    },
    /// A transport's heartbeat is not shorter than its idle timeout.
    #[error(
        "`{transport}.heartbeat` ({}) must be shorter than `{transport}.idle_timeout` ({}): \
         a quiet but healthy client would be cut off before it is asked for a sign of life",
        format_duration(*heartbeat),
        format_duration(*idle_timeout)
    )]
    HeartbeatNotBelowIdle {
        /// The transport's section (`ws` or `tcp`).
        transport: &'static str,
        /// Its `heartbeat`.
        heartbeat: Duration,
        /// Its `idle_timeout`.
        idle_timeout: Duration,
    },
    /// An HTTP body limit below the hub's largest message.
    #[error(
        "`{field}` ({body_bytes}) is below `hub.max_message_bytes` ({max_message_bytes}): \
         a body that size cannot carry the largest message the hub accepts"
    )]
    BodyCannotCarryMessage {
        /// The body limit, as its field path (`sse.max_body_bytes`).
        field: &'static str,
        /// Its value, in bytes.
        body_bytes: usize,
        /// `hub.max_message_bytes`, in bytes.
        max_message_bytes: usize,
    },
    /// The raw TCP listener is on and asks for the HTTP listener's port (0 for both is
    /// fine: each picks a free one).
    #[error("the HTTP listener and the raw TCP listener both want port {port}")]
    SamePort {
        /// The port both ask for.
        port: u16,
    },
    /// More weather cities than the feed fetches.
    #[error("`weather.cities` lists {count} cities; at most {max}")]
    TooManyCities {
        /// Cities configured.
        count: usize,
        /// The most the feed accepts.
        max: usize,
    },
    /// A list that must name at least one entry is empty.
    #[error("`{field}` is empty: {why}")]
    EmptyList {
        /// The list, as its field path (`security.allowed_hosts`).
        field: &'static str,
        /// What the server would do with no entry, and what to write instead.
        why: &'static str,
    },
    /// The session key is shorter than
    /// [`MIN_SESSION_KEY_BYTES`](crate::config::MIN_SESSION_KEY_BYTES).
    #[error(
        "`security.session_key` is {len} bytes; at least {min}: a short key is easier to guess than the tokens it signs"
    )]
    SessionKeyTooShort {
        /// Its length, in bytes.
        len: usize,
        /// The shortest accepted, in bytes.
        min: usize,
    },
    /// A listener address for `/metrics` while `/metrics` is turned off.
    #[error(
        "`prometheus.addr` ({addr}) is a listener of its own for /metrics, but `prometheus.enabled` is false"
    )]
    PrometheusAddrWhileDisabled {
        /// The configured address.
        addr: std::net::SocketAddr,
    },
    /// The `/metrics` listener would take a port another listener uses.
    #[error("`prometheus.addr` wants port {port}, which the {other} listener already uses")]
    PrometheusPortTaken {
        /// The port asked for.
        port: u16,
        /// Which listener already has it (`http` or `tcp`).
        other: &'static str,
    },
    /// An HMAC secret shorter than the minimum.
    #[error(
        "`{field}` is {len} bytes; at least {min}: a short HMAC secret can be guessed offline from any token it signed"
    )]
    AuthSecretTooShort {
        /// The setting (`security.auth.hmac_secret` or `..._previous`).
        field: &'static str,
        /// Its length, in bytes.
        len: usize,
        /// The shortest accepted, in bytes.
        min: usize,
    },
    /// A previous HMAC secret with no current one.
    #[error(
        "`security.auth.hmac_secret_previous` is set without `security.auth.hmac_secret`: rotate by moving the old secret to previous and setting the new one"
    )]
    AuthPreviousWithoutCurrent,
    /// The public key file cannot be read or is not a PEM RSA or P-256 public key.
    #[error("`security.auth.public_key_file` ({path}): {why}")]
    AuthPublicKey {
        /// The configured path.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// Auth is required but no key could verify a token.
    #[error(
        "`security.auth.required` is true but no key is configured (`--auth-hmac-secret` or `--auth-public-key`): every connection would be refused"
    )]
    AuthRequiredWithoutKey,
}

impl ServerConfig {
    /// Checks every setting and every combination the server relies on, the hub's
    /// included ([`switchboard_hub::HubConfig::validate`]); the first problem found is
    /// the error. [`crate::Server::start`] calls it before binding anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.hub.validate()?;
        self.validate_heartbeats()?;
        self.validate_counts()?;
        self.validate_body_limits()?;
        self.validate_feeds()?;
        self.security.validate()?;
        if self.tcp.enabled && self.tcp.port != 0 && self.tcp.port == self.http.port() {
            return Err(ConfigError::SamePort {
                port: self.tcp.port,
            });
        }
        self.validate_prometheus()
    }

    /// `/metrics` on a listener of its own needs a port no other listener wants.
    fn validate_prometheus(&self) -> Result<(), ConfigError> {
        let Some(addr) = self.prometheus.addr else {
            return Ok(());
        };
        if !self.prometheus.enabled {
            return Err(ConfigError::PrometheusAddrWhileDisabled { addr });
        }
        let port = addr.port();
        if port != 0 && port == self.http.port() {
            return Err(ConfigError::PrometheusPortTaken {
                port,
                other: "HTTP",
            });
        }
        if port != 0 && self.tcp.enabled && port == self.tcp.port {
            return Err(ConfigError::PrometheusPortTaken {
                port,
                other: "raw TCP",
            });
        }
        Ok(())
    }

    fn validate_heartbeats(&self) -> Result<(), ConfigError> {
        let floors = [
            ("ws.heartbeat", self.ws.heartbeat),
            ("sse.heartbeat", self.sse.heartbeat),
            ("tcp.heartbeat", self.tcp.heartbeat),
        ];
        for (field, value) in floors {
            at_least(
                field,
                value,
                MIN_HEARTBEAT,
                "a shorter heartbeat is load, not liveness",
            )?;
        }
        let pairs = [
            ("ws", self.ws.heartbeat, self.ws.idle_timeout),
            ("tcp", self.tcp.heartbeat, self.tcp.idle_timeout),
        ];
        for (transport, heartbeat, idle_timeout) in pairs {
            if heartbeat >= idle_timeout {
                return Err(ConfigError::HeartbeatNotBelowIdle {
                    transport,
                    heartbeat,
                    idle_timeout,
                });
            }
        }
        Ok(())
    }

    fn validate_counts(&self) -> Result<(), ConfigError> {
        let nonzero = [
            (
                "poll.max_batch",
                self.poll.max_batch,
                "a poll could never return a message",
            ),
            (
                "poll.max_sessions_per_addr",
                self.poll.max_sessions_per_addr,
                "no client could open a polling session",
            ),
            (
                "tcp.max_connections",
                self.tcp.max_connections,
                "every TCP connection would be refused (turn TCP off instead)",
            ),
            (
                "ws.read_buffer",
                self.ws.read_buffer,
                "a WebSocket could read nothing",
            ),
            (
                "poll.max_response_bytes",
                self.poll.max_response_bytes,
                "a poll response could carry nothing",
            ),
            (
                "connections.max",
                self.connections.max,
                "every connection would be refused",
            ),
        ];
        for (field, value, why) in nonzero {
            if value == 0 {
                return Err(ConfigError::Zero { field, why });
            }
        }
        let positive = [
            (
                "poll.session_grace",
                self.poll.session_grace,
                "every polling session would expire between two polls",
            ),
            (
                "tcp.write_timeout",
                self.tcp.write_timeout,
                "every TCP write would time out",
            ),
            (
                "connections.http_header_timeout",
                self.connections.http_header_timeout,
                "every HTTP connection would be closed before its first request",
            ),
            (
                "connections.http_keepalive_timeout",
                self.connections.http_keepalive_timeout,
                "every persistent HTTP connection would be closed before its next request",
            ),
            (
                "connections.http_body_timeout",
                self.connections.http_body_timeout,
                "every request body would time out",
            ),
            (
                "connections.http_write_timeout",
                self.connections.http_write_timeout,
                "every HTTP response would time out",
            ),
        ];
        for (field, value, why) in positive {
            if value.is_zero() {
                return Err(ConfigError::Zero { field, why });
            }
        }
        Ok(())
    }

    fn validate_body_limits(&self) -> Result<(), ConfigError> {
        let max_message_bytes = self.hub.max_message_bytes;
        let bodies = [
            ("sse.max_body_bytes", self.sse.max_body_bytes),
            ("poll.max_body_bytes", self.poll.max_body_bytes),
        ];
        for (field, body_bytes) in bodies {
            if body_bytes < max_message_bytes {
                return Err(ConfigError::BodyCannotCarryMessage {
                    field,
                    body_bytes,
                    max_message_bytes,
                });
            }
        }
        Ok(())
    }

    fn validate_feeds(&self) -> Result<(), ConfigError> {
        at_least(
            "clock.interval",
            self.clock.interval,
            MIN_CLOCK_INTERVAL,
            "the feed would spin",
        )?;
        at_least(
            "metrics.interval",
            self.metrics.interval,
            MIN_METRICS_INTERVAL,
            "each sample reads every disk and interface, and CPU figures need time between samples",
        )?;
        let weather = [
            (
                "weather.refresh",
                self.weather.refresh,
                "the feed would fetch in a loop",
            ),
            (
                "weather.request_timeout",
                self.weather.request_timeout,
                "every request would time out",
            ),
        ];
        for (field, value, why) in weather {
            if value.is_zero() {
                return Err(ConfigError::Zero { field, why });
            }
        }
        if self.weather.cities.len() > MAX_WEATHER_CITIES {
            return Err(ConfigError::TooManyCities {
                count: self.weather.cities.len(),
                max: MAX_WEATHER_CITIES,
            });
        }
        Ok(())
    }
}

fn at_least(
    field: &'static str,
    value: Duration,
    floor: Duration,
    why: &'static str,
) -> Result<(), ConfigError> {
    if value < floor {
        return Err(ConfigError::BelowFloor {
            field,
            value,
            floor,
            why,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(edit: impl FnOnce(&mut ServerConfig)) -> ConfigError {
        let mut config = ServerConfig::ephemeral();
        edit(&mut config);
        config
            .validate()
            .expect_err("the edit makes the configuration invalid")
    }

    #[test]
    fn the_defaults_and_the_test_configuration_are_valid() {
        assert_eq!(ServerConfig::default().validate(), Ok(()));
        assert_eq!(ServerConfig::ephemeral().validate(), Ok(()));
    }

    #[test]
    fn a_zero_poll_batch_is_refused() {
        assert!(matches!(
            invalid(|c| c.poll.max_batch = 0),
            ConfigError::Zero {
                field: "poll.max_batch",
                ..
            }
        ));
    }

    #[test]
    fn connection_caps_and_http_timeouts_must_be_positive() {
        assert!(matches!(
            invalid(|c| c.connections.max = 0),
            ConfigError::Zero {
                field: "connections.max",
                ..
            }
        ));
        assert!(matches!(
            invalid(|c| c.connections.http_write_timeout = Duration::ZERO),
            ConfigError::Zero {
                field: "connections.http_write_timeout",
                ..
            }
        ));
        assert!(matches!(
            invalid(|c| c.poll.max_response_bytes = 0),
            ConfigError::Zero {
                field: "poll.max_response_bytes",
                ..
            }
        ));
        // No per-address cap is a choice (behind a proxy), not a mistake.
        let mut behind_proxy = ServerConfig::ephemeral();
        behind_proxy.connections.max_per_addr = 0;
        assert_eq!(behind_proxy.validate(), Ok(()));
    }

    #[test]
    fn a_heartbeat_must_come_before_the_idle_cut_off() {
        let err = invalid(|c| c.ws.heartbeat = c.ws.idle_timeout);
        assert!(matches!(
            err,
            ConfigError::HeartbeatNotBelowIdle {
                transport: "ws",
                ..
            }
        ));
        assert_eq!(
            err.to_string().split(':').next(),
            Some("`ws.heartbeat` (1m) must be shorter than `ws.idle_timeout` (1m)")
        );
        assert!(matches!(
            invalid(|c| c.tcp.idle_timeout = Duration::from_secs(1)),
            ConfigError::HeartbeatNotBelowIdle {
                transport: "tcp",
                ..
            }
        ));
    }

    #[test]
    fn a_heartbeat_below_the_floor_is_refused_on_every_transport() {
        for (field, edit) in [
            (
                "ws.heartbeat",
                (|c| c.ws.heartbeat = Duration::ZERO) as fn(&mut ServerConfig),
            ),
            ("sse.heartbeat", |c| {
                c.sse.heartbeat = Duration::from_millis(5)
            }),
            ("tcp.heartbeat", |c| {
                c.tcp.heartbeat = Duration::from_millis(9)
            }),
        ] {
            match invalid(edit) {
                ConfigError::BelowFloor {
                    field: found,
                    floor,
                    ..
                } => {
                    assert_eq!((found, floor), (field, MIN_HEARTBEAT));
                }
                other => panic!("{field}: {other}"),
            }
        }
    }

    #[test]
    fn a_body_limit_must_carry_the_largest_message() {
        assert_eq!(
            invalid(|c| c.sse.max_body_bytes = 1024),
            ConfigError::BodyCannotCarryMessage {
                field: "sse.max_body_bytes",
                body_bytes: 1024,
                max_message_bytes: switchboard_hub::config::DEFAULT_MAX_MESSAGE_BYTES,
            }
        );
        assert!(matches!(
            invalid(|c| c.hub.max_message_bytes = c.poll.max_body_bytes + 1),
            ConfigError::BodyCannotCarryMessage {
                field: "sse.max_body_bytes" | "poll.max_body_bytes",
                ..
            }
        ));
    }

    #[test]
    fn the_hub_limits_are_checked_too() {
        assert!(matches!(
            invalid(|c| c.hub.queue_bytes = 0),
            ConfigError::Hub(HubConfigError::Zero {
                field: "queue_bytes",
                ..
            })
        ));
    }

    #[test]
    fn http_and_tcp_cannot_share_a_port() {
        let err = invalid(|c| {
            c.http.set_port(4000);
            c.tcp.port = 4000;
        });
        assert_eq!(err, ConfigError::SamePort { port: 4000 });
        let mut off = ServerConfig::ephemeral();
        off.tcp.enabled = false;
        off.http.set_port(4000);
        off.tcp.port = 4000;
        assert_eq!(off.validate(), Ok(()));
    }

    #[test]
    fn feed_intervals_have_floors() {
        assert!(matches!(
            invalid(|c| c.metrics.interval = Duration::from_millis(10)),
            ConfigError::BelowFloor {
                field: "metrics.interval",
                ..
            }
        ));
        assert!(matches!(
            invalid(|c| c.weather.refresh = Duration::ZERO),
            ConfigError::Zero {
                field: "weather.refresh",
                ..
            }
        ));
    }
}
