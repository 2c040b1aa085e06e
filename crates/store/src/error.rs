//! What the recordings store can fail at. Each variant keeps the error it came from
//! (`rusqlite`, I/O) as its source; the messages and the stable [`Error::code`]s are
//! the ones the engine has always shown, so a front end cannot tell the store moved.

use std::path::Path;

/// Everything the store can fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database {path}: {source}")]
    Db {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path}: cannot create {dir}: {source}")]
    CreateDir {
        path: String,
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}: cannot lock session {session}: {source}")]
    Lock {
        path: String,
        session: i64,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}: the recorder's {thread} thread panicked")]
    RecorderPanicked { path: String, thread: String },
    #[error("database is locked: {0} (another program holds a write lock; try again or use --db)")]
    DbLocked(String),
    #[error("no session {0}")]
    UnknownSession(i64),
    #[error("bad import at line {line}: {message}")]
    BadImport { line: usize, message: String },
    #[error("cannot import {file}: {message}")]
    BadHar { file: String, message: String },
    #[error("unknown format {0:?} (expected jsonl or har)")]
    BadFormat(String),
    #[error("bad gateway target: {0}")]
    BadTarget(String),
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A stable machine-readable code for IPC and `--json` output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Db { .. }
            | Error::CreateDir { .. }
            | Error::Lock { .. }
            | Error::RecorderPanicked { .. } => "db",
            Error::DbLocked(_) => "db_locked",
            Error::UnknownSession(_) => "unknown_session",
            Error::BadImport { .. } => "bad_import",
            Error::BadHar { .. } => "bad_har",
            Error::BadFormat(_) => "bad_format",
            Error::BadTarget(_) => "bad_target",
            Error::File { .. } => "file",
            Error::Io(_) => "io",
        }
    }

    /// A file error naming `path`.
    pub fn file(path: &Path, source: std::io::Error) -> Self {
        Error::File {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
