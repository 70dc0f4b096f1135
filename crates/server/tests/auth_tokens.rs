//! Connection tokens over real sockets, minted by an implementation switchboard did not
//! write (the npm package `jsonwebtoken`, keys from Node's crypto: `tests/node/mint_jwt.mjs`,
//! installed by `scripts/test.sh`) and by the project's own minter: accepted on all five
//! transports, each refusal with its documented code on each, the user taken from the
//! token whatever the client claims.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod tokens;

use std::{net::SocketAddr, time::Duration};

use common::{PATIENCE, WsClient, http_request};
use serde_json::{Value, json};
use switchboard_server::{
    Server, ServerConfig,
    security::{AuthConfig, Secret, auth::mint_hs256},
};
use tokens::{AUDIENCE, ISSUER, NodeMinter, SECRET, now};

/// A server that requires tokens: HS256 with `SECRET`, audience and issuer checked.
async fn required_server() -> Server {
    let mut config = ServerConfig::ephemeral();
    config.security.auth = AuthConfig {
        required: true,
        hmac_secret: Some(Secret::new(SECRET)),
        audience: Some(AUDIENCE.into()),
        issuer: Some(ISSUER.into()),
        ..AuthConfig::default()
    };
    common::start(config).await
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "exp": now() + 3600, "aud": AUDIENCE, "iss": ISSUER})
}

/// The welcome each transport gives a token, or the refusal `(status, code)`.
#[derive(Debug)]
enum Outcome {
    Welcome(Value),
    Refused { status: u16, code: u64 },
}

const TRANSPORTS: [&str; 5] = ["websocket", "sse", "long_poll", "short_poll", "tcp"];

async fn connect(server: &Server, transport: &str, token: Option<&str>) -> Outcome {
    let addr = server.http_addr();
    let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
    match transport {
        "websocket" => {
            let head = format!(
                "GET /ws{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            );
            let (status, _, body) = first_response(addr, &head).await;
            if status == 101 {
                // The upgrade succeeded: read the welcome as a client would.
                Outcome::Welcome(WsClient::connect(server, &query).await.welcome)
            } else {
                refused(status, &body)
            }
        }
        "sse" => {
            let head = format!("GET /sse{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            let (status, _, body) = first_response(addr, &head).await;
            if status != 200 {
                return refused(status, &body);
            }
            let data = body
                .lines()
                .skip_while(|line| *line != "event: welcome")
                .find_map(|line| line.strip_prefix("data: "))
                .unwrap_or_else(|| panic!("no welcome event in {body}"));
            Outcome::Welcome(serde_json::from_str(data).unwrap())
        }
        "long_poll" | "short_poll" => {
            let path = if transport == "long_poll" {
                "/poll"
            } else {
                "/short-poll"
            };
            // Long polling sends the token as a bearer; short polling uses the query
            // fallback, so both ways are covered.
            let (path, auth) = match (transport, token) {
                ("long_poll", Some(t)) => {
                    (path.to_owned(), format!("Authorization: Bearer {t}\r\n"))
                }
                _ => (format!("{path}{query}"), String::new()),
            };
            let head = format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
                 Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
            );
            let (status, _, body) = http_request(addr, &head).await;
            if status != 200 {
                return refused(status, &body);
            }
            let response: Value = serde_json::from_str(&body).unwrap();
            Outcome::Welcome(response["messages"][0].clone())
        }
        "tcp" => {
            let mut tcp = tokens::Tcp::connect(server.tcp_addr().unwrap()).await;
            match token {
                Some(t) => tcp.send(&json!({"type": "connect", "token": t})).await,
                None => tcp.send(&json!({"type": "connect"})).await,
            }
            let first = tcp.recv().await.expect("a first frame");
            if first["type"] == "welcome" {
                Outcome::Welcome(first)
            } else {
                assert_eq!(first["type"], "error", "{first}");
                assert!(tcp.recv().await.is_none(), "closed after the error");
                Outcome::Refused {
                    status: 0,
                    code: first["code"].as_u64().unwrap(),
                }
            }
        }
        other => panic!("{other}"),
    }
}

fn refused(status: u16, body: &str) -> Outcome {
    let error: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("a JSON error body ({e}): {body:?}"));
    assert_eq!(error["type"], "error", "{error}");
    Outcome::Refused {
        status,
        code: error["code"].as_u64().unwrap(),
    }
}

