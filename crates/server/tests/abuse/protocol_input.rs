//! Finding 8 (protocol parts), over a real WebSocket: publish `data` that other
//! clients' parsers cannot read back is refused with 116 and reaches no subscriber;
//! a repeated top-level key is refused with 117 naming it; `/ws/echo` sockets show in
//! the stats as `websocket_echo`.

use serde_json::json;
use switchboard_server::ServerConfig;
use tokio_tungstenite::{connect_async, tungstenite::Message};

use crate::common::{WsClient, eventually, server_stats, start, start_default};

#[tokio::test]
async fn unreadable_publish_data_is_refused_and_not_forwarded() {
    let server = start(ServerConfig::ephemeral()).await;
    let mut publisher = WsClient::connect(&server, "").await;
    let mut reader = WsClient::connect(&server, "").await;
    reader.subscribe("news", None).await;
    for (n, data) in [r#""\ud800""#, "1e999999", r#"{"deep":["\udc00"]}"#]
        .into_iter()
        .enumerate()
    {
        let text = format!(r#"{{"type":"publish","id":{n},"channel":"news","data":{data}}}"#);
        publisher.send_raw(Message::Text(text.into())).await;
        let error = publisher.recv_type("error").await;
        assert_eq!(error["code"], 116, "{data}: {error}");
        assert_eq!(error["error"], "invalid_data");
        assert_eq!(error["id"], n);
    }
    // The next good message is the first the reader gets.
    publisher
        .send(json!({"type": "publish", "channel": "news", "data": {"ok": true}}))
        .await;
    let message = reader.recv_type("message").await;
    assert_eq!(message["data"], json!({"ok": true}));
    server.shutdown().await;
}

#[tokio::test]
async fn a_repeated_key_is_named() {
    let server = start_default().await;
    let mut client = WsClient::connect(&server, "").await;
    let text = r#"{"type":"ping","id":"d1","type":"publish"}"#;
    client.send_raw(Message::Text(text.into())).await;
    let error = client.recv_type("error").await;
    assert_eq!(error["code"], 117, "{error}");
    assert_eq!(error["error"], "duplicate_key");
    assert!(error["message"].as_str().unwrap().contains(r#""type""#));
    assert_eq!(error["id"], "d1");
    server.shutdown().await;
}

#[tokio::test]
async fn echo_sockets_are_counted() {
    let server = start_default().await;
    let url = format!("ws://{}/ws/echo", server.http_addr());
    let (mut first, _) = connect_async(url.as_str()).await.unwrap();
    let (second, _) = connect_async(url.as_str()).await.unwrap();
    eventually("two echo sockets open", || {
        server_stats(&server)["connections"]["websocket_echo"] == 2
    })
    .await;
    first.close(None).await.unwrap();
    drop(second);
    eventually("echo sockets gone", || {
        server_stats(&server)["connections"]["websocket_echo"] == 0
    })
    .await;
    let stats = server_stats(&server);
    assert_eq!(stats["connections_accepted"]["websocket_echo"], 2);
    assert_eq!(stats["connections"]["websocket"], 0, "{stats}");
    server.shutdown().await;
}
