//! `steedos` profile (seed 004): Steedos' AppGateway on path `/socket.io/`.
//!
//! - Identity from `X-Auth-Token` and `X-Space-Id`, read from cookies or headers (or
//!   `auth.token` / `auth.spaceId`). The space id is the tenant; it may hold letters,
//!   digits and `_` only, so `{tenantId}-{roomPart}` names cannot collide across
//!   tenants.
//!   - With a key (auth on) the token is a verified JWT: `sub` is the user and its
//!     tenant claim is the space. A claimed space that differs from it (or a claimed
//!     space with a token that names none) refuses the handshake with an
//!     `identity mismatch` `connect_error`. No token: an anonymous socket in no space,
//!     whose subscribes are refused.
//!   - Without a key (emulation) the claimed space is taken as is, a JWT's `sub` is
//!     read unverified and an opaque token maps to a stable hashed user id; no token
//!     is an anonymous socket in the claimed space.
//! - `subscribe {roomParts: string | string[], individual}` joins `{tenantId}-{part}`
//!   (shared) or `{tenantId}-{part}@{userId}` (individual, signed-in users only);
//!   `unsubscribe {roomParts}` leaves both forms. Acks say which rooms. The seed
//!   names individual rooms `{part}-{userId}`, which a shared part could forge; here
//!   a part may not contain `@`, so no shared room is ever an individual one.
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

use crate::{AckSender, SocketIo, SocketRef};
use axum::extract::rejection::JsonRejection;
use axum::extract::State as HttpState;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use socketioxide::extract::State;

use crate::args::Args;
use crate::auth::{cookie, opaque_user_id, token_from, Principal};
use crate::http_api::{failure, json_body};
use crate::socket::{answer, emit_to, emit_to_all, emit_to_room, principal_of};
use crate::{Error, Result};
use crate::{GatewayHandle, Shared};

const NS: &str = "/";

pub fn register(io: &SocketIo, ns: &str) -> super::Joined {
    super::serve_ns(io, ns, identify, install)
}

/// Space ids become room-name prefixes joined with `-`.
fn check_space(space: &str) -> Result<()> {
    if space.is_empty() || !space.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::BadTenant(space.to_owned()));
    }
    Ok(())
}

/// The space the client says it is in: `auth.spaceId`, `X-Space-Id` or its cookie.
fn claimed_space(auth: &Value, headers: &HeaderMap) -> Result<Option<String>> {
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
    Ok(space)
}

/// With a key: the space is the verified token's tenant claim, a claimed space must
/// equal it, and a socket without a token is anonymous in no space. Without a key
/// (emulation): the claimed space, and the user read from the token unverified.
fn identify(shared: &Shared, auth: &Value, headers: &HeaderMap) -> Result<Principal> {
    let claimed = claimed_space(auth, headers)?;
    let verified = shared.auth.required();
    let Some(token) = token_from(auth, headers) else {
        return Ok(Principal {
            tenant: if verified { None } else { claimed },
            anonymous: true,
            ..Principal::default()
        });
    };
    if verified {
        let p = shared.auth.principal(&token)?;
        let space = match (p.tenant, claimed) {
            (Some(t), Some(c)) if t != c => {
                return Err(Error::IdentityMismatch(format!(
                    "X-Space-Id {c:?} is not the token's space {t:?}"
                )))
            }
            (None, Some(c)) => {
                return Err(Error::IdentityMismatch(format!(
                    "X-Space-Id {c:?} but the token names no space (claim {:?})",
                    shared.settings.tenant_claim
                )))
            }
            (t, _) => t,
        };
        if let Some(sp) = &space {
            check_space(sp)?;
        }
        return Ok(Principal {
            user: Some(p.user.unwrap_or_else(|| opaque_user_id(&token))),
            tenant: space,
            anonymous: false,
            verified: true,
            data: p.data,
        });
    }
    let user = match shared.auth.principal(&token) {
        Ok(p) => p.user.unwrap_or_else(|| opaque_user_id(&token)),
        Err(Error::InvalidToken(_)) => opaque_user_id(&token),
        Err(e) => return Err(e),
    };
    Ok(Principal {
        user: Some(user),
        tenant: claimed,
        anonymous: false,
        verified: false,
        data: Default::default(),
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

/// The seed's shared room, `{space}-{part}`.
fn shared_room(tenant: &str, part: &str) -> String {
    format!("{tenant}-{part}")
}
pub use crate::rooms::individual_room;

/// The rooms a `subscribe` of `part` joins, shared and (signed-in users) individual;
/// none when the part or the principal is refused.
pub(super) fn client_rooms(p: &Principal, part: &str) -> Vec<String> {
    let Some(t) = &p.tenant else {
        return Vec::new();
    };
    if part.is_empty() || check_part(part).is_err() {
        return Vec::new();
    }
    let mut rooms = vec![shared_room(t, part)];
    if let Some(u) = &p.user {
        rooms.push(individual_room(t, part, u));
    }
    rooms
}

/// A client's room part, or why it is refused.
fn check_part(part: &str) -> std::result::Result<(), String> {
    if part.contains('@') {
        return Err(format!(
            "room part {part:?} contains '@', which only the gateway's individual rooms use"
        ));
    }
    Ok(())
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
        (None, _, _) if p.anonymous && shared.auth.required() => json!({
            "ok": false,
            "error": "anonymous sockets join no space: this gateway verifies tokens, sign in with X-Auth-Token"
        }),
        (None, _, _) => json!({ "ok": false, "error": "no space: send X-Space-Id to join rooms" }),
        (Some(_), None, _) if individual => {
            json!({ "ok": false, "error": "individual rooms need a signed-in user (X-Auth-Token)" })
        }
        _ if parts.iter().any(|p| check_part(p).is_err()) => {
            let why = parts.iter().find_map(|p| check_part(p).err());
            json!({ "ok": false, "error": why })
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
            "s1-notification-change@u1"
        );
    }

    #[test]
    fn a_shared_part_never_names_an_individual_room() {
        // The hole of the first version: shared `notification-change-alice`.
        assert_ne!(
            shared_room("s1", "notification-change-alice"),
            individual_room("s1", "notification-change", "alice")
        );
        assert!(check_part("notification-change@alice").is_err());
        assert!(check_part("notification-change-alice").is_ok());
    }
}
