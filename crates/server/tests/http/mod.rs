//! A small HTTP/1.1 test client over a raw `TcpStream`, for the SSE and polling suites:
//! exact bytes matter there (event-stream framing, status lines, headers), so nothing
//! sits between the test and the wire but chunked-encoding decoding.

#![allow(dead_code, unreachable_pub)]

use std::{net::SocketAddr, time::Duration};

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A complete response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts an `error` body with this status and code.
    pub fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        let body = self.json();
        assert_eq!(body["type"], "error");
        assert_eq!(body["code"], code, "{body}");
    }
}

/// Sends one request (`Connection: close`) and reads the whole response.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut reader = send_head(addr, method, path, headers, body).await;
    let (status, headers) = read_head(&mut reader).await;
    let chunked = is_chunked(&headers);
    let mut body = Vec::new();
    if chunked {
        while let Some(chunk) = read_chunk(&mut reader).await {
            body.extend_from_slice(&chunk);
        }
    } else {
        tokio::time::timeout(PATIENCE * 8, reader.read_to_end(&mut body))
            .await
            .expect("body within the patience window")
            .expect("read body");
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// `POST path` with a JSON body.
pub async fn post_json(addr: SocketAddr, path: &str, body: &Value) -> HttpResponse {
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await
}

async fn send_head(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    write_request(stream, addr, method, path, headers, body).await
}

/// Writes one request on an already connected stream.
async fn write_request(
    mut stream: TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> BufReader<TcpStream> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method != "GET" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body).await.expect("write body");
    BufReader::new(stream)
}

async fn read_head(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    read_line(reader, &mut line).await;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        read_line(reader, &mut line).await;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return (status, headers);
        }
        let (name, value) = line.split_once(':').expect("header line");
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
}

async fn read_line(reader: &mut BufReader<TcpStream>, line: &mut String) -> usize {
    tokio::time::timeout(PATIENCE, reader.read_line(line))
        .await
        .expect("a line within the patience window")
        .expect("read line")
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
}

/// One chunk of a chunked body; `None` at the end (or when the connection closes).
async fn read_chunk(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut line = String::new();
    if read_line(reader, &mut line).await == 0 {
        return None;
    }
    let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
    if size == 0 {
        return None;
    }
    let mut chunk = vec![0; size + 2];
    tokio::time::timeout(PATIENCE, reader.read_exact(&mut chunk))
        .await
        .expect("chunk within the patience window")
        .expect("read chunk");
    chunk.truncate(size);
    Some(chunk)
}

/// One parsed event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// An open event stream, read block by block.
pub struct SseStream {
    reader: BufReader<TcpStream>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pending: Vec<u8>,
    /// Every body byte received so far.
    pub raw: Vec<u8>,
    ended: bool,
}

impl SseStream {
    pub async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Self {
        let reader = send_head(addr, "GET", path, headers, b"").await;
        Self::read_opening(reader).await
    }

    /// Like [`SseStream::open`], over a socket whose kernel receive buffer is fixed at
    /// `receive_buffer` bytes (so a test knows how much a stalled reader's side holds).
    pub async fn open_with_receive_buffer(
        addr: SocketAddr,
        path: &str,
        receive_buffer: u32,
    ) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .set_recv_buffer_size(receive_buffer)
            .expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connect");
        let reader = write_request(stream, addr, "GET", path, &[], b"").await;
        Self::read_opening(reader).await
    }

    async fn read_opening(mut reader: BufReader<TcpStream>) -> Self {
        let (status, headers) = read_head(&mut reader).await;
        assert!(is_chunked(&headers), "an event stream is chunked");
        Self {
            reader,
            status,
            headers,
            pending: Vec::new(),
            raw: Vec::new(),
            ended: false,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The next block (the text up to a blank line, without it); `None` at the end.
    pub async fn next_block(&mut self) -> Option<String> {
        loop {
            if let Some(at) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.pending.drain(..at + 2).collect();
                return Some(String::from_utf8(block[..at].to_vec()).expect("UTF-8 stream"));
            }
            if self.ended {
                return None;
            }
            match read_chunk(&mut self.reader).await {
                Some(chunk) => {
                    self.raw.extend_from_slice(&chunk);
                    self.pending.extend_from_slice(&chunk);
                }
                None => self.ended = true,
            }
        }
    }

    /// The next event (skipping comments and `retry:` blocks); `None` at the end.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            let block = self.next_block().await?;
            let mut event = SseEvent {
                id: None,
                event: String::new(),
                data: String::new(),
            };
            let mut has_data = false;
            for line in block.split('\n') {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => event.id = Some(value.to_owned()),
                    "event" => event.event = value.to_owned(),
                    "data" => {
                        if has_data {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                        has_data = true;
                    }
                    _ => {}
                }
            }
            if has_data {
                return Some(event);
            }
        }
    }

    /// Skips events until one of type `kind`.
    pub async fn next_of(&mut self, kind: &str) -> SseEvent {
        loop {
            let event = self
                .next_event()
                .await
                .unwrap_or_else(|| panic!("stream ended before a {kind} event"));
            if event.event == kind {
                return event;
            }
        }
    }
}

/// Polls `check` until it is true (bounded by the patience window).
pub async fn eventually(mut check: impl FnMut() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
