//! Sockscope as a client of the Socket.IO Admin UI protocol.
//!
//! Why: operators want to look inside the gateway they actually run, not only the one
//! Sockscope hosts. A Node gateway turns the protocol on with one line
//! (`instrument(io, {...})` from `@socket.io/admin-ui`), which opens an `/admin`
//! namespace that streams `config`, `server_stats` (every 2 s per server), the socket
//! list and, in development mode, every socket/room change and every event. This
//! module connects to that namespace like the official UI does, keeps a live
//! [`model::Model`] of servers, namespaces, rooms and sockets, and sends the UI's
//! actions (`join`, `leave`, `_disconnect`, `emit`).
//!
//! - Auth is the admin server's basic auth: `{username, password}` in the handshake,
//!   checked against a bcrypt hash; a refusal comes back as `connect_error`
//!   ("invalid credentials") and becomes [`AdminError::Refused`]. The password lives
//!   only in [`AdminAuth`], whose `Debug` hides it; it is never logged.
//! - Relayed traffic (`event_received` / `event_sent`, development mode only) is
//!   published on the engine [`Bus`] with source `admin:<host>`, so everything that
//!   reads the bus (live log, `record`) works for a remote gateway.
//! - Handshake headers, queries and `socket.data` are redacted on the way in
//!   ([`model::redact_headers`]), so a bearer token or cookie never reaches output.
//! - Actions are refused up front when the server's `config` does not list them
//!   (`readonly: true` servers list none), and in development mode confirmed by
//!   waiting for the server's own report of the change.

pub mod inspector;
pub mod leaks;
pub mod model;
pub mod sources;
pub mod tenants;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::{json, Value};
use sockscope_protocol::Direction;
use tokio::sync::{broadcast, oneshot, watch};

pub use model::{AdminSnapshot, Change, Feature, Model};
use sockscope_bus::{self as bus, Bus};

/// Keys of `socket.data` that name a socket's tenant, in order of preference.
pub const TENANT_KEYS: &[&str] = &["tenantId", "tenant", "spaceId"];

/// What can go wrong talking to an admin namespace; each prints as one line.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("invalid admin URL {0:?}: expected http(s)://host[:port]")]
    BadUrl(String),
    #[error("invalid namespace {0:?}: a namespace starts with '/'")]
    BadNamespace(String),
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} has no {namespace} namespace: is the gateway instrumented with @socket.io/admin-ui (or is it another --namespace / --path)?")]
    NoAdminNamespace { url: String, namespace: String },
    #[error("{url} refused the admin login: {message}")]
    Refused { url: String, message: String },
    #[error("{url} sent no admin config within {waited:?}: is the namespace instrumented with @socket.io/admin-ui?")]
    NoConfig { url: String, waited: Duration },
    #[error("the server does not allow {action}: its admin config lists only [{features}] (instrumented with readonly: true?)")]
    Unsupported { action: String, features: String },
    #[error("no socket {0:?} on the server (run `inspect` to list them)")]
    UnknownSocket(String),
    #[error("the server is in production mode and does not list sockets: pass --nsp to say which namespace {0:?} is in")]
    NeedNamespace(String),
    #[error("room {room:?} exists in several namespaces ({namespaces}): pass --nsp")]
    AmbiguousRoom { room: String, namespaces: String },
    #[error("{action} was sent but the server did not report the change within {waited:?}")]
    NotConfirmed { action: String, waited: Duration },
    #[error("admin emit failed: {0}")]
    Emit(String),
    #[error("{0}")]
    Tls(String),
}

pub type Result<T> = std::result::Result<T, AdminError>;

/// How to log in to the admin namespace.
#[derive(Clone, Default)]
pub enum AdminAuth {
    /// The server was instrumented with `auth: false`.
    #[default]
    None,
    Basic {
        username: String,
        password: String,
    },
}

