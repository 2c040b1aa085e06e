//! Snapshots of who is connected where: namespaces -> rooms -> sockets, with each
//! socket's user and tenant. Fed to `GET /inspect`, the CLI and the Inspector panel.
//!
//! A clustered gateway adds the other nodes' sockets, asked for over Redis. The
//! adapter tells only a remote socket's id and node, and which sockets are in a
//! room; so a remote socket's rooms come from asking each room for its members, and
//! its user and tenant are read from those rooms (the gateway's room names carry
//! the tenant scope and the user's personal room).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sockscope_protocol::{InspectSnapshot, NamespaceInfo, RoomInfo, SocketInfo};

use std::sync::atomic::{AtomicU64, Ordering};

use crate::auth::Principal;
use crate::rooms::{self, Kind};
use crate::stats::{stats_of, Stats};
use crate::SocketIo;

/// At most this many rooms are asked for their remote members in one snapshot.
const MAX_REMOTE_ROOMS: usize = 4096;
/// Room membership questions in flight at once.
const ROOM_QUERIES_IN_FLIGHT: usize = 32;

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
                node: None,
                data: principal.data,
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

/// Names `node` as the node of every socket of `snap` (this node's snapshot).
pub fn mark_node(snap: &mut InspectSnapshot, node: &str) {
    for ns in &mut snap.namespaces {
        for s in &mut ns.sockets {
            s.node = Some(node.to_owned());
        }
    }
    snap.node = Some(node.to_owned());
    snap.nodes = vec![node.to_owned()];
}

/// The user and tenant that a socket's rooms say it has: the tenant scope of the
/// gateway's rooms, the user of its personal room (steedos: `{space}-{part}@{user}`).
pub fn identity_from_rooms(rooms_of: &[String]) -> (Option<String>, Option<String>) {
    let (mut user, mut tenant) = (None, None);
    for room in rooms_of {
        match rooms::parse(room) {
            Some((t, kind, name)) => {
                if tenant.is_none() {
                    tenant = t.map(str::to_owned);
                }
                if kind == Kind::User && !name.is_empty() {
                    user = Some(name.to_owned());
                }
            }
            None => {
                if let Some((head, u)) = room.rsplit_once('@') {
                    if let Some((space, _)) = head.split_once('-') {
                        user.get_or_insert_with(|| u.to_owned());
                        tenant.get_or_insert_with(|| space.to_owned());
                    }
                }
            }
        }
    }
    (user, tenant)
}

/// Adds the sockets of the cluster's other nodes to `snap` (this node's snapshot,
/// see [`mark_node`]). A namespace whose question fails (Redis gone, a node not
/// answering in time) keeps this node's sockets and is logged.
pub async fn add_remote(
    snap: &mut InspectSnapshot,
    io: &SocketIo,
    namespaces: &[String],
    me: &str,
) {
    use futures_util::StreamExt as _;
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    for ns in namespaces {
        let Some(op) = io.of(ns) else { continue };
        let all = match op.clone().fetch_sockets().await {
            Ok(all) => all,
            Err(error) => {
                tracing::warn!(namespace = %ns, %error, "cannot list the other nodes' sockets");
                continue;
            }
        };
        let remote: HashMap<String, String> = all
            .into_iter()
            .map(|s| s.into_data())
            .filter(|d| d.server_id.to_string() != me)
            .map(|d| (d.id.to_string(), d.server_id.to_string()))
            .collect();
        if remote.is_empty() {
            continue;
        }
        let room_names: Vec<String> = match op.clone().rooms().await {
            Ok(r) => r.into_iter().map(|r| r.to_string()).collect(),
            Err(error) => {
                tracing::warn!(namespace = %ns, %error, "cannot list the cluster's rooms");
                Vec::new()
            }
        };
        let members: Vec<(String, Vec<String>)> = futures_util::stream::iter(
            room_names.into_iter().take(MAX_REMOTE_ROOMS),
        )
        .map(|name: String| {
            let op = op.clone();
            async move {
                let ids = match op.to(name.clone()).fetch_sockets().await {
                    Ok(socks) => socks
                        .into_iter()
                        .map(|s| s.into_data().id.to_string())
                        .collect(),
                    Err(error) => {
                        tracing::debug!(room = %name, %error, "cannot list a room's members");
                        Vec::new()
                    }
                };
                (name, ids)
            }
        })
        .buffer_unordered(ROOM_QUERIES_IN_FLIGHT)
        .collect()
        .await;
        let mut rooms_of: HashMap<&str, Vec<String>> = HashMap::new();
        for (room, ids) in &members {
            for id in ids {
                if remote.contains_key(id) {
                    rooms_of.entry(id.as_str()).or_default().push(room.clone());
                }
            }
        }
        let Some(info) = snap.namespaces.iter_mut().find(|n| &n.name == ns) else {
            continue;
        };
        let mut room_map: BTreeMap<String, Vec<String>> =
            info.rooms.drain(..).map(|r| (r.name, r.sockets)).collect();
        for (id, node) in &remote {
            let mut socket_rooms = rooms_of.remove(id.as_str()).unwrap_or_default();
            socket_rooms.sort();
            for r in &socket_rooms {
                room_map.entry(r.clone()).or_default().push(id.clone());
            }
            let (user, tenant) = identity_from_rooms(&socket_rooms);
            nodes.insert(node.clone());
            info.sockets.push(SocketInfo {
                id: id.clone(),
                user,
                tenant,
                rooms: socket_rooms,
                transport: String::new(),
                connected_at: 0,
                events_in: 0,
                events_out: 0,
                node: Some(node.clone()),
                data: Default::default(),
            });
        }
        info.sockets.sort_by(|a, b| a.id.cmp(&b.id));
        info.rooms = room_map
            .into_iter()
            .map(|(name, mut sockets)| {
                sockets.sort();
                RoomInfo { name, sockets }
            })
            .collect();
    }
    snap.nodes.extend(nodes.into_iter().filter(|n| n != me));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_comes_from_the_rooms() {
        let r = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            identity_from_rooms(&r(&["tenant:acme:room:orders", "tenant:acme:user:ann"])),
            (Some("ann".into()), Some("acme".into()))
        );
        assert_eq!(
            identity_from_rooms(&r(&["public:user:bob"])),
            (Some("bob".into()), None)
        );
        assert_eq!(
            identity_from_rooms(&r(&["s1-notification-change@u1", "s1-metadata"])),
            (Some("u1".into()), Some("s1".into()))
        );
        assert_eq!(identity_from_rooms(&r(&["whatever"])), (None, None));
    }
}
