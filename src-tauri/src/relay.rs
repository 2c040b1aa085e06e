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

/// The Tauri event carrying the connected admin source's picture
/// (`Option<InspectorView>`; `None` once no source is connected).
pub const ADMIN: &str = "sockscope://admin";
const ADMIN_WINDOW: Duration = Duration::from_millis(500);

/// Streams the admin source's picture: at most one Tauri event per 500 ms, and only
/// when it changed, however busy the remote gateway is.
pub fn spawn_admin(app: AppHandle, admin: crate::AdminState) {
    tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(ADMIN_WINDOW);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last = None;
        loop {
            tick.tick().await;
            let view = admin.view().await;
            if view == last {
                continue;
            }
            if let Err(error) = app.emit(ADMIN, &view) {
                tracing::warn!(%error, "cannot deliver the admin view to the UI");
            }
            last = view;
        }
    });
}
