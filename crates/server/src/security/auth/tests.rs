//! Unit tests of token checking: each refusal has its code, rotation, key confusion.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use serde_json::{Value, json};

use super::*;

const SECRET: &[u8] = b"a development secret of at least thirty-two bytes";
const PREVIOUS: &[u8] = b"the previous secret, also thirty-two bytes or more";

fn hmac_config(secret: &[u8]) -> AuthConfig {
    AuthConfig {
        hmac_secret: Some(Secret::new(secret)),
        ..AuthConfig::default()
    }
}

fn sign(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn hour_from_now() -> u64 {
    get_current_timestamp() + 3600
}

fn refusal_of(auth: &Authenticator, token: &str) -> AuthRefusal {
    auth.authenticate(Some(token)).expect_err(token)
}

#[test]
fn a_valid_token_grants_its_user_and_channels() {
    let auth = Authenticator::new(&hmac_config(SECRET)).unwrap();
    let token = sign(
        &json!({"sub": "alice", "exp": hour_from_now(), "channels": ["news", "room-1"]}),
        SECRET,
    );
    let granted = auth.authenticate(Some(&token)).unwrap().unwrap();
    assert_eq!(granted.identity.user, "alice");
    let names: Vec<&str> = granted.channels.iter().map(ChannelName::as_str).collect();
    assert_eq!(names, ["news", "room-1"]);
    let with_info = sign(
        &json!({"sub": "alice", "exp": hour_from_now(), "info": {"name": "Alice"}}),
        SECRET,
    );
    let granted = auth.authenticate(Some(&with_info)).unwrap().unwrap();
    assert_eq!(granted.identity.info, Some(json!({"name": "Alice"})));
    let huge = sign(
        &json!({"sub": "alice", "exp": hour_from_now(), "info": "x".repeat(2000)}),
        SECRET,
    );
    assert_eq!(refusal_of(&auth, &huge).code(), ErrorCode::TokenMalformed);
    let minted = mint_hs256(&Secret::new(SECRET), "bob", Duration::from_secs(60), &[]).unwrap();
    let bob = auth.authenticate(Some(&minted)).unwrap().unwrap();
    assert_eq!(bob.identity.user, "bob");
}

#[test]
fn every_refusal_has_its_code() {
    let auth = Authenticator::new(&AuthConfig {
        audience: Some("switchboard".into()),
        issuer: Some("https://issuer.example".into()),
        ..hmac_config(SECRET)
    })
    .unwrap();
    let now = get_current_timestamp();
    let good = json!({"sub": "alice", "exp": now + 3600, "aud": "switchboard", "iss": "https://issuer.example"});
    assert!(auth.authenticate(Some(&sign(&good, SECRET))).is_ok());
    let with = |key: &str, value: Value| {
        let mut claims = good.clone();
        claims[key] = value;
        sign(&claims, SECRET)
    };
    // alg none: a header `{"alg":"none"}` and an empty signature.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let hs384 = encode(
        &Header::new(Algorithm::HS384),
        &good,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    let cases = [
        (none, ErrorCode::TokenAlgorithmNotAllowed),
        (hs384, ErrorCode::TokenAlgorithmNotAllowed),
        (
            sign(&good, b"another secret of thirty-two bytes or longer"),
            ErrorCode::TokenBadSignature,
        ),
        (with("exp", json!(now - 600)), ErrorCode::TokenExpired),
        (with("nbf", json!(now + 600)), ErrorCode::TokenNotYetValid),
        (
            with("aud", json!("another-service")),
            ErrorCode::TokenWrongAudience,
        ),
        (
            with("iss", json!("https://evil.example")),
            ErrorCode::TokenWrongIssuer,
        ),
        (with("sub", json!("ann\u{202e}")), ErrorCode::TokenMalformed),
        (with("sub", json!(42)), ErrorCode::TokenMalformed),
        ("not.a.jwt".to_owned(), ErrorCode::TokenMalformed),
        ("garbage".to_owned(), ErrorCode::TokenMalformed),
    ];
    for (token, code) in cases {
        let refusal = refusal_of(&auth, &token);
        assert_eq!(refusal.code(), code, "{token}");
        assert!(
            !refusal.message().contains(&token),
            "the message repeats the token"
        );
    }
    // A missing `aud` or `iss` is refused when one is configured.
    let mut no_aud = good.clone();
    no_aud.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        refusal_of(&auth, &sign(&no_aud, SECRET)),
        AuthRefusal::WrongAudience
    );
    let mut no_exp = good.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        refusal_of(&auth, &sign(&no_exp, SECRET)).code(),
        ErrorCode::TokenMalformed
    );
}

