//! Inspector panel command: the running gateway's namespaces, rooms and sockets.

use sockscope_protocol::{ApiError, InspectSnapshot};
use tauri::State;

use super::api_error;
use crate::EngineState;

#[tauri::command]
pub async fn cmd_inspect(engine: State<'_, EngineState>) -> Result<InspectSnapshot, ApiError> {
    engine.inspect().await.map_err(api_error)
}
