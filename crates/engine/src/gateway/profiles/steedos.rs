//! `steedos` profile (seed 004): Steedos' AppGateway on path `/socket.io/`.
//!
//! - Identity from `X-Auth-Token` and `X-Space-Id`, read from cookies or headers (or
//!   `auth.token` / `auth.spaceId`). No token: an anonymous socket (flagged in its
//!   principal). With a key the token is a verified JWT (`sub` is the user); without
//!   one a JWT's `sub` is read unverified and an opaque token maps to a stable hashed
//!   user id. The space id is the tenant; it may hold letters, digits and `_` only, so
//!   `{tenantId}-{roomPart}` names cannot collide across tenants.
//! - `subscribe {roomParts: string | string[], individual}` joins `{tenantId}-{part}`
//!   (shared) or `{tenantId}-{part}-{userId}` (individual, signed-in users only);
//!   `unsubscribe {roomParts}` leaves both forms. Acks say which rooms.
//! - Keep-alive: `ping` (any payload, usually a date) is answered with `pong` carrying
//!   the server's UTC date (`Mon, 23 Nov 2026 18:00:00 GMT`), also as the ack reply.
//!   The seed's table lost the event names; these are the obvious ones.
//! - HTTP API, the broker operations: `POST /socket.emit {eventName, eventParams,
//!   room?}`, `POST /notification.users {tenantId, users, message}` (->
//!   `s:notification-change {message}` to each user's `notification-change` room),
//!   `POST /metadata.change {type, action, _id, name, objectName}` (->
//!   `s:metadata:change` to every socket) and `POST /record.change {tenantId,
//!   objectName, recordId}` (-> `s:record:{object}:change-{id} {_id}` to the record room).

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::rejection::JsonRejection;
use axum::extract::State as HttpState;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, SocketRef, State};
use socketioxide::SocketIo;

use crate::gateway::args::Args;
use crate::gateway::auth::{cookie, opaque_user_id, token_from, Principal};
use crate::gateway::http_api::{failure, json_body};
use crate::gateway::socket::{answer, emit_to, emit_to_all, emit_to_room, principal_of};
use crate::gateway::{GatewayHandle, Shared};
use crate::{Error, Result};

const NS: &str = "/";

pub fn register(io: &SocketIo, ns: &str) {
    super::serve_ns(io, ns, identify, install);
}

/// Space ids become room-name prefixes joined with `-`.
fn check_space(space: &str) -> Result<()> {
    if space.is_empty() || !space.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::BadTenant(space.to_owned()));
    }
    Ok(())
}

