//! Tauri commands: one-line adapters over the engine, grouped by panel. Errors cross
//! IPC as `ApiError {code, message}`. Commands that touch SQLite, files or the
//! keychain run that work through [`blocking`], off the async runtime.

pub mod about;
pub mod admin;
pub mod connections;
pub mod contracts;
pub mod gateway;
pub mod inspect;
pub mod proxy;
pub mod recordings;
pub mod replay;
pub mod simulate;
pub mod templates;

use sockscope_engine::Engine;
use sockscope_protocol::ApiError;
use tauri::State;

use crate::EngineState;

/// An engine error as the UI receives it, redacted like a log line.
pub fn api_error(e: sockscope_engine::Error) -> ApiError {
    ApiError {
        code: e.code().to_owned(),
        message: sockscope_engine::redact::text(&e.to_string()),
    }
}

/// Runs `work` (SQLite, files, the keychain) on the blocking pool, so a slow disk
/// or a locked database never stalls the runtime the gateway and the UI relay share.
pub async fn blocking<T: Send + 'static>(
    engine: &State<'_, EngineState>,
    work: impl FnOnce(&Engine) -> sockscope_engine::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = engine.inner().clone();
    sockscope_engine::offload::blocking(move || work(&engine))
        .await
        .map_err(api_error)
}
