//! The simulator's clients, one per transport, each a real client over a loopback socket:
//! WebSocket (tokio-tungstenite), SSE (a streaming GET plus `POST /sse/message`), long and
//! short polling (`POST /poll`, `/short-poll`, each poll carrying the due ping) and raw
//! TCP (length-prefixed frames). Each pings at its rate, times `pong`s by `id`, counts
//! every message in and out, and closes its connection when the run is cancelled.
//!
//! Bounds: at most [`MAX_PENDING_PINGS`] unanswered pings are remembered per client.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_protocol::frame::Framing;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::simulator::RunCounters;

/// Unanswered pings remembered per client; older ones are forgotten (counted as lost).
pub(crate) const MAX_PENDING_PINGS: usize = 64;
/// The channel simulated connections join (besides `broadcast`).
pub(crate) const SIMULATOR_CHANNEL: &str = "simulator";
/// Largest frame a simulated TCP client accepts.
const MAX_TCP_FRAME: usize = 1 << 20;

/// Where the simulated clients connect.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) http: SocketAddr,
    pub(crate) tcp: Option<SocketAddr>,
    pub(crate) framing: Framing,
}

/// Pings in flight, by id.
struct Pings {
    next: u64,
    pending: HashMap<u64, Instant>,
    counters: Arc<RunCounters>,
}

impl Pings {
    fn new(counters: Arc<RunCounters>) -> Self {
        Self {
            next: 0,
            pending: HashMap::new(),
            counters,
        }
    }

    /// The next ping message, remembered for timing.
    fn ping(&mut self) -> Value {
        if self.pending.len() >= MAX_PENDING_PINGS {
            if let Some(oldest) = self
                .pending
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(id, _)| *id)
            {
                self.pending.remove(&oldest);
            }
        }
        self.next += 1;
        self.pending.insert(self.next, Instant::now());
        self.counters.messages.fetch_add(1, Relaxed);
        json!({"type": "ping", "id": self.next})
    }

    /// Counts one received message; times it when it is a `pong`.
    fn received(&mut self, message: &Value) {
        self.counters.messages.fetch_add(1, Relaxed);
        if message["type"] == "pong" {
            if let Some(sent) = message["id"]
                .as_u64()
                .and_then(|id| self.pending.remove(&id))
            {
                self.counters.latency(sent.elapsed());
            }
        }
    }
}

fn ping_interval(pings_per_s: f64) -> Option<Duration> {
    (pings_per_s > 0.0).then(|| Duration::from_secs_f64(1.0 / pings_per_s))
}

/// Runs one simulated client until `cancel`; counts it connected while it is.
pub(crate) async fn run_client(
    transport: String,
    target: Target,
    pings_per_s: f64,
    counters: Arc<RunCounters>,
    cancel: CancellationToken,
) {
    let pings = Pings::new(counters.clone());
    let every = ping_interval(pings_per_s);
    let result = match transport.as_str() {
        "websocket" => websocket(target, every, pings, &cancel).await,
        "sse" => sse(target, every, pings, &cancel).await,
        "long-poll" => poll(target, "/poll", every, pings, &cancel).await,
        "short-poll" => poll(target, "/short-poll", every, pings, &cancel).await,
        _ => tcp(target, every, pings, &cancel).await,
    };
    if let Err(err) = result {
        counters.fail(err);
    }
}

/// A ticker for pings, or one that never fires when pings are off.
fn ticker(every: Option<Duration>) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(every.unwrap_or(Duration::from_secs(86_400)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// Marks the client connected for as long as the guard lives.
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

async fn websocket(
    target: Target,
    every: Option<Duration>,
    mut pings: Pings,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let url = format!("ws://{}/ws?channels={SIMULATOR_CHANNEL}", target.http);
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("websocket: {e}"))?;
    let _connected = Connected::new(&pings.counters);
    let mut ticker = ticker(every);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick(), if every.is_some() => {
                let ping = pings.ping().to_string();
                socket.send(Message::Text(ping.into())).await.map_err(|e| format!("websocket send: {e}"))?;
            }
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(message) = serde_json::from_str::<Value>(&text) {
                        pings.received(&message);
                    }
                }
                Some(Ok(Message::Close(_))) | None => return Err("websocket closed by the server".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("websocket: {e}")),
            }
        }
    }
    let _ = socket.close(None).await;
    Ok(())
}

/// A client of its own per simulated connection (its own pool, so its own sockets).
fn http_client() -> Result<reqwest::Client, String> {
    // reqwest is built without a bundled crypto provider (see the weather feed); it
    // panics without one even for plain http. The first install wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("http client: {e}"))
}

