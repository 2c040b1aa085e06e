//! Connections panel commands: open and close client connections to real gateways,
//! emit on them, and the saved targets (tokens in the keychain, never in SQLite).

use sockscope_protocol::{
    ApiError, ConnectRequest, ConnectionEmit, ConnectionInfo, DoctorReport, DoctorRequest,
    EmitReply, TargetProfile,
};
use tauri::State;

use sockscope_engine::Engine;

use super::{api_error, blocking};
use crate::EngineState;

#[tauri::command]
pub async fn cmd_connect(
    engine: State<'_, EngineState>,
    request: ConnectRequest,
) -> Result<ConnectionInfo, ApiError> {
    engine.connect(&request).await.map_err(api_error)
}

/// "Why can't I connect?": the engine's connection doctor on the form's settings.
#[tauri::command]
pub async fn cmd_doctor(request: DoctorRequest) -> Result<DoctorReport, ApiError> {
    sockscope_engine::usecase::diagnose(&request)
        .await
        .map_err(|e| api_error(e.into()))
}

#[tauri::command]
pub async fn cmd_disconnect(engine: State<'_, EngineState>, id: u64) -> Result<(), ApiError> {
    engine.disconnect(id).await.map_err(api_error)
}

#[tauri::command]
pub async fn cmd_connections(
    engine: State<'_, EngineState>,
) -> Result<Vec<ConnectionInfo>, ApiError> {
    Ok(engine.connections().await)
}

#[tauri::command]
pub async fn cmd_connection_emit(
    engine: State<'_, EngineState>,
    request: ConnectionEmit,
) -> Result<EmitReply, ApiError> {
    engine.connection_emit(&request).await.map_err(api_error)
}

#[tauri::command]
pub async fn cmd_targets(engine: State<'_, EngineState>) -> Result<Vec<TargetProfile>, ApiError> {
    blocking(&engine, Engine::targets).await
}

#[tauri::command]
pub async fn cmd_target_save(
    engine: State<'_, EngineState>,
    target: TargetProfile,
) -> Result<(), ApiError> {
    blocking(&engine, move |e| e.save_target(&target)).await
}

#[tauri::command]
pub async fn cmd_target_delete(
    engine: State<'_, EngineState>,
    name: String,
) -> Result<(), ApiError> {
    blocking(&engine, move |e| e.delete_target(&name)).await
}
