//! The HTTP listener's accept loop and the life of each HTTP connection: admission,
//! hyper with the header, keep-alive, body and write timeouts, and graceful shutdown.
//!
//! Guarantees:
//! - Every accepted socket is counted against the caps ([`super::admission`]) before
//!   anything is read from it. A connection over a cap is still answered, up to
//!   [`OVER_CAP_ANSWERS`] at a time: `GET /healthz` gets its real answer (so a load
//!   balancer sees a full server as alive, not dead), anything else 503 + 302
//!   (`server_full`) or 429 + 207 (`too_many_connections`), then the socket is closed.
//!   Past that reserve a refused socket is closed unanswered. A refused connection gets
//!   [`OVER_CAP_HEADER_TIMEOUT`] for its head and no keep-alive, so the reserve turns over.
//! - A failed `accept` (out of file descriptors, say) never spins: the loop waits
//!   `ACCEPT_ERROR_BACKOFF` and logs at most once a second (the `accept` module, shared
//!   with raw TCP).
//! - Handlers see `ConnectInfo<SocketAddr>` as with `axum::serve`; sockets keep
//!   `TCP_NODELAY`; WebSocket upgrades work as before (the socket, with its slot, moves
//!   into the WebSocket session, so the connection counts until the WebSocket ends).
//! - Shutdown: the loop stops accepting when the token is cancelled, every connection
//!   is told to finish its request in flight and close (hyper's graceful shutdown), and
//!   [`serve`] returns once every HTTP connection (not the upgraded ones, which the
//!   server's tracker waits for) has ended.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::ConnectInfo,
    http::{Request, StatusCode},
    response::Response,
};
use futures_util::future::{Either, Ready, ready};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use switchboard_protocol::ErrorCode;
use tokio::{net::TcpListener, sync::Semaphore, time::Instant};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    accept::next_connection,
    admission::{Admission, Refusal},
    body::TimedBody,
    burst_log::BurstLog,
    stream::{EdgeStream, StallWatch},
    timer::HeadTimer,
};
use crate::{
    config::{ConnectionsConfig, OVER_CAP_ANSWERS},
    transports::http_error::error_response,
};

/// A connection over a cap gets this long (or the header timeout, if shorter) for its
/// request head: a health check sends its head at once, and a client that drips one
/// should not hold a place in the small reserve of answered refusals.
const OVER_CAP_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Accepts HTTP connections until `shutdown` is cancelled, then waits for them to end.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    admission: Admission,
    config: ConnectionsConfig,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    let over_cap = Arc::new(Semaphore::new(OVER_CAP_ANSWERS));
    let accept_errors = BurstLog::default();
    let refusals = BurstLog::default();
    let over_cap_config = Arc::new(ConnectionsConfig {
        http_header_timeout: config.http_header_timeout.min(OVER_CAP_HEADER_TIMEOUT),
        ..config.clone()
    });
    let config = Arc::new(config);
    loop {
        let Some((stream, remote)) =
            next_connection(&listener, &shutdown, &accept_errors, "HTTP").await
        else {
            break;
        };
        match admission.try_admit(remote.ip()) {
            Ok(slot) => {
                let stream = EdgeStream::new(stream, Some(slot));
                let service = admitted_service(router.clone(), remote, &config);
                connections.spawn(serve_connection(
                    stream,
                    service,
                    config.clone(),
                    true,
                    shutdown.clone(),
                ));
            }
            Err(refusal) => {
                if let Some(left_out) = refusals.note() {
                    tracing::warn!(%remote, ?refusal, left_out, "HTTP connection refused: at a connection cap");
                }
                let Ok(permit) = over_cap.clone().try_acquire_owned() else {
                    continue;
                };
                let stream = EdgeStream::new(stream, None);
                let service = refused_service(router.clone(), remote, refusal, &config);
                let (config, shutdown) = (over_cap_config.clone(), shutdown.clone());
                connections.spawn(async move {
                    serve_connection(stream, service, config, false, shutdown).await;
                    drop(permit);
                });
            }
        }
    }
    connections.close();
    connections.wait().await;
    tracing::debug!("HTTP listener stopped");
}

/// Adds what handlers expect from the connection (its peer's address) and the body
/// timeout to each request, then hands it to the router.
fn admitted_service(
    router: Router,
    remote: SocketAddr,
    config: &ConnectionsConfig,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future: Send + 'static,
> + Send
+ 'static {
    let inner = TowerToHyperService::new(router);
    let body_timeout = config.http_body_timeout;
    service_fn(move |request: Request<Incoming>| {
        let deadline = Instant::now() + body_timeout;
        let mut request = request.map(|body| Body::new(TimedBody::new(body, deadline)));
        request.extensions_mut().insert(ConnectInfo(remote));
        hyper::service::Service::call(&inner, request)
    })
}

/// For a connection over a cap: `/healthz` as usual, everything else refused.
fn refused_service(
    router: Router,
    remote: SocketAddr,
    refusal: Refusal,
    config: &ConnectionsConfig,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future: Send + 'static,
> + Send
+ 'static {
    let admitted = admitted_service(router, remote, config);
    service_fn(move |request: Request<Incoming>| {
        if request.uri().path() == "/healthz" {
            Either::Left(hyper::service::Service::call(&admitted, request))
        } else {
            let refused: Ready<Result<Response, Infallible>> = ready(Ok(refusal_response(refusal)));
            Either::Right(refused)
        }
    })
}

/// The answer to a request on a connection over a cap.
pub(crate) fn refusal_response(refusal: Refusal) -> Response {
    match refusal {
        Refusal::ServerFull { max } => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServerFull,
            format!("the server holds its limit of {max} connections; try again later"),
        ),
        Refusal::AddressFull { max } => error_response(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyConnections,
            format!(
                "this address holds its limit of {max} connections; close one or try again later"
            ),
        ),
    }
}

/// Serves one connection with hyper until it closes, is upgraded, stops taking its
/// responses for the write timeout, or finishes after shutdown began.
async fn serve_connection<S>(
    stream: EdgeStream,
    service: S,
    config: Arc<ConnectionsConfig>,
    keep_alive: bool,
    shutdown: CancellationToken,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(HeadTimer::new(config.http_keepalive_timeout))
        .header_read_timeout(config.http_header_timeout)
        .keep_alive(keep_alive);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let cancelled = shutdown.cancelled();
    let mut cancelled = std::pin::pin!(cancelled);
    let mut draining = false;
    let mut stall = StallWatch::new(config.http_write_timeout);
    let ended = std::future::poll_fn(|cx| {
        if !draining && cancelled.as_mut().poll(cx).is_ready() {
            connection.as_mut().graceful_shutdown();
            draining = true;
        }
        stall.before_poll();
        if let std::task::Poll::Ready(result) = connection.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(result));
        }
        stall.after_poll(cx).map(|()| None)
    })
    .await;
    match ended {
        Some(Ok(())) => {}
        Some(Err(err)) => tracing::debug!(%err, "HTTP connection ended with an error"),
        // Dropping the connection here frees its response and closes the socket.
        None => tracing::debug!(
            timeout = ?config.http_write_timeout,
            "HTTP client took none of its response within the write timeout; connection cut"
        ),
    }
}
