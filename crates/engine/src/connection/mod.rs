//! Client connections to real gateways. Each connection publishes everything it sees
//! and sends on the bus with source `connection:<id>`, like the embedded gateway does
//! for its side.

pub mod socketio;

pub use socketio::{ConnectOptions, Connection, Transport};