/// The status line and whatever arrived within a moment (enough for a head, a short
/// body, or the first events of a stream that never ends).
async fn first_response(addr: SocketAddr, head: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let done = head.starts_with("HTTP/1.1 101")
                || body.contains("event: welcome")
                    && body
                        .split("event: welcome")
                        .nth(1)
                        .is_some_and(|rest| rest.contains("\n\n"))
                || content_length(head).is_some_and(|len| body.len() >= len);
            if done {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return (status, head.to_owned(), body.to_owned());
            }
        }
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no full response: {text}"))
            .unwrap();
        assert!(read > 0, "closed early: {text}");
        raw.extend_from_slice(&buf[..read]);
    }
}

fn content_length(head: &str) -> Option<usize> {
    head.lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|len| len.trim().parse().ok())
}

fn user_of(outcome: Outcome) -> String {
    match outcome {
        Outcome::Welcome(welcome) => welcome["user"].as_str().unwrap_or("<none>").to_owned(),
        refused => panic!("refused: {refused:?}"),
    }
}

#[tokio::test]
async fn outside_and_project_tokens_are_accepted_on_all_five_transports() {
    let server = required_server().await;
    let node = NodeMinter::get();
    let outside = node.sign_hs256(&claims("alice"), SECRET);
    // The project's minter writes sub/exp/channels; aud and iss are this server's rule,
    // so its tokens go to a server without them.
    let mut plain = ServerConfig::ephemeral();
    plain.security.auth = AuthConfig {
        required: true,
        hmac_secret: Some(Secret::new(SECRET)),
        ..AuthConfig::default()
    };
    let plain = common::start(plain).await;
    let own = mint_hs256(&Secret::new(SECRET), "bob", Duration::from_secs(60), &[]).unwrap();
    for transport in TRANSPORTS {
        assert_eq!(
            user_of(connect(&server, transport, Some(&outside)).await),
            "alice",
            "{transport}"
        );
        assert_eq!(
            user_of(connect(&plain, transport, Some(&own)).await),
            "bob",
            "{transport}"
        );
    }
}

#[tokio::test]
async fn every_refusal_has_its_code_on_every_transport() {
    let server = required_server().await;
    let node = NodeMinter::get();
    let t = now();
    let with = |key: &str, value: Value| {
        let mut c = claims("alice");
        c[key] = value;
        c
    };
    let cases = [
        (
            "alg none",
            node.sign(json!({"alg": "none", "claims": claims("alice")})),
            405,
        ),
        (
            "wrong alg",
            node.sign(json!({"alg": "HS384", "secret": SECRET, "claims": claims("alice")})),
            405,
        ),
        (
            "bad signature",
            node.sign_hs256(&claims("alice"), "another secret, thirty-two bytes long!!"),
            406,
        ),
        (
            "expired",
            node.sign_hs256(&with("exp", json!(t - 600)), SECRET),
            407,
        ),
        (
            "not yet valid",
            node.sign_hs256(&with("nbf", json!(t + 600)), SECRET),
            408,
        ),
        (
            "wrong aud",
            node.sign_hs256(&with("aud", json!("someone-else")), SECRET),
            409,
        ),
        (
            "wrong iss",
            node.sign_hs256(&with("iss", json!("https://evil.example")), SECRET),
            410,
        ),
        ("malformed", "not-a-jwt".to_owned(), 404),
    ];
    for transport in TRANSPORTS {
        for (case, token, code) in &cases {
            match connect(&server, transport, Some(token)).await {
                Outcome::Refused { status, code: got } => {
                    assert_eq!(got, *code, "{transport}: {case}");
                    let expected_status = if transport == "tcp" { 0 } else { 401 };
                    assert_eq!(status, expected_status, "{transport}: {case}");
                }
                welcome => panic!("{transport}: {case} accepted: {welcome:?}"),
            }
        }
        match connect(&server, transport, None).await {
            Outcome::Refused { code, .. } => assert_eq!(code, 403, "{transport}: no token"),
            welcome => panic!("{transport}: anonymous accepted: {welcome:?}"),
        }
    }
    // Refused before the hub heard of them: not one connection was ever registered.
    let accepted = &common::server_stats(&server)["connections_accepted"];
    for transport in TRANSPORTS {
        assert_eq!(accepted[transport], 0, "{transport}: {accepted}");
    }
}

