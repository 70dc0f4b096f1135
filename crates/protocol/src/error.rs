//! Numbered error codes sent in `error` messages, and the close codes the server uses.
//!
//! Codes are grouped: `1xx` the request itself is wrong (the connection stays open),
//! `2xx` transport and session problems, `3xx` the server's own state, `4xx` who is
//! asking: a missing or forged session credential, a browser origin or `Host` the server
//! does not serve (the request is refused and nothing happened). The numbers are
//! part of the protocol: they never change meaning once released. `docs/protocol.md`
//! lists each with an example.

use serde::{Deserialize, Serialize};

use crate::request_id::RequestId;

/// A client-visible error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The message is not valid JSON, or not a JSON object.
    InvalidJson,
    /// The object has no `type` field, or it is not a string.
    MissingType,
    /// The `type` is not one this server knows.
    UnknownType,
    /// A field is missing, has the wrong JSON type, or is out of its allowed range.
    InvalidField,
    /// A channel name breaks the channel-name rule.
    InvalidChannel,
    /// The message is larger than the limit announced in `welcome`.
    MessageTooLarge,
    /// A binary frame arrived where the protocol expects JSON text.
    UnsupportedFrame,
    /// A `custom` message named an action this server does not know.
    UnknownAction,
    /// `unsubscribe` for a channel this connection is not subscribed to.
    NotSubscribed,
    /// The channel is written only by the server (`broadcast`, `clock`, `metrics`, `weather`).
    ReadOnlyChannel,
    /// The connection already holds the maximum number of subscriptions.
    TooManySubscriptions,
    /// The hub already holds the maximum number of channels.
    TooManyChannels,
    /// `since` is ahead of the channel's last sequence number in the same epoch.
    InvalidSince,
    /// The connection sent faster than its rate limit; messages are dropped until it slows.
    RateLimited,
    /// A chat `user` name that is blank or holds control characters (NUL included) or
    /// bidirectional overrides (U+202A–U+202E, U+2066–U+2069).
    InvalidUserName,
    /// The client's address already created the most channels one address may hold at once.
    ChannelQuotaExceeded,
    /// Published `data` that some JSON parsers cannot read back: a string with a lone
    /// UTF-16 surrogate escape (`"\ud800"`) or a number outside the range of a 64-bit
    /// float (`1e999999`).
    InvalidData,
    /// A key appears twice at the top level of a client message (`{"type":"ping","type":"ping"}`).
    DuplicateKey,
    /// The connection or session id is not known (expired, closed, or never existed).
    UnknownConnection,
    /// A second poll arrived while one is still held for the same session.
    ConcurrentPoll,
    /// The request's `Content-Type` is not the one this endpoint accepts.
    WrongContentType,
    /// Too many sessions from one client address.
    TooManySessions,
    /// The transport is turned off by configuration.
    TransportDisabled,
    /// A length-prefixed frame header announced more than the frame limit.
    FrameTooLarge,
    /// The request body is larger than the limit.
    BodyTooLarge,
    /// The client's address holds the maximum number of open connections.
    TooManyConnections,
    /// The request body did not arrive in full within the body timeout.
    RequestTimeout,
    /// The server is shutting down.
    ShuttingDown,
    /// Something went wrong inside the server; the message says what.
    Internal,
    /// The server holds the maximum number of open connections.
    ServerFull,
    /// An SSE or polling request without the session's `session_token`, or with one that
    /// the server did not issue for that session (a `connection_id` is public and grants nothing).
    InvalidSessionToken,
    /// A browser request (one carrying `Origin`) from an origin the server does not allow.
    OriginNotAllowed,
    /// A request to the dashboard or its API naming a `Host` the server does not answer to.
    HostNotAllowed,
    /// A connection without an auth token where `--auth-required true` asks for one.
    AuthRequired,
    /// The auth token is not a well-formed JWT (three base64url parts, a JSON header and
    /// claims, a string `sub`, a numeric `exp`).
    TokenMalformed,
    /// The token's `alg` is one this server does not accept for its key (`none` never is).
    TokenAlgorithmNotAllowed,
    /// The token's signature does not verify with the configured secret or public key.
    TokenBadSignature,
    /// The token's `exp` is in the past.
    TokenExpired,
    /// The token's `nbf` is in the future.
    TokenNotYetValid,
    /// The token's `aud` does not name the configured `--auth-audience`.
    TokenWrongAudience,
    /// The token's `iss` is not the configured `--auth-issuer`.
    TokenWrongIssuer,
    /// The connection simulator and the protocol comparison answer loopback callers only.
    LocalOnly,
}

