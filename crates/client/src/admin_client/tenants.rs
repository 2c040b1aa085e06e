//! Tenants, beyond what the Admin UI shows: sockets grouped by the tenant named in
//! their `socket.data` and by the tenant rooms they are in, and the memberships that
//! cross tenants.
//!
//! Why: multi-tenant gateways (the seeds') isolate tenants by room naming
//! (`tenant:{id}:...`). A socket that ends up in another tenant's room receives that
//! tenant's events, which is a data leak no server log shows. This audit reads the
//! admin model only, so it works on any instrumented gateway.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::model::{AdminSnapshot, SocketInfo};

/// A room-name pattern naming a tenant: `*` matches anything, `{tenant}` captures
/// the tenant id (non-empty, shortest match), e.g. `tenant:{tenant}:*` or `{tenant}-*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomPattern {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Star,
    Tenant,
}

/// A pattern without exactly one `{tenant}`.
#[derive(Debug, thiserror::Error)]
#[error("invalid tenant room pattern {0:?}: it needs exactly one {{tenant}}, e.g. 'tenant:{{tenant}}:*'")]
pub struct BadPattern(pub String);

impl RoomPattern {
    pub fn parse(pattern: &str) -> Result<Self, BadPattern> {
        if pattern.matches("{tenant}").count() != 1 {
            return Err(BadPattern(pattern.to_owned()));
        }
        let mut parts = Vec::new();
        for (i, chunk) in pattern.split("{tenant}").enumerate() {
            if i > 0 {
                parts.push(Part::Tenant);
            }
            for (j, lit) in chunk.split('*').enumerate() {
                if j > 0 {
                    parts.push(Part::Star);
                }
                if !lit.is_empty() {
                    parts.push(Part::Lit(lit.to_owned()));
                }
            }
        }
        Ok(Self { parts })
    }

    /// The tenant `room` names, if it matches.
    pub fn tenant_of(&self, room: &str) -> Option<String> {
        let mut tenant = None;
        matches(&self.parts, room, &mut tenant)
            .then_some(tenant)
            .flatten()
    }
}

fn matches(parts: &[Part], s: &str, tenant: &mut Option<String>) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return s.is_empty();
    };
    match first {
        Part::Lit(l) => s
            .strip_prefix(l.as_str())
            .is_some_and(|tail| matches(rest, tail, tenant)),
        Part::Star | Part::Tenant => {
            let min = usize::from(*first == Part::Tenant);
            for (i, _) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
                if i < min {
                    continue;
                }
                if matches(rest, &s[i..], tenant) {
                    if *first == Part::Tenant {
                        *tenant = Some(s[..i].to_owned());
                    }
                    return true;
                }
            }
            false
        }
    }
}

/// The socket's tenant from the first of `keys` (dotted paths allowed) in its data.
pub fn data_tenant(data: &Value, keys: &[String]) -> Option<String> {
    keys.iter().find_map(|k| {
        let v = k.split('.').try_fold(data, |v, seg| v.get(seg))?;
        match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    })
}

/// One cross-tenant membership.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// A socket is in tenant rooms of more than one tenant.
    SocketInManyTenants {
        namespace: String,
        socket: String,
        tenants: Vec<String>,
        rooms: Vec<String>,
    },
    /// A socket of one tenant (by its data) is in a room of another (by its name).
    ForeignRoom {
        namespace: String,
        socket: String,
        socket_tenant: String,
        room: String,
        room_tenant: String,
    },
    /// A room holds sockets of more than one tenant (by their data).
    SharedRoom {
        namespace: String,
        room: String,
        tenants: Vec<String>,
    },
    /// An event delivered to a socket of one tenant names another tenant's id.
    PayloadLeak {
        namespace: String,
        socket: String,
        socket_tenant: String,
        event: String,
        payload_tenant: String,
    },
}

impl Finding {
    pub fn line(&self) -> String {
        match self {
            Finding::SocketInManyTenants {
                namespace,
                socket,
                tenants,
                rooms,
            } => format!(
                "LEAK {namespace} socket {socket} is in rooms of tenants {} ({})",
                tenants.join(", "),
                rooms.join(", ")
            ),
            Finding::ForeignRoom {
                namespace,
                socket,
                socket_tenant,
                room,
                room_tenant,
            } => format!(
                "LEAK {namespace} socket {socket} of tenant {socket_tenant} is in room {room} of tenant {room_tenant}"
            ),
            Finding::SharedRoom {
                namespace,
                room,
                tenants,
            } => format!(
                "LEAK {namespace} room {room} is shared by tenants {}",
                tenants.join(", ")
            ),
            Finding::PayloadLeak {
                namespace,
                socket,
                socket_tenant,
                event,
                payload_tenant,
            } => format!(
                "LEAK {namespace} socket {socket} of tenant {socket_tenant} received {event} naming tenant {payload_tenant}"
            ),
        }
    }
}

