//! Simulator panel commands: the built-in scenarios, start, stop, and the state the
//! panel polls for its live charts and final report.

use sockscope_protocol::{ApiError, EnsureOutcome, SimulateRequest, SimulateState};
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

/// Evaluates the Ensure box (one condition a line, the CLI's `--ensure` grammar) on
/// `report`. A condition that does not parse is a one-line error naming it.
#[tauri::command]
pub async fn cmd_ensure_check(
    conditions: String,
    report: sockscope_protocol::SimulationReport,
) -> Result<Vec<EnsureOutcome>, ApiError> {
    use sockscope_engine::simulate::ensure;
    conditions
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let e = ensure::parse(line).map_err(|message| ApiError {
                code: "bad_ensure".to_owned(),
                message,
            })?;
            Ok(EnsureOutcome {
                text: e.text.clone(),
                holds: e.holds(&report),
                actual: e.describe_actual(&report),
            })
        })
        .collect()
}
