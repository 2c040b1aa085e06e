//! The live model an Admin UI client keeps: what the instrumented gateway has told
//! it so far (`config`, `server_stats`, `all_sockets` and the incremental socket and
//! room events), folded into servers, namespaces, rooms and sockets.
//!
//! It is pure state (no I/O) so every event's effect is unit-tested without a server;
//! [`Model::apply`] returns the [`Change`]s an event made, which is what `watch`
//! prints.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Map, Value};

use sockscope_bus::redact;
pub use sockscope_bus::redact::redact_headers;

/// A server whose last `server_stats` is older than this is reported stale (the
/// admin server sends them every 2 s).
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// How far back `server_stats` aggregated events count towards the rates.
const RATE_WINDOW_SECS: i64 = 10;

/// What the server's `config` says the admin namespace accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Emit,
    Join,
    Leave,
    Disconnect,
}

impl Feature {
    /// The name in the server's `supportedFeatures`.
    pub fn wire(self) -> &'static str {
        match self {
            Feature::Emit => "EMIT",
            Feature::Join => "JOIN",
            Feature::Leave => "LEAVE",
            Feature::Disconnect => "DISCONNECT",
        }
    }
}

/// One instrumented server, from its latest `server_stats`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServerInfo {
    pub id: String,
    pub hostname: String,
    pub pid: u64,
    /// Seconds the server process has run.
    pub uptime: f64,
    pub clients: u64,
    pub polling_clients: u64,
    pub namespaces: Vec<NamespaceCount>,
    /// Packets in plus out per second over the last 10 s of aggregated events.
    pub events_per_sec: f64,
    pub packets_in_per_sec: f64,
    pub packets_out_per_sec: f64,
    pub connections_per_sec: f64,
    /// Milliseconds since its last `server_stats`.
    pub last_seen_ms: u64,
    /// False once no `server_stats` came for [`STALE_AFTER`].
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NamespaceCount {
    pub name: String,
    pub sockets: u64,
}

/// One socket as the admin server serialised it, secrets redacted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SocketInfo {
    pub id: String,
    pub namespace: String,
    pub client_id: Option<String>,
    pub transport: Option<String>,
    pub address: Option<String>,
    pub rooms: BTreeSet<String>,
    pub data: Value,
    pub headers: Value,
    pub query: Value,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoomInfo {
    pub namespace: String,
    pub name: String,
    /// A socket's own room (named after its id).
    pub private: bool,
    pub sockets: Vec<String>,
}

/// Everything known at one instant, as `inspect` prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AdminSnapshot {
    /// `development` (sockets and events are streamed) or `production` (stats only).
    pub mode: &'static str,
    pub features: Vec<String>,
    pub servers: Vec<ServerInfo>,
    pub namespaces: Vec<NamespaceCount>,
    pub rooms: Vec<RoomInfo>,
    pub sockets: Vec<SocketInfo>,
}

/// One change an event made, for `watch`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Config {
        features: Vec<String>,
    },
    Server {
        id: String,
        clients: u64,
    },
    AllSockets {
        count: usize,
    },
    SocketConnected {
        namespace: String,
        id: String,
        transport: Option<String>,
        address: Option<String>,
    },
    SocketUpdated {
        namespace: String,
        id: String,
        fields: Vec<String>,
    },
    SocketDisconnected {
        namespace: String,
        id: String,
        reason: String,
    },
    RoomJoined {
        namespace: String,
        room: String,
        id: String,
    },
    RoomLeft {
        namespace: String,
        room: String,
        id: String,
    },
    /// The admin connection itself closed.
    Closed,
}

impl Change {
    /// One human line.
    pub fn line(&self) -> String {
        match self {
            Change::Config { features } => format!("config features={}", features.join(",")),
            Change::Server { id, clients } => format!("server_stats server={id} clients={clients}"),
            Change::AllSockets { count } => format!("all_sockets count={count}"),
            Change::SocketConnected {
                namespace,
                id,
                transport,
                address,
            } => format!(
                "socket_connected {namespace} socket={id} transport={} address={}",
                transport.as_deref().unwrap_or("?"),
                address.as_deref().unwrap_or("?")
            ),
            Change::SocketUpdated {
                namespace,
                id,
                fields,
            } => format!(
                "socket_updated {namespace} socket={id} fields={}",
                fields.join(",")
            ),
            Change::SocketDisconnected {
                namespace,
                id,
                reason,
            } => format!("socket_disconnected {namespace} socket={id} reason={reason}"),
            Change::RoomJoined {
                namespace,
                room,
                id,
            } => format!("room_joined {namespace} room={room} socket={id}"),
            Change::RoomLeft {
                namespace,
                room,
                id,
            } => format!("room_left {namespace} room={room} socket={id}"),
            Change::Closed => "admin connection closed".to_owned(),
        }
    }
}

