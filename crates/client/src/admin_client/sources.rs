//! Tenant audits of sources other than a live admin connection: the embedded
//! gateway's own inspection snapshot (`GET /inspect`) and a recorded session.
//!
//! Why: the leaks [`super::tenants`] looks for (a socket in another tenant's room, a
//! room shared by tenants, an event carrying another tenant's id) matter just as much
//! in the gateway Sockscope hosts and, after the fact, in a recording, where a
//! delivered event is evidence that a live snapshot can no longer show. Both are
//! folded into the same [`AdminSnapshot`] shape so one audit serves every source.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sockscope_protocol::{Direction, EventRecord, InspectSnapshot};

use super::model::{AdminSnapshot, SocketInfo};
use super::tenants::{self, Finding, RoomPattern, TenantReport};

/// The room pattern of Sockscope's gateway (and the seeds'): `tenant:{id}:...`.
pub const GATEWAY_TENANT_ROOMS: &str = "tenant:{tenant}:*";

/// At most this many payload findings are kept from one session (each is also
/// deduplicated by socket, event and tenant named).
const MAX_PAYLOAD_FINDINGS: usize = 1000;

fn socket(
    namespace: &str,
    id: &str,
    tenant: Option<&str>,
    user: Option<&str>,
    rooms: BTreeSet<String>,
) -> SocketInfo {
    let mut data = serde_json::Map::new();
    if let Some(t) = tenant {
        data.insert("tenantId".into(), json!(t));
    }
    if let Some(u) = user {
        data.insert("user".into(), json!(u));
    }
    SocketInfo {
        id: id.to_owned(),
        namespace: namespace.to_owned(),
        client_id: None,
        transport: None,
        address: None,
        rooms,
        data: Value::Object(data),
        headers: Value::Null,
        query: Value::Null,
    }
}

fn snapshot(sockets: Vec<SocketInfo>) -> AdminSnapshot {
    AdminSnapshot {
        mode: "development",
        features: Vec::new(),
        servers: Vec::new(),
        namespaces: Vec::new(),
        rooms: Vec::new(),
        sockets,
    }
}

/// The embedded gateway's snapshot as an admin snapshot: each socket's tenant
/// (from its verified or read claims) becomes `data.tenantId`.
pub fn from_inspect(snap: &InspectSnapshot) -> AdminSnapshot {
    let mut sockets = Vec::new();
    for ns in &snap.namespaces {
        for s in &ns.sockets {
            sockets.push(socket(
                &ns.name,
                &s.id,
                s.tenant.as_deref(),
                s.user.as_deref(),
                s.rooms.iter().cloned().collect(),
            ));
        }
    }
    snapshot(sockets)
}

/// One socket as a recording saw it.
#[derive(Default)]
struct Seen {
    tenant: Option<String>,
    user: Option<String>,
    /// Every room it was ever seen in.
    ever: BTreeSet<String>,
    /// The rooms of its latest record: who a room broadcast reached at that point.
    now: BTreeSet<String>,
    connected: bool,
}

/// A recorded session, fed one event at a time in recorded order.
pub struct SessionAudit {
    keys: Vec<String>,
    sockets: BTreeMap<(String, String), Seen>,
    leaks: Vec<Finding>,
    events: u64,
}

impl SessionAudit {
    pub fn new(keys: &[String]) -> Self {
        Self {
            keys: keys.to_vec(),
            sockets: BTreeMap::new(),
            leaks: Vec::new(),
            events: 0,
        }
    }

    /// How many events were read.
    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn add(&mut self, rec: &EventRecord) {
        self.events += 1;
        let ns = rec.namespace.as_str();
        match (&rec.socket_id, rec.direction) {
            (Some(id), dir) => {
                let seen = self.sockets.entry((ns.to_owned(), id.clone())).or_default();
                if seen.tenant.is_none() {
                    seen.tenant = rec.tenant.clone();
                }
                if seen.user.is_none() {
                    seen.user = rec.user.clone();
                }
                // A c2s record carries the rooms the socket was in; so does an emit
                // to one socket.
                seen.now = rec.rooms.iter().cloned().collect();
                seen.ever.extend(seen.now.iter().cloned());
                seen.connected = !(dir == Direction::C2s && rec.event == "disconnect");
                if dir == Direction::S2c {
                    self.check(ns, id.clone(), rec);
                }
            }
            (None, Direction::S2c) => {
                let reached: Vec<String> = self
                    .sockets
                    .iter()
                    .filter(|((n, _), s)| {
                        n == ns
                            && s.connected
                            && (rec.rooms.is_empty() || rec.rooms.iter().any(|r| s.now.contains(r)))
                    })
                    .map(|((_, id), _)| id.clone())
                    .collect();
                for id in reached {
                    self.check(ns, id, rec);
                }
            }
            (None, Direction::C2s) => {}
        }
    }

