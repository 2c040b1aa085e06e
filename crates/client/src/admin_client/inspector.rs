//! The Inspector's sources: the embedded gateway, or one saved admin target (a real
//! gateway instrumented with `@socket.io/admin-ui`) connected through
//! [`AdminClient`].
//!
//! Why: the desktop app needs one picture per source (servers, namespaces, rooms,
//! sockets, tenants and leak findings) it can stream to the webview, and actions it
//! can send, without the Tauri shell knowing the admin protocol. Saved targets keep
//! their password in the OS keychain under `admin:<name>`, never in SQLite, a log
//! line or the view.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sockscope_protocol::{
    AdminActionKind, AdminActionReply, AdminActionRequest, AdminNamespaceView, AdminRoomView,
    AdminServerView, AdminSocketView, AdminTarget, AdminTargetSave, InspectSnapshot,
    InspectorSource, InspectorView, LeakBadge, TenantGroupView,
};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::leaks::{self as admin_leaks, LeakNote};
use super::model::{AdminSnapshot, Change, NamespaceCount, RoomInfo};
use super::sources;
use super::tenants::{self, BadPattern, Finding, RoomPattern};
use super::{AdminAuth, AdminClient, AdminError, AdminOptions, Outcome, TENANT_KEYS};
use crate::keychain;
use sockscope_bus::Bus;
use sockscope_store::Store;

/// What can go wrong with an admin source; each prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Client(#[from] crate::Error),
    #[error(transparent)]
    Store(#[from] sockscope_store::Error),
    #[error(transparent)]
    Pattern(#[from] BadPattern),
    #[error("no admin source is connected")]
    NotConnected,
    #[error("no saved admin target {0:?}")]
    UnknownTarget(String),
    #[error("admin target {0:?} has a username but no password in the keychain: save it with its password")]
    NoPassword(String),
    #[error("bad action: {0}")]
    BadAction(String),
}

impl SourceError {
    /// A stable code for IPC.
    pub fn code(&self) -> &'static str {
        match self {
            SourceError::Admin(AdminError::Refused { .. }) => "admin_refused",
            SourceError::Admin(AdminError::Unsupported { .. }) => "admin_unsupported",
            SourceError::Admin(_) => "admin",
            SourceError::Client(e) => e.code(),
            SourceError::Store(e) => e.code(),
            SourceError::Pattern(_) => "bad_pattern",
            SourceError::NotConnected => "admin_not_connected",
            SourceError::UnknownTarget(_) => "unknown_target",
            SourceError::NoPassword(_) => "no_password",
            SourceError::BadAction(_) => "bad_action",
        }
    }
}

pub type Result<T> = std::result::Result<T, SourceError>;

/// The keychain account of admin target `name` (apart from connection targets').
pub fn keychain_account(name: &str) -> String {
    format!("admin:{name}")
}

/// Saved admin targets, each with whether the keychain holds its password.
pub fn targets(store: &Store) -> crate::Result<Vec<AdminTarget>> {
    let mut all = store.admin_targets()?;
    for t in &mut all {
        t.has_password = keychain::token(&keychain_account(&t.name))
            .ok()
            .flatten()
            .is_some();
    }
    Ok(all)
}

/// Saves a target; a non-empty password goes to the keychain (the target is saved
/// first, so a keychain failure leaves a usable target and a clear error).
pub fn save_target(store: &Store, save: &AdminTargetSave) -> crate::Result<()> {
    if let Some(p) = &save.target.tenant_room {
        RoomPattern::parse(p).map_err(|e| crate::Error::BadTarget(e.to_string()))?;
    }
    store.save_admin_target(&save.target)?;
    match save.password.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => keychain::save_token(&keychain_account(save.target.name.trim()), p),
        None => Ok(()),
    }
}

/// Forgets a target and its keychain password.
pub fn delete_target(store: &Store, name: &str) -> crate::Result<()> {
    store.delete_admin_target(name)?;
    keychain::delete_token(&keychain_account(name))
}

