//! The engine's one error type: every failure a caller can act on, each with a
//! one-line message that names the problem.

use std::net::SocketAddr;

/// Everything the engine can fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the embedded gateway is already running on {0}")]
    AlreadyRunning(SocketAddr),
    #[error("the embedded gateway is not running")]
    NotRunning,
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("emit failed: {0}")]
    Emit(String),
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
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The recordings store's errors ([`sockscope_store::Error`]), shown as they are.
    #[error(transparent)]
    Store(#[from] sockscope_store::Error),
    /// The embedded gateway's errors ([`sockscope_gateway::Error`]), shown as they are.
    #[error(transparent)]
    Gateway(#[from] sockscope_gateway::Error),
    /// Client connections' errors ([`sockscope_client::Error`]), shown as they are.
    #[error(transparent)]
    Client(#[from] sockscope_client::Error),
    /// The capture proxy's errors ([`sockscope_proxy::Error`]), shown as they are.
    #[error(transparent)]
    Proxy(#[from] sockscope_proxy::Error),
    #[error("the capture proxy is already running on {0}")]
    ProxyRunning(String),
    #[error("the capture proxy is not running")]
    ProxyNotRunning,
    /// The connection doctor's bad input ([`crate::usecase::doctor::DoctorError`]).
    #[error(transparent)]
    Doctor(#[from] crate::usecase::doctor::DoctorError),
}

impl Error {
    /// A stable machine-readable code for IPC and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::AlreadyRunning(_) => "already_running",
            Error::NotRunning => "not_running",
            Error::Unreachable { .. } => "unreachable",
            Error::Emit(_) => "emit",
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
            Error::File { .. } => "file",
            Error::Io(_) => "io",
            Error::Store(e) => e.code(),
            Error::Gateway(e) => e.code(),
            Error::Client(e) => e.code(),
            Error::Proxy(_) => "proxy",
            Error::ProxyRunning(_) => "proxy_running",
            Error::ProxyNotRunning => "proxy_not_running",
            Error::Doctor(e) => e.code(),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
