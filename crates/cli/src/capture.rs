//! The recording side of `record` and `serve --record`: a task that drains its own
//! bus subscription into a [`Recorder`], apart from the printer's. A slow terminal
//! makes the printer skip lines (it says how many) but never makes the recording lose
//! events; only the recording's own lag counts as lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sockscope_engine::store::{Recorder, RecorderStats};
use sockscope_protocol::EventRecord;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::{CliError, Result};

/// A recording in progress.
pub struct Capture {
    recorder: Arc<Recorder>,
    /// Events given to the recorder so far.
    seen: Arc<AtomicU64>,
    /// True once `limit` events were recorded.
    full: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<broadcast::Receiver<EventRecord>>,
    limit: Option<u64>,
}

impl Capture {
    /// Starts recording what `rx` receives, at most `limit` events.
    pub fn start(
        recorder: Recorder,
        mut rx: broadcast::Receiver<EventRecord>,
        limit: Option<u64>,
    ) -> Self {
        let recorder = Arc::new(recorder);
        let seen = Arc::new(AtomicU64::new(0));
        let (full_tx, full) = watch::channel(limit == Some(0));
        let (stop, mut stop_rx) = oneshot::channel();
        let (sink, count) = (recorder.clone(), seen.clone());
        let task = tokio::spawn(async move {
            if limit == Some(0) {
                return rx;
            }
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stop_rx => break,
                    next = rx.recv() => match next {
                        Ok(rec) => {
                            sink.record(rec);
                            let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                            if limit.is_some_and(|l| n >= l) {
                                let _ = full_tx.send(true);
                                break;
                            }
                        }
                        Err(RecvError::Lagged(n)) => sink.note_dropped(n),
                        Err(RecvError::Closed) => break,
                    },
                }
            }
            rx
        });
        Self {
            recorder,
            seen,
            full,
            stop: Some(stop),
            task,
            limit,
        }
    }

    /// Events recorded so far (given to the recorder).
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Resolves once the limit is reached (never without one).
    pub async fn full(&mut self) {
        if self.full.wait_for(|f| *f).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Stops: records what reached the bus before the call (up to the limit),
    /// flushes everything, ends the session and reports the counts.
    pub async fn stop(mut self) -> Result<RecorderStats> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task_ended = (&mut self.task).await;
        if let Ok(mut rx) = task_ended {
            loop {
                if self.limit.is_some_and(|l| self.seen() >= l) {
                    break;
                }
                match rx.try_recv() {
                    Ok(rec) => {
                        self.recorder.record(rec);
                        self.seen.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TryRecvError::Lagged(n)) => self.recorder.note_dropped(n),
                    Err(_) => break,
                }
            }
        }
        let recorder = Arc::try_unwrap(self.recorder)
            .map_err(|_| CliError::Io(std::io::Error::other("the recording task did not stop")))?;
        let stats = tokio::task::spawn_blocking(move || recorder.finish())
            .await
            .map_err(|e| CliError::Io(std::io::Error::other(e)))??;
        Ok(stats)
    }
}

/// The final counts of a recording, by cause, as one line's middle part:
/// `N events written, D dropped, L lost (bus lag a, queue full b, connection lost c, oversized d)`.
pub fn summary(stats: &RecorderStats, connection_lost: u64, oversized: u64) -> String {
    let lost = stats.dropped + connection_lost + oversized;
    format!(
        "{} events written, {} dropped, {} lost (bus lag {}, queue full {}, connection lost {}, oversized {})",
        stats.written,
        stats.dropped,
        lost,
        stats.bus_lag,
        stats.queue_full + stats.failed,
        connection_lost,
        oversized
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_cause() {
        let stats = RecorderStats {
            session_id: 1,
            written: 10,
            dropped: 3,
            bus_lag: 1,
            queue_full: 2,
            ..Default::default()
        };
        assert_eq!(
            summary(&stats, 1, 2),
            "10 events written, 3 dropped, 6 lost (bus lag 1, queue full 2, connection lost 1, oversized 2)"
        );
    }
}
