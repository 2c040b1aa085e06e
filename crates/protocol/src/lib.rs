//! Wire types shared by every Sockscope part.
//!
//! The desktop UI is compiled to wasm32 and the engine runs on tokio; both must agree
//! on the shape of what crosses the Tauri IPC boundary and what goes into recordings.
//! Keeping these types here, with only `serde` as a dependency, lets the UI use them
//! without pulling in tokio, socketioxide or rusqlite.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod admin;
pub mod console;
pub mod time;

pub use admin::{
    AdminActionKind, AdminActionReply, AdminActionRequest, AdminNamespaceView, AdminRoomView,
    AdminServerView, AdminSocketView, AdminTarget, AdminTargetSave, InspectorSource, InspectorView,
    LeakBadge, TenantGroupView,
};
pub use console::{ReplayPlan, ReplayRequest, ReplayState, SimulateRequest, SimulateState};

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
}

/// How the embedded gateway authenticates a handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthMode {
    /// Every handshake is accepted; sockets are anonymous.
    #[default]
    None,
    /// HS256 JWT signed with a shared secret.
    Hs256 { secret: String },
    /// RS256 JWT checked against an RSA public key (PEM text).
    Rs256 { public_key_pem: String },
}

/// Which gateway the embedded server behaves like: `generic`, or one of the five seed
/// gateways it emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// subscribe/unsubscribe rooms, every other event recorded and acked.
    #[default]
    Generic,
    /// Jet Admin: workflow runs, widgets, AI chat (seed 000).
    JetAdmin,
    /// Analytics dashboards: entity subscriptions and metric ticks (seed 001).
    Analytics,
    /// GxP toolkit socket server: templates on `private.{Model}.{id}` channels (seed 002).
    Gxp,
    /// Steedos AppGateway: tenant rooms from roomParts, broker-style emits (seed 004).
    Steedos,
    /// Jac Cloud: plain WebSocket at `/websocket` (seed 003).
    Jac,
}

impl Profile {
    pub const ALL: [Profile; 6] = [
        Profile::Generic,
        Profile::JetAdmin,
        Profile::Analytics,
        Profile::Gxp,
        Profile::Steedos,
        Profile::Jac,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Generic => "generic",
            Profile::JetAdmin => "jet-admin",
            Profile::Analytics => "analytics",
            Profile::Gxp => "gxp",
            Profile::Steedos => "steedos",
            Profile::Jac => "jac",
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The Socket.IO packet encoding a gateway and its clients agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Parser {
    /// The default parser: JSON text packets, binary as attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: every packet one msgpack binary frame.
    Msgpack,
}

impl Parser {
    pub fn name(self) -> &'static str {
        match self {
            Parser::Json => "json",
            Parser::Msgpack => "msgpack",
        }
    }
}

/// What a user sets before starting the embedded gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewaySettings {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub auth: AuthMode,
    /// Namespaces served besides `/`.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Claim naming the user (default `sub`).
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
    /// Claim naming the tenant (default `tenantId`).
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// The gateway being emulated.
    #[serde(default)]
    pub profile: Profile,
    /// Interval of simulated server pushes (metric ticks, workflow steps), in ms.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// Folder of event templates; the shipped ones when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates_dir: Option<String>,
    /// Serve HTTPS/WSS with this certificate chain and key (PEM files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFiles>,
    /// The HTTP API's bearer token. When the API needs one (a JWT key is set, or a
    /// non-loopback bind) and none is given, the gateway generates one. Never
    /// serialized, so it cannot leak through IPC or saved settings.
    #[serde(default, skip_serializing)]
    pub api_token: Option<String>,
    /// Web origins allowed besides `http(s)://localhost:*` and `http(s)://127.0.0.1:*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cors_origins: Vec<String>,
    /// Run as one node of a cluster joined through this Redis
    /// (`redis://HOST:PORT[/DB]`); one process alone when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    /// The Socket.IO parser the gateway speaks (JSON unless told).
    #[serde(default, skip_serializing_if = "is_json")]
    pub parser: Parser,
}

fn is_json(p: &Parser) -> bool {
    *p == Parser::Json
}

/// PEM files for the gateway's TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFiles {
    pub cert_path: String,
    pub key_path: String,
}

