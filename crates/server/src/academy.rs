//! The dashboard's academy routes: thin HTTP handlers over the `switchboard-academy`
//! crate (the connection simulator and the measured protocol comparison), which dial
//! this very server over loopback from Rust tasks, so a browser tab is never the
//! bottleneck.
//!
//! Routes:
//! - `GET /api/academy`: where the listeners are (`http_addr`, `tcp_addr`, TCP framing)
//!   and the simulator's limits.
//! - `GET /api/simulator`: the simulator's state and its per-second samples.
//! - `POST /api/simulator/start` with `{"transport":"websocket","connections":200,
//!   "ramp_per_s":100,"pings_per_s":1}`: starts a run (409 while one runs; 400 past the
//!   configured limits).
//! - `POST /api/simulator/stop`: stops the run; every simulated connection is closed.
//! - `POST /api/academy/compare`: the same ping workload over every transport, measured
//!   at the socket; 409 while another comparison runs.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use switchboard_academy::{SimulationRequest, Simulator, StartError, Target, compare, simulator};
use switchboard_protocol::ErrorCode;

use crate::{app::AppState, transports::http_error::error_response};

/// The academy's state: one simulator and one comparison at a time per server.
struct Academy {
    simulator: Simulator,
    /// Held while a comparison runs, so two never skew each other's figures.
    comparing: tokio::sync::Mutex<()>,
}

/// The academy's routes, with their state.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let target = Target::loopback(state.http_addr, state.tcp_addr, state.config.tcp.framing);
    let simulator = Simulator::new(
        state.config.simulator.clone(),
        target,
        state.tasks.clone(),
        state.shutdown.clone(),
    );
    let academy = Arc::new(Academy {
        simulator,
        comparing: tokio::sync::Mutex::new(()),
    });
    Router::new()
        .route("/api/academy", get(info))
        .route("/api/academy/compare", post(run_comparison))
        .route("/api/simulator", get(status))
        .route("/api/simulator/start", post(start))
        .route("/api/simulator/stop", post(stop))
        .with_state(academy)
}

async fn run_comparison(State(academy): State<Arc<Academy>>) -> Response {
    let Ok(_running) = academy.comparing.try_lock() else {
        return error_response(
            StatusCode::CONFLICT,
            ErrorCode::InvalidField,
            "a comparison is already running",
        );
    };
    let figures = compare::compare(academy.simulator.target()).await;
    Json(json!({"pings": compare::COMPARE_PINGS, "transports": figures})).into_response()
}

async fn info(State(academy): State<Arc<Academy>>) -> Response {
    let simulator = &academy.simulator;
    let config = simulator.config();
    let target = simulator.target();
    Json(json!({
        "http_addr": target.http.to_string(),
        "tcp_addr": target.tcp.map(|a| a.to_string()),
        "tcp_framing": target.framing.as_str(),
        "simulator": {
            "max_connections": config.max_connections,
            "max_ramp_per_s": config.max_ramp_per_s,
            "max_pings_per_s": config.max_pings_per_s,
            "transports": simulator::SIMULATED_TRANSPORTS,
        },
    }))
    .into_response()
}

async fn status(State(academy): State<Arc<Academy>>) -> Response {
    Json(academy.simulator.status()).into_response()
}

async fn start(
    State(academy): State<Arc<Academy>>,
    Json(request): Json<SimulationRequest>,
) -> Response {
    match academy.simulator.start(request) {
        Ok(status) => (StatusCode::ACCEPTED, Json(status)).into_response(),
        Err(StartError::Running) => error_response(
            StatusCode::CONFLICT,
            ErrorCode::InvalidField,
            "a simulation is already running; stop it first",
        ),
        Err(StartError::Invalid(message)) => {
            error_response(StatusCode::BAD_REQUEST, ErrorCode::InvalidField, message)
        }
    }
}

async fn stop(State(academy): State<Arc<Academy>>) -> Response {
    academy.simulator.stop().await;
    Json(academy.simulator.status()).into_response()
}