struct Server {
    stats: Value,
    received: Instant,
    /// (unix ms, type, count) of aggregated events, pruned to the rate window.
    events: VecDeque<(i64, String, u64)>,
}

/// The state folded from admin events.
#[derive(Default)]
pub struct Model {
    features: Option<Vec<String>>,
    all_sockets_seen: bool,
    servers: BTreeMap<String, Server>,
    /// (namespace, socket id) → socket.
    sockets: BTreeMap<(String, String), SocketInfo>,
}

fn str_at(args: &[Value], i: usize) -> Option<String> {
    args.get(i).and_then(Value::as_str).map(str::to_owned)
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn socket_of(v: &Value) -> Option<SocketInfo> {
    let id = v.get("id")?.as_str()?.to_owned();
    let namespace = v.get("nsp")?.as_str()?.to_owned();
    let handshake = v.get("handshake").cloned().unwrap_or(Value::Null);
    let mut data = v.get("data").cloned().unwrap_or_else(|| json!({}));
    redact(&mut data);
    let mut query = handshake.get("query").cloned().unwrap_or_else(|| json!({}));
    redact(&mut query);
    Some(SocketInfo {
        id,
        namespace,
        client_id: v.get("clientId").and_then(Value::as_str).map(str::to_owned),
        transport: v
            .get("transport")
            .and_then(Value::as_str)
            .map(str::to_owned),
        address: handshake
            .get("address")
            .and_then(Value::as_str)
            .map(str::to_owned),
        rooms: v
            .get("rooms")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        data,
        headers: redact_headers(handshake.get("headers").unwrap_or(&Value::Null)),
        query,
    })
}

impl Model {
    /// Whether `config` arrived (and, in development mode, the first `all_sockets`).
    pub fn synced(&self) -> bool {
        match &self.features {
            None => false,
            Some(_) if self.development() => self.all_sockets_seen,
            Some(_) => true,
        }
    }

    pub fn has_server(&self) -> bool {
        !self.servers.is_empty()
    }

    /// The server streams sockets and events (`ALL_EVENTS` is listed).
    pub fn development(&self) -> bool {
        self.features
            .as_ref()
            .is_some_and(|f| f.iter().any(|x| x == "ALL_EVENTS"))
    }

    pub fn features(&self) -> &[String] {
        self.features.as_deref().unwrap_or(&[])
    }

    pub fn supports(&self, feature: Feature) -> bool {
        self.features().iter().any(|f| f == feature.wire())
    }

    /// The namespace of socket `id`, if known.
    pub fn namespace_of(&self, id: &str) -> Option<&str> {
        self.sockets
            .keys()
            .find(|(_, sid)| sid == id)
            .map(|(ns, _)| ns.as_str())
    }

    /// The namespaces where some socket is in `room`.
    pub fn namespaces_with_room(&self, room: &str) -> BTreeSet<String> {
        self.sockets
            .values()
            .filter(|s| s.rooms.contains(room))
            .map(|s| s.namespace.clone())
            .collect()
    }

    pub fn socket(&self, namespace: &str, id: &str) -> Option<&SocketInfo> {
        self.sockets.get(&(namespace.to_owned(), id.to_owned()))
    }

    /// Folds one admin event in; returns what changed.
    pub fn apply(&mut self, event: &str, args: &[Value], now: Instant) -> Vec<Change> {
        match event {
            "config" => {
                let features: Vec<String> = args
                    .first()
                    .and_then(|c| c.get("supportedFeatures"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                self.features = Some(features.clone());
                vec![Change::Config { features }]
            }
            "server_stats" => {
                let Some(stats) = args.first() else {
                    return vec![];
                };
                let id = stats
                    .get("serverId")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned();
                let server = self.servers.entry(id.clone()).or_insert_with(|| Server {
                    stats: Value::Null,
                    received: now,
                    events: VecDeque::new(),
                });
                for e in stats
                    .get("aggregatedEvents")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let ts = e.get("timestamp").and_then(Value::as_i64).unwrap_or(0);
                    let ty = e.get("type").and_then(Value::as_str).unwrap_or("");
                    server
                        .events
                        .push_back((ts, ty.to_owned(), u64_of(e, "count")));
                }
                if let Some(newest) = server.events.iter().map(|e| e.0).max() {
                    while server
                        .events
                        .front()
                        .is_some_and(|e| e.0 < newest - RATE_WINDOW_SECS * 1000)
                    {
                        server.events.pop_front();
                    }
                }
                server.stats = stats.clone();
                server.received = now;
                vec![Change::Server {
                    id,
                    clients: u64_of(stats, "clientsCount"),
                }]
            }
            "all_sockets" => {
                self.all_sockets_seen = true;
                self.sockets = args
                    .first()
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(socket_of)
                    .map(|s| ((s.namespace.clone(), s.id.clone()), s))
                    .collect();
                vec![Change::AllSockets {
                    count: self.sockets.len(),
                }]
            }
            "socket_connected" => {
                let Some(s) = args.first().and_then(socket_of) else {
                    return vec![];
                };
                let change = Change::SocketConnected {
                    namespace: s.namespace.clone(),
                    id: s.id.clone(),
                    transport: s.transport.clone(),
                    address: s.address.clone(),
                };
                self.sockets.insert((s.namespace.clone(), s.id.clone()), s);
                vec![change]
            }
            "socket_updated" => {
                let Some(u) = args.first() else {
                    return vec![];
                };
                let (Some(id), Some(ns)) = (
                    u.get("id").and_then(Value::as_str),
                    u.get("nsp").and_then(Value::as_str),
                ) else {
                    return vec![];
                };
                let Some(s) = self.sockets.get_mut(&(ns.to_owned(), id.to_owned())) else {
                    return vec![];
                };
                let mut fields = Vec::new();
                if let Some(t) = u.get("transport").and_then(Value::as_str) {
                    s.transport = Some(t.to_owned());
                    fields.push("transport".to_owned());
                }
                if let Some(d) = u.get("data") {
                    let mut d = d.clone();
                    redact(&mut d);
                    s.data = d;
                    fields.push("data".to_owned());
                }
                vec![Change::SocketUpdated {
                    namespace: ns.to_owned(),
                    id: id.to_owned(),
                    fields,
                }]
            }
            "socket_disconnected" => {
                let (Some(ns), Some(id)) = (str_at(args, 0), str_at(args, 1)) else {
                    return vec![];
                };
                self.sockets.remove(&(ns.clone(), id.clone()));
                vec![Change::SocketDisconnected {
                    namespace: ns,
                    id,
                    reason: str_at(args, 2).unwrap_or_default(),
                }]
            }
            "room_joined" | "room_left" => {
                let (Some(ns), Some(room), Some(id)) =
                    (str_at(args, 0), str_at(args, 1), str_at(args, 2))
                else {
                    return vec![];
                };
                let joined = event == "room_joined";
                if let Some(s) = self.sockets.get_mut(&(ns.clone(), id.clone())) {
                    if joined {
                        s.rooms.insert(room.clone());
                    } else {
                        s.rooms.remove(&room);
                    }
                }
                vec![if joined {
                    Change::RoomJoined {
                        namespace: ns,
                        room,
                        id,
                    }
                } else {
                    Change::RoomLeft {
                        namespace: ns,
                        room,
                        id,
                    }
                }]
            }
            _ => vec![],
        }
    }

    /// Everything known, with health judged at `now`.
    pub fn snapshot(&self, now: Instant) -> AdminSnapshot {
        let servers: Vec<ServerInfo> = self
            .servers
            .iter()
            .map(|(id, s)| server_info(id, s, now))
            .collect();
        // Namespaces: the servers' counts summed, plus any seen only through sockets.
        let mut namespaces: BTreeMap<String, u64> = BTreeMap::new();
        for s in &servers {
            for n in &s.namespaces {
                *namespaces.entry(n.name.clone()).or_default() += n.sockets;
            }
        }
        for (ns, _) in self.sockets.keys() {
            namespaces.entry(ns.clone()).or_default();
        }
        let mut rooms: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for s in self.sockets.values() {
            for r in &s.rooms {
                rooms
                    .entry((s.namespace.clone(), r.clone()))
                    .or_default()
                    .push(s.id.clone());
            }
        }
        AdminSnapshot {
            mode: if self.development() {
                "development"
            } else {
                "production"
            },
            features: self.features().to_vec(),
            servers,
            namespaces: namespaces
                .into_iter()
                .map(|(name, sockets)| NamespaceCount { name, sockets })
                .collect(),
            rooms: rooms
                .into_iter()
                .map(|((namespace, name), sockets)| RoomInfo {
                    private: sockets.len() == 1 && sockets[0] == name,
                    namespace,
                    name,
                    sockets,
                })
                .collect(),
            sockets: self.sockets.values().cloned().collect(),
        }
    }
}

fn server_info(id: &str, s: &Server, now: Instant) -> ServerInfo {
    let rate = |ty: &str| {
        let n: u64 = s
            .events
            .iter()
            .filter(|e| e.1 == ty)
            .map(|e| e.2)
            .sum::<u64>();
        n as f64 / RATE_WINDOW_SECS as f64
    };
    let age = now.saturating_duration_since(s.received);
    let (pin, pout) = (rate("packetsIn"), rate("packetsOut"));
    ServerInfo {
        id: id.to_owned(),
        hostname: s
            .stats
            .get("hostname")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        pid: u64_of(&s.stats, "pid"),
        uptime: s.stats.get("uptime").and_then(Value::as_f64).unwrap_or(0.0),
        clients: u64_of(&s.stats, "clientsCount"),
        polling_clients: u64_of(&s.stats, "pollingClientsCount"),
        namespaces: s
            .stats
            .get("namespaces")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|n| NamespaceCount {
                name: n
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                sockets: u64_of(n, "socketsCount"),
            })
            .collect(),
        events_per_sec: pin + pout,
        packets_in_per_sec: pin,
        packets_out_per_sec: pout,
        connections_per_sec: rate("rawConnection"),
        last_seen_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
        healthy: age < STALE_AFTER,
    }
}

/// The event name and arguments of an `event_received` / `event_sent` payload
/// `[nsp, socketId, [event, ...args], timestamp]`.
pub fn relayed_event(args: &[Value]) -> Option<(String, String, String, Value)> {
    let ns = str_at(args, 0)?;
    let id = str_at(args, 1)?;
    let inner = args.get(2)?.as_array()?;
    let event = inner.first()?.as_str()?.to_owned();
    Some((ns, id, event, Value::Array(inner[1..].to_vec())))
}

/// The value at the first of `keys` present in `data` (a tenant id, say), as text.
pub fn first_of(data: &Value, keys: &[&str]) -> Option<String> {
    let map: &Map<String, Value> = data.as_object()?;
    keys.iter().find_map(|k| match map.get(*k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(id: &str, ns: &str) -> Value {
        json!({"id": id, "clientId": "c1", "transport": "websocket", "nsp": ns,
            "data": {"tenantId": "acme", "token": "s3cret"},
            "handshake": {"address": "127.0.0.1",
                "headers": {"authorization": "Bearer abc", "Cookie": "sid=1", "x-api-key": "k", "user-agent": "ua"},
                "query": {"token": "q", "EIO": "4"}},
            "rooms": [id]})
    }

    #[test]
    fn config_then_all_sockets_syncs_a_development_model() {
        let mut m = Model::default();
        let now = Instant::now();
        assert!(!m.synced());
        m.apply(
            "config",
            &[json!({"supportedFeatures": ["JOIN", "ALL_EVENTS"]})],
            now,
        );
        assert!(!m.synced(), "development waits for all_sockets");
        m.apply(
            "all_sockets",
            &[json!([sock("a", "/"), sock("b", "/chat")])],
            now,
        );
        assert!(m.synced());
        assert!(m.supports(Feature::Join) && !m.supports(Feature::Emit));
        assert_eq!(m.namespace_of("b"), Some("/chat"));
        let snap = m.snapshot(now);
        assert_eq!(snap.mode, "development");
        assert_eq!(snap.sockets.len(), 2);
        assert!(snap.rooms.iter().all(|r| r.private));
    }

    #[test]
    fn production_config_is_synced_without_sockets() {
        let mut m = Model::default();
        m.apply(
            "config",
            &[json!({"supportedFeatures": ["AGGREGATED_EVENTS"]})],
            Instant::now(),
        );
        assert!(m.synced() && !m.development());
    }

    #[test]
    fn secrets_in_headers_query_and_data_are_redacted() {
        let mut m = Model::default();
        m.apply(
            "socket_connected",
            &[sock("a", "/"), json!("2026-01-01")],
            Instant::now(),
        );
        let s = m.socket("/", "a").unwrap();
        let text = serde_json::to_string(s).unwrap();
        for secret in ["Bearer abc", "sid=1", "\"k\"", "s3cret", "\"q\""] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(s.headers["user-agent"], "ua");
        assert_eq!(s.data["tenantId"], "acme");
    }

    #[test]
    fn rooms_follow_joins_leaves_and_disconnects() {
        let mut m = Model::default();
        let now = Instant::now();
        m.apply("socket_connected", &[sock("a", "/")], now);
        m.apply("socket_connected", &[sock("b", "/")], now);
        let c = m.apply("room_joined", &[json!("/"), json!("r1"), json!("a")], now);
        assert_eq!(c[0].line(), "room_joined / room=r1 socket=a");
        m.apply("room_joined", &[json!("/"), json!("r1"), json!("b")], now);
        let snap = m.snapshot(now);
        let r1 = snap.rooms.iter().find(|r| r.name == "r1").unwrap();
        assert_eq!(r1.sockets, vec!["a", "b"]);
        assert!(!r1.private);
        m.apply("room_left", &[json!("/"), json!("r1"), json!("a")], now);
        let c = m.apply(
            "socket_disconnected",
            &[json!("/"), json!("b"), json!("client namespace disconnect")],
            now,
        );
        assert_eq!(
            c[0].line(),
            "socket_disconnected / socket=b reason=client namespace disconnect"
        );
        let snap = m.snapshot(now);
        assert!(snap.rooms.iter().all(|r| r.name != "r1"));
        assert_eq!(snap.sockets.len(), 1);
    }

    #[test]
    fn server_rates_and_staleness() {
        let mut m = Model::default();
        let t0 = Instant::now();
        m.apply(
            "server_stats",
            &[
                json!({"serverId": "h", "hostname": "h", "pid": 7, "uptime": 1.5,
                "clientsCount": 3, "pollingClientsCount": 1,
                "namespaces": [{"name": "/", "socketsCount": 2}],
                "aggregatedEvents": [
                    {"timestamp": 100_000, "type": "packetsIn", "count": 30},
                    {"timestamp": 101_000, "type": "packetsOut", "count": 20},
                    {"timestamp": 101_000, "type": "bytesIn", "count": 999}]}),
            ],
            t0,
        );
        let s = &m.snapshot(t0).servers[0];
        assert_eq!((s.pid, s.clients, s.polling_clients), (7, 3, 1));
        assert!(
            (s.events_per_sec - 5.0).abs() < 1e-9,
            "{}",
            s.events_per_sec
        );
        assert!(s.healthy);
        let later = t0 + STALE_AFTER + Duration::from_secs(1);
        assert!(!m.snapshot(later).servers[0].healthy);
        // Events older than the window stop counting.
        m.apply(
            "server_stats",
            &[json!({"serverId": "h", "aggregatedEvents": [
                {"timestamp": 200_000, "type": "packetsIn", "count": 10}]})],
            later,
        );
        let s = &m.snapshot(later).servers[0];
        assert!((s.events_per_sec - 1.0).abs() < 1e-9);
        assert!(s.healthy);
    }

    #[test]
    fn servers_are_kept_apart_by_server_id() {
        let mut m = Model::default();
        let t0 = Instant::now();
        for (id, clients) in [("h#1", 2), ("h#2", 5)] {
            m.apply(
                "server_stats",
                &[
                    json!({"serverId": id, "hostname": "h", "clientsCount": clients,
                    "namespaces": [{"name": "/", "socketsCount": clients}]}),
                ],
                t0,
            );
        }
        // Only the second keeps reporting: the first goes stale alone.
        let later = t0 + STALE_AFTER + Duration::from_secs(1);
        m.apply(
            "server_stats",
            &[json!({"serverId": "h#2", "clientsCount": 5,
            "namespaces": [{"name": "/", "socketsCount": 5}]})],
            later,
        );
        let snap = m.snapshot(later);
        let health: Vec<(&str, bool)> = snap
            .servers
            .iter()
            .map(|s| (s.id.as_str(), s.healthy))
            .collect();
        assert_eq!(health, vec![("h#1", false), ("h#2", true)]);
        assert_eq!(
            snap.namespaces,
            vec![NamespaceCount {
                name: "/".into(),
                sockets: 7
            }]
        );
    }

    #[test]
    fn relayed_events_split_into_name_and_args() {
        let (ns, id, ev, args) = relayed_event(&[
            json!("/chat"),
            json!("s1"),
            json!(["hello", {"a": 1}, 2]),
            json!("2026"),
        ])
        .unwrap();
        assert_eq!(
            (ns.as_str(), id.as_str(), ev.as_str()),
            ("/chat", "s1", "hello")
        );
        assert_eq!(args, json!([{"a": 1}, 2]));
        assert!(relayed_event(&[json!("/")]).is_none());
        assert_eq!(
            first_of(&json!({"spaceId": 5}), &["tenantId", "spaceId"]).as_deref(),
            Some("5")
        );
    }
}
