//! Sessions no one can steal: everything one client can see of another (its
//! `connection_id` in `from`, presence, `get_stats`, `GET /api/stats`, and every other
//! string those carry) is tried by an attacker against every session endpoint, in every
//! field a credential could go in. Each attempt is refused with 403 + 400
//! `invalid_session_token`, and the victims lose nothing: the held long poll stays held
//! and then delivers every message, the short-poll session's next poll gets every
//! message, the SSE stream keeps its messages, no chat goes out in a victim's name and no
//! session is closed.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use std::collections::BTreeSet;

use common::WsClient;
use http::{SseStream, post_json};
use serde_json::{Value, json};
use switchboard_server::{Server, ServerConfig};

/// Every string anywhere in `value` (ids, epochs, names...): all an attacker can see.
fn strings(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::String(text) => {
            found.insert(text.clone());
        }
        Value::Array(items) => items.iter().for_each(|item| strings(item, found)),
        Value::Object(fields) => fields.values().for_each(|field| strings(field, found)),
        _ => {}
    }
}

fn chat(text: &str) -> Value {
    json!({"type": "chat", "user": "mallory", "text": text})
}

/// Every body an attacker could send with a stolen `candidate`, per endpoint.
fn attacks(candidate: &str) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for path in ["/poll", "/short-poll"] {
        out.push((path, json!({"connection_id": candidate, "cursor": 0})));
        out.push((path, json!({"session_token": candidate, "cursor": 0})));
        out.push((
            path,
            json!({"session_token": candidate, "connection_id": candidate, "message": chat("as you")}),
        ));
    }
    for path in ["/poll/message", "/sse/message"] {
        out.push((
            path,
            json!({"connection_id": candidate, "message": chat("as you")}),
        ));
        out.push((
            path,
            json!({"session_token": candidate, "message": chat("as you")}),
        ));
        out.push((
            path,
            json!({"session_token": candidate, "connection_id": candidate, "message": {"type": "unsubscribe", "channel": "lobby"}}),
        ));
    }
    out.push(("/poll/close", json!({"connection_id": candidate})));
    out.push(("/poll/close", json!({"session_token": candidate})));
    out
}

async fn open_poll(server: &Server, path: &str) -> Value {
    let opened = post_json(server.http_addr(), path, &json!({"channels": ["lobby"]})).await;
    assert_eq!(opened.status, 200);
    opened.json()
}

