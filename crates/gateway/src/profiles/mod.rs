//! Gateway profiles: the handlers that make the embedded gateway behave like one of
//! the real gateways in the seeds. A profile names its namespaces, registers its
//! Socket.IO handlers, and may add HTTP routes; namespaces a profile does not own get
//! the generic behaviour.

pub mod analytics;
pub mod generic;
pub mod gxp;
pub mod jac;
pub mod jet_admin;
pub mod steedos;

use crate::{SocketIo, SocketRef};
use axum::http::HeaderMap;
use axum::Router;
use serde_json::Value;
use socketioxide::extract::{State, TryData};
use socketioxide::handler::ConnectHandler;
use sockscope_protocol::{Direction, Profile};

use std::sync::Arc;

use super::auth::Principal;
use super::socket::Stats;
use super::{GatewayHandle, Shared};

/// The connect handler of every profile: all the work happens in the middleware.
async fn connected(_: SocketRef) {}

/// How a profile turns a handshake (auth object, HTTP headers) into a principal.
pub(crate) type Identify = fn(&Shared, &Value, &HeaderMap) -> crate::Result<Principal>;
/// What a profile registers on an accepted socket.
pub(crate) type Install = fn(&SocketRef, &Shared);

/// A namespace's adapter joining the cluster (subscribing on Redis); resolves at once
/// when the gateway is not clustered. Awaited before the gateway takes its port.
pub type Joined = socketioxide_redis::InitRes<super::cluster::Backplane>;

/// Serves namespace `ns`: every handshake goes through `identify`; accepted sockets
/// get the common recording handlers and then the profile's own.
pub(crate) fn serve_ns(io: &SocketIo, ns: &str, identify: Identify, install: Install) -> Joined {
    io.ns(
        ns.to_owned(),
        connected.with(
            async move |s: SocketRef,
                        TryData(auth): TryData<Value>,
                        State(shared): State<Arc<Shared>>|
                        -> crate::Result<()> {
                let auth = auth.unwrap_or(Value::Null);
                let principal = identify(&shared, &auth, &s.req_parts().headers);
                accept(&s, &shared, principal, install)
            },
        ),
    )
}

/// The namespaces a profile serves before any the user adds.
pub fn namespaces(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::Analytics => analytics::NAMESPACES,
        _ => &["/"],
    }
}

/// Serves namespace `ns` with `profile`'s handlers, or the generic ones when the
/// profile does not own it.
pub fn register(profile: Profile, io: &SocketIo, ns: &str) -> Joined {
    match profile {
        Profile::JetAdmin if ns == "/" => jet_admin::register(io, ns),
        Profile::Analytics if analytics::NAMESPACES.contains(&ns) => analytics::register(io, ns),
        Profile::Gxp if ns == "/" => gxp::register(io, ns),
        Profile::Steedos if ns == "/" => steedos::register(io, ns),
        _ => generic::register(io, ns),
    }
}

/// Adds the profile's own operator routes (broker calls) to the common API; both
/// sit behind the API token check.
pub fn http(profile: Profile, common: Router, handle: GatewayHandle) -> Router {
    match profile {
        Profile::Analytics => common.merge(analytics::routes(handle)),
        Profile::Gxp => common.merge(gxp::routes(handle)),
        Profile::Steedos => common.merge(steedos::routes(handle)),
        _ => common,
    }
}

/// The profile's routes for clients (jac's plain WebSocket), which authenticate their
/// own callers like Socket.IO handshakes do.
pub fn client_routes(profile: Profile, handle: GatewayHandle) -> Router {
    match profile {
        Profile::Jac => jac::routes(handle),
        _ => Router::new(),
    }
}

/// The room an HTTP `channel` emit goes to: a gxp channel of `tenant`'s scope, or,
/// in every other profile, the room named exactly (the operator's API names real
/// rooms, e.g. steedos' `{space}-{part}`).
pub fn delivery_room(profile: Profile, tenant: Option<&str>, channel: &str) -> String {
    match profile {
        Profile::Gxp => gxp::channel_room(tenant, channel),
        _ => channel.to_owned(),
    }
}

/// A recorded room name in today's form (see [`super::rooms::upgrade_recorded`]);
/// gxp recordings of older versions named channels bare, which are public channels.
pub fn upgrade_recorded(profile: Profile, room: &str) -> String {
    match profile {
        Profile::Gxp if room == "gxp:all-channels" => {
            super::rooms::named(None, super::rooms::Kind::AllChannels, "")
        }
        Profile::Gxp
            if super::rooms::parse(room).is_none()
                && !room.starts_with("tenant:")
                && !room.starts_with("public:") =>
        {
            gxp::channel_room(None, room)
        }
        Profile::Steedos => room.to_owned(),
        _ => super::rooms::upgrade_recorded(room),
    }
}

/// Every room that should receive an emit addressed to `room`.
pub fn delivery_targets(profile: Profile, room: &str) -> Vec<String> {
    match profile {
        Profile::Gxp => gxp::targets(room),
        _ => vec![room.to_owned()],
    }
}

