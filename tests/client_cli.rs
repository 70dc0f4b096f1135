//! `switchboard client` as a user runs it: the real binary against a real server (in
//! this process, on 127.0.0.1 port 0), over every transport: the demo, chat driven
//! through piped stdin, listen, stress, `--show-wire`, and the exit codes.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    process::{Command, Output, Stdio},
    time::Duration,
};

use common::ChildGuard;
use serde_json::Value;
use switchboard_client::{Client, ClientOptions, TransportChoice};
use switchboard_server::{Server, ServerConfig};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

async fn server() -> Server {
    Server::start(ServerConfig::ephemeral()).await.unwrap()
}

fn url_for(server: &Server, protocol: &str) -> String {
    match protocol {
        "tcp" => format!("tcp://{}", server.tcp_addr().unwrap()),
        _ => format!("http://{}", server.http_addr()),
    }
}

/// Runs `switchboard client --url URL --protocol P ARGS...` with `stdin`, bounded in time.
async fn client(url: &str, protocol: &str, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(BIN);
    command
        .args([
            "client",
            "--url",
            url,
            "--protocol",
            protocol,
            "--log",
            "warn",
        ])
        .args([
            "--timeout",
            "5s",
            "--connect-timeout",
            "2s",
            "--poll-interval",
            "50ms",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(&mut command);
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    // Read both pipes while the child runs, so a chatty child never blocks on them.
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    // On a timeout the guard kills the child, which closes the pipes.
    let status = child.wait_within(Duration::from_secs(15)).await;
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_demo_runs_over_every_transport() {
    let server = server().await;
    for protocol in ["websocket", "sse", "long-poll", "short-poll", "tcp"] {
        let out = client(&url_for(&server, protocol), protocol, &["demo"], "").await;
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{protocol}: {stdout}\n{}",
            text(&out.stderr)
        );
        let transport = protocol.replace('-', "_");
        assert!(
            stdout.contains(&format!("connected over {transport} as")),
            "{protocol}: {stdout}"
        );
        assert!(
            stdout.contains("delivered: [lobby #"),
            "{protocol}: {stdout}"
        );
        assert!(stdout.contains("pong after"), "{protocol}: {stdout}");
        assert!(stdout.contains("unknown_action"), "{protocol}: {stdout}");
        assert!(
            stdout.contains("(resumed, 2 recovered)"),
            "{protocol}: {stdout}"
        );
        assert!(
            stdout.contains("step 8/8: disconnect"),
            "{protocol}: {stdout}"
        );
    }
}

#[tokio::test]
async fn chat_is_driven_by_piped_stdin() {
    let server = server().await;
    let script = "hello there\n/broadcast to everyone\n/ping\n/join news\n/stats\n/leave news\n/nonsense\n/exit\nnot sent\n";
    for protocol in ["websocket", "long-poll"] {
        let out = client(&url_for(&server, protocol), protocol, &["chat"], script).await;
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{protocol}: {stdout}\n{}",
            text(&out.stderr)
        );
        assert!(stdout.contains("cli: hello there"), "{protocol}: {stdout}");
        assert!(
            stdout.contains("(broadcast) to everyone"),
            "{protocol}: {stdout}"
        );
        assert!(
            stdout.contains("> broadcast sent (#"),
            "{protocol}: {stdout}"
        );
        assert!(stdout.contains("> pong in"), "{protocol}: {stdout}");
        assert!(stdout.contains("> joined news"), "{protocol}: {stdout}");
        assert!(stdout.contains("> server: "), "{protocol}: {stdout}");
        assert!(stdout.contains("> left news"), "{protocol}: {stdout}");
        assert!(
            stdout.contains("unknown or incomplete command"),
            "{protocol}: {stdout}"
        );
        assert!(
            !stdout.contains("not sent"),
            "{protocol}: input after /exit was used"
        );
    }
}

#[tokio::test]
async fn chat_ends_at_end_of_input() {
    let server = server().await;
    let out = client(&url_for(&server, "sse"), "sse", &["chat"], "one line\n").await;
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("cli: one line"));
}

