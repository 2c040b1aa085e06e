//! Per-socket counters and bus order, kept in each socket's extensions: the packet
//! reader ([`crate::args`]), the handlers ([`crate::socket`]) and the inspector
//! ([`crate::inspect`]) all read them, so they sit below all three.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::order::Order;
use crate::SocketRef;

/// Per-socket counters for the inspector, kept in the socket's extensions.
#[derive(Debug, Default)]
pub struct Stats {
    pub connected_at: i64,
    pub events_in: AtomicU64,
    pub events_out: AtomicU64,
    /// The socket's records, waiting for their turn on the bus.
    pub order: Arc<Order>,
}

pub fn stats_of(s: &SocketRef) -> Option<Arc<Stats>> {
    s.extensions.get::<Arc<Stats>>()
}