impl ErrorCode {
    /// Every code, in numeric order (used by the docs test and `get_stats`).
    pub const ALL: [ErrorCode; 42] = [
        ErrorCode::InvalidJson,
        ErrorCode::MissingType,
        ErrorCode::UnknownType,
        ErrorCode::InvalidField,
        ErrorCode::InvalidChannel,
        ErrorCode::MessageTooLarge,
        ErrorCode::UnsupportedFrame,
        ErrorCode::UnknownAction,
        ErrorCode::NotSubscribed,
        ErrorCode::ReadOnlyChannel,
        ErrorCode::TooManySubscriptions,
        ErrorCode::TooManyChannels,
        ErrorCode::InvalidSince,
        ErrorCode::RateLimited,
        ErrorCode::InvalidUserName,
        ErrorCode::ChannelQuotaExceeded,
        ErrorCode::InvalidData,
        ErrorCode::DuplicateKey,
        ErrorCode::UnknownConnection,
        ErrorCode::ConcurrentPoll,
        ErrorCode::WrongContentType,
        ErrorCode::TooManySessions,
        ErrorCode::TransportDisabled,
        ErrorCode::FrameTooLarge,
        ErrorCode::BodyTooLarge,
        ErrorCode::TooManyConnections,
        ErrorCode::RequestTimeout,
        ErrorCode::ShuttingDown,
        ErrorCode::Internal,
        ErrorCode::ServerFull,
        ErrorCode::InvalidSessionToken,
        ErrorCode::OriginNotAllowed,
        ErrorCode::HostNotAllowed,
        ErrorCode::AuthRequired,
        ErrorCode::TokenMalformed,
        ErrorCode::TokenAlgorithmNotAllowed,
        ErrorCode::TokenBadSignature,
        ErrorCode::TokenExpired,
        ErrorCode::TokenNotYetValid,
        ErrorCode::TokenWrongAudience,
        ErrorCode::TokenWrongIssuer,
        ErrorCode::LocalOnly,
    ];

    /// The number sent as `code`.
    pub const fn code(self) -> u16 {
        match self {
            ErrorCode::InvalidJson => 100,
            ErrorCode::MissingType => 101,
            ErrorCode::UnknownType => 102,
            ErrorCode::InvalidField => 103,
            ErrorCode::InvalidChannel => 104,
            ErrorCode::MessageTooLarge => 105,
            ErrorCode::UnsupportedFrame => 106,
            ErrorCode::UnknownAction => 107,
            ErrorCode::NotSubscribed => 108,
            ErrorCode::ReadOnlyChannel => 109,
            ErrorCode::TooManySubscriptions => 110,
            ErrorCode::TooManyChannels => 111,
            ErrorCode::InvalidSince => 112,
            ErrorCode::RateLimited => 113,
            ErrorCode::InvalidUserName => 114,
            ErrorCode::ChannelQuotaExceeded => 115,
            ErrorCode::InvalidData => 116,
            ErrorCode::DuplicateKey => 117,
            ErrorCode::UnknownConnection => 200,
            ErrorCode::ConcurrentPoll => 201,
            ErrorCode::WrongContentType => 202,
            ErrorCode::TooManySessions => 203,
            ErrorCode::TransportDisabled => 204,
            ErrorCode::FrameTooLarge => 205,
            ErrorCode::BodyTooLarge => 206,
            ErrorCode::TooManyConnections => 207,
            ErrorCode::RequestTimeout => 208,
            ErrorCode::ShuttingDown => 300,
            ErrorCode::Internal => 301,
            ErrorCode::ServerFull => 302,
            ErrorCode::InvalidSessionToken => 400,
            ErrorCode::OriginNotAllowed => 401,
            ErrorCode::HostNotAllowed => 402,
            ErrorCode::AuthRequired => 403,
            ErrorCode::TokenMalformed => 404,
            ErrorCode::TokenAlgorithmNotAllowed => 405,
            ErrorCode::TokenBadSignature => 406,
            ErrorCode::TokenExpired => 407,
            ErrorCode::TokenNotYetValid => 408,
            ErrorCode::TokenWrongAudience => 409,
            ErrorCode::TokenWrongIssuer => 410,
            ErrorCode::LocalOnly => 411,
        }
    }

