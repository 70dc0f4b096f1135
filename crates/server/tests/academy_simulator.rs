//! The connection simulator over its HTTP API (`/api/simulator`), for every transport:
//! a run reaches N connections (counted by the hub itself, not just by the simulator),
//! times pings through the hub, refuses requests past its limits, and a stop closes
//! every simulated connection.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::start;
use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};

const N: u64 = 20;

async fn server() -> Server {
    let mut config = ServerConfig::ephemeral();
    config.simulator.max_connections = 50;
    // The default session grace (60 s) stays: Stop must end polling sessions itself
    // (`POST /poll/close`), well within the test's patience.
    start(config).await
}

async fn api(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("http://{}{path}", server.http_addr());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let request = match method {
        "POST" => client.post(url).json(&body.unwrap_or(json!({}))),
        _ => client.get(url),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Open hub connections of `transport`, as `/api/stats` reports them.
async fn hub_count(server: &Server, transport: &str) -> u64 {
    let (_, stats) = api(server, "GET", "/api/stats", None).await;
    stats["connections"][transport.replace('-', "_")]
        .as_u64()
        .unwrap()
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_and_stop(transport: &str) {
    let server = server().await;
    let request =
        json!({"transport": transport, "connections": N, "ramp_per_s": 200, "pings_per_s": 5});
    let (status, _) = api(&server, "POST", "/api/simulator/start", Some(request)).await;
    assert_eq!(status, 202);

    wait_for("N simulated connections", async || {
        let (_, status) = api(&server, "GET", "/api/simulator", None).await;
        status["connected"] == N
    })
    .await;
    let hub_transport = if transport == "websocket" {
        "websocket"
    } else {
        transport
    };
    assert_eq!(hub_count(&server, hub_transport).await, N, "{transport}");

    // Pings are timed: a sample with a latency appears.
    wait_for("a latency sample", async || {
        let (_, status) = api(&server, "GET", "/api/simulator", None).await;
        status["samples"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["p50_ms"].is_f64() && s["messages_per_s"].as_u64().unwrap() > 0)
    })
    .await;
    let (_, status) = api(&server, "GET", "/api/simulator", None).await;
    assert_eq!(status["failed"], 0, "{status}");
    assert!(status["last_error"].is_null(), "{status}");
    // Every timed sample holds real round trips and the server's real memory.
    for sample in status["samples"].as_array().unwrap() {
        let rss = sample["rss_bytes"].as_u64().unwrap();
        assert!(rss > 1 << 20, "{sample}");
        if let Some(p50) = sample["p50_ms"].as_f64() {
            let p99 = sample["p99_ms"].as_f64().unwrap();
            assert!(p50 > 0.0 && p50.is_finite() && p50 <= p99, "{sample}");
            assert!(p99 < 5_000.0, "a loopback ping within seconds: {sample}");
        }
    }

    let (status, body) = api(&server, "POST", "/api/simulator/stop", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["running"], false);
    assert_eq!(body["connected"], 0);
    wait_for("the hub to forget the simulated connections", async || {
        hub_count(&server, hub_transport).await == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_run() {
    run_and_stop("websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_run() {
    run_and_stop("sse").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_run() {
    run_and_stop("long-poll").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_poll_run() {
    run_and_stop("short-poll").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_run() {
    run_and_stop("tcp").await;
}

#[tokio::test]
async fn limits_and_a_second_run_are_refused() {
    let server = server().await;
    for bad in [
        json!({"transport": "websocket", "connections": 51}),
        json!({"transport": "websocket", "connections": 0}),
        json!({"transport": "pigeon", "connections": 1}),
        json!({"transport": "websocket", "connections": 1, "pings_per_s": 1000}),
    ] {
        let (status, body) = api(&server, "POST", "/api/simulator/start", Some(bad)).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["type"], "error");
    }
    let ok = json!({"transport": "websocket", "connections": 2, "pings_per_s": 0});
    assert_eq!(
        api(&server, "POST", "/api/simulator/start", Some(ok.clone()))
            .await
            .0,
        202
    );
    assert_eq!(
        api(&server, "POST", "/api/simulator/start", Some(ok))
            .await
            .0,
        409
    );
    let (_, info) = api(&server, "GET", "/api/academy", None).await;
    assert_eq!(info["simulator"]["max_connections"], 50);
    assert!(info["tcp_addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    api(&server, "POST", "/api/simulator/stop", None).await;
    server.shutdown().await;
}
