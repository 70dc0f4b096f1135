//! Helpers of the auth tests: tokens minted by Node's `jsonwebtoken` (an implementation
//! switchboard did not write), and a bare raw-TCP client that can send `connect` first.

#![allow(dead_code, unreachable_pub)]

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Command,
    sync::OnceLock,
    time::{SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::common::PATIENCE;

/// The HS256 secret of the test servers (at least 32 bytes).
pub const SECRET: &str = "the auth tests' secret: thirty-two bytes at least";
pub const AUDIENCE: &str = "switchboard-tests";
pub const ISSUER: &str = "https://issuer.example";

/// Seconds since the Unix epoch (JWT time).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/node")
}

/// Signs with `tests/node/mint_jwt.mjs`; its RSA and EC key pairs are made once per
/// test process, by Node's crypto.
pub struct NodeMinter {
    keys: PathBuf,
}

impl NodeMinter {
    pub fn get() -> &'static NodeMinter {
        static MINTER: OnceLock<NodeMinter> = OnceLock::new();
        MINTER.get_or_init(|| {
            let dir = node_dir();
            assert!(
                dir.join("node_modules/jsonwebtoken/package.json").exists(),
                "the npm package `jsonwebtoken` is not installed in {}: run ./scripts/test.sh \
                 (it runs `npm ci --prefix tests/node`)",
                dir.display()
            );
            let keys = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("auth-keys-{}", std::process::id()));
            std::fs::create_dir_all(&keys).unwrap();
            run(&["keys", keys.to_str().unwrap()]);
            NodeMinter { keys }
        })
    }

    /// A token for `spec` (see mint_jwt.mjs).
    pub fn sign(&self, spec: Value) -> String {
        run(&["sign", &spec.to_string()]).trim().to_owned()
    }

    pub fn sign_hs256(&self, claims: &Value, secret: &str) -> String {
        self.sign(json!({"alg": "HS256", "secret": secret, "claims": claims}))
    }

    /// `RS256` or `ES256`.
    pub fn public_key(&self, alg: &str) -> PathBuf {
        self.keys.join(format!("{}.pub.pem", alg.to_lowercase()))
    }

    pub fn private_key(&self, alg: &str) -> PathBuf {
        self.keys.join(format!("{}.pem", alg.to_lowercase()))
    }
}

fn run(args: &[&str]) -> String {
    let output = Command::new("node")
        .arg(node_dir().join("mint_jwt.mjs"))
        .args(args)
        .output()
        .expect("node runs (Node 20 is required by scripts/test.sh)");
    assert!(
        output.status.success(),
        "mint_jwt.mjs {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Raw TCP with the default u32 framing, nothing sent on connect.
pub struct Tcp(TcpStream);

impl Tcp {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self(TcpStream::connect(addr).await.unwrap())
    }

    pub async fn send(&mut self, message: &Value) {
        let payload = message.to_string();
        let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(payload.as_bytes());
        self.0.write_all(&frame).await.unwrap();
    }

    /// The next message other than a heartbeat; `None` once the server closed.
    pub async fn recv(&mut self) -> Option<Value> {
        loop {
            let mut header = [0u8; 4];
            let read = tokio::time::timeout(PATIENCE, self.0.read_exact(&mut header))
                .await
                .expect("a frame or a close in time");
            if read.is_err() {
                return None;
            }
            let mut payload = vec![0u8; u32::from_be_bytes(header) as usize];
            self.0.read_exact(&mut payload).await.unwrap();
            let message: Value = serde_json::from_slice(&payload).unwrap();
            if message["type"] != "heartbeat" {
                return Some(message);
            }
        }
    }
}