impl std::fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminAuth::None => f.write_str("None"),
            AdminAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &bus::REDACTED)
                .finish(),
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct AdminOptions {
    /// `http(s)://host[:port]`, optionally with the Socket.IO path.
    pub url: String,
    /// The Socket.IO path (`/socket.io` when unset and the URL has none).
    pub path: Option<String>,
    /// The admin namespace (`/admin` by default on the server).
    pub namespace: String,
    pub auth: AdminAuth,
    /// Keep reconnecting after the server goes away (for `watch`).
    pub reconnect: bool,
    /// Bound on connecting, on the first sync and on each action's confirmation.
    pub timeout: Duration,
    /// Extra roots, no checks, or a client certificate for `https://` servers.
    pub tls: crate::connection::TlsOptions,
}

impl AdminOptions {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            path: None,
            namespace: "/admin".to_owned(),
            auth: AdminAuth::None,
            reconnect: false,
            timeout: Duration::from_secs(10),
            tls: crate::connection::TlsOptions::default(),
        }
    }

    /// The address handed to the Socket.IO client: the URL's origin plus `path`.
    fn address(&self) -> Result<String> {
        let bad = || AdminError::BadUrl(sockscope_bus::redact::url(&self.url));
        let (scheme, rest) = self.url.split_once("://").ok_or_else(bad)?;
        if !matches!(scheme, "http" | "https" | "ws" | "wss") || rest.is_empty() {
            return Err(bad());
        }
        let Some(path) = &self.path else {
            return Ok(self.url.clone());
        };
        let origin = rest.split(['/', '?']).next().unwrap_or("");
        if origin.is_empty() {
            return Err(bad());
        }
        let path = path.trim_matches('/');
        Ok(if path.is_empty() {
            format!("{scheme}://{origin}/")
        } else {
            format!("{scheme}://{origin}/{path}/")
        })
    }

    /// The host part, for the bus source name.
    fn host(&self) -> String {
        let rest = self.url.split_once("://").map_or(&*self.url, |(_, r)| r);
        rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
    }
}

/// How long an unconfirmed action waits before the connection may close: the
/// server dispatches an event on the next tick and drops it if our disconnect has
/// arrived by then.
const SETTLE: Duration = Duration::from_millis(200);

struct Shared {
    model: Mutex<Model>,
    changes: broadcast::Sender<Change>,
    /// (namespace, socket id, event) of every relayed `event_sent`, to confirm emits.
    sent: broadcast::Sender<(String, String, String)>,
    revision: watch::Sender<u64>,
}

impl Shared {
    fn with_model<T>(&self, f: impl FnOnce(&mut Model) -> T) -> T {
        // A poisoned lock means a callback panicked mid-update; the model is still
        // the best we have.
        let mut m = self.model.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut m)
    }

    fn bump(&self) {
        self.revision.send_modify(|r| *r += 1);
    }
}

/// A logged-in admin connection with its live model.
pub struct AdminClient {
    client: Client,
    shared: Arc<Shared>,
    url: String,
    namespace: String,
    timeout: Duration,
}

fn args_of(p: Payload) -> Vec<Value> {
    match p {
        Payload::Text(v) => v,
        #[allow(deprecated)]
        Payload::String(s) => vec![serde_json::from_str(&s).unwrap_or(Value::String(s))],
        Payload::Binary(_) => vec![],
    }
}

/// An error and its causes on one line (rust_socketio's own text is terse).
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let t = c.to_string();
        if !text.contains(&t) {
            text = format!("{text}: {t}");
        }
        cause = c.source();
    }
    text.replace('\n', " ")
}

/// The HTTP client's "for url (...)" with the URL cut to scheme, host and path, so
/// a token in the URL's query or userinfo never reaches the message.
fn without_url_query(text: &str) -> String {
    let Some(start) = text.find("url (").map(|i| i + "url (".len()) else {
        return text.to_owned();
    };
    let end = text[start..].find(')').map_or(text.len(), |i| start + i);
    format!(
        "{}{}{}",
        &text[..start],
        sockscope_bus::redact::url_base(&text[start..end]),
        &text[end..]
    )
}

/// The server's words in a `connect_error` payload (rust_socketio wraps them).
fn refusal_message(args: &[Value]) -> String {
    let text = args
        .first()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default();
    text.split_once("frame: ")
        .and_then(|(_, j)| serde_json::from_str::<Value>(j).ok())
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .or_else(|| {
            serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        })
        .unwrap_or(text)
}

