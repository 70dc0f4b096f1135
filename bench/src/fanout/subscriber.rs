//! A fan-out subscriber: reads deliveries, checks their order and records latency.
//!
//! Order: message indexes must arrive as 0, 1, 2, … and channel `seq` numbers as n, n+1,
//! …; every break in either counts as one gap. Latency is `now − t`, where `t` is the send
//! time the publisher wrote into the message on the same monotonic clock.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use hdrhistogram::Histogram;

use crate::{
    BenchError,
    dialect::{ENGINE_PING, ENGINE_PONG, event_body},
    wire::{OP_TEXT, WsConn, find, number_after},
};

/// The longest latency the histograms track (longer ones are clamped to it).
const MAX_LATENCY_US: u64 = 60_000_000;

/// One subscriber's tally.
pub(crate) struct Tally {
    pub(crate) received: u64,
    pub(crate) gaps: u64,
    pub(crate) closed: bool,
    pub(crate) frame_bytes: usize,
    /// When the last delivery arrived (the end of this subscriber's measured interval).
    pub(crate) last_delivery: Option<Instant>,
    pub(crate) latency: Histogram<u64>,
}

impl Tally {
    pub(crate) fn new() -> Result<Self, BenchError> {
        Ok(Self {
            received: 0,
            gaps: 0,
            closed: false,
            frame_bytes: 0,
            last_delivery: None,
            latency: latency_histogram()?,
        })
    }
}

/// A histogram of microseconds, 1 µs to [`MAX_LATENCY_US`], two significant figures
/// (about 20 KB each; one per subscriber, merged at the end).
pub(crate) fn latency_histogram() -> Result<Histogram<u64>, BenchError> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2)
        .map_err(|err| BenchError::Internal(format!("histogram: {err}")))
}

/// Reads deliveries until `messages` arrived or the connection ends; the caller bounds it
/// in time (the tally it fills survives a timeout).
pub(crate) async fn receive(
    mut conn: WsConn,
    tally: &mut Tally,
    progress: &AtomicU64,
    messages: u64,
    clock: Instant,
) {
    let mut next_index = 0u64;
    let mut last_seq: Option<u64> = None;
    while tally.received < messages {
        let payload = match conn.next_frame().await {
            Ok(Some((OP_TEXT, payload))) => payload,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => {
                tally.closed = true;
                return;
            }
        };
        if payload == ENGINE_PING {
            if conn.send_text(ENGINE_PONG).await.is_err() {
                tally.closed = true;
                return;
            }
            continue;
        }
        let Some((seq, index, sent_ns)) = parse_delivery(payload) else {
            continue;
        };
        if index != next_index || last_seq.is_some_and(|last| seq != last + 1) {
            tally.gaps += 1;
        }
        next_index = index + 1;
        last_seq = Some(seq);
        tally.received += 1;
        tally.frame_bytes = payload.len();
        progress.store(tally.received, Ordering::Relaxed);
        let now = clock.elapsed();
        let latency_ns = (now.as_nanos() as u64).saturating_sub(sent_ns);
        tally.latency.saturating_record((latency_ns / 1_000).max(1));
        tally.last_delivery = Some(clock + now);
    }
}

/// `(seq, index, sent_ns)` of a `message` delivery; `None` for anything else.
pub(crate) fn parse_delivery(payload: &[u8]) -> Option<(u64, u64, u64)> {
    let payload = event_body(payload);
    if !payload.starts_with(br#"{"type":"message""#) {
        return None;
    }
    let seq = number_after(payload, br#""seq":"#)?;
    let data = find(payload, br#""data":{"i":"#)?;
    let data = &payload[data + 7..];
    Some((
        seq,
        number_after(data, br#""i":"#)?,
        number_after(data, br#""t":"#)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_parse_and_other_messages_do_not() {
        let delivered = br#"{"type":"message","channel":"bench","seq":99,"ts":1,"data":{"i":12,"t":3456789,"p":"xx"},"from":"c"}"#;
        assert_eq!(parse_delivery(delivered), Some((99, 12, 3_456_789)));
        assert_eq!(parse_delivery(br#"{"type":"pong"}"#), None);
        let event = br#"42["message",{"type":"message","channel":"bench","seq":5,"ts":1,"data":{"i":4,"t":77,"p":""},"from":"x"}]"#;
        assert_eq!(parse_delivery(event), Some((5, 4, 77)));
        assert_eq!(
            parse_delivery(br#"{"type":"message","seq":1,"data":7}"#),
            None
        );
    }
}