/// Space from `auth.spaceId`, `X-Space-Id` or its cookie; anonymous without a token.
fn identify(shared: &Shared, auth: &Value, headers: &HeaderMap) -> Result<Principal> {
    let space = auth
        .get("spaceId")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get("x-space-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .or_else(|| cookie(headers, "X-Space-Id"))
        .filter(|v| !v.is_empty());
    if let Some(sp) = &space {
        check_space(sp)?;
    }
    let Some(token) = token_from(auth, headers) else {
        return Ok(Principal {
            tenant: space,
            anonymous: true,
            ..Principal::default()
        });
    };
    let user = match shared.auth.principal(&token) {
        Ok(p) => p.user.unwrap_or_else(|| opaque_user_id(&token)),
        Err(Error::InvalidToken(_)) if !shared.auth.required() => opaque_user_id(&token),
        Err(e) => return Err(e),
    };
    Ok(Principal {
        user: Some(user),
        tenant: space,
        anonymous: false,
        verified: shared.auth.required(),
    })
}

fn install(s: &SocketRef, _: &Shared) {
    s.on("subscribe", on_subscribe);
    s.on("unsubscribe", on_unsubscribe);
    s.on("ping", on_ping);
}

/// `roomParts` as a list, from a string or an array of strings.
fn room_parts(args: &Value) -> Vec<String> {
    match args.get(0).and_then(|a| a.get("roomParts")) {
        Some(Value::String(p)) if !p.is_empty() => vec![p.clone()],
        Some(Value::Array(ps)) => ps
            .iter()
            .filter_map(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn shared_room(tenant: &str, part: &str) -> String {
    format!("{tenant}-{part}")
}

fn individual_room(tenant: &str, part: &str, user: &str) -> String {
    format!("{tenant}-{part}-{user}")
}

async fn on_subscribe(s: SocketRef, args: Args, ack: AckSender, State(shared): State<Arc<Shared>>) {
    let p = principal_of(&s);
    let parts = room_parts(&args.values);
    let individual = args
        .values
        .get(0)
        .and_then(|a| a.get("individual"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let reply = match (&p.tenant, &p.user, parts.is_empty()) {
        (_, _, true) => {
            json!({ "ok": false, "error": "subscribe needs roomParts: a string or an array of strings" })
        }
        (None, _, _) => json!({ "ok": false, "error": "no space: send X-Space-Id to join rooms" }),
        (Some(_), None, _) if individual => {
            json!({ "ok": false, "error": "individual rooms need a signed-in user (X-Auth-Token)" })
        }
        (Some(t), user, false) => {
            let rooms: Vec<String> = parts
                .iter()
                .map(|part| match (individual, user) {
                    (true, Some(u)) => individual_room(t, part, u),
                    _ => shared_room(t, part),
                })
                .collect();
            s.join(rooms.clone());
            json!({ "ok": true, "rooms": rooms })
        }
    };
    answer(&s, &shared, "subscribe", args, ack, reply);
}

async fn on_unsubscribe(
    s: SocketRef,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let p = principal_of(&s);
    let parts = room_parts(&args.values);
    let reply = match &p.tenant {
        Some(t) if !parts.is_empty() => {
            let mut rooms = Vec::new();
            for part in &parts {
                rooms.push(shared_room(t, part));
                if let Some(u) = &p.user {
                    rooms.push(individual_room(t, part, u));
                }
            }
            s.leave(rooms.clone());
            json!({ "ok": true, "rooms": rooms })
        }
        _ => json!({ "ok": false, "error": "unsubscribe needs roomParts and a space" }),
    };
    answer(&s, &shared, "unsubscribe", args, ack, reply);
}

async fn on_ping(s: SocketRef, args: Args, ack: AckSender, State(shared): State<Arc<Shared>>) {
    let date = httpdate::fmt_http_date(SystemTime::now());
    answer(&s, &shared, "ping", args, ack, json!(date));
    emit_to(&s, &shared, "pong", &date);
}

pub fn routes(handle: GatewayHandle) -> Router {
    Router::new()
        .route("/socket.emit", post(socket_emit))
        .route("/notification.users", post(notification_users))
        .route("/metadata.change", post(metadata_change))
        .route("/record.change", post(record_change))
        .with_state(handle)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SocketEmit {
    event_name: String,
    #[serde(default)]
    event_params: Value,
    #[serde(default)]
    room: Option<String>,
}

async fn socket_emit(
    HttpState(g): HttpState<GatewayHandle>,
    b: std::result::Result<Json<SocketEmit>, JsonRejection>,
) -> Response {
    let req = json_body!(b);
    let delivered = match &req.room {
        Some(room) => {
            let tenant = room.split('-').next();
            emit_to_room(
                &g.shared,
                NS,
                room,
                tenant,
                &req.event_name,
                &req.event_params,
            )
            .await
        }
        None => emit_to_all(&g.shared, NS, &req.event_name, &req.event_params).await,
    };
    Json(json!({ "delivered": delivered })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NotifyUsers {
    tenant_id: String,
    users: Vec<String>,
    message: Value,
}

async fn notification_users(
    HttpState(g): HttpState<GatewayHandle>,
    b: std::result::Result<Json<NotifyUsers>, JsonRejection>,
) -> Response {
    let req = json_body!(b);
    if let Err(e) = check_space(&req.tenant_id) {
        return failure(&e);
    }
    let mut delivered = 0;
    for user in &req.users {
        let room = individual_room(&req.tenant_id, "notification-change", user);
        delivered += emit_to_room(
            &g.shared,
            NS,
            &room,
            Some(&req.tenant_id),
            "s:notification-change",
            &json!({ "message": req.message }),
        )
        .await;
    }
    Json(json!({ "delivered": delivered })).into_response()
}

async fn metadata_change(
    HttpState(g): HttpState<GatewayHandle>,
    b: std::result::Result<Json<Value>, JsonRejection>,
) -> Response {
    let req = json_body!(b);
    let delivered = emit_to_all(&g.shared, NS, "s:metadata:change", &req).await;
    Json(json!({ "delivered": delivered })).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordChange {
    tenant_id: String,
    object_name: String,
    record_id: String,
}

async fn record_change(
    HttpState(g): HttpState<GatewayHandle>,
    b: std::result::Result<Json<RecordChange>, JsonRejection>,
) -> Response {
    let req = json_body!(b);
    if let Err(e) = check_space(&req.tenant_id) {
        return failure(&e);
    }
    let part = format!("record:{}:change-{}", req.object_name, req.record_id);
    let event = format!("s:{part}");
    let room = shared_room(&req.tenant_id, &part);
    let delivered = emit_to_room(
        &g.shared,
        NS,
        &room,
        Some(&req.tenant_id),
        &event,
        &json!({ "_id": req.record_id }),
    )
    .await;
    Json(json!({ "delivered": delivered })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_parts_accept_string_or_list() {
        assert_eq!(room_parts(&json!([{"roomParts": "a"}])), vec!["a"]);
        assert_eq!(
            room_parts(&json!([{"roomParts": ["a", "", "b"]}])),
            vec!["a", "b"]
        );
        assert!(room_parts(&json!([{}])).is_empty());
    }

    #[test]
    fn space_ids_cannot_forge_room_prefixes() {
        assert!(check_space("space1").is_ok());
        assert!(check_space("a-b").is_err());
        assert!(check_space("").is_err());
        assert_eq!(shared_room("s1", "orders"), "s1-orders");
        assert_eq!(
            individual_room("s1", "notification-change", "u1"),
            "s1-notification-change-u1"
        );
    }
}
