//! A minimal HTTP/1.1 client over a tapped socket (hyper's connection API), shared by
//! the SSE and polling links, so `--show-wire` shows the exact request and response
//! bytes: heads, chunk sizes and bodies.
//!
//! One [`HttpConn`] is one keep-alive TCP connection carrying one request at a time.
//! With a wire log it also reports each request written and each response head read
//! ([`WireLog::request_sent`], [`WireLog::response_received`]).
//! Response bodies read whole are bounded by [`MAX_RESPONSE_BODY`].

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Method, Request, Response, StatusCode,
    body::Incoming,
    client::conn::http1::{self, SendRequest},
    header,
};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use hyper_util::rt::TokioIo;
use tokio::task::AbortHandle;

use super::{LinkSettings, tcp_connect};
use crate::{
    error::LinkError,
    wire::{Tap, WireLog},
};

/// The largest response body read whole (a poll response holds at most the server's
/// batch of messages; this leaves ample room while bounding memory).
pub(crate) const MAX_RESPONSE_BODY: usize = 64 * 1024 * 1024;

/// One HTTP/1.1 connection.
pub(crate) struct HttpConn {
    sender: SendRequest<Full<Bytes>>,
    task: AbortHandle,
    authority: String,
    wire: Option<Arc<dyn WireLog>>,
    /// Raised before each request so the tap reports its first written bytes.
    request_marker: Arc<AtomicBool>,
}

impl Drop for HttpConn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpConn {
    pub(crate) async fn open(settings: &LinkSettings) -> Result<Self, LinkError> {
        let stream = tcp_connect(settings).await?;
        let tap = Tap::new(stream, settings.wire.clone());
        let request_marker = tap.request_marker();
        let io = TokioIo::new(tap);
        let handshake = http1::handshake::<_, Full<Bytes>>(io);
        let (sender, connection) = tokio::time::timeout(settings.connect_timeout, handshake)
            .await
            .map_err(|_| LinkError::Timeout(settings.connect_timeout))?
            .map_err(|e| LinkError::Io(format!("HTTP handshake: {e}")))?;
        let task = tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "HTTP connection ended");
            }
        });
        Ok(Self {
            sender,
            task: task.abort_handle(),
            authority: settings.endpoint.authority(),
            wire: settings.wire.clone(),
            request_marker,
        })
    }

    /// Sends one request (`body` as JSON when given) and returns the response head + body.
    pub(crate) async fn send(
        &mut self,
        method: Method,
        path_and_query: &str,
        accept: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response<Incoming>, LinkError> {
        self.send_with_bearer(method, path_and_query, accept, body, None)
            .await
    }

    /// As [`HttpConn::send`], with `Authorization: Bearer <token>` when one is given (the
    /// request that opens a polling session).
    pub(crate) async fn send_with_bearer(
        &mut self,
        method: Method,
        path_and_query: &str,
        accept: &str,
        body: Option<Vec<u8>>,
        bearer: Option<&str>,
    ) -> Result<Response<Incoming>, LinkError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(header::HOST, &self.authority)
            .header(header::ACCEPT, accept)
            .header(header::USER_AGENT, "switchboard-client");
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(token) = bearer {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| LinkError::Protocol(format!("building a request: {e}")))?;
        self.sender
            .ready()
            .await
            .map_err(|e| LinkError::Io(format!("HTTP connection: {e}")))?;
        self.request_marker.store(true, Ordering::Relaxed);
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| LinkError::Io(format!("HTTP request: {e}")))?;
        if let Some(wire) = &self.wire {
            wire.response_received();
        }
        Ok(response)
    }
}

/// Reads a whole response body (bounded).
pub(crate) async fn read_body(response: Response<Incoming>) -> Result<Bytes, LinkError> {
    let limited = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BODY);
    limited
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| LinkError::Io(format!("reading the response body: {e}")))
}

/// `HTTP 503: {"type":"error",...}`: a refused response, for error messages.
pub(crate) async fn refusal(response: Response<Incoming>) -> LinkError {
    let status: StatusCode = response.status();
    let body = read_body(response).await.unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    LinkError::Refused(format!("HTTP {status}: {}", body.trim()))
}
