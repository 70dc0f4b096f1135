//! Shared helpers for the integration tests: a server on 127.0.0.1 port 0 and a small
//! WebSocket test client that speaks the JSON protocol over a real socket.

#![allow(dead_code, unreachable_pub)]

pub mod raw;
pub mod tcp;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, protocol::CloseFrame},
};

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub async fn start(config: ServerConfig) -> Server {
    Server::start(config).await.expect("server starts")
}

pub async fn start_default() -> Server {
    start(ServerConfig::ephemeral()).await
}

pub struct WsClient {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub connection_id: String,
    pub welcome: Value,
}

impl WsClient {
    /// Connects to `/ws` (with an optional query) and reads the welcome message.
    pub async fn connect(server: &Server, query: &str) -> Self {
        Self::connect_at(server.http_addr(), query).await
    }

    /// Like [`WsClient::connect`], by address (for a server already moved into `shutdown`).
    pub async fn connect_at(addr: std::net::SocketAddr, query: &str) -> Self {
        let url = format!("ws://{addr}/ws{query}");
        let (socket, _) = connect_async(url).await.expect("websocket connects");
        let mut client = Self {
            socket,
            connection_id: String::new(),
            welcome: Value::Null,
        };
        let welcome = client.recv_type("welcome").await;
        client.connection_id = welcome["connection_id"]
            .as_str()
            .expect("connection_id")
            .to_owned();
        client.welcome = welcome;
        client
    }

    /// Connects and waits until the automatic subscriptions are confirmed.
    pub async fn connect_ready(server: &Server, query: &str, subscriptions: usize) -> Self {
        Self::connect_ready_at(server.http_addr(), query, subscriptions).await
    }

    pub async fn connect_ready_at(
        addr: std::net::SocketAddr,
        query: &str,
        subscriptions: usize,
    ) -> Self {
        let mut client = Self::connect_at(addr, query).await;
        for _ in 0..subscriptions {
            client.recv_type("subscribed").await;
        }
        client
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("send");
    }

    /// The next protocol message (skipping WebSocket control frames).
    pub async fn recv(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a message within the patience window")
                .expect("socket open")
                .expect("valid frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
                Message::Close(frame) => panic!("unexpected close: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Skips messages until one of `kind` arrives.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let message = self.recv().await;
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// Reads until the server closes; returns the close frame.
    pub async fn recv_close(&mut self) -> Option<CloseFrame> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("close within the patience window");
            match frame {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub async fn subscribe(&mut self, channel: &str, since: Option<u64>) -> Value {
        let mut message = json!({"type": "subscribe", "channel": channel});
        if let Some(since) = since {
            message["since"] = json!(since);
        }
        self.send(message).await;
        self.recv_type("subscribed").await
    }
}

/// Stats as the server reports them (`GET /api/stats`), read in-process.
pub fn server_stats(server: &Server) -> Value {
    serde_json::to_value(server.hub().stats()).expect("stats serialize")
}

/// Waits (bounded by [`PATIENCE`]) until `condition` holds, polling every 10 ms.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until a long poll is held on a session (named by its `session_token`, or its
/// `connection_id`: the token starts with the id): its request is parked on the
/// session's outbox, so what happens next (a message, a shutdown) reaches a held poll
/// rather than racing the request on its way in.
pub async fn poll_is_held(server: &Server, session: &str) {
    let connection_id = session.split('.').next().unwrap_or_default();
    let connection = server
        .hub()
        .connection(connection_id)
        .expect("the polling session exists");
    eventually("the long poll to be held", || {
        connection.outbox().has_waiting_consumer()
    })
    .await;
}

/// A plain HTTP/1.1 request over a fresh TCP connection; returns the status, the raw
/// head and the body. The server closes after answering (`Connection: close`).
pub async fn http_request(addr: std::net::SocketAddr, head: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("tcp connects");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw))
        .await
        .expect("response within the patience window")
        .expect("read");
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, head.to_owned(), body.to_owned())
}

/// `GET path` with `Connection: close`.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    http_request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    )
    .await
}
