//! Byte-exact loopback clients for the measured comparison: a TCP stream wrapper that
//! counts every byte read and written (and keeps a bounded transcript of them), and a
//! minimal HTTP/1.1 client over it (`Content-Length` and chunked bodies), so what the
//! comparison reports is what crossed the socket, headers and framing included.
//!
//! Bounds: a transcript keeps at most [`TRANSCRIPT_BYTES`]; an HTTP head at most
//! [`MAX_HEAD_BYTES`]; a body at most [`MAX_BODY_BYTES`].

use std::{
    io,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    task::{Context, Poll},
};

use switchboard_protocol::frame::Framing;
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf,
};

/// Transcript bytes kept per stream (the wire view shows one exchange).
pub(crate) const TRANSCRIPT_BYTES: usize = 8 * 1024;
/// Largest HTTP response head accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Largest HTTP body (or chunk) accepted.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Who sent a transcript entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Sent,
    Received,
}

/// Byte counters and a bounded transcript, shared between a stream and its reader.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) read: AtomicU64,
    pub(crate) written: AtomicU64,
    transcript: Mutex<Vec<(Direction, Vec<u8>)>>,
    /// Set once the measured exchange is over: closing bytes are counted, not recorded.
    frozen: std::sync::atomic::AtomicBool,
    layout: Layout,
}

impl Tally {
    pub(crate) fn new(layout: Layout) -> Self {
        Self {
            layout,
            ..Self::default()
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.read.load(Relaxed) + self.written.load(Relaxed)
    }

    /// Forgets the transcript (counters keep running).
    pub(crate) fn clear_transcript(&self) {
        if let Ok(mut transcript) = self.transcript.lock() {
            transcript.clear();
        }
    }

    /// Stops recording (the counters keep running).
    pub(crate) fn freeze(&self) {
        self.frozen.store(true, Relaxed);
    }

    fn record(&self, direction: Direction, bytes: &[u8]) {
        if self.frozen.load(Relaxed) {
            return;
        }
        let Ok(mut transcript) = self.transcript.lock() else {
            return;
        };
        let used: usize = transcript.iter().map(|(_, b)| b.len()).sum();
        let room = TRANSCRIPT_BYTES.saturating_sub(used);
        let kept = &bytes[..bytes.len().min(room)];
        if kept.is_empty() {
            return;
        }
        match transcript.last_mut() {
            Some((last, buffer)) if *last == direction => buffer.extend_from_slice(kept),
            _ => transcript.push((direction, kept.to_vec())),
        }
    }

    /// The transcript, each entry rendered by the stream's [`Layout`].
    pub(crate) fn transcript(&self) -> Vec<(Direction, String)> {
        let Ok(transcript) = self.transcript.lock() else {
            return Vec::new();
        };
        transcript
            .iter()
            .map(|(direction, bytes)| (*direction, frames(bytes, self.layout)))
            .collect()
    }
}

/// How a transcript's bytes are shown.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum Layout {
    /// Text (HTTP, SSE): shown as is; stray control bytes as `[hex]`.
    #[default]
    Text,
    /// WebSocket frames: `[header hex]` then the payload (unmasked, said so).
    WebSocket,
    /// Length-prefixed frames: `[header hex]` then the payload.
    Tcp(Framing),
}

fn hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("[{}]", hex.join(" "))
}

/// Text as is, with control bytes other than CR, LF and tab shown as `[hex]`.
fn text(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() && !matches!(c, '\r' | '\n' | '\t') {
                out.push_str(&hex(&[c as u8]));
            } else {
                out.push(c);
            }
        }
        if !chunk.invalid().is_empty() {
            out.push_str(&hex(chunk.invalid()));
        }
    }
    out
}

/// Renders `bytes` as a sequence of frames; what does not parse is shown as text.
fn frames(mut bytes: &[u8], layout: Layout) -> String {
    let mut out = String::new();
    while !bytes.is_empty() {
        let parsed = match layout {
            Layout::WebSocket => websocket_frame(bytes),
            Layout::Tcp(framing) => tcp_frame(bytes, framing),
            Layout::Text => None,
        };
        let Some((shown, used)) = parsed else {
            out.push_str(&text(bytes));
            break;
        };
        out.push_str(&shown);
        bytes = &bytes[used..];
    }
    out
}

