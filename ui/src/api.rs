//! The only module that touches Tauri's `invoke`/`listen` and `JsValue`. Everything
//! else calls the typed async functions here, which return `Result<_, ApiError>` and
//! never panic on a bad reply. Each is one [`invoke`] of a command declared in
//! `sockscope_protocol::commands`, which alone holds the command's name, arguments
//! and reply type.

use sockscope_protocol::commands::*;
use sockscope_protocol::{
    AboutInfo, AdminActionReply, AdminActionRequest, AdminTarget, AdminTargetSave, ApiError,
    CheckOutcome, ConnectRequest, ConnectionEmit, ConnectionInfo, DoctorReport, DoctorRequest,
    DriftReport, EmitReply, EnsureOutcome, EventBatch, EventRecord, ExportRequest, GatewaySettings,
    GatewayStatus, ImportRequest, InferOutcome, InspectSnapshot, InspectorView, ProxyRequest,
    ProxyStatus, RecordRequest, RecordingStatus, ReplayRequest, ReplayState, ServerReplayRequest,
    ServerReplayStatus, SessionInfo, SessionOutcome, SimulateRequest, SimulateState,
    SimulationReport, TargetProfile, TemplateSend, TemplateSent, TemplateSet,
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

/// Invokes command `C` with `args` (its argument object) and reads its typed reply.
pub async fn invoke<C: Command>(args: &C) -> Result<C::Reply, ApiError> {
    let cmd = C::NAME;
    let args = args
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| ipc_error(format!("cannot encode arguments of {cmd}: {e}")))?;
    let reply = tauri_invoke(cmd, args).await.map_err(from_rejection)?;
    serde_wasm_bindgen::from_value(reply)
        .map_err(|e| ipc_error(format!("unexpected reply from {cmd}: {e}")))
}

pub async fn gateway_start(settings: &GatewaySettings) -> Result<GatewayStatus, ApiError> {
    invoke(&CmdGatewayStart {
        settings: settings.clone(),
    })
    .await
}

pub async fn gateway_stop() -> Result<GatewayStatus, ApiError> {
    invoke(&CmdGatewayStop {}).await
}

pub async fn proxy_start(request: &ProxyRequest) -> Result<ProxyStatus, ApiError> {
    invoke(&CmdProxyStart {
        request: request.clone(),
    })
    .await
}

pub async fn proxy_stop() -> Result<ProxyStatus, ApiError> {
    invoke(&CmdProxyStop {}).await
}

pub async fn proxy_status() -> Result<ProxyStatus, ApiError> {
    invoke(&CmdProxyStatus {}).await
}

pub async fn about() -> Result<AboutInfo, ApiError> {
    invoke(&CmdAbout {}).await
}

pub async fn gateway_status() -> Result<GatewayStatus, ApiError> {
    invoke(&CmdGatewayStatus {}).await
}

pub async fn inspect() -> Result<InspectSnapshot, ApiError> {
    invoke(&CmdInspect {}).await
}

/// The embedded gateway's tenant view and leak findings.
pub async fn inspect_tenants() -> Result<InspectorView, ApiError> {
    invoke(&CmdInspectTenants {}).await
}

pub async fn admin_targets() -> Result<Vec<AdminTarget>, ApiError> {
    invoke(&CmdAdminTargets {}).await
}

/// Saves an admin target; its password (if any) goes to the keychain.
pub async fn admin_target_save(save: &AdminTargetSave) -> Result<(), ApiError> {
    invoke(&CmdAdminTargetSave { save: save.clone() }).await
}

pub async fn admin_target_delete(name: &str) -> Result<(), ApiError> {
    invoke(&CmdAdminTargetDelete { name: name.into() }).await
}

pub async fn admin_connect(name: &str) -> Result<InspectorView, ApiError> {
    invoke(&CmdAdminConnect { name: name.into() }).await
}

pub async fn admin_disconnect() -> Result<(), ApiError> {
    invoke(&CmdAdminDisconnect {}).await
}

pub async fn admin_action(request: &AdminActionRequest) -> Result<AdminActionReply, ApiError> {
    invoke(&CmdAdminAction {
        request: request.clone(),
        source: None,
    })
    .await
}

/// The same actions on the embedded gateway.
pub async fn embedded_action(request: &AdminActionRequest) -> Result<AdminActionReply, ApiError> {
    invoke(&CmdAdminAction {
        request: request.clone(),
        source: Some("embedded".into()),
    })
    .await
}

pub async fn templates_list() -> Result<TemplateSet, ApiError> {
    invoke(&CmdTemplatesList {}).await
}

pub async fn template_send(request: &TemplateSend) -> Result<TemplateSent, ApiError> {
    invoke(&CmdTemplateSend {
        request: request.clone(),
    })
    .await
}

pub async fn connect(request: &ConnectRequest) -> Result<ConnectionInfo, ApiError> {
    invoke(&CmdConnect {
        request: request.clone(),
    })
    .await
}

