//! Where `/metrics` is served: on the main HTTP port by default, or on an address of its
//! own so the figures need not be public. Named `prometheus` so as not to clash with the
//! dashboard's metrics *feed* (`--metrics-enabled`, `--metrics-interval`).

use std::net::SocketAddr;

/// `/metrics` is on by default: it reveals counts, never channel names or message
/// contents, and a server one cannot watch is one nobody should run.
pub const DEFAULT_PROMETHEUS_ENABLED: bool = true;

/// The Prometheus endpoint's settings.
#[derive(Debug, Clone)]
pub struct PrometheusConfig {
    /// Serve `GET /metrics` at all.
    pub enabled: bool,
    /// A listener of its own for `/metrics` (and `/healthz`, `/readyz`); `None` serves
    /// it on the main HTTP port.
    pub addr: Option<SocketAddr>,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        Self {
            enabled: DEFAULT_PROMETHEUS_ENABLED,
            addr: None,
        }
    }
}
