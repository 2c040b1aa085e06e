//! `analytics` profile (seed 001): the analytics service's dashboard gateways.
//!
//! - Namespaces `/dashboard` (DashboardGateway: metrics) and `/analytics/dashboard`
//!   (DashboardUpdatesGateway: configuration changes).
//! - Handshake: `auth.token` JWT whose `tenantId` claim scopes everything. Verified
//!   with `--jwt-secret`/`--jwt-public-key`; without a key the claims are read
//!   unverified so front ends can keep their real tokens. A missing token, a token
//!   without `tenantId`, or a bad signature is refused with a `connect_error` message.
//! - `subscribe {entityId, entityType}` joins the entity's room *of the caller's
//!   tenant*, sends `dashboard:initial {entityId, entityType, metrics, tiles}` to the
//!   caller, and starts `metric:update {entityId, metricName, value, timestamp}` ticks
//!   every `tick_ms` to that room; ticks stop when the room empties.
//!   `unsubscribe {entityId}` leaves it. Rooms: `tenant:{t}:entity:{entityId}` and
//!   `tenant:{t}:dashboards:` (`gateway/rooms.rs`); the tenant comes from the token.
//! - The seed is silent on where entities come from: the emulator gives an entity id
//!   to the first tenant that subscribes to it. Another tenant asking for it, or a
//!   subscribe without `entityId`/`entityType`, gets `error {code: "ANALYTICS_1100",
//!   message}`.
//! - `POST /analytics/dashboard-update {tenantId, dashboardId, action, tile}` sends
//!   `dashboard:update {dashboardId, action, tile}` to that tenant's sockets on
//!   `/analytics/dashboard`.

use std::sync::Arc;
use std::time::Duration;

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
use crate::auth::{token_from, Principal};
use crate::http_api::{failure, json_body};
use crate::rooms::{self, Kind};
use crate::socket::{
    answer, emit_to, emit_to_room, emit_to_room_here, iso8601, principal_of, room_size, str_field,
};
use crate::Error;
use crate::{GatewayHandle, Shared};
use sockscope_bus::now_micros;

pub const NAMESPACES: &[&str] = &["/dashboard", "/analytics/dashboard"];
const METRICS_NS: &str = "/dashboard";
const UPDATES_NS: &str = "/analytics/dashboard";
/// The error code the seed documents for invalid or forbidden entities.
pub const ERROR_CODE: &str = "ANALYTICS_1100";

pub fn register(io: &SocketIo, ns: &str) -> super::Joined {
    super::serve_ns(io, ns, identify, install)
}

/// `auth.token` is required and must carry the tenant claim.
fn identify(shared: &Shared, auth: &Value, headers: &HeaderMap) -> crate::Result<Principal> {
    token_from(auth, headers)
        .ok_or(Error::MissingToken)
        .and_then(|t| shared.auth.principal(&t))
        .and_then(|p| match p.tenant {
            Some(_) => Ok(p),
            None => Err(Error::InvalidToken(format!(
                "no {} claim: the analytics gateway scopes all data by tenant",
                shared.settings.tenant_claim
            ))),
        })
}

fn install(s: &SocketRef, _: &Shared) {
    if s.ns() == METRICS_NS {
        s.on("subscribe", on_subscribe);
        s.on("unsubscribe", on_unsubscribe);
    } else if let Some(t) = principal_of(s).tenant {
        s.join(dashboards_room(&t));
    }
}

fn dashboards_room(tenant: &str) -> String {
    rooms::named(Some(tenant), Kind::Dashboards, "")
}

fn entity_room(tenant: &str, entity: &str) -> String {
    rooms::named(Some(tenant), Kind::Entity, entity)
}

async fn on_subscribe(s: SocketRef, args: Args, ack: AckSender, State(shared): State<Arc<Shared>>) {
    let tenant = principal_of(&s).tenant.unwrap_or_default();
    let entity = str_field(&args.values, "entityId").map(str::to_owned);
    let kind = str_field(&args.values, "entityType").map(str::to_owned);
    let owned = match &entity {
        Some(e) => claim_entity_anywhere(&shared, e, &tenant).await,
        None => true,
    };
    let refusal = match (&entity, &kind) {
        (Some(e), Some(_)) if !owned => Some(format!("entity {e} not found for this tenant")),
        (Some(_), Some(_)) => None,
        _ => Some("invalid entity: subscribe needs entityId and entityType".to_owned()),
    };
    let (Some(entity), Some(kind), None) = (entity, kind, &refusal) else {
        // The seed's error event, and the same in the ack for clients that ask.
        let err = json!({ "code": ERROR_CODE, "message": refusal });
        answer(
            &s,
            &shared,
            "subscribe",
            args,
            ack,
            json!({ "ok": false, "error": err }),
        );
        emit_to(&s, &shared, "error", &err);
        return;
    };
    let room = entity_room(&tenant, &entity);
    s.join(room.clone());
    answer(
        &s,
        &shared,
        "subscribe",
        args,
        ack,
        json!({ "ok": true, "entityId": entity }),
    );
    let metrics = metrics_for(&kind, 0);
    let initial = json!({ "entityId": entity, "entityType": kind, "metrics": metrics, "tiles": tiles(&metrics) });
    emit_to(&s, &shared, "dashboard:initial", &initial);
    spawn_ticker(shared.clone(), tenant, entity, kind, room);
}

