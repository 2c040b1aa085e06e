//! The only module that touches Tauri's `invoke`/`listen` and `JsValue`. Everything
//! else calls the typed async functions here, which return `Result<_, ApiError>` and
//! never panic on a bad reply.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;
use serde_json::json;
use sockscope_protocol::{
    AboutInfo, AdminActionReply, AdminActionRequest, AdminTarget, AdminTargetSave, ApiError,
    ConnectRequest, ConnectionEmit, ConnectionInfo, DriftReport, EmitReply, EventBatch,
    EventRecord, ExportRequest, GatewaySettings, GatewayStatus, ImportRequest, InspectSnapshot,
    InspectorView, RecordRequest, RecordingStatus, ReplayRequest, ReplayState, ServerReplayRequest,
    ServerReplayStatus, SessionInfo, SimulateRequest, SimulateState, TargetProfile, TemplateSend,
    TemplateSent, TemplateSet,
};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "event"], js_name = listen, catch)]
    async fn tauri_listen(
        event: &str,
        handler: &Closure<dyn FnMut(JsValue)>,
    ) -> Result<JsValue, JsValue>;
}

/// The Tauri event carrying [`EventBatch`]es (see `src-tauri/src/relay.rs`).
const EVENTS: &str = "sockscope://events";
/// The Tauri event carrying the admin source's `Option<InspectorView>`.
const ADMIN: &str = "sockscope://admin";

fn ipc_error(message: impl Into<String>) -> ApiError {
    ApiError {
        code: "ipc".into(),
        message: message.into(),
    }
}

/// A rejected invoke carries `{code, message}` from our commands, or a plain string
/// from Tauri itself (e.g. a command the capability does not allow).
fn from_rejection(v: JsValue) -> ApiError {
    if let Ok(e) = serde_wasm_bindgen::from_value::<ApiError>(v.clone()) {
        return e;
    }
    match v.as_string() {
        Some(s) => ipc_error(s),
        None => ipc_error(format!("{v:?}")),
    }
}

async fn invoke<A: Serialize, R: DeserializeOwned>(cmd: &str, args: &A) -> Result<R, ApiError> {
    let args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| ipc_error(format!("cannot encode arguments of {cmd}: {e}")))?;
    let reply = tauri_invoke(cmd, args).await.map_err(from_rejection)?;
    serde_wasm_bindgen::from_value(reply)
        .map_err(|e| ipc_error(format!("unexpected reply from {cmd}: {e}")))
}

pub async fn gateway_start(settings: &GatewaySettings) -> Result<GatewayStatus, ApiError> {
    invoke("cmd_gateway_start", &json!({ "settings": settings })).await
}

pub async fn gateway_stop() -> Result<GatewayStatus, ApiError> {
    invoke("cmd_gateway_stop", &json!({})).await
}

pub async fn about() -> Result<AboutInfo, ApiError> {
    invoke("cmd_about", &json!({})).await
}

pub async fn gateway_status() -> Result<GatewayStatus, ApiError> {
    invoke("cmd_gateway_status", &json!({})).await
}

pub async fn inspect() -> Result<InspectSnapshot, ApiError> {
    invoke("cmd_inspect", &json!({})).await
}

/// The embedded gateway's tenant view and leak findings.
pub async fn inspect_tenants() -> Result<InspectorView, ApiError> {
    invoke("cmd_inspect_tenants", &json!({})).await
}

pub async fn admin_targets() -> Result<Vec<AdminTarget>, ApiError> {
    invoke("cmd_admin_targets", &json!({})).await
}

/// Saves an admin target; its password (if any) goes to the keychain.
pub async fn admin_target_save(save: &AdminTargetSave) -> Result<(), ApiError> {
    invoke("cmd_admin_target_save", &json!({ "save": save })).await
}

pub async fn admin_target_delete(name: &str) -> Result<(), ApiError> {
    invoke("cmd_admin_target_delete", &json!({ "name": name })).await
}

pub async fn admin_connect(name: &str) -> Result<InspectorView, ApiError> {
    invoke("cmd_admin_connect", &json!({ "name": name })).await
}

