//! Why bytes from outside could not be read as a packet: the text codec's [`Error`]
//! and the wire framing's [`WireError`]. Both quote at most a few characters of what
//! they were given (the input may be hostile or hold secrets), and both are plain
//! values (`Clone`, `PartialEq`) so a fuzz target can compare a re-decode with the
//! first one; that is why a JSON or msgpack failure is kept as its message.

use crate::binary::MAX_ATTACHMENTS;

/// Why a frame or packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("empty frame")]
    Empty,
    #[error("unknown Engine.IO packet type in {0:?}")]
    EngineIoType(String),
    #[error("unknown Socket.IO packet type in {0:?}")]
    PacketType(String),
    #[error("binary packet without an attachment count in {0:?}")]
    Attachments(String),
    #[error("ack id out of range in {0:?}")]
    AckId(String),
    #[error("ack packet without an id")]
    AckWithoutId,
    #[error("bad JSON payload: {0}")]
    Json(String),
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Codec(#[from] Error),
    #[error("bad msgpack packet: {0}")]
    Msgpack(String),
    #[error("unexpected binary frame ({0} bytes)")]
    UnexpectedBinary(usize),
    #[error("binary packet announces {0} attachments (at most {MAX_ATTACHMENTS})")]
    TooManyAttachments(usize),
    #[error("bad Engine.IO open packet: {0}")]
    Open(String),
}
