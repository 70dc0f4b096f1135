//! `GET /ws/echo`: a bare WebSocket echo. Every text or binary message comes back
//! unchanged; no hub, no JSON, no heartbeat. It is the baseline that shows what the hub
//! costs: benchmarks and the academy run the same load against both.

use axum::{
    extract::{Request, State},
    response::Response,
};
use futures_util::{SinkExt, StreamExt};
use switchboard_protocol::CloseCode;
use tokio_tungstenite::tungstenite::{
    Message, Utf8Bytes,
    protocol::{CloseFrame, frame::coding::CloseCode as WsCloseCode},
};

use super::{http_error::transport_disabled, upgrade::accept};
use crate::{app::AppState, transports::ws::socket_config};

pub async fn handler(State(state): State<AppState>, request: Request) -> Response {
    if !state.config.ws.enabled {
        return transport_disabled("websocket");
    }
    let config = socket_config(&state.config.ws, state.hub.config().max_message_bytes);
    let shutdown = state.shutdown.clone();
    accept(
        request,
        config,
        &state.tasks,
        move |mut socket| async move {
            loop {
                let message = tokio::select! {
                    message = socket.next() => message,
                    () = shutdown.cancelled() => {
                        let _ = socket.close(Some(going_away())).await;
                        break;
                    }
                };
                match message {
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                        if socket.send(message).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                }
            }
        },
    )
}

/// The close frame for shutdown: 1001, as on `/ws`.
fn going_away() -> CloseFrame {
    CloseFrame {
        code: WsCloseCode::from(CloseCode::GoingAway.code()),
        reason: Utf8Bytes::from_static(CloseCode::GoingAway.reason()),
    }
}
