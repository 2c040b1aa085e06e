//! The capture proxy as front ends see it: what to start (upstream, listen address,
//! rules) and what it reports (its clients, their handshakes, counters and faults).
//! The proxy itself is `sockscope-proxy`; these are the shapes that cross IPC and the
//! CLI's `--json` output.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Parser, TargetTls, TlsFiles};

/// What `sockscope proxy` and the Proxy panel start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProxyRequest {
    /// `127.0.0.1:PORT` (port 0: any free port).
    pub listen: String,
    /// The real gateway: `http://` or `https://` (`ws://`/`wss://` are read as such).
    pub upstream: String,
    /// Force a parser instead of detecting it from the first Socket.IO packet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parser: Option<Parser>,
    /// Fault rules in the `--rule` syntax (`drop event=tick`...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// TLS towards the upstream (extra CA, insecure, client certificate).
    #[serde(default)]
    pub tls: TargetTls,
    /// Serve HTTPS/WSS to the app with this certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_tls: Option<TlsFiles>,
    /// Record into a session of this name while the proxy runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

/// A running proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProxyStatus {
    pub running: bool,
    /// Where the app should point its socket URL (`http://127.0.0.1:PORT`).
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub upstream: String,
    #[serde(default)]
    pub rules: Vec<String>,
    #[serde(default)]
    pub clients: Vec<ProxyClient>,
    /// Requests that were not Engine.IO and went through untouched.
    #[serde(default)]
    pub passthrough: u64,
    /// The recording session, while recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i64>,
}

/// One Engine.IO session seen through the proxy: one client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProxyClient {
    /// The client's number in this proxy; its records' source is `proxy:<n>`.
    pub n: u64,
    /// `3` or `4`.
    pub eio: u8,
    /// `json` or `msgpack` (`None` until the first Socket.IO packet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parser: Option<Parser>,
    /// `polling` or `websocket`: the transport in use now.
    pub transport: String,
    /// The handshake request: path, query and headers with secrets redacted.
    pub handshake: Value,
    /// Namespaces connected (with their Socket.IO socket ids where known).
    pub namespaces: Vec<ProxyNamespace>,
    pub c2s: u64,
    pub s2c: u64,
    /// Faults injected so far, one line each (`dropped tick by rule 1`).
    #[serde(default)]
    pub faults: Vec<String>,
    /// Why it ended (`None` while open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProxyNamespace {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_id: Option<String>,
}
