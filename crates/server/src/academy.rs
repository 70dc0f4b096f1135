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
//!   "ramp_per_s":100,"pings_per_s":1,"duration_s":30}`: starts a run that stops itself
//!   after `duration_s` (409 while one runs; 400 past the configured limits).
//! - `POST /api/simulator/stop`: stops the run; every simulated connection is closed.
//! - `POST /api/academy/compare`: the same ping workload over every transport, measured
//!   at the socket; 409 while another comparison runs.
//!
//! Who may use them: one small request makes the server open thousands of connections
//! to itself, so the three `POST` routes answer loopback callers only (the request's
//! peer address, IPv4-mapped loopback included); others get 403 with error 411
//! `local_only`. There is no admin key yet: opening them to remote callers will need
//! one. Behind a reverse proxy on the same machine every caller looks local, so block
//! these routes at the proxy or set `--simulator-max-connections 0`.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    Json, Router,
    extract::{ConnectInfo, State},
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

/// Whether a caller at `addr` may drive the simulator or the comparison: loopback
/// only (`127.0.0.0/8`, `::1`, and `::ffff:127.x.y.z` from a dual-stack listener).
fn is_local(addr: IpAddr) -> bool {
    addr.to_canonical().is_loopback()
}

/// The refusal for a caller that is not local.
fn local_only(remote: SocketAddr) -> Response {
    error_response(
        StatusCode::FORBIDDEN,
        ErrorCode::LocalOnly,
        format!(
            "the connection simulator answers loopback callers only, not {}",
            remote.ip()
        ),
    )
}

async fn run_comparison(
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    State(academy): State<Arc<Academy>>,
) -> Response {
    if !is_local(remote.ip()) {
        return local_only(remote);
    }
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
            "max_duration_s": config.max_duration_s,
            "local_only": true,
            "transports": simulator::SIMULATED_TRANSPORTS,
        },
    }))
    .into_response()
}

async fn status(State(academy): State<Arc<Academy>>) -> Response {
    Json(academy.simulator.status()).into_response()
}

async fn start(
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    State(academy): State<Arc<Academy>>,
    Json(request): Json<SimulationRequest>,
) -> Response {
    if !is_local(remote.ip()) {
        return local_only(remote);
    }
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

async fn stop(
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    State(academy): State<Arc<Academy>>,
) -> Response {
    if !is_local(remote.ip()) {
        return local_only(remote);
    }
    academy.simulator.stop().await;
    Json(academy.simulator.status()).into_response()
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use switchboard_academy::SimulatorConfig;
    use switchboard_protocol::frame::Framing;
    use tokio_util::{sync::CancellationToken, task::TaskTracker};

    use super::*;

    #[test]
    fn only_loopback_callers_are_local() {
        for local in ["127.0.0.1", "127.77.3.9", "::1", "::ffff:127.0.0.1"] {
            assert!(is_local(local.parse().unwrap()), "{local}");
        }
        for remote in [
            "10.0.0.1",
            "192.168.1.2",
            "0.0.0.0",
            "::",
            "::ffff:10.0.0.1",
            "fe80::1",
        ] {
            assert!(!is_local(remote.parse().unwrap()), "{remote}");
        }
    }

    /// The handlers themselves, called with a forged peer address (this machine may
    /// have no non-loopback address to dial from).
    #[tokio::test]
    async fn a_remote_caller_cannot_start_stop_or_compare() {
        let target = Target::loopback("127.0.0.1:9".parse().unwrap(), None, Framing::U32);
        let tasks = TaskTracker::new();
        let academy = Arc::new(Academy {
            simulator: Simulator::new(
                SimulatorConfig::default(),
                target,
                tasks.clone(),
                CancellationToken::new(),
            ),
            comparing: tokio::sync::Mutex::new(()),
        });
        let request = || SimulationRequest {
            transport: "websocket".into(),
            connections: 1,
            ramp_per_s: 1,
            pings_per_s: 0.0,
            duration_s: Some(1),
        };
        for remote in [
            SocketAddr::new(Ipv4Addr::new(203, 0, 113, 7).into(), 5000),
            SocketAddr::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(), 5000),
        ] {
            let refused = [
                start(ConnectInfo(remote), State(academy.clone()), Json(request())).await,
                stop(ConnectInfo(remote), State(academy.clone())).await,
                run_comparison(ConnectInfo(remote), State(academy.clone())).await,
            ];
            for response in refused {
                assert_eq!(response.status(), StatusCode::FORBIDDEN);
            }
            assert_eq!(academy.simulator.status()["running"], false);
        }
        // The same request from the loopback starts a run (which then fails to dial
        // port 9, and is stopped).
        let local = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 5000);
        let response = start(ConnectInfo(local), State(academy.clone()), Json(request())).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let response = stop(ConnectInfo(local), State(academy.clone())).await;
        assert_eq!(response.status(), StatusCode::OK);
        tasks.close();
        tasks.wait().await;
    }
}
