//! Session tokens: the secret that lets a request act for an SSE or polling session.
//!
//! A session's public identity is its `connection_id` (other clients see it in `from`,
//! presence and stats). Its credential is a *signed* token, handed only to the session's
//! owner (in its `welcome`, and in every poll response):
//!
//! ```text
//! session_token = <connection_id> "." hex(HMAC-SHA256(key, "switchboard session token v1\n" <connection_id>))
//! ```
//!
//! Guarantees:
//! - Unforgeable without the key: the tag is a full 256-bit HMAC-SHA256 (ring), so knowing
//!   every public id of every session gives nothing to guess from.
//! - Checked in constant time: [`ring::hmac::verify`] compares the tags without an early
//!   exit, so response timing says nothing about how much of a forged tag was right.
//! - Stateless: any process holding the same key verifies a token another one issued (the
//!   key is `--session-key`; a node of a later multi-node deployment can check a poll that
//!   another node opened). Without a configured key, each process draws its own 256-bit
//!   key from the operating system's random number generator (ring's `SystemRandom`,
//!   i.e. `getrandom`), so tokens die with the process, as its sessions do.

use std::fmt;

use ring::{
    hmac,
    rand::{SecureRandom, SystemRandom},
};

/// What the tag signs before the connection id: a token of this scheme cannot be mistaken
/// for an HMAC the same key makes for anything else later (auth tokens, say).
const TOKEN_DOMAIN: &[u8] = b"switchboard session token v1\n";
/// Bytes in a tag (HMAC-SHA256), written as twice as many hex digits.
const TAG_BYTES: usize = 32;
/// Bytes of a key drawn at random when none is configured: HMAC-SHA256's block-size
/// guidance says at least the output length, 256 bits.
pub const RANDOM_SESSION_KEY_BYTES: usize = 32;

/// The key that signs and checks session tokens. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct SessionKey {
    key: hmac::Key,
    secret_len: usize,
    configured: bool,
}

impl SessionKey {
    /// A fresh key from the operating system's random number generator.
    ///
    /// # Panics
    /// When the OS cannot provide randomness; the server cannot run safely without it
    /// (connection ids come from the same source, and `uuid` panics the same way).
    pub fn random() -> Self {
        let mut secret = [0u8; RANDOM_SESSION_KEY_BYTES];
        SystemRandom::new()
            .fill(&mut secret)
            .expect("the operating system's random number generator is available");
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            secret_len: secret.len(),
            configured: false,
        }
    }

    /// A key from a configured secret (its bytes as given). Whether it is long enough is
    /// checked by `ServerConfig::validate` (`MIN_SESSION_KEY_BYTES`).
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            secret_len: secret.len(),
            configured: true,
        }
    }

    /// The secret's length in bytes.
    pub fn secret_len(&self) -> usize {
        self.secret_len
    }

    /// True when the key came from configuration rather than from [`SessionKey::random`].
    pub fn is_configured(&self) -> bool {
        self.configured
    }

    /// The token for the session `connection_id`.
    pub fn issue(&self, connection_id: &str) -> String {
        let tag = hmac::sign(&self.key, &signed_text(connection_id));
        let mut token = String::with_capacity(connection_id.len() + 1 + 2 * TAG_BYTES);
        token.push_str(connection_id);
        token.push('.');
        for byte in tag.as_ref() {
            token.push(HEX[usize::from(byte >> 4)] as char);
            token.push(HEX[usize::from(byte & 0xf)] as char);
        }
        token
    }

    /// The connection id a token grants, or `None` for anything this key did not issue
    /// (malformed, truncated, a bare connection id, a tag for another id).
    pub fn verify<'t>(&self, token: &'t str) -> Option<&'t str> {
        let (connection_id, tag_hex) = token.rsplit_once('.')?;
        let tag = decode_tag(tag_hex)?;
        hmac::verify(&self.key, &signed_text(connection_id), &tag).ok()?;
        Some(connection_id)
    }
}

impl Default for SessionKey {
    fn default() -> Self {
        Self::random()
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKey")
            .field("secret", &"<redacted>")
            .field("secret_len", &self.secret_len)
            .field("configured", &self.configured)
            .finish()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn signed_text(connection_id: &str) -> Vec<u8> {
    let mut text = Vec::with_capacity(TOKEN_DOMAIN.len() + connection_id.len());
    text.extend_from_slice(TOKEN_DOMAIN);
    text.extend_from_slice(connection_id.as_bytes());
    text
}

/// Lowercase hex of exactly [`TAG_BYTES`] bytes. The input is the requester's own text,
/// not a secret, so decoding it need not be constant-time; the comparison is.
fn decode_tag(hex: &str) -> Option<[u8; TAG_BYTES]> {
    let digits = hex.as_bytes();
    if digits.len() != 2 * TAG_BYTES {
        return None;
    }
    let value = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut tag = [0u8; TAG_BYTES];
    for (byte, pair) in tag.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (value(pair[0])? << 4) | value(pair[1])?;
    }
    Some(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0d5c7c1e-8f55-4a8e-9d43-2b1f5c3f7a10";

    #[test]
    fn a_token_grants_its_own_session_only() {
        let key = SessionKey::random();
        let token = key.issue(ID);
        assert_eq!(token.len(), ID.len() + 1 + 64);
        assert_eq!(key.verify(&token), Some(ID));
        let other = key.issue("another-id");
        assert_eq!(key.verify(&other), Some("another-id"));
        // The tag of one id on another id.
        let (_, tag) = other.rsplit_once('.').unwrap();
        assert_eq!(key.verify(&format!("{ID}.{tag}")), None);
    }

    #[test]
    fn forgeries_and_public_ids_are_refused() {
        let key = SessionKey::random();
        let token = key.issue(ID);
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        for forged in [
            ID.to_owned(),
            String::new(),
            format!("{ID}."),
            format!("{ID}.{}", "0".repeat(64)),
            String::from_utf8(flipped).unwrap(),
            token[..token.len() - 2].to_owned(),
            format!("{token}00"),
            token.to_uppercase(),
        ] {
            assert_eq!(key.verify(&forged), None, "{forged:?}");
        }
        // Another process's key (the default is random per process).
        assert_eq!(SessionKey::random().verify(&token), None);
    }

    #[test]
    fn a_configured_key_verifies_on_every_node_that_shares_it() {
        let secret = b"an example secret of thirty-two bytes at least!!";
        let node_a = SessionKey::from_secret(secret);
        let node_b = SessionKey::from_secret(secret);
        assert_eq!(node_b.verify(&node_a.issue(ID)), Some(ID));
        assert!(node_a.is_configured() && !SessionKey::random().is_configured());
        let shown = format!("{node_a:?}");
        assert!(!shown.contains("thirty-two"), "{shown}");
    }
}