#[tokio::test]
async fn public_keys_verify_rs256_and_es256_and_refuse_key_confusion() {
    let node = NodeMinter::get();
    for alg in ["RS256", "ES256"] {
        let mut config = ServerConfig::ephemeral();
        config.security.auth = AuthConfig {
            required: true,
            public_key_file: Some(node.public_key(alg)),
            ..AuthConfig::default()
        };
        let server = common::start(config).await;
        let claims = json!({"sub": "carol", "exp": now() + 600});
        let token =
            node.sign(json!({"alg": alg, "key_file": node.private_key(alg), "claims": claims}));
        assert_eq!(
            user_of(connect(&server, "websocket", Some(&token)).await),
            "carol",
            "{alg}"
        );
        assert_eq!(
            user_of(connect(&server, "tcp", Some(&token)).await),
            "carol",
            "{alg}"
        );
        // The public key itself used as an HMAC secret (the key-confusion attack).
        let pem = std::fs::read_to_string(node.public_key(alg)).unwrap();
        let confused = node.sign_hs256(&claims, &pem);
        match connect(&server, "websocket", Some(&confused)).await {
            Outcome::Refused { code, .. } => assert_eq!(code, 405, "{alg}"),
            welcome => panic!("{alg}: confused key accepted: {welcome:?}"),
        }
    }
}

#[tokio::test]
async fn an_authenticated_client_chats_and_appears_only_as_its_token_user() {
    let server = required_server().await;
    let mut with_info = claims("alice");
    with_info["info"] = json!({"name": "Alice A.", "color": "teal"});
    let token = NodeMinter::get().sign_hs256(&with_info, SECRET);
    let mut alice = WsClient::connect(&server, &format!("?token={token}&channels=room")).await;
    alice.recv_type("subscribed").await;
    alice.recv_type("subscribed").await;
    alice
        .send(json!({"type": "chat", "channel": "room", "user": "admin", "text": "hi", "id": 1}))
        .await;
    let chat = alice.recv_type("chat").await;
    assert_eq!(chat["user"], "alice", "{chat}");
    alice
        .send(json!({"type": "presence", "channel": "room"}))
        .await;
    let presence = alice.recv_type("presence").await;
    assert_eq!(presence["members"][0]["user"], "alice", "{presence}");
    assert_eq!(
        presence["members"][0]["info"]["name"], "Alice A.",
        "{presence}"
    );
}

#[tokio::test]
async fn a_server_without_keys_drops_a_first_connect_frame_and_answers_a_later_one() {
    let server = common::start_default().await;
    let mut tcp = tokens::Tcp::connect(server.tcp_addr().unwrap()).await;
    tcp.send(&json!({"type": "connect", "token": "ignored.by.keyless"}))
        .await;
    tcp.send(&json!({"type": "connect"})).await;
    tcp.send(&json!({"type": "ping", "id": 1})).await;
    let mut seen = Vec::new();
    loop {
        let message = tcp.recv().await.unwrap();
        if message["type"] == "pong" {
            break;
        }
        seen.push(message);
    }
    assert!(
        seen[0]["type"] == "welcome" && seen[0].get("user").is_none(),
        "{seen:?}"
    );
    let errors: Vec<_> = seen.iter().filter(|m| m["type"] == "error").collect();
    // Only the second `connect` is an error: the first frame's was dropped.
    assert_eq!(errors.len(), 1, "{seen:?}");
    assert_eq!(errors[0]["code"], 103);
}

#[tokio::test]
async fn optional_auth_keeps_anonymous_clients_and_joins_token_channels() {
    let mut config = ServerConfig::ephemeral();
    config.security.auth = AuthConfig {
        hmac_secret: Some(Secret::new(SECRET)),
        ..AuthConfig::default()
    };
    let server = common::start(config).await;
    let anonymous = WsClient::connect(&server, "").await;
    assert!(
        anonymous.welcome.get("user").is_none(),
        "{}",
        anonymous.welcome
    );
    assert_eq!(user_of(connect(&server, "tcp", None).await), "<none>");
    let token = mint_hs256(
        &Secret::new(SECRET),
        "dave",
        Duration::from_secs(60),
        &["news".to_owned()],
    )
    .unwrap();
    let mut dave = WsClient::connect(&server, &format!("?token={token}")).await;
    assert_eq!(dave.welcome["user"], "dave");
    let mut joined = Vec::new();
    while !joined.iter().any(|c| c == "news") {
        let subscribed = dave.recv_type("subscribed").await;
        joined.push(subscribed["channel"].as_str().unwrap().to_owned());
    }
    // A bad token is still refused, not downgraded to anonymous.
    let expired = NodeMinter::get().sign_hs256(&json!({"sub": "eve", "exp": now() - 600}), SECRET);
    match connect(&server, "sse", Some(&expired)).await {
        Outcome::Refused { status, code } => assert_eq!((status, code), (401, 407)),
        welcome => panic!("expired accepted: {welcome:?}"),
    }
}
