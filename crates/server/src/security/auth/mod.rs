//! Connection tokens: the JWT a client shows when it connects, checked with the
//! `jsonwebtoken` crate, and what it grants (a user id and channels joined on connect).
//!
//! Keys (`--auth-hmac-secret`, `--auth-hmac-secret-previous`, `--auth-public-key`):
//! HS256 with a shared secret (the previous one still verifies while a rotation is under
//! way), RS256 or ES256 with a PEM public key (its type decides which). Only the
//! algorithms of the configured keys are accepted: `alg: none` never is, and an HS256
//! token is refused where only a public key is configured (the classic key-confusion
//! attack needs the server to accept an algorithm its key was not made for).
//!
//! Guarantees:
//! - Every refusal has its own documented code (403-410, `docs/protocol.md`), decided
//!   before any connection is registered; its message never repeats the token.
//! - `sub` is required and must be a presentable chat name (what [`user_name_problem`]
//!   and `MAX_USER_LEN` allow), since other clients see it as the connection's `user`;
//!   `exp` is required, `nbf` is honoured, each within [`AUTH_CLOCK_LEEWAY`].
//! - With `--auth-audience` / `--auth-issuer`, a token without that `aud` / `iss` is
//!   refused, a missing claim included.
//! - `info` (optional, any JSON up to [`MAX_TOKEN_INFO_BYTES`]) is shown in the
//!   connection's presence entries.
//! - Without any key, tokens are ignored and every connection is anonymous (the embedded
//!   default); `--auth-required true` then refuses every connection without a valid one.

use std::{fmt, path::PathBuf, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode, errors::ErrorKind,
};
use serde::{Deserialize, Serialize};
use switchboard_hub::Identity;
use switchboard_protocol::{
    ChannelName, ErrorCode,
    client::{MAX_USER_LEN, user_name_problem},
};

use crate::config::ConfigError;

/// Clock skew tolerated on `exp` and `nbf`: small enough that an expired token is not
/// honoured for long, large enough for servers and token issuers whose clocks drift by a
/// few seconds.
pub const AUTH_CLOCK_LEEWAY: Duration = Duration::from_secs(5);
/// The shortest HMAC secret accepted: 32 bytes, HS256's output size (as for the session key).
pub const MIN_AUTH_HMAC_SECRET_BYTES: usize = 32;
/// The most channels a token's `channels` claim may list: each becomes a subscription on
/// connect, and the hub's per-connection limit refuses the rest anyway.
pub const MAX_TOKEN_CHANNELS: usize = 64;
/// The largest `info` claim, in bytes of JSON: it is copied into every presence entry
/// and `join`/`leave` of the connection, so it stays a short profile, not a payload.
pub const MAX_TOKEN_INFO_BYTES: usize = 1024;

/// A secret whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from its bytes as configured.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The secret's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted>, {} bytes)", self.0.len())
    }
}

/// The auth settings as configured (`serve` flags); [`Authenticator::new`] turns them
/// into keys, and fails on anything the server cannot run with.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// `--auth-required`: refuse connections without a valid token.
    pub required: bool,
    /// `--auth-hmac-secret`: verifies HS256 tokens.
    pub hmac_secret: Option<Secret>,
    /// `--auth-hmac-secret-previous`: still verifies HS256 tokens during a rotation.
    pub hmac_secret_previous: Option<Secret>,
    /// `--auth-public-key`: a PEM file with an RSA (RS256) or EC P-256 (ES256) public key.
    pub public_key_file: Option<PathBuf>,
    /// `--auth-audience`: tokens must name it in `aud`.
    pub audience: Option<String>,
    /// `--auth-issuer`: tokens must carry it as `iss`.
    pub issuer: Option<String>,
}

impl AuthConfig {
    /// True when some key is configured (tokens are then checked, not ignored).
    pub fn has_keys(&self) -> bool {
        self.hmac_secret.is_some() || self.public_key_file.is_some()
    }
}

/// Why a connection's token is refused; each is one error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRefusal {
    /// No token, and `--auth-required true` (403).
    Required,
    /// Not a JWT, or claims of the wrong shape (404).
    Malformed(&'static str),
    /// `alg` is not one the configured keys verify (405).
    AlgorithmNotAllowed,
    /// The signature does not verify (406).
    BadSignature,
    /// `exp` has passed (407).
    Expired,
    /// `nbf` has not come yet (408).
    NotYetValid,
    /// `aud` does not name `--auth-audience` (409).
    WrongAudience,
    /// `iss` is not `--auth-issuer` (410).
    WrongIssuer,
}

