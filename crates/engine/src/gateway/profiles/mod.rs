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

use axum::http::HeaderMap;
use axum::Router;
use serde_json::Value;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;
use sockscope_protocol::Profile;

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

/// Serves namespace `ns`: every handshake goes through `identify`; accepted sockets
/// get the common recording handlers and then the profile's own.
pub(crate) fn serve_ns(io: &SocketIo, ns: &str, identify: Identify, install: Install) {
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
    );
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
pub fn register(profile: Profile, io: &SocketIo, ns: &str) {
    match profile {
        Profile::JetAdmin if ns == "/" => jet_admin::register(io, ns),
        Profile::Analytics if analytics::NAMESPACES.contains(&ns) => analytics::register(io, ns),
        Profile::Gxp if ns == "/" => gxp::register(io, ns),
        Profile::Steedos if ns == "/" => steedos::register(io, ns),
        _ => generic::register(io, ns),
    }
}

/// Adds the profile's own HTTP routes to the common API.
pub fn http(profile: Profile, common: Router, handle: GatewayHandle) -> Router {
    match profile {
        Profile::Analytics => common.merge(analytics::routes(handle)),
        Profile::Gxp => common.merge(gxp::routes(handle)),
        Profile::Steedos => common.merge(steedos::routes(handle)),
        Profile::Jac => common.merge(jac::routes(handle)),
        _ => common,
    }
}

/// Only the gxp toolkit server answers cross-origin requests (its dev server runs on
/// another port); every other profile keeps the browser's same-origin default.
pub fn wants_cors(profile: Profile) -> bool {
    profile == Profile::Gxp
}

/// The room an HTTP `channel` emit goes to.
pub fn delivery_room(_profile: Profile, channel: &str) -> String {
    channel.to_owned()
}

/// Every room that should receive an emit addressed to `room`.
pub fn delivery_targets(profile: Profile, room: &str) -> Vec<String> {
    match profile {
        Profile::Gxp => gxp::targets(room),
        _ => vec![room.to_owned()],
    }
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
                connected_at: crate::bus::now_micros(),
                ..Stats::default()
            }));
            generic::attach(s, shared);
            install(s, shared);
            Ok(())
        }
        Err(error) => {
            tracing::info!(socket = %s.id, namespace = s.ns(), %error, "handshake rejected");
            Err(error)
        }
    }
}