/// The one connected admin source.
struct Active {
    name: String,
    client: AdminClient,
    pattern: Option<RoomPattern>,
    keys: Vec<String>,
    /// Payload leaks seen in relayed events since connecting.
    leaks: Arc<Mutex<Vec<Finding>>>,
    closed: Arc<AtomicBool>,
}

/// The source and the tasks watching it (ended on disconnect).
struct Connected {
    active: Arc<Active>,
    tasks: Vec<JoinHandle<()>>,
}

/// The app's admin source: at most one connected at a time.
#[derive(Default)]
pub struct AdminSources {
    current: tokio::sync::Mutex<Option<Connected>>,
}

impl AdminSources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Connects to saved target `name` (closing any other source first), with its
    /// keychain password; relayed events go to `bus`.
    pub async fn connect(&self, store: &Store, name: &str, bus: &Bus) -> Result<InspectorView> {
        let target = store
            .admin_targets()?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| SourceError::UnknownTarget(name.to_owned()))?;
        let pattern = target
            .tenant_room
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(RoomPattern::parse)
            .transpose()?;
        let auth = match target.username.as_deref().filter(|u| !u.is_empty()) {
            None => AdminAuth::None,
            Some(user) => {
                let account = keychain_account(&target.name);
                let password = sockscope_bus::offload::blocking(move || keychain::token(&account))
                    .await?
                    .ok_or_else(|| SourceError::NoPassword(target.name.clone()))?;
                AdminAuth::Basic {
                    username: user.to_owned(),
                    password,
                }
            }
        };
        let mut opts = AdminOptions::new(target.url.trim());
        opts.namespace = target.namespace.clone();
        opts.path = target.path.clone().filter(|p| !p.is_empty());
        opts.auth = auth;
        self.disconnect().await;
        let events = bus.subscribe();
        let client = AdminClient::connect(&opts, bus.clone()).await?;
        let keys: Vec<String> = TENANT_KEYS.iter().map(|k| (*k).to_owned()).collect();
        let leaks = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let mut changes = client.changes();
        let watch_closed = {
            let closed = closed.clone();
            tokio::spawn(async move {
                loop {
                    match changes.recv().await {
                        Ok(Change::Closed) | Err(RecvError::Closed) => {
                            closed.store(true, Ordering::Relaxed);
                            return;
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                    }
                }
            })
        };
        let active = Arc::new(Active {
            name: target.name.clone(),
            client,
            pattern,
            keys,
            leaks: leaks.clone(),
            closed,
        });
        let watch_leaks = tokio::spawn(watch_payload_leaks(Arc::downgrade(&active), events, leaks));
        tracing::info!(target_name = %active.name, url = %active.client.url(), "admin source connected");
        let view = view_of(&active);
        *self.current.lock().await = Some(Connected {
            active,
            tasks: vec![watch_closed, watch_leaks],
        });
        Ok(view)
    }

    /// Closes the admin source, if any.
    pub async fn disconnect(&self) {
        let Some(Connected { active, tasks }) = self.current.lock().await.take() else {
            return;
        };
        for t in &tasks {
            t.abort();
        }
        active.client.close().await;
        tracing::info!(target_name = %active.name, "admin source disconnected");
    }

    /// The connected source's picture, if one is connected.
    pub async fn view(&self) -> Option<InspectorView> {
        let active = self.current.lock().await.as_ref()?.active.clone();
        Some(view_of(&active))
    }

    /// Sends an action to the connected source.
    pub async fn act(&self, req: &AdminActionRequest) -> Result<AdminActionReply> {
        let active = self
            .current
            .lock()
            .await
            .as_ref()
            .map(|c| c.active.clone())
            .ok_or(SourceError::NotConnected)?;
        let c = &active.client;
        let ns = Some(req.namespace.as_str()).filter(|n| !n.is_empty());
        let need = |v: &Option<String>, what: &str| {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| SourceError::BadAction(format!("{what} is missing")))
        };
        let (what, outcome) = match req.action {
            AdminActionKind::Disconnect => {
                let socket = need(&req.socket, "the socket")?;
                let o = c.disconnect(&socket, ns, false).await?;
                (format!("disconnect {socket}"), o)
            }
            AdminActionKind::Join | AdminActionKind::Leave => {
                let join = req.action == AdminActionKind::Join;
                let room = need(&req.room, "the room")?;
                let socket = need(&req.socket, "the socket")?;
                let o = c.membership(join, &room, Some(&socket), ns).await?;
                let verb = if join { "join" } else { "leave" };
                (format!("{verb} {room} {socket}"), o)
            }
            AdminActionKind::Emit => {
                let event = need(&req.event, "the event name")?;
                let to = req
                    .socket
                    .clone()
                    .or_else(|| req.room.clone())
                    .filter(|s| !s.is_empty());
                let args = match &req.args {
                    Value::Array(a) => a.clone(),
                    Value::Null => Vec::new(),
                    other => vec![other.clone()],
                };
                let o = c.emit(&event, args, to.as_deref(), ns).await?;
                (
                    format!(
                        "emit {event} to {}",
                        to.as_deref().unwrap_or("every socket")
                    ),
                    o,
                )
            }
        };
        let confirmed = outcome == Outcome::Confirmed;
        let how = if confirmed {
            "confirmed by the server"
        } else {
            "sent (the server does not report changes in production mode)"
        };
        tracing::info!(target_name = %active.name, action = %what, confirmed, "admin action");
        Ok(AdminActionReply {
            confirmed,
            message: format!("{what}: {how}"),
        })
    }
}

