//! Recordings panel commands: record what the bus carries, list, open, export, import
//! and delete sessions in the SQLite store.

use std::path::Path;

use sockscope_engine::Engine;
use sockscope_protocol::{
    ApiError, EventRecord, ExportRequest, ImportRequest, RecordRequest, RecordingStatus,
    SessionInfo, SessionOutcome,
};
use tauri::State;

use super::{api_error, blocking};
use crate::EngineState;

/// The most events one page of an opened recording may hold.
const MAX_PAGE: u64 = 10_000;

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
    blocking(&engine, Engine::sessions).await
}

/// One page of a session's events: at most `limit` (capped at [`MAX_PAGE`]) from
/// position `offset`, so opening a large recording never loads all of it.
#[tauri::command]
pub async fn cmd_session_events(
    engine: State<'_, EngineState>,
    id: i64,
    offset: u64,
    limit: u64,
) -> Result<Vec<EventRecord>, ApiError> {
    let limit = limit.min(MAX_PAGE);
    blocking(&engine, move |e| e.session_events_page(id, offset, limit)).await
}

#[tauri::command]
pub async fn cmd_session_delete(engine: State<'_, EngineState>, id: i64) -> Result<(), ApiError> {
    blocking(&engine, move |e| e.delete_session(id)).await
}

#[tauri::command]
pub async fn cmd_session_export(
    engine: State<'_, EngineState>,
    request: ExportRequest,
) -> Result<usize, ApiError> {
    blocking(&engine, move |e| {
        e.export_session(request.id, Path::new(&request.path), &request.format)
    })
    .await
}

#[tauri::command]
pub async fn cmd_session_import(
    engine: State<'_, EngineState>,
    request: ImportRequest,
) -> Result<SessionOutcome, ApiError> {
    let (id, n) = blocking(&engine, move |e| {
        e.import_session(Path::new(&request.path), request.format.as_deref())
    })
    .await?;
    Ok(SessionOutcome {
        id,
        events: n as u64,
        dropped: 0,
    })
}
