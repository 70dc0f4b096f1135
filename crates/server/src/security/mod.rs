//! Who may talk to the server: connection tokens, the session credential of the HTTP
//! transports, and the browser origins and `Host` names the server answers. `docs/security.md` is the threat
//! model behind them.
//!
//! # Layout
//! - [`auth`]: connection tokens (JWT, `--auth-*`): who a connection is, on every transport.
//! - [`session_key`]: signed session tokens, the secret an SSE or polling session's
//!   requests carry (its public `connection_id` grants nothing).
//! - [`rules`]: `--allowed-origins` and `--allowed-hosts`: parsing and matching.
//! - `guard`: the axum middleware that applies them: 403 (401 `origin_not_allowed`) for
//!   a browser request from another origin, 421 (402 `host_not_allowed`) for the
//!   dashboard under a foreign `Host`, and the CORS answers of the HTTP transports.

pub mod auth;
pub(crate) mod guard;
pub mod rules;
pub mod session_key;

pub use auth::{AuthConfig, AuthRefusal, Authenticated, Authenticator, Secret};
pub use rules::{HostRule, OriginRule};
pub use session_key::SessionKey;
