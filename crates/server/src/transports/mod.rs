//! One module per transport. Each adapts its kind of connection to the hub: it reads
//! client messages into [`Hub::handle_text`](switchboard_hub::Hub::handle_text) and writes
//! the connection's outbox to the wire in its own framing. None of them knows about
//! channels, sequence numbers or history.
//!
//! The streaming transports (`ws`, `echo`, `sse`, `tcp`) share one `lifecycle` module: opening,
//! heartbeats and idle culling from one ticker, write timeouts, the close notice, the
//! linger and the end reason. [`routes`] mounts the HTTP transports and starts that
//! ticker, so no router can be built without it.

mod connect_auth;
mod credential;
pub mod echo;
pub(crate) mod http_error;
pub(crate) mod json_body;
pub(crate) mod lifecycle;
pub mod poll;
pub mod sse;
pub(crate) mod tcp;
pub(crate) mod upgrade;
pub mod ws;

mod channel_list;
mod websocket;

use axum::{
    Router,
    extract::{Request, State},
    routing::{get, post},
};

use crate::app::AppState;

/// The HTTP transports' routes (`/ws`, `/ws/echo`, `/sse`, `/sse/message`, the polling
/// endpoints), with the background tasks they need on `state.tasks`: the heartbeat
/// ticker and the polling sessions' reaper. Both stop on `state.shutdown`.
pub fn routes(state: &AppState) -> Router<AppState> {
    let ticks = lifecycle::ticker::spawn(&state.hub, &state.config, &state.tasks, &state.shutdown);
    Router::new()
        .route("/ws", get(ws::handler))
        .route(
            "/ws/echo",
            get(move |State(state): State<AppState>, request: Request| {
                let ticks = ticks.clone();
                async move { echo::handler(&state, ticks, request) }
            }),
        )
        .route("/sse", get(sse::handler))
        .route("/sse/message", post(sse::message_handler))
        .merge(poll::router(state))
}
