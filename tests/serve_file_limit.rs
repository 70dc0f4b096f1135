//! The real `switchboard` binary out of file descriptors (issue 9, finding 6): with a
//! file limit of 64 and more connections than that, `accept` fails with `EMFILE`. The
//! accept loop must not spin (the server's CPU time stays low while the condition lasts),
//! must log once per burst rather than once per failure, and must serve again as soon as
//! connections close.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use common::ChildGuard;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const PATIENCE: Duration = Duration::from_secs(10);
/// The file limit the server runs under.
const FILE_LIMIT: usize = 64;

/// The process's CPU time (user + system) in clock ticks, from `/proc/<pid>/stat`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // The command name may hold spaces: the fields after it start past its `)`.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split(' ')
        .collect();
    let ticks = |i: usize| fields[i].parse::<u64>().expect("a number");
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    ticks(11) + ticks(12)
}

async fn healthz(addr: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(2), stream.read_to_string(&mut answer))
        .await
        .ok()?
        .ok()?;
    Some(answer)
}

#[tokio::test]
async fn out_of_file_descriptors_the_accept_loop_backs_off_and_recovers() {
    let mut child = ChildGuard::spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n {FILE_LIMIT} && exec \"$0\" serve --port 0"
            ))
            .arg(env!("CARGO_BIN_EXE_switchboard"))
            .env("SWITCHBOARD_TCP_ENABLED", "false")
            .env("SWITCHBOARD_WEATHER_ENABLED", "false")
            .env("SWITCHBOARD_METRICS_ENABLED", "false")
            .env("SWITCHBOARD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("switchboard listening on http://") {
                let _ = address_tx.send(addr.to_owned());
            }
        }
    });
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let stderr = child.stderr.take().expect("stderr");
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    let addr = tokio::task::spawn_blocking(move || address_rx.recv_timeout(PATIENCE))
        .await
        .expect("reader task")
        .expect("the listening line in time");
    assert!(healthz(&addr).await.is_some_and(|a| a.contains(" 200 ")));

    // More connections than the server has descriptors: it accepts until EMFILE, the
    // rest wait in the listen backlog.
    let mut held = Vec::new();
    for _ in 0..FILE_LIMIT + 16 {
        held.push(TcpStream::connect(&addr).await.expect("connect (backlog)"));
    }
    let mut failing = false;
    for _ in 0..100 {
        if log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("HTTP accept failed"))
        {
            failing = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(failing, "accept never failed: {:?}", log.lock().unwrap());

    // While it lasts, the loop sleeps between attempts instead of spinning.
    let ticks_before = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ticks = cpu_ticks(pid) - ticks_before;
    // Clock ticks are 10 ms: a spinning loop would burn about 200 in 2 s.
    assert!(ticks < 40, "{ticks} ticks of CPU in 2 s out of descriptors");
    let logged = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("HTTP accept failed"))
        .count();
    assert!(
        logged <= 4,
        "{logged} log lines for one burst of accept errors"
    );

    // Descriptors back: the server serves again.
    drop(held);
    let mut recovered = false;
    for _ in 0..100 {
        if healthz(&addr).await.is_some_and(|a| a.contains(" 200 ")) {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "the server did not serve again");
}
