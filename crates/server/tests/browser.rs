//! The dashboard in a real browser: each test starts a server on 127.0.0.1:0 (feeds on,
//! short intervals, weather pointed at a local Open-Meteo stand-in) and runs one spec of
//! `tests/browser/` with node and headless Chromium (`/usr/bin/chromium` through
//! playwright-core, installed by `scripts/test.sh`). A missing browser or missing node
//! packages fail the test loudly; nothing is skipped.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::Query,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;
use switchboard_feeds::{metrics::MetricsFeedConfig, weather::parse_cities};
use switchboard_server::{Server, ServerConfig};

/// A spec that has not finished by then has hung.
const SPEC_TIMEOUT: Duration = Duration::from_secs(60);

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

/// Open-Meteo stand-in: answers for every city except those south of 30°S (HTTP 500), so
/// the page shows real and simulated cards side by side.
async fn weather_stand_in() -> SocketAddr {
    async fn forecast(Query(query): Query<std::collections::HashMap<String, String>>) -> Response {
        let latitude: f64 = query["latitude"].parse().unwrap_or(0.0);
        if latitude < -30.0 {
            return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
        }
        Json(json!({
            "latitude": latitude, "longitude": 0.0, "generationtime_ms": 0.02,
            "utc_offset_seconds": 0, "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 5.0,
            "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C",
                "relative_humidity_2m": "%", "wind_speed_10m": "km/h", "weather_code": "wmo code"},
            "current": {"time": "2026-11-21T22:30", "interval": 900, "temperature_2m": 21.5,
                "relative_humidity_2m": 64, "wind_speed_10m": 9.7, "weather_code": 2}
        }))
        .into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/v1/forecast", get(forecast));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn dashboard_server() -> Server {
    let mut config = ServerConfig::ephemeral();
    config.metrics = MetricsFeedConfig {
        enabled: true,
        interval: Duration::from_millis(300),
    };
    config.weather.enabled = true;
    config.weather.base_url = format!("http://{}", weather_stand_in().await);
    config.weather.cities =
        parse_cities("Oslo:59.91:10.75;Nairobi:-1.29:36.82;Perth:-31.95:115.86").unwrap();
    config.weather.retries = 0;
    // Slower than the short-poll panel's one request a second, so some polls come back
    // empty (the panel shows them).
    config.clock.interval = Duration::from_millis(1500);
    config.simulator.max_connections = 300;
    common::start(config).await
}

/// One spec at a time: several headless Chromiums at once on a small machine would make
/// the specs' timeouts flaky.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `tests/browser/<spec>.mjs` against a fresh server; panics with its output on failure.
async fn run_spec(spec: &str) {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let server = dashboard_server().await;
    let url = format!("http://{}", server.http_addr());
    let mut node = KillOnDrop(
        std::process::Command::new("node")
            .arg(dir.join(format!("{spec}.mjs")))
            .arg(&url)
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs (install nodejs)"),
    );
    // Both pipes are read while the spec runs: a chatty spec never blocks on a full
    // pipe (which would look like a hang), and its output so far is at hand if it does
    // hang.
    let output = Arc::new(Mutex::new(String::new()));
    let readers = [
        echo_lines(node.0.stdout.take().expect("stdout"), spec, &output),
        echo_lines(node.0.stderr.take().expect("stderr"), spec, &output),
    ];
    let deadline = tokio::time::Instant::now() + SPEC_TIMEOUT;
    let status = loop {
        if let Some(status) = node.0.try_wait().expect("wait for node") {
            break status;
        }
        if tokio::time::Instant::now() > deadline {
            let so_far = output.lock().unwrap().clone();
            panic!("browser spec {spec} hung for {SPEC_TIMEOUT:?}; its output so far:\n{so_far}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for reader in readers {
        let _ = reader.join();
    }
    server.shutdown().await;
    let output = output.lock().unwrap().clone();
    assert!(
        status.success(),
        "browser spec {spec} failed ({status}):\n{output}"
    );
}

/// Kills and reaps node (and so its browser) if the test ends before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Reads `pipe` line by line as the spec writes, echoing each line (shown with
/// `--nocapture`) and keeping it in `output`.
fn echo_lines(
    pipe: impl std::io::Read + Send + 'static,
    spec: &str,
    output: &Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    let (spec, output) = (spec.to_owned(), output.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            println!("[{spec}] {line}");
            let mut output = output.lock().unwrap();
            output.push_str(&line);
            output.push('\n');
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pages_chat_over_websocket() {
    run_spec("chat").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_chart_and_weather_cards_fill_from_the_feeds() {
    run_spec("feeds").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_and_short_polling_deliver_both_ways() {
    run_spec("polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_reaches_its_connections_and_stops_cleanly() {
    run_spec("simulator").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_page_is_refused_while_the_dashboard_works() {
    run_spec("cross_origin").await;
}
