//! What every profile does with a connected socket: know who it is, record what it
//! sends, answer acks, and emit to it or to a room while publishing each emit on the
//! bus. Profiles compose these instead of touching the bus directly.
//!
//! Every record about one socket goes through that socket's [`Order`], so the bus
//! sees them in the order they crossed the gateway (see [`crate::order`]).

use std::sync::atomic::Ordering;

use crate::{AckSender, SocketRef};
use serde::Serialize;
use serde_json::{json, Value};
use sockscope_protocol::{AckInfo, Direction, EventRecord};

use crate::args::Args;
use crate::auth::Principal;
use crate::{Shared, SOURCE};
use sockscope_bus::{self as bus, Bus};

pub fn principal_of(s: &SocketRef) -> Principal {
    s.extensions.get::<Principal>().unwrap_or_default()
}

pub use crate::stats::{stats_of, Stats};

/// Counts one event out to each of `sockets`.
pub fn count_out(sockets: &[SocketRef]) {
    for s in sockets {
        if let Some(st) = stats_of(s) {
            st.events_out.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A record about socket `s`, carrying its identity and current rooms.
pub fn socket_record(s: &SocketRef, direction: Direction, event: &str, args: Value) -> EventRecord {
    let principal = principal_of(s);
    if let Some(st) = stats_of(s) {
        let counter = match direction {
            Direction::C2s => &st.events_in,
            Direction::S2c => &st.events_out,
        };
        if !matches!(event, "connect" | "disconnect") {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut rec = bus::record(SOURCE, direction, s.ns(), event, args);
    rec.socket_id = Some(s.id.to_string());
    rec.rooms = s.rooms().into_iter().map(|r| r.to_string()).collect();
    rec.rooms.sort();
    rec.tenant = principal.tenant;
    rec.user = principal.user;
    rec
}

/// Publishes a record about socket `s` now, in the socket's order (its `connect`
/// and `disconnect`).
pub fn publish_now(s: &SocketRef, shared: &Shared, direction: Direction, event: &str, args: Value) {
    let rec = || socket_record(s, direction, event, args);
    match stats_of(s) {
        Some(st) => st.order.push(&shared.bus, || ((), Some(rec()))),
        None => {
            shared.bus.publish(rec());
        }
    }
}

/// Publishes a client event and, when the client asked for an ack, sends `reply`.
/// The record takes the place in the socket's order that the event got when it was
/// read (`args.slot`), so it may wait for the socket's earlier events.
pub fn answer(
    s: &SocketRef,
    shared: &Shared,
    event: &str,
    mut args: Args,
    ack: AckSender,
    reply: Value,
) {
    let slot = args.slot.take();
    let mut rec = socket_record(s, Direction::C2s, event, args.values);
    if let Some(id) = args.ack_id {
        if let Err(error) = ack.send(&reply) {
            tracing::warn!(socket = %s.id, event, %error, "ack not sent");
        }
        rec.ack = Some(AckInfo {
            id: u64::try_from(id).ok(),
            reply: Some(reply),
            latency_us: None,
        });
    }
    match slot {
        Some(slot) => slot.publish(rec),
        None => {
            shared.bus.publish(rec);
        }
    }
}

/// For events that need string field `field` in their first argument: acks
/// `{ok: true, <field>: value}` and returns the value with the first argument, or acks
/// `{ok: false, error: "<event> needs <field>"}` and returns `None`. The event is
/// published either way.
pub fn require_field(
    s: &SocketRef,
    shared: &Shared,
    event: &str,
    field: &str,
    args: Args,
    ack: AckSender,
) -> Option<(String, Value)> {
    let first = args.values.get(0).cloned().unwrap_or(Value::Null);
    match str_field(&args.values, field).map(str::to_owned) {
        Some(value) => {
            answer(
                s,
                shared,
                event,
                args,
                ack,
                json!({ "ok": true, field: value }),
            );
            Some((value, first))
        }
        None => {
            let error = format!("{event} needs {field}");
            answer(
                s,
                shared,
                event,
                args,
                ack,
                json!({ "ok": false, "error": error }),
            );
            None
        }
    }
}

/// Emits `event(data)` to socket `s` alone and publishes it. The emit and the
/// record's place in the socket's order are one step, so records are in emit order.
pub fn emit_to<T: Serialize + ?Sized>(s: &SocketRef, shared: &Shared, event: &str, data: &T) {
    let sent = in_order(
        s,
        &shared.bus,
        event,
        || s.emit(event, data),
        || json!([serde_json::to_value(data).unwrap_or(Value::Null)]),
    );
    match sent {
        Ok(()) => {}
        Err(socketioxide::SendError::Socket(socketioxide::SocketError::Closed)) => {
            emit_when_connected(s, shared, event, data);
        }
        Err(error) => tracing::debug!(socket = %s.id, event, %error, "emit to socket failed"),
    }
}

/// Runs `emit` and, when it succeeds, queues its s2c record in the socket's order,
/// as one step.
fn in_order(
    s: &SocketRef,
    bus: &Bus,
    event: &str,
    emit: impl FnOnce() -> Result<(), socketioxide::SendError>,
    args: impl FnOnce() -> Value,
) -> Result<(), socketioxide::SendError> {
    let act = || {
        let sent = emit();
        let rec = sent
            .is_ok()
            .then(|| socket_record(s, Direction::S2c, event, args()));
        (sent, rec)
    };
    match stats_of(s) {
        Some(st) => st.order.push(bus, act),
        None => {
            let (sent, rec) = act();
            if let Some(rec) = rec {
                bus.publish(rec);
            }
            sent
        }
    }
}

/// socketioxide sends a namespace's CONNECT packet before it marks the socket
/// connected, and handles the client's next packets meanwhile: a client that emits
/// the moment it is connected (what the seeds' front ends do) can reach a handler
/// whose reply `emit` then fails as `Closed`. Seen under load from the simulator
/// (about 3 in 200 fast clients lost `dashboard:initial`). Retry briefly until the
/// socket is marked connected; a socket that really closed is given up on.
fn emit_when_connected<T: Serialize + ?Sized>(
    s: &SocketRef,
    shared: &Shared,
    event: &str,
    data: &T,
) {
    let s = s.clone();
    let bus = shared.bus.clone();
    let event = event.to_owned();
    let data = serde_json::to_value(data).unwrap_or(Value::Null);
    tokio::spawn(async move {
        for _ in 0..50 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            if !s.connected() {
                continue;
            }
            let sent = in_order(&s, &bus, &event, || s.emit(&event, &data), || json!([data]));
            if let Err(error) = sent {
                tracing::debug!(socket = %s.id, event, %error, "emit to socket failed");
            }
            return;
        }
        tracing::debug!(socket = %s.id, event, "emit to socket failed: closed");
    });
}

/// Emits `event(data)` to every socket in `room` of namespace `ns` — on every node
/// when the gateway is clustered — and publishes it once, in broadcast order.
/// Returns how many sockets it was addressed to.
pub async fn emit_to_room<T: Serialize + ?Sized>(
    shared: &Shared,
    ns: &str,
    room: &str,
    tenant: Option<&str>,
    event: &str,
    data: &T,
) -> usize {
    room_emit(shared, ns, room, tenant, event, data, true).await
}

/// [`emit_to_room`] for this node's sockets only: what a profile's timers use (a
/// metric ticker, a simulated workflow run), since every node runs its own for its
/// own subscribers and a cluster-wide emit would deliver each tick once per node.
pub async fn emit_to_room_here<T: Serialize + ?Sized>(
    shared: &Shared,
    ns: &str,
    room: &str,
    tenant: Option<&str>,
    event: &str,
    data: &T,
) -> usize {
    room_emit(shared, ns, room, tenant, event, data, false).await
}

async fn room_emit<T: Serialize + ?Sized>(
    shared: &Shared,
    ns: &str,
    room: &str,
    tenant: Option<&str>,
    event: &str,
    data: &T,
    everywhere: bool,
) -> usize {
    let Some(op) = shared.io().and_then(|io| io.of(ns)) else {
        return 0;
    };
    let target = op.to(room.to_owned());
    let target = if everywhere {
        shared.scope(target)
    } else {
        target.local()
    };
    let _turn = shared.state.broadcasts.lock().await;
    let (sockets, recipients) = match shared.broadcast_counted(&target, event, data).await {
        Ok(sent) => sent,
        Err(error) => {
            tracing::debug!(namespace = ns, room, event, %error, "room emit failed");
            return 0;
        }
    };
    let mut rec = bus::record(
        SOURCE,
        Direction::S2c,
        ns,
        event,
        json!([serde_json::to_value(data).unwrap_or(Value::Null)]),
    );
    rec.rooms = vec![room.to_owned()];
    rec.tenant = tenant.map(str::to_owned);
    shared.bus.publish(rec);
    count_out(&sockets);
    recipients
}

/// Emits `event(data)` to every socket of namespace `ns` (on every node when
/// clustered) and publishes it once, in broadcast order.
pub async fn emit_to_all<T: Serialize + ?Sized>(
    shared: &Shared,
    ns: &str,
    event: &str,
    data: &T,
) -> usize {
    let Some(op) = shared.io().and_then(|io| io.of(ns)) else {
        return 0;
    };
    let target = shared.scope(op);
    let _turn = shared.state.broadcasts.lock().await;
    let (sockets, recipients) = match shared.broadcast_counted(&target, event, data).await {
        Ok(sent) => sent,
        Err(error) => {
            tracing::debug!(namespace = ns, event, %error, "broadcast failed");
            return 0;
        }
    };
    count_out(&sockets);
    shared.bus.publish(bus::record(
        SOURCE,
        Direction::S2c,
        ns,
        event,
        json!([serde_json::to_value(data).unwrap_or(Value::Null)]),
    ));
    recipients
}

/// How many sockets of namespace `ns` are in `room` on this node right now.
pub fn room_size(shared: &Shared, ns: &str, room: &str) -> usize {
    shared
        .io()
        .and_then(|io| io.of(ns))
        .map(|op| op.to(room.to_owned()).local().sockets().len())
        .unwrap_or(0)
}

/// Field `name` of the first argument as a non-empty string.
pub fn str_field<'a>(args: &'a Value, name: &str) -> Option<&'a str> {
    args.get(0)?.get(name)?.as_str().filter(|v| !v.is_empty())
}

pub use sockscope_protocol::time::iso8601;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_field_reads_the_first_argument() {
        let a = json!([{"runId": "r1", "n": 2, "e": ""}]);
        assert_eq!(str_field(&a, "runId"), Some("r1"));
        assert_eq!(str_field(&a, "n"), None);
        assert_eq!(str_field(&a, "e"), None);
        assert_eq!(str_field(&json!([]), "runId"), None);
    }
}