impl AuthRefusal {
    /// The error code sent for it.
    pub fn code(self) -> ErrorCode {
        match self {
            AuthRefusal::Required => ErrorCode::AuthRequired,
            AuthRefusal::Malformed(_) => ErrorCode::TokenMalformed,
            AuthRefusal::AlgorithmNotAllowed => ErrorCode::TokenAlgorithmNotAllowed,
            AuthRefusal::BadSignature => ErrorCode::TokenBadSignature,
            AuthRefusal::Expired => ErrorCode::TokenExpired,
            AuthRefusal::NotYetValid => ErrorCode::TokenNotYetValid,
            AuthRefusal::WrongAudience => ErrorCode::TokenWrongAudience,
            AuthRefusal::WrongIssuer => ErrorCode::TokenWrongIssuer,
        }
    }

    /// What the client is told (never the token itself).
    pub fn message(self) -> String {
        match self {
            AuthRefusal::Required => "this server requires an auth token: `?token=` on /ws and /sse, `Authorization: Bearer` on polling, a `connect` frame on TCP".to_owned(),
            AuthRefusal::Malformed(why) => format!("the auth token is malformed: {why}"),
            AuthRefusal::AlgorithmNotAllowed => "the auth token's `alg` is not accepted by this server".to_owned(),
            AuthRefusal::BadSignature => "the auth token's signature does not verify".to_owned(),
            AuthRefusal::Expired => "the auth token has expired (`exp`)".to_owned(),
            AuthRefusal::NotYetValid => "the auth token is not valid yet (`nbf`)".to_owned(),
            AuthRefusal::WrongAudience => "the auth token's `aud` does not name this server".to_owned(),
            AuthRefusal::WrongIssuer => "the auth token's `iss` is not the expected issuer".to_owned(),
        }
    }
}

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated {
    /// The user (`sub`).
    pub identity: Identity,
    /// Channels joined on connect (`channels`), beside those the client asks for.
    pub channels: Vec<ChannelName>,
}

/// The claims the server reads; others are ignored (and checked by `jsonwebtoken` where
/// they are registered: `exp`, `nbf`, `aud`, `iss`).
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    info: Option<serde_json::Value>,
}

