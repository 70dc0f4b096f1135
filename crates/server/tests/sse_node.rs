//! The event stream as a client nobody here wrote sees it: Node's `eventsource` package
//! (installed into `tests/node` by `scripts/test.sh`) reads welcome, subscriptions and
//! chat with their resume ids, and after the server ends the stream it reconnects by
//! itself with `Last-Event-ID` and receives the message it missed.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::WsClient;
use serde_json::{Value, json};
use switchboard_protocol::CloseCode;
use switchboard_server::ServerConfig;
use tokio::sync::mpsc;

/// How long the test waits for one line from the Node client.
const LINE_PATIENCE: Duration = Duration::from_secs(8);

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/node")
}

/// The Node client, killed when the test ends however it ends.
struct NodeClient {
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl Drop for NodeClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeClient {
    fn spawn(url: &str, events: usize) -> Self {
        let dir = node_dir();
        assert!(
            dir.join("node_modules/eventsource/package.json").exists(),
            "the npm package `eventsource` is not installed in {}: run ./scripts/test.sh \
             (it runs `npm ci --prefix tests/node`)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg(dir.join("sse_client.mjs"))
            .arg(url)
            .arg(events.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs (Node 20 is required by scripts/test.sh)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("node printed {line:?}: {e}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    async fn next(&mut self) -> Value {
        tokio::time::timeout(LINE_PATIENCE, self.lines.recv())
            .await
            .expect("the node client printed a line in time")
            .expect("the node client is still running")
    }

    /// The next protocol event (skipping `open` lines); panics on a connection error.
    async fn next_event(&mut self) -> Value {
        loop {
            let line = self.next().await;
            assert!(line.get("connection_error").is_none(), "{line}");
            if line.get("event").is_some() {
                return line;
            }
        }
    }
}

#[tokio::test]
async fn node_eventsource_reads_the_stream_and_resumes_after_a_server_close() {
    let mut config = ServerConfig::ephemeral();
    config.sse.retry = Duration::from_millis(200);
    let server = common::start(config).await;
    let epoch = server.hub().epoch().to_owned();
    let url = format!("http://{}/sse?channels=lobby", server.http_addr());
    let mut node = NodeClient::spawn(&url, 9);

    assert_eq!(node.next().await, json!({"open": 1}));
    let welcome = node.next_event().await;
    assert_eq!(welcome["event"], "welcome");
    assert_eq!(welcome["id"], "", "welcome carries no id");
    let connection_id = welcome["data"]["connection_id"]
        .as_str()
        .unwrap()
        .to_owned();
    for channel in ["broadcast", "lobby"] {
        let subscribed = node.next_event().await;
        assert_eq!(subscribed["event"], "subscribed");
        assert_eq!(subscribed["data"]["channel"], channel);
    }

    let mut ws = WsClient::connect_ready(&server, "?channels=lobby", 2).await;
    for text in ["one", "two"] {
        ws.send(json!({"type": "chat", "user": "ws", "text": text}))
            .await;
    }
    for (seq, text) in [(1, "one"), (2, "two")] {
        let chat = node.next_event().await;
        assert_eq!(chat["event"], "chat");
        assert_eq!(chat["data"]["text"], text);
        assert_eq!(chat["id"], format!("{epoch};broadcast=0;lobby={seq}"));
    }

    // The server ends the stream; the message sent meanwhile can only come by resume.
    server
        .hub()
        .connection(&connection_id)
        .expect("the SSE connection is open")
        .close(CloseCode::SlowConsumer);
    ws.send(json!({"type": "chat", "user": "ws", "text": "missed"}))
        .await;
    ws.recv_type("chat").await;

    // EventSource reports the end of the stream as an error, then reconnects.
    let mut line = node.next().await;
    while line.get("connection_error").is_some() {
        line = node.next().await;
    }
    assert_eq!(line, json!({"open": 2}));
    let welcome = node.next_event().await;
    assert_eq!(welcome["event"], "welcome");
    assert_ne!(welcome["data"]["connection_id"], connection_id.as_str());
    let mut lobby = Value::Null;
    for _ in 0..2 {
        let subscribed = node.next_event().await;
        if subscribed["data"]["channel"] == "lobby" {
            lobby = subscribed;
        }
    }
    assert_eq!(lobby["data"]["resumed"], true, "{lobby}");
    assert_eq!(lobby["data"]["recovered"], 1);
    let missed = node.next_event().await;
    assert_eq!(missed["data"]["text"], "missed");
    assert_eq!(missed["data"]["seq"], 3);
    assert_eq!(missed["id"], format!("{epoch};broadcast=0;lobby=3"));
    server.shutdown().await;
}