async fn sse(
    target: Target,
    every: Option<Duration>,
    mut pings: Pings,
    cancel: &CancellationToken,
) -> Result<(), String> {
    // No overall timeout: the event stream lasts as long as the run.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    let base = format!("http://{}", target.http);
    let mut stream = client
        .get(format!("{base}/sse?channels={SIMULATOR_CHANNEL}"))
        .send()
        .await
        .map_err(|e| format!("sse: {e}"))?;
    let _connected = Connected::new(&pings.counters);
    let mut buffer = String::new();
    // The stream's secret, from its welcome: what lets a POST act for it.
    let mut session_token: Option<String> = None;
    let mut ticker = ticker(every);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = ticker.tick(), if every.is_some() && session_token.is_some() => {
                let body = json!({"session_token": session_token, "message": pings.ping()});
                let sent = client.post(format!("{base}/sse/message")).json(&body).send().await;
                if let Err(e) = sent {
                    return Err(format!("sse message: {e}"));
                }
            }
            chunk = stream.chunk() => match chunk {
                Ok(Some(bytes)) => {
                    buffer.push_str(&String::from_utf8_lossy(&bytes));
                    while let Some(end) = buffer.find("\n\n") {
                        let event: String = buffer.drain(..end + 2).collect();
                        let data: String = event
                            .lines()
                            .filter_map(|line| line.strip_prefix("data: "))
                            .collect::<Vec<_>>()
                            .join("\n");
                        if let Ok(message) = serde_json::from_str::<Value>(&data) {
                            if message["type"] == "welcome" {
                                session_token = message["session_token"].as_str().map(str::to_owned);
                            }
                            pings.received(&message);
                        }
                    }
                }
                Ok(None) => return Err("sse stream ended by the server".into()),
                Err(e) => return Err(format!("sse: {e}")),
            }
        }
    }
    Ok(())
}

async fn poll(
    target: Target,
    path: &str,
    every: Option<Duration>,
    mut pings: Pings,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let client = http_client()?;
    let url = format!("http://{}{path}", target.http);
    let mut body = json!({"channels": [SIMULATOR_CHANNEL]});
    let mut connected = None;
    // Each poll carries the due ping (a poll is the only way to send); without pings a
    // short poll asks once a second and a long poll waits for news.
    let pace = every.unwrap_or(Duration::from_secs(1));
    loop {
        let request = client.post(&url).json(&body).send();
        let answer: Value = tokio::select! {
            _ = cancel.cancelled() => break,
            response = request => {
                let response = response.map_err(|e| format!("{path}: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!("{path} answered {}", response.status()));
                }
                response.json().await.map_err(|e| format!("{path}: {e}"))?
            }
        };
        connected.get_or_insert_with(|| Connected::new(&pings.counters));
        if let Some(messages) = answer["messages"].as_array() {
            for message in messages {
                pings.received(message);
            }
        }
        if answer.get("closed").is_some() {
            return Err(format!("{path}: session closed by the server"));
        }
        body = json!({"session_token": answer["session_token"], "cursor": answer["cursor"]});
        if every.is_some() {
            body["message"] = pings.ping();
        }
        if every.is_some() || path == "/short-poll" {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(pace) => {}
            }
        }
    }
    // Stop ends the session at once instead of leaving it to the server's grace period.
    if let Some(token) = body.get("session_token") {
        let close = client
            .post(format!("http://{}/poll/close", target.http))
            .json(&json!({"session_token": token}))
            .send();
        let _ = tokio::time::timeout(Duration::from_secs(1), close).await;
    }
    Ok(())
}

async fn tcp(
    target: Target,
    every: Option<Duration>,
    pings: Pings,
    cancel: &CancellationToken,
) -> Result<(), String> {
    let addr = target.tcp.ok_or("raw TCP is turned off")?;
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("tcp: {e}"))?;
    let _ = stream.set_nodelay(true);
    let _connected = Connected::new(&pings.counters);
    let (mut reader, mut writer) = stream.into_split();
    let framing = target.framing;
    // Reading and pinging both touch the pings; `read_exact` is not cancel-safe, so the
    // reader runs as one future beside the ping loop instead of inside a select.
    let pings = Arc::new(std::sync::Mutex::new(pings));
    let reader_pings = pings.clone();
    let reading = read_loop(&mut reader, framing, reader_pings);
    tokio::pin!(reading);
    let mut ticker = ticker(every);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            result = &mut reading => return result,
            _ = ticker.tick(), if every.is_some() => {
                let ping = match pings.lock() {
                    Ok(mut pings) => pings.ping().to_string(),
                    Err(_) => break,
                };
                let frame = encode_frame(framing, ping.as_bytes());
                writer.write_all(&frame).await.map_err(|e| format!("tcp: {e}"))?;
            }
        }
    }
    let _ = writer.shutdown().await;
    Ok(())
}

/// One frame: the length header in `framing`, then the payload.
fn encode_frame(framing: Framing, payload: &[u8]) -> Vec<u8> {
    let mut frame = match framing {
        Framing::U32 => (payload.len() as u32).to_be_bytes().to_vec(),
        Framing::Decimal10 => format!("{:<10}", payload.len()).into_bytes(),
    };
    frame.extend_from_slice(payload);
    frame
}

async fn read_loop(
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    framing: Framing,
    pings: Arc<std::sync::Mutex<Pings>>,
) -> Result<(), String> {
    loop {
        let payload = read_frame(reader, framing).await?;
        if let Ok(message) = serde_json::from_slice::<Value>(&payload) {
            if let Ok(mut pings) = pings.lock() {
                pings.received(&message);
            }
        }
    }
}

async fn read_frame(
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    framing: Framing,
) -> Result<Vec<u8>, String> {
    let mut header = vec![0; framing.header_len()];
    reader
        .read_exact(&mut header)
        .await
        .map_err(|e| format!("tcp: {e}"))?;
    let length = match framing {
        Framing::U32 => u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize,
        Framing::Decimal10 => String::from_utf8_lossy(&header)
            .trim()
            .parse()
            .map_err(|_| "tcp: bad length header".to_owned())?,
    };
    if length > MAX_TCP_FRAME {
        return Err(format!("tcp: frame of {length} bytes"));
    }
    let mut payload = vec![0; length];
    reader
        .read_exact(&mut payload)
        .await
        .map_err(|e| format!("tcp: {e}"))?;
    Ok(payload)
}
