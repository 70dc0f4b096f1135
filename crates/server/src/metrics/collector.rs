//! The custom collector behind `/metrics`: reads the hub's counters, its history and
//! channel totals, and the process's figures at scrape time, so nothing on the hot path
//! counts twice (the hub already counts every figure exported here).
//!
//! Guarantees: cardinality is bounded by construction: the only labels are `transport`
//! (5 values), the close `reason` and `code` (9 values), the error `code` and `error`
//! (one per documented error code) and the build's `version` and
//! `commit`; never a channel or a connection.

use std::sync::Arc;

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
};
use switchboard_hub::Hub;
use switchboard_protocol::{CloseCode, server::Transport};

use super::process::ProcessFigures;

/// The commit the binary was built from, when the build set `SWITCHBOARD_COMMIT` (a
/// build from a source tarball has none, and then the label is left out).
const BUILD_COMMIT: Option<&str> = option_env!("SWITCHBOARD_COMMIT");

/// Reads the hub at every scrape.
#[derive(Debug)]
pub(crate) struct HubCollector {
    pub(crate) hub: Arc<Hub>,
}

/// The `reason` label of a connection's end: the close code's name, or `client_gone`.
fn reason_label(closed_with: Option<CloseCode>) -> &'static str {
    match closed_with {
        None => "client_gone",
        Some(CloseCode::Normal) => "normal",
        Some(CloseCode::GoingAway) => "going_away",
        Some(CloseCode::ProtocolError) => "protocol_error",
        Some(CloseCode::InvalidPayload) => "invalid_payload",
        Some(CloseCode::MessageTooBig) => "message_too_big",
        Some(CloseCode::InternalError) => "internal_error",
        Some(CloseCode::IdleTimeout) => "idle_timeout",
        Some(CloseCode::SlowConsumer) => "slow_consumer",
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

fn per_transport(
    encoder: &mut DescriptorEncoder,
    (name, help, metric_type): (&str, &str, MetricType),
    value: impl Fn(Transport) -> u64,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
    for transport in Transport::ALL {
        let labels = [("transport", transport.as_str())];
        let family = metric.encode_family(&labels)?;
        match metric_type {
            MetricType::Counter => ConstCounter::new(value(transport)).encode(family)?,
            _ => ConstGauge::new(value(transport) as i64).encode(family)?,
        }
    }
    Ok(())
}

impl Collector for HubCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        let mut build = e.encode_descriptor(
            "switchboard_build_info",
            "Always 1; the labels say which build is running.",
            None,
            MetricType::Gauge,
        )?;
        let mut labels = vec![("version", env!("CARGO_PKG_VERSION"))];
        if let Some(commit) = BUILD_COMMIT {
            labels.push(("commit", commit));
        }
        ConstGauge::new(1i64).encode(build.encode_family(&labels)?)?;

        let counters = self.hub.counters();
        let open = counters.open_connections();
        let accepted = counters.accepted_connections();
        per_transport(
            e,
            (
                "switchboard_connections_open",
                "Connections open now.",
                MetricType::Gauge,
            ),
            |t| open.get(t),
        )?;
        per_transport(
            e,
            (
                "switchboard_connections_accepted",
                "Connections accepted since start.",
                MetricType::Counter,
            ),
            |t| accepted.get(t),
        )?;
        per_transport(
            e,
            (
                "switchboard_connections_closed",
                "Connections closed since start (accepted minus open).",
                MetricType::Counter,
            ),
            |t| accepted.get(t).saturating_sub(open.get(t)),
        )?;

        let mut ends = e.encode_descriptor(
            "switchboard_connection_closes",
            "Connections ended since start, by the close code the server sent (reason client_gone, code none: the client closed or went away).",
            None,
            MetricType::Counter,
        )?;
        for (closed_with, count) in counters.ends_by_reason() {
            let code = closed_with.map_or_else(|| "none".to_owned(), |c| c.code().to_string());
            let labels = [
                ("reason", reason_label(closed_with).to_owned()),
                ("code", code),
            ];
            ConstCounter::new(count).encode(ends.encode_family(&labels)?)?;
        }

        let durations = counters.durations();
        let histogram = e.encode_descriptor(
            "switchboard_connection_duration_seconds",
            "How long connections lasted, observed when they end.",
            None,
            MetricType::Histogram,
        )?;
        let mut histogram = histogram;
        histogram.encode_histogram::<NoLabelSet>(
            durations.sum_seconds,
            durations.count,
            &durations.buckets,
            None,
        )?;

        let stats = self.hub.stats();
        counter(
            e,
            "switchboard_messages_received",
            "Client messages received (before the rate limit, size check and parsing).",
            stats.messages_in,
        )?;
        counter(
            e,
            "switchboard_messages_sent",
            "Server messages queued to connections: each subscriber's copy, replies and errors.",
            stats.messages_out,
        )?;
        let mut errors = e.encode_descriptor(
            "switchboard_errors_sent",
            "Error replies sent to clients, by error code (rate_limited, refused, malformed...).",
            None,
            MetricType::Counter,
        )?;
        for (code, count) in counters.errors_by_code() {
            let labels = [
                ("code", code.code().to_string()),
                ("error", code.name().to_owned()),
            ];
            ConstCounter::new(count).encode(errors.encode_family(&labels)?)?;
        }
        counter(
            e,
            "switchboard_slow_consumer_disconnects",
            "Connections closed because they read too slowly (close code 4001).",
            stats.slow_consumer_disconnects,
        )?;
        gauge(
            e,
            "switchboard_channels",
            "Channels that exist.",
            stats.channel_count as i64,
        )?;
        gauge(
            e,
            "switchboard_history_messages",
            "Messages kept in history, over every channel.",
            stats.history_messages as i64,
        )?;
        gauge(
            e,
            "switchboard_history_bytes",
            "Bytes counted against the hub's history budget.",
            stats.history_bytes as i64,
        )?;
        gauge(
            e,
            "switchboard_draining",
            "1 while the server drains or shuts down (/readyz answers 503), else 0.",
            i64::from(self.hub.is_draining()),
        )?;
        encode_process(e, ProcessFigures::read())
    }
}

fn encode_process(
    e: &mut DescriptorEncoder,
    figures: ProcessFigures,
) -> Result<(), std::fmt::Error> {
    if let Some(bytes) = figures.resident_memory_bytes {
        gauge(
            e,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            bytes as i64,
        )?;
    }
    if let Some(seconds) = figures.cpu_seconds {
        let metric = e.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent in seconds.",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(seconds).encode(metric)?;
    }
    if let Some(open) = figures.open_fds {
        gauge(
            e,
            "process_open_fds",
            "Number of open file descriptors.",
            open as i64,
        )?;
    }
    if let Some(max) = figures.max_fds {
        gauge(
            e,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            max as i64,
        )?;
    }
    Ok(())
}
