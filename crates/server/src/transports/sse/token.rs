//! SSE resume tokens: the `id:` of an event, sent back by the browser as `Last-Event-ID`.
//!
//! One stream carries several channels, so the token names a position in each:
//! `<epoch>;<channel>=<seq>;<channel>=<seq>...`, e.g. `3f9c0a1b2c4d;broadcast=3;lobby=12`,
//! listing every channel the stream is subscribed to with the last `seq` it has delivered
//! (or, right after subscribing, the `seq` the subscription started at). Channel names
//! never contain `;` or `=` (see the channel-name rule), so the format needs no escaping.
//! A reconnect subscribes each listed channel with `since` = that seq and `epoch`, so the
//! hub replays what was missed or announces a `gap`.

use std::collections::BTreeMap;

use switchboard_hub::Delivery;
use switchboard_protocol::ChannelName;

/// The longest token accepted, in bytes: 128 subscriptions of 128-byte names with their
/// seqs fit; anything longer is not one of ours.
pub(crate) const MAX_TOKEN_BYTES: usize = 24 * 1024;

/// A parsed resume token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResumeToken {
    pub(crate) epoch: String,
    pub(crate) positions: BTreeMap<ChannelName, u64>,
}

/// Why a `Last-Event-ID` was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("the resume token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("the resume token has no epoch")]
    NoEpoch,
    #[error("{0:?} is not `<channel>=<seq>`")]
    BadPosition(String),
}

impl ResumeToken {
    pub(crate) fn parse(text: &str) -> Result<Self, TokenError> {
        if text.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let mut parts = text.split(';');
        let epoch = parts.next().unwrap_or_default();
        if epoch.is_empty() || !epoch.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(TokenError::NoEpoch);
        }
        let mut positions = BTreeMap::new();
        for part in parts {
            let bad = || TokenError::BadPosition(part.chars().take(140).collect());
            let (name, seq) = part.split_once('=').ok_or_else(bad)?;
            let channel = ChannelName::new(name).map_err(|_| bad())?;
            let seq = seq.parse::<u64>().map_err(|_| bad())?;
            positions.insert(channel, seq);
        }
        Ok(Self {
            epoch: epoch.to_owned(),
            positions,
        })
    }
}

/// The positions a stream has delivered, kept up to date event by event.
#[derive(Debug)]
pub(crate) struct StreamPositions {
    epoch: String,
    positions: BTreeMap<ChannelName, u64>,
}

/// The fields of `subscribed` this module reads.
#[derive(serde::Deserialize)]
struct SubscribedFields {
    channel: String,
    seq: u64,
    recovered: u64,
}

/// The fields of `unsubscribed` this module reads.
#[derive(serde::Deserialize)]
struct UnsubscribedFields {
    channel: String,
}

impl StreamPositions {
    pub(crate) fn new(epoch: &str) -> Self {
        Self {
            epoch: epoch.to_owned(),
            positions: BTreeMap::new(),
        }
    }

    /// Accounts for one delivery; true when the token changed (so the event carries `id:`).
    ///
    /// A `subscribed` reply sets the channel's position to `seq - recovered`: the seq
    /// just before the recovered messages that follow it (or the channel's last seq
    /// when nothing follows), so a reconnect in between loses none of them.
    pub(crate) fn observe(&mut self, delivery: &Delivery) -> bool {
        if let Some(position) = &delivery.position {
            let old = self
                .positions
                .insert(position.channel.clone(), position.seq);
            return old != Some(position.seq);
        }
        match delivery.kind {
            "subscribed" => {
                let Ok(fields) = serde_json::from_slice::<SubscribedFields>(&delivery.json) else {
                    return false;
                };
                let Ok(channel) = ChannelName::new(&fields.channel) else {
                    return false;
                };
                let seq = fields.seq.saturating_sub(fields.recovered);
                self.positions.insert(channel, seq) != Some(seq)
            }
            "unsubscribed" => {
                let Ok(fields) = serde_json::from_slice::<UnsubscribedFields>(&delivery.json)
                else {
                    return false;
                };
                ChannelName::new(&fields.channel)
                    .is_ok_and(|channel| self.positions.remove(&channel).is_some())
            }
            _ => false,
        }
    }

