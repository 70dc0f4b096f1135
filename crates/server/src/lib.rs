//! switchboard's network side: listeners, the HTTP app and one module per transport,
//! each adapting its connections to the [`Hub`](switchboard_hub::Hub).
//!
//! # Layout
//! - [`config`]: every limit and interval, per transport, with its default.
//! - [`server`]: [`Server::start`] binds the listeners; [`Server::shutdown`] stops them gracefully.
//! - [`app`]: the HTTP routes.
//! - [`api`]: `GET /healthz` and `GET /api/stats`.
//! - [`feeds`]: server-side publishers (`clock`, ...) into read-only channels.
//! - [`transports`]: `ws` (the hub over WebSocket), `echo` (a bare WebSocket echo),
//!   and the other transports.

pub mod api;
pub mod app;
pub mod config;
pub mod feeds;
pub mod server;
pub mod transports;

pub use config::{ServerConfig, WsConfig};
pub use server::{Server, ServerError};
