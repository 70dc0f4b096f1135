//! Hostile clients at the connection edge (issue 9, findings 2 and 6): each test performs
//! the attack over real loopback sockets against a real server and asserts the bound.
//! Slow heads, slow bodies, idle keep-alive sockets, connection floods from one address
//! and from many, over HTTP, WebSocket, SSE and raw TCP; amplified poll responses and a
//! poller that never reads.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use common::{WsClient, tcp::TcpClient};
use http::{SseStream, eventually, post_json};
use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    time::Instant,
};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// A second source address on the loopback interface (all of 127/8 is local on Linux).
const OTHER_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// Slack for a timeout to fire and the close to reach the client on a busy 2-core machine.
const SLACK: Duration = Duration::from_millis(1500);

/// Connects to `addr` from `source` (port chosen by the kernel).
async fn connect_from(source: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(source, 0))
        .expect("bind the source address");
    socket.connect(addr).await.expect("connect")
}

/// A parsed response: status and body (`Content-Length` framed).
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.json()["code"], code, "{}", self.json());
    }
}

/// Reads one `Content-Length` response from `stream`.
async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(http::PATIENCE, stream.read(&mut byte))
            .await
            .expect("a response head within the patience window")
            .expect("read");
        assert_eq!(n, 1, "connection closed before a response head");
        buffer.push(byte[0]);
    }
    let head = String::from_utf8(buffer).expect("ASCII head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .expect("content-length");
    let mut body = vec![0; length];
    tokio::time::timeout(http::PATIENCE, stream.read_exact(&mut body))
        .await
        .expect("body within the patience window")
        .expect("read body");
    Answer { status, body }
}

/// Sends `GET path` on an open connection (keep-alive) and reads the answer.
async fn get(stream: &mut TcpStream, path: &str) -> Answer {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    read_answer(stream).await
}

/// Waits until the server closes `stream` (EOF or reset); how long it took.
async fn closed_within(stream: &mut TcpStream, bound: Duration) -> Duration {
    let started = Instant::now();
    let mut sink = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout_at(started + bound, stream.read(&mut sink)).await {
            Err(_) => panic!("the server kept the connection open for {bound:?}"),
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

/// Waits until the server counts `expected` open connections.
async fn open_connections(server: &Server, expected: usize) {
    let admission = server.admission().clone();
    eventually(
        move || admission.open() == expected,
        &format!("{expected} open connections"),
    )
    .await;
}

fn config() -> ServerConfig {
    ServerConfig::ephemeral()
}

#[tokio::test]
async fn dripped_headers_are_cut_at_the_header_timeout() {
    let mut config = config();
    config.connections.http_header_timeout = Duration::from_millis(400);
    let server = common::start(config).await;
    let mut stream = TcpStream::connect(server.http_addr()).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Slowloris: one more header line every 100 ms, never the blank line.
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let drip = tokio::spawn(async move {
        for n in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let line = format!("X-Drip-{n}: y\r\n");
            if writer.write_all(line.as_bytes()).await.is_err() {
                return n;
            }
        }
        unreachable!()
    });
    let mut sink = [0u8; 256];
    let read = tokio::time::timeout(Duration::from_millis(400) + SLACK, async {
        while reader.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    })
    .await;
    assert!(read.is_ok(), "a dripping client was not cut");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(350),
        "cut after {elapsed:?}, before the header timeout"
    );
    drip.abort();
    open_connections(&server, 0).await;
}

