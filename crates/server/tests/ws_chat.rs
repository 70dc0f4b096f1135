//! Chat, broadcast, ping and stats over real WebSockets on loopback.

mod common;

use common::{WsClient, start_default};
use serde_json::json;

#[tokio::test]
async fn two_clients_chat_in_the_lobby() {
    let server = start_default().await;
    let mut ann = WsClient::connect_ready(&server, "", 2).await;
    let mut bob = WsClient::connect_ready(&server, "", 2).await;
    ann.send(json!({"type": "chat", "user": "ann", "text": "hello bob"}))
        .await;
    for client in [&mut ann, &mut bob] {
        let chat = client.recv_type("chat").await;
        assert_eq!(chat["channel"], "lobby");
        assert_eq!(chat["user"], "ann");
        assert_eq!(chat["text"], "hello bob");
        assert_eq!(chat["seq"], 1);
        assert!(chat["ts"].as_u64().unwrap() > 0);
    }
    server.shutdown().await;
}