impl AdminClient {
    /// Logs in and waits (up to `opts.timeout`) for the server's `config` and, in
    /// development mode, its socket list. Relayed events go to `bus`.
    pub async fn connect(opts: &AdminOptions, bus: Bus) -> Result<Self> {
        if !opts.namespace.starts_with('/') {
            return Err(AdminError::BadNamespace(opts.namespace.clone()));
        }
        let address = opts.address()?;
        let source = format!("admin:{}", opts.host());
        let (changes, _) = broadcast::channel(4096);
        let (sent, _) = broadcast::channel(4096);
        let (revision, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            model: Mutex::new(Model::default()),
            changes,
            sent,
            revision,
        });
        let (ready_tx, ready_rx) = oneshot::channel::<std::result::Result<(), String>>();
        let ready = Arc::new(tokio::sync::Mutex::new(Some(ready_tx)));

        let on_open = {
            let ready = ready.clone();
            move |_: Payload, _: Client| {
                let ready = ready.clone();
                async move {
                    if let Some(tx) = ready.lock().await.take() {
                        let _ = tx.send(Ok(()));
                    }
                }
                .boxed()
            }
        };
        let on_error = {
            let ready = ready.clone();
            move |p: Payload, _: Client| {
                let ready = ready.clone();
                async move {
                    let message = refusal_message(&args_of(p));
                    tracing::debug!(%message, "admin connect_error");
                    if let Some(tx) = ready.lock().await.take() {
                        let _ = tx.send(Err(message));
                    }
                }
                .boxed()
            }
        };
        let on_close = {
            let shared = shared.clone();
            move |_: Payload, _: Client| {
                let shared = shared.clone();
                async move {
                    let _ = shared.changes.send(Change::Closed);
                    shared.bump();
                }
                .boxed()
            }
        };
        let on_any = {
            let shared = shared.clone();
            move |ev: Event, p: Payload, _: Client| {
                let (shared, bus, source) = (shared.clone(), bus.clone(), source.clone());
                async move {
                    let Event::Custom(name) = ev else { return };
                    let args = args_of(p);
                    match name.as_str() {
                        // The session id is a credential (it logs in again); drop it.
                        "session" => {}
                        "event_received" | "event_sent" => {
                            relay(&shared, &bus, &source, &name, &args);
                        }
                        _ => {
                            let changes =
                                shared.with_model(|m| m.apply(&name, &args, Instant::now()));
                            for c in changes {
                                let _ = shared.changes.send(c);
                            }
                            shared.bump();
                        }
                    }
                }
                .boxed()
            }
        };