#[tokio::test]
async fn a_slow_body_gets_408_and_the_connection_closes() {
    let mut config = config();
    config.connections.http_body_timeout = Duration::from_millis(400);
    let server = common::start(config).await;
    let addr = server.http_addr();
    // A body announced at 100 bytes of which 10 arrive.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /poll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"cursor\":",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_answer(&mut stream).await;
    answer.assert_error(408, 208);
    assert!(started.elapsed() < Duration::from_millis(400) + SLACK);
    closed_within(&mut stream, SLACK).await;

    // A chunked body trickled a byte every 100 ms: the deadline is for the whole body.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /poll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        loop {
            if writer.write_all(b"1\r\n \r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut head = vec![0u8; 12];
    tokio::time::timeout(
        Duration::from_millis(400) + SLACK,
        reader.read_exact(&mut head),
    )
    .await
    .expect("answered within the body timeout")
    .unwrap();
    assert_eq!(&head, b"HTTP/1.1 408");
    trickle.abort();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let mut config = config();
    // The header timeout is long: only the keep-alive timeout can close the socket soon.
    config.connections.http_header_timeout = Duration::from_secs(20);
    config.connections.http_keepalive_timeout = Duration::from_millis(400);
    let server = common::start(config).await;
    let mut stream = TcpStream::connect(server.http_addr()).await.unwrap();
    assert_eq!(get(&mut stream, "/healthz").await.status, 200);
    // Still persistent right after a response.
    assert_eq!(get(&mut stream, "/healthz").await.status, 200);
    let idle = closed_within(&mut stream, Duration::from_millis(400) + SLACK).await;
    assert!(
        idle >= Duration::from_millis(350),
        "closed after {idle:?} idle"
    );
    open_connections(&server, 0).await;
}

#[tokio::test]
async fn one_address_is_capped_while_another_still_gets_in() {
    let mut config = config();
    config.connections.max_per_addr = 3;
    let server = common::start(config).await;
    let addr = server.http_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(LOOPBACK, addr).await);
    }
    open_connections(&server, 3).await;
    let mut fourth = connect_from(LOOPBACK, addr).await;
    get(&mut fourth, "/api/stats").await.assert_error(429, 207);
    closed_within(&mut fourth, SLACK).await;

    let mut other = connect_from(OTHER_LOOPBACK, addr).await;
    assert_eq!(get(&mut other, "/api/stats").await.status, 200);
    assert_eq!(server.admission().open_from(OTHER_LOOPBACK), 1);

    // A place given back is a place to take.
    drop(held.pop());
    let admission = server.admission().clone();
    eventually(move || admission.open_from(LOOPBACK) == 2, "a place freed").await;
    let mut again = connect_from(LOOPBACK, addr).await;
    assert_eq!(get(&mut again, "/healthz").await.status, 200);
}

#[tokio::test]
async fn a_full_server_answers_503_and_still_answers_healthz() {
    let mut config = config();
    config.connections.max = 3;
    let server = common::start(config).await;
    let addr = server.http_addr();
    let mut held = Vec::new();
    for source in [LOOPBACK, OTHER_LOOPBACK, LOOPBACK] {
        held.push(connect_from(source, addr).await);
    }
    open_connections(&server, 3).await;
    let mut refused = connect_from(OTHER_LOOPBACK, addr).await;
    let answer = get(&mut refused, "/api/stats").await;
    answer.assert_error(503, 302);
    closed_within(&mut refused, SLACK).await;

    let mut health = TcpStream::connect(addr).await.unwrap();
    let answer = get(&mut health, "/healthz").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["status"], "ok");
    assert_eq!(server.admission().open(), 3, "the answers took no place");
}

#[tokio::test]
async fn tcp_websocket_and_sse_hold_their_places_until_they_close() {
    let mut config = config();
    config.connections.max = 3;
    let server = common::start(config).await;
    let ws = WsClient::connect(&server, "").await;
    let _sse = SseStream::open(server.http_addr(), "/sse", &[]).await;
    let _tcp = TcpClient::connect(&server).await;
    open_connections(&server, 3).await;

    // Raw TCP past the global cap: the error frame, then the socket is closed.
    let mut refused = TcpStream::connect(server.tcp_addr().unwrap())
        .await
        .unwrap();
    let mut frame = Vec::new();
    tokio::time::timeout(http::PATIENCE, refused.read_to_end(&mut frame))
        .await
        .expect("closed")
        .unwrap();
    let error: Value = serde_json::from_slice(&frame[4..]).expect("one JSON frame");
    assert_eq!(
        (error["type"].as_str(), error["code"].as_u64()),
        (Some("error"), Some(302))
    );

    // A WebSocket past the cap is refused before the upgrade.
    let mut http = TcpStream::connect(server.http_addr()).await.unwrap();
    get(&mut http, "/ws").await.assert_error(503, 302);

    // The WebSocket kept its place after the upgrade, and gives it back when it closes.
    drop(ws);
    open_connections(&server, 2).await;
    let mut http = TcpStream::connect(server.http_addr()).await.unwrap();
    assert_eq!(get(&mut http, "/api/stats").await.status, 200);
}