pub async fn admin_disconnect() -> Result<(), ApiError> {
    invoke("cmd_admin_disconnect", &json!({})).await
}

pub async fn admin_action(request: &AdminActionRequest) -> Result<AdminActionReply, ApiError> {
    invoke("cmd_admin_action", &json!({ "request": request })).await
}

/// The same actions on the embedded gateway.
pub async fn embedded_action(request: &AdminActionRequest) -> Result<AdminActionReply, ApiError> {
    invoke(
        "cmd_admin_action",
        &json!({ "request": request, "source": "embedded" }),
    )
    .await
}

pub async fn templates_list() -> Result<TemplateSet, ApiError> {
    invoke("cmd_templates_list", &json!({})).await
}

pub async fn template_send(request: &TemplateSend) -> Result<TemplateSent, ApiError> {
    invoke("cmd_template_send", &json!({ "request": request })).await
}

pub async fn connect(request: &ConnectRequest) -> Result<ConnectionInfo, ApiError> {
    invoke("cmd_connect", &json!({ "request": request })).await
}

pub async fn disconnect(id: u64) -> Result<(), ApiError> {
    invoke("cmd_disconnect", &json!({ "id": id })).await
}

pub async fn connections() -> Result<Vec<ConnectionInfo>, ApiError> {
    invoke("cmd_connections", &json!({})).await
}

pub async fn connection_emit(request: &ConnectionEmit) -> Result<EmitReply, ApiError> {
    invoke("cmd_connection_emit", &json!({ "request": request })).await
}

pub async fn targets() -> Result<Vec<TargetProfile>, ApiError> {
    invoke("cmd_targets", &json!({})).await
}

pub async fn target_save(target: &TargetProfile) -> Result<(), ApiError> {
    invoke("cmd_target_save", &json!({ "target": target })).await
}

pub async fn target_delete(name: &str) -> Result<(), ApiError> {
    invoke("cmd_target_delete", &json!({ "name": name })).await
}

/// What a stopped recording or an import produced (`commands/recordings.rs`).
#[derive(Debug, Clone, Deserialize)]
pub struct SessionOutcome {
    pub id: i64,
    pub events: u64,
    pub dropped: u64,
}

pub async fn record_start(request: &RecordRequest) -> Result<RecordingStatus, ApiError> {
    invoke("cmd_record_start", &json!({ "request": request })).await
}

pub async fn record_stop() -> Result<SessionOutcome, ApiError> {
    invoke("cmd_record_stop", &json!({})).await
}

pub async fn sessions() -> Result<Vec<SessionInfo>, ApiError> {
    invoke("cmd_sessions", &json!({})).await
}

/// At most `limit` events of session `id` from position `offset` (one page).
pub async fn session_events(
    id: i64,
    offset: u64,
    limit: u64,
) -> Result<Vec<EventRecord>, ApiError> {
    invoke(
        "cmd_session_events",
        &json!({ "id": id, "offset": offset, "limit": limit }),
    )
    .await
}

pub async fn session_delete(id: i64) -> Result<(), ApiError> {
    invoke("cmd_session_delete", &json!({ "id": id })).await
}

pub async fn session_export(request: &ExportRequest) -> Result<usize, ApiError> {
    invoke("cmd_session_export", &json!({ "request": request })).await
}

pub async fn session_import(request: &ImportRequest) -> Result<SessionOutcome, ApiError> {
    invoke("cmd_session_import", &json!({ "request": request })).await
}

pub async fn replay(request: &ReplayRequest) -> Result<DriftReport, ApiError> {
    invoke("cmd_replay", &json!({ "request": request })).await
}

pub async fn replay_state() -> Result<ReplayState, ApiError> {
    invoke("cmd_replay_state", &json!({})).await
}

pub async fn server_replay_start(
    request: &ServerReplayRequest,
) -> Result<ServerReplayStatus, ApiError> {
    invoke("cmd_server_replay_start", &json!({ "request": request })).await
}

