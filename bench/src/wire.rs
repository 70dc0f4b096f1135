//! A minimal WebSocket client for load generation: the opening handshake, a frame reader
//! and a masked text-frame writer, over a plain `TcpStream`.
//!
//! Why not a full WebSocket library: the load generator shares two cores with the server
//! it measures, so every cycle it spends decoding frames is a cycle the server does not
//! get. This client parses frame headers in place in one reusable buffer and hands out
//! payload slices without copying or validating UTF-8 (the server is trusted here; the
//! conformance suites test it elsewhere).
//!
//! Guarantees and limits:
//! - Reads are buffered in one `Vec` per connection, [`READ_BUFFER`] bytes to start; it
//!   grows only to hold a frame larger than that, up to [`MAX_FRAME`] (larger is an error).
//! - Server frames must be unmasked and unfragmented (both `switchboard` and Node's `ws`
//!   send small messages as single frames); anything else is reported as an error.
//! - Ping frames are answered with pong frames, so heartbeats never cull a bench client.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::BenchError;

/// Initial read buffer per connection: room for a few hundred small deliveries per read.
pub const READ_BUFFER: usize = 16 * 1024;
/// The largest server frame accepted (the bench only ever expects small messages).
pub const MAX_FRAME: usize = 1024 * 1024;
/// The largest handshake response accepted.
const MAX_HANDSHAKE: usize = 8 * 1024;

/// WebSocket opcode of a text frame (RFC 6455 §5.2): every hub message.
pub const OP_TEXT: u8 = 0x1;
/// WebSocket opcode of a binary frame (returned as is by [`WsConn::next_frame`]).
pub const OP_BINARY: u8 = 0x2;
/// WebSocket opcode of a close frame: [`WsConn::next_frame`] reports it as `Ok(None)`.
pub const OP_CLOSE: u8 = 0x8;
/// WebSocket opcode of a ping: [`WsConn::next_frame`] answers it with a pong itself.
pub const OP_PING: u8 = 0x9;
/// WebSocket opcode of a pong: [`WsConn::next_frame`] skips it.
pub const OP_PONG: u8 = 0xA;

/// One client connection, after a successful handshake.
pub struct WsConn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    mask_state: u32,
}

impl WsConn {
    /// Connects to `ws://addr{path}` and completes the opening handshake.
    pub async fn connect(addr: SocketAddr, path: &str) -> Result<Self, BenchError> {
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        // A fixed key is valid for the server (it only hashes it); the bench does not
        // check the accept value because it talks only to servers it started itself.
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut buf = vec![0u8; READ_BUFFER];
        let mut end = 0;
        let header_end = loop {
            if let Some(pos) = find(&buf[..end], b"\r\n\r\n") {
                break pos + 4;
            }
            if end >= MAX_HANDSHAKE {
                return Err(BenchError::Handshake("response header too long".into()));
            }
            let n = stream.read(&mut buf[end..]).await?;
            if n == 0 {
                return Err(BenchError::Handshake(
                    "connection closed during handshake".into(),
                ));
            }
            end += n;
        };
        let status_line = buf[..header_end]
            .split(|b| *b == b'\r')
            .next()
            .unwrap_or(&[]);
        if !status_line.starts_with(b"HTTP/1.1 101") {
            return Err(BenchError::Handshake(
                String::from_utf8_lossy(status_line).into_owned(),
            ));
        }
        let port = addr.port() as u32;
        Ok(Self {
            stream,
            buf,
            start: header_end,
            end,
            mask_state: 0x9E37_79B9 ^ port,
        })
    }

