//! Snapshots of who is connected where: namespaces -> rooms -> sockets, with each
//! socket's user and tenant. Fed to `GET /inspect`, the CLI and the Inspector panel.

use std::collections::BTreeMap;

use socketioxide::SocketIo;
use sockscope_protocol::{InspectSnapshot, NamespaceInfo, RoomInfo, SocketInfo};

use crate::gateway::auth::Principal;

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
            sockets.push(SocketInfo {
                id,
                user: principal.user,
                tenant: principal.tenant,
                rooms: socket_rooms,
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
