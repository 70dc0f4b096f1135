//! The fan-out publisher: builds `publish` messages with a fixed-size `data`, and sends
//! them either as fast as the flow-control window allows or at a fixed rate.
//!
//! Flow control: the publisher stays at most `window` messages ahead of the slowest
//! subscriber, so a run measures the server's sustained delivery rate rather than how
//! fast it fills queues before its slow-consumer policy (or a peer's memory) gives way.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use tokio::time::{Instant as TokioInstant, MissedTickBehavior};

use super::{FANOUT_CHANNEL, FanoutOptions};
use crate::{
    BenchError,
    dialect::{event_body, publish_frame},
    target::TargetKind,
    wire::{OP_TEXT, WsConn},
};

/// How long the publisher waits before looking at subscriber progress again.
const WINDOW_POLL: Duration = Duration::from_millis(1);

/// The `publish` message for message `index`; its `data` is exactly `payload_bytes` of
/// JSON (`{"i":…,"t":…,"p":"xx…"}`) when that is more than the bare fields need.
pub fn publish_message(index: u64, sent_ns: u64, payload_bytes: usize) -> Vec<u8> {
    let bare = format!(r#"{{"i":{index},"t":{sent_ns},"p":""}}"#);
    let pad = "x".repeat(payload_bytes.saturating_sub(bare.len()));
    format!(
        r#"{{"type":"publish","channel":"{FANOUT_CHANNEL}","data":{{"i":{index},"t":{sent_ns},"p":"{pad}"}}}}"#
    )
    .into_bytes()
}

/// Sends up to `options.messages` messages before `deadline`; returns how many it sent.
pub(crate) async fn publish(
    kind: TargetKind,
    publisher: &mut WsConn,
    progress: &[AtomicU64],
    options: &FanoutOptions,
    clock: Instant,
    deadline: TokioInstant,
) -> Result<u64, BenchError> {
    let slowest = || {
        progress
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    };
    let mut pace = options.rate.map(|rate| {
        let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
        pace.set_missed_tick_behavior(MissedTickBehavior::Delay);
        pace
    });
    let batch = if pace.is_some() {
        1
    } else {
        options.batch.max(1)
    };
    let mut sent = 0u64;
    let mut buffer = Vec::new();
    while sent < options.messages && TokioInstant::now() < deadline {
        let room = options.window.saturating_sub(sent - slowest());
        if room == 0 {
            tokio::time::sleep(WINDOW_POLL).await;
            continue;
        }
        if let Some(pace) = pace.as_mut() {
            pace.tick().await;
        }
        let burst = room.min(batch).min(options.messages - sent);
        buffer.clear();
        for index in sent..sent + burst {
            let sent_ns = clock.elapsed().as_nanos() as u64;
            let message = publish_message(index, sent_ns, options.payload_bytes);
            let message = publish_frame(kind, &message);
            publisher.encode_frame(&mut buffer, OP_TEXT, &message);
        }
        publisher.write_raw(&buffer).await?;
        sent += burst;
    }
    Ok(sent)
}

/// Counts `error` messages waiting for the publisher (briefly; nothing else is expected).
pub(crate) async fn count_errors(publisher: &mut WsConn) -> u64 {
    let mut errors = 0;
    while let Ok(Ok(Some((_, payload)))) =
        tokio::time::timeout(Duration::from_millis(100), publisher.next_frame()).await
    {
        if event_body(payload).starts_with(br#"{"type":"error""#) {
            errors += 1;
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_data_has_the_requested_size() {
        for index in [0, 12, 123_456] {
            let message = publish_message(index, 3_456_789_012, 64);
            let text = String::from_utf8(message).unwrap();
            let data = &text[text.find(r#""data":"#).unwrap() + 7..text.len() - 1];
            assert_eq!(data.len(), 64, "{data}");
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["data"]["i"], index);
        }
    }
}
