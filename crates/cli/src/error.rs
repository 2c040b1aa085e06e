//! The CLI's one error type; each variant prints as one line.

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Engine(#[from] sockscope_engine::Error),
    #[error(transparent)]
    Admin(#[from] sockscope_engine::admin_client::AdminError),
    #[error("{0} tenant finding(s)")]
    Findings(usize),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot read {path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
    /// The command ran but its outcome is a failure (its report was printed).
    #[error("{0}")]
    Failed(String),
    /// A CI gate did not hold (contract violations, breaking changes, drift, a failed
    /// `--ensure`): the report was printed; exit code 1, not 2.
    #[error("{0}")]
    Gate(String),
    #[error(transparent)]
    Contract(#[from] sockscope_engine::contract::ContractError),
    #[error(transparent)]
    Metrics(#[from] sockscope_engine::metrics::MetricsError),
    #[error(transparent)]
    Merge(#[from] sockscope_engine::simulate::merge::MergeError),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("connection to {url} ended: {reason}")]
    Ended { url: String, reason: String },
    #[error("{url} answered {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
}

pub type Result<T> = std::result::Result<T, CliError>;

/// A store error reached directly (not through an engine call) is shown as the
/// engine shows it: same message, same code.
impl From<sockscope_engine::store::Error> for CliError {
    fn from(e: sockscope_engine::store::Error) -> Self {
        CliError::Engine(e.into())
    }
}

/// A gateway error reached directly (templates read by the CLI) is shown as the
/// engine shows it.
impl From<sockscope_engine::gateway::Error> for CliError {
    fn from(e: sockscope_engine::gateway::Error) -> Self {
        CliError::Engine(e.into())
    }
}

/// A client error reached directly (TLS options, a connection) is shown as the
/// engine shows it.
impl From<sockscope_engine::client::Error> for CliError {
    fn from(e: sockscope_engine::client::Error) -> Self {
        CliError::Engine(e.into())
    }
}
