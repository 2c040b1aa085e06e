//! Blocking work (SQLite, files, the keychain) off the async runtime.
//!
//! The engine's async paths — the desktop app's commands, replay, the gateway — share
//! a few runtime threads with every socket. A SQLite query waiting on a lock, or a
//! large export, would stall them all, so such work runs on tokio's blocking pool
//! through [`blocking`].

use crate::{Error, Result};

/// Runs `work` on the blocking pool and returns its result. A task that panicked
/// or was cancelled is an I/O error naming that, never a panic here.
pub async fn blocking<T, F>(work: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        Error::Io(std::io::Error::other(format!("blocking task failed: {e}")))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_and_panics_come_back_as_values() {
        assert_eq!(blocking(|| Ok(2 + 2)).await.ok(), Some(4));
        let failed: Result<()> = blocking(|| Err(Error::NoStore)).await;
        assert!(matches!(failed, Err(Error::NoStore)));
        let panicked: Result<()> = blocking(|| panic!("boom")).await;
        assert!(matches!(panicked, Err(Error::Io(_))));
    }
}
