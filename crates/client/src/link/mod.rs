//! A link is one live connection over one transport, reduced to the same two queues
//! whatever the transport: JSON texts out, [`Inbound`] events in. The session above
//! never knows whether a message came in a WebSocket frame, an SSE event, a poll
//! response or a TCP frame.
//!
//! Each transport module spawns the tasks that move bytes; dropping the [`Link`] aborts
//! them, which closes the sockets.

pub(crate) mod http;
pub(crate) mod poll;
pub(crate) mod sse;
pub(crate) mod tcp;
pub(crate) mod ws;

use std::{sync::Arc, time::Duration};

use serde_json::value::RawValue;
use switchboard_protocol::{ErrorCode, ProtocolError, ServerMessage, server::Transport};
use tokio::{sync::mpsc, task::AbortHandle};

use crate::{endpoint::Endpoint, error::LinkError, wire::WireLog};

/// Texts queued for sending on one link before `send` waits: enough for a burst of
/// requests, small enough that a stalled socket is noticed.
pub(crate) const LINK_SEND_QUEUE: usize = 256;
/// Inbound events buffered between a link's reader and the session.
pub(crate) const LINK_RECV_QUEUE: usize = 1024;

/// What a link reports.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// One protocol message (JSON text).
    Text(String),
    /// Proof of life that carries no message (a WebSocket ping, an SSE comment, an
    /// empty poll response).
    Activity,
    /// The link is gone; nothing follows. `code` is the close code the server gave (a
    /// WebSocket close frame, a poll's `closed`, an SSE `: close` comment), if it gave one;
    /// the session decides from it whether to reconnect.
    Closed { reason: String, code: Option<u16> },
}

impl Inbound {
    /// The link broke without a close code (a socket error, an end without notice).
    pub(crate) fn lost(reason: impl Into<String>) -> Self {
        Inbound::Closed {
            reason: reason.into(),
            code: None,
        }
    }
}

/// What a transport needs to connect.
#[derive(Clone)]
pub(crate) struct LinkSettings {
    pub(crate) endpoint: Endpoint,
    /// `Some(list)`: join exactly these channels (plus `broadcast`) on connect;
    /// `None`: the server's auto-subscribe list.
    pub(crate) channels: Option<Vec<String>>,
    pub(crate) connect_timeout: Duration,
    /// Short polling asks this often when it has nothing to send.
    pub(crate) short_poll_interval: Duration,
    pub(crate) wire: Option<Arc<dyn WireLog>>,
    /// Bind sockets to this local address before connecting (`None`: any).
    pub(crate) local_addr: Option<std::net::IpAddr>,
    /// The connection token, if any (see [`crate::ClientOptions::token`]).
    pub(crate) token: Option<String>,
}

impl LinkSettings {
    /// `?channels=a,b&token=…` for transports that take both in the URL (WebSocket and
    /// SSE); empty when there is neither. A JWT is base64url and dots: nothing to escape.
    pub(crate) fn connect_query(&self) -> String {
        let mut params = Vec::new();
        if let Some(list) = &self.channels {
            params.push(format!("channels={}", list.join(",")));
        }
        if let Some(token) = &self.token {
            params.push(format!("token={token}"));
        }
        if params.is_empty() {
            String::new()
        } else {
            format!("?{}", params.join("&"))
        }
    }
}

/// One live connection.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) transport: Transport,
    /// `None` once [`Link::shutdown`] began.
    outgoing: Option<mpsc::Sender<String>>,
    incoming: mpsc::Receiver<Inbound>,
    tasks: Vec<AbortHandle>,
    closed: bool,
}

impl Link {
    /// A link whose tasks were spawned by a transport module.
    pub(crate) fn new(
        transport: Transport,
        outgoing: mpsc::Sender<String>,
        incoming: mpsc::Receiver<Inbound>,
        tasks: Vec<AbortHandle>,
    ) -> Self {
        Self {
            transport,
            outgoing: Some(outgoing),
            incoming,
            tasks,
            closed: false,
        }
    }

    /// Queues one message; false when the link is gone.
    pub(crate) async fn send(&self, text: String) -> bool {
        match &self.outgoing {
            Some(outgoing) => outgoing.send(text).await.is_ok(),
            None => false,
        }
    }

    /// Closes politely: the transport's writer sees the end of its queue and says goodbye
    /// (a WebSocket close frame, a TCP FIN, `POST /poll/close` for a polling session);
    /// waits at most `within`, then drops the link.
    pub(crate) async fn shutdown(mut self, within: Duration) {
        self.outgoing = None;
        // SSE has no goodbye message: closing its stream's socket (on drop) is it.
        if self.transport == Transport::Sse {
            return;
        }
        let _ = tokio::time::timeout(within, async {
            while !matches!(self.recv().await, Inbound::Closed { .. }) {}
        })
        .await;
    }

    /// The next inbound event; `Closed` once (and forever after) the link is gone.
    pub(crate) async fn recv(&mut self) -> Inbound {
        if self.closed {
            return std::future::pending().await;
        }
        match self.incoming.recv().await {
            Some(closed @ Inbound::Closed { .. }) => {
                self.closed = true;
                closed
            }
            Some(event) => event,
            None => {
                self.closed = true;
                Inbound::lost("link closed")
            }
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A queued text as the raw JSON an HTTP envelope carries. Text that is not JSON (only
/// [`crate::Client::send_raw`] can queue it) cannot be wrapped: it is answered here with
/// the `error` 100 the server gives a body that is not JSON, handed up as `Err`.
pub(crate) fn envelope_message(text: String) -> Result<Box<RawValue>, String> {
    RawValue::from_string(text).map_err(|e| {
        let refusal = ProtocolError::new(ErrorCode::InvalidJson, format!("malformed JSON: {e}"));
        ServerMessage::from_error(&refusal).to_json()
    })
}

/// Connects one transport.
pub(crate) async fn connect(
    transport: Transport,
    settings: &LinkSettings,
) -> Result<Link, LinkError> {
    match transport {
        Transport::Websocket => ws::connect(settings).await,
        Transport::Tcp => tcp::connect(settings).await,
        Transport::Sse => sse::connect(settings).await,
        Transport::LongPoll => poll::connect(settings, poll::Mode::Long).await,
        Transport::ShortPoll => poll::connect(settings, poll::Mode::Short).await,
    }
}

/// Connects a TCP socket within the connect timeout.
pub(crate) async fn tcp_connect(
    settings: &LinkSettings,
) -> Result<tokio::net::TcpStream, LinkError> {
    let authority = settings.endpoint.authority();
    let stream = tokio::time::timeout(
        settings.connect_timeout,
        connect_from(settings.local_addr, authority.as_str()),
    )
    .await
    .map_err(|_| LinkError::Timeout(settings.connect_timeout))?
    .map_err(|e| LinkError::Io(format!("connect {authority}: {e}")))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Connects to `authority`, from `local` when given (to the first resolved address of
/// the same family).
async fn connect_from(
    local: Option<std::net::IpAddr>,
    authority: &str,
) -> std::io::Result<tokio::net::TcpStream> {
    let Some(local) = local else {
        return tokio::net::TcpStream::connect(authority).await;
    };
    let remote = tokio::net::lookup_host(authority)
        .await?
        .find(|remote| remote.is_ipv4() == local.is_ipv4())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("no address of {authority} matches the local address {local}"),
            )
        })?;
    let socket = if local.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.bind(std::net::SocketAddr::new(local, 0))?;
    socket.connect(remote).await
}
