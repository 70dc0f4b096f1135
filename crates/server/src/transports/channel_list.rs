//! The `?channels=a,b` query parameter shared by `GET /ws` and `GET /sse`: the channels a
//! connection joins on connect (besides `broadcast`, which it always joins).

use switchboard_hub::InitialSubscription;
use switchboard_protocol::{ChannelName, ErrorCode, ProtocolError};

/// Parses `a,b,c` into channel subscriptions; `None` when the parameter is absent. Empty
/// names (`a,,b`, a trailing comma) are skipped; an invalid name is error 104.
pub(crate) fn parse_channel_list(
    list: Option<&str>,
) -> Result<Option<Vec<InitialSubscription>>, ProtocolError> {
    let Some(list) = list else { return Ok(None) };
    list.split(',')
        .filter(|name| !name.is_empty())
        .map(|name| {
            ChannelName::new(name)
                .map(InitialSubscription::new)
                .map_err(|e| {
                    ProtocolError::new(ErrorCode::InvalidChannel, format!("{name:?}: {e}"))
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
