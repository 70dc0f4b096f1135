//! A transcript's bytes shown for people, per [`Layout`]: HTTP and SSE as text, WebSocket
//! and length-prefixed TCP frames one per line with their header bytes in hex. What does
//! not parse as a frame is shown as text, so nothing is hidden.

use switchboard_protocol::frame::Framing;

/// How a transcript's bytes are shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Text (HTTP, SSE): shown as is; stray control bytes as `[hex]`.
    #[default]
    Text,
    /// WebSocket frames: `[header hex]` then the payload (a masked one unmasked, said so).
    WebSocket,
    /// Length-prefixed frames: `[header hex]` then the payload.
    Tcp(Framing),
}

fn hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("[{}]", hex.join(" "))
}

/// Text as is, with control bytes other than CR, LF and tab shown as `[hex]`.
fn text(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() && !matches!(c, '\r' | '\n' | '\t') {
                out.push_str(&hex(&[c as u8]));
            } else {
                out.push(c);
            }
        }
        if !chunk.invalid().is_empty() {
            out.push_str(&hex(chunk.invalid()));
        }
    }
    out
}

/// Renders `bytes` as a sequence of frames; what does not parse is shown as text.
pub(crate) fn frames(mut bytes: &[u8], layout: Layout) -> String {
    let mut out = String::new();
    while !bytes.is_empty() {
        let parsed = match layout {
            Layout::WebSocket => websocket_frame(bytes),
            Layout::Tcp(framing) => tcp_frame(bytes, framing),
            Layout::Text => None,
        };
        let Some((shown, used)) = parsed else {
            out.push_str(&text(bytes));
            break;
        };
        out.push_str(&shown);
        bytes = &bytes[used..];
    }
    out
}

/// One WebSocket frame (RFC 6455 section 5.2): `(rendering, bytes used)`.
fn websocket_frame(bytes: &[u8]) -> Option<(String, usize)> {
    let second = *bytes.get(1)?;
    let masked = second & 0x80 != 0;
    let (length, mut at) = match second & 0x7f {
        126 => (
            u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        short => (short as usize, 2),
    };
    let mask = if masked {
        at += 4;
        Some(bytes.get(at - 4..at)?.to_vec())
    } else {
        None
    };
    let payload = bytes.get(at..at.checked_add(length)?)?;
    let shown = match mask {
        Some(mask) => {
            let clear: Vec<u8> = payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            format!(
                "{} (masked payload; unmasked:) {}\n",
                hex(&bytes[..at]),
                text(&clear)
            )
        }
        None => format!("{} {}\n", hex(&bytes[..at]), text(payload)),
    };
    Some((shown, at + length))
}

/// One length-prefixed frame: `(rendering, bytes used)`.
fn tcp_frame(bytes: &[u8], framing: Framing) -> Option<(String, usize)> {
    let header = bytes.get(..framing.header_len())?;
    let length: usize = match framing {
        Framing::U32 => u32::from_be_bytes(header.try_into().ok()?) as usize,
        Framing::Decimal10 => std::str::from_utf8(header).ok()?.trim().parse().ok()?,
    };
    let payload = bytes.get(header.len()..header.len().checked_add(length)?)?;
    Some((
        format!("{}{}\n", hex(header), text(payload)),
        header.len() + length,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_show_headers_in_hex_and_payloads_as_text() {
        // A masked client frame with the mask 01 02 03 04 over "hi!".
        let masked = [0x81, 0x83, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2, b'!' ^ 3];
        assert_eq!(
            frames(&masked, Layout::WebSocket),
            "[81 83 01 02 03 04] (masked payload; unmasked:) hi!\n"
        );
        let two = [0x81, 0x02, b'o', b'k', 0x81, 0x01, b'!'];
        assert_eq!(frames(&two, Layout::WebSocket), "[81 02] ok\n[81 01] !\n");
        let tcp = [0, 0, 0, 2, b'{', b'}', 0, 0];
        assert_eq!(
            frames(&tcp, Layout::Tcp(Framing::U32)),
            "[00 00 00 02]{}\n[00][00]"
        );
        assert_eq!(
            frames(b"GET / HTTP/1.1\r\n\x01", Layout::Text),
            "GET / HTTP/1.1\r\n[01]"
        );
    }
}
