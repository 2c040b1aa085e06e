//! The one Engine.IO/Socket.IO codec: text packets ([`packet`], re-exported at the
//! root), the wire client's framing over WebSocket messages, JSON and msgpack
//! parsers, Engine.IO v3 and v4 ([`wire`]), and the binary marker records use
//! ([`binary`]).
//!
//! Everything here reads input from outside (a hostile server, a saved capture), so
//! nothing here opens a socket or touches a file: it is a pure function of bytes,
//! which is what lets the fuzz targets (`fuzz/`) exercise it alone.

pub mod binary;
pub mod error;
pub mod packet;
pub mod wire;

pub use error::{Error, WireError};
pub use packet::*;
