//! The engine's one error type: every failure a caller can act on, each with a
//! one-line message that names the problem.

use std::net::SocketAddr;

/// Everything the engine can fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid listen address {0:?}: expected an IP address such as 127.0.0.1")]
    BadHost(String),
    #[error("invalid namespace {0:?}: a namespace starts with '/'")]
    BadNamespace(String),
    #[error("the embedded gateway is already running on {0}")]
    AlreadyRunning(SocketAddr),
    #[error("the embedded gateway is not running")]
    NotRunning,
    #[error("unknown namespace {0:?}")]
    UnknownNamespace(String),
    #[error("invalid tenant {0:?}: a tenant id must not contain ':'")]
    BadTenant(String),
    #[error(
        "missing token: pass it as auth.token in the handshake or an Authorization: Bearer header"
    )]
    MissingToken,
    #[error("bad signature: the token was not signed with the gateway's secret")]
    BadSignature,
    /// The handshake names an identity (tenant, user) its verified token does not.
    #[error("identity mismatch: {0}")]
    IdentityMismatch(String),
    #[error("token expired")]
    TokenExpired,
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("invalid JWT public key (expected an RSA public key in PEM): {0}")]
    BadKey(String),
    #[error("cannot read templates folder {dir}: {source}")]
    Templates {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown template {event:?} (known: {known})")]
    UnknownTemplate { event: String, known: String },
    #[error("invalid header {0:?}: expected a header name and a value without line breaks")]
    BadHeader(String),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} refused the connection: {message}")]
    Refused { url: String, message: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("emit failed: {0}")]
    Emit(String),
    #[error("keychain: {0}")]
    Keychain(String),
    #[error("bad gateway target: {0}")]
    BadTarget(String),
    #[error("no connection {0} (it was closed or never opened)")]
    UnknownConnection(u64),
    #[error("a recording is already running: {0:?}")]
    AlreadyRecording(String),
    #[error("nothing is being recorded")]
    NotRecording,
    #[error("no recordings database is open")]
    NoStore,
    #[error("a replay is already running: wait for its report")]
    ReplayBusy,
    #[error("bad rewrite rule {rule:?}: {reason}")]
    BadRewrite { rule: String, reason: String },
    #[error("bad replay option: {0}")]
    BadReplay(String),
    #[error("session {0} has no client-to-server events to replay (check --only/--skip)")]
    NothingToReplay(i64),
    #[error("unknown scenario {name:?} (known: {known})")]
    UnknownScenario { name: String, known: String },
    #[error("bad scenario {file} at line {line}: {message}")]
    BadScenario {
        file: String,
        line: usize,
        message: String,
    },
    #[error("bad simulation option: {0}")]
    BadSimulation(String),
    #[error("session {0} has no server-to-client events to replay (check --only/--skip)")]
    NoServerEvents(i64),
    #[error("the session's events were recorded on namespace {namespace:?}, which the gateway does not serve (serving: {served}); add it with --namespace")]
    NamespaceNotServed { namespace: String, served: String },
    #[error("only {connected} of {wanted} clients connected within {waited_ms} ms")]
    NoClients {
        wanted: usize,
        connected: usize,
        waited_ms: u64,
    },
    #[error("a server-side replay is already running (session {0})")]
    ReplayRunning(i64),
    #[error("no server-side replay is running")]
    ReplayNotRunning,
    #[error("cannot seek to event {index}: the replay has {total} events")]
    BadSeek { index: u64, total: u64 },
    #[error("cannot join the cluster through Redis at {url}: {reason}")]
    Cluster { url: String, reason: String },
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("admin namespace: {0}")]
    AdminSetup(String),
    #[error("admin action: {0}")]
    AdminAction(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The recordings store's errors ([`sockscope_store::Error`]), shown as they are.
    #[error(transparent)]
    Store(#[from] sockscope_store::Error),
}

impl Error {
    /// A stable machine-readable code for IPC and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Bind { .. } => "bind",
            Error::BadHost(_) => "bad_host",
            Error::AdminSetup(_) => "admin_setup",
            Error::AdminAction(_) => "admin_action",
            Error::BadNamespace(_) => "bad_namespace",
            Error::AlreadyRunning(_) => "already_running",
            Error::NotRunning => "not_running",
            Error::UnknownNamespace(_) => "unknown_namespace",
            Error::BadTenant(_) => "bad_tenant",
            Error::MissingToken => "missing_token",
            Error::BadSignature => "bad_signature",
            Error::IdentityMismatch(_) => "identity_mismatch",
            Error::TokenExpired => "token_expired",
            Error::InvalidToken(_) => "invalid_token",
            Error::BadKey(_) => "bad_key",
            Error::Templates { .. } => "templates",
            Error::UnknownTemplate { .. } => "unknown_template",
            Error::Tls(_) => "tls",
            Error::Unreachable { .. } => "unreachable",
            Error::Refused { .. } => "refused",
            Error::BadHeader(_) => "bad_header",
            Error::Emit(_) => "emit",
            Error::Keychain(_) => "keychain",
            Error::BadTarget(_) => "bad_target",
            Error::UnknownConnection(_) => "unknown_connection",
            Error::AlreadyRecording(_) => "already_recording",
            Error::NotRecording => "not_recording",
            Error::NoStore => "no_store",
            Error::ReplayBusy => "replay_busy",
            Error::BadRewrite { .. } => "bad_rewrite",
            Error::BadReplay(_) => "bad_replay",
            Error::NothingToReplay(_) => "nothing_to_replay",
            Error::UnknownScenario { .. } => "unknown_scenario",
            Error::BadScenario { .. } => "bad_scenario",
            Error::BadSimulation(_) => "bad_simulation",
            Error::NoServerEvents(_) => "no_server_events",
            Error::NamespaceNotServed { .. } => "namespace_not_served",
            Error::NoClients { .. } => "no_clients",
            Error::ReplayRunning(_) => "replay_running",
            Error::ReplayNotRunning => "replay_not_running",
            Error::BadSeek { .. } => "bad_seek",
            Error::Cluster { .. } => "cluster",
            Error::File { .. } => "file",
            Error::Io(_) => "io",
            Error::Store(e) => e.code(),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
