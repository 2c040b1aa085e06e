//! `jet-admin` profile (seed 000): Jet Admin's workflow logs, widget data and AI chat.
//!
//! - Handshake `auth {token, firebase_id}`: a token is required (`missing token`
//!   otherwise). With a key configured it is verified, the user is its `sub` and a
//!   `firebase_id` that differs is refused (`identity mismatch`); without one a JWT's
//!   claims are read unverified, an opaque token is accepted, and `firebase_id`, when
//!   given, names the user. The tenant is the token's tenant claim, when it has one.
//! - Rooms are `{scope}:run:{runId}`, `{scope}:widget:{widgetID}` and
//!   `{scope}:chat:{chatRoomID}` in the socket's tenant scope (`gateway/rooms.rs`):
//!   ids are client-chosen, but never reach a user's room or another tenant's.
//! - `workflow_run_join {runId}` joins the run's room and plays a run: for each node
//!   (`trigger`, `fetch_data`, `transform`, `output`) a `workflow_node_update
//!   {nodeId, status: "running"}` then `{nodeId, status: "completed", duration,
//!   output}`, every `tick_ms`, and a final `workflow_status_update {runId, status}`.
//!   A `runId` containing `fail` fails at `transform` and ends with `{status:
//!   "failed", error}`. Each run plays once, to everyone in its room.
//! - `widget_workflow_connect {widgetID, workflowID, mode, inputParams, tenantID}`
//!   joins the widget's room and answers `widget_workflow_connected`, then
//!   `widget_workflow_status {running}`, `widget_context_update {widgetID, data,
//!   metadata}`, `widget_workflow_status {completed}`. A missing `workflowID`, one
//!   starting with `missing-` (the seed is silent on which workflows exist; this lets a
//!   front end exercise the error path), or a `tenantID` other than the socket's tenant
//!   gets `widget_workflow_error {widgetID, error}`.
//! - `widget_send_input` and `widget_refresh` answer with a fresh
//!   `widget_context_update` between running/completed statuses;
//!   `widget_workflow_disconnect {widgetID}` leaves the room with status
//!   `disconnected`.
//! - `ai_chat_user_message {message, chatRoomID}` joins the chat room on first use
//!   (`ai_chat_room_join {chatRoomID}`) and the bot answers in the room with
//!   `ai_chat_bot_message {message, chatRoomID}`.

use std::sync::Arc;
use std::time::Duration;

use crate::{AckSender, SocketIo, SocketRef};
use axum::http::HeaderMap;
use serde_json::{json, Value};
use socketioxide::extract::State;

use crate::args::Args;
use crate::auth::{opaque_user_id, token_from, Principal};
use crate::rooms::{self, Kind};
use crate::socket::{
    answer, emit_to, emit_to_room, emit_to_room_here, iso8601, principal_of, require_field,
    str_field,
};
use crate::Error;
use crate::Shared;
use sockscope_bus::now_micros;

const NS: &str = "/";
const NODES: &[&str] = &["trigger", "fetch_data", "transform", "output"];

pub fn register(io: &SocketIo, ns: &str) -> super::Joined {
    super::serve_ns(io, ns, identify, install)
}

/// A token is required. Without a key the user is `firebase_id` when given (claims
/// are unverified anyway); with a key the user is the verified `sub`, and a
/// `firebase_id` naming someone else refuses the handshake.
fn identify(shared: &Shared, auth: &Value, headers: &HeaderMap) -> crate::Result<Principal> {
    let firebase_id = auth
        .get("firebase_id")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let token = token_from(auth, headers).ok_or(Error::MissingToken)?;
    if shared.auth.required() {
        let p = shared.auth.principal(&token)?;
        return match (&p.user, firebase_id) {
            (Some(user), Some(fid)) if *user != fid => Err(Error::IdentityMismatch(format!(
                "firebase_id {fid:?} is not the token's user {user:?}"
            ))),
            (None, Some(fid)) => Err(Error::IdentityMismatch(format!(
                "firebase_id {fid:?} but the token names no user (claim {:?})",
                shared.settings.user_claim
            ))),
            _ => Ok(p),
        };
    }
    let mut p = match shared.auth.principal(&token) {
        Ok(p) => p,
        // Without a key an opaque (non-JWT) token is accepted as is.
        Err(Error::InvalidToken(_)) => Principal {
            user: Some(opaque_user_id(&token)),
            ..Principal::default()
        },
        Err(e) => return Err(e),
    };
    if firebase_id.is_some() {
        p.user = firebase_id;
    }
    Ok(p)
}