async fn poll(server: &Server, path: &str, session: &Value) -> Value {
    let body = json!({"session_token": session["session_token"], "cursor": session["cursor"]});
    let answer = post_json(server.http_addr(), path, &body).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

fn texts(response: &Value) -> Vec<String> {
    response["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "chat")
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_attacker_with_every_visible_id_can_act_for_no_session() {
    let mut config = ServerConfig::ephemeral();
    config.poll.timeout = std::time::Duration::from_secs(20);
    let server = common::start(config).await;
    let addr = server.http_addr();

    // The victims: a long-poll session, a short-poll session and an SSE stream, each on lobby.
    let long = open_poll(&server, "/poll").await;
    let short = open_poll(&server, "/short-poll").await;
    let mut sse = SseStream::open(addr, "/sse?channels=lobby", &[]).await;
    let sse_welcome = sse.next_of("welcome").await.json();
    let sse_token = sse_welcome["session_token"].as_str().unwrap().to_owned();
    let victim_ids: Vec<String> = [&long, &short, &sse_welcome]
        .iter()
        .map(|v| v["connection_id"].as_str().unwrap().to_owned())
        .collect();
    for (body, id) in [&long, &short, &sse_welcome].iter().zip(&victim_ids) {
        let token = body["session_token"].as_str().unwrap();
        assert!(token.starts_with(id.as_str()) && token.len() > id.len() + 32);
    }

    // The attacker: a WebSocket on lobby with presence, watching each victim chat once.
    let mut mallory = WsClient::connect_ready(&server, "", 2).await;
    let mut seen = BTreeSet::new();
    mallory
        .send(json!({"type": "subscribe", "channel": "lobby", "presence": true}))
        .await;
    for (path, session) in [("/poll/message", &long), ("/poll/message", &short)] {
        let body = json!({"session_token": session["session_token"], "message": {"type": "chat", "user": "victim", "text": "hello"}});
        assert_eq!(post_json(addr, path, &body).await.status, 204);
    }
    let body = json!({"session_token": sse_token, "message": {"type": "chat", "user": "victim", "text": "hello"}});
    assert_eq!(post_json(addr, "/sse/message", &body).await.status, 204);
    let mut froms = BTreeSet::new();
    while froms.len() < 3 {
        let message = mallory.recv().await;
        if message["type"] == "chat" {
            froms.insert(message["from"].as_str().unwrap().to_owned());
        }
        strings(&message, &mut seen);
    }
    mallory
        .send(json!({"type": "presence", "channel": "lobby"}))
        .await;
    strings(&mallory.recv_type("presence").await, &mut seen);
    mallory
        .send(json!({"type": "custom", "action": "get_stats"}))
        .await;
    strings(&mallory.recv_type("stats").await, &mut seen);
    let (status, _, api_stats) = common::http_get(addr, "/api/stats").await;
    assert_eq!(status, 200);
    strings(&serde_json::from_str(&api_stats).unwrap(), &mut seen);
    for id in &victim_ids {
        assert!(seen.contains(id), "the attacker sees the victim id {id}");
    }

    // The victim's long poll takes the greetings, then is held while the attack runs.
    let greeted = poll(&server, "/poll", &long).await;
    assert_eq!(texts(&greeted), ["hello", "hello", "hello"], "{greeted}");
    let held_body = json!({"session_token": long["session_token"], "cursor": greeted["cursor"]});
    let held = tokio::spawn(async move { post_json(addr, "/poll", &held_body).await });
    common::poll_is_held(&server, &victim_ids[0]).await;

    let mut attempts = 0;
    for candidate in &seen {
        for (path, body) in attacks(candidate) {
            let answer = post_json(addr, path, &body).await;
            assert_eq!(
                (answer.status, answer.json()["code"].as_u64()),
                (403, Some(400)),
                "{path} {body}: {}",
                String::from_utf8_lossy(&answer.body)
            );
            attempts += 1;
        }
    }
    assert!(attempts > 100, "{attempts} attempts");

    // Nothing happened to any victim: all sessions open, the long poll still held.
    for id in &victim_ids {
        assert!(server.hub().connection(id).is_some(), "{id} still open");
    }
    assert!(!held.is_finished(), "the held long poll was not taken over");

    // A last message from the attacker reaches every victim, after everything before it.
    mallory.send(chat("last")).await;
    let woke = tokio::time::timeout(std::time::Duration::from_secs(5), held)
        .await
        .expect("the held poll answers")
        .unwrap();
    assert_eq!(woke.status, 200);
    let woke = woke.json();
    assert_eq!(
        texts(&woke),
        ["last"],
        "the held poll wakes with the next message, nothing in the victim's name: {woke}"
    );

    let short_answer = poll(&server, "/short-poll", &short).await;
    let short_texts = texts(&short_answer);
    assert_eq!(
        short_texts,
        ["hello", "hello", "hello", "last"],
        "the short-poll session's cursor was never acknowledged by the attacker: {short_answer}"
    );

    let mut sse_texts = Vec::new();
    while sse_texts.last().map(String::as_str) != Some("last") {
        let event = sse.next_of("chat").await.json();
        sse_texts.push(event["text"].as_str().unwrap().to_owned());
    }
    assert_eq!(sse_texts, ["hello", "hello", "hello", "last"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_token_names_one_session_and_outlives_it_only_as_a_404() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let addr = server.http_addr();
    let a = open_poll(&server, "/poll").await;
    let b = open_poll(&server, "/poll").await;
    // A's token with B's public id beside it: refused, B untouched.
    let mixed = json!({"session_token": a["session_token"], "connection_id": b["connection_id"]});
    post_json(addr, "/poll/close", &mixed)
        .await
        .assert_error(403, 400);
    // A's own token and id: accepted.
    let own = json!({"session_token": a["session_token"], "connection_id": a["connection_id"]});
    assert_eq!(post_json(addr, "/poll/close", &own).await.status, 204);
    // The token of an ended session is genuine but finds nothing.
    post_json(
        addr,
        "/poll",
        &json!({"session_token": a["session_token"], "cursor": 0}),
    )
    .await
    .assert_error(404, 200);
    let b_id = b["connection_id"].as_str().unwrap();
    assert!(server.hub().connection(b_id).is_some());
    // An SSE stream's token does not open the polling endpoints to it.
    let mut sse = SseStream::open(addr, "/sse", &[]).await;
    let welcome = sse.next_of("welcome").await.json();
    let body = json!({"session_token": welcome["session_token"], "message": {"type": "ping"}});
    post_json(addr, "/poll/message", &body)
        .await
        .assert_error(404, 200);
    // WebSocket connections get no token: the socket is their credential.
    let ws = WsClient::connect(&server, "").await;
    assert!(ws.welcome.get("session_token").is_none(), "{}", ws.welcome);
    server.shutdown().await;
}

#[tokio::test]
async fn chat_user_names_that_would_mislead_are_refused_on_every_http_transport() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let addr = server.http_addr();
    let session = open_poll(&server, "/short-poll").await;
    for user in [
        "",
        "  ",
        "ad\u{0}min",
        "\u{202e}nimda",
        "a\u{2066}b",
        "line\nbreak",
    ] {
        let chat = json!({"type": "chat", "user": user, "text": "x"});
        let body = json!({"session_token": session["session_token"], "message": chat});
        assert_eq!(post_json(addr, "/poll/message", &body).await.status, 204);
    }
    let answer = poll(&server, "/short-poll", &session).await;
    let codes: Vec<u64> = answer["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "error")
        .map(|m| m["code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [114; 6], "{answer}");
    assert!(texts(&answer).is_empty(), "{answer}");
    server.shutdown().await;
}
