//! The measured protocol comparison: the same workload over every transport, one after
//! another, each a [`Client`] whose socket is metered (see `meter`), so what is
//! reported is what crossed the socket.
//!
//! Workload per transport: connect until `broadcast` and [`COMPARE_CHANNEL`] are joined
//! (reported as the connect time); one unmeasured ping (the SSE and long-polling links
//! open their second HTTP connection on the first send); then [`COMPARE_PINGS`] pings
//! one after another, each waiting for its `pong` and then for the link to be idle again.
//! Reported: connect time, round-trip p50 and max ([`Client::ping`]), bytes on the wire
//! per ping (both directions, every HTTP head, chunk header and frame header included),
//! HTTP requests written per ping, and the transcript of the last ping's exchange, byte
//! for byte.
//!
//! Bounded: each transport's run by [`COMPARE_TIMEOUT`]. One comparison at a time is
//! the caller's rule (the server answers 409 to a second).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use serde::Serialize;
use switchboard_client::{Client, ClientEvent, ClientOptions, ServerMessage, TransportChoice};
use switchboard_protocol::{BROADCAST_CHANNEL, frame::Framing};

use crate::{
    ACADEMY_TRANSPORTS, Target,
    meter::{Meter, Reading},
    render::Layout,
};

/// Pings per transport: enough for a median, few enough to finish in well under a second.
pub const COMPARE_PINGS: usize = 20;
/// A transport that has not finished its run by then is reported as failed.
pub const COMPARE_TIMEOUT: Duration = Duration::from_secs(10);
/// The channel the comparison's clients join.
pub const COMPARE_CHANNEL: &str = "compare";
/// How long a link may take to finish an exchange after its reply arrived.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);

