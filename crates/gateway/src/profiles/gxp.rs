//! `gxp` profile (seed 002): the GxP toolkit's development socket server.
//!
//! - Namespace `/`, no auth, CORS open to the dev server (any origin), port 3069 by
//!   default (`SOCKET_IO_PORT`), TLS with `USE_HTTPS` + `CERT_PATH` + `KEY_PATH` (the
//!   CLI reads those variables).
//! - Events come from templates (`socket-events/*.json`, `{event, channel, data}`) and
//!   are sent as `event(data)`, which is what the store's
//!   `listenSocket('primary', 'EventName', cb)` receives.
//! - Channel-scoped delivery: a client may `subscribe {channel}` (Echo style) to
//!   receive only its channels; a client that never subscribed receives every channel,
//!   as the gxdev server's plugins expect (they only call `listenSocket`).
//!   `unsubscribe {channel}` leaves one. Channels are rooms of kind `channel` in the
//!   socket's scope (`public:channel:{name}`, or `tenant:{t}:channel:{name}` when a
//!   verified token names a tenant), so a channel name can never reach a user's room
//!   or another tenant's channel; template sends go to the public scope unless the
//!   request names a tenant.
//! - Client emits (`store.emitSocket('primary', ...)`) are recorded and acked.

use std::sync::Arc;

use crate::{AckSender, SocketIo, SocketRef};
use serde_json::{json, Value};
use socketioxide::extract::State;

use crate::args::Args;
use crate::rooms::{self, Kind};
use crate::socket::{answer, principal_of};
use crate::{GatewayHandle, Shared};

/// The room where sockets of `tenant`'s scope that subscribed to no channel wait, to
/// receive every channel of that scope.
fn unfiltered(tenant: Option<&str>) -> String {
    rooms::named(tenant, Kind::AllChannels, "")
}

/// The room of `channel` in `tenant`'s scope.
pub fn channel_room(tenant: Option<&str>, channel: &str) -> String {
    rooms::named(tenant, Kind::Channel, channel)
}

pub fn register(io: &SocketIo, ns: &str) -> super::Joined {
    // No auth unless a key is configured: the generic rule.
    super::serve_ns(io, ns, super::generic::identify, install)
}

fn install(s: &SocketRef, _: &Shared) {
    s.join(unfiltered(principal_of(s).tenant.as_deref()));
    s.on("subscribe", on_subscribe);
    s.on("unsubscribe", on_unsubscribe);
}

fn channel_arg(args: &Value) -> Option<&str> {
    let first = args.get(0)?;
    first
        .as_str()
        .or_else(|| first.get("channel").and_then(Value::as_str))
        .filter(|c| !c.is_empty())
}

async fn on_subscribe(s: SocketRef, args: Args, ack: AckSender, State(shared): State<Arc<Shared>>) {
    let reply = match channel_arg(&args.values) {
        Some(channel) => {
            let tenant = principal_of(&s).tenant;
            s.leave(unfiltered(tenant.as_deref()));
            s.join(channel_room(tenant.as_deref(), channel));
            json!({ "ok": true, "channel": channel })
        }
        None => json!({ "ok": false, "error": "subscribe expects {channel: string}" }),
    };
    answer(&s, &shared, "subscribe", args, ack, reply);
}

async fn on_unsubscribe(
    s: SocketRef,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let reply = match channel_arg(&args.values) {
        Some(channel) => {
            s.leave(channel_room(principal_of(&s).tenant.as_deref(), channel));
            json!({ "ok": true, "channel": channel })
        }
        None => json!({ "ok": false, "error": "unsubscribe expects {channel: string}" }),
    };
    answer(&s, &shared, "unsubscribe", args, ack, reply);
}

/// A channel's emit reaches its subscribers and the sockets of the same scope that
/// never subscribed. `room` is a channel room as [`channel_room`] names it; any other
/// name is delivered as it is.
pub fn targets(room: &str) -> Vec<String> {
    match rooms::parse(room) {
        Some((tenant, Kind::Channel, _)) => vec![room.to_owned(), unfiltered(tenant)],
        _ => vec![room.to_owned()],
    }
}

/// gxp adds no routes of its own: `GET /templates` and `POST /templates/send` are
/// common to every profile.
pub fn routes(handle: GatewayHandle) -> axum::Router {
    axum::Router::new().with_state(handle)
}
