//! The `weather` feed against local stand-ins for Open-Meteo (axum on 127.0.0.1:0): one
//! that answers in Open-Meteo's format, one that fails with 500, one that never answers
//! in time. Checks what subscribers of `weather` receive: real readings, or
//! `unreachable` with the error and readings marked simulated (or none); all cities
//! fetched in parallel; retries; publication only on change. HTTPS is tested in
//! `feeds_weather_https.rs`.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use common::{WsClient, start};
use serde_json::{Value, json};
use switchboard_feeds::weather::{WeatherFeedConfig, parse_cities};
use switchboard_server::ServerConfig;

#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Answer,
    Fail,
    Hang,
}

/// A stand-in for `api.open-meteo.com` that counts requests and concurrency.
#[derive(Clone)]
struct StandIn {
    behaviour: Behaviour,
    requests: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    /// Added to every temperature; bumping it changes the readings.
    offset: Arc<AtomicU64>,
}

impl StandIn {
    async fn start(behaviour: Behaviour) -> (Self, SocketAddr) {
        let stand_in = Self {
            behaviour,
            requests: Arc::default(),
            in_flight: Arc::default(),
            max_in_flight: Arc::default(),
            offset: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/forecast", get(forecast))
            .with_state(stand_in.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (stand_in, addr)
    }
}

async fn forecast(
    State(stand_in): State<StandIn>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    stand_in.requests.fetch_add(1, SeqCst);
    let now = stand_in.in_flight.fetch_add(1, SeqCst) + 1;
    stand_in.max_in_flight.fetch_max(now, SeqCst);
    // Long enough that sequential fetching could not overlap requests.
    tokio::time::sleep(Duration::from_millis(150)).await;
    if stand_in.behaviour == Behaviour::Hang {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    stand_in.in_flight.fetch_sub(1, SeqCst);
    if stand_in.behaviour == Behaviour::Fail {
        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream down").into_response();
    }
    assert_eq!(
        query["current"],
        "temperature_2m,relative_humidity_2m,wind_speed_10m,weather_code"
    );
    let latitude: f64 = query["latitude"].parse().unwrap();
    let longitude: f64 = query["longitude"].parse().unwrap();
    let offset = stand_in.offset.load(SeqCst) as f64;
    Json(json!({
        "latitude": latitude,
        "longitude": longitude,
        "generationtime_ms": 0.03,
        "utc_offset_seconds": 0,
        "timezone": "GMT",
        "timezone_abbreviation": "GMT",
        "elevation": 12.0,
        "current_units": {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C",
            "relative_humidity_2m": "%", "wind_speed_10m": "km/h", "weather_code": "wmo code"},
        "current": {"time": "2026-11-21T22:30", "interval": 900,
            "temperature_2m": latitude / 10.0 + offset, "relative_humidity_2m": 71,
            "wind_speed_10m": 13.4, "weather_code": 3}
    }))
    .into_response()
}

fn config(addr: SocketAddr, simulate: bool) -> ServerConfig {
    let mut config = ServerConfig::ephemeral();
    config.weather = WeatherFeedConfig {
        enabled: true,
        base_url: format!("http://{addr}"),
        cities: parse_cities(
            "Oslo:59.91:10.75;Lima:-12.05:-77.04;Perth:-31.95:115.86;Rome:41.9:12.5",
        )
        .unwrap(),
        refresh: Duration::from_millis(400),
        request_timeout: Duration::from_millis(500),
        retries: 1,
        backoff: Duration::from_millis(50),
        simulate_when_unreachable: simulate,
        extra_root_certificates: Vec::new(),
    };
    config
}

fn assert_close(value: &Value, expected: f64) {
    let actual = value.as_f64().unwrap();
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

async fn next_weather(client: &mut WsClient) -> Value {
    loop {
        let message = client.recv_type("message").await;
        if message["channel"] == "weather" {
            return message["data"].clone();
        }
    }
}

async fn weather_subscriber(server: &switchboard_server::Server) -> WsClient {
    WsClient::connect_ready(server, "?channels=weather", 2).await
}

#[tokio::test]
async fn real_readings_fetched_in_parallel_and_published_only_on_change() {
    let (stand_in, addr) = StandIn::start(Behaviour::Answer).await;
    let server = start(config(addr, true)).await;
    let mut client = weather_subscriber(&server).await;

    let data = next_weather(&mut client).await;
    assert_eq!(data["source"], "open-meteo");
    assert_eq!(data["simulated"], false);
    assert!(data.get("error").is_none());
    let cities = data["cities"].as_array().unwrap();
    assert_eq!(cities.len(), 4);
    assert_eq!(cities[0]["name"], "Oslo");
    assert_eq!(cities[0]["source"], "open-meteo");
    assert_eq!(cities[0]["simulated"], false);
    assert_close(&cities[0]["reading"]["temperature_c"], 5.991);
    assert_eq!(cities[0]["reading"]["conditions"], "Overcast");
    assert_eq!(cities[0]["reading"]["observed_at"], "2026-11-21T22:30");
    // All four requests were in flight at once.
    assert_eq!(stand_in.max_in_flight.load(SeqCst), 4);

    // Two more refreshes with identical readings: nothing is published.
    let before = stand_in.requests.load(SeqCst);
    let quiet = tokio::time::timeout(Duration::from_millis(1300), next_weather(&mut client)).await;
    assert!(quiet.is_err(), "unchanged readings were published again");
    assert!(
        stand_in.requests.load(SeqCst) >= before + 4,
        "the feed kept refreshing"
    );

    // A changed reading is published.
    stand_in.offset.store(10, SeqCst);
    let data = next_weather(&mut client).await;
    assert_close(&data["cities"][0]["reading"]["temperature_c"], 15.991);
    server.shutdown().await;
}

#[tokio::test]
async fn failing_source_is_reported_unreachable_with_simulated_readings() {
    let (stand_in, addr) = StandIn::start(Behaviour::Fail).await;
    let server = start(config(addr, true)).await;
    let mut client = weather_subscriber(&server).await;

    let data = next_weather(&mut client).await;
    assert_eq!(data["source"], "unreachable");
    assert_eq!(data["simulated"], true);
    assert!(
        data["error"].as_str().unwrap().contains("HTTP 500"),
        "{data}"
    );
    let cities = data["cities"].as_array().unwrap();
    assert_eq!(cities.len(), 4, "{data}");
    for city in cities {
        assert_eq!(city["source"], "unreachable");
        assert_eq!(city["simulated"], true);
        assert!(city["error"].as_str().unwrap().contains("500"));
        let temperature = city["reading"]["temperature_c"].as_f64().unwrap();
        assert!((-40.0..50.0).contains(&temperature));
    }
    // One retry per city: two requests each.
    assert!(stand_in.requests.load(SeqCst) >= 8);
    server.shutdown().await;
}

#[tokio::test]
async fn source_that_times_out_is_unreachable_and_without_simulation_has_no_readings() {
    let (_stand_in, addr) = StandIn::start(Behaviour::Hang).await;
    let server = start(config(addr, false)).await;
    let mut client = weather_subscriber(&server).await;

    let data = next_weather(&mut client).await;
    assert_eq!(data["source"], "unreachable");
    assert_eq!(data["simulated"], false);
    assert!(
        data["error"].as_str().unwrap().contains("timed out"),
        "{data}"
    );
    let cities = data["cities"].as_array().unwrap();
    assert_eq!(cities.len(), 4, "{data}");
    for city in cities {
        assert_eq!(city["simulated"], false);
        assert!(city["reading"].is_null());
    }
    // The same error again is not news: nothing more is published.
    let quiet = tokio::time::timeout(Duration::from_millis(2500), next_weather(&mut client)).await;
    assert!(quiet.is_err());
    server.shutdown().await;
}
