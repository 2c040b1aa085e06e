//! Proxy panel commands: start and stop the capture proxy and read its clients. The
//! proxied clients' events reach the window like every other record, over the bus
//! relay (source `proxy:<n>`); these only steer the proxy.

use sockscope_protocol::{ApiError, ProxyRequest, ProxyStatus};
use tauri::State;

use super::api_error;
use crate::EngineState;

/// Starts the proxy; a bad listen address, upstream URL or rule (or one already
/// running) is refused with the engine's one-line error, naming what is wrong.
#[tauri::command]
pub async fn cmd_proxy_start(
    engine: State<'_, EngineState>,
    request: ProxyRequest,
) -> Result<ProxyStatus, ApiError> {
    engine.proxy_start(&request).await.map_err(api_error)
}

#[tauri::command]
pub async fn cmd_proxy_stop(engine: State<'_, EngineState>) -> Result<ProxyStatus, ApiError> {
    Ok(engine.proxy_stop().await)
}

#[tauri::command]
pub async fn cmd_proxy_status(engine: State<'_, EngineState>) -> Result<ProxyStatus, ApiError> {
    Ok(engine.proxy_status().await)
}