/// One transport's figures.
#[derive(Debug, Clone, Serialize)]
pub struct TransportFigures {
    /// The transport measured (`websocket`, `sse`, `long-poll`, `short-poll`, `tcp`).
    pub transport: &'static str,
    /// Whether the run finished; when false, `error` says why and the figures are 0.
    pub ok: bool,
    /// Why the run failed (absent when it did not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// From the first byte of the connect to `subscribed` on both channels, in ms.
    pub connect_ms: f64,
    /// Median ping → pong round trip over the measured pings, in ms.
    pub rtt_p50_ms: f64,
    /// Slowest ping → pong round trip, in ms.
    pub rtt_max_ms: f64,
    /// Mean bytes on the wire per ping, both directions, rounded.
    pub bytes_per_message: f64,
    /// Mean HTTP requests per ping (0 for WebSocket and raw TCP after the handshake).
    pub requests_per_message: f64,
    /// The last ping's exchange: `(">>" sent | "<<" received, text)`.
    pub transcript: Vec<(&'static str, String)>,
    /// Bytes on the wire of each measured ping's exchange, in order (the last one is
    /// the transcript's).
    #[serde(skip)]
    pub ping_bytes: Vec<u64>,
}

/// What one run measured before it is summarized.
#[derive(Default)]
struct Run {
    connect: Duration,
    rtts: Vec<Duration>,
    requests: u64,
    ping_bytes: Vec<u64>,
}

/// Runs the workload over every transport, one after another.
pub async fn compare(target: &Target) -> Vec<TransportFigures> {
    let mut figures = Vec::new();
    for transport in ACADEMY_TRANSPORTS {
        let layout = match transport {
            "websocket" => Layout::WebSocket,
            // The client frames raw TCP as u32 (other framings are refused by `dial`).
            "tcp" => Layout::Tcp(Framing::U32),
            _ => Layout::Text,
        };
        let meter = Arc::new(Meter::new(layout));
        let result = tokio::time::timeout(COMPARE_TIMEOUT, measure(transport, target, &meter))
            .await
            .unwrap_or_else(|_| Err(format!("no result within {COMPARE_TIMEOUT:?}")));
        figures.push(summarize(transport, result, &meter));
    }
    figures
}

fn summarize(
    transport: &'static str,
    result: Result<Run, String>,
    meter: &Meter,
) -> TransportFigures {
    let transcript = meter
        .transcript()
        .into_iter()
        .map(|(direction, text)| (direction.arrow(), text))
        .collect();
    let ms = |d: Duration| (d.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    match result {
        Ok(mut run) if !run.rtts.is_empty() => {
            run.rtts.sort();
            let pings = run.rtts.len() as f64;
            let bytes: u64 = run.ping_bytes.iter().sum();
            TransportFigures {
                transport,
                ok: true,
                error: None,
                connect_ms: ms(run.connect),
                rtt_p50_ms: ms(run.rtts[run.rtts.len() / 2]),
                rtt_max_ms: ms(run.rtts[run.rtts.len() - 1]),
                bytes_per_message: (bytes as f64 / pings).round(),
                requests_per_message: run.requests as f64 / pings,
                transcript,
                ping_bytes: run.ping_bytes,
            }
        }
        other => TransportFigures {
            transport,
            ok: false,
            error: Some(other.err().unwrap_or_else(|| "no pings".into())),
            connect_ms: 0.0,
            rtt_p50_ms: 0.0,
            rtt_max_ms: 0.0,
            bytes_per_message: 0.0,
            requests_per_message: 0.0,
            transcript,
            ping_bytes: Vec::new(),
        },
    }
}

async fn measure(transport: &str, target: &Target, meter: &Arc<Meter>) -> Result<Run, String> {
    let (choice, url) = target.dial(transport)?;
    // A long-polling link keeps one poll held on the server between exchanges.
    let held = u64::from(choice == TransportChoice::LongPoll);
    let options = ClientOptions {
        channels: Some(vec![COMPARE_CHANNEL.to_owned()]),
        reconnect: false,
        upgrade_interval: None,
        wire: Some(meter.clone()),
        ..ClientOptions::default()
    };
    let started = Instant::now();
    let client = Client::connect(&url, choice, options)
        .await
        .map_err(|e| e.to_string())?;
    let mut run = Run::default();
    let outcome = async {
        joined(&client).await?;
        run.connect = started.elapsed();
        client
            .ping()
            .await
            .map_err(|e| format!("first ping: {e}"))?;
        meter.settle(held, SETTLE_TIMEOUT).await?;
        for ping in 1..=COMPARE_PINGS {
            if ping == COMPARE_PINGS {
                meter.record();
            }
            let before: Reading = meter.reading();
            let rtt = client
                .ping()
                .await
                .map_err(|e| format!("ping {ping}: {e}"))?;
            meter.settle(held, SETTLE_TIMEOUT).await?;
            let after = meter.reading();
            run.rtts.push(rtt);
            run.requests += after.requests - before.requests;
            run.ping_bytes.push(after.bytes - before.bytes);
        }
        Ok::<_, String>(())
    }
    .await;
    // The goodbye is counted but not part of any exchange.
    meter.stop_recording();
    client.close().await;
    outcome.map(|()| run)
}

/// Waits until the server confirmed both channels (`subscribed`), then lets the event
/// queue go: nothing the comparison needs comes as an event after that.
async fn joined(client: &Client) -> Result<(), String> {
    let mut missing = vec![BROADCAST_CHANNEL, COMPARE_CHANNEL];
    while !missing.is_empty() {
        match client.next_event().await {
            Some(ClientEvent::Message(ServerMessage::Subscribed { channel, .. })) => {
                missing.retain(|c| *c != channel);
            }
            Some(ClientEvent::Closed { reason } | ClientEvent::Disconnected { reason }) => {
                return Err(format!("connection lost while joining: {reason}"));
            }
            Some(_) => {}
            None => return Err("connection closed while joining".to_owned()),
        }
    }
    drop(client.events());
    Ok(())
}
