//! A TCP proxy for tests, in front of a real server. It can cut every open connection
//! (a network drop), freeze them (a silent, half-dead path), refuse WebSocket upgrades
//! (a proxy that strips `Upgrade`) and hold back the responses of streaming endpoints
//! (`/sse`), as buffering proxies do.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use parking_lot::Mutex;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

#[derive(Default)]
struct Flags {
    refuse_websocket: AtomicBool,
    hold_streams: AtomicBool,
}

struct Open {
    tasks: Vec<AbortHandle>,
    frozen: Arc<AtomicBool>,
}

pub struct Proxy {
    pub addr: SocketAddr,
    flags: Arc<Flags>,
    open: Arc<Mutex<Vec<Open>>>,
    accept: AbortHandle,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flags = Arc::new(Flags::default());
        let open: Arc<Mutex<Vec<Open>>> = Arc::default();
        let (flags2, open2) = (flags.clone(), open.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let frozen = Arc::new(AtomicBool::new(false));
                let flags = flags2.clone();
                let f = frozen.clone();
                let task = tokio::spawn(async move {
                    let _ = serve(client, target, flags, f).await;
                });
                open2.lock().push(Open {
                    tasks: vec![task.abort_handle()],
                    frozen,
                });
            }
        })
        .abort_handle();
        Self {
            addr,
            flags,
            open,
            accept,
        }
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every open connection (new ones still pass).
    pub fn cut(&self) {
        for open in self.open.lock().drain(..) {
            for task in open.tasks {
                task.abort();
            }
        }
    }

    /// Stops forwarding on every open connection without closing it.
    pub fn freeze(&self) {
        for open in self.open.lock().iter() {
            open.frozen.store(true, Ordering::Relaxed);
        }
    }

    pub fn refuse_websocket(&self, on: bool) {
        self.flags.refuse_websocket.store(on, Ordering::Relaxed);
    }

    pub fn hold_streams(&self, on: bool) {
        self.flags.hold_streams.store(on, Ordering::Relaxed);
    }
}

async fn serve(
    mut client: TcpStream,
    target: SocketAddr,
    flags: Arc<Flags>,
    frozen: Arc<AtomicBool>,
) -> std::io::Result<()> {
    // Read the first request head (HTTP transports), or whatever arrives first (raw TCP).
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = tokio::select! {
            n = client.read(&mut buf) => n?,
            // Raw TCP: nothing yet (the server speaks first), or a frame (the client's
            // `connect`), which starts with its length, not with an HTTP method.
            () = tokio::time::sleep(std::time::Duration::from_millis(50)),
                if !head.first().is_some_and(u8::is_ascii_uppercase) => break,
        };
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if flags.refuse_websocket.load(Ordering::Relaxed) && text.contains("upgrade: websocket") {
        client
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await?;
        return Ok(());
    }
    let hold = flags.hold_streams.load(Ordering::Relaxed) && text.starts_with("get /sse");
    let upstream = TcpStream::connect(target).await?;
    let _ = upstream.set_nodelay(true);
    let _ = client.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    upstream_write.write_all(&head).await?;
    let f = frozen.clone();
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return std::io::Result::Ok(());
            }
            if f.load(Ordering::Relaxed) {
                continue;
            }
            upstream_write.write_all(&buf[..n]).await?;
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = upstream_read.read(&mut buf).await?;
            if n == 0 {
                if frozen.load(Ordering::Relaxed) {
                    // A frozen path carries nothing, not even the server's close: the
                    // client must find out by itself that the line went silent.
                    std::future::pending::<()>().await;
                }
                return std::io::Result::Ok(());
            }
            if hold || frozen.load(Ordering::Relaxed) {
                continue;
            }
            client_write.write_all(&buf[..n]).await?;
        }
    };
    // Either side ending ends the connection, as a real proxy does.
    tokio::select! {
        r = up => r,
        r = down => r,
    }
}
