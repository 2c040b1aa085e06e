//! Client connections to real gateways. Each connection publishes everything it sees
//! and sends on the bus with source `connection:<id>`, like the embedded gateway does
//! for its side.

mod health;
mod native;
pub mod registry;
pub mod socketio;
pub mod tls;
pub mod websocket;
pub mod wire;

pub use health::{ConnectionLosses, DEFAULT_MAX_PAYLOAD};
pub use native::ack_reply;
pub use registry::Connections;
pub use socketio::{ConnectOptions, Connection, EioChoice, Transport};
pub use tls::TlsOptions;
pub use websocket::{WsConnection, WsOptions};
pub use wire::Eio;
