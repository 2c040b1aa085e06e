//! Recording the bus into a session while the user watches: the desktop app's Record
//! button and anything else that records "what is happening now" rather than one
//! connection from start to end.
//!
//! The capture itself is the shared use case [`crate::usecase::capture`]; this keeps
//! what the app shows about it (name, source, counts).

use sockscope_protocol::{RecordRequest, RecordingStatus};

use crate::store::{RecorderStats, Store};
use crate::usecase::capture::{Capture, CaptureOptions, NewSession};
use crate::{Bus, Result};

/// A recording in progress.
pub struct Recording {
    name: String,
    source: Option<String>,
    capture: Capture,
}

impl Recording {
    /// Creates the session and starts copying matching bus records into it.
    pub fn start(store: &Store, bus: &Bus, req: &RecordRequest) -> Result<Self> {
        let kind = match req.source.as_deref() {
            Some(s) if s.starts_with("connection:") => "connection",
            _ => "gateway",
        };
        let session = NewSession {
            name: req.name.clone(),
            kind: kind.to_owned(),
            target: req.source.clone().unwrap_or_else(|| "all".to_owned()),
            meta: serde_json::json!({ "source": req.source }),
        };
        let opts = CaptureOptions {
            source: req.source.clone(),
            ..CaptureOptions::default()
        };
        let capture = Capture::into_session(store, &session, bus.subscribe(), opts)?;
        tracing::info!(session = capture.session_id(), name = %req.name, source = ?req.source, "recording started");
        Ok(Self {
            name: req.name.clone(),
            source: req.source.clone(),
            capture,
        })
    }

    pub fn status(&self) -> RecordingStatus {
        RecordingStatus {
            active: true,
            session_id: Some(self.capture.session_id()),
            name: self.name.clone(),
            source: self.source.clone(),
            written: self.capture.written(),
            dropped: self.capture.dropped(),
        }
    }

    /// Stops copying, flushes everything queued and ends the session.
    pub async fn stop(self) -> Result<RecorderStats> {
        let stats = self.capture.stop().await?;
        tracing::info!(
            session = stats.session_id,
            written = stats.written,
            dropped = stats.dropped,
            "recording stopped"
        );
        Ok(stats)
    }
}
