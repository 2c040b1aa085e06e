//! Recordings panel commands: record what the bus carries, list, open, export, import
//! and delete sessions in the SQLite store.

use std::path::Path;

use serde::Serialize;
use sockscope_protocol::{
    ApiError, EventRecord, ExportRequest, ImportRequest, RecordRequest, RecordingStatus,
    SessionInfo,
};
use tauri::State;

use super::api_error;
use crate::EngineState;

/// What a stopped recording or an import produced.
#[derive(Serialize)]
pub struct SessionOutcome {
    pub id: i64,
    pub events: u64,
    pub dropped: u64,
}

#[tauri::command]
pub async fn cmd_record_start(
    engine: State<'_, EngineState>,
    request: RecordRequest,
) -> Result<RecordingStatus, ApiError> {
    engine.record_start(&request).await.map_err(api_error)
}

#[tauri::command]
pub async fn cmd_record_stop(engine: State<'_, EngineState>) -> Result<SessionOutcome, ApiError> {
    let s = engine.record_stop().await.map_err(api_error)?;
    Ok(SessionOutcome {
        id: s.session_id,
        events: s.written,
        dropped: s.dropped,
    })
}

#[tauri::command]
pub async fn cmd_sessions(engine: State<'_, EngineState>) -> Result<Vec<SessionInfo>, ApiError> {
    engine.sessions().map_err(api_error)
}

#[tauri::command]
pub async fn cmd_session_events(
    engine: State<'_, EngineState>,
    id: i64,
) -> Result<Vec<EventRecord>, ApiError> {
    engine.session_events(id).map_err(api_error)
}

#[tauri::command]
pub async fn cmd_session_delete(engine: State<'_, EngineState>, id: i64) -> Result<(), ApiError> {
    engine.delete_session(id).map_err(api_error)
}

#[tauri::command]
pub async fn cmd_session_export(
    engine: State<'_, EngineState>,
    request: ExportRequest,
) -> Result<usize, ApiError> {
    engine
        .export_session(request.id, Path::new(&request.path), &request.format)
        .map_err(api_error)
}

#[tauri::command]
pub async fn cmd_session_import(
    engine: State<'_, EngineState>,
    request: ImportRequest,
) -> Result<SessionOutcome, ApiError> {
    let (id, n) = engine
        .import_session(Path::new(&request.path), request.format.as_deref())
        .map_err(api_error)?;
    Ok(SessionOutcome {
        id,
        events: n as u64,
        dropped: 0,
    })
}