/// Sockets grouped by tenant, and the findings.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TenantReport {
    /// tenant → `namespace socket-id` of its sockets (by data, else by tenant rooms).
    pub tenants: BTreeMap<String, Vec<String>>,
    /// Sockets no tenant could be found for.
    pub untenanted: Vec<String>,
    pub findings: Vec<Finding>,
}

/// Audits `snap`: tenants from `keys` in `socket.data` and from `pattern` in room
/// names.
pub fn audit(snap: &AdminSnapshot, keys: &[String], pattern: Option<&RoomPattern>) -> TenantReport {
    let mut tenants: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut untenanted = Vec::new();
    let mut findings = Vec::new();
    // (namespace, room) → tenants of its members (by data).
    let mut room_members: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for s in &snap.sockets {
        let label = format!("{} {}", s.namespace, s.id);
        let own = data_tenant(&s.data, keys);
        let by_room = room_tenants(s, pattern);
        let room_set: BTreeSet<&String> = by_room.values().collect();
        match own.clone().or_else(|| {
            (room_set.len() == 1)
                .then(|| room_set.iter().next().map(|t| (*t).clone()))
                .flatten()
        }) {
            Some(t) => tenants.entry(t).or_default().push(label),
            None => untenanted.push(label),
        }
        if room_set.len() > 1 {
            findings.push(Finding::SocketInManyTenants {
                namespace: s.namespace.clone(),
                socket: s.id.clone(),
                tenants: room_set.iter().map(|t| (*t).clone()).collect(),
                rooms: by_room.keys().cloned().collect(),
            });
        }
        if let Some(own) = &own {
            for (room, t) in &by_room {
                if t != own {
                    findings.push(Finding::ForeignRoom {
                        namespace: s.namespace.clone(),
                        socket: s.id.clone(),
                        socket_tenant: own.clone(),
                        room: room.clone(),
                        room_tenant: t.clone(),
                    });
                }
            }
            for room in s.rooms.iter().filter(|r| **r != s.id) {
                room_members
                    .entry((s.namespace.clone(), room.clone()))
                    .or_default()
                    .insert(own.clone());
            }
        }
    }
    for ((namespace, room), ts) in room_members {
        if ts.len() > 1 {
            findings.push(Finding::SharedRoom {
                namespace,
                room,
                tenants: ts.into_iter().collect(),
            });
        }
    }
    TenantReport {
        tenants,
        untenanted,
        findings,
    }
}

/// Tenant ids a payload names: values (any depth) under a key equal to the last
/// segment of one of `keys` (`tenantId`, `user.org` → `org`, ...).
pub fn payload_tenants(payload: &Value, keys: &[String]) -> BTreeSet<String> {
    let names: Vec<&str> = keys
        .iter()
        .map(|k| k.rsplit('.').next().unwrap_or(k))
        .collect();
    let mut found = BTreeSet::new();
    collect(payload, &names, &mut found);
    found
}

fn collect(v: &Value, names: &[&str], found: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                if names.contains(&k.as_str()) {
                    match val {
                        Value::String(s) if !s.is_empty() => {
                            found.insert(s.clone());
                        }
                        Value::Number(n) => {
                            found.insert(n.to_string());
                        }
                        _ => {}
                    }
                }
                collect(val, names, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect(i, names, found)),
        _ => {}
    }
}

/// The finding for an event delivered to a socket of `socket_tenant`, if its
/// payload names another tenant.
pub fn payload_leak(
    namespace: &str,
    socket: &str,
    socket_tenant: &str,
    event: &str,
    payload: &Value,
    keys: &[String],
) -> Option<Finding> {
    payload_tenants(payload, keys)
        .into_iter()
        .find(|t| t != socket_tenant)
        .map(|payload_tenant| Finding::PayloadLeak {
            namespace: namespace.to_owned(),
            socket: socket.to_owned(),
            socket_tenant: socket_tenant.to_owned(),
            event: event.to_owned(),
            payload_tenant,
        })
}

