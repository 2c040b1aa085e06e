//! What the Inspector shows and sends for an inspection source: the embedded gateway
//! or a saved Socket.IO Admin UI target (`@socket.io/admin-ui` on a real gateway).
//!
//! Why a separate view type: the engine's admin model carries wire details the UI
//! has no use for; the UI (wasm32) gets one flat, serialisable picture per source,
//! with tenants grouped and leaks already judged by the engine.

use serde::{Deserialize, Serialize};
use serde_json::Value;

fn admin_namespace() -> String {
    "/admin".to_owned()
}

/// A saved admin target. Its password is never part of it: it lives in the OS
/// keychain, and `has_password` says whether the keychain holds one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AdminTarget {
    pub name: String,
    /// `http(s)://host[:port]`.
    pub url: String,
    /// The admin namespace (`/admin` unless the server was instrumented otherwise).
    #[serde(default = "admin_namespace")]
    pub namespace: String,
    /// The Socket.IO path, when not `/socket.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Basic-auth user; none for a server instrumented with `auth: false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A room-name pattern naming tenants, e.g. `tenant:{tenant}:*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_room: Option<String>,
    /// Output only: the keychain holds this target's password.
    #[serde(default)]
    pub has_password: bool,
}

/// Save a target; a given password goes to the keychain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminTargetSave {
    pub target: AdminTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Which source the Inspector shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InspectorSource {
    #[default]
    Embedded,
    Admin,
}

/// One instrumented server, as the servers strip shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminServerView {
    pub id: String,
    pub hostname: String,
    pub pid: u64,
    pub uptime_secs: f64,
    pub clients: u64,
    pub events_per_sec: f64,
    pub last_seen_ms: u64,
    /// False once no `server_stats` came for 10 s.
    pub healthy: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminNamespaceView {
    pub name: String,
    pub sockets: u64,
}

/// A shared (non-private) room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminRoomView {
    pub namespace: String,
    pub name: String,
    pub sockets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminSocketView {
    pub id: String,
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default)]
    pub transport: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Rooms other than the socket's own.
    pub rooms: Vec<String>,
    /// `socket.data`, secrets redacted.
    #[serde(default)]
    pub data: Value,
}

/// A tenant and its sockets (`None`: sockets no tenant was found for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantGroupView {
    pub tenant: Option<String>,
    /// `(namespace, socket id)`.
    pub sockets: Vec<(String, String)>,
}

/// One cross-tenant finding, as a badge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeakBadge {
    /// `socket_in_many_tenants`, `foreign_room`, `shared_room` or `payload_leak`.
    pub kind: String,
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    pub tenants: Vec<String>,
    /// One human line.
    pub text: String,
}

/// Everything the Inspector shows for one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct InspectorView {
    pub source: InspectorSource,
    /// The admin target's name (empty for the embedded gateway).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub url: String,
    /// `development`, `production` or `embedded`.
    #[serde(default)]
    pub mode: String,
    /// Actions the source accepts (`DISCONNECT`, `JOIN`, `LEAVE`, `EMIT`).
    #[serde(default)]
    pub features: Vec<String>,
    /// False once the admin connection closed.
    pub connected: bool,
    #[serde(default)]
    pub servers: Vec<AdminServerView>,
    #[serde(default)]
    pub namespaces: Vec<AdminNamespaceView>,
    #[serde(default)]
    pub rooms: Vec<AdminRoomView>,
    #[serde(default)]
    pub sockets: Vec<AdminSocketView>,
    #[serde(default)]
    pub tenants: Vec<TenantGroupView>,
    #[serde(default)]
    pub findings: Vec<LeakBadge>,
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminActionKind {
    Disconnect,
    Join,
    Leave,
    Emit,
}

/// An action on a socket or a room of the connected admin source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminActionRequest {
    pub action: AdminActionKind,
    pub namespace: String,
    /// The socket acted on (disconnect, join, leave; emit to one socket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    /// The room joined or left, or emitted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Emit arguments as a JSON array.
    #[serde(default)]
    pub args: Value,
}

/// What an action achieved, in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminActionReply {
    /// The server reported the change (development mode).
    pub confirmed: bool,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_defaults_to_the_admin_namespace_and_holds_no_password() {
        let t: AdminTarget = serde_json::from_str(r#"{"name":"n","url":"http://h:1"}"#).unwrap();
        assert_eq!(t.namespace, "/admin");
        let v = serde_json::to_value(&t).unwrap();
        assert!(v.get("password").is_none(), "{v}");
        assert_eq!(v["has_password"], false);
    }
}
