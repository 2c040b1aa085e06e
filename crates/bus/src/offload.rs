//! Blocking work (SQLite, files, the keychain) off the async runtime.
//!
//! The engine's async paths — the desktop app's commands, replay, the gateway — share
//! a few runtime threads with every socket. A SQLite query waiting on a lock, or a
//! large export, would stall them all, so such work runs on tokio's blocking pool
//! through [`blocking`]. It serves every layer, so it is generic over the layer's
//! error type: all it needs is a way to say "the task failed" as an I/O error.

/// Runs `work` on the blocking pool and returns its result. A task that panicked
/// or was cancelled is an I/O error naming that, never a panic here.
///
/// # Errors
/// `work`'s own error, or an I/O error when the task panicked or was cancelled.
pub async fn blocking<T, E, F>(work: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<std::io::Error> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        E::from(std::io::Error::other(format!("blocking task failed: {e}")))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    enum Error {
        NoStore,
        Io,
    }

    impl From<std::io::Error> for Error {
        fn from(_: std::io::Error) -> Self {
            Error::Io
        }
    }

    type Result<T> = std::result::Result<T, Error>;

    #[tokio::test]
    async fn results_and_panics_come_back_as_values() {
        assert_eq!(blocking(|| Ok::<_, Error>(2 + 2)).await.ok(), Some(4));
        let failed: Result<()> = blocking(|| Err(Error::NoStore)).await;
        assert!(matches!(failed, Err(Error::NoStore)));
        let panicked: Result<()> = blocking(|| panic!("boom")).await;
        assert!(matches!(panicked, Err(Error::Io)));
    }
}
