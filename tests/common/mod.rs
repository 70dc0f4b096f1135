//! Shared helpers for the tests that run the real binary: a child process that cannot
//! outlive its test (killed and reaped on drop, so a panic or a timeout leaves nothing
//! running), and a bounded wait for it to exit.

#![allow(dead_code, unreachable_pub)]

use std::{
    io::Read,
    ops::{Deref, DerefMut},
    process::{Child, Command, ExitStatus, Output},
    time::{Duration, Instant},
};

/// A spawned child that is killed (if still running) and reaped when dropped.
pub struct ChildGuard(Child);

impl ChildGuard {
    pub fn spawn(command: &mut Command) -> Self {
        Self(command.spawn().expect("the binary starts"))
    }

    /// Waits for the child to exit, at most `limit`; panics (and so kills it) if it
    /// does not.
    pub async fn wait_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the child did not exit within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl ChildGuard {
    /// Blocks until the child exits, at most `limit`, then collects what it wrote to its
    /// piped stdout and stderr; `None` if it is still running (it is killed on drop).
    pub fn output_within(&mut self, limit: Duration) -> Option<Output> {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = Vec::new();
        if let Some(mut pipe) = self.0.stdout.take() {
            let _ = pipe.read_to_end(&mut stdout);
        }
        let mut stderr = Vec::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            let _ = pipe.read_to_end(&mut stderr);
        }
        Some(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl Deref for ChildGuard {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}