    /// A payload leak, if the event delivered to socket `id` names another tenant.
    fn check(&mut self, ns: &str, id: String, rec: &EventRecord) {
        if self.leaks.len() >= MAX_PAYLOAD_FINDINGS {
            return;
        }
        let Some(own) = self
            .sockets
            .get(&(ns.to_owned(), id.clone()))
            .and_then(|s| s.tenant.clone())
        else {
            return;
        };
        if let Some(f) = tenants::payload_leak(ns, &id, &own, &rec.event, &rec.args, &self.keys) {
            if !self.leaks.contains(&f) {
                self.leaks.push(f);
            }
        }
    }

    /// Memberships over the whole session (every room each socket was seen in), then
    /// the payload leaks.
    pub fn finish(self, pattern: Option<&RoomPattern>) -> TenantReport {
        let sockets = self
            .sockets
            .into_iter()
            .map(|((ns, id), s)| socket(&ns, &id, s.tenant.as_deref(), s.user.as_deref(), s.ever))
            .collect();
        let mut report = tenants::audit(&snapshot(sockets), &self.keys, pattern);
        report.findings.extend(self.leaks);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_test_support::Event;

    fn keys() -> Vec<String> {
        vec!["tenantId".to_owned()]
    }

    fn rec(
        dir: Direction,
        event: &str,
        socket: Option<&str>,
        tenant: Option<&str>,
        rooms: &[&str],
        args: Value,
    ) -> EventRecord {
        Event::new(event, args)
            .direction(dir)
            .socket(socket)
            .tenant(tenant)
            .rooms(rooms.iter().copied())
            .build()
    }

    fn session(plant: bool) -> TenantReport {
        let mut a = SessionAudit::new(&keys());
        a.add(&rec(
            Direction::C2s,
            "connect",
            Some("a"),
            Some("acme"),
            &["tenant:acme:room:x"],
            json!([]),
        ));
        let b_rooms: &[&str] = if plant {
            &["tenant:globex:room:x", "tenant:acme:room:x"]
        } else {
            &["tenant:globex:room:x"]
        };
        a.add(&rec(
            Direction::C2s,
            "ping",
            Some("b"),
            Some("globex"),
            b_rooms,
            json!([]),
        ));
        a.add(&rec(
            Direction::S2c,
            "order",
            None,
            Some("acme"),
            &["tenant:acme:room:x"],
            json!([{"tenantId": "acme"}]),
        ));
        let p = RoomPattern::parse(GATEWAY_TENANT_ROOMS).unwrap();
        a.finish(Some(&p))
    }

    #[test]
    fn a_clean_session_has_no_findings() {
        let r = session(false);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.tenants["acme"], vec!["/ a"]);
    }

    #[test]
    fn a_planted_membership_shows_in_rooms_and_deliveries() {
        let lines: Vec<String> = session(true).findings.iter().map(Finding::line).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("socket b of tenant globex is in room tenant:acme:room:x")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("socket b of tenant globex received order naming tenant acme")),
            "{lines:?}"
        );
    }

    #[test]
    fn the_gateway_snapshot_maps_tenants_to_data() {
        let snap: InspectSnapshot = serde_json::from_value(json!({"namespaces": [{"name": "/", "rooms": [], "sockets": [
            {"id": "s1", "tenant": "acme", "user": "ann", "rooms": ["tenant:acme:room:x"], "transport": "websocket", "connected_at": 0, "events_in": 0, "events_out": 0}
        ]}]}))
        .unwrap();
        let a = from_inspect(&snap);
        assert_eq!(
            a.sockets[0].data,
            json!({"tenantId": "acme", "user": "ann"})
        );
    }
}
