//! The raw TCP link: each message is a frame of a 4-byte big-endian length followed by
//! that many bytes of JSON, in both directions. A reader task and a writer task share
//! the socket halves. Frames larger than [`MAX_TCP_FRAME`] end the link rather than
//! letting a bad length allocate unbounded memory.
//!
//! With a wire log the socket is wrapped in a counting [`Tap`] (every byte reaches
//! [`crate::wire::WireLog::counted`]); the frames are rendered here, one by one.

use switchboard_protocol::{client::connect::Connect, server::Transport};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::mpsc,
};

use super::{Inbound, LINK_RECV_QUEUE, LINK_SEND_QUEUE, Link, LinkSettings, tcp_connect};
use crate::{
    error::LinkError,
    wire::{Direction, Tap},
};

/// The largest frame accepted from the server (a full `stats` reply is a few KiB; a
/// channel message is bounded by the server's message limit).
pub(crate) const MAX_TCP_FRAME: usize = 16 * 1024 * 1024;

pub(crate) async fn connect(settings: &LinkSettings) -> Result<Link, LinkError> {
    let stream = tcp_connect(settings).await?;
    if settings.wire.is_some() {
        let (reader, writer) = tokio::io::split(Tap::counting(stream, settings.wire.clone()));
        Ok(spawn_link(reader, writer, settings))
    } else {
        let (reader, writer) = stream.into_split();
        Ok(spawn_link(reader, writer, settings))
    }
}

/// Starts the reader and writer tasks over the socket halves.
fn spawn_link(
    mut reader: impl AsyncRead + Unpin + Send + 'static,
    mut writer: impl AsyncWrite + Unpin + Send + 'static,
    settings: &LinkSettings,
) -> Link {
    let (out_tx, mut out_rx) = mpsc::channel::<String>(LINK_SEND_QUEUE);
    let (in_tx, in_rx) = mpsc::channel(LINK_RECV_QUEUE);
    let wire = settings.wire.clone();
    let read_wire = wire.clone();
    let closed_tx = in_tx.clone();
    let read_task = tokio::spawn(async move {
        let reason = loop {
            let len = match reader.read_u32().await {
                Ok(len) => len as usize,
                Err(err) => break format!("TCP connection closed: {err}"),
            };
            if len > MAX_TCP_FRAME {
                break format!("frame of {len} bytes exceeds the {MAX_TCP_FRAME}-byte limit");
            }
            let mut body = vec![0; len];
            if let Err(err) = reader.read_exact(&mut body).await {
                break format!("TCP connection closed mid-frame: {err}");
            }
            if let Some(wire) = &read_wire {
                wire.log(Direction::Received, &frame_rendering(&body));
            }
            match String::from_utf8(body) {
                Ok(text) => {
                    if in_tx.send(Inbound::Text(text)).await.is_err() {
                        return;
                    }
                }
                Err(_) => break "a frame is not UTF-8 text".to_owned(),
            }
        };
        // The code, if any, came before as a `close` message, which the session read.
        let _ = in_tx.send(Inbound::lost(reason)).await;
    });
    // A server that checks tokens reads a `connect` frame before anything else (and
    // waits for one); a server without keys drops it. So it is always sent, anonymous
    // when there is no token.
    let connect = Some(
        Connect {
            token: settings.token.clone(),
        }
        .to_json(),
    );
    let write_task = tokio::spawn(async move {
        let mut pending_connect = connect;
        while let Some(text) = match pending_connect.take() {
            Some(connect) => Some(connect),
            None => out_rx.recv().await,
        } {
            if let Some(wire) = &wire {
                wire.log(Direction::Sent, &frame_rendering(text.as_bytes()));
            }
            let mut frame = Vec::with_capacity(4 + text.len());
            frame.extend_from_slice(&(text.len() as u32).to_be_bytes());
            frame.extend_from_slice(text.as_bytes());
            if let Err(err) = writer.write_all(&frame).await {
                let _ = closed_tx
                    .send(Inbound::lost(format!("TCP write failed: {err}")))
                    .await;
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    Link::new(
        Transport::Tcp,
        out_tx,
        in_rx,
        vec![read_task.abort_handle(), write_task.abort_handle()],
    )
}

/// `[len 00 00 00 2a = 42] {"type":...}`: the header bytes, then the payload.
fn frame_rendering(body: &[u8]) -> String {
    let header = (body.len() as u32).to_be_bytes();
    format!(
        "[len {:02x} {:02x} {:02x} {:02x} = {}] {}",
        header[0],
        header[1],
        header[2],
        header[3],
        body.len(),
        String::from_utf8_lossy(body)
    )
}
