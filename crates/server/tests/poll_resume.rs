//! Polling across the end of a session: a session whose queue overflows is told so
//! (`closed` 4001) rather than losing messages silently, and a new session resumes from
//! history with `channels` carrying `since`.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;
mod http;

use http::post_json;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_protocol::ChannelName;
use switchboard_server::{Server, ServerConfig};

fn numbers(response: &Value) -> Vec<u64> {
    response["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "message")
        .map(|m| m["data"]["n"].as_u64().unwrap())
        .collect()
}

async fn publish(server: &Server, channel: &str, n: u64) {
    let data = RawValue::from_string(format!(r#"{{"n":{n}}}"#)).unwrap();
    let channel = ChannelName::new(channel).unwrap();
    server.hub().publish(&channel, &data).await.unwrap();
}

#[tokio::test]
async fn a_session_whose_queue_overflows_is_told_so() {
    let mut config = ServerConfig::ephemeral();
    config.hub.queue_messages = 4;
    let server = common::start(config).await;
    let addr = server.http_addr();
    let first = post_json(addr, "/short-poll", &json!({"channels": ["news"]}))
        .await
        .json();
    let id = first["session_token"].as_str().unwrap();
    // Nobody polls while more arrives than the queue holds.
    for n in 1..=5 {
        publish(&server, "news", n).await;
    }
    let body = json!({"session_token": id, "cursor": first["cursor"]});
    let closed = post_json(addr, "/short-poll", &body).await.json();
    assert_eq!(closed["closed"]["code"], 4001, "{closed}");
    assert_eq!(closed["messages"], json!([]));
    post_json(addr, "/short-poll", &body)
        .await
        .assert_error(404, 200);
    assert_eq!(server.hub().connection_count(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_new_session_resumes_from_history_with_since() {
    let server = common::start(ServerConfig::ephemeral()).await;
    let addr = server.http_addr();
    let first = post_json(addr, "/poll", &json!({"channels": ["news"]}))
        .await
        .json();
    publish(&server, "news", 1).await;
    let body = json!({"session_token": first["session_token"], "cursor": first["cursor"]});
    let one = post_json(addr, "/poll", &body).await.json();
    assert_eq!(numbers(&one), [1]);
    let seen = one["messages"][0]["seq"].as_u64().unwrap();

    // The client goes away (its session will expire) while more is published.
    for n in 2..=4 {
        publish(&server, "news", n).await;
    }
    let resume =
        json!({"channels": [{"channel": "news", "since": seen, "epoch": server.hub().epoch()}]});
    let resumed = post_json(addr, "/poll", &resume).await.json();
    let subscribed = resumed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "subscribed" && m["channel"] == "news")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            subscribed["resumed"].clone(),
            subscribed["recovered"].clone()
        ),
        (json!(true), json!(3))
    );
    assert_eq!(numbers(&resumed), [2, 3, 4]);
    server.shutdown().await;
}
