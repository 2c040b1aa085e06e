//! Snapshots of who is connected where: namespaces -> rooms -> sockets, with each
//! socket's user and tenant. Fed to `GET /inspect`, the CLI and the Inspector panel.

use std::collections::BTreeMap;

use socketioxide::SocketIo;
use sockscope_protocol::{InspectSnapshot, NamespaceInfo, RoomInfo, SocketInfo};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::gateway::auth::Principal;
use crate::gateway::socket::{stats_of, Stats};

/// What `io` serves on `namespaces`, right now. Rooms and sockets are sorted so two
/// snapshots of the same state compare equal.
pub fn snapshot(io: &SocketIo, namespaces: &[String]) -> InspectSnapshot {
    let mut out = InspectSnapshot::default();
    for ns in namespaces {
        let Some(op) = io.of(ns) else { continue };
        let mut rooms: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut sockets = Vec::new();
        for s in op.sockets() {
            let principal = s.extensions.get::<Principal>().unwrap_or_default();
            let id = s.id.to_string();
            let mut socket_rooms: Vec<String> =
                s.rooms().into_iter().map(|r| r.to_string()).collect();
            socket_rooms.sort();
            for r in &socket_rooms {
                rooms.entry(r.clone()).or_default().push(id.clone());
            }
            let stats = stats_of(&s);
            let count = |f: fn(&Stats) -> &AtomicU64| {
                stats.as_ref().map_or(0, |st| f(st).load(Ordering::Relaxed))
            };
            sockets.push(SocketInfo {
                id,
                user: principal.user,
                tenant: principal.tenant,
                rooms: socket_rooms,
                transport: format!("{:?}", s.transport_type()).to_lowercase(),
                connected_at: stats.as_ref().map_or(0, |st| st.connected_at),
                events_in: count(|st| &st.events_in),
                events_out: count(|st| &st.events_out),
            });
        }
        sockets.sort_by(|a, b| a.id.cmp(&b.id));
        out.namespaces.push(NamespaceInfo {
            name: ns.clone(),
            rooms: rooms
                .into_iter()
                .map(|(name, mut sockets)| {
                    sockets.sort();
                    RoomInfo { name, sockets }
                })
                .collect(),
            sockets,
        });
    }
    out
}
