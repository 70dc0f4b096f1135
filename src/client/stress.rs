//! `switchboard client stress`: N connections of the chosen transport, each publishing
//! M messages at a rate to its own channel and timing each one until it comes back.
//!
//! Latency is publish-to-delivery over the same connection (send time travels in the
//! message). Every message is accounted for: received once (counted), received again
//! (duplicate), or never (lost, after a drain period). The report is a table or JSON.

use std::{
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{json, value::RawValue};
use switchboard_client::{Client, ClientEvent, ClientOptions, ServerMessage};
use switchboard_protocol::{ChannelName, ClientMessage};
use tokio::sync::Semaphore;

use super::{ClientArgs, ClientExit, EXIT_CONNECT, EXIT_STRESS_FAILED, EXIT_USAGE};

/// Connection attempts in flight at once: enough to ramp quickly, few enough not to
/// overflow the server's accept backlog.
const CONNECT_CONCURRENCY: usize = 64;
/// Latencies above this are recorded as this (one minute, in microseconds).
const MAX_LATENCY_US: u64 = 60_000_000;

#[derive(Debug, Args)]
pub(crate) struct StressArgs {
    /// Connections to open.
    #[arg(long, short = 'c', default_value_t = 10)]
    connections: usize,
    /// Messages each connection publishes.
    #[arg(long, short = 'm', default_value_t = 100)]
    messages: u64,
    /// Messages per second per connection (0: as fast as possible).
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Padding bytes added to each message's data.
    #[arg(long, default_value_t = 0)]
    size: usize,
    /// How long to wait for the last messages after sending ends.
    #[arg(long, default_value = "10s", value_parser = super::duration)]
    drain: Duration,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Per-run tallies shared by every connection.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    received: AtomicU64,
    duplicates: AtomicU64,
    errors: AtomicU64,
    /// When the last message came back, in microseconds since the run's start (the
    /// measured span ends there, not after the connections closed).
    last_received_us: AtomicU64,
}

pub(crate) async fn run(args: &ClientArgs, stress: &StressArgs) -> Result<(), ClientExit> {
    if stress.connections == 0 || stress.rate < 0.0 || !stress.rate.is_finite() {
        return Err(ClientExit::new(
            EXIT_USAGE,
            "--connections must be at least 1 and --rate a number >= 0",
        ));
    }
    let run_id = format!(
        "{:x}",
        std::process::id() ^ (switchboard_protocol::now_ms() as u32)
    );
    let tally = Arc::new(Tally::default());
    let base = Instant::now();
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let expected = stress.connections as u64 * stress.messages;
    let mut workers = Vec::with_capacity(stress.connections);
    for index in 0..stress.connections {
        let channel = format!("stress.{run_id}.{index}");
        let options = ClientOptions {
            channels: Some(vec![channel.clone()]),
            ..args.options()
        };
        let url = args.url.clone();
        let choice = args.protocol;
        let tally = tally.clone();
        let permits = permits.clone();
        let (messages, rate, size, drain) =
            (stress.messages, stress.rate, stress.size, stress.drain);
        workers.push(tokio::spawn(async move {
            let channel = ChannelName::new(&channel).map_err(|e| format!("{channel}: {e}"))?;
            let client = {
                let _permit = permits.acquire().await;
                Client::connect(&url, choice, options).await
            };
            let client = match client {
                Ok(client) => Arc::new(client),
                Err(err) => return Err(err.to_string()),
            };
            let worker = Worker {
                client,
                channel,
                base,
                tally,
            };
            Ok(worker.run(messages, rate, size, drain).await)
        }));
    }
    let progress = (!stress.json && std::io::stderr().is_terminal()).then(|| {
        let tally = tally.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let sent = tally.sent.load(Relaxed);
                eprint!(
                    "\r  [{}] sent {sent}/{expected}  received {}  errors {}   ",
                    progress_bar(sent, expected, 30),
                    tally.received.load(Relaxed),
                    tally.errors.load(Relaxed)
                );
            }
        })
    });
    let mut histogram = new_histogram();
    let mut connect_failures = Vec::new();
    for worker in workers {
        match worker.await {
            Ok(Ok(h)) => {
                let _ = histogram.add(&h);
            }
            Ok(Err(err)) => connect_failures.push(err),
            Err(err) => connect_failures.push(format!("worker failed: {err}")),
        }
    }
    let last_received = Duration::from_micros(tally.last_received_us.load(Relaxed));
    let elapsed = if last_received.is_zero() {
        base.elapsed()
    } else {
        last_received
    };
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }
    let connected = stress.connections - connect_failures.len();
    if connected == 0 {
        return Err(ClientExit::new(
            EXIT_CONNECT,
            format!("no connection succeeded: {}", connect_failures[0]),
        ));
    }
    let sent = tally.sent.load(Relaxed);
    let received = tally.received.load(Relaxed);
    let report = json!({
        "transport": args.protocol.as_str(),
        "connections": stress.connections,
        "connected": connected,
        "connect_failures": connect_failures.len(),
        "messages_per_connection": stress.messages,
        "sent": sent,
        "received": received,
        "lost": sent.saturating_sub(received),
        "duplicates": tally.duplicates.load(Relaxed),
        "errors": tally.errors.load(Relaxed),
        "elapsed_ms": elapsed.as_millis() as u64,
        "throughput_per_s": received as f64 / elapsed.as_secs_f64().max(1e-9),
        "latency_ms": {
            "p50": ms(histogram.value_at_quantile(0.50)),
            "p90": ms(histogram.value_at_quantile(0.90)),
            "p99": ms(histogram.value_at_quantile(0.99)),
            "max": ms(histogram.max()),
        },
    });
    if stress.json {
        println!("{report}");
    } else {
        print_table(&report);
        for failure in connect_failures.iter().take(3) {
            eprintln!("connect failure: {failure}");
        }
    }
    let failed = !connect_failures.is_empty()
        || sent != received
        || tally.errors.load(Relaxed) > 0
        || tally.duplicates.load(Relaxed) > 0;
    if failed {
        return Err(ClientExit::new(
            EXIT_STRESS_FAILED,
            "stress run finished with errors or lost messages",
        ));
    }
    Ok(())
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to one minute at 3 significant digits: the bounds are constants, so this
    // cannot fail; fall back to an auto-resizing histogram all the same.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .or_else(|_| Histogram::new(3))
        .unwrap_or_else(|_| unreachable!("3 significant digits is valid"))
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn print_table(r: &serde_json::Value) {
    let l = &r["latency_ms"];
    println!(
        "transport        {}",
        r["transport"].as_str().unwrap_or("?")
    );
    println!(
        "connections      {} of {}",
        r["connected"], r["connections"]
    );
    println!(
        "messages         sent {}  received {}  lost {}  duplicates {}  errors {}",
        r["sent"], r["received"], r["lost"], r["duplicates"], r["errors"]
    );
    println!("elapsed          {} ms", r["elapsed_ms"]);
    println!(
        "throughput       {:.0} messages/s",
        r["throughput_per_s"].as_f64().unwrap_or(0.0)
    );
    println!(
        "latency (ms)     p50 {}  p90 {}  p99 {}  max {}",
        l["p50"], l["p90"], l["p99"], l["max"]
    );
}

