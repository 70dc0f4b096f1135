//! `serve` flags for watching the server from outside: the Prometheus endpoint
//! (`/metrics`). Named `--prometheus-*` because `--metrics-*` already belongs to the
//! dashboard's `metrics` feed. Defaults are `switchboard_server::config`'s constants.

use std::{fmt, net::SocketAddr, str::FromStr};

use clap::Args;
use switchboard_server::config::{self as server, PrometheusConfig};

/// `GET /metrics` in the Prometheus text format.
#[derive(Debug, Args)]
#[command(next_help_heading = "Prometheus metrics")]
pub(crate) struct PrometheusArgs {
    /// Serve `GET /metrics` (Prometheus text format).
    #[arg(long, env = "SWITCHBOARD_PROMETHEUS_ENABLED", default_value_t = server::DEFAULT_PROMETHEUS_ENABLED, action = clap::ArgAction::Set)]
    prometheus_enabled: bool,
    /// Serve `/metrics` (with `/healthz` and `/readyz`) on this address of its own, e.g.
    /// 127.0.0.1:9100, so it need not be public. Empty: on the main HTTP port.
    #[arg(long, env = "SWITCHBOARD_PROMETHEUS_ADDR", default_value = "")]
    prometheus_addr: OptionalAddr,
}

impl PrometheusArgs {
    pub(super) fn into_config(self) -> PrometheusConfig {
        PrometheusConfig {
            enabled: self.prometheus_enabled,
            addr: self.prometheus_addr.0,
        }
    }
}

/// A socket address, or nothing when empty (so the variable can be set to "" in `.env`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptionalAddr(Option<SocketAddr>);

impl FromStr for OptionalAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self(None));
        }
        text.parse()
            .map(|addr| Self(Some(addr)))
            .map_err(|_| format!("{text:?} is not an address such as 127.0.0.1:9100"))
    }
}

impl fmt::Display for OptionalAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "{addr}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use switchboard_server::config::ConfigError;

    fn config(args: &[&str]) -> switchboard_server::ServerConfig {
        let cli = crate::Cli::try_parse_from(["switchboard", "serve"].iter().chain(args))
            .expect("parses");
        let crate::Command::Serve(args) = cli.command else {
            panic!("not serve")
        };
        args.into_config()
    }

    #[test]
    fn metrics_are_on_the_main_port_by_default() {
        let defaults = config(&[]);
        assert!(defaults.prometheus.enabled);
        assert_eq!(defaults.prometheus.addr, None);
    }

    #[test]
    fn an_address_of_its_own_and_the_refused_combinations() {
        let own = config(&["--prometheus-addr", "127.0.0.1:9100"]);
        assert_eq!(own.prometheus.addr, Some("127.0.0.1:9100".parse().unwrap()));
        own.validate().expect("valid");
        let disabled = config(&[
            "--prometheus-addr",
            "127.0.0.1:9100",
            "--prometheus-enabled",
            "false",
        ]);
        assert!(matches!(
            disabled.validate(),
            Err(ConfigError::PrometheusAddrWhileDisabled { .. })
        ));
        let clash = config(&["--prometheus-addr", "127.0.0.1:8000"]);
        assert!(matches!(
            clash.validate(),
            Err(ConfigError::PrometheusPortTaken { port: 8000, .. })
        ));
        let bad = crate::Cli::try_parse_from(["switchboard", "serve", "--prometheus-addr", "nope"]);
        assert!(bad.is_err());
    }
}
