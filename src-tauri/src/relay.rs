//! Carries engine events to the webview in batches.
//!
//! One Tauri event per ~50 ms window, never one per socket event, so a gateway doing
//! 10k events/s costs the UI 20 messages a second. Each batch also carries the
//! gateway's status (socket and event counts), so the Server panel's counters need no
//! polling. Batches past `MAX_BATCH` keep the newest events and count the rest as
//! `lagged`: the live list shows the present, recordings keep everything.

use std::time::Duration;

use sockscope_protocol::{EventBatch, GatewayStatus, RecordingStatus};
use tauri::{AppHandle, Emitter};
use tokio::sync::broadcast::error::TryRecvError;

use crate::EngineState;

/// The Tauri event name the UI listens to.
pub const EVENTS: &str = "sockscope://events";
const WINDOW: Duration = Duration::from_millis(50);
const MAX_BATCH: usize = 2_000;

pub fn spawn(app: AppHandle, engine: EngineState) {
    tauri::async_runtime::spawn(async move {
        let mut rx = engine.bus().subscribe();
        let mut tick = tokio::time::interval(WINDOW);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_state = (GatewayStatus::default(), RecordingStatus::default());
        loop {
            tick.tick().await;
            let mut batch = EventBatch::default();
            loop {
                match rx.try_recv() {
                    Ok(rec) => batch.events.push(rec),
                    Err(TryRecvError::Lagged(n)) => batch.lagged += n,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return,
                }
            }
            if batch.events.len() > MAX_BATCH {
                let excess = batch.events.len() - MAX_BATCH;
                batch.events.drain(..excess);
                batch.lagged += excess as u64;
            }
            batch.status = engine.gateway_status().await;
            batch.recording = engine.recording_status().await;
            let state = (batch.status.clone(), batch.recording.clone());
            if batch.events.is_empty() && batch.lagged == 0 && state == last_state {
                continue;
            }
            last_state = state;
            if let Err(error) = app.emit(EVENTS, &batch) {
                tracing::warn!(%error, "cannot deliver an event batch to the UI");
            }
        }
    });
}
