//! The event record: one event seen anywhere (embedded gateway, client connection,
//! import), and the batches the desktop shell pushes to the UI. Every other domain
//! produces or reads these.

use crate::{GatewayStatus, RecordingStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which way an event travelled, the same meaning from either vantage point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client to server.
    C2s,
    /// Server to client.
    S2c,
}

impl Direction {
    /// The short label used in logs and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::C2s => "c2s",
            Direction::S2c => "s2c",
        }
    }
}

/// An acknowledgement attached to an event: the id the peer asked for and, once
/// known, the reply it got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AckInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Value>,
    /// Microseconds from the event to its ack, where the recorder saw both (the
    /// capture proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<u64>,
}

/// One event seen anywhere: the embedded gateway (in or out), a client connection,
/// or an import. Secrets never leave in a record: the engine's bus and imports redact
/// every record (`sockscope_engine::redact`) before anyone sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Position on the bus, strictly increasing within one engine.
    pub seq: u64,
    /// Unix time in microseconds.
    pub ts: i64,
    /// `gateway` or `connection:<id>`.
    pub source: String,
    pub direction: Direction,
    pub namespace: String,
    pub event: String,
    /// The event's arguments as a JSON array.
    pub args: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<AckInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_id: Option<String>,
    /// Rooms the event was addressed to (s2c) or the socket was in (c2s).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A fault the capture proxy injected into this event (`dropped by rule 2
    /// (drop event=tick)`...); `None` for an event that crossed untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// What the desktop shell pushes to the UI once per batching window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EventBatch {
    pub events: Vec<EventRecord>,
    /// Events that were not delivered to the UI because it fell behind.
    pub lagged: u64,
    pub status: GatewayStatus,
    /// The recording in progress, so its counter needs no polling.
    #[serde(default)]
    pub recording: RecordingStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_with_lowercase_direction() {
        let r = EventRecord {
            seq: 1,
            ts: 2,
            source: "gateway".into(),
            direction: Direction::C2s,
            namespace: "/".into(),
            event: "hello".into(),
            args: serde_json::json!([1]),
            ack: None,
            socket_id: None,
            rooms: vec![],
            tenant: Some("t".into()),
            user: None,
            fault: None,
        };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains("\"direction\":\"c2s\""), "{s}");
        assert!(!s.contains("socket_id"), "{s}");
        let back: EventRecord = serde_json::from_str(&s).unwrap();
        assert_eq!(back, r);
    }
}