/// `pause`, `resume` or `stop`.
pub async fn server_replay_control(action: &str) -> Result<ServerReplayStatus, ApiError> {
    invoke("cmd_server_replay_control", &json!({ "action": action })).await
}

pub async fn server_replay_seek(index: u64) -> Result<ServerReplayStatus, ApiError> {
    invoke("cmd_server_replay_seek", &json!({ "index": index })).await
}

pub async fn server_replay_status() -> Result<ServerReplayStatus, ApiError> {
    invoke("cmd_server_replay_status", &json!({})).await
}

pub async fn scenarios() -> Result<Vec<String>, ApiError> {
    invoke("cmd_scenarios", &json!({})).await
}

pub async fn simulate_start(request: &SimulateRequest) -> Result<SimulateState, ApiError> {
    invoke("cmd_simulate_start", &json!({ "request": request })).await
}

pub async fn simulate_stop() -> Result<SimulateState, ApiError> {
    invoke("cmd_simulate_stop", &json!({})).await
}

pub async fn simulate_state() -> Result<SimulateState, ApiError> {
    invoke("cmd_simulate_state", &json!({})).await
}

/// Calls `on_batch` for every batch of engine events, for the life of the page.
pub async fn on_event_batches(
    mut on_batch: impl FnMut(EventBatch) + 'static,
) -> Result<(), ApiError> {
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let payload = js_sys::Reflect::get(&event, &JsValue::from_str("payload"))
            .unwrap_or(JsValue::UNDEFINED);
        match serde_wasm_bindgen::from_value::<EventBatch>(payload) {
            Ok(batch) => on_batch(batch),
            Err(e) => web_sys::console::warn_1(&format!("bad event batch: {e}").into()),
        }
    });
    tauri_listen(EVENTS, &handler)
        .await
        .map_err(from_rejection)?;
    // The listener lives as long as the page.
    handler.forget();
    Ok(())
}

/// Calls `on_view` with the admin source's picture each time it changes (`None` once
/// no source is connected), for the life of the page.
pub async fn on_admin_view(
    mut on_view: impl FnMut(Option<InspectorView>) + 'static,
) -> Result<(), ApiError> {
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let payload = js_sys::Reflect::get(&event, &JsValue::from_str("payload"))
            .unwrap_or(JsValue::UNDEFINED);
        match serde_wasm_bindgen::from_value::<Option<InspectorView>>(payload) {
            Ok(view) => on_view(view),
            Err(e) => web_sys::console::warn_1(&format!("bad admin view: {e}").into()),
        }
    });
    tauri_listen(ADMIN, &handler)
        .await
        .map_err(from_rejection)?;
    // The listener lives as long as the page.
    handler.forget();
    Ok(())
}

/// The contract inferred from session `id`: `{events, messages: [{namespace, event,
/// action, payload, reply}], document}`.
pub async fn contract_infer(id: i64) -> Result<serde_json::Value, ApiError> {
    invoke("cmd_contract_infer", &json!({ "id": id })).await
}

/// Session `id` checked against the contract file at `path`: `{checked, violations:
/// [{seq, namespace, event, direction, kind, pointer, message}]}`.
pub async fn contract_check(id: i64, path: &str) -> Result<serde_json::Value, ApiError> {
    invoke("cmd_contract_check", &json!({ "id": id, "path": path })).await
}

/// Writes a scenario generated from session `id` to `path`; returns the path written.
pub async fn scenario_from_session(id: i64, path: &str) -> Result<String, ApiError> {
    invoke(
        "cmd_scenario_from_session",
        &json!({ "id": id, "path": path }),
    )
    .await
}

/// The Ensure box's conditions (one a line) evaluated on `report`:
/// `[{text, holds, actual}]`.
pub async fn ensure_check(
    conditions: &str,
    report: &sockscope_protocol::SimulationReport,
) -> Result<Vec<serde_json::Value>, ApiError> {
    invoke(
        "cmd_ensure_check",
        &json!({ "conditions": conditions, "report": report }),
    )
    .await
}
