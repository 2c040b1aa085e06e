//! Replay panel commands: replay a recording against a target (client side) and
//! poll its progress; replay one from the embedded gateway (server side) with
//! pause, resume, seek and stop.

use sockscope_protocol::{
    ApiError, DriftReport, ReplayRequest, ReplayState, ServerReplayRequest, ServerReplayStatus,
};
use tauri::State;

use super::api_error;
use crate::EngineState;

#[tauri::command]
pub async fn cmd_replay(
    engine: State<'_, EngineState>,
    request: ReplayRequest,
) -> Result<DriftReport, ApiError> {
    engine.replay(&request).await.map_err(api_error)
}

#[tauri::command]
pub async fn cmd_replay_state(engine: State<'_, EngineState>) -> Result<ReplayState, ApiError> {
    Ok(engine.replay_state())
}

#[tauri::command]
pub async fn cmd_server_replay_start(
    engine: State<'_, EngineState>,
    request: ServerReplayRequest,
) -> Result<ServerReplayStatus, ApiError> {
    engine
        .replay_server_start(&request)
        .await
        .map_err(api_error)
}

/// `pause`, `resume` or `stop` on the running server-side replay.
#[tauri::command]
pub async fn cmd_server_replay_control(
    engine: State<'_, EngineState>,
    action: String,
) -> Result<ServerReplayStatus, ApiError> {
    match action.as_str() {
        "pause" => engine.replay_server_pause().await,
        "resume" => engine.replay_server_resume().await,
        "stop" => engine.replay_server_stop().await,
        other => {
            return Err(ApiError {
                code: "bad_action".into(),
                message: format!("unknown replay action {other:?} (pause, resume or stop)"),
            })
        }
    }
    .map_err(api_error)?;
    Ok(engine.replay_server_status().await)
}

#[tauri::command]
pub async fn cmd_server_replay_seek(
    engine: State<'_, EngineState>,
    index: u64,
) -> Result<ServerReplayStatus, ApiError> {
    engine.replay_server_seek(index).await.map_err(api_error)?;
    Ok(engine.replay_server_status().await)
}

#[tauri::command]
pub async fn cmd_server_replay_status(
    engine: State<'_, EngineState>,
) -> Result<ServerReplayStatus, ApiError> {
    Ok(engine.replay_server_status().await)
}