        let mut builder = ClientBuilder::new(address)
            .namespace(opts.namespace.clone())
            .transport_type(TransportType::Any)
            .reconnect(opts.reconnect)
            .reconnect_on_disconnect(opts.reconnect)
            .on("open", on_open)
            .on("error", on_error)
            .on("close", on_close)
            .on_any(on_any);
        if let AdminAuth::Basic { username, password } = &opts.auth {
            builder = builder.auth(json!({"username": username, "password": password}));
        }
        let tls = opts.tls.socketio_connector().map_err(|e| match e {
            crate::Error::Tls(m) => AdminError::Tls(m),
            other => AdminError::Tls(other.to_string()),
        })?;
        if let Some(tls) = tls {
            builder = builder.tls_config(tls);
        }
        // Shown in errors and output: without any credentials the URL carries.
        let url = sockscope_bus::redact::url(&opts.url);
        tracing::info!(url = %url, namespace = %opts.namespace, "connecting to admin namespace");
        let client = tokio::time::timeout(opts.timeout, builder.connect())
            .await
            .map_err(|_| AdminError::Unreachable {
                url: url.clone(),
                reason: format!("no answer within {:?}", opts.timeout),
            })?
            .map_err(|e| AdminError::Unreachable {
                url: url.clone(),
                reason: crate::connection::tls::explain(&without_url_query(&with_sources(&e))),
            })?;
        let this = Self {
            client,
            shared,
            url: url.clone(),
            namespace: opts.namespace.clone(),
            timeout: opts.timeout,
        };
        match tokio::time::timeout(opts.timeout, ready_rx).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(message))) => {
                this.close().await;
                // socket.io's own refusal of an unknown namespace.
                if message == "Invalid namespace" {
                    return Err(AdminError::NoAdminNamespace {
                        url,
                        namespace: opts.namespace.clone(),
                    });
                }
                return Err(AdminError::Refused { url, message });
            }
            _ => {
                this.close().await;
                return Err(AdminError::Unreachable {
                    url,
                    reason: format!("namespace not joined within {:?}", opts.timeout),
                });
            }
        }
        if this.wait_until(opts.timeout, |m| m.synced()).await.is_err() {
            this.close().await;
            return Err(AdminError::NoConfig {
                url,
                waited: opts.timeout,
            });
        }
        Ok(this)
    }

    /// Waits until `pred` holds on the model, up to `limit`.
    pub async fn wait_until(
        &self,
        limit: Duration,
        pred: impl Fn(&Model) -> bool,
    ) -> std::result::Result<(), ()> {
        let mut rx = self.shared.revision.subscribe();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.shared.with_model(|m| pred(m)) {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(()),
            }
        }
    }

    /// Waits (up to `limit`) for the first `server_stats`; false if none came.
    pub async fn wait_for_stats(&self, limit: Duration) -> bool {
        self.wait_until(limit, Model::has_server).await.is_ok()
    }

    pub fn snapshot(&self) -> AdminSnapshot {
        self.shared.with_model(|m| m.snapshot(Instant::now()))
    }

    /// Every change from now on, for `watch`.
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.shared.changes.subscribe()
    }

    pub fn development(&self) -> bool {
        self.shared.with_model(|m| m.development())
    }

    pub async fn close(&self) {
        if let Err(error) = self.client.disconnect().await {
            tracing::debug!(%error, "admin disconnect");
        }
    }

    fn require(&self, feature: Feature, action: &str) -> Result<()> {
        self.shared.with_model(|m| {
            if m.supports(feature) {
                Ok(())
            } else {
                Err(AdminError::Unsupported {
                    action: action.to_owned(),
                    features: m.features().join(", "),
                })
            }
        })
    }

    /// The namespace socket `id` is in: `explicit`, else the model's, else an error
    /// that says what to pass.
    fn namespace_for(&self, id: &str, explicit: Option<&str>) -> Result<String> {
        self.shared.with_model(|m| {
            if let Some(ns) = explicit {
                if m.development() && m.socket(ns, id).is_none() {
                    return Err(AdminError::UnknownSocket(id.to_owned()));
                }
                return Ok(ns.to_owned());
            }
            match m.namespace_of(id) {
                Some(ns) => Ok(ns.to_owned()),
                None if m.development() => Err(AdminError::UnknownSocket(id.to_owned())),
                None => Err(AdminError::NeedNamespace(id.to_owned())),
            }
        })
    }

    async fn send(&self, event: &str, args: Vec<Value>) -> Result<()> {
        tracing::info!(event, "admin action");
        self.client
            .emit(event, Payload::Text(args))
            .await
            .map_err(|e| AdminError::Emit(e.to_string()))
    }

    /// In development mode, waits for the server to report what `pred` checks.
    async fn confirm(&self, action: &str, pred: impl Fn(&Model) -> bool) -> Result<Outcome> {
        if !self.development() {
            tokio::time::sleep(SETTLE).await;
            return Ok(Outcome::Sent);
        }
        self.wait_until(self.timeout, pred)
            .await
            .map(|()| Outcome::Confirmed)
            .map_err(|()| AdminError::NotConfirmed {
                action: action.to_owned(),
                waited: self.timeout,
            })
    }

    /// Disconnects socket `id` (`close`: the whole underlying connection too).
    pub async fn disconnect(&self, id: &str, ns: Option<&str>, close: bool) -> Result<Outcome> {
        self.require(Feature::Disconnect, "disconnect")?;
        let ns = self.namespace_for(id, ns)?;
        self.send("_disconnect", vec![json!(ns), json!(close), json!(id)])
            .await?;
        self.confirm("disconnect", |m| m.socket(&ns, id).is_none())
            .await
    }

    /// Makes socket `id` (or, with `None`, every socket of `ns`) join or leave `room`.
    pub async fn membership(
        &self,
        join: bool,
        room: &str,
        id: Option<&str>,
        ns: Option<&str>,
    ) -> Result<Outcome> {
        let (feature, action) = if join {
            (Feature::Join, "join")
        } else {
            (Feature::Leave, "leave")
        };
        self.require(feature, action)?;
        let ns = match id {
            Some(id) => self.namespace_for(id, ns)?,
            None => ns.unwrap_or("/").to_owned(),
        };
        self.send(action, vec![json!(ns), json!(room), json!(id)])
            .await?;
        let snap_ids: Vec<String> = match id {
            Some(id) => vec![id.to_owned()],
            None => self
                .snapshot()
                .sockets
                .into_iter()
                .filter(|s| s.namespace == ns)
                .map(|s| s.id)
                .collect(),
        };
        self.confirm(action, |m| {
            snap_ids.iter().all(|sid| {
                m.socket(&ns, sid)
                    .is_none_or(|s| s.rooms.contains(room) == join)
            })
        })
        .await
    }

    /// Emits `event` with `args` to socket or room `to` (else every socket) of `ns`
    /// (else `to`'s namespace when `to` is a known socket or a room of one
    /// namespace, else `/`).
    pub async fn emit(
        &self,
        event: &str,
        args: Vec<Value>,
        to: Option<&str>,
        ns: Option<&str>,
    ) -> Result<Outcome> {
        self.require(Feature::Emit, "emit")?;
        let ns = match (ns, to) {
            (Some(ns), _) => ns.to_owned(),
            // A socket's namespace, else the one namespace with that room.
            (None, Some(to)) => self.shared.with_model(|m| {
                if let Some(ns) = m.namespace_of(to) {
                    return Ok(ns.to_owned());
                }
                let found = m.namespaces_with_room(to);
                if found.len() > 1 {
                    return Err(AdminError::AmbiguousRoom {
                        room: to.to_owned(),
                        namespaces: found.into_iter().collect::<Vec<_>>().join(", "),
                    });
                }
                Ok(found.into_iter().next().unwrap_or_else(|| "/".to_owned()))
            })?,
            (None, None) => "/".to_owned(),
        };
        // In development mode the server relays what it sends: expect `event` to
        // reach every socket of `ns` in room `to` (a socket's own room is its id).
        let expected: Vec<String> = self.shared.with_model(|m| {
            if !m.development() {
                return Vec::new();
            }
            m.snapshot(Instant::now())
                .sockets
                .into_iter()
                .filter(|s| s.namespace == ns && to.is_none_or(|t| s.rooms.contains(t)))
                .map(|s| s.id)
                .collect()
        });
        let mut sent = self.shared.sent.subscribe();
        let mut all = vec![json!(ns), json!(to), json!(event)];
        all.extend(args);
        self.send("emit", all).await?;
        if expected.is_empty() {
            tokio::time::sleep(SETTLE).await;
            return Ok(Outcome::Sent);
        }
        let mut missing: std::collections::BTreeSet<String> = expected.into_iter().collect();
        let deadline = tokio::time::Instant::now() + self.timeout;
        while !missing.is_empty() {
            match tokio::time::timeout_at(deadline, sent.recv()).await {
                Ok(Ok((n, id, e))) if n == ns && e == event => {
                    missing.remove(&id);
                }
                Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                _ => {
                    return Err(AdminError::NotConfirmed {
                        action: "emit".to_owned(),
                        waited: self.timeout,
                    })
                }
            }
        }
        Ok(Outcome::Confirmed)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Socket `id` of namespace `ns`, if the model has it.
    pub fn socket(&self, ns: &str, id: &str) -> Option<model::SocketInfo> {
        self.shared.with_model(|m| m.socket(ns, id).cloned())
    }

    /// The admin namespace itself (its sockets are admin sessions, not app clients).
    pub fn admin_namespace(&self) -> &str {
        &self.namespace
    }

    /// The bound on waits this client was opened with.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// What an action achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server reported the change (development mode).
    Confirmed,
    /// Sent; the server does not report changes in production mode.
    Sent,
}

