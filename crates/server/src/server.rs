//! Starting and stopping: bind the listeners, serve, and shut down gracefully.
//!
//! Shutdown order: fail `/healthz` for `shutdown_drain` while still serving, stop accepting, close every connection with 1001 after flushing what
//! is queued to it, then wait (bounded by `shutdown_grace`) for connection tasks to end.
//! The raw TCP listener, its connections and the feeds run as tasks on the same tracker
//! and stop on the same token. Both listeners count their connections against the same
//! caps ([`crate::edge::admission`]); the HTTP accept loop is `crate::edge::http`.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use switchboard_hub::{Broker, Hub, stats::HubCounters};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    app::AppState,
    config::{ConfigError, ServerConfig},
    edge::{admission::Admission, http},
    routes::{operator_router, router},
    security::Authenticator,
    transports::tcp,
};

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// [`ServerConfig::validate`] refused the configuration; nothing was bound.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A listener could not bind (the port is taken, or needs privileges).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    http_addr: SocketAddr,
    tcp_addr: Option<SocketAddr>,
    prometheus_addr: Option<SocketAddr>,
    hub: Arc<Hub>,
    admission: Admission,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    http_task: JoinHandle<()>,
    grace: Duration,
    drain: Duration,
}

/// What a graceful shutdown achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// True when every connection task ended within the grace period.
    pub clean: bool,
}

impl Server {
    /// Checks the configuration ([`ServerConfig::validate`]), builds the hub over the
    /// in-memory broker, binds every enabled listener and starts serving.
    pub async fn start(config: ServerConfig) -> Result<Self, ServerError> {
        config.validate()?;
        let hub = Hub::memory(config.hub.clone());
        Self::serve(config, hub).await
    }

    /// Like [`Server::start`], over another broker; `counters` must be the ones the
    /// broker updates. The hub is built here from `config.hub`, so the server and its hub
    /// cannot be given two different sets of limits.
    pub async fn start_with_broker(
        config: ServerConfig,
        broker: Arc<dyn Broker>,
        counters: Arc<HubCounters>,
    ) -> Result<Self, ServerError> {
        config.validate()?;
        let hub = Hub::with_broker(config.hub.clone(), broker, counters);
        Self::serve(config, hub).await
    }

    /// Binds and serves; `hub` was built from `config.hub` by the caller, after validation.
    async fn serve(config: ServerConfig, hub: Arc<Hub>) -> Result<Self, ServerError> {
        let listener =
            TcpListener::bind(config.http)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.http,
                    source,
                })?;
        let http_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.http,
            source,
        })?;
        let tcp_listener = if config.tcp.enabled {
            let bound = tcp::bind(&config).await;
            Some(bound.map_err(|source| ServerError::Bind {
                addr: SocketAddr::new(config.http.ip(), config.tcp.port),
                source,
            })?)
        } else {
            None
        };
        let tcp_addr = tcp_listener.as_ref().map(|(_, addr)| *addr);
        let prometheus_listener = match config.prometheus.addr {
            Some(addr) if config.prometheus.enabled => {
                let bind_error = |source| ServerError::Bind { addr, source };
                let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
                let bound = listener.local_addr().map_err(bind_error)?;
                Some((listener, bound))
            }
            _ => None,
        };
        let prometheus_addr = prometheus_listener.as_ref().map(|(_, addr)| *addr);
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let grace = config.shutdown_grace;
        let drain = config.shutdown_drain;
        let admission = Admission::new(config.connections.max, config.connections.max_per_addr);
        let edge = config.connections.clone();
        // Validated already; built here once so no connection reads a key file.
        let auth = Arc::new(Authenticator::new(&config.security.auth)?);
        let state = AppState {
            hub: hub.clone(),
            auth: auth.clone(),
            config: Arc::new(config),
            tasks: tasks.clone(),
            shutdown: shutdown.clone(),
            http_addr,
            tcp_addr,
        };
        if let Some((listener, addr)) = tcp_listener {
            tracing::info!(tcp_addr = %addr, framing = %state.config.tcp.framing, "raw TCP listening");
            tasks.spawn(tcp::serve(
                listener,
                hub.clone(),
                state.config.clone(),
                auth,
                admission.clone(),
                tasks.clone(),
                shutdown.clone(),
            ));
        }
        let feeds = switchboard_feeds::FeedsConfig {
            clock: &state.config.clock,
            metrics: &state.config.metrics,
            weather: &state.config.weather,
        };
        switchboard_feeds::spawn_all(&hub, feeds, &tasks, &shutdown);
        if let Some((listener, addr)) = prometheus_listener {
            tracing::info!(prometheus_addr = %addr, "/metrics listening");
            // Plain axum: a scrape is one short request from a known client, so the main
            // listener's caps and timeouts are not needed here.
            let app = operator_router(state.clone());
            let stop = shutdown.clone();
            tasks.spawn(async move {
                let served = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await;
                if let Err(err) = served {
                    tracing::warn!(%err, "the /metrics listener failed");
                }
            });
        }
        let app = router(state);
        let http_task = tokio::spawn(http::serve(
            listener,
            app,
            admission.clone(),
            edge,
            shutdown.clone(),
        ));
        tracing::info!(%http_addr, epoch = hub.epoch(), "switchboard listening");
        Ok(Self {
            http_addr,
            tcp_addr,
            prometheus_addr,
            hub,
            admission,
            shutdown,
            tasks,
            http_task,
            grace,
            drain,
        })
    }

    /// Where the HTTP listener is bound: the configured address, with the port the
    /// system picked when it was 0.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where the raw TCP listener is bound; `None` when TCP is turned off.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// Where `/metrics` has a listener of its own (`--prometheus-addr`); `None` when it
    /// is served on the HTTP port or not at all.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.prometheus_addr
    }

    /// The hub every transport feeds (for stats, feeds and tests that publish directly).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The connection caps' counts: connections open now, on every listener.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// A token that starts graceful shutdown when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> ShutdownReport {
        self.shutdown.cancelled().await;
        self.shutdown().await
    }

    /// Stops accepting, closes every connection with 1001 and waits (bounded) for them.
    pub async fn shutdown(self) -> ShutdownReport {
        if !self.drain.is_zero() {
            tracing::info!(drain = ?self.drain, "draining: /healthz fails, still serving");
            self.hub.begin_drain();
            tokio::time::sleep(self.drain).await;
        }
        tracing::info!("shutting down");
        self.shutdown.cancel();
        self.hub.shutdown();
        self.tasks.close();
        let deadline = tokio::time::Instant::now() + self.grace;
        let connections_done = tokio::time::timeout_at(deadline, self.tasks.wait())
            .await
            .is_ok();
        let http_done = tokio::time::timeout_at(deadline, self.http_task)
            .await
            .is_ok();
        let clean = connections_done && http_done;
        if clean {
            tracing::info!("shutdown complete");
        } else {
            tracing::warn!(grace = ?self.grace, "shutdown grace period over; dropping remaining connections");
        }
        ShutdownReport { clean }
    }
}
