//! Length-prefixed framing for the raw TCP transport: codecs only, no sockets.
//!
//! A TCP stream has no message boundaries, so every JSON message travels as one frame:
//! a header giving the payload's length in bytes, then exactly that many bytes of UTF-8
//! JSON. Two header formats exist ([`Framing`]):
//!
//! - [`Framing::U32`] (the default): 4 bytes, the length as an unsigned big-endian
//!   integer. `{"type":"ping"}` (15 bytes) is `00 00 00 0f` followed by the JSON.
//! - [`Framing::Decimal10`]: 10 ASCII bytes, the length in decimal left-justified and
//!   padded with spaces, as the classic Python socket demos write it
//!   (`f"{len(msg):<10}"`). The same message is `31 35 20 20 20 20 20 20 20 20` (`"15"`
//!   and eight spaces) followed by the JSON.
//!
//! Guarantees of [`FrameCodec`]:
//! - Memory is bounded: a header announcing more than `max_frame_bytes` is rejected
//!   ([`FrameError::TooLarge`]) as soon as the header is complete, before any of its
//!   payload is buffered, so a peer can make the decoder hold at most one header plus
//!   `max_frame_bytes`.
//! - Frames come out whole and in order, however the bytes were split across reads.
//! - A zero-length frame decodes to an empty payload; what it means is the transport's
//!   call (switchboard answers it with an error and keeps reading).
//! - After an error the stream cannot be resynchronised (the decoder no longer knows
//!   where the next header starts): the transport must close the connection.

use std::{fmt, str::FromStr};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Header bytes in [`Framing::U32`] mode.
pub const U32_HEADER_LEN: usize = 4;
/// Header bytes in [`Framing::Decimal10`] mode.
pub const DECIMAL10_HEADER_LEN: usize = 10;
/// The largest length a 10-digit decimal header can state.
pub const DECIMAL10_MAX_LEN: u64 = 9_999_999_999;

/// How a frame's header encodes the payload length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// A 4-byte big-endian unsigned length.
    #[default]
    U32,
    /// A 10-byte ASCII decimal length, left-justified and space-padded
    /// (`f"{len(msg):<10}"`), as in the classic Python socket-programming demos.
    Decimal10,
}

impl Framing {
    /// The configuration names, as accepted by [`Framing::from_str`].
    pub const NAMES: [&'static str; 2] = ["u32", "decimal10"];

    /// The configuration name (`u32` or `decimal10`), the inverse of [`Framing::from_str`].
    pub const fn as_str(self) -> &'static str {
        match self {
            Framing::U32 => "u32",
            Framing::Decimal10 => "decimal10",
        }
    }

    /// Bytes in this framing's header.
    pub const fn header_len(self) -> usize {
        match self {
            Framing::U32 => U32_HEADER_LEN,
            Framing::Decimal10 => DECIMAL10_HEADER_LEN,
        }
    }

    /// Reads the payload length from a complete header (`header.len() == header_len()`).
    fn parse_header(self, header: &[u8]) -> Result<u64, FrameError> {
        match self {
            Framing::U32 => {
                let mut bytes = [0u8; U32_HEADER_LEN];
                bytes.copy_from_slice(header);
                Ok(u64::from(u32::from_be_bytes(bytes)))
            }
            Framing::Decimal10 => parse_decimal_header(header),
        }
    }

    /// Appends the header for a payload of `len` bytes.
    fn write_header(self, len: usize, dst: &mut BytesMut) -> Result<(), FrameError> {
        match self {
            Framing::U32 => {
                let len = u32::try_from(len).map_err(|_| FrameError::Unencodable { len })?;
                dst.put_u32(len);
            }
            Framing::Decimal10 => {
                if len as u64 > DECIMAL10_MAX_LEN {
                    return Err(FrameError::Unencodable { len });
                }
                dst.put_slice(format!("{len:<10}").as_bytes());
            }
        }
        Ok(())
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Framing {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "u32" => Ok(Framing::U32),
            "decimal10" => Ok(Framing::Decimal10),
            other => Err(format!(
                "unknown framing {other:?}; use one of {}",
                Framing::NAMES.join(", ")
            )),
        }
    }
}

/// Accepts what Python's `int()` accepts from the demos: optional spaces, ASCII digits,
/// optional spaces. Anything else (letters, signs, a blank header) is not a length.
fn parse_decimal_header(header: &[u8]) -> Result<u64, FrameError> {
    let invalid = || FrameError::InvalidHeader {
        header: String::from_utf8_lossy(header).into_owned(),
    };
    let digits = header.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    // At most 10 digits, so the sum cannot overflow a u64.
    Ok(digits
        .iter()
        .fold(0u64, |len, digit| len * 10 + u64::from(digit - b'0')))
}