/// Publishes a relayed `event_received` / `event_sent` on the bus, with the socket's
/// rooms and tenant from the model.
fn relay(shared: &Shared, bus: &Bus, source: &str, kind: &str, args: &[Value]) {
    let Some((ns, id, event, event_args)) = model::relayed_event(args) else {
        tracing::debug!(kind, "malformed relayed event");
        return;
    };
    let direction = if kind == "event_received" {
        Direction::C2s
    } else {
        Direction::S2c
    };
    if direction == Direction::S2c {
        let _ = shared.sent.send((ns.clone(), id.clone(), event.clone()));
    }
    let mut rec = bus::record(source, direction, &ns, &event, event_args);
    rec.socket_id = Some(id.clone());
    shared.with_model(|m| {
        if let Some(s) = m.socket(&ns, &id) {
            rec.rooms = s.rooms.iter().cloned().collect();
            rec.tenant = model::first_of(&s.data, TENANT_KEYS);
        }
    });
    bus.publish(rec);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_takes_the_origin_and_path() {
        let mut o = AdminOptions::new("http://127.0.0.1:3000");
        assert_eq!(o.address().unwrap(), "http://127.0.0.1:3000");
        o.path = Some("/ws".into());
        assert_eq!(o.address().unwrap(), "http://127.0.0.1:3000/ws/");
        o.url = "https://h.example/app?x=1".into();
        assert_eq!(o.address().unwrap(), "https://h.example/ws/");
        assert_eq!(o.host(), "h.example");
        o.url = "127.0.0.1:3000".into();
        assert!(matches!(o.address(), Err(AdminError::BadUrl(_))));
    }

    #[test]
    fn http_errors_lose_the_urls_query() {
        assert_eq!(
            without_url_query("error sending request for url (http://u:p@h:1/socket.io/?token=t&EIO=4) client error"),
            "error sending request for url (http://h:1/socket.io/) client error"
        );
        assert_eq!(without_url_query("plain"), "plain");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let a = AdminAuth::Basic {
            username: "admin".into(),
            password: "hunter2".into(),
        };
        let s = format!("{a:?}");
        assert!(s.contains("admin") && !s.contains("hunter2"), "{s}");
    }

    #[test]
    fn refusals_read_the_servers_message() {
        let m = refusal_message(&[json!(
            "Connect error frame: {\"message\":\"invalid credentials\"}"
        )]);
        assert_eq!(m, "invalid credentials");
        assert_eq!(refusal_message(&[json!("{\"message\":\"nope\"}")]), "nope");
    }

    #[test]
    fn relayed_events_reach_the_bus_with_tenant_and_rooms() {
        let (changes, _) = broadcast::channel(4);
        let (sent, _) = broadcast::channel(4);
        let (revision, _) = watch::channel(0);
        let shared = Shared {
            model: Mutex::new(Model::default()),
            changes,
            sent,
            revision,
        };
        shared.with_model(|m| {
            m.apply(
                "socket_connected",
                &[
                    json!({"id": "s1", "nsp": "/chat", "data": {"tenantId": "acme"},
                    "rooms": ["s1", "tenant:acme:lobby"]}),
                ],
                Instant::now(),
            )
        });
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        relay(
            &shared,
            &bus,
            "admin:h",
            "event_received",
            &[
                json!("/chat"),
                json!("s1"),
                json!(["say", {"password": "x", "t": 1}]),
            ],
        );
        let rec = rx.try_recv().unwrap();
        assert_eq!(rec.source, "admin:h");
        assert_eq!(rec.direction, Direction::C2s);
        assert_eq!(rec.event, "say");
        assert_eq!(rec.tenant.as_deref(), Some("acme"));
        assert_eq!(rec.rooms, vec!["s1", "tenant:acme:lobby"]);
        assert_eq!(rec.args[0]["password"], bus::REDACTED);
    }
}