async fn on_unsubscribe(
    s: SocketRef,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let tenant = principal_of(&s).tenant.unwrap_or_default();
    let reply = match str_field(&args.values, "entityId") {
        Some(entity) => {
            s.leave(entity_room(&tenant, entity));
            json!({ "ok": true, "entityId": entity })
        }
        None => json!({ "ok": false, "error": "unsubscribe needs entityId" }),
    };
    answer(&s, &shared, "unsubscribe", args, ack, reply);
}

/// [`claim_entity`] over the whole cluster when the gateway is clustered (the owner
/// is kept in Redis, first come first served, so a tenant refused on one node is
/// refused on every node); this node's map otherwise, or when Redis fails.
async fn claim_entity_anywhere(shared: &Shared, entity: &str, tenant: &str) -> bool {
    if let Some(link) = shared.live_link() {
        let key = format!("sockscope:analytics:owner:{entity}");
        match link.claim(&key, tenant).await {
            Ok(owner) => return owner == tenant,
            Err(error) => {
                tracing::warn!(entity, %error, "cannot ask the cluster who owns the entity; deciding on this node")
            }
        }
    }
    claim_entity(shared, entity, tenant)
}

/// Gives `entity` to `tenant` if nobody has it; true if `tenant` owns it.
fn claim_entity(shared: &Shared, entity: &str, tenant: &str) -> bool {
    let Ok(mut owners) = shared.state.owners.lock() else {
        return false;
    };
    owners
        .entry(entity.to_owned())
        .or_insert_with(|| tenant.to_owned())
        .as_str()
        == tenant
}

/// Metric ticks for one entity room, until the room is empty or the gateway stops.
fn spawn_ticker(shared: Arc<Shared>, tenant: String, entity: String, kind: String, room: String) {
    if !shared.state.start_timer(&room) {
        return;
    }
    let every = Duration::from_millis(shared.settings.tick_ms.max(10));
    tokio::spawn(async move {
        let mut tick: u64 = 0;
        loop {
            tokio::time::sleep(every).await;
            if room_size(&shared, METRICS_NS, &room) == 0 {
                break;
            }
            tick += 1;
            let metrics = metrics_for(&kind, tick);
            let Some((name, value)) = metrics
                .as_object()
                .and_then(|m| m.iter().nth((tick as usize) % m.len().max(1)))
                .map(|(k, v)| (k.clone(), v.clone()))
            else {
                break;
            };
            let update = json!({
                "entityId": entity,
                "metricName": name,
                "value": value,
                "timestamp": iso8601(now_micros()),
            });
            emit_to_room_here(
                &shared,
                METRICS_NS,
                &room,
                Some(&tenant),
                "metric:update",
                &update,
            )
            .await;
        }
        shared.state.end_timer(&room);
        tracing::debug!(%room, "metric ticker stopped");
    });
}

/// Plausible metrics for an entity type, drifting with `tick`.
fn metrics_for(kind: &str, tick: u64) -> Value {
    let wave = |base: u64, step: u64| base + (tick * step) % 97;
    match kind {
        "event" => json!({
            "attendees": wave(1200, 7),
            "checkIns": wave(830, 5),
            "revenue": wave(48_000, 13),
            "activeSessions": wave(12, 1),
        }),
        _ => json!({
            "views": wave(5400, 11),
            "interactions": wave(760, 3),
            "conversions": wave(42, 1),
        }),
    }
}

fn tiles(metrics: &Value) -> Value {
    let names: Vec<&String> = metrics
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    Value::Array(
        names
            .iter()
            .enumerate()
            .map(|(i, n)| json!({ "id": format!("tile-{}", i + 1), "type": "kpi", "metric": n, "position": i }))
            .collect(),
    )
}

pub fn routes(handle: GatewayHandle) -> Router {
    Router::new()
        .route("/analytics/dashboard-update", post(dashboard_update))
        .with_state(handle)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DashboardUpdate {
    tenant_id: String,
    dashboard_id: String,
    action: String,
    #[serde(default)]
    tile: Value,
}

async fn dashboard_update(
    HttpState(gateway): HttpState<GatewayHandle>,
    body: Result<Json<DashboardUpdate>, JsonRejection>,
) -> Response {
    let req = json_body!(body);
    if let Err(e) = rooms::check_tenant(&req.tenant_id) {
        return failure(&e);
    }
    let payload =
        json!({ "dashboardId": req.dashboard_id, "action": req.action, "tile": req.tile });
    let delivered = emit_to_room(
        &gateway.shared,
        UPDATES_NS,
        &dashboards_room(&req.tenant_id),
        Some(&req.tenant_id),
        "dashboard:update",
        &payload,
    )
    .await;
    Json(json!({ "delivered": delivered })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_name_every_metric() {
        let m = metrics_for("event", 3);
        let t = tiles(&m);
        assert_eq!(t.as_array().map(Vec::len), m.as_object().map(|o| o.len()));
        assert_eq!(t[0]["type"], "kpi");
    }
}