/// Collects payload leaks (the shared use case
/// [`super::leaks::watch_payload_leaks`]) into the source's list.
/// Finds no tenant once the source is dropped; disconnecting ends the task.
async fn watch_payload_leaks(
    active: std::sync::Weak<Active>,
    events: tokio::sync::broadcast::Receiver<sockscope_protocol::EventRecord>,
    leaks: Arc<Mutex<Vec<Finding>>>,
) {
    let keys: Vec<String> = TENANT_KEYS.iter().map(|k| (*k).to_owned()).collect();
    let tenant_of = |ns: &str, id: &str| {
        let active = active.upgrade()?;
        admin_leaks::socket_tenant(&active.client, ns, id, &active.keys)
    };
    admin_leaks::watch_payload_leaks(events, &keys, tenant_of, std::future::pending(), |note| {
        match note {
            LeakNote::Leak(f) => {
                let mut all = leaks.lock().unwrap_or_else(|p| p.into_inner());
                if !all.contains(&f) {
                    all.push(f);
                }
            }
            LeakNote::Lagged(n) => {
                tracing::debug!(skipped = n, "payload leak watcher fell behind");
            }
        }
    })
    .await;
}

fn view_of(active: &Active) -> InspectorView {
    let c = &active.client;
    let mut snap = c.snapshot();
    // Admin sessions (ours included) are not the gateway's clients.
    let admin_ns = c.admin_namespace();
    snap.sockets.retain(|s| s.namespace != admin_ns);
    snap.rooms.retain(|r| r.namespace != admin_ns);
    snap.namespaces.retain(|n| n.name != admin_ns);
    let extra = active
        .leaks
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut view = view_from(&snap, &active.keys, active.pattern.as_ref(), extra);
    view.source = InspectorSource::Admin;
    view.name = active.name.clone();
    view.url = c.url().to_owned();
    view.mode = snap.mode.to_owned();
    view.connected = !active.closed.load(Ordering::Relaxed);
    view.servers = snap
        .servers
        .iter()
        .map(|s| AdminServerView {
            id: s.id.clone(),
            hostname: s.hostname.clone(),
            pid: s.pid,
            uptime_secs: s.uptime,
            clients: s.clients,
            events_per_sec: s.events_per_sec,
            last_seen_ms: s.last_seen_ms,
            healthy: s.healthy,
        })
        .collect();
    view
}

