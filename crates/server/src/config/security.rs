//! Security settings: which browser origins and `Host` names the server answers, the
//! key that signs session tokens, and the keys that check connection tokens. `docs/security.md` says what each one protects.

use crate::security::{AuthConfig, Authenticator, HostRule, OriginRule, SessionKey};

use super::validate::ConfigError;

/// `local`: loopback pages on any port, and same-origin pages on an allowed host. Safe
/// for a server on a developer's machine: no other web site the user visits can drive
/// it; list the real origins (`https://app.example.com`) before exposing it.
pub const DEFAULT_ALLOWED_ORIGINS: &str = "local";
/// `local`: `localhost`, `127.0.0.1`, `[::1]` and the bound address. The dashboard and
/// its API answer no other name, which is what defeats DNS rebinding; list the names a
/// deployment is reached by.
pub const DEFAULT_ALLOWED_HOSTS: &str = "local";
/// The shortest `--session-key` accepted: 32 bytes, HMAC-SHA256's output size, so
/// guessing the key is no easier than guessing a tag.
pub const MIN_SESSION_KEY_BYTES: usize = 32;

/// Origins, hosts and the session key.
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// Origins a browser request may come from (`--allowed-origins`).
    pub allowed_origins: Vec<OriginRule>,
    /// Names the dashboard and its API answer to (`--allowed-hosts`).
    pub allowed_hosts: Vec<HostRule>,
    /// Signs and checks session tokens (`--session-key`; random per process by default).
    pub session_key: SessionKey,
    /// Connection tokens (`--auth-*`): off by default, every connection anonymous.
    pub auth: AuthConfig,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            allowed_origins: vec![OriginRule::Local],
            allowed_hosts: vec![HostRule::Local],
            session_key: SessionKey::random(),
            auth: AuthConfig::default(),
        }
    }
}

impl SecurityConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.allowed_origins.is_empty() {
            return Err(ConfigError::EmptyList {
                field: "security.allowed_origins",
                why: "every browser request would be refused, the dashboard's own included; write `local` for the default",
            });
        }
        if self.allowed_hosts.is_empty() {
            return Err(ConfigError::EmptyList {
                field: "security.allowed_hosts",
                why: "the dashboard would answer no host at all; write `local` for the default or `*` for any",
            });
        }
        let len = self.session_key.secret_len();
        if len < MIN_SESSION_KEY_BYTES {
            return Err(ConfigError::SessionKeyTooShort {
                len,
                min: MIN_SESSION_KEY_BYTES,
            });
        }
        Authenticator::new(&self.auth)?;
        Ok(())
    }
}
