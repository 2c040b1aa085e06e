//! The generic profile: what the embedded gateway does when no seed gateway is being
//! emulated, and on any extra namespace of a seed profile.
//!
//! - `subscribe {room}` / `unsubscribe {room}` (or a bare room string) join and leave
//!   `{scope}:room:{room}` in the socket's tenant scope (`gateway/rooms.rs`); a
//!   user's personal room is `{scope}:user:{user}`, so no room name a client sends
//!   (`user:bob` included) reaches it. The ack reply is `{ok, room}` or
//!   `{ok: false, error}`.
//! - Every other event is published on the bus and, when the client asked for an ack,
//!   answered with `{ok: true, seq}` where `seq` is the event's bus sequence number
//!   (a forecast made before the record is published: exact unless other records,
//!   say other sockets' or this socket's earlier events, are published meanwhile).
//! - Connects and disconnects are published too, as `connect` / `disconnect` records
//!   (the handshake's auth object is never copied into them).

use std::sync::Arc;

use crate::{AckSender, SocketIo, SocketRef};
use axum::http::HeaderMap;
use serde_json::{json, Value};
use socketioxide::extract::{Event, State};
use socketioxide::socket::DisconnectReason;
use sockscope_protocol::Direction;

use crate::args::Args;
use crate::auth::Principal;
use crate::socket::{answer, principal_of, publish_now};
use crate::{rooms, Shared};

/// Serves namespace `ns` with the generic behaviour.
pub fn register(io: &SocketIo, ns: &str) -> super::Joined {
    super::serve_ns(io, ns, identify, install)
}

/// A token only when a key is configured (a rejected handshake's `connect_error`
/// says why: missing token, bad signature, expired...).
pub(super) fn identify(
    shared: &Shared,
    auth: &Value,
    headers: &HeaderMap,
) -> crate::Result<Principal> {
    shared.auth.authenticate(auth, headers)
}

fn install(s: &SocketRef, _: &Shared) {
    s.on("subscribe", on_subscribe);
    s.on("unsubscribe", on_unsubscribe);
}

/// What every profile's sockets get: a `connect` record, a recording catch-all for
/// events the profile does not handle, and a `disconnect` record.
pub(super) fn attach(s: &SocketRef, shared: &Shared) {
    let principal = principal_of(s);
    tracing::debug!(socket = %s.id, namespace = s.ns(), user = ?principal.user, tenant = ?principal.tenant, "connected");
    if let Some(user) = &principal.user {
        s.join(rooms::user_room(principal.tenant.as_deref(), user));
    }
    publish_now(s, shared, Direction::C2s, "connect", json!([]));
    s.on_fallback(on_event);
    s.on_disconnect(on_disconnect);
}

async fn on_subscribe(s: SocketRef, args: Args, ack: AckSender, State(shared): State<Arc<Shared>>) {
    let reply = match room_arg(&args.values) {
        Some(room) => {
            let principal = principal_of(&s);
            s.join(rooms::client_room(principal.tenant.as_deref(), room));
            json!({ "ok": true, "room": room })
        }
        None => json!({ "ok": false, "error": "subscribe expects {room: string}" }),
    };
    answer(&s, &shared, "subscribe", args, ack, reply);
}

async fn on_unsubscribe(
    s: SocketRef,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let reply = match room_arg(&args.values) {
        Some(room) => {
            let principal = principal_of(&s);
            s.leave(rooms::client_room(principal.tenant.as_deref(), room));
            json!({ "ok": true, "room": room })
        }
        None => json!({ "ok": false, "error": "unsubscribe expects {room: string}" }),
    };
    answer(&s, &shared, "unsubscribe", args, ack, reply);
}

async fn on_event(
    s: SocketRef,
    Event(event): Event,
    args: Args,
    ack: AckSender,
    State(shared): State<Arc<Shared>>,
) {
    let seq_hint = shared.bus.published() + 1;
    answer(
        &s,
        &shared,
        &event,
        args,
        ack,
        json!({ "ok": true, "seq": seq_hint }),
    );
}

async fn on_disconnect(s: SocketRef, reason: DisconnectReason, State(shared): State<Arc<Shared>>) {
    publish_now(
        &s,
        &shared,
        Direction::C2s,
        "disconnect",
        json!([reason.to_string()]),
    );
}

/// `{room: "x"}` or `"x"` as the first argument.
fn room_arg(args: &Value) -> Option<&str> {
    let first = args.get(0)?;
    first
        .as_str()
        .or_else(|| first.get("room").and_then(Value::as_str))
        .filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_arg_accepts_object_or_string() {
        assert_eq!(room_arg(&json!([{"room": "a"}])), Some("a"));
        assert_eq!(room_arg(&json!(["b"])), Some("b"));
        assert_eq!(room_arg(&json!([{"room": ""}])), None);
        assert_eq!(room_arg(&json!([])), None);
        assert_eq!(room_arg(&json!([42])), None);
    }
}