/// Why a frame could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The header announced a payload larger than the limit.
    #[error("frame header announces {announced} bytes; the limit is {limit}")]
    TooLarge {
        /// The payload length the header stated, in bytes.
        announced: u64,
        /// The codec's `max_frame_bytes`.
        limit: usize,
    },
    /// A decimal header that is not a number.
    #[error("frame header {header:?} is not a decimal length")]
    InvalidHeader {
        /// The 10 header bytes as text (invalid UTF-8 replaced), for the error message.
        header: String,
    },
    /// An outgoing payload too long for the header format.
    #[error("a {len}-byte payload does not fit the frame header")]
    Unencodable {
        /// The payload's length, in bytes.
        len: usize,
    },
    /// Reading or writing the underlying stream failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Encodes and decodes length-prefixed frames in either [`Framing`].
#[derive(Debug, Clone)]
pub struct FrameCodec {
    framing: Framing,
    max_frame_bytes: usize,
    /// The payload length of a frame whose header was read but whose payload is incomplete.
    pending: Option<usize>,
}

impl FrameCodec {
    /// A codec that rejects incoming frames over `max_frame_bytes` (outgoing frames are
    /// limited only by the header format).
    pub fn new(framing: Framing, max_frame_bytes: usize) -> Self {
        Self {
            framing,
            max_frame_bytes,
            pending: None,
        }
    }

    /// The header format this codec reads and writes.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The largest incoming payload accepted, in bytes; a header announcing more is
    /// [`FrameError::TooLarge`].
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let len = match self.pending {
            Some(len) => len,
            None => {
                let header_len = self.framing.header_len();
                if src.len() < header_len {
                    return Ok(None);
                }
                let announced = self.framing.parse_header(&src[..header_len])?;
                let len = usize::try_from(announced)
                    .ok()
                    .filter(|len| *len <= self.max_frame_bytes)
                    .ok_or(FrameError::TooLarge {
                        announced,
                        limit: self.max_frame_bytes,
                    })?;
                src.advance(header_len);
                self.pending = Some(len);
                len
            }
        };
        if src.len() < len {
            // Bounded by max_frame_bytes, checked above.
            src.reserve(len - src.len());
            return Ok(None);
        }
        self.pending = None;
        Ok(Some(src.split_to(len).freeze()))
    }
}

