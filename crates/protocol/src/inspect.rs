//! Inspection snapshots of the embedded gateway: namespaces, rooms and sockets
//! (`GET /inspect` and the Inspector panel).

use std::collections::BTreeMap;

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
    /// `socket.data`: the scalar claims of the socket's handshake token (never the
    /// token), as text, so the Inspector can filter on them (`data.role=admin`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
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

/// What `GET /inspect/sockets` and `GET /inspect/counts` select: every filter given
/// must match. Sent as query parameters (`namespace`, `id` (a prefix), `room`,
/// `tenant`, `user`, `transport`, `data.KEY=VALUE`, `limit`, `cursor`), so a client
/// receives one page of the matching sockets, never the whole gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InspectQuery {
    pub namespace: Option<String>,
    /// A prefix of the socket id.
    pub id: Option<String>,
    pub room: Option<String>,
    pub tenant: Option<String>,
    pub user: Option<String>,
    pub transport: Option<String>,
    /// `socket.data` fields that must have these values.
    pub data: BTreeMap<String, String>,
    /// At most this many sockets in the page (the server caps it).
    pub limit: Option<usize>,
    /// Where the previous page ended ([`InspectPage::next_cursor`]).
    pub cursor: Option<String>,
    /// Also compute [`InspectCounts`] over the matching sockets.
    pub counts: bool,
}

impl InspectQuery {
    /// The query as URL query parameters, in a stable order.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.push((k.to_owned(), v.clone()));
            }
        };
        push("namespace", &self.namespace);
        push("id", &self.id);
        push("room", &self.room);
        push("tenant", &self.tenant);
        push("user", &self.user);
        push("transport", &self.transport);
        push("cursor", &self.cursor);
        push("limit", &self.limit.map(|l| l.to_string()));
        if self.counts {
            out.push(("counts".into(), "true".into()));
        }
        for (k, v) in &self.data {
            out.push((format!("data.{k}"), v.clone()));
        }
        out
    }
}

/// One socket of a page, with its namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagedSocket {
    pub namespace: String,
    #[serde(flatten)]
    pub socket: SocketInfo,
}

/// What `GET /inspect/sockets` returns: one page of the matching sockets, ordered by
/// namespace then id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InspectPage {
    /// Matching sockets over every page.
    pub total: usize,
    pub sockets: Vec<PagedSocket>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<InspectCounts>,
    /// The node that answered, when the gateway is clustered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// Counts of one namespace's matching sockets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NamespaceCounts {
    pub sockets: usize,
    /// Matching sockets per room: the largest rooms, at most a few hundred.
    pub rooms: BTreeMap<String, usize>,
    /// Rooms holding a matching socket, including those left out of `rooms`.
    pub rooms_total: usize,
}

/// What `GET /inspect/counts` returns: how many sockets match, per namespace, room
/// and tenant, computed by the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InspectCounts {
    pub sockets: usize,
    pub namespaces: BTreeMap<String, NamespaceCounts>,
    /// Matching sockets per tenant; sockets with no tenant are not in it.
    pub tenants: BTreeMap<String, usize>,
    pub no_tenant: usize,
}