/// Every room a socket of `principal` can join in `profile` by sending `name` in any
/// of the profile's join-type events (`subscribe`, jet-admin's run/widget/chat ids,
/// gxp channels, analytics entities, steedos room parts shared or individual),
/// built by the same functions the handlers call. Empty when the handler refuses
/// the name or the principal. The room-isolation property test reasons over this.
pub fn client_rooms(profile: Profile, principal: &Principal, name: &str) -> Vec<String> {
    use super::rooms::{client_room, named, Kind};
    let tenant = principal.tenant.as_deref();
    match profile {
        Profile::Generic | Profile::Jac => vec![client_room(tenant, name)],
        Profile::JetAdmin => [Kind::Run, Kind::Widget, Kind::Chat]
            .into_iter()
            .map(|k| named(tenant, k, name))
            .collect(),
        Profile::Gxp => vec![gxp::channel_room(tenant, name)],
        Profile::Analytics => tenant
            .map(|t| vec![named(Some(t), Kind::Entity, name)])
            .unwrap_or_default(),
        Profile::Steedos => steedos::client_rooms(principal, name),
    }
}

/// Rooms the gateway keeps for `principal` alone (personal and individual rooms,
/// `part` naming the individual room's purpose in steedos): no other principal may
/// ever reach one of them.
pub fn personal_rooms(profile: Profile, principal: &Principal, part: &str) -> Vec<String> {
    let Some(user) = &principal.user else {
        return Vec::new();
    };
    let tenant = principal.tenant.as_deref();
    let mut rooms = vec![super::rooms::user_room(tenant, user)];
    if let (Profile::Steedos, Some(t)) = (profile, tenant) {
        rooms.push(steedos::individual_room(t, part, user));
    }
    rooms
}

/// How long a namespace created for an unknown path lives after its refusal: long
/// enough for the `connect_error` to be sent before the namespace is closed.
const UNKNOWN_NS_LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// Refuses a handshake to any namespace the gateway does not serve, and publishes it
/// like an auth refusal. socketioxide answers such a handshake itself without telling
/// the application, so a catch-all dynamic namespace stands in for it. socketioxide
/// keeps the namespace it creates for each such path; it is deleted again shortly
/// after the refusal, so unknown paths do not accumulate.
pub(crate) fn refuse_unknown(io: &SocketIo) -> Result<(), socketioxide::NsInsertError> {
    io.dyn_ns(
        "/{*path}",
        connected.with(
            async move |s: SocketRef, State(shared): State<Arc<Shared>>| -> crate::Result<()> {
                let error = crate::Error::NoSuchNamespace;
                tracing::info!(socket = %s.id, namespace = s.ns(), "handshake to an unknown namespace rejected");
                publish_refusal(&s, &shared, &error);
                if let Some(io) = shared.io() {
                    let ns = s.ns().to_owned();
                    tokio::spawn(async move {
                        tokio::time::sleep(UNKNOWN_NS_LINGER).await;
                        io.delete_ns(ns);
                    });
                }
                Err(error)
            },
        ),
    )
}

/// Publishes a refused handshake as the `connect_error` the client receives (s2c,
/// args `[message]`), so the live log, `serve` output and recordings show who was
/// refused and why. The message names the reason only: the token is never in it
/// (the auth errors say what was wrong with it, not what it was).
fn publish_refusal(s: &SocketRef, shared: &Shared, error: &crate::Error) {
    let mut rec = sockscope_bus::record(
        crate::SOURCE,
        Direction::S2c,
        s.ns(),
        "connect_error",
        serde_json::json!([error.to_string()]),
    );
    rec.socket_id = Some(s.id.to_string());
    shared.bus.publish(rec);
}

/// Finishes a connect middleware: stores the principal and installs the profile's
/// handlers, or logs and returns the rejection (whose one-line message becomes the
/// client's `connect_error`).
///
/// Handlers are installed here, in the middleware, and not in the connect handler:
/// socketioxide sends the CONNECT packet *before* it runs the connect handler, so a
/// client that emits as soon as it is connected (the seeds' `socket.on('connect', ()
/// => socket.emit('subscribe', ...))`) could otherwise hit a socket with no handlers
/// and lose its first event.
fn accept(
    s: &SocketRef,
    shared: &Shared,
    principal: crate::Result<Principal>,
    install: fn(&SocketRef, &Shared),
) -> crate::Result<()> {
    match principal {
        Ok(p) => {
            s.extensions.insert(p);
            s.extensions.insert(Arc::new(Stats {
                connected_at: sockscope_bus::now_micros(),
                ..Stats::default()
            }));
            generic::attach(s, shared);
            install(s, shared);
            Ok(())
        }
        Err(error) => {
            tracing::info!(socket = %s.id, namespace = s.ns(), %error, "handshake rejected");
            publish_refusal(s, shared, &error);
            Err(error)
        }
    }
}
