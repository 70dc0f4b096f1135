//! A raw WebSocket peer over a plain `TcpStream`: a hand-written RFC 6455 handshake and
//! frame codec, so tests can send what no well-behaved library would (unmasked frames,
//! reserved opcodes, invalid UTF-8) and read exactly the bytes the server sends back.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::PATIENCE;

/// The RFC 6455 example key, whose accept value is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
pub const EXAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const EXAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// One frame as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// The close code of a close frame.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == OP_CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).expect("UTF-8 payload")
    }
}

/// A client frame: FIN set, masked with `mask` (or unmasked when `None`).
pub fn client_frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(mask) => {
            out.extend_from_slice(&mask);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A masked client text frame (the normal case), with a fixed mask for reproducible bytes.
pub fn masked_text(text: &str) -> Vec<u8> {
    client_frame(OP_TEXT, text.as_bytes(), Some([0x37, 0xfa, 0x21, 0x3d]))
}

pub struct RawWs {
    pub stream: TcpStream,
    /// The server's handshake response head.
    pub response: String,
    buffer: Vec<u8>,
}

impl RawWs {
    /// Connects and performs the opening handshake on `path`.
    pub async fn connect(addr: SocketAddr, path: &str) -> Self {
        let mut stream = TcpStream::connect(addr).await.expect("tcp connects");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {EXAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        let head_end = loop {
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
                .await
                .expect("handshake answer in time")
                .expect("read");
            assert!(n > 0, "server closed during the handshake");
            raw.extend_from_slice(&chunk[..n]);
        };
        let response = String::from_utf8(raw[..head_end].to_vec()).expect("UTF-8 head");
        assert!(
            response.starts_with("HTTP/1.1 101"),
            "expected 101, got {response}"
        );
        assert!(response.contains(EXAMPLE_ACCEPT), "{response}");
        Self {
            stream,
            response,
            buffer: raw[head_end..].to_vec(),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    pub async fn send_text(&mut self, text: &str) {
        self.write(&masked_text(text)).await;
    }

    async fn fill(&mut self, want: usize) -> bool {
        while self.buffer.len() < want {
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk))
                .await
                .expect("a frame within the patience window")
            {
                Ok(0) | Err(_) => return false,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
        true
    }

    /// The next frame from the server, or `None` once the connection ended.
    pub async fn read_frame(&mut self) -> Option<RawFrame> {
        if !self.fill(2).await {
            return None;
        }
        let (b0, b1) = (self.buffer[0], self.buffer[1]);
        assert_eq!(b1 & 0x80, 0, "server frames must not be masked");
        let (len, header) = match b1 & 0x7F {
            126 => {
                self.fill(4).await;
                (
                    u16::from_be_bytes([self.buffer[2], self.buffer[3]]) as usize,
                    4,
                )
            }
            127 => {
                self.fill(10).await;
                let mut len = [0u8; 8];
                len.copy_from_slice(&self.buffer[2..10]);
                (u64::from_be_bytes(len) as usize, 10)
            }
            n => (n as usize, 2),
        };
        if !self.fill(header + len).await {
            return None;
        }
        let payload = self.buffer[header..header + len].to_vec();
        self.buffer.drain(..header + len);
        Some(RawFrame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0F,
            payload,
        })
    }

    /// The next text frame's JSON (skipping pings).
    pub async fn read_json(&mut self) -> serde_json::Value {
        loop {
            let frame = self.read_frame().await.expect("connection open");
            match frame.opcode {
                OP_TEXT => return serde_json::from_slice(&frame.payload).expect("JSON"),
                OP_PING | OP_PONG => continue,
                other => panic!("unexpected frame opcode {other}: {frame:?}"),
            }
        }
    }

    /// Reads until a close frame arrives; returns its code (`None` if the socket just ended).
    pub async fn read_close_code(&mut self) -> Option<u16> {
        while let Some(frame) = self.read_frame().await {
            if frame.opcode == OP_CLOSE {
                return frame.close_code();
            }
        }
        None
    }
}
