//! `--show-wire`: the raw bytes each transport exchanges, rendered for people.
//!
//! [`Tap`] wraps a socket and reports every byte read or written while it is switched on
//! (HTTP request and response heads, chunked SSE bodies, the WebSocket handshake). After
//! a WebSocket upgrade the tap is switched off and frames are reported one by one with
//! their header fields; tungstenite does not expose the header bytes it writes, so those
//! are reconstructed from the message (FIN, opcode, MASK, payload length) and say so.
//!
//! Separately from the rendering, a [`WireLog`] may count: [`WireLog::counted`] hears
//! every byte read or written on every transport (WebSocket frames after the upgrade
//! too, exactly as they crossed the socket), and the HTTP links report each request
//! written and each response head read. The defaults ignore them, so `--show-wire`
//! is unchanged; the academy's protocol comparison measures with them.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    Sent,
    /// Server to client.
    Received,
}

impl Direction {
    /// The prefix `--show-wire` puts before each line: `>>` sent, `<<` received.
    pub const fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => ">>",
            Direction::Received => "<<",
        }
    }
}

/// Receives wire traffic. Called on the connection's task: keep it quick.
pub trait WireLog: Send + Sync {
    /// `text` is a human rendering of bytes that went `direction` (may span lines).
    fn log(&self, direction: Direction, text: &str);

    /// The exact bytes of one read or write on the socket, on every transport, whether
    /// or not the rendering is on (after a WebSocket upgrade, say). Ignored by default.
    fn counted(&self, _direction: Direction, _bytes: &[u8]) {}

    /// The first bytes of an HTTP request were written (SSE and polling links).
    /// Ignored by default.
    fn request_sent(&self) {}

    /// An HTTP response head was read (its bytes were already [`WireLog::counted`]).
    /// Ignored by default.
    fn response_received(&self) {}

    /// A socket write is starting (`true`) or has returned (`false`, its bytes already
    /// [`WireLog::counted`]). The peer may answer a write before the writer counts it,
    /// so a meter that must count a request before its reply waits for writes to
    /// return. Ignored by default.
    fn writing(&self, _started: bool) {}
}

/// Prints every exchange to standard error, one `>>` / `<<` prefix per line.
#[derive(Debug, Default)]
pub struct StderrWire;

impl WireLog for StderrWire {
    fn log(&self, direction: Direction, text: &str) {
        use std::io::Write;
        let mut err = std::io::stderr().lock();
        for line in text.split_inclusive('\n') {
            let _ = write!(err, "{} {}", direction.arrow(), line);
            if !line.ends_with('\n') {
                let _ = writeln!(err);
            }
        }
    }
}

/// Renders bytes as text, escaping control characters so `\r\n` and chunk sizes show.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in String::from_utf8_lossy(bytes).split_inclusive('\n') {
        for c in chunk.chars() {
            match c {
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
    }
    out
}

/// A WebSocket frame header as it goes on the wire (RFC 6455 section 5.2).
pub fn ws_frame_header(direction: Direction, opcode: u8, name: &str, len: usize) -> String {
    // Clients mask every frame; servers never do.
    let masked = direction == Direction::Sent;
    let (len_field, extended) = match len {
        0..=125 => (len, String::new()),
        126..=65535 => (126, format!(" ext_len(16)={len}")),
        _ => (127, format!(" ext_len(64)={len}")),
    };
    let byte0 = 0x80 | opcode;
    let byte1 = (u8::from(masked) << 7) | len_field as u8;
    format!(
        "[ws frame, header reconstructed] {byte0:02x} {byte1:02x}: FIN=1 opcode=0x{opcode:x} ({name}) MASK={} payload_len={len_field}{extended}{}",
        u8::from(masked),
        if masked { " +4-byte masking key" } else { "" },
    )
}

/// A socket wrapper that reports bytes to a [`WireLog`] while switched on, and counts
/// them ([`WireLog::counted`]) always.
pub struct Tap<S> {
    inner: S,
    log: Option<Arc<dyn WireLog>>,
    on: Arc<AtomicBool>,
    /// Stop reporting after the first response head (a WebSocket upgrade: what follows
    /// is binary frames, reported one by one by the link instead).
    head_only: bool,
    /// Set by an HTTP connection when it hands over a request: the next write is that
    /// request's first bytes ([`WireLog::request_sent`]).
    request_starts: Arc<AtomicBool>,
}

