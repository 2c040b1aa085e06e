//! What the embedded gateway can fail at: binding, handshake authentication,
//! templates, TLS, cluster and the admin namespace. Messages and the stable
//! [`Error::code`]s are the ones the engine has always shown (the engine wraps this
//! enum transparently); a variant keeps the error it came from where there was one.

/// Everything the embedded gateway can fail at.
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
    #[error("the embedded gateway is not running")]
    NotRunning,
    #[error("unknown namespace {0:?}")]
    UnknownNamespace(String),
    /// A handshake to a namespace the gateway does not serve; the message is
    /// socketioxide's own, which clients (and Sockscope's admin client) recognise.
    #[error("Invalid namespace")]
    NoSuchNamespace,
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
    BadKey(#[source] jsonwebtoken::errors::Error),
    #[error("cannot read templates folder {dir}: {source}")]
    Templates {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown template {event:?} (known: {known})")]
    UnknownTemplate { event: String, known: String },
    #[error("TLS: {what} {path}: {source}")]
    TlsFile {
        what: &'static str,
        path: String,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("emit failed: {0}")]
    Emit(String),
    #[error("cannot join the cluster through Redis at {url}: {reason}")]
    Cluster { url: String, reason: String },
    #[error("admin namespace: {0}")]
    AdminSetup(String),
    #[error("admin action: {0}")]
    AdminAction(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
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
            Error::NotRunning => "not_running",
            Error::UnknownNamespace(_) => "unknown_namespace",
            Error::NoSuchNamespace => "invalid_namespace",
            Error::BadTenant(_) => "bad_tenant",
            Error::MissingToken => "missing_token",
            Error::BadSignature => "bad_signature",
            Error::IdentityMismatch(_) => "identity_mismatch",
            Error::TokenExpired => "token_expired",
            Error::InvalidToken(_) => "invalid_token",
            Error::BadKey(_) => "bad_key",
            Error::Templates { .. } => "templates",
            Error::UnknownTemplate { .. } => "unknown_template",
            Error::TlsFile { .. } | Error::Tls(_) => "tls",
            Error::Emit(_) => "emit",
            Error::Cluster { .. } => "cluster",
            Error::Io(_) => "io",
        }
    }
}

/// The gateway's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
