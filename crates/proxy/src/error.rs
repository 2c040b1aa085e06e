//! Why the proxy could not start, and why a body or rule could not be read. A
//! running proxy never fails as a whole because of one client: a client's trouble
//! ends that client, with its reason recorded.

/// Why `Proxy::start` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--upstream {url:?}: {why}")]
    Upstream { url: String, why: String },
    #[error("--listen {addr:?}: {why}")]
    Listen { addr: String, why: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("upstream TLS: {0}")]
    Tls(#[from] sockscope_client::Error),
    #[error("--listen-tls: {0}")]
    ListenTls(#[from] sockscope_gateway::Error),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A `--rule` that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--rule {rule:?}: {why}")]
pub struct RuleError {
    pub rule: String,
    pub why: String,
}

/// A polling body that is not Engine.IO framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not UTF-8 text")]
    NotUtf8,
    #[error("a packet length is missing or not a number")]
    Length,
    #[error("the body ends inside a packet")]
    Truncated,
    #[error("a binary packet is not valid base64")]
    Base64,
    #[error("the body holds more than {0} packets")]
    TooManyPackets(usize),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
