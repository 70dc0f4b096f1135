//! The measured protocol comparison (`POST /api/academy/compare`): the same workload over
//! every transport, from Rust clients on loopback whose sockets count every byte.
//!
//! Workload per transport: connect (handshake, `welcome`, `subscribed`), then
//! [`COMPARE_PINGS`] pings one after another, each waiting for its `pong`. Reported: the
//! connect time, round-trip p50 and max, bytes on the wire per ping (both directions,
//! every header and frame included, measured at the socket), HTTP requests per ping,
//! and the transcript of the last ping's exchange, byte for byte.
//!
//! Bounded: one comparison at a time (a second gets 409), each transport's run capped
//! by [`COMPARE_TIMEOUT`].

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use switchboard_protocol::frame::Framing;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::Message;

use super::{
    sim_clients::Target,
    wire::{Counted, Direction, HttpConnection, Layout, Tally},
};

/// Pings per transport: enough for a median, few enough to finish in well under a second.
pub const COMPARE_PINGS: usize = 20;
/// A transport that has not finished its run by then is reported as failed.
pub const COMPARE_TIMEOUT: Duration = Duration::from_secs(10);
/// The channel the comparison's clients join.
const COMPARE_CHANNEL: &str = "compare";

/// One transport's figures.
#[derive(Debug, Serialize)]
pub struct TransportFigures {
    pub transport: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub connect_ms: f64,
    pub rtt_p50_ms: f64,
    pub rtt_max_ms: f64,
    pub bytes_per_message: f64,
    pub requests_per_message: f64,
    /// The last ping's exchange: `(">>" sent | "<<" received, text)`.
    pub transcript: Vec<(&'static str, String)>,
}

/// What one run measured before it is summarized.
#[derive(Default)]
struct Run {
    connect: Duration,
    rtts: Vec<Duration>,
    requests: u64,
    bytes: u64,
}

/// Runs the workload over every transport, one after another.
pub(crate) async fn compare(target: &Target) -> Vec<TransportFigures> {
    let mut figures = Vec::new();
    for transport in ["websocket", "sse", "long-poll", "short-poll", "tcp"] {
        let layout = match transport {
            "websocket" => Layout::WebSocket,
            "tcp" => Layout::Tcp(target.framing),
            _ => Layout::Text,
        };
        let tally = Arc::new(Tally::new(layout));
        let run = tokio::time::timeout(COMPARE_TIMEOUT, measure(transport, target, &tally)).await;
        let result = match run {
            Ok(result) => result,
            Err(_) => Err(format!("no result within {COMPARE_TIMEOUT:?}")),
        };
        figures.push(summarize(transport, result, &tally));
    }
    figures
}

fn summarize(
    transport: &'static str,
    result: Result<Run, String>,
    tally: &Tally,
) -> TransportFigures {
    let transcript = tally
        .transcript()
        .into_iter()
        .map(|(direction, text)| {
            (
                if direction == Direction::Sent {
                    ">>"
                } else {
                    "<<"
                },
                text,
            )
        })
        .collect();
    let ms = |d: Duration| (d.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    match result {
        Ok(mut run) if !run.rtts.is_empty() => {
            run.rtts.sort();
            let pings = run.rtts.len() as f64;
            TransportFigures {
                transport,
                ok: true,
                error: None,
                connect_ms: ms(run.connect),
                rtt_p50_ms: ms(run.rtts[run.rtts.len() / 2]),
                rtt_max_ms: ms(run.rtts[run.rtts.len() - 1]),
                bytes_per_message: (run.bytes as f64 / pings).round(),
                requests_per_message: run.requests as f64 / pings,
                transcript,
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
        },
    }
}

async fn measure(transport: &str, target: &Target, tally: &Arc<Tally>) -> Result<Run, String> {
    let started = Instant::now();
    let mut run = Run::default();
    match transport {
        "websocket" => websocket(target, tally, &mut run, started).await,
        "sse" => sse(target, tally, &mut run, started).await,
        "long-poll" => poll(target, "/poll", tally, &mut run, started).await,
        "short-poll" => poll(target, "/short-poll", tally, &mut run, started).await,
        _ => tcp(target, tally, &mut run, started).await,
    }
    .map_err(|e| e.to_string())?;
    Ok(run)
}

async fn connect(
    addr: std::net::SocketAddr,
    tally: &Arc<Tally>,
) -> std::io::Result<Counted<TcpStream>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(Counted::new(stream, tally.clone()))
}

fn ping(id: usize) -> String {
    format!(r#"{{"type":"ping","id":{id}}}"#)
}

fn is_pong(message: &Value, id: usize) -> bool {
    message["type"] == "pong" && message["id"] == id
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Marks the start of the measured phase: counters before it are the connect cost.
fn begin(run: &mut Run, tally: &Tally, started: Instant) -> u64 {
    run.connect = started.elapsed();
    tally.total()
}

async fn websocket(
    target: &Target,
    tally: &Arc<Tally>,
    run: &mut Run,
    started: Instant,
) -> Result<(), BoxError> {
    let stream = connect(target.http, tally).await?;
    let url = format!("ws://{}/ws?channels={COMPARE_CHANNEL}", target.http);
    let (mut socket, _) = tokio_tungstenite::client_async(url, stream).await?;
    let mut ready = 0;
    while ready < 2 {
        if let Some(Ok(Message::Text(text))) = socket.next().await {
            if text.contains("\"type\":\"subscribed\"") {
                ready += 1;
            }
        } else {
            return Err("websocket closed during connect".into());
        }
    }
    let before = begin(run, tally, started);
    for id in 1..=COMPARE_PINGS {
        if id == COMPARE_PINGS {
            tally.clear_transcript();
        }
        let sent = Instant::now();
        socket.send(Message::Text(ping(id).into())).await?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    if is_pong(&serde_json::from_str(&text)?, id) {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                _ => return Err("websocket closed".into()),
            }
        }
        run.rtts.push(sent.elapsed());
    }
    run.bytes = tally.total() - before;
    tally.freeze();
    let _ = socket.close(None).await;
    Ok(())
}

/// Splits complete SSE events off `buffer`, returning their `data` payloads.
fn sse_events(buffer: &mut String) -> Vec<String> {
    let mut events = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let event: String = buffer.drain(..end + 2).collect();
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        if !data.is_empty() {
            events.push(data.join("\n"));
        }
    }
    events
}

async fn sse(
    target: &Target,
    tally: &Arc<Tally>,
    run: &mut Run,
    started: Instant,
) -> Result<(), BoxError> {
    let host = target.http.to_string();
    let mut stream = HttpConnection::new(connect(target.http, tally).await?, host.clone());
    let mut sender = HttpConnection::new(connect(target.http, tally).await?, host);
    let head = stream
        .request("GET", &format!("/sse?channels={COMPARE_CHANNEL}"), None)
        .await?;
    if head.status != 200 {
        return Err(format!("GET /sse answered {}", head.status).into());
    }
    let mut buffer = String::new();
    let mut session_token = None;
    let mut ready = 0;
    while ready < 2 {
        let chunk = stream.chunk().await?.ok_or("stream ended")?;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        for data in sse_events(&mut buffer) {
            let message: Value = serde_json::from_str(&data)?;
            match message["type"].as_str() {
                Some("welcome") => {
                    session_token = message["session_token"].as_str().map(str::to_owned)
                }
                Some("subscribed") => ready += 1,
                _ => {}
            }
        }
    }
    let session_token = session_token.ok_or("no welcome")?;
    let before = begin(run, tally, started);
    for id in 1..=COMPARE_PINGS {
        if id == COMPARE_PINGS {
            tally.clear_transcript();
        }
        let sent = Instant::now();
        let body = format!(
            "{{\"session_token\":\"{session_token}\",\"message\":{}}}",
            ping(id)
        );
        let head = sender.request("POST", "/sse/message", Some(&body)).await?;
        sender.body(&head).await?;
        run.requests += 1;
        'pong: loop {
            let chunk = stream.chunk().await?.ok_or("stream ended")?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            for data in sse_events(&mut buffer) {
                if is_pong(&serde_json::from_str(&data)?, id) {
                    break 'pong;
                }
            }
        }
        run.rtts.push(sent.elapsed());
    }
    run.bytes = tally.total() - before;
    tally.freeze();
    Ok(())
}

async fn poll(
    target: &Target,
    path: &str,
    tally: &Arc<Tally>,
    run: &mut Run,
    started: Instant,
) -> Result<(), BoxError> {
    let mut http = HttpConnection::new(connect(target.http, tally).await?, target.http.to_string());
    let body = json!({"channels": [COMPARE_CHANNEL]}).to_string();
    let head = http.request("POST", path, Some(&body)).await?;
    let mut answer: Value = serde_json::from_slice(&http.body(&head).await?)?;
    let before = begin(run, tally, started);
    for id in 1..=COMPARE_PINGS {
        if id == COMPARE_PINGS {
            tally.clear_transcript();
        }
        let sent = Instant::now();
        loop {
            let body = format!(
                "{{\"session_token\":{},\"cursor\":{},\"message\":{}}}",
                answer["session_token"],
                answer["cursor"],
                ping(id)
            );
            let head = http.request("POST", path, Some(&body)).await?;
            run.requests += 1;
            answer = serde_json::from_slice(&http.body(&head).await?)?;
            if head.status != 200 {
                return Err(format!("{path} answered {}: {answer}", head.status).into());
            }
            let messages = answer["messages"].as_array().cloned().unwrap_or_default();
            if messages.iter().any(|m| is_pong(m, id)) {
                break;
            }
        }
        run.rtts.push(sent.elapsed());
    }
    run.bytes = tally.total() - before;
    tally.freeze();
    Ok(())
}

async fn tcp(
    target: &Target,
    tally: &Arc<Tally>,
    run: &mut Run,
    started: Instant,
) -> Result<(), BoxError> {
    let addr = target.tcp.ok_or("raw TCP is turned off")?;
    let mut stream = connect(addr, tally).await?;
    let framing = target.framing;
    // TCP joins its configured channels on connect (no URL to name them), so how many
    // `subscribed` follow `welcome` is the server's choice: ping 0 is a barrier, since
    // replies come in order, everything before its pong belongs to the connect.
    let welcome: Value = serde_json::from_slice(&read_frame(&mut stream, framing).await?)?;
    if welcome["type"] != "welcome" {
        return Err("no welcome".into());
    }
    let mut before = 0;
    for id in 0..=COMPARE_PINGS {
        if id == 1 {
            before = begin(run, tally, started);
        }
        if id == COMPARE_PINGS {
            tally.clear_transcript();
        }
        let sent = Instant::now();
        let payload = ping(id);
        let mut frame = match framing {
            Framing::U32 => (payload.len() as u32).to_be_bytes().to_vec(),
            Framing::Decimal10 => format!("{:<10}", payload.len()).into_bytes(),
        };
        frame.extend_from_slice(payload.as_bytes());
        stream.write_all(&frame).await?;
        while !is_pong(
            &serde_json::from_slice(&read_frame(&mut stream, framing).await?)?,
            id,
        ) {}
        if id > 0 {
            run.rtts.push(sent.elapsed());
        }
    }
    run.bytes = tally.total() - before;
    tally.freeze();
    let _ = stream.shutdown().await;
    Ok(())
}

async fn read_frame(
    stream: &mut Counted<TcpStream>,
    framing: Framing,
) -> Result<Vec<u8>, BoxError> {
    let mut header = vec![0; framing.header_len()];
    stream.read_exact(&mut header).await?;
    let length: usize = match framing {
        Framing::U32 => u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize,
        Framing::Decimal10 => String::from_utf8_lossy(&header).trim().parse()?,
    };
    if length > 1 << 20 {
        return Err("frame too large".into());
    }
    let mut payload = vec![0; length];
    stream.read_exact(&mut payload).await?;
    Ok(payload)
}
