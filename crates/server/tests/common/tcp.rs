//! A raw TCP test client that frames by hand (independently of the server's codec):
//! `u32` writes a 4-byte big-endian length, `decimal10` writes the length the way the
//! classic Python socket demos do, `f"{len(msg):<10}"`, then the bytes.

use std::net::SocketAddr;

use serde_json::{Value, json};
use switchboard_server::Server;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::PATIENCE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    U32,
    Decimal10,
}

impl Header {
    pub fn encode(self, payload: &[u8]) -> Vec<u8> {
        let mut frame = match self {
            Header::U32 => (payload.len() as u32).to_be_bytes().to_vec(),
            Header::Decimal10 => format!("{:<10}", payload.len()).into_bytes(),
        };
        frame.extend_from_slice(payload);
        frame
    }
}

pub struct TcpClient {
    pub stream: TcpStream,
    pub header: Header,
    pub connection_id: String,
    pub welcome: Value,
}

impl TcpClient {
    /// Connects to the server's TCP listener (u32 framing) and reads the welcome.
    pub async fn connect(server: &Server) -> Self {
        Self::connect_to(server.tcp_addr().expect("TCP enabled"), Header::U32).await
    }

    /// Connects and waits until `subscriptions` automatic subscriptions are confirmed.
    pub async fn connect_ready(server: &Server, subscriptions: usize) -> Self {
        let mut client = Self::connect(server).await;
        for _ in 0..subscriptions {
            client.recv_type("subscribed").await;
        }
        client
    }

    pub async fn connect_to(addr: SocketAddr, header: Header) -> Self {
        let stream = TcpStream::connect(addr).await.expect("TCP connects");
        Self::from_stream(stream, header).await
    }

    /// Wraps an already connected stream (e.g. one with its own socket options) and
    /// reads the welcome.
    pub async fn from_stream(stream: TcpStream, header: Header) -> Self {
        let mut client = Self {
            stream,
            header,
            connection_id: String::new(),
            welcome: Value::Null,
        };
        let welcome = client.recv().await;
        assert_eq!(welcome["type"], "welcome", "first frame: {welcome}");
        client.connection_id = welcome["connection_id"].as_str().unwrap().to_owned();
        client.welcome = welcome;
        client
    }

    pub async fn send(&mut self, message: Value) {
        self.send_payload(message.to_string().as_bytes()).await;
    }

    /// Frames `payload` with this client's header and sends it.
    pub async fn send_payload(&mut self, payload: &[u8]) {
        let frame = self.header.encode(payload);
        self.send_raw(&frame).await;
    }

    /// Sends bytes as they are, no framing.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// The next frame's payload, or `None` at end of stream.
    pub async fn recv_frame(&mut self) -> Option<Vec<u8>> {
        tokio::time::timeout(PATIENCE, self.read_frame())
            .await
            .expect("a frame within the patience window")
    }

    async fn read_frame(&mut self) -> Option<Vec<u8>> {
        let len = match self.header {
            Header::U32 => {
                let mut header = [0u8; 4];
                self.stream.read_exact(&mut header).await.ok()?;
                u32::from_be_bytes(header) as usize
            }
            Header::Decimal10 => {
                // `int(header)` in Python: surrounding spaces are fine.
                let mut header = [0u8; 10];
                self.stream.read_exact(&mut header).await.ok()?;
                let text = std::str::from_utf8(&header).expect("ASCII header");
                text.trim().parse().expect("decimal length")
            }
        };
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload).await.ok()?;
        Some(payload)
    }

    /// The next message, heartbeats included.
    pub async fn recv_any(&mut self) -> Value {
        let frame = self.recv_frame().await.expect("connection open");
        serde_json::from_slice(&frame).expect("JSON frame")
    }

    /// The next protocol message, skipping heartbeats.
    pub async fn recv(&mut self) -> Value {
        loop {
            let message = self.recv_any().await;
            if message["type"] != "heartbeat" {
                return message;
            }
        }
    }

    /// Skips messages until one of `kind` arrives.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let message = self.recv().await;
            assert_ne!(
                message["type"], "close",
                "closed while waiting for {kind}: {message}"
            );
            if message["type"] == kind {
                return message;
            }
        }
    }

    /// Reads until the `close` notice, checks the stream ends right after it, and returns it.
    pub async fn recv_close(&mut self) -> Value {
        let notice = loop {
            let message = self.recv().await;
            if message["type"] == "close" {
                break message;
            }
        };
        assert!(
            self.recv_frame().await.is_none(),
            "the close notice is the last frame"
        );
        notice
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
