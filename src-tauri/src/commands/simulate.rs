//! Simulator panel commands: the built-in scenarios, start, stop, and the state the
//! panel polls for its live charts and final report.

use sockscope_protocol::{ApiError, SimulateRequest, SimulateState};
use tauri::State;

use super::api_error;
use crate::EngineState;

#[tauri::command]
pub async fn cmd_scenarios() -> Result<Vec<String>, ApiError> {
    Ok(sockscope_engine::simulate::job::scenarios())
}

#[tauri::command]
pub async fn cmd_simulate_start(
    engine: State<'_, EngineState>,
    request: SimulateRequest,
) -> Result<SimulateState, ApiError> {
    engine.simulate_start(&request).await.map_err(api_error)
}

#[tauri::command]
pub async fn cmd_simulate_stop(engine: State<'_, EngineState>) -> Result<SimulateState, ApiError> {
    Ok(engine.simulate_stop().await)
}

#[tauri::command]
pub async fn cmd_simulate_state(engine: State<'_, EngineState>) -> Result<SimulateState, ApiError> {
    Ok(engine.simulate_state().await)
}