/// Namespaces, rooms, sockets, tenants and findings of `snap` (servers and the
/// source's identity are the caller's).
fn view_from(
    snap: &AdminSnapshot,
    keys: &[String],
    pattern: Option<&RoomPattern>,
    extra: Vec<Finding>,
) -> InspectorView {
    let mut report = tenants::audit(snap, keys, pattern);
    report.findings.extend(extra);
    let mut tenant_of: BTreeMap<(String, String), String> = BTreeMap::new();
    let split = |label: &str| {
        label
            .split_once(' ')
            .map(|(ns, id)| (ns.to_owned(), id.to_owned()))
            .unwrap_or_else(|| (String::new(), label.to_owned()))
    };
    let mut groups: Vec<TenantGroupView> = report
        .tenants
        .iter()
        .map(|(t, labels)| {
            let sockets: Vec<(String, String)> = labels.iter().map(|l| split(l)).collect();
            for s in &sockets {
                tenant_of.insert(s.clone(), t.clone());
            }
            TenantGroupView {
                tenant: Some(t.clone()),
                sockets,
            }
        })
        .collect();
    if !report.untenanted.is_empty() {
        groups.push(TenantGroupView {
            tenant: None,
            sockets: report.untenanted.iter().map(|l| split(l)).collect(),
        });
    }
    InspectorView {
        features: snap.features.clone(),
        namespaces: snap
            .namespaces
            .iter()
            .map(|n| AdminNamespaceView {
                name: n.name.clone(),
                sockets: n.sockets,
            })
            .collect(),
        rooms: snap
            .rooms
            .iter()
            .filter(|r| !r.private)
            .map(|r| AdminRoomView {
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                sockets: r.sockets.clone(),
            })
            .collect(),
        sockets: snap
            .sockets
            .iter()
            .map(|s| AdminSocketView {
                id: s.id.clone(),
                namespace: s.namespace.clone(),
                tenant: tenant_of.get(&(s.namespace.clone(), s.id.clone())).cloned(),
                user: super::model::first_of(&s.data, &["user", "userId", "sub"]),
                transport: s.transport.clone().unwrap_or_default(),
                address: s.address.clone(),
                rooms: s.rooms.iter().filter(|r| **r != s.id).cloned().collect(),
                data: s.data.clone(),
            })
            .collect(),
        tenants: groups,
        findings: report.findings.iter().map(badge).collect(),
        ..InspectorView::default()
    }
}

/// A finding as the Inspector's badge.
pub fn badge(f: &Finding) -> LeakBadge {
    let kind = serde_json::to_value(f)
        .ok()
        .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let (namespace, socket, room, tenants) = match f {
        Finding::SocketInManyTenants {
            namespace,
            socket,
            tenants,
            ..
        } => (namespace, Some(socket), None, tenants.clone()),
        Finding::ForeignRoom {
            namespace,
            socket,
            socket_tenant,
            room,
            room_tenant,
        } => (
            namespace,
            Some(socket),
            Some(room),
            vec![socket_tenant.clone(), room_tenant.clone()],
        ),
        Finding::SharedRoom {
            namespace,
            room,
            tenants,
        } => (namespace, None, Some(room), tenants.clone()),
        Finding::PayloadLeak {
            namespace,
            socket,
            socket_tenant,
            payload_tenant,
            ..
        } => (
            namespace,
            Some(socket),
            None,
            vec![socket_tenant.clone(), payload_tenant.clone()],
        ),
    };
    LeakBadge {
        kind,
        namespace: namespace.clone(),
        socket: socket.cloned(),
        room: room.cloned(),
        tenants,
        text: f.line(),
    }
}