/// Checks connection tokens against the configured keys.
pub struct Authenticator {
    required: bool,
    /// Current first, then the previous one (rotation).
    hmac: Vec<DecodingKey>,
    public: Option<(DecodingKey, Algorithm)>,
    audience: Option<String>,
    issuer: Option<String>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("required", &self.required)
            .field("hmac_keys", &self.hmac.len())
            .field("public", &self.public.as_ref().map(|(_, alg)| alg))
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl Authenticator {
    /// Builds the keys; reads and parses the public key file.
    pub fn new(config: &AuthConfig) -> Result<Self, ConfigError> {
        let mut hmac = Vec::new();
        for (field, secret) in [
            ("security.auth.hmac_secret", &config.hmac_secret),
            (
                "security.auth.hmac_secret_previous",
                &config.hmac_secret_previous,
            ),
        ] {
            let Some(secret) = secret else { continue };
            if secret.expose().len() < MIN_AUTH_HMAC_SECRET_BYTES {
                return Err(ConfigError::AuthSecretTooShort {
                    field,
                    len: secret.expose().len(),
                    min: MIN_AUTH_HMAC_SECRET_BYTES,
                });
            }
            hmac.push(DecodingKey::from_secret(secret.expose()));
        }
        if config.hmac_secret.is_none() && config.hmac_secret_previous.is_some() {
            return Err(ConfigError::AuthPreviousWithoutCurrent);
        }
        let public = match &config.public_key_file {
            None => None,
            Some(path) => Some(read_public_key(path)?),
        };
        if config.required && hmac.is_empty() && public.is_none() {
            return Err(ConfigError::AuthRequiredWithoutKey);
        }
        Ok(Self {
            required: config.required,
            hmac,
            public,
            audience: config.audience.clone(),
            issuer: config.issuer.clone(),
        })
    }

    /// True when some key is configured: tokens are checked (raw TCP then reads a
    /// `connect` frame first). False on the embedded default, where all are anonymous.
    pub fn checks_tokens(&self) -> bool {
        !self.hmac.is_empty() || self.public.is_some()
    }

    /// True when a connection without a valid token is refused.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// What `token` grants: `Ok(None)` for an anonymous connection (no token, or no key
    /// configured), the refusal otherwise.
    pub fn authenticate(&self, token: Option<&str>) -> Result<Option<Authenticated>, AuthRefusal> {
        let has_keys = self.checks_tokens();
        match token.filter(|token| !token.is_empty()) {
            None if self.required => Err(AuthRefusal::Required),
            None => Ok(None),
            Some(_) if !has_keys => Ok(None),
            Some(token) => self.verify(token).map(Some),
        }
    }

    fn verify(&self, token: &str) -> Result<Authenticated, AuthRefusal> {
        let alg = header_algorithm(token)?;
        let keys: Vec<&DecodingKey> = match (alg.as_str(), &self.public) {
            ("HS256", _) if !self.hmac.is_empty() => self.hmac.iter().collect(),
            ("RS256", Some((key, Algorithm::RS256))) | ("ES256", Some((key, Algorithm::ES256))) => {
                vec![key]
            }
            _ => return Err(AuthRefusal::AlgorithmNotAllowed),
        };
        let algorithm = match alg.as_str() {
            "HS256" => Algorithm::HS256,
            "RS256" => Algorithm::RS256,
            _ => Algorithm::ES256,
        };
        let validation = self.validation(algorithm);
        let mut last = AuthRefusal::BadSignature;
        for key in keys {
            match decode::<Claims>(token, key, &validation) {
                Ok(data) => return granted(data.claims),
                Err(err) => {
                    last = refusal(err.kind());
                    // Only a bad signature is worth trying the previous secret for.
                    if last != AuthRefusal::BadSignature {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    fn validation(&self, algorithm: Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = AUTH_CLOCK_LEEWAY.as_secs();
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            // Without a configured audience, `aud` is not ours to check.
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        validation
    }
}

/// The `alg` of the token's header, read before any key is chosen (`jsonwebtoken` cannot
/// even name `none`, so it would only say "malformed").
fn header_algorithm(token: &str) -> Result<String, AuthRefusal> {
    #[derive(Deserialize)]
    struct AlgOnly {
        alg: String,
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthRefusal::Malformed(
            "a JWT has three dot-separated parts",
        ));
    };
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthRefusal::Malformed("the header is not base64url"))?;
    let header: AlgOnly = serde_json::from_slice(&json)
        .map_err(|_| AuthRefusal::Malformed("the header is not a JSON object with `alg`"))?;
    Ok(header.alg)
}

fn refusal(kind: &ErrorKind) -> AuthRefusal {
    match kind {
        ErrorKind::InvalidSignature => AuthRefusal::BadSignature,
        ErrorKind::ExpiredSignature => AuthRefusal::Expired,
        ErrorKind::ImmatureSignature => AuthRefusal::NotYetValid,
        ErrorKind::InvalidAudience => AuthRefusal::WrongAudience,
        ErrorKind::InvalidIssuer => AuthRefusal::WrongIssuer,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthRefusal::AlgorithmNotAllowed
        }
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "aud" => AuthRefusal::WrongAudience,
            "iss" => AuthRefusal::WrongIssuer,
            "sub" => AuthRefusal::Malformed("`sub` is required"),
            _ => AuthRefusal::Malformed("`exp` is required"),
        },
        ErrorKind::Json(_) => AuthRefusal::Malformed("the claims are not of the expected types"),
        _ => AuthRefusal::Malformed("not a JWT this server can read"),
    }
}

fn granted(claims: Claims) -> Result<Authenticated, AuthRefusal> {
    if user_name_problem(&claims.sub).is_some() || claims.sub.chars().count() > MAX_USER_LEN {
        return Err(AuthRefusal::Malformed(
            "`sub` must be a user name of 1 to 64 characters without control characters",
        ));
    }
    if claims
        .info
        .as_ref()
        .is_some_and(|info| info.to_string().len() > MAX_TOKEN_INFO_BYTES)
    {
        return Err(AuthRefusal::Malformed("`info` is over 1024 bytes of JSON"));
    }
    if claims.channels.len() > MAX_TOKEN_CHANNELS {
        return Err(AuthRefusal::Malformed("`channels` lists too many channels"));
    }
    let channels = claims
        .channels
        .iter()
        .map(|name| ChannelName::new(name))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| AuthRefusal::Malformed("`channels` holds an invalid channel name"))?;
    Ok(Authenticated {
        identity: Identity {
            user: claims.sub,
            info: claims.info.filter(|info| !info.is_null()),
        },
        channels,
    })
}

fn read_public_key(path: &PathBuf) -> Result<(DecodingKey, Algorithm), ConfigError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|err| ConfigError::AuthPublicKey {
        path: shown.clone(),
        why: format!("cannot read it: {err}"),
    })?;
    if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        return Ok((key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        return Ok((key, Algorithm::ES256));
    }
    Err(ConfigError::AuthPublicKey {
        path: shown,
        why: "not a PEM RSA or EC public key (expected -----BEGIN PUBLIC KEY-----)".to_owned(),
    })
}

/// Mints an HS256 token for development (`switchboard token`): `sub`, `exp` = now +
/// `ttl`, and `channels` when any are given.
pub fn mint_hs256(
    secret: &Secret,
    sub: &str,
    ttl: Duration,
    channels: &[String],
) -> Result<String, jsonwebtoken::errors::Error> {
    let exp = jsonwebtoken::get_current_timestamp().saturating_add(ttl.as_secs());
    let claims = Claims {
        sub: sub.to_owned(),
        channels: channels.to_vec(),
        exp: Some(exp),
        info: None,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose()),
    )
}

#[cfg(test)]
mod tests;
