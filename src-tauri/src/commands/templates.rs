//! Templates panel commands: list the gateway's event templates and send one.

use sockscope_protocol::{ApiError, TemplateSend, TemplateSent, TemplateSet};
use tauri::State;

use super::api_error;
use crate::EngineState;

#[tauri::command]
pub async fn cmd_templates_list(engine: State<'_, EngineState>) -> Result<TemplateSet, ApiError> {
    engine.templates().await.map_err(api_error)
}

#[tauri::command]
pub async fn cmd_template_send(
    engine: State<'_, EngineState>,
    request: TemplateSend,
) -> Result<TemplateSent, ApiError> {
    engine.send_template(&request).await.map_err(api_error)
}
