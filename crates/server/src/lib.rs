//! switchboard's network side: listeners, the HTTP app and one module per transport,
//! each adapting its connections to the [`Hub`](switchboard_hub::Hub).
//!
//! # Layout
//! - [`config`]: every limit and interval, per transport, with its default.
//! - [`server`]: [`Server::start`] binds the listeners; [`Server::shutdown`] stops them gracefully.
//! - [`edge`]: what every accepted socket goes through first: connection caps, the HTTP
//!   accept loop and its header, keep-alive, body and write timeouts.
//! - [`app`]: [`AppState`](app::AppState), what every handler shares (imports no handler).
//! - [`routes`]: the HTTP routes, each group behind its guard.
//! - [`security`]: session tokens, allowed origins and hosts, and the guard that applies them.
//! - [`api`]: `GET /healthz`, `GET /readyz` and `GET /api/stats`.
//! - [`metrics`]: `GET /metrics` in the Prometheus text format.
//! - [`web`]: the dashboard page and its scripts, embedded in the binary.
//! - [`academy`]: the dashboard's academy routes over the `switchboard-academy` crate
//!   (the connection simulator and the measured protocol comparison).
//! - [`transports`]: `ws` (the hub over WebSocket), `echo` (a bare WebSocket echo),
//!   and the other transports.

pub mod academy;
pub mod api;
pub mod app;
pub mod config;
pub mod edge;
pub mod metrics;
pub mod routes;
pub mod security;
pub mod server;
pub mod transports;
pub mod web;

pub use config::{ServerConfig, WsConfig};
pub use server::{Server, ServerError};
