//! Recording the bus into a session while the user watches: the desktop app's Record
//! button and anything else that records "what is happening now" rather than one
//! connection from start to end.
//!
//! A task drains a bus subscription into a [`Recorder`]; it never blocks the bus (a
//! reader that falls behind loses records, and the loss is counted as dropped).

use std::sync::Arc;

use sockscope_protocol::{RecordRequest, RecordingStatus};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::store::{Recorder, RecorderStats, Store};
use crate::{Bus, Result};

/// A recording in progress.
pub struct Recording {
    name: String,
    source: Option<String>,
    recorder: Arc<Recorder>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Recording {
    /// Creates the session and starts copying matching bus records into it.
    pub fn start(store: &Store, bus: &Bus, req: &RecordRequest) -> Result<Self> {
        let meta = serde_json::json!({ "source": req.source });
        let target = req.source.clone().unwrap_or_else(|| "all".to_owned());
        let kind = match req.source.as_deref() {
            Some(s) if s.starts_with("connection:") => "connection",
            _ => "gateway",
        };
        let session = store.create_session(&req.name, kind, &target, meta)?;
        let recorder = Arc::new(Recorder::start(store, session)?);
        let mut rx = bus.subscribe();
        let (stop_tx, mut stop_rx) = oneshot::channel();
        let filter = req.source.clone();
        let sink = recorder.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    next = rx.recv() => match next {
                        Ok(rec) => {
                            if filter.as_deref().is_none_or(|s| s == rec.source) {
                                sink.record(rec);
                            }
                        }
                        Err(RecvError::Lagged(n)) => sink.note_dropped(n),
                        Err(RecvError::Closed) => break,
                    }
                }
            }
            // Whatever reached the bus before the stop is still queued: take it too.
            while let Ok(rec) = rx.try_recv() {
                if filter.as_deref().is_none_or(|s| s == rec.source) {
                    sink.record(rec);
                }
            }
        });
        tracing::info!(session, name = %req.name, source = ?req.source, "recording started");
        Ok(Self {
            name: req.name.clone(),
            source: req.source.clone(),
            recorder,
            stop: Some(stop_tx),
            task,
        })
    }

    pub fn status(&self) -> RecordingStatus {
        RecordingStatus {
            active: true,
            session_id: Some(self.recorder.session_id()),
            name: self.name.clone(),
            source: self.source.clone(),
            written: self.recorder.written(),
            dropped: self.recorder.dropped(),
        }
    }

    /// Stops copying, flushes everything queued and ends the session.
    pub async fn stop(mut self) -> Result<RecorderStats> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(error) = (&mut self.task).await {
            tracing::warn!(%error, "recording task ended abnormally");
        }
        let recorder = match Arc::try_unwrap(self.recorder) {
            Ok(r) => r,
            // The task has ended, so this is the only owner left.
            Err(shared) => return Ok(shared.stats()),
        };
        let stats = tokio::task::spawn_blocking(move || recorder.finish())
            .await
            .map_err(|e| crate::Error::Io(std::io::Error::other(e)))??;
        tracing::info!(
            session = stats.session_id,
            written = stats.written,
            dropped = stats.dropped,
            "recording stopped"
        );
        Ok(stats)
    }
}
