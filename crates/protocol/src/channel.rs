//! Channel names: the one rule every transport and the hub agree on.
//!
//! A channel name is 1 to [`MAX_CHANNEL_NAME_LEN`] bytes of ASCII letters, digits and
//! `_ - . :`. The rule keeps names safe to use unescaped in URLs (`?channels=a,b`), in SSE
//! resume tokens and in Redis keys, and bounds what a client can make the server store.

use std::{fmt, sync::Arc};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest channel name accepted, in bytes.
pub const MAX_CHANNEL_NAME_LEN: usize = 128;

/// A validated channel name, cheap to clone (shared string).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelName(Arc<str>);

/// Why a string is not a channel name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidChannelName {
    /// The name is the empty string.
    #[error("channel name is empty")]
    Empty,
    /// The name is longer than [`MAX_CHANNEL_NAME_LEN`] bytes.
    #[error("channel name is longer than {MAX_CHANNEL_NAME_LEN} bytes")]
    TooLong,
    /// The name holds this character, which is none of ASCII letters, digits and `_ - . :`
    /// (the first such one).
    #[error("channel name may only contain ASCII letters, digits and _ - . : (found {0:?})")]
    BadCharacter(char),
}

impl ChannelName {
    /// Validates `name` against the channel-name rule.
    pub fn new(name: &str) -> Result<Self, InvalidChannelName> {
        if name.is_empty() {
            return Err(InvalidChannelName::Empty);
        }
        if name.len() > MAX_CHANNEL_NAME_LEN {
            return Err(InvalidChannelName::TooLong);
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
        {
            return Err(InvalidChannelName::BadCharacter(bad));
        }
        Ok(Self(Arc::from(name)))
    }

    /// The channel a chat goes to when it names none ([`crate::DEFAULT_CHAT_CHANNEL`]).
    pub fn default_chat() -> Self {
        // A constant known to follow the rule (a test checks it), so no check at run time.
        Self(Arc::from(crate::DEFAULT_CHAT_CHANNEL))
    }

    /// The name as text (always valid under the rule, so safe unescaped in a URL).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::ops::Deref for ChannelName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ChannelName {
    type Err = InvalidChannelName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl Serialize for ChannelName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChannelName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::new(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in [
            "lobby",
            "a",
            "room-1",
            "user_42",
            "metrics.cpu",
            "ns:chan",
            &"x".repeat(128),
        ] {
            assert!(ChannelName::new(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn the_default_chat_channel_follows_the_rule() {
        assert_eq!(
            ChannelName::new(crate::DEFAULT_CHAT_CHANNEL),
            Ok(ChannelName::default_chat())
        );
    }

    #[test]
    fn rejects_everything_else() {
        assert_eq!(ChannelName::new(""), Err(InvalidChannelName::Empty));
        assert_eq!(
            ChannelName::new(&"x".repeat(129)),
            Err(InvalidChannelName::TooLong)
        );
        assert_eq!(
            ChannelName::new("a b"),
            Err(InvalidChannelName::BadCharacter(' '))
        );
        assert_eq!(
            ChannelName::new("a,b"),
            Err(InvalidChannelName::BadCharacter(','))
        );
        assert_eq!(
            ChannelName::new("é"),
            Err(InvalidChannelName::BadCharacter('é'))
        );
    }
}