/// Frames one payload. One impl only (for [`Bytes`], what the hub's deliveries hold), so
/// `Sink` methods on a `FramedWrite` need no type annotations.
impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(self.framing.header_len() + payload.len());
        self.framing.write_header(payload.len(), dst)?;
        dst.put_slice(&payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 64;

    fn encode(framing: Framing, payload: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        FrameCodec::new(framing, LIMIT)
            .encode(Bytes::copy_from_slice(payload), &mut out)
            .unwrap();
        out
    }

    /// Feeds `bytes` in chunks of `chunk` and collects every decoded frame.
    fn decode_in_chunks(framing: Framing, bytes: &[u8], chunk: usize) -> Vec<Bytes> {
        let mut codec = FrameCodec::new(framing, LIMIT);
        let mut buffer = BytesMut::new();
        let mut frames = Vec::new();
        for piece in bytes.chunks(chunk) {
            buffer.extend_from_slice(piece);
            while let Some(frame) = codec.decode(&mut buffer).unwrap() {
                frames.push(frame);
            }
        }
        assert!(buffer.is_empty(), "leftover bytes: {buffer:?}");
        frames
    }

    #[test]
    fn u32_header_is_big_endian_length() {
        let frame = encode(Framing::U32, br#"{"type":"ping"}"#);
        assert_eq!(&frame[..4], &[0, 0, 0, 15]);
        assert_eq!(&frame[4..], br#"{"type":"ping"}"#);
    }

    #[test]
    fn decimal10_header_is_left_justified_and_space_padded() {
        let frame = encode(Framing::Decimal10, br#"{"type":"ping"}"#);
        assert_eq!(&frame[..10], b"15        ");
        assert_eq!(&frame[10..], br#"{"type":"ping"}"#);
    }

    #[test]
    fn frames_split_across_reads_and_packed_into_one_read() {
        for framing in [Framing::U32, Framing::Decimal10] {
            let messages: [&[u8]; 4] = [b"{}", b"", br#"{"type":"chat","text":"h\u00e9"}"#, b"[1]"];
            let mut wire = BytesMut::new();
            for message in messages {
                wire.extend_from_slice(&encode(framing, message));
            }
            // One byte at a time, odd-sized pieces, and everything in one read.
            for chunk in [1, 3, 7, wire.len()] {
                let frames = decode_in_chunks(framing, &wire, chunk);
                let frames: Vec<&[u8]> = frames.iter().map(|f| f.as_ref()).collect();
                assert_eq!(frames, messages, "{framing} in chunks of {chunk}");
            }
        }
    }

    #[test]
    fn a_partial_frame_waits_for_more() {
        let mut codec = FrameCodec::new(Framing::U32, LIMIT);
        let mut buffer = BytesMut::from(&[0u8, 0, 0][..]);
        assert!(codec.decode(&mut buffer).unwrap().is_none());
        buffer.extend_from_slice(&[5, b'a', b'b']);
        assert!(codec.decode(&mut buffer).unwrap().is_none());
        buffer.extend_from_slice(b"cde");
        assert_eq!(codec.decode(&mut buffer).unwrap().unwrap(), "abcde");
    }

    #[test]
    fn frame_at_the_limit_passes_and_one_byte_more_is_rejected_from_the_header() {
        for framing in [Framing::U32, Framing::Decimal10] {
            let payload = vec![b'x'; LIMIT];
            assert_eq!(
                decode_in_chunks(framing, &encode(framing, &payload), 5)[0].len(),
                LIMIT
            );

            let mut codec = FrameCodec::new(framing, LIMIT);
            let mut header = BytesMut::new();
            framing.write_header(LIMIT + 1, &mut header).unwrap();
            // Only the header: rejected before any payload is buffered.
            match codec.decode(&mut header) {
                Err(FrameError::TooLarge { announced, limit }) => {
                    assert_eq!((announced, limit), (LIMIT as u64 + 1, LIMIT));
                }
                other => panic!("{framing}: expected TooLarge, got {other:?}"),
            }
        }
    }

    #[test]
    fn text_sent_without_a_header_is_too_large_in_u32_mode() {
        // What `nc` sends when someone types JSON: `{"ty` read as a length.
        let mut codec = FrameCodec::new(Framing::U32, 65_536);
        let mut buffer = BytesMut::from(&br#"{"type":"ping"}"#[..]);
        assert!(matches!(
            codec.decode(&mut buffer),
            Err(FrameError::TooLarge {
                announced: 0x7b22_7479,
                ..
            })
        ));
    }

    #[test]
    fn decimal10_accepts_what_python_int_accepts_from_the_demos() {
        assert_eq!(parse_decimal_header(b"15        ").unwrap(), 15);
        assert_eq!(parse_decimal_header(b"        15").unwrap(), 15);
        assert_eq!(parse_decimal_header(b"0000000015").unwrap(), 15);
        assert_eq!(
            parse_decimal_header(b"9999999999").unwrap(),
            DECIMAL10_MAX_LEN
        );
        for bad in [
            &b"          "[..],
            b"abc       ",
            b"-5        ",
            b"1 5       ",
            b"+5        ",
        ] {
            assert!(
                matches!(
                    parse_decimal_header(bad),
                    Err(FrameError::InvalidHeader { .. })
                ),
                "{:?} should be rejected",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn decimal10_invalid_header_is_an_error() {
        let mut codec = FrameCodec::new(Framing::Decimal10, LIMIT);
        let mut buffer = BytesMut::from(&b"hello, world"[..]);
        assert!(matches!(
            codec.decode(&mut buffer),
            Err(FrameError::InvalidHeader { header }) if header == "hello, wor"
        ));
    }

    #[test]
    fn unencodable_lengths_are_errors_not_truncation() {
        let mut out = BytesMut::new();
        assert!(matches!(
            Framing::Decimal10.write_header(10_000_000_000, &mut out),
            Err(FrameError::Unencodable { .. })
        ));
        assert!(matches!(
            Framing::U32.write_header(u32::MAX as usize + 1, &mut out),
            Err(FrameError::Unencodable { .. })
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn framing_names_round_trip() {
        for name in Framing::NAMES {
            assert_eq!(name.parse::<Framing>().unwrap().as_str(), name);
        }
        assert!("u16".parse::<Framing>().is_err());
    }
}
