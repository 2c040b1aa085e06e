//! Connections panel commands: open and close client connections to real gateways,
//! emit on them, and the saved targets (tokens in the keychain, never in SQLite).

use sockscope_protocol::{
    ApiError, ConnectRequest, ConnectionEmit, ConnectionInfo, EmitReply, TargetProfile,
};
use tauri::State;

use super::api_error;
use crate::EngineState;

#[tauri::command]
pub async fn cmd_connect(
    engine: State<'_, EngineState>,
    request: ConnectRequest,
) -> Result<ConnectionInfo, ApiError> {
    engine.connect(&request).await.map_err(api_error)
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
    engine.targets().map_err(api_error)
}

#[tauri::command]
pub async fn cmd_target_save(
    engine: State<'_, EngineState>,
    target: TargetProfile,
) -> Result<(), ApiError> {
    engine.save_target(&target).map_err(api_error)
}

#[tauri::command]
pub async fn cmd_target_delete(
    engine: State<'_, EngineState>,
    name: String,
) -> Result<(), ApiError> {
    engine.delete_target(&name).map_err(api_error)
}