/// room → tenant, for the socket's rooms that match `pattern`.
fn room_tenants(s: &SocketInfo, pattern: Option<&RoomPattern>) -> BTreeMap<String, String> {
    let Some(p) = pattern else {
        return BTreeMap::new();
    };
    s.rooms
        .iter()
        .filter_map(|r| p.tenant_of(r).map(|t| (r.clone(), t)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin_client::model::Model;
    use serde_json::json;
    use std::time::Instant;

    #[test]
    fn patterns_capture_the_tenant() {
        let p = RoomPattern::parse("tenant:{tenant}:*").unwrap();
        assert_eq!(p.tenant_of("tenant:acme:lobby").as_deref(), Some("acme"));
        assert_eq!(p.tenant_of("tenant:acme:").as_deref(), Some("acme"));
        assert_eq!(p.tenant_of("tenant::x"), None);
        assert_eq!(p.tenant_of("room:acme:lobby"), None);
        let p = RoomPattern::parse("{tenant}-*").unwrap();
        assert_eq!(p.tenant_of("globex-orders").as_deref(), Some("globex"));
        assert_eq!(p.tenant_of("plain"), None);
        assert!(RoomPattern::parse("tenant:*").is_err());
        assert!(RoomPattern::parse("{tenant}{tenant}").is_err());
    }

    #[test]
    fn data_tenant_reads_dotted_paths_and_numbers() {
        let keys = vec!["user.org".to_owned(), "spaceId".to_owned()];
        assert_eq!(
            data_tenant(&json!({"user": {"org": "o1"}}), &keys).as_deref(),
            Some("o1")
        );
        assert_eq!(
            data_tenant(&json!({"spaceId": 7}), &keys).as_deref(),
            Some("7")
        );
        assert_eq!(data_tenant(&json!({"other": 1}), &keys), None);
    }

    fn snap(sockets: &[(&str, &str, &[&str])]) -> AdminSnapshot {
        let mut m = Model::default();
        let now = Instant::now();
        m.apply(
            "config",
            &[json!({"supportedFeatures": ["ALL_EVENTS"]})],
            now,
        );
        let all: Vec<Value> = sockets
            .iter()
            .map(|(id, t, rooms)| {
                let mut r: Vec<&str> = vec![id];
                r.extend(rooms.iter());
                json!({"id": id, "nsp": "/chat", "data": {"tenantId": t}, "rooms": r})
            })
            .collect();
        m.apply("all_sockets", &[json!(all)], now);
        m.snapshot(now)
    }

    #[test]
    fn payloads_naming_another_tenant_are_leaks() {
        let keys = vec!["tenantId".to_owned(), "user.org".to_owned()];
        let own = json!([{"tenantId": "acme", "rows": [{"org": "acme"}]}]);
        assert_eq!(payload_leak("/", "s", "acme", "e", &own, &keys), None);
        let other = json!([{"rows": [{"org": "globex", "v": 1}]}]);
        let f = payload_leak("/", "s", "acme", "rows", &other, &keys).unwrap();
        assert_eq!(
            f.line(),
            "LEAK / socket s of tenant acme received rows naming tenant globex"
        );
        // A tenant id under an unrelated key is not a finding.
        assert_eq!(
            payload_leak("/", "s", "acme", "e", &json!([{"name": "globex"}]), &keys),
            None
        );
    }

    #[test]
    fn clean_tenants_have_no_findings() {
        let s = snap(&[
            ("a", "acme", &["tenant:acme:lobby"]),
            ("b", "globex", &["tenant:globex:lobby"]),
        ]);
        let keys = vec!["tenantId".to_owned()];
        let p = RoomPattern::parse("tenant:{tenant}:*").unwrap();
        let r = audit(&s, &keys, Some(&p));
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.tenants["acme"], vec!["/chat a"]);
        assert_eq!(r.tenants["globex"], vec!["/chat b"]);
    }

    #[test]
    fn a_planted_membership_is_reported_three_ways() {
        let s = snap(&[
            ("a", "acme", &["tenant:acme:lobby"]),
            ("b", "globex", &["tenant:globex:lobby", "tenant:acme:lobby"]),
        ]);
        let keys = vec!["tenantId".to_owned()];
        let p = RoomPattern::parse("tenant:{tenant}:*").unwrap();
        let r = audit(&s, &keys, Some(&p));
        let lines: Vec<String> = r.findings.iter().map(Finding::line).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("socket b is in rooms of tenants acme, globex"));
        assert!(lines[1]
            .contains("socket b of tenant globex is in room tenant:acme:lobby of tenant acme"));
        assert!(lines[2].contains("room tenant:acme:lobby is shared by tenants acme, globex"));
        // Without a room pattern only the shared room is visible.
        assert_eq!(audit(&s, &keys, None).findings.len(), 1);
    }
}