fn websocket_frame(bytes: &[u8]) -> Option<(String, usize)> {
    let second = *bytes.get(1)?;
    let masked = second & 0x80 != 0;
    let (length, mut at) = match second & 0x7f {
        126 => (
            u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        short => (short as usize, 2),
    };
    let mask = if masked {
        at += 4;
        Some(bytes.get(at - 4..at)?.to_vec())
    } else {
        None
    };
    let payload = bytes.get(at..at.checked_add(length)?)?;
    let shown = match mask {
        Some(mask) => {
            let clear: Vec<u8> = payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            format!(
                "{} (masked payload; unmasked:) {}\n",
                hex(&bytes[..at]),
                text(&clear)
            )
        }
        None => format!("{} {}\n", hex(&bytes[..at]), text(payload)),
    };
    Some((shown, at + length))
}

fn tcp_frame(bytes: &[u8], framing: Framing) -> Option<(String, usize)> {
    let header = bytes.get(..framing.header_len())?;
    let length: usize = match framing {
        Framing::U32 => u32::from_be_bytes(header.try_into().ok()?) as usize,
        Framing::Decimal10 => std::str::from_utf8(header).ok()?.trim().parse().ok()?,
    };
    let payload = bytes.get(header.len()..header.len().checked_add(length)?)?;
    Some((
        format!("{}{}\n", hex(header), text(payload)),
        header.len() + length,
    ))
}

/// A stream that counts and records what passes through it.
pub(crate) struct Counted<S> {
    inner: S,
    tally: Arc<Tally>,
}

impl<S> Counted<S> {
    pub(crate) fn new(inner: S, tally: Arc<Tally>) -> Self {
        Self { inner, tally }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        let fresh = &buf.filled()[before..];
        this.tally.read.fetch_add(fresh.len() as u64, Relaxed);
        this.tally.record(Direction::Received, fresh);
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = result {
            this.tally.written.fetch_add(written as u64, Relaxed);
            this.tally.record(Direction::Sent, &buf[..written]);
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// An HTTP/1.1 keep-alive connection over a counted stream.
pub(crate) struct HttpConnection<S> {
    stream: BufReader<Counted<S>>,
    host: String,
}

/// A response head: status and whether the body is chunked or sized.
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    chunked: bool,
    length: Option<usize>,
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

impl<S: AsyncRead + AsyncWrite + Unpin> HttpConnection<S> {
    pub(crate) fn new(stream: Counted<S>, host: String) -> Self {
        Self {
            stream: BufReader::new(stream),
            host,
        }
    }

    /// Sends a request (a JSON body when given) and reads the response head.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&str>,
    ) -> io::Result<ResponseHead> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(body) = json {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(json.unwrap_or(""));
        let stream = self.stream.get_mut();
        stream.write_all(request.as_bytes()).await?;
        stream.flush().await?;
        self.read_head().await
    }

    async fn read_head(&mut self) -> io::Result<ResponseHead> {
        let mut head = ResponseHead {
            status: 0,
            chunked: false,
            length: None,
        };
        let mut line = String::new();
        let mut total = 0;
        loop {
            line.clear();
            let read = self.stream.read_line(&mut line).await?;
            total += read;
            if read == 0 || total > MAX_HEAD_BYTES {
                return Err(invalid("response head ended early or is too large"));
            }
            let trimmed = line.trim_end();
            if head.status == 0 {
                head.status = trimmed
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| invalid(format!("bad status line {trimmed:?}")))?;
                continue;
            }
            if trimmed.is_empty() {
                return Ok(head);
            }
            let (name, value) = trimmed.split_once(':').unwrap_or((trimmed, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => head.length = value.trim().parse().ok(),
                "transfer-encoding" => {
                    head.chunked = value.to_ascii_lowercase().contains("chunked")
                }
                _ => {}
            }
        }
    }

    /// Reads a whole sized body (empty when none).
    pub(crate) async fn body(&mut self, head: &ResponseHead) -> io::Result<Vec<u8>> {
        if head.chunked {
            let mut body = Vec::new();
            while let Some(chunk) = self.chunk().await? {
                body.extend_from_slice(&chunk);
            }
            return Ok(body);
        }
        let length = head.length.unwrap_or(0);
        if length > MAX_BODY_BYTES {
            return Err(invalid("body too large"));
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok(body)
    }

    /// The next chunk of a chunked body; `None` after the last.
    pub(crate) async fn chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut line = String::new();
        self.stream.read_line(&mut line).await?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size > MAX_BODY_BYTES {
            return Err(invalid("chunk too large"));
        }
        let mut chunk = vec![0; size + 2];
        self.stream.read_exact(&mut chunk).await?;
        chunk.truncate(size);
        Ok((size > 0).then_some(chunk))
    }
}
