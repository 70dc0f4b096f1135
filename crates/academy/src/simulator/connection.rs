//! One simulated connection: a [`Client`] of the run's transport joined to
//! [`SIMULATOR_CHANNEL`], pinging at the run's rate with [`Client::ping`] and counting
//! every message in and out. It counts as connected from `welcome` until it ends, and
//! closes politely (the client's own goodbye per transport) when the run is cancelled.
//!
//! Pings are paced by a ticker, not by their answers, so a slow server shows as
//! latency rather than as fewer pings; at most [`MAX_PENDING_PINGS`] are in flight per
//! connection (ticks past that are skipped). A ping unanswered within the client's
//! request timeout is lost, not a failure; a lost connection is a failure (the client
//! does not reconnect, so the run shows it).

use std::{
    net::IpAddr,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::Duration,
};

use futures_util::{StreamExt, stream::FuturesUnordered};
use parking_lot::Mutex;
use switchboard_client::{Client, ClientError, ClientEvent, ClientOptions, TransportChoice};
use tokio_util::sync::CancellationToken;

use super::RunCounters;

/// Pings in flight per connection at most.
pub(crate) const MAX_PENDING_PINGS: usize = 64;
/// The channel simulated connections join (besides `broadcast`).
pub(crate) const SIMULATOR_CHANNEL: &str = "simulator";

/// Runs one simulated connection until `cancel`.
pub(crate) async fn run(
    transport: TransportChoice,
    url: String,
    source: Option<IpAddr>,
    pings_per_s: f64,
    counters: Arc<RunCounters>,
    cancel: CancellationToken,
) {
    let options = ClientOptions {
        local_addr: source,
        channels: Some(vec![SIMULATOR_CHANNEL.to_owned()]),
        // A lost connection is a figure of the run, not something to hide by reconnecting.
        reconnect: false,
        upgrade_interval: None,
        ..ClientOptions::default()
    };
    let client = tokio::select! {
        _ = cancel.cancelled() => return,
        client = Client::connect(&url, transport, options) => client,
    };
    let client = match client {
        Ok(client) => client,
        Err(err) => return counters.fail(format!("{transport}: {err}")),
    };
    let lost = watch_connection(&client, &counters);
    let _connected = Connected::new(&counters);
    let result = ping_until_cancelled(&client, pings_per_s, &counters, &cancel, &lost).await;
    if let Err(err) = result {
        counters.fail(format!("{transport}: {err}"));
    }
    client.close().await;
}

/// Why the connection ended, once it did.
type Lost = Arc<Mutex<Option<String>>>;

/// Counts the messages the client hands up and notes when the connection is lost.
/// Nobody reads the event queue: its receiver is dropped, so events never back up.
fn watch_connection(client: &Client, counters: &Arc<RunCounters>) -> (CancellationToken, Lost) {
    drop(client.events());
    let lost = CancellationToken::new();
    let reason: Lost = Arc::default();
    let (counters, signal, why) = (counters.clone(), lost.clone(), reason.clone());
    client.set_event_callback(move |event| match event {
        ClientEvent::Message(_) => {
            counters.messages.fetch_add(1, Relaxed);
        }
        ClientEvent::Disconnected { reason } | ClientEvent::Closed { reason } => {
            why.lock().get_or_insert_with(|| reason.clone());
            signal.cancel();
        }
        _ => {}
    });
    (lost, reason)
}

async fn ping_until_cancelled(
    client: &Client,
    pings_per_s: f64,
    counters: &RunCounters,
    cancel: &CancellationToken,
    (lost, reason): &(CancellationToken, Lost),
) -> Result<(), String> {
    let every = ping_interval(pings_per_s);
    // Without pings the ticker never fires (its arm is disabled).
    let mut ticker = tokio::time::interval(every.unwrap_or(Duration::from_secs(86_400)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pings = FuturesUnordered::new();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            _ = lost.cancelled() => {
                return Err(reason.lock().clone().unwrap_or_else(|| "connection lost".to_owned()));
            }
            _ = ticker.tick(), if every.is_some() => {
                if pings.len() < MAX_PENDING_PINGS {
                    counters.messages.fetch_add(1, Relaxed);
                    pings.push(client.ping());
                }
            }
            Some(answer) = pings.next(), if !pings.is_empty() => match answer {
                Ok(rtt) => {
                    counters.messages.fetch_add(1, Relaxed);
                    counters.latency(rtt);
                }
                Err(ClientError::Timeout(_)) => {}
                Err(err) => return Err(format!("ping: {err}")),
            },
        }
    }
}

/// Time between two pings at `pings_per_s`; `None` (no pings) for 0, and for any
/// rate whose interval is not a representable [`Duration`] (negative, NaN, or so small
/// it overflows): the run validates rates first, and this never panics whatever it gets.
pub(crate) fn ping_interval(pings_per_s: f64) -> Option<Duration> {
    if pings_per_s <= 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(1.0 / pings_per_s)
        .ok()
        .filter(|every| !every.is_zero())
}

/// Marks the connection connected for as long as the guard lives.
struct Connected(Arc<RunCounters>);

impl Connected {
    fn new(counters: &Arc<RunCounters>) -> Self {
        counters.connected.fetch_add(1, Relaxed);
        Self(counters.clone())
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Relaxed);
    }
}