fn default_tick_ms() -> u64 {
    1000
}

fn default_user_claim() -> String {
    "sub".to_owned()
}

fn default_tenant_claim() -> String {
    "tenantId".to_owned()
}

/// The port the desktop console's gateway listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 3069;

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: DEFAULT_PORT,
            auth: AuthMode::None,
            namespaces: Vec::new(),
            user_claim: default_user_claim(),
            tenant_claim: default_tenant_claim(),
            profile: Profile::Generic,
            tick_ms: default_tick_ms(),
            templates_dir: None,
            tls: None,
            api_token: None,
            cors_origins: Vec::new(),
            parser: Parser::Json,
            redis: None,
        }
    }
}

/// What the app's About line shows: the build it is, down to the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AboutInfo {
    /// The workspace version (`Cargo.toml`), the same as `sockscope --version`'s.
    pub version: String,
    /// The git revision the binary was built from, or `unknown`.
    pub revision: String,
}

/// The embedded gateway as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GatewayStatus {
    pub running: bool,
    /// `host:port` actually bound, when running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `http://host:port` or `https://host:port`, when running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Connected sockets over every namespace.
    pub sockets: usize,
    /// Events seen since start, both ways.
    pub events: u64,
    /// Handshake tokens are verified against a key; without one, identities are
    /// read from unverified claims (emulation mode).
    #[serde(default)]
    pub identities_verified: bool,
    /// The HTTP API needs `Authorization: Bearer <api token>`.
    #[serde(default)]
    pub api_protected: bool,
    /// Where the generated API token was written for the local CLI, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_file: Option<String>,
    /// This node's id, when the gateway runs as one node of a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    /// How the cluster link is, when clustered: `connected to redis://...` or
    /// `redis lost: ...` (the node then serves only its own sockets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
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

/// A server-to-client emit asked for through the HTTP API, the CLI or the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmitRequest {
    /// Defaults to `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub event: String,
    /// The one argument sent with the event.
    #[serde(default)]
    pub data: Value,
    /// A room as clients name it in `subscribe`; without it the event goes to every
    /// socket of the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The tenant whose room is meant; without it, the room of tenant-less sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// An exact room name instead of `room`+`tenant`: a gxp channel such as
    /// `private.CheckIn.kiosk_2`, or a steedos room such as `space1-orders`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

/// An event template in the gxdev format (`socket-events/*.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub event: String,
    pub channel: String,
    pub data: Value,
    /// The file it came from (`built-in:NAME` for shipped templates).
    #[serde(default)]
    pub file: String,
}

/// A template file that could not be loaded, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateProblem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every template of a folder, and the files that failed (the rest still load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TemplateSet {
    pub templates: Vec<Template>,
    pub problems: Vec<TemplateProblem>,
}

/// Send a template through the running gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateSend {
    pub event: String,
    /// Replaces the channel's last segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Replaces the template's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The tenant whose sockets receive it (gxp channels are scoped by tenant when
    /// tokens name one); the public scope when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// What a template send did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSent {
    pub event: String,
    pub channel: String,
    pub delivered: usize,
}

/// A recording as listed: its identity and how many events it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: i64,
    pub name: String,
    /// `gateway`, `connection` or `import`.
    pub kind: String,
    pub target: String,
    pub started_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    pub events: u64,
    /// The connection profile minus secrets.
    #[serde(default)]
    pub meta: Value,
    /// Whether the session is still being written, ended cleanly, or was cut short.
    #[serde(default)]
    pub state: SessionState,
}

/// Where a session's recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// A recorder is writing it now.
    Recording,
    /// Its recorder finished and wrote everything it was given.
    #[default]
    Complete,
    /// Its recorder stopped without finishing (killed, crashed): the events are a
    /// prefix of what happened, and `ended_at` is the time of the last one.
    Interrupted,
}

impl SessionState {
    /// The lowercase name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Recording => "recording",
            SessionState::Complete => "complete",
            SessionState::Interrupted => "interrupted",
        }
    }

    /// The state named `s`; anything unknown reads as `complete`.
    pub fn from_name(s: &str) -> Self {
        match s {
            "recording" => SessionState::Recording,
            "interrupted" => SessionState::Interrupted,
            _ => SessionState::Complete,
        }
    }
}