#[tokio::test]
async fn tcp_counts_against_the_per_address_cap() {
    let mut config = config();
    config.connections.max_per_addr = 1;
    let server = common::start(config).await;
    let _tcp = TcpClient::connect(&server).await;
    let mut http = connect_from(LOOPBACK, server.http_addr()).await;
    get(&mut http, "/api/stats").await.assert_error(429, 207);
    let mut refused = connect_from(LOOPBACK, server.tcp_addr().unwrap()).await;
    let mut frame = Vec::new();
    tokio::time::timeout(http::PATIENCE, refused.read_to_end(&mut frame))
        .await
        .expect("closed")
        .unwrap();
    let error: Value = serde_json::from_slice(&frame[4..]).expect("one JSON frame");
    assert_eq!(error["code"], 207, "{error}");
}

/// Publishes `count` messages of about `size` bytes on `channel` and waits for the ack of
/// the last one, so every subscriber's queue holds them all. The publisher is not
/// subscribed: it would have to read them all back while it writes.
async fn publish_bulk(server: &Server, channel: &str, count: usize, size: usize) {
    let mut publisher = WsClient::connect(server, "?channels=elsewhere").await;
    publisher.recv_type("subscribed").await;
    let filler = "x".repeat(size);
    for n in 0..count {
        let mut message =
            json!({"type": "publish", "channel": channel, "data": {"n": n, "filler": filler}});
        if n + 1 == count {
            message["id"] = json!("last");
        }
        publisher.send(message).await;
    }
    let ack = publisher.recv_type("ack").await;
    assert_eq!(ack["id"], "last", "{ack}");
}

#[tokio::test]
async fn a_poll_response_stays_under_its_byte_cap_and_everything_arrives_in_order() {
    const CAP: usize = 256 * 1024;
    const MESSAGE: usize = 60 * 1024;
    const COUNT: usize = 24;
    let mut config = config();
    config.poll.max_response_bytes = CAP;
    config.hub.queue_bytes = 4 * 1024 * 1024;
    let server = common::start(config).await;
    let addr = server.http_addr();
    let opened = post_json(addr, "/short-poll", &json!({"channels": ["bulk"]})).await;
    let id = opened.json()["session_token"].as_str().unwrap().to_owned();
    let mut cursor = opened.json()["cursor"].as_u64().unwrap();
    publish_bulk(&server, "bulk", COUNT, MESSAGE).await;

    let mut seen = Vec::new();
    let mut polls = 0;
    while seen.len() < COUNT {
        polls += 1;
        assert!(polls <= 2 * COUNT, "messages stopped arriving: {seen:?}");
        let response = post_json(
            addr,
            "/short-poll",
            &json!({"session_token": id, "cursor": cursor}),
        )
        .await;
        // The envelope is about 100 bytes; one message may go past the cap only alone.
        assert!(
            response.body.len() <= CAP + 1024,
            "a {}-byte poll response with a {CAP}-byte cap",
            response.body.len()
        );
        let body = response.json();
        cursor = body["cursor"].as_u64().unwrap();
        for message in body["messages"].as_array().unwrap() {
            if message["type"] == "message" {
                seen.push(message["data"]["n"].as_u64().unwrap());
            }
        }
    }
    assert_eq!(
        seen,
        (0..COUNT as u64).collect::<Vec<_>>(),
        "in order, once each"
    );
    assert!(
        polls >= COUNT * MESSAGE / CAP,
        "{polls} polls carried it all"
    );
}

