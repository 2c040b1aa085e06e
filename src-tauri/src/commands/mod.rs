//! Tauri commands: one-line adapters over the engine, grouped by panel. Errors cross
//! IPC as `ApiError {code, message}`.

pub mod connections;
pub mod gateway;
pub mod inspect;
pub mod recordings;
pub mod replay;
pub mod simulate;
pub mod templates;

use sockscope_protocol::ApiError;

/// An engine error as the UI receives it, redacted like a log line.
pub fn api_error(e: sockscope_engine::Error) -> ApiError {
    ApiError {
        code: e.code().to_owned(),
        message: sockscope_engine::redact::text(&e.to_string()),
    }
}
