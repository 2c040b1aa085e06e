//! Server panel commands: start, stop and read the embedded gateway's status.

use sockscope_protocol::{ApiError, GatewaySettings, GatewayStatus};
use tauri::State;

use super::api_error;
use crate::EngineState;

/// Starts the gateway; with `settings.redis` (the panel's "Cluster (Redis URL)") as
/// one node of a cluster, refused with one line naming the URL when Redis cannot be
/// reached.
#[tauri::command]
pub async fn cmd_gateway_start(
    engine: State<'_, EngineState>,
    settings: GatewaySettings,
) -> Result<GatewayStatus, ApiError> {
    engine.start_gateway(&settings).await.map_err(api_error)
}

#[tauri::command]
pub async fn cmd_gateway_stop(engine: State<'_, EngineState>) -> Result<GatewayStatus, ApiError> {
    Ok(engine.stop_gateway().await)
}

#[tauri::command]
pub async fn cmd_gateway_status(engine: State<'_, EngineState>) -> Result<GatewayStatus, ApiError> {
    Ok(engine.gateway_status().await)
}