#[tokio::test]
async fn listen_prints_json_lines_as_messages_arrive() {
    let server = server().await;
    let url = url_for(&server, "sse");
    let mut child = ChildGuard::spawn(
        Command::new(BIN)
            .args([
                "client",
                "--url",
                &url,
                "--protocol",
                "sse",
                "--log",
                "warn",
            ])
            .args(["listen", "news", "--json", "--count", "3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let stdout = child.stdout.take().unwrap();
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>| -> Value {
        let line = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a line in time")
            .expect("listen is still running");
        serde_json::from_str(&line).expect("every line is JSON")
    };
    // Wait until listen is subscribed to news, then publish.
    loop {
        let line = next(&mut line_rx).await;
        if line["type"] == "subscribed" && line["channel"] == "news" {
            break;
        }
    }
    let publisher = Client::connect(&url, TransportChoice::Websocket, ClientOptions::default())
        .await
        .unwrap();
    for n in 1..=3 {
        publisher
            .publish("news", &serde_json::json!({"n": n}))
            .await
            .unwrap();
    }
    for n in 1..=3u64 {
        let line = next(&mut line_rx).await;
        assert_eq!(line["type"], "message");
        assert_eq!(line["channel"], "news");
        assert_eq!(line["seq"], n);
        assert_eq!(line["data"]["n"], n);
    }
    let status = child.wait_within(Duration::from_secs(5)).await;
    assert_eq!(
        status.code(),
        Some(0),
        "listen --count 3 exits after three messages"
    );
}

#[tokio::test]
async fn stress_reports_correct_counts() {
    let server = server().await;
    for protocol in ["websocket", "sse", "tcp"] {
        let args = [
            "stress", "-c", "4", "-m", "25", "--rate", "0", "--json", "--drain", "5s",
        ];
        let out = client(&url_for(&server, protocol), protocol, &args, "").await;
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{protocol}: {stdout}\n{}",
            text(&out.stderr)
        );
        let report: Value = serde_json::from_str(stdout.trim()).expect("one JSON report");
        assert_eq!(report["connected"], 4, "{report}");
        assert_eq!(report["sent"], 100, "{report}");
        assert_eq!(report["received"], 100, "{report}");
        assert_eq!(report["lost"], 0, "{report}");
        assert_eq!(report["duplicates"], 0, "{report}");
        assert_eq!(report["errors"], 0, "{report}");
        let p50 = report["latency_ms"]["p50"].as_f64().unwrap();
        let max = report["latency_ms"]["max"].as_f64().unwrap();
        assert!(p50 > 0.0 && p50 <= max, "{report}");
    }
}

#[tokio::test]
async fn show_wire_prints_the_bytes_of_each_transport() {
    let server = server().await;
    let cases = [
        ("websocket", "Upgrade: websocket"),
        ("websocket", "FIN=1 opcode=0x1 (text) MASK=1"),
        ("sse", "event: welcome"),
        ("long-poll", "POST /poll HTTP/1.1"),
        ("tcp", "[len 00 00 "),
    ];
    for (protocol, expected) in cases {
        let url = url_for(&server, protocol);
        let out = client(&url, protocol, &["--show-wire", "chat"], "/ping\n").await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{protocol}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{protocol}: no {expected:?} in\n{stderr}"
        );
    }
}

#[tokio::test]
async fn exit_codes_tell_failures_apart() {
    // Nothing listens on this port.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let out = client(&format!("http://{addr}"), "auto", &["demo"], "").await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "cannot connect: {}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("cannot connect"));

    let out = client("http://127.0.0.1:1", "carrier-pigeon", &["demo"], "").await;
    assert_eq!(out.status.code(), Some(2), "unknown protocol");
    let out = client("http://127.0.0.1:1", "tcp", &["demo"], "").await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "a tcp transport with an http URL"
    );

    let server = server().await;
    let out = client(
        &url_for(&server, "websocket"),
        "websocket",
        &["stress", "-c", "0"],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "zero connections");
}

#[tokio::test]
async fn auto_reports_where_it_settled_and_why() {
    let mut config = ServerConfig::ephemeral();
    config.ws.enabled = false;
    let server = Server::start(config).await.unwrap();
    let out = client(&url_for(&server, "auto"), "auto", &["chat"], "/ping\n").await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("connected over sse"), "{stdout}");
    assert!(
        stdout.contains(
            "fell back to sse: websocket: refused: WebSocket upgrade answered with HTTP 503"
        ),
        "{stdout}"
    );
}

#[tokio::test]
async fn token_authenticates_the_cli_client() {
    use switchboard_server::security::{AuthConfig, Secret, auth::mint_hs256};
    let secret = "the CLI auth test's secret, 32 bytes or more";
    let mut config = ServerConfig::ephemeral();
    config.security.auth = AuthConfig {
        required: true,
        hmac_secret: Some(Secret::new(secret)),
        ..AuthConfig::default()
    };
    let server = Server::start(config).await.unwrap();
    let token = mint_hs256(&Secret::new(secret), "alice", Duration::from_secs(60), &[]).unwrap();
    for protocol in ["websocket", "tcp"] {
        let url = url_for(&server, protocol);
        let out = client(
            &url,
            protocol,
            &["--token", &token, "chat"],
            "hello\n/exit\n",
        )
        .await;
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{protocol}: {stdout}\n{}",
            text(&out.stderr)
        );
        // The chat is the token's user's, not the CLI's default `cli`.
        assert!(stdout.contains("alice: hello"), "{protocol}: {stdout}");
        let refused = client(&url, protocol, &["chat"], "hello\n").await;
        assert_eq!(
            refused.status.code(),
            Some(3),
            "{protocol}: {}",
            text(&refused.stderr)
        );
    }
}