fn install(s: &SocketRef, _: &Shared) {
    s.on("workflow_run_join", on_run_join);
    s.on("widget_workflow_connect", on_widget_connect);
    s.on("widget_send_input", on_widget_input);
    s.on("widget_refresh", on_widget_refresh);
    s.on("widget_workflow_disconnect", on_widget_disconnect);
    s.on("ai_chat_user_message", on_chat_message);
}

fn scoped(s: &SocketRef, kind: Kind, id: &str) -> String {
    rooms::named(principal_of(s).tenant.as_deref(), kind, id)
}

async fn on_run_join(s: SocketRef, args: Args, ack: AckSender, State(shared): State<Arc<Shared>>) {
    let Some((run, _)) = require_field(&s, &shared, "workflow_run_join", "runId", args, ack) else {
        return;
    };
    let room = scoped(&s, Kind::Run, &run);
    s.join(room.clone());
    let tenant = principal_of(&s).tenant;
    if shared.state.start_timer(&room) {
        tokio::spawn(play_run(shared.clone(), room, tenant, run));
    }
}

/// The node updates and final status of one simulated run.
async fn play_run(shared: Arc<Shared>, room: String, tenant: Option<String>, run: String) {
    let step = Duration::from_millis(shared.settings.tick_ms.max(10));
    let fails = run.contains("fail");
    let t = tenant.as_deref();
    for (i, node) in NODES.iter().enumerate() {
        tokio::time::sleep(step).await;
        emit_to_room_here(
            &shared,
            NS,
            &room,
            t,
            "workflow_node_update",
            &json!({ "nodeId": node, "status": "running", "duration": 0, "output": null }),
        )
        .await;
        tokio::time::sleep(step).await;
        if fails && *node == "transform" {
            emit_to_room_here(&shared, NS, &room, t, "workflow_node_update",
                &json!({ "nodeId": node, "status": "failed", "duration": step.as_millis() as u64, "output": { "error": "simulated failure" } })).await;
            emit_to_room_here(&shared, NS, &room, t, "workflow_status_update",
                &json!({ "runId": run, "status": "failed", "error": format!("node {node} failed: simulated failure") })).await;
            return;
        }
        emit_to_room_here(&shared, NS, &room, t, "workflow_node_update",
            &json!({ "nodeId": node, "status": "completed", "duration": step.as_millis() as u64, "output": { "step": i + 1, "items": (i + 1) * 10 } })).await;
    }
    emit_to_room_here(
        &shared,
        NS,
        &room,
        t,
        "workflow_status_update",
        &json!({ "runId": run, "status": "completed" }),
    )
    .await;
    // The run stays "played": joining it again does not replay it.
}

/// Running, a context update, completed: what a widget's workflow execution looks like.
async fn widget_cycle(s: &SocketRef, shared: &Shared, widget: &str, data: Value, metadata: Value) {
    let room = scoped(s, Kind::Widget, widget);
    let tenant = principal_of(s).tenant;
    let steps = [
        (
            "widget_workflow_status",
            json!({ "widgetID": widget, "status": "running" }),
        ),
        (
            "widget_context_update",
            json!({ "widgetID": widget, "data": data, "metadata": metadata }),
        ),
        (
            "widget_workflow_status",
            json!({ "widgetID": widget, "status": "completed" }),
        ),
    ];
    for (event, payload) in steps {
        emit_to_room(shared, NS, &room, tenant.as_deref(), event, &payload).await;
    }
}

fn sample_rows(params: &Value) -> Value {
    json!({
        "rows": [
            { "label": "Mon", "value": 12 },
            { "label": "Tue", "value": 19 },
            { "label": "Wed", "value": 7 }
        ],
        "inputParams": params,
    })
}