/// An error as it crosses IPC: a stable code and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

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
        };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains("\"direction\":\"c2s\""), "{s}");
        assert!(!s.contains("socket_id"), "{s}");
        let back: EventRecord = serde_json::from_str(&s).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn settings_default_to_loopback_and_3069() {
        let s = GatewaySettings::default();
        assert_eq!(s.host, "127.0.0.1");
        assert_eq!(s.port, 3069);
        let parsed: GatewaySettings =
            serde_json::from_str(r#"{"host":"127.0.0.1","port":0}"#).unwrap();
        assert_eq!(parsed.tenant_claim, "tenantId");
        assert_eq!(parsed.auth, AuthMode::None);
        assert_eq!(parsed.profile, Profile::Generic);
    }

    #[test]
    fn profiles_have_stable_kebab_names() {
        for p in Profile::ALL {
            assert_eq!(Profile::from_name(p.name()), Some(p));
            assert_eq!(
                serde_json::to_value(p).unwrap(),
                serde_json::json!(p.name())
            );
        }
        assert_eq!(Profile::from_name("jet-admin"), Some(Profile::JetAdmin));
        assert_eq!(Profile::from_name("nope"), None);
    }
}

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

/// Start recording what the bus carries into a new session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRequest {
    pub name: String,
    /// Only records of this source (`gateway`, `connection:<id>`); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The recording in progress, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RecordingStatus {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i64>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub written: u64,
    pub dropped: u64,
}

/// Export a session to a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub id: i64,
    pub path: String,
    /// `jsonl` or `har`.
    #[serde(default = "default_format")]
    pub format: String,
}

/// Import a file as a new session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    pub path: String,
    /// `jsonl` or `har`; from the file's extension when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

fn default_format() -> String {
    "jsonl".to_owned()
}

/// Counts of one server-to-client event name: in the source session and in its replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCountDrift {
    pub event: String,
    /// Received in the source session (times the replay's loop count).
    pub expected: u64,
    /// Received during the replay.
    pub received: u64,
}

/// An ack reply that differs from the one the source session got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckDrift {
    pub event: String,
    /// Position of the send in the replay (0-based, over every loop).
    pub index: usize,
    /// The source session's reply (after rewrites and `ignore`).
    pub expected: Value,
    /// The replay's reply (after `ignore`); null when none came.
    pub received: Value,
    /// Why there is no reply (timeout, emit failure), when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Ack latency of one send, where both the source and the replay know it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyDrift {
    pub event: String,
    pub index: usize,
    pub original_ms: f64,
    pub replay_ms: f64,
    /// `replay_ms - original_ms`.
    pub delta_ms: f64,
}

/// How closely sends kept to their planned times (actual minus planned, microseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ScheduleSummary {
    pub sends: u64,
    pub mean_error_us: f64,
    pub max_error_us: i64,
}

/// What a client-side replay found: how the target's answers differ from the
/// source session's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DriftReport {
    pub source_session: i64,
    /// The new `replay` session holding everything the replay sent and received.
    pub replay_session: i64,
    pub target: String,
    /// Client-to-server events re-sent (over every loop).
    pub sent: u64,
    /// Server-to-client counts per event name, every name of either side.
    pub events: Vec<EventCountDrift>,
    /// Names the source session received and the replay did not.
    pub missing: Vec<String>,
    /// Names the replay received and the source session did not.
    pub unexpected: Vec<String>,
    pub ack_mismatches: Vec<AckDrift>,
    pub latency: Vec<LatencyDrift>,
    pub schedule: ScheduleSummary,
    /// Records the replay session could not keep (overload); 0 normally.
    #[serde(default)]
    pub dropped: u64,
}

impl DriftReport {
    /// True when counts, names and ack payloads all match.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.ack_mismatches.is_empty()
            && self.events.iter().all(|e| e.expected == e.received)
    }
}

/// Latency percentiles of one measured quantity, in milliseconds (simulator reports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LatencySummary {
    /// How many samples were measured.
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Events of one name a simulation sent and received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SimEventCount {
    pub event: String,
    pub sent: u64,
    pub received: u64,
}

/// Failures of one kind during a simulation (`connect_refused`, `wait_timeout`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SimErrorCount {
    pub kind: String,
    pub count: u64,
}

