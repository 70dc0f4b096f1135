//! Property tests of the protocol's parsers that take untrusted bytes: the JSON client
//! message parser, both raw TCP framings' decoder, and the poll request body. Each
//! property runs a bounded number of cases (see [`CASES`]) so the suite stays within
//! seconds (a hunt of 20,000 cases each found nothing more); a failing input proptest finds is kept as a named regression test below.
//!
//! - Never panics: arbitrary strings, arbitrary bytes (read as UTF-8 where the parser
//!   takes text), and JSON-shaped text built from the protocol's own keys.
//! - Round trip: every message built with `ClientMessage`'s constructors parses back to
//!   the same JSON; every poll request serialized parses back to the same request.
//! - Any split: a valid framed stream decodes to the same frames however it is cut.

// Test code: an unwrap that fails is a test that fails, with the value in its message.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use serde_json::json;
use switchboard_protocol::{
    ChannelName, ClientMessage,
    envelope::{ChannelSpec, PollRequest},
    frame::{FrameCodec, Framing},
    parse_client_message,
};
use tokio_util::codec::{Decoder, Encoder};

/// Cases per property: enough to find the shallow bugs in about a second on 2 cores.
/// `PROPTEST_CASES=100000` runs a longer hunt.
const CASES: u32 = 1024;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(CASES);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// JSON-ish text made of the protocol's keys, values and stray punctuation, so the
/// parser's deeper paths (typed fields, data checks, duplicates) are reached, not just
/// its first syntax error.
fn jsonish() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("\"type\"".to_owned()),
        Just("\"id\"".to_owned()),
        Just("\"channel\"".to_owned()),
        Just("\"data\"".to_owned()),
        Just("\"since\"".to_owned()),
        Just("\"user\"".to_owned()),
        Just("\"text\"".to_owned()),
        Just("\"publish\"".to_owned()),
        Just("\"subscribe\"".to_owned()),
        Just("\"chat\"".to_owned()),
        Just("\"ping\"".to_owned()),
        Just("\"custom\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("\"\\udc00\\ud800\"".to_owned()),
        Just("1e999999".to_owned()),
        Just("-0".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("null".to_owned()),
        Just(":".to_owned()),
        Just(",".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        "\"[a-z\\\\\"]{0,6}\"".prop_map(|s| s),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
    ];
    prop::collection::vec(atom, 0..24).prop_map(|atoms| format!("{{{}}}", atoms.concat()))
}

fn channel() -> impl Strategy<Value = ChannelName> {
    "[A-Za-z0-9_.:-]{1,20}".prop_map(|name| ChannelName::new(&name).unwrap())
}

/// Messages built the way clients build them.
fn built_message() -> impl Strategy<Value = ClientMessage> {
    let data = prop_oneof![
        Just(json!(null)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<String>().prop_map(|s| json!({"s": s, "n": [1, 2.5]})),
    ];
    let message = prop_oneof![
        (
            channel(),
            "[^\\p{Cc}\u{202a}-\u{202e}\u{2066}-\u{2069}]{1,20}",
            any::<String>()
        )
            .prop_filter("a name that is not blank", |(_, user, _)| !user
                .trim()
                .is_empty())
            .prop_map(|(c, user, text)| ClientMessage::chat(c, user, text)),
        any::<String>().prop_map(ClientMessage::broadcast),
        Just(ClientMessage::ping()),
        ("[a-z_]{1,12}", prop::option::of(data.clone()))
            .prop_map(|(action, data)| ClientMessage::custom(action, data)),
        channel().prop_map(ClientMessage::subscribe),
        (channel(), any::<u64>(), "[a-f0-9]{1,12}")
            .prop_map(|(c, since, epoch)| ClientMessage::resume(c, since, epoch)),
        channel().prop_map(ClientMessage::unsubscribe),
        (channel(), data).prop_map(|(c, data)| ClientMessage::publish(c, &data).unwrap()),
        channel().prop_map(ClientMessage::presence),
    ];
    (message, prop::option::of(any::<u64>())).prop_map(|(message, id)| match id {
        Some(id) => message.with_id(id),
        None => message,
    })
}

/// Encodes `payloads` one after another in `framing`.
fn framed(framing: Framing, payloads: &[Vec<u8>], limit: usize) -> BytesMut {
    let mut codec = FrameCodec::new(framing, limit);
    let mut out = BytesMut::new();
    for payload in payloads {
        codec
            .encode(Bytes::copy_from_slice(payload), &mut out)
            .unwrap();
    }
    out
}

/// Feeds `stream` to a decoder in the pieces `cuts` makes, collecting frames until
/// the decoder errs (returned as `Err` with the frames so far).
fn decode_split(
    framing: Framing,
    stream: &[u8],
    cuts: &[usize],
    limit: usize,
) -> Result<Vec<Bytes>, Vec<Bytes>> {
    let mut codec = FrameCodec::new(framing, limit);
    let mut buffer = BytesMut::new();
    let mut frames = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    points.push(0);
    points.push(stream.len());
    points.sort_unstable();
    for piece in points.windows(2) {
        buffer.extend_from_slice(&stream[piece[0]..piece[1]]);
        loop {
            match codec.decode(&mut buffer) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(_) => return Err(frames),
            }
        }
    }
    Ok(frames)
}