struct Worker {
    client: Arc<Client>,
    channel: ChannelName,
    base: Instant,
    tally: Arc<Tally>,
}

impl Worker {
    /// Sends `messages` at `rate` and times each one back; returns the latencies.
    async fn run(self, messages: u64, rate: f64, size: usize, drain: Duration) -> Histogram<u64> {
        let receiver = tokio::spawn(receive(
            self.client.clone(),
            self.channel.to_string(),
            self.base,
            self.tally.clone(),
            messages,
        ));
        // As a JSON string, quoted once for every message.
        let pad = serde_json::Value::from("x".repeat(size)).to_string();
        let interval = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
        let started = Instant::now();
        for k in 0..messages {
            if let Some(interval) = interval {
                let due = started + interval.mul_f64(k as f64);
                tokio::time::sleep_until(due.into()).await;
            }
            let t = self.base.elapsed().as_micros() as u64;
            // Sent without an id: the echo, not an ack, is what gets timed. The data is
            // written as JSON text directly (no `Value` tree per message), which keeps
            // the load tool's own cost per message low.
            let data = RawValue::from_string(format!(r#"{{"k":{k},"t":{t},"pad":{pad}}}"#));
            let sent = match data {
                Ok(data) => {
                    let message = ClientMessage::publish_raw(self.channel.clone(), data);
                    self.client.send(&message).await.is_ok()
                }
                Err(_) => false,
            };
            if !sent {
                self.tally.errors.fetch_add(1, Relaxed);
                break;
            }
            self.tally.sent.fetch_add(1, Relaxed);
        }
        let histogram = match tokio::time::timeout(drain, receiver).await {
            Ok(Ok(histogram)) => histogram,
            _ => new_histogram(),
        };
        self.client.close().await;
        histogram
    }
}

/// Counts this connection's messages as they come back, until all `expected` did.
async fn receive(
    client: Arc<Client>,
    channel: String,
    base: Instant,
    tally: Arc<Tally>,
    expected: u64,
) -> Histogram<u64> {
    let mut histogram = new_histogram();
    let mut seen = vec![false; expected as usize];
    let mut got = 0;
    while got < expected {
        let Some(event) = client.next_event().await else {
            break;
        };
        match event {
            ClientEvent::Message(ServerMessage::Message {
                channel: ch, data, ..
            }) if ch == channel => {
                let k = data["k"].as_u64().unwrap_or(u64::MAX) as usize;
                let sent_at = data["t"].as_u64().unwrap_or(0);
                match seen.get_mut(k) {
                    Some(slot) if !*slot => {
                        *slot = true;
                        got += 1;
                        tally.received.fetch_add(1, Relaxed);
                        let now = base.elapsed().as_micros() as u64;
                        tally.last_received_us.fetch_max(now, Relaxed);
                        let _ =
                            histogram.record(now.saturating_sub(sent_at).clamp(1, MAX_LATENCY_US));
                    }
                    _ => {
                        tally.duplicates.fetch_add(1, Relaxed);
                    }
                }
            }
            ClientEvent::Message(ServerMessage::Error { .. }) => {
                tally.errors.fetch_add(1, Relaxed);
            }
            ClientEvent::Closed { .. } => break,
            _ => {}
        }
    }
    histogram
}

/// A text progress bar `width` characters wide: `#` for done, `.` for to do.
fn progress_bar(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        width
    } else {
        ((done.min(total) as u128 * width as u128) / total as u128) as usize
    };
    format!("{}{}", "#".repeat(filled), ".".repeat(width - filled))
}

#[cfg(test)]
mod tests {
    use super::progress_bar;

    #[test]
    fn progress_bar_fills_in_proportion() {
        assert_eq!(progress_bar(0, 10, 10), "..........");
        assert_eq!(progress_bar(5, 10, 10), "#####.....");
        assert_eq!(progress_bar(10, 10, 10), "##########");
        assert_eq!(progress_bar(99, 10, 10), "##########");
        assert_eq!(progress_bar(0, 0, 4), "####");
    }
}
