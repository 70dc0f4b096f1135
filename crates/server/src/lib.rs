//! switchboard's network side: listeners, the HTTP app and one module per transport,
//! each adapting its connections to the [`Hub`](switchboard_hub::Hub).
//!
//! # Layout
//! - [`config`]: every limit and interval, per transport, with its default.
//! - [`server`]: [`Server::start`] binds the listeners; [`Server::shutdown`] stops them gracefully.
//! - [`edge`]: what every accepted socket goes through first: connection caps, the HTTP
//!   accept loop and its header, keep-alive, body and write timeouts.
//! - [`app`]: [`AppState`](app::AppState), what every handler shares (imports no handler).
//! - [`routes`]: the HTTP routes.
//! - [`api`]: `GET /healthz` and `GET /api/stats`.
//! - [`feeds`]: the `switchboard-feeds` crate (clock, metrics, weather), which the server starts.
//! - [`web`]: the dashboard page and its scripts, embedded in the binary.
//! - [`academy`]: the dashboard's server side: the connection simulator.
//! - [`transports`]: `ws` (the hub over WebSocket), `echo` (a bare WebSocket echo),
//!   and the other transports.

pub mod academy;
pub mod api;
pub mod app;
pub mod config;
pub mod edge;
pub mod routes;
pub mod server;
pub mod transports;
pub mod web;

/// The feeds the server runs, re-exported so configuration paths stay short.
pub use switchboard_feeds as feeds;

pub use config::{ServerConfig, WsConfig};
pub use server::{Server, ServerError};