    /// Returns the next data frame as `(opcode, payload)`, answering pings on the way.
    /// `Ok(None)` means the server closed the connection (close frame or EOF).
    pub async fn next_frame(&mut self) -> Result<Option<(u8, &[u8])>, BenchError> {
        loop {
            match parse_header(&self.buf[self.start..self.end])? {
                Some((opcode, header_len, payload_len)) => {
                    let from = self.start + header_len;
                    let to = from + payload_len;
                    self.start = to;
                    match opcode {
                        OP_PING => {
                            let payload = self.buf[from..to].to_vec();
                            self.send_frame(OP_PONG, &payload).await?;
                        }
                        OP_PONG => {}
                        OP_CLOSE => return Ok(None),
                        _ => return Ok(Some((opcode, &self.buf[from..to]))),
                    }
                }
                None => {
                    if !self.fill().await? {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Reads more bytes, compacting or growing the buffer first; false on EOF.
    async fn fill(&mut self) -> Result<bool, BenchError> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // A single frame larger than the buffer: grow (bounded by MAX_FRAME in parse).
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n > 0)
    }

    /// Sends one text frame.
    pub async fn send_text(&mut self, payload: &[u8]) -> Result<(), BenchError> {
        self.send_frame(OP_TEXT, payload).await
    }

    /// Sends one frame (masked, as RFC 6455 requires of clients).
    pub async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), BenchError> {
        let mut out = Vec::with_capacity(payload.len() + 14);
        self.encode_frame(&mut out, opcode, payload);
        self.stream.write_all(&out).await?;
        Ok(())
    }

    /// Appends one masked frame to `out`, so a caller can batch many into one write.
    pub fn encode_frame(&mut self, out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
        // xorshift: masks only need to be unpredictable to intermediaries, not secure.
        self.mask_state ^= self.mask_state << 13;
        self.mask_state ^= self.mask_state >> 17;
        self.mask_state ^= self.mask_state << 5;
        encode_masked(out, opcode, payload, self.mask_state.to_be_bytes());
    }

    /// Writes bytes built with [`WsConn::encode_frame`].
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), BenchError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// Gives up the read buffer and keeps only the socket (for idle connections).
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }
}

/// Appends a masked client frame.
pub fn encode_masked(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
}

/// Parses a server frame header: `(opcode, header_len, payload_len)` once the whole frame
/// is buffered, `None` while more bytes are needed.
fn parse_header(bytes: &[u8]) -> Result<Option<(u8, usize, usize)>, BenchError> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (bytes[0], bytes[1]);
    if b0 & 0x80 == 0 || b0 & 0x0F == 0 {
        return Err(BenchError::Frame("fragmented frame".into()));
    }
    if b1 & 0x80 != 0 {
        return Err(BenchError::Frame("masked server frame".into()));
    }
    let (header_len, payload_len) = match b1 & 0x7F {
        126 if bytes.len() >= 4 => (4, u16::from_be_bytes([bytes[2], bytes[3]]) as usize),
        127 if bytes.len() >= 10 => {
            let mut len = [0u8; 8];
            len.copy_from_slice(&bytes[2..10]);
            (10, u64::from_be_bytes(len) as usize)
        }
        126 | 127 => return Ok(None),
        short => (2, short as usize),
    };
    if payload_len > MAX_FRAME {
        return Err(BenchError::Frame(format!("{payload_len}-byte frame")));
    }
    if bytes.len() < header_len + payload_len {
        return Ok(None);
    }
    Ok(Some((b0 & 0x0F, header_len, payload_len)))
}

/// The first position of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The unsigned integer right after the first `key` (e.g. `"seq":`) in `json`.
pub fn number_after(json: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(json, key)? + key.len();
    let digits = json[at..].iter().take_while(|b| b.is_ascii_digit());
    let mut value: u64 = 0;
    let mut any = false;
    for digit in digits {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
        any = true;
    }
    any.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_each_length_parse() {
        assert_eq!(
            parse_header(&[0x81, 3, b'a', b'b', b'c']).unwrap(),
            Some((1, 2, 3))
        );
        assert_eq!(parse_header(&[0x81, 3, b'a']).unwrap(), None);
        let mut long = vec![0x81, 126, 0x01, 0x00];
        long.resize(4 + 256, b'x');
        assert_eq!(parse_header(&long).unwrap(), Some((1, 4, 256)));
        assert!(parse_header(&[0x01, 1, b'a']).is_err(), "fragment");
        assert!(
            parse_header(&[0x81, 0x81, 0, 0, 0, 0, b'a']).is_err(),
            "masked"
        );
    }

    #[test]
    fn masked_frames_unmask_to_the_payload() {
        let mut out = Vec::new();
        encode_masked(&mut out, OP_TEXT, b"hello", [1, 2, 3, 4]);
        assert_eq!(out[..2], [0x81, 0x85]);
        let unmasked: Vec<u8> = out[6..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ out[2 + (i & 3)])
            .collect();
        assert_eq!(unmasked, b"hello");
    }

    #[test]
    fn numbers_are_found_after_keys() {
        let json = br#"{"type":"message","seq":42,"data":{"i":7,"t":123}}"#;
        assert_eq!(number_after(json, b"\"seq\":"), Some(42));
        assert_eq!(number_after(json, b"\"i\":"), Some(7));
        assert_eq!(number_after(json, b"\"t\":"), Some(123));
        assert_eq!(number_after(json, b"\"nope\":"), None);
    }
}
