//! Inspector source commands: saved admin targets (passwords in the keychain), one
//! connected admin source with its actions, and the embedded gateway's tenant view
//! and actions.
//! The connected source's picture reaches the UI through `relay::spawn_admin`.

use sockscope_engine::admin_client::inspector::{self as source, AdminSources, SourceError};
use sockscope_protocol::{
    AdminActionReply, AdminActionRequest, AdminTarget, AdminTargetSave, ApiError, InspectorView,
};
use tauri::State;

use super::{api_error, blocking};
use crate::{AdminState, EngineState};

fn source_error(e: SourceError) -> ApiError {
    ApiError {
        code: e.code().to_owned(),
        message: sockscope_engine::redact::text(&e.to_string()),
    }
}

#[tauri::command]
pub async fn cmd_admin_targets(
    engine: State<'_, EngineState>,
) -> Result<Vec<AdminTarget>, ApiError> {
    blocking(&engine, |e| Ok(source::targets(e.store()?)?)).await
}

#[tauri::command]
pub async fn cmd_admin_target_save(
    engine: State<'_, EngineState>,
    save: AdminTargetSave,
) -> Result<(), ApiError> {
    blocking(&engine, move |e| {
        Ok(source::save_target(e.store()?, &save)?)
    })
    .await
}

#[tauri::command]
pub async fn cmd_admin_target_delete(
    engine: State<'_, EngineState>,
    name: String,
) -> Result<(), ApiError> {
    blocking(&engine, move |e| {
        Ok(source::delete_target(e.store()?, &name)?)
    })
    .await
}

#[tauri::command]
pub async fn cmd_admin_connect(
    engine: State<'_, EngineState>,
    admin: State<'_, AdminState>,
    name: String,
) -> Result<InspectorView, ApiError> {
    let store = engine.store().map_err(api_error)?;
    admin
        .connect(store, &name, engine.bus())
        .await
        .map_err(source_error)
}

#[tauri::command]
pub async fn cmd_admin_disconnect(admin: State<'_, AdminState>) -> Result<(), ApiError> {
    AdminSources::disconnect(&admin).await;
    Ok(())
}

/// `source` is `"embedded"` for the embedded gateway; otherwise (or absent) the
/// connected admin source.
#[tauri::command]
pub async fn cmd_admin_action(
    engine: State<'_, EngineState>,
    admin: State<'_, AdminState>,
    request: AdminActionRequest,
    source: Option<String>,
) -> Result<AdminActionReply, ApiError> {
    if source.as_deref() == Some("embedded") {
        return engine.admin_action(&request).await.map_err(api_error);
    }
    admin.act(&request).await.map_err(source_error)
}

#[tauri::command]
pub async fn cmd_inspect_tenants(
    engine: State<'_, EngineState>,
) -> Result<InspectorView, ApiError> {
    let snapshot = engine.inspect().await.map_err(api_error)?;
    Ok(source::embedded_view(&snapshot))
}