    /// The stable snake_case name sent as `error`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::MissingType => "missing_type",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::InvalidChannel => "invalid_channel",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::UnsupportedFrame => "unsupported_frame",
            ErrorCode::UnknownAction => "unknown_action",
            ErrorCode::NotSubscribed => "not_subscribed",
            ErrorCode::ReadOnlyChannel => "read_only_channel",
            ErrorCode::TooManySubscriptions => "too_many_subscriptions",
            ErrorCode::TooManyChannels => "too_many_channels",
            ErrorCode::InvalidSince => "invalid_since",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::InvalidUserName => "invalid_user_name",
            ErrorCode::ChannelQuotaExceeded => "channel_quota_exceeded",
            ErrorCode::InvalidData => "invalid_data",
            ErrorCode::DuplicateKey => "duplicate_key",
            ErrorCode::UnknownConnection => "unknown_connection",
            ErrorCode::ConcurrentPoll => "concurrent_poll",
            ErrorCode::WrongContentType => "wrong_content_type",
            ErrorCode::TooManySessions => "too_many_sessions",
            ErrorCode::TransportDisabled => "transport_disabled",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
            ErrorCode::ServerFull => "server_full",
            ErrorCode::InvalidSessionToken => "invalid_session_token",
            ErrorCode::OriginNotAllowed => "origin_not_allowed",
            ErrorCode::HostNotAllowed => "host_not_allowed",
            ErrorCode::AuthRequired => "auth_required",
            ErrorCode::TokenMalformed => "token_malformed",
            ErrorCode::TokenAlgorithmNotAllowed => "token_algorithm_not_allowed",
            ErrorCode::TokenBadSignature => "token_bad_signature",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::TokenNotYetValid => "token_not_yet_valid",
            ErrorCode::TokenWrongAudience => "token_wrong_audience",
            ErrorCode::TokenWrongIssuer => "token_wrong_issuer",
            ErrorCode::LocalOnly => "local_only",
        }
    }

    /// Looks a code up by its number (clients use this to map `error.code` back).
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code(), self.name())
    }
}

/// An error to send to a client: a code, a human-readable message and the request id it answers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProtocolError {
    /// What kind of error, sent as `code` and `error`.
    pub code: ErrorCode,
    /// What went wrong, in words, sent as `message`.
    pub message: String,
    /// The id of the request it answers, echoed as `id`; `None` when the request had none
    /// or its id could not be read.
    pub id: Option<RequestId>,
}

impl ProtocolError {
    /// An error answering no particular request (`id` unset; see [`ProtocolError::with_id`]).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            id: None,
        }
    }

    /// The same error, answering the request `id` (replaces any id already set).
    pub fn with_id(mut self, id: Option<RequestId>) -> Self {
        self.id = id;
        self
    }
}

/// Close codes the server sends on WebSocket close frames (and reports on other transports).
///
/// The 1xxx codes are RFC 6455's; the 4xxx codes are switchboard's own (the range RFC 6455
/// leaves to applications). A client should reconnect (with `since`) after every code except
/// 1002, 1003, 1007 and 1009, which say the client itself sent something wrong:
/// [`CloseCode::should_reconnect`] and [`should_reconnect_after`] are that rule as code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CloseCode {
    /// 1000: the connection is closed on purpose and cleanly.
    Normal,
    /// 1001: the server is shutting down.
    GoingAway,
    /// 1002: the peer broke the WebSocket protocol (bad frame, unmasked client frame...).
    ProtocolError,
    /// 1007: a text frame was not valid UTF-8.
    InvalidPayload,
    /// 1009: a message or frame exceeded the size limit.
    MessageTooBig,
    /// 1011: the server hit an internal error.
    InternalError,
    /// 4000: nothing arrived from the client within the idle timeout.
    IdleTimeout,
    /// 4001: the client read too slowly and its outbound queue overflowed.
    SlowConsumer,
}

impl CloseCode {
    /// Every close code the server sends, in numeric order.
    pub const ALL: [CloseCode; 8] = [
        CloseCode::Normal,
        CloseCode::GoingAway,
        CloseCode::ProtocolError,
        CloseCode::InvalidPayload,
        CloseCode::MessageTooBig,
        CloseCode::InternalError,
        CloseCode::IdleTimeout,
        CloseCode::SlowConsumer,
    ];

