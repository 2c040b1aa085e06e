//! Sockscope as a client of real gateways: Socket.IO connections (rust_socketio for
//! Engine.IO v4 with JSON, the own wire client on `sockscope-codec` for v3, msgpack
//! and answering server acks), plain WebSocket, their TLS, the registry of open
//! connections, the keychain that holds saved targets' tokens, and the Admin UI
//! protocol client ([`admin_client`]) that inspects any instrumented gateway.
//!
//! Everything a connection sees is published on the bus (`sockscope-bus`) with
//! source `connection:<id>`; nothing here records or replays (that is the engine's).

pub mod admin_client;
pub mod connection;
pub mod error;
pub mod keychain;

pub use error::{Error, Result};