/// The connection doctor's report on the form's target.
pub async fn doctor(request: &DoctorRequest) -> Result<DoctorReport, ApiError> {
    invoke(&CmdDoctor {
        request: request.clone(),
    })
    .await
}

pub async fn disconnect(id: u64) -> Result<(), ApiError> {
    invoke(&CmdDisconnect { id }).await
}

pub async fn connections() -> Result<Vec<ConnectionInfo>, ApiError> {
    invoke(&CmdConnections {}).await
}

pub async fn connection_emit(request: &ConnectionEmit) -> Result<EmitReply, ApiError> {
    invoke(&CmdConnectionEmit {
        request: request.clone(),
    })
    .await
}

pub async fn targets() -> Result<Vec<TargetProfile>, ApiError> {
    invoke(&CmdTargets {}).await
}

pub async fn target_save(target: &TargetProfile) -> Result<(), ApiError> {
    invoke(&CmdTargetSave {
        target: target.clone(),
    })
    .await
}

pub async fn target_delete(name: &str) -> Result<(), ApiError> {
    invoke(&CmdTargetDelete { name: name.into() }).await
}

pub async fn record_start(request: &RecordRequest) -> Result<RecordingStatus, ApiError> {
    invoke(&CmdRecordStart {
        request: request.clone(),
    })
    .await
}

pub async fn record_stop() -> Result<SessionOutcome, ApiError> {
    invoke(&CmdRecordStop {}).await
}

pub async fn sessions() -> Result<Vec<SessionInfo>, ApiError> {
    invoke(&CmdSessions {}).await
}

/// At most `limit` events of session `id` from position `offset` (one page).
pub async fn session_events(
    id: i64,
    offset: u64,
    limit: u64,
) -> Result<Vec<EventRecord>, ApiError> {
    invoke(&CmdSessionEvents { id, offset, limit }).await
}

pub async fn session_delete(id: i64) -> Result<(), ApiError> {
    invoke(&CmdSessionDelete { id }).await
}

pub async fn session_export(request: &ExportRequest) -> Result<usize, ApiError> {
    invoke(&CmdSessionExport {
        request: request.clone(),
    })
    .await
}

pub async fn session_import(request: &ImportRequest) -> Result<SessionOutcome, ApiError> {
    invoke(&CmdSessionImport {
        request: request.clone(),
    })
    .await
}

pub async fn replay(request: &ReplayRequest) -> Result<DriftReport, ApiError> {
    invoke(&CmdReplay {
        request: request.clone(),
    })
    .await
}

pub async fn replay_state() -> Result<ReplayState, ApiError> {
    invoke(&CmdReplayState {}).await
}

pub async fn server_replay_start(
    request: &ServerReplayRequest,
) -> Result<ServerReplayStatus, ApiError> {
    invoke(&CmdServerReplayStart {
        request: request.clone(),
    })
    .await
}

/// `pause`, `resume` or `stop`.
pub async fn server_replay_control(action: &str) -> Result<ServerReplayStatus, ApiError> {
    invoke(&CmdServerReplayControl {
        action: action.into(),
    })
    .await
}

pub async fn server_replay_seek(index: u64) -> Result<ServerReplayStatus, ApiError> {
    invoke(&CmdServerReplaySeek { index }).await
}

pub async fn server_replay_status() -> Result<ServerReplayStatus, ApiError> {
    invoke(&CmdServerReplayStatus {}).await
}

pub async fn scenarios() -> Result<Vec<String>, ApiError> {
    invoke(&CmdScenarios {}).await
}

pub async fn simulate_start(request: &SimulateRequest) -> Result<SimulateState, ApiError> {
    invoke(&CmdSimulateStart {
        request: request.clone(),
    })
    .await
}

pub async fn simulate_stop() -> Result<SimulateState, ApiError> {
    invoke(&CmdSimulateStop {}).await
}

pub async fn simulate_state() -> Result<SimulateState, ApiError> {
    invoke(&CmdSimulateState {}).await
}

/// The contract inferred from session `id`.
pub async fn contract_infer(id: i64) -> Result<InferOutcome, ApiError> {
    invoke(&CmdContractInfer { id }).await
}

/// Session `id` checked against the contract file at `path`.
pub async fn contract_check(id: i64, path: &str) -> Result<CheckOutcome, ApiError> {
    invoke(&CmdContractCheck {
        id,
        path: path.into(),
    })
    .await
}

/// Writes a scenario generated from session `id` to `path`; returns the path written.
pub async fn scenario_from_session(id: i64, path: &str) -> Result<String, ApiError> {
    invoke(&CmdScenarioFromSession {
        id,
        path: path.into(),
    })
    .await
}

/// The Ensure box's conditions (one a line) evaluated on `report`.
pub async fn ensure_check(
    conditions: &str,
    report: &SimulationReport,
) -> Result<Vec<EnsureOutcome>, ApiError> {
    invoke(&CmdEnsureCheck {
        conditions: conditions.into(),
        report: report.clone(),
    })
    .await
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