#[test]
fn required_refuses_anonymous_and_optional_allows_it() {
    let optional = Authenticator::new(&hmac_config(SECRET)).unwrap();
    assert_eq!(optional.authenticate(None), Ok(None));
    let required = Authenticator::new(&AuthConfig {
        required: true,
        ..hmac_config(SECRET)
    })
    .unwrap();
    assert_eq!(required.authenticate(None), Err(AuthRefusal::Required));
    assert_eq!(required.authenticate(Some("")), Err(AuthRefusal::Required));
    // No key at all: tokens are not checked, everyone is anonymous.
    let off = Authenticator::new(&AuthConfig::default()).unwrap();
    assert_eq!(off.authenticate(Some("anything")), Ok(None));
}

#[test]
fn the_previous_secret_still_verifies_during_a_rotation() {
    let auth = Authenticator::new(&AuthConfig {
        hmac_secret_previous: Some(Secret::new(PREVIOUS)),
        ..hmac_config(SECRET)
    })
    .unwrap();
    let claims = json!({"sub": "alice", "exp": hour_from_now()});
    for secret in [SECRET, PREVIOUS] {
        assert!(auth.authenticate(Some(&sign(&claims, secret))).is_ok());
    }
    let expired = json!({"sub": "alice", "exp": get_current_timestamp() - 600});
    assert_eq!(
        refusal_of(&auth, &sign(&expired, PREVIOUS)),
        AuthRefusal::Expired
    );
}

#[test]
fn es256_with_a_public_key_and_no_key_confusion() {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let dir = std::env::temp_dir().join(format!("switchboard-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("es256.pem");
    std::fs::write(&path, pair.public_key_pem()).unwrap();
    let auth = Authenticator::new(&AuthConfig {
        public_key_file: Some(path.clone()),
        ..AuthConfig::default()
    })
    .unwrap();
    let claims = json!({"sub": "carol", "exp": hour_from_now()});
    let signing = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let token = encode(&Header::new(Algorithm::ES256), &claims, &signing).unwrap();
    let granted = auth.authenticate(Some(&token)).unwrap().unwrap();
    assert_eq!(granted.identity.user, "carol");
    // The public key's PEM as an HMAC secret: refused for its algorithm.
    let confused = sign(&claims, pair.public_key_pem().as_bytes());
    assert_eq!(
        refusal_of(&auth, &confused),
        AuthRefusal::AlgorithmNotAllowed
    );
    std::fs::write(
        &path,
        "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let err = Authenticator::new(&AuthConfig {
        public_key_file: Some(path.clone()),
        ..AuthConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::AuthPublicKey { .. }), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn settings_the_server_cannot_run_with_are_refused() {
    let short = Authenticator::new(&hmac_config(b"short")).unwrap_err();
    assert!(matches!(
        short,
        ConfigError::AuthSecretTooShort { len: 5, .. }
    ));
    let required_without_key = Authenticator::new(&AuthConfig {
        required: true,
        ..AuthConfig::default()
    })
    .unwrap_err();
    assert_eq!(required_without_key, ConfigError::AuthRequiredWithoutKey);
    let missing = Authenticator::new(&AuthConfig {
        public_key_file: Some("/nonexistent/key.pem".into()),
        ..AuthConfig::default()
    })
    .unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/key.pem"),
        "{missing}"
    );
    let shown = format!("{:?}", hmac_config(SECRET));
    assert!(!shown.contains("development"), "{shown}");
}
