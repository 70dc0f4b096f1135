//! Origins and hosts over real sockets: a browser request from a foreign origin is
//! refused with 403 + 401 on `/ws`, `/ws/echo`, `/sse`, the polling endpoints and the
//! dashboard API (a WebSocket is never upgraded); allowed origins and requests without
//! `Origin` pass, with CORS headers and preflights for the HTTP transports; the dashboard
//! and its API answer only allowed `Host` names (421 + 402 otherwise), which also keeps a
//! DNS-rebound page from counting as same-origin.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use std::net::SocketAddr;

use http::{SseStream, request};
use serde_json::Value;
use switchboard_server::{
    Server, ServerConfig,
    security::{HostRule, OriginRule},
};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{client::IntoClientRequest, http::HeaderValue},
};

const EVIL: &str = "http://evil.example";

/// A raw request whose whole answer is read (the server closes after answering).
async fn raw(addr: SocketAddr, head: &str) -> (u16, String, Value) {
    let (status, head, body) = common::http_request(addr, head).await;
    let json = serde_json::from_str(&body).unwrap_or(Value::Null);
    (status, head.to_ascii_lowercase(), json)
}

fn upgrade_head(path: &str, host: &str, origin: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Origin: {origin}\r\n\r\n"
    )
}

/// Opens `/ws` with `origin` (or none); the HTTP status of the handshake.
async fn ws_status(addr: SocketAddr, origin: Option<&str>) -> u16 {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).unwrap());
    }
    match connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("handshake failed: {other}"),
    }
}

fn assert_refused(what: &str, (status, _, body): &(u16, String, Value), code: u64) {
    assert_eq!(
        *status,
        if code == 402 { 421 } else { 403 },
        "{what}: {body}"
    );
    assert_eq!(body["type"], "error", "{what}: {body}");
    assert_eq!(body["code"], code, "{what}: {body}");
}

#[tokio::test]
async fn a_foreign_origin_is_refused_on_every_browser_facing_path() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let addr = server.http_addr();
    let host = addr.to_string();

    assert_eq!(ws_status(addr, Some(EVIL)).await, 403);
    for path in ["/ws", "/ws/echo"] {
        let refused = raw(addr, &upgrade_head(path, &host, EVIL)).await;
        assert_refused(path, &refused, 401);
    }
    for origin in ["null", "http://127.0.0.1.evil.example", "garbage"] {
        assert_eq!(ws_status(addr, Some(origin)).await, 403, "{origin}");
    }
    let sse = raw(
        addr,
        &format!(
            "GET /sse HTTP/1.1\r\nHost: {host}\r\nOrigin: {EVIL}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_refused("/sse", &sse, 401);
    for path in [
        "/poll",
        "/short-poll",
        "/poll/message",
        "/poll/close",
        "/sse/message",
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {EVIL}\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        assert_refused(path, &raw(addr, &head).await, 401);
    }
    let preflight = raw(
        addr,
        &format!(
            "OPTIONS /poll HTTP/1.1\r\nHost: {host}\r\nOrigin: {EVIL}\r\n\
             Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_refused("preflight", &preflight, 401);
    assert!(!preflight.1.contains("access-control-allow-origin"));
    let api = raw(
        addr,
        &format!(
            "GET /api/stats HTTP/1.1\r\nHost: {host}\r\nOrigin: {EVIL}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_refused("/api/stats", &api, 401);
    // Nothing was opened for any of them.
    let stats = common::server_stats(&server);
    for transport in ["websocket", "sse", "long_poll", "short_poll"] {
        assert_eq!(stats["connections_accepted"][transport], 0, "{stats}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn loopback_pages_same_origin_and_non_browsers_are_served_with_cors() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let addr = server.http_addr();
    let own = format!("http://{addr}");
    for origin in [None, Some(own.as_str()), Some("http://localhost:5173")] {
        assert_eq!(ws_status(addr, origin).await, 101, "{origin:?}");
    }

    let stream = SseStream::open(addr, "/sse", &[("Origin", "http://localhost:5173")]).await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    let plain = SseStream::open(addr, "/sse", &[]).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("access-control-allow-origin"), None);

    let json_type = ("Content-Type", "application/json");
    let opened = request(addr, "POST", "/poll", &[json_type, ("Origin", &own)], b"{}").await;
    assert_eq!(opened.status, 200);
    assert_eq!(
        opened.header("access-control-allow-origin"),
        Some(own.as_str())
    );
    let preflight = request(
        addr,
        "OPTIONS",
        "/poll",
        &[
            ("Origin", "http://127.0.0.1:3000"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
        b"",
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("http://127.0.0.1:3000")
    );
    assert!(
        preflight
            .header("access-control-allow-headers")
            .is_some_and(|h| h.contains("content-type"))
    );
    let (status, _, _) = common::http_get(addr, "/api/stats").await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn the_dashboard_answers_only_allowed_hosts_and_rebinding_is_not_same_origin() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let addr = server.http_addr();
    let port = addr.port();
    for path in ["/", "/api/stats", "/switchboard.js", "/api/simulator"] {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: evil.example:{port}\r\nConnection: close\r\n\r\n"
        );
        assert_refused(path, &raw(addr, &head).await, 402);
        for host in [
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ] {
            let head = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            assert_eq!(raw(addr, &head).await.0, 200, "{path} {host}");
        }
    }
    // A page on the rebound name is "same-origin" with its own Host, and still refused.
    let rebound = upgrade_head(
        "/ws",
        &format!("evil.example:{port}"),
        &format!("http://evil.example:{port}"),
    );
    assert_refused("rebound /ws", &raw(addr, &rebound).await, 401);
    // Probes name whatever host they like.
    let head = "GET /healthz HTTP/1.1\r\nHost: lb.internal\r\nConnection: close\r\n\r\n";
    assert_eq!(raw(addr, head).await.0, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn configured_lists_replace_the_defaults() {
    let mut config = ServerConfig::ephemeral();
    config.security.allowed_origins = vec![OriginRule::Pattern("https://*.example.com".into())];
    config.security.allowed_hosts = vec![HostRule::Pattern("app.example.com".into())];
    let server: Server = common::start(config).await;
    let addr = server.http_addr();
    assert_eq!(ws_status(addr, Some("https://app.example.com")).await, 101);
    assert_eq!(ws_status(addr, Some("https://example.com")).await, 403);
    assert_eq!(
        ws_status(addr, Some(&format!("http://{addr}"))).await,
        403,
        "local is not listed"
    );
    assert_eq!(ws_status(addr, None).await, 101);
    let head = |host: &str| {
        format!("GET /api/stats HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };
    assert_eq!(raw(addr, &head("app.example.com")).await.0, 200);
    assert_refused("localhost", &raw(addr, &head("localhost")).await, 402);
    server.shutdown().await;
}