async fn on_widget_connect(
    s: SocketRef,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let Some((widget, v)) = require_field(
        &s,
        &shared,
        "widget_workflow_connect",
        "widgetID",
        args,
        ack,
    ) else {
        return;
    };
    let workflow = v
        .get("workflowID")
        .and_then(Value::as_str)
        .filter(|w| !w.is_empty());
    let socket_tenant = principal_of(&s).tenant;
    let asked_tenant = v.get("tenantID").and_then(Value::as_str);
    let problem = match (workflow, socket_tenant.as_deref(), asked_tenant) {
        (None, _, _) => Some("workflowID is required".to_owned()),
        (Some(w), _, _) if w.starts_with("missing-") => Some(format!("workflow {w} not found")),
        (_, Some(mine), Some(asked)) if mine != asked => {
            Some(format!("tenant {asked} is not this socket's tenant"))
        }
        _ => None,
    };
    if let Some(error) = problem {
        emit_to(
            &s,
            &shared,
            "widget_workflow_error",
            &json!({ "widgetID": widget, "error": error }),
        );
        return;
    }
    s.join(scoped(&s, Kind::Widget, &widget));
    emit_to(
        &s,
        &shared,
        "widget_workflow_connected",
        &json!({ "widgetID": widget }),
    );
    let metadata = json!({
        "workflowID": workflow, "mode": v.get("mode"), "generatedAt": iso8601(now_micros()),
    });
    let data = sample_rows(v.get("inputParams").unwrap_or(&Value::Null));
    widget_cycle(&s, &shared, &widget, data, metadata).await;
}

async fn on_widget_input(
    s: SocketRef,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let Some((widget, v)) = require_field(&s, &shared, "widget_send_input", "widgetID", args, ack)
    else {
        return;
    };
    let data = json!({ "accepted": true, "instanceID": v.get("instanceID"), "inputType": v.get("inputType"), "input": v.get("data") });
    let metadata = json!({ "source": "input", "generatedAt": iso8601(now_micros()) });
    widget_cycle(&s, &shared, &widget, data, metadata).await;
}

async fn on_widget_refresh(
    s: SocketRef,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let Some((widget, v)) = require_field(&s, &shared, "widget_refresh", "widgetID", args, ack)
    else {
        return;
    };
    let data = sample_rows(v.get("inputParams").unwrap_or(&Value::Null));
    let metadata = json!({ "source": "refresh", "generatedAt": iso8601(now_micros()) });
    widget_cycle(&s, &shared, &widget, data, metadata).await;
}

async fn on_widget_disconnect(
    s: SocketRef,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let Some((widget, _)) = require_field(
        &s,
        &shared,
        "widget_workflow_disconnect",
        "widgetID",
        args,
        ack,
    ) else {
        return;
    };
    s.leave(scoped(&s, Kind::Widget, &widget));
    emit_to(
        &s,
        &shared,
        "widget_workflow_status",
        &json!({ "widgetID": widget, "status": "disconnected" }),
    );
}

async fn on_chat_message(
    s: SocketRef,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let (Some(room_id), Some(message)) = (
        str_field(&args.values, "chatRoomID").map(str::to_owned),
        str_field(&args.values, "message").map(str::to_owned),
    ) else {
        answer(
            &s,
            &shared,
            "ai_chat_user_message",
            args,
            ack,
            json!({ "ok": false, "error": "ai_chat_user_message needs message and chatRoomID" }),
        );
        return;
    };
    answer(
        &s,
        &shared,
        "ai_chat_user_message",
        args,
        ack,
        json!({ "ok": true, "chatRoomID": room_id }),
    );
    let room = scoped(&s, Kind::Chat, &room_id);
    if !s.rooms().iter().any(|r| r.as_ref() == room) {
        s.join(room.clone());
        emit_to(
            &s,
            &shared,
            "ai_chat_room_join",
            &json!({ "chatRoomID": room_id }),
        );
    }
    let tenant = principal_of(&s).tenant;
    let shared = shared.clone();
    let delay = Duration::from_millis((shared.settings.tick_ms / 4).clamp(10, 500));
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let reply = json!({ "message": format!("You asked: \"{message}\". Here is what I found."), "chatRoomID": room_id });
        emit_to_room(
            &shared,
            NS,
            &room,
            tenant.as_deref(),
            "ai_chat_bot_message",
            &reply,
        )
        .await;
    });
}
