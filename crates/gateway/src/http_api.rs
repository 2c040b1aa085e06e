//! The gateway's HTTP API, served on the same port as Socket.IO so a backend (or a
//! curl in a terminal) can push events and look inside without a socket.
//!
//! - `POST /emit {namespace?, event, data, room?, tenant?, channel?}` -> `{delivered: N}`
//! - `POST /notify-users {tenantId?, users, event?, data}` -> the event (default
//!   `notification`; `s:notification-change {message}` in the steedos profile) to every
//!   socket of those users, within that tenant
//! - `GET /templates` -> `{templates, problems}` from the gateway's templates folder
//! - `POST /templates/send {event, identifier?, data?}` -> the template's event on its
//!   channel (the identifier replaces the channel's last segment)
//! - `GET /inspect` -> namespaces -> rooms -> sockets as JSON (the whole snapshot)
//! - `GET /inspect/sockets?namespace&id&room&tenant&user&transport&data.KEY&limit&cursor&counts`
//!   -> one page of the matching sockets with their total (see [`crate::inspect_query`])
//! - `GET /inspect/counts?<the same filters>` -> matching sockets per namespace, room
//!   and tenant
//!
//! Bad JSON gets a 400 whose body names the problem.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sockscope_protocol::{EmitRequest, InspectQuery, Profile, TemplateSend};

use crate::{inspect_query, Error};
use crate::{rooms, socket, GatewayHandle};

pub fn router(handle: GatewayHandle) -> Router {
    Router::new()
        .route("/emit", post(emit))
        .route("/notify-users", post(notify_users))
        .route("/templates", get(list_templates))
        .route("/templates/send", post(send_template))
        .route("/inspect", get(inspect))
        .route("/inspect/sockets", get(inspect_sockets))
        .route("/inspect/counts", get(inspect_counts))
        .with_state(handle)
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::UnknownNamespace(_) | Error::UnknownTemplate { .. } => StatusCode::NOT_FOUND,
        Error::BadTenant(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(crate) fn failure(e: &Error) -> Response {
    error(status_of(e), e.code(), &e.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotifyUsers {
    #[serde(default)]
    tenant_id: Option<String>,
    users: Vec<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    message: Value,
}

async fn notify_users(
    State(gateway): State<GatewayHandle>,
    body: Result<Json<NotifyUsers>, JsonRejection>,
) -> Response {
    let req = json_body!(body);
    let shared = &gateway.shared;
    let tenant = req.tenant_id.as_deref();
    if let Some(t) = tenant {
        if let Err(e) = rooms::check_tenant(t) {
            return failure(&e);
        }
    }
    let mut delivered = 0;
    for user in &req.users {
        delivered += if shared.settings.profile == Profile::Steedos {
            let Some(t) = tenant else {
                return failure(&Error::BadTenant(String::new()));
            };
            let room = crate::rooms::individual_room(t, "notification-change", user);
            let message = if req.message.is_null() {
                &req.data
            } else {
                &req.message
            };
            socket::emit_to_room(
                shared,
                "/",
                &room,
                tenant,
                "s:notification-change",
                &json!({ "message": message }),
            )
            .await
        } else {
            let room = rooms::user_room(tenant, user);
            let event = req.event.as_deref().unwrap_or("notification");
            let mut n = 0;
            for ns in &shared.namespaces {
                n += socket::emit_to_room(shared, ns, &room, tenant, event, &req.data).await;
            }
            n
        };
    }
    Json(json!({ "delivered": delivered })).into_response()
}

async fn list_templates(State(gateway): State<GatewayHandle>) -> Response {
    match gateway.templates() {
        Ok(set) => Json(set).into_response(),
        Err(e) => failure(&e),
    }
}

async fn send_template(
    State(gateway): State<GatewayHandle>,
    body: Result<Json<TemplateSend>, JsonRejection>,
) -> Response {
    let req = json_body!(body);
    match gateway.send_template(&req).await {
        Ok(sent) => Json(sent).into_response(),
        Err(e) => failure(&e),
    }
}

async fn emit(
    State(gateway): State<GatewayHandle>,
    body: Result<Json<EmitRequest>, JsonRejection>,
) -> Response {
    let req = json_body!(body);
    match gateway.emit(&req).await {
        Ok(delivered) => Json(json!({ "delivered": delivered })).into_response(),
        Err(e) => failure(&e),
    }
}

async fn inspect(State(gateway): State<GatewayHandle>) -> Response {
    Json(gateway.inspect_cluster().await).into_response()
}

/// The inspect query in the URL, or the `(code, message)` of a 400 naming the problem.
fn inspect_query(
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<InspectQuery, (&'static str, String)> {
    let Query(pairs) = pairs.map_err(|r| ("bad_query", r.body_text()))?;
    inspect_query::parse(&pairs).map_err(|e| (e.code(), e.to_string()))
}

async fn inspect_sockets(
    State(gateway): State<GatewayHandle>,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let q = match inspect_query(pairs) {
        Ok(q) => q,
        Err((code, message)) => return error(StatusCode::BAD_REQUEST, code, &message),
    };
    let snap = gateway.inspect_cluster().await;
    match inspect_query::page(&snap, &q) {
        Ok(page) => Json(page).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.code(), &e.to_string()),
    }
}

async fn inspect_counts(
    State(gateway): State<GatewayHandle>,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let q = match inspect_query(pairs) {
        Ok(q) => q,
        Err((code, message)) => return error(StatusCode::BAD_REQUEST, code, &message),
    };
    let snap = gateway.inspect_cluster().await;
    Json(inspect_query::counts(&snap, &q)).into_response()
}

/// A JSON body or an early `400 {code: "bad_json", error}` naming the problem.
macro_rules! json_body {
    ($body:expr) => {
        match $body {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return $crate::http_api::rejected(&rejection),
        }
    };
}
pub(crate) use json_body;

pub(crate) fn rejected(rejection: &JsonRejection) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_json", &rejection.body_text())
}

pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "code": code, "error": message }))).into_response()
}
