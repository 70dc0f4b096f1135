//! The real `switchboard serve` refuses a configuration it cannot run with: it exits
//! non-zero before binding anything, and says which setting is wrong and why.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    process::{Command, Output, Stdio},
    time::Duration,
};

use common::ChildGuard;

const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `switchboard serve` with `args` and returns how it ended (within [`PATIENCE`]).
fn serve(args: &[&str]) -> Output {
    let mut child = ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .args(["--port", "0", "--tcp-port", "0"])
            .args(args)
            // No `.env` from the developer's checkout, and nothing outbound if it did start.
            .current_dir(std::env::temp_dir())
            .env("SWITCHBOARD_WEATHER_ENABLED", "false")
            .env("SWITCHBOARD_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    child.output_within(PATIENCE).unwrap_or_else(|| {
        panic!("`serve {args:?}` still running after {PATIENCE:?}: it should have refused to start")
    })
}

fn assert_refused(args: &[&str], expected: &str) {
    let output = serve(args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{args:?} started: {stdout}");
    assert!(
        !stdout.contains("listening"),
        "{args:?} bound a listener: {stdout}"
    );
    assert!(
        stderr.contains("invalid configuration") && stderr.contains(expected),
        "{args:?}: stderr does not say {expected:?}:\n{stderr}"
    );
}

#[test]
fn a_heartbeat_at_or_past_the_idle_timeout_is_refused() {
    assert_refused(
        &["--ws-heartbeat", "2m"],
        "`ws.heartbeat` (2m) must be shorter than `ws.idle_timeout` (1m)",
    );
}

#[test]
fn a_zero_poll_batch_is_refused() {
    assert_refused(&["--poll-max-batch", "0"], "`poll.max_batch` is 0");
}

#[test]
fn a_message_limit_the_http_bodies_cannot_carry_is_refused() {
    assert_refused(
        &["--max-message-bytes", "100000"],
        "`sse.max_body_bytes` (81920) is below `hub.max_message_bytes` (100000)",
    );
}
