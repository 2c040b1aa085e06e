//! Inspection snapshots of the embedded gateway: namespaces, rooms and sockets
//! (`GET /inspect` and the Inspector panel).

use serde::{Deserialize, Serialize};

/// One socket in an inspection snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketInfo {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub rooms: Vec<String>,
    /// `websocket` or `polling`.
    #[serde(default)]
    pub transport: String,
    /// Unix microseconds.
    #[serde(default)]
    pub connected_at: i64,
    #[serde(default)]
    pub events_in: u64,
    #[serde(default)]
    pub events_out: u64,
    /// The cluster node the socket is connected to (clustered gateways only). A
    /// socket of another node is known only by what the Redis adapter carries: its
    /// id and rooms; user and tenant are read from its rooms, and it has no
    /// transport, connected_at or event counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// One room and the sockets in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub name: String,
    pub sockets: Vec<String>,
}

/// One namespace of the embedded gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceInfo {
    pub name: String,
    pub rooms: Vec<RoomInfo>,
    pub sockets: Vec<SocketInfo>,
}

/// What `GET /inspect` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InspectSnapshot {
    pub namespaces: Vec<NamespaceInfo>,
    /// The node that answered, when the gateway is clustered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Every node seen in the snapshot (this one first), when clustered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}