/// The embedded gateway's tenant view and findings: its sockets' tenants come from
/// their verified principal, its tenant rooms are `tenant:{id}:...`
/// ([`sources::from_inspect`], the same audit `sockscope audit tenants` runs).
pub fn embedded_view(inspect: &InspectSnapshot) -> InspectorView {
    let mut snap = sources::from_inspect(inspect);
    snap.mode = "embedded";
    snap.namespaces = inspect
        .namespaces
        .iter()
        .map(|n| NamespaceCount {
            name: n.name.clone(),
            sockets: n.sockets.len() as u64,
        })
        .collect();
    snap.rooms = inspect
        .namespaces
        .iter()
        .flat_map(|n| {
            n.rooms.iter().map(|r| RoomInfo {
                namespace: n.name.clone(),
                name: r.name.clone(),
                private: false,
                sockets: r.sockets.clone(),
            })
        })
        .collect();
    let keys: Vec<String> = TENANT_KEYS.iter().map(|k| (*k).to_owned()).collect();
    let pattern = RoomPattern::parse(sources::GATEWAY_TENANT_ROOMS).ok();
    let mut view = view_from(&snap, &keys, pattern.as_ref(), Vec::new());
    view.source = InspectorSource::Embedded;
    view.mode = "embedded".to_owned();
    view.connected = true;
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_protocol::{NamespaceInfo, RoomInfo as PRoom, SocketInfo as PSocket};

    fn sock(id: &str, tenant: &str, rooms: &[&str]) -> PSocket {
        PSocket {
            id: id.into(),
            user: Some(format!("u-{id}")),
            tenant: Some(tenant.into()),
            rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
            transport: "websocket".into(),
            connected_at: 0,
            events_in: 0,
            events_out: 0,
            node: None,
            data: Default::default(),
        }
    }

    #[test]
    fn the_embedded_view_groups_tenants_and_flags_a_foreign_room() {
        let inspect = InspectSnapshot {
            namespaces: vec![NamespaceInfo {
                name: "/dashboard".into(),
                rooms: vec![PRoom {
                    name: "tenant:globex:orders".into(),
                    sockets: vec!["a".into(), "g".into()],
                }],
                sockets: vec![
                    sock(
                        "a",
                        "acme",
                        &["a", "tenant:acme:orders", "tenant:globex:orders"],
                    ),
                    sock("b", "acme", &["b", "tenant:acme:orders"]),
                    sock("g", "globex", &["g", "tenant:globex:orders"]),
                ],
            }],
            ..InspectSnapshot::default()
        };
        let v = embedded_view(&inspect);
        assert_eq!(v.tenants.len(), 2);
        assert_eq!(v.tenants[0].tenant.as_deref(), Some("acme"));
        assert_eq!(v.tenants[0].sockets.len(), 2);
        let kinds: Vec<&str> = v.findings.iter().map(|f| f.kind.as_str()).collect();
        assert!(kinds.contains(&"foreign_room"), "{kinds:?}");
        assert!(kinds.contains(&"shared_room"), "{kinds:?}");
        assert!(kinds.contains(&"socket_in_many_tenants"), "{kinds:?}");
        // Positive control: the well-behaved sockets are named in no finding.
        assert!(v
            .findings
            .iter()
            .all(|f| f.socket.as_deref() != Some("b") && f.socket.as_deref() != Some("g")));
        let a = v.sockets.iter().find(|s| s.id == "a").unwrap();
        assert_eq!(a.tenant.as_deref(), Some("acme"));
        assert!(!a.rooms.contains(&"a".to_owned()), "own room hidden");
    }

    #[test]
    fn a_clean_embedded_gateway_has_no_findings() {
        let inspect = InspectSnapshot {
            namespaces: vec![NamespaceInfo {
                name: "/".into(),
                rooms: vec![],
                sockets: vec![
                    sock("a", "acme", &["a", "tenant:acme:orders"]),
                    sock("g", "globex", &["g", "tenant:globex:orders"]),
                ],
            }],
            ..InspectSnapshot::default()
        };
        let v = embedded_view(&inspect);
        assert!(v.findings.is_empty(), "{:?}", v.findings);
        assert_eq!(v.sockets.len(), 2);
    }

    #[test]
    fn passwords_are_kept_apart_from_connection_tokens() {
        assert_eq!(keychain_account("prod"), "admin:prod");
    }
}