/// Running counters of a simulation, sent while it runs (progress bar, GUI chart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SimulationProgress {
    pub elapsed_ms: u64,
    /// Clients started so far (the ramp spreads their starts).
    pub started: u64,
    pub clients: u64,
    pub connected: u64,
    pub failed: u64,
    pub events_sent: u64,
    pub events_received: u64,
    pub acks_ok: u64,
    pub acks_timed_out: u64,
    pub errors: u64,
    pub done: bool,
    /// Latency so far (all samples since the start), for live charts.
    #[serde(default)]
    pub delivery_p50_ms: f64,
    #[serde(default)]
    pub delivery_p99_ms: f64,
    #[serde(default)]
    pub ack_p99_ms: f64,
}

/// The outcome of a simulation. Counts add up: `connected + failed == clients`,
/// `errors == sum(errors_by_kind)`, `events_sent == sum(events[].sent)`,
/// `events_received == sum(events[].received)`; rates are counts over `elapsed_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SimulationReport {
    pub scenario: String,
    /// The gateway URL driven (the embedded one's when `--embedded`).
    pub target: String,
    pub embedded: bool,
    pub clients: u64,
    pub connected: u64,
    pub failed: u64,
    pub events_sent: u64,
    pub events_received: u64,
    pub acks_ok: u64,
    pub acks_timed_out: u64,
    pub errors: u64,
    pub errors_by_kind: Vec<SimErrorCount>,
    pub events: Vec<SimEventCount>,
    /// Wall time from the first client's start to the last client's end.
    pub elapsed_ms: u64,
    pub sent_per_sec: f64,
    pub received_per_sec: f64,
    /// Handshake: TCP + WebSocket upgrade + Socket.IO CONNECT answered.
    pub connect_latency: LatencySummary,
    /// Emit with ack to its ack reply.
    pub ack_latency: LatencySummary,
    /// Server to client: from the payload's `timestamp` (ISO 8601 or epoch ms), else
    /// from the client's last emit to a `wait_for` match.
    pub delivery_latency: LatencySummary,
}

/// Start a server-side replay: the embedded gateway re-emits a recorded session's
/// server-to-client events to the clients connected to it (rooms and tenants as
/// recorded, after the rewrite rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerReplayRequest {
    pub session: i64,
    /// Timing, filters and rewrites (`FROM=>TO` also rewrites room names, tenant and
    /// user; `$.path=VALUE` only the arguments).
    #[serde(flatten)]
    pub plan: crate::console::ReplayPlan,
    /// Wait until this many sockets are connected to the replayed namespaces before
    /// the first event (0 = start at once).
    #[serde(default)]
    pub wait_clients: usize,
    /// Give up waiting for clients after this long, in ms (default 60 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout_ms: Option<u64>,
    /// Pause between the clients being there and the first event, in ms, so clients
    /// that subscribe on connect are in their rooms.
    #[serde(default)]
    pub start_delay_ms: u64,
}

/// Where a server-side replay is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ServerReplayPhase {
    /// No server-side replay has been started.
    #[default]
    Idle,
    /// Waiting for clients to connect (or for the start delay).
    Waiting,
    Playing,
    Paused,
    /// Every event was played.
    Finished,
    /// Stopped before the end.
    Stopped,
    /// Could not go on (no clients in time, the gateway stopped); see `error`.
    Failed,
}

impl ServerReplayPhase {
    /// Finished, stopped or failed: nothing more will happen.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Finished | Self::Stopped | Self::Failed)
    }
}

/// A snapshot of a server-side replay's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerReplayStatus {
    pub phase: ServerReplayPhase,
    pub session: i64,
    /// Events emitted so far (seeking back counts the replayed ones again).
    pub sent: u64,
    /// Events in the plan, over every loop.
    pub total: u64,
    /// Index in the plan of the next event to emit (`total` when done).
    pub index: u64,
    pub paused: bool,
    /// Name of the last event emitted.
    #[serde(default)]
    pub event: String,
    /// Sum over the emitted events of the sockets each was addressed to.
    pub delivered: u64,
    /// Scheduling error (actual minus planned emit time) over the emitted events.
    pub schedule: ScheduleSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
