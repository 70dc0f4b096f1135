//! Length-prefixed framing for the raw TCP transport (filled in by the transports work).