    /// The current token.
    pub(crate) fn token(&self) -> String {
        let mut token = self.epoch.clone();
        for (channel, seq) in &self.positions {
            token.push(';');
            token.push_str(channel.as_str());
            token.push('=');
            token.push_str(&seq.to_string());
        }
        token
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use switchboard_hub::delivery::Position;

    use super::*;

    fn channel_message(channel: &str, seq: u64) -> Delivery {
        Delivery {
            kind: "chat",
            position: Some(Position {
                channel: ChannelName::new(channel).unwrap(),
                seq,
            }),
            json: Bytes::from_static(b"{}"),
        }
    }

    fn reply(kind: &'static str, json: &'static str) -> Delivery {
        Delivery {
            kind,
            position: None,
            json: Bytes::from_static(json.as_bytes()),
        }
    }

    #[test]
    fn tracks_every_channel_and_round_trips() {
        let mut stream = StreamPositions::new("e0");
        assert!(stream.observe(&reply(
            "subscribed",
            r#"{"type":"subscribed","channel":"lobby","epoch":"e0","seq":10,"resumed":true,"recovered":4}"#
        )));
        assert_eq!(stream.token(), "e0;lobby=6");
        assert!(stream.observe(&channel_message("lobby", 7)));
        assert!(stream.observe(&channel_message("broadcast", 3)));
        assert!(!stream.observe(&reply("pong", r#"{"type":"pong","ts":1}"#)));
        let token = stream.token();
        assert_eq!(token, "e0;broadcast=3;lobby=7");
        let parsed = ResumeToken::parse(&token).unwrap();
        assert_eq!(parsed.epoch, "e0");
        assert_eq!(
            parsed.positions.get(&ChannelName::new("lobby").unwrap()),
            Some(&7)
        );
        assert!(stream.observe(&reply(
            "unsubscribed",
            r#"{"type":"unsubscribed","channel":"lobby"}"#
        )));
        assert_eq!(stream.token(), "e0;broadcast=3");
    }

    #[test]
    fn rejects_what_is_not_a_token() {
        assert_eq!(ResumeToken::parse(""), Err(TokenError::NoEpoch));
        assert_eq!(ResumeToken::parse("a b;x=1"), Err(TokenError::NoEpoch));
        for bad in ["e;lobby", "e;lobby=x", "e;bad name=1", "e;=1", "e;lobby=-1"] {
            assert!(
                matches!(ResumeToken::parse(bad), Err(TokenError::BadPosition(_))),
                "{bad}"
            );
        }
        let long = format!("e;{}", "a=1;".repeat(MAX_TOKEN_BYTES));
        assert_eq!(ResumeToken::parse(&long), Err(TokenError::TooLong));
        assert_eq!(ResumeToken::parse("e").unwrap().positions.len(), 0);
    }

    mod properties {
        //! The token parser takes a browser's `Last-Event-ID` as is: it must never panic,
        //! and every token a stream writes must parse back to the positions it holds.

        use proptest::prelude::*;

        use super::*;

        fn config() -> ProptestConfig {
            ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn parsing_never_panics(text in any::<String>()) {
                let _ = ResumeToken::parse(&text);
            }

            #[test]
            fn parsing_never_panics_on_token_shaped_text(
                text in "[a-z0-9]{0,4}(;[a-z.:\\-_=0-9 ;]{0,12}){0,6}",
            ) {
                let _ = ResumeToken::parse(&text);
            }

            #[test]
            fn written_tokens_parse_back(
                epoch in "[A-Za-z0-9]{1,16}",
                positions in prop::collection::btree_map("[A-Za-z0-9_.:-]{1,30}", any::<u64>(), 0..12),
            ) {
                let mut stream = StreamPositions::new(&epoch);
                for (channel, seq) in &positions {
                    stream.observe(&channel_message(channel, *seq));
                }
                let parsed = ResumeToken::parse(&stream.token()).unwrap();
                prop_assert_eq!(parsed.epoch, epoch);
                let expected: BTreeMap<ChannelName, u64> = positions
                    .iter()
                    .map(|(channel, seq)| (ChannelName::new(channel).unwrap(), *seq))
                    .collect();
                prop_assert_eq!(parsed.positions, expected);
            }
        }
    }
}