    /// Looks a close code up by its number; `None` for codes the server never sends.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Whether a client should connect again (with backoff, resuming with `since`) after
    /// the server closed with this code: the "reconnect?" column of `docs/protocol.md`.
    ///
    /// No for the codes that blame the client's own bytes (1002, 1007, 1009): the same
    /// client would send the same thing and be closed the same way. Yes for the rest,
    /// including 1000: the server ended a connection the client had not given up (a client
    /// that closed on purpose is not asking).
    pub const fn should_reconnect(self) -> bool {
        match self {
            CloseCode::ProtocolError | CloseCode::InvalidPayload | CloseCode::MessageTooBig => {
                false
            }
            CloseCode::Normal
            | CloseCode::GoingAway
            | CloseCode::InternalError
            | CloseCode::IdleTimeout
            | CloseCode::SlowConsumer => true,
        }
    }

    /// The number sent in the close frame (or `close` notice): 1000–1011 from RFC 6455,
    /// 4000 and up switchboard's own.
    pub const fn code(self) -> u16 {
        match self {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::ProtocolError => 1002,
            CloseCode::InvalidPayload => 1007,
            CloseCode::MessageTooBig => 1009,
            CloseCode::InternalError => 1011,
            CloseCode::IdleTimeout => 4000,
            CloseCode::SlowConsumer => 4001,
        }
    }

    /// The short reason sent with the close frame.
    pub const fn reason(self) -> &'static str {
        match self {
            CloseCode::Normal => "normal closure",
            CloseCode::GoingAway => "server shutting down",
            CloseCode::ProtocolError => "protocol error",
            CloseCode::InvalidPayload => "invalid UTF-8 in text frame",
            CloseCode::MessageTooBig => "message too big",
            CloseCode::InternalError => "internal error",
            CloseCode::IdleTimeout => "idle timeout",
            CloseCode::SlowConsumer => "slow consumer: outbound queue overflowed",
        }
    }
}

/// RFC 6455's 1003: the peer sent a kind of data it cannot accept. switchboard answers
/// binary frames with error 106 instead, but a proxy or another server may send it.
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;

/// [`CloseCode::should_reconnect`] for any number a close frame or notice can carry. A
/// number the server does not send is a reason to reconnect unless it is 1003, which,
/// like 1002/1007/1009, says the client's own data was refused (`docs/protocol.md`).
pub fn should_reconnect_after(code: u16) -> bool {
    match CloseCode::from_code(code) {
        Some(known) => known.should_reconnect(),
        None => code != CLOSE_UNSUPPORTED_DATA,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_round_trip() {
        for close in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(close.code()), Some(close));
        }
        assert_eq!(CloseCode::from_code(1003), None);
    }

    #[test]
    fn a_clean_close_by_the_server_is_reconnected() {
        assert!(CloseCode::Normal.should_reconnect());
        assert!(should_reconnect_after(1000));
    }

    #[test]
    fn shutdown_is_reconnected() {
        assert!(CloseCode::GoingAway.should_reconnect());
        assert!(should_reconnect_after(1001));
    }

    #[test]
    fn a_protocol_error_is_not_reconnected() {
        assert!(!CloseCode::ProtocolError.should_reconnect());
        assert!(!should_reconnect_after(1002));
    }

    #[test]
    fn unsupported_data_is_not_reconnected() {
        assert!(!should_reconnect_after(CLOSE_UNSUPPORTED_DATA));
    }

    #[test]
    fn invalid_utf8_is_not_reconnected() {
        assert!(!CloseCode::InvalidPayload.should_reconnect());
        assert!(!should_reconnect_after(1007));
    }

    #[test]
    fn a_message_too_big_is_not_reconnected() {
        assert!(!CloseCode::MessageTooBig.should_reconnect());
        assert!(!should_reconnect_after(1009));
    }

    #[test]
    fn an_internal_error_is_reconnected() {
        assert!(CloseCode::InternalError.should_reconnect());
        assert!(should_reconnect_after(1011));
    }

    #[test]
    fn an_idle_timeout_is_reconnected() {
        assert!(CloseCode::IdleTimeout.should_reconnect());
        assert!(should_reconnect_after(4000));
    }

    #[test]
    fn a_slow_consumer_is_reconnected() {
        assert!(CloseCode::SlowConsumer.should_reconnect());
        assert!(should_reconnect_after(4001));
    }

    #[test]
    fn codes_the_server_never_sends_are_reconnected_except_1003() {
        for code in [1006, 1012, 1013, 4999] {
            assert!(should_reconnect_after(code), "{code}");
        }
    }

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.code()), "duplicate code {}", code.code());
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
        }
    }
}
