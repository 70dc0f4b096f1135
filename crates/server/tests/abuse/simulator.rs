//! Finding 7: the connection simulator is no longer an amplifier for anyone. Every
//! number of a start request is checked (the `5e-324` ping rate that panicked every
//! simulated client is refused, and the smallest accepted rate runs cleanly), a run
//! stops itself after `duration_s`, and a long-poll run takes none of `127.0.0.1`'s
//! polling-session quota (its clients come from their own loopback addresses).
//! Loopback-only access is tested in `crates/server/src/academy.rs` with a forged peer.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};

use crate::{
    common::{eventually, start},
    http::post_json,
};

async fn api(server: &Server, path: &str, body: Option<Value>) -> (u16, Value) {
    let addr = server.http_addr();
    let response = match body {
        Some(body) => post_json(addr, path, &body).await,
        None => {
            let (status, _, body) = crate::common::http_get(addr, path).await;
            return (status, serde_json::from_str(&body).unwrap());
        }
    };
    (response.status, response.json())
}

async fn simulator_status(server: &Server) -> Value {
    api(server, "/api/simulator", None).await.1
}

#[tokio::test]
async fn every_number_is_checked_before_a_run_starts() {
    let mut config = ServerConfig::ephemeral();
    config.simulator.max_connections = 10;
    config.simulator.max_duration_s = 30;
    let server = start(config).await;
    for bad in [
        // Was accepted, and every simulated client task panicked on its ping interval.
        json!({"transport": "websocket", "connections": 3, "pings_per_s": 5e-324}),
        json!({"transport": "websocket", "connections": 3, "pings_per_s": 1e-300}),
        json!({"transport": "websocket", "connections": 3, "pings_per_s": 0.001}),
        json!({"transport": "websocket", "connections": 3, "pings_per_s": -1.0}),
        json!({"transport": "websocket", "connections": 3, "pings_per_s": 1e308}),
        json!({"transport": "websocket", "connections": 3, "duration_s": 0}),
        json!({"transport": "websocket", "connections": 3, "duration_s": 31}),
    ] {
        let (status, body) = api(&server, "/api/simulator/start", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert_eq!(body["code"], 103, "{body}");
    }
    // The smallest accepted rate runs: every client connects, none fails.
    let slowest = json!({"transport": "websocket", "connections": 3, "pings_per_s": 0.01});
    assert_eq!(
        api(&server, "/api/simulator/start", Some(slowest)).await.0,
        202
    );
    let mut connected = false;
    for _ in 0..100 {
        let status = simulator_status(&server).await;
        assert_eq!(status["failed"], 0, "{status}");
        if status["connected"] == 3 {
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(connected, "{}", simulator_status(&server).await);
    api(&server, "/api/simulator/stop", Some(json!({}))).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_run_stops_itself_after_its_duration() {
    let mut config = ServerConfig::ephemeral();
    config.simulator.max_connections = 10;
    let server = start(config).await;
    let request = json!({"transport": "websocket", "connections": 4, "ramp_per_s": 100,
                         "pings_per_s": 5, "duration_s": 1});
    let (status, body) = api(&server, "/api/simulator/start", Some(request)).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["request"]["duration_s"], 1);
    let started = tokio::time::Instant::now();
    let mut seen_connected = false;
    loop {
        let status = simulator_status(&server).await;
        seen_connected |= status["connected"] == 4;
        if status["running"] == false {
            assert_eq!(status["connected"], 0, "{status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the run did not stop itself: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen_connected, "the run never reached its connections");
    assert!(started.elapsed() >= Duration::from_millis(900));
    // The hub forgets them too, and a new run may start.
    eventually("the simulated connections to leave the hub", || {
        crate::common::server_stats(&server)["connections"]["websocket"] == 0
    })
    .await;
    let again = json!({"transport": "websocket", "connections": 1, "duration_s": 1});
    assert_eq!(
        api(&server, "/api/simulator/start", Some(again)).await.0,
        202
    );
    api(&server, "/api/simulator/stop", Some(json!({}))).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_run_leaves_127_0_0_1_its_session_quota() {
    const QUOTA: usize = 5;
    let mut config = ServerConfig::ephemeral();
    config.simulator.max_connections = 20;
    config.poll.max_sessions_per_addr = QUOTA;
    let server = start(config).await;
    // Four times the per-address quota: from one address, 15 of these would get 429.
    let request = json!({"transport": "long-poll", "connections": 20, "ramp_per_s": 200,
                         "pings_per_s": 1});
    assert_eq!(
        api(&server, "/api/simulator/start", Some(request)).await.0,
        202
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = simulator_status(&server).await;
        assert_eq!(status["failed"], 0, "{status}");
        if status["connected"] == 20 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A real client at 127.0.0.1 still has its whole quota.
    for n in 0..QUOTA {
        let response = post_json(server.http_addr(), "/poll", &json!({})).await;
        assert_eq!(
            response.status,
            200,
            "real session {n}: {}",
            String::from_utf8_lossy(&response.body)
        );
    }
    // ...and no more: the quota itself still holds for 127.0.0.1.
    let over = post_json(server.http_addr(), "/poll", &json!({})).await;
    assert_eq!(over.status, 429);
    api(&server, "/api/simulator/stop", Some(json!({}))).await;
    server.shutdown().await;
}
