//! The only module that touches Tauri's `invoke`/`listen` and `JsValue`. Everything
//! else calls the typed async functions here, which return `Result<_, ApiError>` and
//! never panic on a bad reply.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use sockscope_protocol::{
    ApiError, EventBatch, GatewaySettings, GatewayStatus, InspectSnapshot, TemplateSend,
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

pub async fn gateway_status() -> Result<GatewayStatus, ApiError> {
    invoke("cmd_gateway_status", &json!({})).await
}

pub async fn inspect() -> Result<InspectSnapshot, ApiError> {
    invoke("cmd_inspect", &json!({})).await
}

pub async fn templates_list() -> Result<TemplateSet, ApiError> {
    invoke("cmd_templates_list", &json!({})).await
}

pub async fn template_send(request: &TemplateSend) -> Result<TemplateSent, ApiError> {
    invoke("cmd_template_send", &json!({ "request": request })).await
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
