//! Client connections to real gateways: saved targets (tokens never in them),
//! connect requests, live connections, and emits with their ack replies.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a client connection reaches its gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TransportChoice {
    /// Polling first, upgraded to websocket (the socket.io-client default).
    #[default]
    Any,
    Websocket,
    Polling,
}

/// An event sent after every (re)connect, such as a `subscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnConnectEmit {
    pub event: String,
    #[serde(default)]
    pub data: Value,
}

/// A saved gateway target (Connections panel). Never holds a token: that lives in the
/// OS keychain, and `has_token` says whether one is stored there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TargetProfile {
    pub name: String,
    pub url: String,
    #[serde(default = "root_namespace")]
    pub namespace: String,
    /// Handshake `auth` fields other than the token (e.g. `firebase_id`).
    #[serde(default)]
    pub auth: Value,
    /// Extra handshake headers (not secrets: those go in the token).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub query: Vec<(String, String)>,
    #[serde(default)]
    pub transport: TransportChoice,
    #[serde(default)]
    pub on_connect: Vec<OnConnectEmit>,
    /// Extra trusted roots, no checks, or a client certificate (`https://` targets).
    #[serde(default)]
    pub tls: TargetTls,
    /// Answers to the server's ack requests: `event` (or `*`) -> `data`, sent as the
    /// ack's one argument. Any rule makes the connection use Sockscope's own client.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ack_replies: Vec<OnConnectEmit>,
    /// Output only: a token for this target is in the keychain.
    #[serde(default)]
    pub has_token: bool,
}

/// TLS choices of a client connection, as file paths (all unset: the system's roots
/// only). The CLI's `--ca-cert`, `--insecure`, `--client-cert`, `--client-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TargetTls {
    /// A PEM file of extra trusted root certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// Accept any certificate and host name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// A PEM client certificate for mutual TLS (with `client_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    /// Its PKCS#8 PEM private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
}

fn root_namespace() -> String {
    "/".to_owned()
}

/// Open a client connection to `target`. `token`, when given, is sent as
/// `auth.token` (and stored in the keychain when `remember_token`); without it the
/// keychain's token for the target's name is used, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectRequest {
    pub target: TargetProfile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default)]
    pub remember_token: bool,
}

/// A live client connection as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    pub id: u64,
    pub name: String,
    pub url: String,
    pub namespace: String,
    /// `connection:<id>`, the source of its records.
    pub source: String,
    pub connected_at: i64,
    /// Something the user should know, such as a token the keychain could not keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// An emit on a client connection, from the composer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionEmit {
    pub connection: u64,
    pub event: String,
    /// The arguments as a JSON array (one element per argument).
    pub args: Value,
    #[serde(default)]
    pub ack: bool,
    #[serde(default = "default_ack_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_ack_timeout_ms() -> u64 {
    5_000
}

/// What an emit got back: the ack reply and its latency, when an ack was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EmitReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}