impl<S> Tap<S> {
    /// Wraps `inner`; with `log` `None` it is a plain pass-through.
    pub fn new(inner: S, log: Option<Arc<dyn WireLog>>) -> Self {
        Self {
            inner,
            on: Arc::new(AtomicBool::new(log.is_some())),
            log,
            head_only: false,
            request_starts: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Counts bytes ([`WireLog::counted`]) but never renders them: for links that
    /// render their own frames (raw TCP).
    pub fn counting(inner: S, log: Option<Arc<dyn WireLog>>) -> Self {
        let tap = Self::new(inner, log);
        tap.on.store(false, Ordering::Relaxed);
        tap
    }

    /// Like [`Tap::new`], reporting only up to the end of the first response head.
    pub fn head_only(inner: S, log: Option<Arc<dyn WireLog>>) -> Self {
        Self {
            head_only: true,
            ..Self::new(inner, log)
        }
    }

    /// A switch that turns reporting off (after a WebSocket upgrade, say).
    pub fn switch(&self) -> Arc<AtomicBool> {
        self.on.clone()
    }

    /// A flag to raise just before handing an HTTP request to the connection: the
    /// next write reports [`WireLog::request_sent`].
    pub fn request_marker(&self) -> Arc<AtomicBool> {
        self.request_starts.clone()
    }

    fn report(&self, direction: Direction, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let Some(log) = &self.log else {
            return;
        };
        log.counted(direction, bytes);
        if direction == Direction::Sent && self.request_starts.swap(false, Ordering::Relaxed) {
            log.request_sent();
        }
        if !self.on.load(Ordering::Relaxed) {
            return;
        }
        let mut shown = bytes;
        if self.head_only && direction == Direction::Received {
            if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                shown = &bytes[..end + 4];
                self.on.store(false, Ordering::Relaxed);
            }
        }
        log.log(direction, &escape(shown));
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.report(Direction::Received, &buf.filled()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(log) = &self.log {
            log.writing(true);
        }
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.report(Direction::Sent, &buf[..n]);
        }
        if let Some(log) = &self.log {
            log.writing(false);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_frame_headers_and_escapes() {
        let h = ws_frame_header(Direction::Sent, 1, "text", 300);
        assert!(h.contains("81 fe") && h.contains("ext_len(16)=300") && h.contains("MASK=1"));
        let h = ws_frame_header(Direction::Received, 1, "text", 5);
        assert!(h.contains("81 05") && h.contains("MASK=0"));
        assert_eq!(escape(b"GET / HTTP/1.1\r\n"), "GET / HTTP/1.1\\r\\n\n");
    }
    /// Counts what the tap hears, rendering or not.
    #[derive(Default)]
    struct Counter {
        sent: std::sync::atomic::AtomicUsize,
        received: std::sync::atomic::AtomicUsize,
        rendered: std::sync::atomic::AtomicUsize,
        requests: std::sync::atomic::AtomicUsize,
        writing: std::sync::atomic::AtomicIsize,
    }

    impl WireLog for Counter {
        fn log(&self, _direction: Direction, _text: &str) {
            self.rendered.fetch_add(1, Ordering::Relaxed);
        }
        fn counted(&self, direction: Direction, bytes: &[u8]) {
            let total = match direction {
                Direction::Sent => &self.sent,
                Direction::Received => &self.received,
            };
            total.fetch_add(bytes.len(), Ordering::Relaxed);
        }
        fn request_sent(&self) {
            self.requests.fetch_add(1, Ordering::Relaxed);
        }
        fn writing(&self, started: bool) {
            self.writing
                .fetch_add(if started { 1 } else { -1 }, Ordering::Relaxed);
        }
    }

    #[tokio::test]
    async fn counts_every_byte_after_rendering_stops() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let counter = Arc::new(Counter::default());
        let (near, mut far) = tokio::io::duplex(1024);
        let mut tap = Tap::head_only(near, Some(counter.clone() as Arc<dyn WireLog>));
        tap.request_marker().store(true, Ordering::Relaxed);
        tap.write_all(b"GET /ws HTTP/1.1\r\n\r\n").await.unwrap();
        tap.write_all(b"\x81\x80abcd").await.unwrap();
        let upgrade = b"HTTP/1.1 101 Switching\r\n\r\n\x81\x02hi";
        far.write_all(upgrade).await.unwrap();
        let mut buf = [0; 64];
        tap.read_exact(&mut buf[..upgrade.len()]).await.unwrap();
        far.write_all(b"\x81\x01!").await.unwrap();
        tap.read_exact(&mut buf[..3]).await.unwrap();
        let load = |n: &std::sync::atomic::AtomicUsize| n.load(Ordering::Relaxed);
        assert_eq!(load(&counter.sent), 20 + 6);
        assert_eq!(
            load(&counter.received),
            upgrade.len() + 3,
            "frames after the head are counted too"
        );
        assert_eq!(load(&counter.requests), 1, "one request head marked");
        assert_eq!(counter.writing.load(Ordering::Relaxed), 0);
        // Rendering: both sent writes and the head, nothing after the upgrade.
        assert_eq!(load(&counter.rendered), 3);
    }
}