/// A JSON value as a client might write it: strings with `\\u` escapes (surrogates
/// paired, lone or reversed) and numbers with any exponent, in arrays and objects.
fn data_value() -> impl Strategy<Value = String> {
    let escape = prop_oneof![
        (0xD800u32..0xE000).prop_map(|u| format!("\\u{u:04x}")),
        any::<u16>().prop_map(|u| format!("\\u{u:04X}")),
        "[a-z \\\\/]{0,3}".prop_map(|s| s.replace('\\', "\\\\")),
    ];
    let string =
        prop::collection::vec(escape, 0..4).prop_map(|parts| format!("\"{}\"", parts.concat()));
    let number = (any::<i32>(), prop::option::of(-400i32..400), "[0-9]{0,3}").prop_map(
        |(mantissa, exponent, fraction)| {
            let fraction = if fraction.is_empty() {
                String::new()
            } else {
                format!(".{fraction}")
            };
            match exponent {
                Some(e) => format!("{mantissa}{fraction}e{e}"),
                None => format!("{mantissa}{fraction}"),
            }
        },
    );
    let leaf = prop_oneof![
        string,
        number,
        Just("true".to_owned()),
        Just("null".to_owned())
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(inner, 0..4).prop_map(|v| {
                let fields: Vec<String> = v
                    .iter()
                    .enumerate()
                    .map(|(i, x)| format!("\"k{i}\":{x}"))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }),
        ]
    })
}

const FRAMINGS: [Framing; 2] = [Framing::U32, Framing::Decimal10];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_message_parser_never_panics_on_any_string(text in any::<String>()) {
        let _ = parse_client_message(&text);
    }

    #[test]
    fn the_message_parser_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_client_message(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn the_message_parser_never_panics_on_protocol_shaped_text(text in jsonish()) {
        let _ = parse_client_message(&text);
    }

    #[test]
    fn built_messages_round_trip(message in built_message()) {
        let text = message.to_json();
        let parsed = parse_client_message(&text)
            .map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(parsed.to_json(), text);
    }

    /// publish `data` is refused (116) exactly when a strict parser (serde_json into a
    /// `Value`) cannot read it: a lone surrogate or a number past the f64 range.
    #[test]
    fn publish_data_is_refused_exactly_when_a_strict_parser_cannot_read_it(data in data_value()) {
        let text = format!(r#"{{"type":"publish","channel":"c","data":{data}}}"#);
        let strict_reads = serde_json::from_str::<serde_json::Value>(&data).is_ok();
        match parse_client_message(&text) {
            Ok(_) => prop_assert!(strict_reads, "forwarded what a strict parser refuses: {}", data),
            Err(e) => {
                prop_assert_eq!(e.code, switchboard_protocol::ErrorCode::InvalidData, "{}: {}", data, e);
                prop_assert!(!strict_reads, "refused what a strict parser reads: {}", data);
            }
        }
    }

    #[test]
    fn decoders_never_panic_on_any_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        limit in 0usize..300,
    ) {
        for framing in FRAMINGS {
            let _ = decode_split(framing, &bytes, &cuts, limit);
        }
    }

    #[test]
    fn decoders_handle_any_split_of_a_valid_stream(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..8),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let expected: Vec<Bytes> = payloads.iter().map(|p| Bytes::copy_from_slice(p)).collect();
        for framing in FRAMINGS {
            let stream = framed(framing, &payloads, 200);
            let whole = decode_split(framing, &stream, &[], 200);
            prop_assert_eq!(whole.as_ref(), Ok(&expected), "{} whole", framing);
            let split = decode_split(framing, &stream, &cuts, 200);
            prop_assert_eq!(split.as_ref(), Ok(&expected), "{} cut at {:?}", framing, cuts);
            // One byte at a time, the hardest split.
            let bytewise: Vec<usize> = (0..stream.len()).collect();
            let bytewise = decode_split(framing, &stream, &bytewise, 200);
            prop_assert_eq!(bytewise.as_ref(), Ok(&expected), "{} byte by byte", framing);
        }
    }

    #[test]
    fn poll_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256), text in jsonish()) {
        let _ = serde_json::from_slice::<PollRequest<'_>>(&bytes);
        let _ = serde_json::from_str::<PollRequest<'_>>(&text);
    }

    #[test]
    fn poll_bodies_round_trip(
        token in prop::option::of("[A-Za-z0-9.\"\\\\]{0,40}"),
        cursor in prop::option::of(any::<u64>()),
        channels in prop::option::of(prop::collection::vec(
            prop_oneof![
                "[a-z]{1,8}".prop_map(ChannelSpec::Name),
                ("[a-z]{1,8}", prop::option::of(any::<u64>()), prop::option::of("[a-f0-9]{1,8}"))
                    .prop_map(|(channel, since, epoch)| ChannelSpec::Resume { channel, since, epoch }),
            ],
            0..4,
        )),
        with_message in any::<bool>(),
    ) {
        let request: PollRequest<'_> = PollRequest {
            session_token: token.map(Into::into),
            cursor,
            channels,
            message: with_message.then(|| ClientMessage::ping().to_json())
                .map(|m| serde_json::value::RawValue::from_string(m).unwrap()),
            ..PollRequest::default()
        };
        let text = serde_json::to_string(&request).unwrap();
        let parsed: PollRequest<'_> = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(serde_json::to_string(&parsed).unwrap(), text);
    }
}

/// Found by `built_messages_round_trip`: `custom` with `Some(null)` data was sent as
/// `"data":null`, which the parser reads as no data, so the message the server saw was
/// not the one built.
#[test]
fn regression_custom_with_null_data_round_trips() {
    let message = ClientMessage::custom("a", Some(serde_json::Value::Null));
    let text = message.to_json();
    assert_eq!(text, r#"{"type":"custom","action":"a"}"#);
    assert_eq!(parse_client_message(&text).unwrap().to_json(), text);
}
