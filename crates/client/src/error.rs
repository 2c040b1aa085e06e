//! What a client of a real gateway can fail at: the target, reaching it, its
//! refusal, TLS, emitting, the keychain. Messages and [`Error::code`]s are the ones
//! the engine has always shown (the engine wraps this enum transparently).

/// Everything a connection to a real gateway can fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    Keychain(#[source] keyring::Error),
    #[error("bad gateway target: {0}")]
    BadTarget(String),
    #[error("no connection {0} (it was closed or never opened)")]
    UnknownConnection(u64),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Saved admin targets live in the store.
    #[error(transparent)]
    Store(#[from] sockscope_store::Error),
}

impl Error {
    /// A stable machine-readable code for IPC and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadHeader(_) => "bad_header",
            Error::Unreachable { .. } => "unreachable",
            Error::Refused { .. } => "refused",
            Error::Tls(_) => "tls",
            Error::Emit(_) => "emit",
            Error::Keychain(_) => "keychain",
            Error::BadTarget(_) => "bad_target",
            Error::UnknownConnection(_) => "unknown_connection",
            Error::Io(_) => "io",
            Error::Store(e) => e.code(),
        }
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