#[tokio::test]
async fn a_message_larger_than_the_cap_goes_alone() {
    let mut config = config();
    config.poll.max_response_bytes = 1024;
    let server = common::start(config).await;
    let addr = server.http_addr();
    let opened = post_json(addr, "/short-poll", &json!({"channels": ["big"]})).await;
    let id = opened.json()["session_token"].as_str().unwrap().to_owned();
    let mut cursor = opened.json()["cursor"].as_u64().unwrap();
    publish_bulk(&server, "big", 3, 8 * 1024).await;
    let mut seen = Vec::new();
    for _ in 0..6 {
        let response = post_json(
            addr,
            "/short-poll",
            &json!({"session_token": id, "cursor": cursor}),
        )
        .await;
        let body = response.json();
        cursor = body["cursor"].as_u64().unwrap();
        let messages = body["messages"].as_array().unwrap();
        assert!(messages.len() <= 1, "{} messages together", messages.len());
        seen.extend(messages.iter().filter_map(|m| m["data"]["n"].as_u64()));
    }
    assert_eq!(seen, [0, 1, 2]);
}

/// The process's resident memory (the server runs in the test process).
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

#[tokio::test]
async fn a_poller_that_never_reads_is_cut_at_the_write_timeout_and_its_response_freed() {
    // Each response is 12 MiB: far more than the kernel buffers for one loopback socket
    // (4 MiB to send, a 4 KiB receive buffer on the client), so the rest sits in the server.
    const RESPONSE: usize = 12 * 1024 * 1024;
    const POLLERS: usize = 4;
    const WRITE_TIMEOUT: Duration = Duration::from_millis(800);
    let mut config = config();
    config.poll.max_response_bytes = RESPONSE;
    config.poll.max_batch = 1024;
    config.hub.queue_bytes = 2 * RESPONSE;
    config.hub.queue_messages = 1024;
    config.connections.http_write_timeout = WRITE_TIMEOUT;
    let server = common::start(config).await;
    let addr = server.http_addr();
    let mut sessions = Vec::new();
    for _ in 0..POLLERS {
        let opened = post_json(addr, "/short-poll", &json!({"channels": ["flood"]})).await;
        let body = opened.json();
        sessions.push((
            body["session_token"].as_str().unwrap().to_owned(),
            body["cursor"].as_u64().unwrap(),
        ));
    }
    publish_bulk(&server, "flood", RESPONSE / (60 * 1024), 60 * 1024 - 200).await;
    open_connections(&server, 0).await;
    let before = rss_bytes();

    let started = Instant::now();
    let mut stalled = Vec::new();
    for (id, cursor) in &sessions {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let body = json!({"session_token": id, "cursor": cursor}).to_string();
        let request = format!(
            "POST /short-poll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stalled.push(stream);
    }
    // Every poller's response is rendered and held while its socket is full (the attack
    // is real: about one response per poller)...
    let held = before + (POLLERS * RESPONSE / 2) as u64;
    eventually(
        move || rss_bytes() >= held,
        "the stalled responses held in memory",
    )
    .await;
    let during = rss_bytes();
    assert_eq!(
        server.admission().open(),
        POLLERS,
        "the pollers are connected"
    );
    // ...and cut once nothing went out for the write timeout.
    open_connections(&server, 0).await;
    let cut_after = started.elapsed();
    let after = rss_bytes();
    eprintln!(
        "RSS: {} MiB before, {} MiB with {POLLERS} stalled pollers, {} MiB after the cut ({cut_after:?})",
        before >> 20,
        during >> 20,
        after >> 20
    );
    assert!(
        (WRITE_TIMEOUT..WRITE_TIMEOUT + SLACK).contains(&cut_after),
        "cut after {cut_after:?} with a {WRITE_TIMEOUT:?} write timeout"
    );
    // The client gets what the kernel had taken, then the end: never the whole response.
    let mut received = Vec::new();
    let mut stream = stalled.pop().unwrap();
    let _ = tokio::time::timeout(http::PATIENCE, stream.read_to_end(&mut received)).await;
    assert!(
        received.len() < RESPONSE,
        "{} bytes of a {RESPONSE}-byte response",
        received.len()
    );
    // What the stalled responses held is given back: less than one response's worth of
    // growth remains (room for the allocator and the other tests in this process).
    assert!(
        after < before + RESPONSE as u64,
        "RSS {} MiB before, {} MiB during, {} MiB after",
        before >> 20,
        during >> 20,
        after >> 20
    );
}
