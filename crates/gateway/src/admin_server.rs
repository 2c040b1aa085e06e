//! The embedded gateway as an Admin UI *server*: `serve --admin` opens an `/admin`
//! namespace speaking the protocol of `@socket.io/admin-ui` 0.5.x, so the official
//! Admin UI front end (and `sockscope admin`, or any other client of the protocol)
//! can inspect and act on the gateway Sockscope hosts.
//!
//! Why here and not in the profiles: the protocol describes the server as a whole
//! (every namespace, every socket, every room), and socketioxide has no hook for
//! room changes. So this module watches from outside:
//!
//! - the engine [`Bus`] already carries every `connect`, `disconnect` and event of
//!   every socket, in the order they crossed the gateway: it becomes
//!   `socket_connected`, `socket_disconnected`, `event_received`, `event_sent` and the
//!   aggregated counts of `server_stats`;
//! - rooms are diffed per socket, on each of its records and in a sweep every
//!   [`SWEEP`] (and right after an admin action), giving `room_joined`/`room_left`.
//!
//! Login is the admin UI's basic auth: `{username, password}` checked against a
//! bcrypt hash, answered with a `session` id the UI reconnects with. A handshake with
//! neither a known session nor the right credentials is refused with
//! `invalid credentials` before any handler is attached, so nothing an admin can do
//! is reachable without a login. Handshake headers and queries are redacted
//! ([`sockscope_bus::redact::redact_headers`]) before they are sent; relayed event
//! arguments come off the bus, which redacts them when they are published.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Map, Value};
use socketioxide::extract::{State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::Sid;
use sockscope_protocol::{
    AdminActionKind, AdminActionReply, AdminActionRequest, Direction, EventRecord,
};
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;

use crate::args::Args;
use crate::auth::Principal;
use crate::socket::{count_out, publish_now, stats_of};
use crate::{ArgList, GatewayHandle, Shared, SocketIo, SocketRef, SOURCE};
use sockscope_bus as bus;

/// How often `server_stats` goes out, as the Node admin server does.
const STATS_EVERY: Duration = Duration::from_secs(2);
/// How often every socket's rooms are compared with what the clients were told.
const SWEEP: Duration = Duration::from_millis(500);
/// Login sessions kept; the oldest is forgotten past this (its UI logs in again).
const MAX_SESSIONS: usize = 1024;
/// bcrypt checks running at once: a flood of logins queues instead of taking every
/// core (each check costs the hash's work factor on purpose).
const LOGIN_CHECKS: usize = 2;

/// Who may use the admin namespace.
#[derive(Clone)]
pub enum AdminLogin {
    /// Anyone who can reach the port (`--admin-no-auth`).
    Open,
    /// `{username, password}` checked against a bcrypt hash.
    Basic {
        username: String,
        password_hash: String,
    },
}

impl std::fmt::Debug for AdminLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminLogin::Open => f.write_str("Open"),
            AdminLogin::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password_hash", &bus::REDACTED)
                .finish(),
        }
    }
}

/// `development` streams sockets, rooms and events; `production` only stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdminMode {
    #[default]
    Development,
    Production,
}

impl AdminMode {
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "development" => Some(Self::Development),
            "production" => Some(Self::Production),
            _ => None,
        }
    }
}

/// How `serve --admin` configures the admin namespace.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub login: AdminLogin,
    pub mode: AdminMode,
    /// `/admin` unless told otherwise.
    pub namespace: String,
    /// List no actions in `config` and attach no action handlers.
    pub readonly: bool,
}

impl AdminConfig {
    /// Development mode, `/admin`, actions on.
    pub fn new(login: AdminLogin) -> Self {
        Self {
            login,
            mode: AdminMode::Development,
            namespace: "/admin".to_owned(),
            readonly: false,
        }
    }

    /// Refuses a hash bcrypt cannot read and a namespace the gateway serves, before
    /// anything binds.
    pub(crate) fn check(&self, gateway_namespaces: &[String]) -> crate::Result<()> {
        if let AdminLogin::Basic {
            username,
            password_hash,
        } = &self.login
        {
            if username.is_empty() {
                return Err(crate::Error::AdminSetup(
                    "the admin user name is empty".into(),
                ));
            }
            if let Err(e) = bcrypt::verify("", password_hash) {
                return Err(crate::Error::AdminSetup(format!(
                    "the admin password hash is not a bcrypt hash ($2b$...): {e}"
                )));
            }
        }
        if !self.namespace.starts_with('/') {
            return Err(crate::Error::BadNamespace(self.namespace.clone()));
        }
        if gateway_namespaces.contains(&self.namespace) {
            return Err(crate::Error::AdminSetup(format!(
                "{} is both a gateway namespace and the admin namespace",
                self.namespace
            )));
        }
        Ok(())
    }

    /// What `config.supportedFeatures` lists.
    pub fn features(&self) -> Vec<&'static str> {
        let mut f = if self.readonly {
            Vec::new()
        } else {
            vec![
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]
        };
        f.push("AGGREGATED_EVENTS");
        if self.mode == AdminMode::Development {
            f.push("ALL_EVENTS");
        }
        f
    }
}

/// The admin namespace's state, shared by its handlers and its watcher task.
pub(crate) struct AdminServer {
    config: AdminConfig,
    sessions: Mutex<VecDeque<String>>,
    /// Woken after an admin action, so its room changes are reported at once.
    wake: Notify,
    started: Instant,
    logins: tokio::sync::Semaphore,
}

/// The session id a login was given, sent once the socket is connected.
#[derive(Clone)]
struct NewSession(String);

/// Why a handshake to the admin namespace was refused. The message is the one the
/// Node admin server sends, which the official UI shows and recognises.
#[derive(Debug, thiserror::Error)]
#[error("invalid credentials")]
struct Refused;

impl AdminServer {
    pub(crate) fn new(config: AdminConfig) -> Self {
        Self {
            config,
            sessions: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            started: Instant::now(),
            logins: tokio::sync::Semaphore::new(LOGIN_CHECKS),
        }
    }

    pub(crate) fn namespace(&self) -> &str {
        &self.config.namespace
    }

    fn development(&self) -> bool {
        self.config.mode == AdminMode::Development
    }

    fn has_session(&self, id: &str) -> bool {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .iter()
            .any(|s| crate::api_access::same(s.as_bytes(), id.as_bytes()))
    }

    fn new_session(&self) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.pop_front();
        }
        sessions.push_back(id.clone());
        id
    }

    /// Checks a handshake's auth object; `Some(session)` for a fresh login.
    async fn login(&self, auth: &Value) -> Result<Option<String>, Refused> {
        let AdminLogin::Basic {
            username,
            password_hash,
        } = &self.config.login
        else {
            return Ok(None);
        };
        if let Some(id) = auth.get("sessionId").and_then(Value::as_str) {
            if self.has_session(id) {
                return Ok(None);
            }
        }
        let given_user = auth.get("username").and_then(Value::as_str);
        let Some(password) = auth.get("password").and_then(Value::as_str) else {
            return Err(Refused);
        };
        // bcrypt is slow on purpose: off the async workers. The hash is checked for a
        // wrong user name too, so timing does not tell which of the two was wrong.
        let _slot = self.logins.acquire().await.map_err(|_| Refused)?;
        let (password, hash) = (password.to_owned(), password_hash.clone());
        let matches = sockscope_bus::offload::blocking(move || {
            Ok::<_, crate::Error>(bcrypt::verify(password, &hash).unwrap_or(false))
        })
        .await
        .unwrap_or(false);
        if matches && given_user == Some(username.as_str()) {
            Ok(Some(self.new_session()))
        } else {
            Err(Refused)
        }
    }
}

/// Registers the admin namespace on `io` (in a cluster, the future joins it on
/// the Redis backplane).
pub(crate) fn register(io: &SocketIo, admin: &AdminServer) -> crate::profiles::Joined {
    io.ns(admin.namespace().to_owned(), connected.with(authenticate))
}

async fn authenticate(
    s: SocketRef,
    TryData(auth): TryData<Value>,
    State(shared): State<Arc<Shared>>,
) -> Result<(), Refused> {
    let Some(admin) = shared.admin.as_ref() else {
        return Err(Refused);
    };
    let auth = auth.unwrap_or(Value::Null);
    match admin.login(&auth).await {
        Ok(session) => {
            tracing::info!(socket = %s.id, fresh_login = session.is_some(), "admin session opened");
            if let Some(id) = session {
                s.extensions.insert(NewSession(id));
            }
            // Handlers now, in the middleware: socketioxide sends CONNECT before it
            // runs the connect handler, and an admin that acts as soon as it is
            // connected must find them.
            if !admin.config.readonly {
                s.on("emit", on_emit);
                s.on("join", on_join);
                s.on("leave", on_leave);
                s.on("_disconnect", on_disconnect);
            }
            s.on("fetch", on_fetch);
            Ok(())
        }
        Err(e) => {
            tracing::warn!(socket = %s.id, "admin login refused");
            Err(e)
        }
    }
}

async fn connected(s: SocketRef, State(shared): State<Arc<Shared>>) {
    let Some(admin) = shared.admin.as_ref() else {
        return;
    };
    if let Some(NewSession(id)) = s.extensions.get::<NewSession>() {
        emit(&s, "session", &id);
    }
    emit(
        &s,
        "config",
        &json!({ "supportedFeatures": admin.config.features() }),
    );
    if admin.development() {
        if let Some(io) = shared.io() {
            emit(&s, "all_sockets", &all_sockets(&io, &shared.namespaces));
        }
    }
}

fn emit<T: serde::Serialize + ?Sized>(s: &SocketRef, event: &str, data: &T) {
    if let Err(error) = s.emit(event, data) {
        tracing::debug!(socket = %s.id, event, %error, "admin message not sent");
    }
}

async fn on_fetch(s: SocketRef, State(shared): State<Arc<Shared>>) {
    if shared.admin.as_ref().is_some_and(|a| a.development()) {
        if let Some(io) = shared.io() {
            emit(&s, "all_sockets", &all_sockets(&io, &shared.namespaces));
        }
    }
}

/// What an action is aimed at: one socket (the filter is its id), a room, or the
/// whole namespace (no filter).
enum Target {
    One(SocketRef),
    Room(String),
    All,
}

fn target(io: &SocketIo, nsp: &str, filter: Option<&str>) -> Target {
    match filter {
        None | Some("") => Target::All,
        Some(f) => Sid::from_str(f)
            .ok()
            .and_then(|sid| io.of(nsp).and_then(|op| op.get_socket(sid)))
            .map_or_else(|| Target::Room(f.to_owned()), Target::One),
    }
}

/// The gateway's socket.io instance, if it serves the namespace an action names
/// (the admin namespace itself is not a target).
fn served(shared: &Shared, nsp: &str, action: &str) -> crate::Result<SocketIo> {
    if !shared.namespaces.iter().any(|n| n == nsp) {
        tracing::warn!(
            action,
            namespace = nsp,
            "admin action on a namespace the gateway does not serve"
        );
        return Err(crate::Error::UnknownNamespace(nsp.to_owned()));
    }
    shared.io().ok_or(crate::Error::NotRunning)
}

fn wake(shared: &Shared) {
    if let Some(a) = shared.admin.as_ref() {
        a.wake.notify_one();
    }
}

/// Emits `event` with the argument list `rest` to the sockets `filter` names (a
/// socket id, a room, or none for the whole namespace) and publishes it on the bus.
/// Shared by the admin namespace's `emit` and the Inspector's action on the
/// embedded gateway. Returns how many sockets it was addressed to.
pub(crate) async fn act_emit(
    shared: &Shared,
    nsp: &str,
    filter: Option<&str>,
    event: &str,
    rest: Vec<Value>,
) -> crate::Result<usize> {
    let io = served(shared, nsp, "emit")?;
    let op = io.of(nsp).ok_or(crate::Error::NotRunning)?;
    let _turn = shared.state.broadcasts.lock().await;
    match target(&io, nsp, filter) {
        Target::One(sock) => {
            sock.emit(event, &ArgList(&rest))
                .map_err(|e| crate::Error::Emit(e.to_string()))?;
            count_out(std::slice::from_ref(&sock));
            publish_now(&sock, shared, Direction::S2c, event, Value::Array(rest));
            Ok(1)
        }
        t => {
            let (op, rooms) = match t {
                Target::Room(r) => (op.to(r.clone()), vec![r]),
                _ => (op, Vec::new()),
            };
            let sockets = op.clone().sockets();
            op.emit(event, &ArgList(&rest))
                .await
                .map_err(|e| crate::Error::Emit(e.to_string()))?;
            count_out(&sockets);
            let mut rec = bus::record(SOURCE, Direction::S2c, nsp, event, Value::Array(rest));
            rec.rooms = rooms;
            shared.bus.publish(rec);
            Ok(sockets.len())
        }
    }
}

/// `emit(nsp, filter, event, ...args)`.
async fn on_emit(s: SocketRef, args: Args, State(shared): State<Arc<Shared>>) {
    let v = &args.values;
    let Some(nsp) = v.get(0).and_then(Value::as_str) else {
        return;
    };
    let Some(event) = v.get(2).and_then(Value::as_str) else {
        return;
    };
    let rest: Vec<Value> = v
        .as_array()
        .map(|a| a.iter().skip(3).cloned().collect())
        .unwrap_or_default();
    let filter = v.get(1).and_then(Value::as_str);
    tracing::info!(admin = %s.id, namespace = nsp, event, to = ?filter, "admin emit");
    if let Err(error) = act_emit(&shared, nsp, filter, event, rest).await {
        tracing::warn!(%error, "admin emit failed");
    }
}

async fn on_join(s: SocketRef, args: Args, State(shared): State<Arc<Shared>>) {
    membership(&s, &args.values, &shared, true).await;
}

async fn on_leave(s: SocketRef, args: Args, State(shared): State<Arc<Shared>>) {
    membership(&s, &args.values, &shared, false).await;
}

/// `join(nsp, room, filter?)` / `leave(nsp, room, filter?)`.
async fn membership(s: &SocketRef, v: &Value, shared: &Shared, join: bool) {
    let action = if join { "join" } else { "leave" };
    let Some(nsp) = v.get(0).and_then(Value::as_str) else {
        return;
    };
    let Some(room) = v.get(1).and_then(Value::as_str).map(str::to_owned) else {
        return;
    };
    let filter = v.get(2).and_then(Value::as_str);
    tracing::info!(admin = %s.id, namespace = nsp, room, to = ?filter, action, "admin action");
    if let Err(error) = act_membership(shared, nsp, room, filter, join).await {
        tracing::warn!(%error, action, "admin action failed");
    }
}

/// Makes the sockets `filter` names join (or leave) `room`. Shared by the admin
/// namespace's `join`/`leave` and the Inspector's actions on the embedded gateway.
pub(crate) async fn act_membership(
    shared: &Shared,
    nsp: &str,
    room: String,
    filter: Option<&str>,
    join: bool,
) -> crate::Result<()> {
    let io = served(shared, nsp, if join { "join" } else { "leave" })?;
    let op = io.of(nsp).ok_or(crate::Error::NotRunning)?;
    let result = match (target(&io, nsp, filter), join) {
        (Target::One(sock), true) => {
            sock.join(room);
            Ok(())
        }
        (Target::One(sock), false) => {
            sock.leave(room);
            Ok(())
        }
        (Target::Room(r), true) => op.within(r).join(room).await,
        (Target::Room(r), false) => op.within(r).leave(room).await,
        (Target::All, true) => op.join(room).await,
        (Target::All, false) => op.leave(room).await,
    };
    wake(shared);
    result.map_err(|e| crate::Error::AdminAction(e.to_string()))
}

/// `_disconnect(nsp, close, filter?)`. socketioxide closes a socket, not its whole
/// connection, so `close` disconnects the same sockets.
async fn on_disconnect(s: SocketRef, args: Args, State(shared): State<Arc<Shared>>) {
    let v = &args.values;
    let Some(nsp) = v.get(0).and_then(Value::as_str) else {
        return;
    };
    let filter = v.get(2).and_then(Value::as_str);
    tracing::info!(admin = %s.id, namespace = nsp, to = ?filter, "admin disconnect");
    if let Err(error) = act_disconnect(&shared, nsp, filter).await {
        tracing::warn!(%error, "admin disconnect failed");
    }
}

/// Disconnects the sockets `filter` names. Shared by the admin namespace's
/// `_disconnect` and the Inspector's action on the embedded gateway.
pub(crate) async fn act_disconnect(
    shared: &Shared,
    nsp: &str,
    filter: Option<&str>,
) -> crate::Result<()> {
    let io = served(shared, nsp, "_disconnect")?;
    let op = io.of(nsp).ok_or(crate::Error::NotRunning)?;
    let result = match target(&io, nsp, filter) {
        Target::One(sock) => sock.disconnect().map_err(|e| e.to_string()),
        Target::Room(r) => op.within(r).disconnect().await.map_err(|e| e.to_string()),
        Target::All => op.disconnect().await.map_err(|e| e.to_string()),
    };
    wake(shared);
    result.map_err(crate::Error::AdminAction)
}

/// Where the Inspector's actions on the embedded gateway appear on the bus.
pub const INSPECTOR_SOURCE: &str = "inspector";

impl GatewayHandle {
    /// The Inspector's action on the embedded gateway (disconnect, join, leave, emit
    /// on a socket or a room), by the same code as the admin namespace's. The action
    /// goes on the bus as an operator record (an emit as the event it sent). Refuses
    /// a socket that is not connected rather than treating its id as a room name.
    pub async fn admin_action(&self, req: &AdminActionRequest) -> crate::Result<AdminActionReply> {
        let ns = Some(req.namespace.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or("/");
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let need = |v: &Option<String>, what: &str| {
            given(v).ok_or_else(|| crate::Error::AdminAction(format!("{what} is missing")))
        };
        let live = |id: &str| {
            Sid::from_str(id)
                .ok()
                .and_then(|sid| self.io.of(ns)?.get_socket(sid))
                .map(|_| ())
                .ok_or_else(|| {
                    crate::Error::AdminAction(format!("no socket {id} is connected to {ns}"))
                })
        };
        let shared = &*self.shared;
        served(shared, ns, "inspector")?;
        let (what, event, args, socket) = match req.action {
            AdminActionKind::Disconnect => {
                let socket = need(&req.socket, "the socket")?;
                live(&socket)?;
                act_disconnect(shared, ns, Some(&socket)).await?;
                (
                    format!("disconnect {socket}"),
                    "_disconnect",
                    json!([]),
                    Some(socket),
                )
            }
            AdminActionKind::Join | AdminActionKind::Leave => {
                let join = req.action == AdminActionKind::Join;
                let room = need(&req.room, "the room")?;
                let socket = need(&req.socket, "the socket")?;
                live(&socket)?;
                act_membership(shared, ns, room.clone(), Some(&socket), join).await?;
                let verb = if join { "join" } else { "leave" };
                (
                    format!("{verb} {room} {socket}"),
                    verb,
                    json!([room]),
                    Some(socket),
                )
            }
            AdminActionKind::Emit => {
                let event = need(&req.event, "the event name")?;
                let socket = given(&req.socket);
                if let Some(id) = &socket {
                    live(id)?;
                }
                let to = socket.clone().or_else(|| given(&req.room));
                let rest = match &req.args {
                    Value::Array(a) => a.clone(),
                    Value::Null => Vec::new(),
                    other => vec![other.clone()],
                };
                let n = act_emit(shared, ns, to.as_deref(), &event, rest).await?;
                let to = to.as_deref().unwrap_or("every socket");
                let message = format!("emit {event} to {to}: addressed to {n} socket(s)");
                tracing::info!(namespace = ns, action = %message, "inspector action");
                // act_emit published the event itself, as POST /emit does.
                return Ok(AdminActionReply {
                    confirmed: true,
                    message,
                });
            }
        };
        let mut rec = bus::record(INSPECTOR_SOURCE, Direction::S2c, ns, event, args);
        rec.socket_id = socket;
        shared.bus.publish(rec);
        tracing::info!(namespace = ns, action = %what, "inspector action");
        Ok(AdminActionReply {
            confirmed: true,
            message: format!("{what}: done on the embedded gateway"),
        })
    }
}

fn now_iso() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// The socket's rooms as the Node server lists them: its own id first.
fn rooms_of(s: &SocketRef) -> BTreeSet<String> {
    s.rooms().into_iter().map(|r| r.to_string()).collect()
}

fn transport_of(s: &SocketRef) -> &'static str {
    match s.transport_type() {
        socketioxide::TransportType::Polling => "polling",
        socketioxide::TransportType::Websocket => "websocket",
    }
}

/// `socket.data`: what the gateway knows of the socket's identity, under the keys
/// tenant tools look for.
fn data_of(s: &SocketRef) -> Value {
    let p = s.extensions.get::<Principal>().unwrap_or_default();
    let mut data = Map::new();
    if let Some(t) = p.tenant {
        data.insert("tenantId".into(), Value::String(t));
    }
    if let Some(u) = p.user {
        data.insert("user".into(), Value::String(u));
    }
    Value::Object(data)
}

/// One socket as the admin UI's `SerializedSocket`, secrets redacted.
fn serialize(s: &SocketRef, ns: &str) -> Value {
    let parts = s.req_parts();
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.insert(name.as_str().to_owned(), Value::String(v));
    }
    let headers = sockscope_bus::redact::redact_headers(&Value::Object(headers));
    let mut query = Map::new();
    if let Some(q) = parts.uri.query() {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            query.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    let mut query = Value::Object(query);
    bus::redact(&mut query);
    // As the Node server does: a proxy's header first, else the peer.
    let address = ["cf-connecting-ip", "x-forwarded-for"]
        .iter()
        .find_map(|h| parts.headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::to_owned)
        .or_else(|| {
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
        });
    let issued = stats_of(s).map_or(0, |st| st.connected_at / 1000);
    let id = s.id.to_string();
    let mut rooms = vec![id.clone()];
    rooms.extend(rooms_of(s));
    json!({
        "id": id,
        "clientId": id.chars().take(12).collect::<String>(),
        "transport": transport_of(s),
        "nsp": ns,
        "data": data_of(s),
        "handshake": {
            "address": address,
            "headers": headers,
            "query": query,
            "issued": issued,
            "secure": parts.uri.scheme_str() == Some("https"),
            "time": now_iso(),
            "url": sockscope_bus::redact::url(&parts.uri.to_string()),
            "xdomain": parts.headers.contains_key("origin"),
        },
        "rooms": rooms,
    })
}

fn all_sockets(io: &SocketIo, namespaces: &[String]) -> Value {
    let mut out = Vec::new();
    for ns in namespaces {
        if let Some(op) = io.of(ns) {
            out.extend(op.sockets().iter().map(|s| serialize(s, ns)));
        }
    }
    Value::Array(out)
}

/// What the clients were last told about one socket.
struct Known {
    rooms: BTreeSet<String>,
    transport: &'static str,
}

/// Turns gateway state and bus records into the admin namespace's live messages.
struct Watcher {
    io: SocketIo,
    shared: Arc<Shared>,
    admin_ns: String,
    development: bool,
    known: HashMap<(String, String), Known>,
    /// Sockets reported disconnected that socketioxide may still list for a moment.
    departed: HashSet<(String, String)>,
    /// (unix ms of the second, type, subType) → count, drained by each `server_stats`.
    aggregated: BTreeMap<(i64, &'static str, Option<String>), u64>,
    /// Messages waiting to be sent to the admin namespace.
    outbox: Vec<(&'static str, Vec<Value>)>,
}

impl Watcher {
    /// Queues one message (its arguments, each a Socket.IO argument) for every admin.
    fn send(&mut self, event: &'static str, args: Vec<Value>) {
        self.outbox.push((event, args));
    }

    /// Sends what was queued.
    async fn flush(&mut self) {
        if self.outbox.is_empty() {
            return;
        }
        let Some(op) = self.io.of(self.admin_ns.as_str()) else {
            self.outbox.clear();
            return;
        };
        for (event, args) in std::mem::take(&mut self.outbox) {
            if let Err(error) = op.clone().emit(event, &ArgList(&args)).await {
                tracing::debug!(event, %error, "admin broadcast not sent");
            }
        }
    }

    fn count(&mut self, kind: &'static str, sub: Option<String>, n: u64) {
        let second = bus::now_micros() / 1_000_000 * 1000;
        *self.aggregated.entry((second, kind, sub)).or_default() += n;
    }

    /// Compares one socket with what was reported and sends the difference.
    fn sync_socket(&mut self, s: &SocketRef, ns: &str) {
        let key = (ns.to_owned(), s.id.to_string());
        if self.departed.contains(&key) {
            return;
        }
        let rooms = rooms_of(s);
        let transport = transport_of(s);
        match self.known.get_mut(&key) {
            None => {
                self.send("socket_connected", vec![serialize(s, ns), json!(now_iso())]);
                // A socket first seen after it joined rooms (its connect and its
                // subscribe fell in one sweep) still gets its joins on the stream, as
                // it would have had it been seen a moment earlier.
                for r in rooms.iter().filter(|r| **r != key.1) {
                    self.send(
                        "room_joined",
                        vec![json!(ns), json!(r), json!(key.1), json!(now_iso())],
                    );
                }
                self.known.insert(key, Known { rooms, transport });
            }
            Some(k) => {
                let joined: Vec<String> = rooms.difference(&k.rooms).cloned().collect();
                let left: Vec<String> = k.rooms.difference(&rooms).cloned().collect();
                let upgraded = k.transport != transport;
                k.rooms = rooms;
                k.transport = transport;
                for r in joined {
                    self.send(
                        "room_joined",
                        vec![json!(ns), json!(r), json!(key.1), json!(now_iso())],
                    );
                }
                for r in left {
                    self.send(
                        "room_left",
                        vec![json!(ns), json!(r), json!(key.1), json!(now_iso())],
                    );
                }
                if upgraded {
                    self.send(
                        "socket_updated",
                        vec![json!({"id": key.1, "nsp": ns, "transport": transport})],
                    );
                }
            }
        }
    }

    /// Every socket of every namespace.
    fn sweep(&mut self) {
        let mut seen = HashSet::new();
        for ns in self.shared.namespaces.clone() {
            let Some(op) = self.io.of(ns.as_str()) else {
                continue;
            };
            for s in op.sockets() {
                seen.insert((ns.clone(), s.id.to_string()));
                self.sync_socket(&s, &ns);
            }
        }
        let gone: Vec<(String, String)> = self
            .known
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            self.known.remove(&key);
            self.send(
                "socket_disconnected",
                vec![
                    json!(key.0),
                    json!(key.1),
                    json!("transport close"),
                    json!(now_iso()),
                ],
            );
        }
        self.departed.retain(|k| seen.contains(k));
    }

    fn socket(&self, ns: &str, id: &str) -> Option<SocketRef> {
        let sid = Sid::from_str(id).ok()?;
        self.io.of(ns)?.get_socket(sid)
    }

    fn on_record(&mut self, rec: &EventRecord) {
        let ns = rec.namespace.as_str();
        let relayed = || {
            let mut args = vec![Value::String(rec.event.clone())];
            if let Value::Array(a) = &rec.args {
                args.extend(a.iter().cloned());
            }
            args
        };
        match (&rec.socket_id, rec.direction, rec.event.as_str()) {
            (Some(_), Direction::C2s, "connect") => self.count("rawConnection", None, 1),
            (Some(_), Direction::C2s, "disconnect") => {
                let reason = rec.args.get(0).and_then(Value::as_str).map(str::to_owned);
                self.count("rawDisconnection", reason, 1);
            }
            (_, Direction::C2s, _) => self.count("packetsIn", None, 1),
            (Some(_), Direction::S2c, _) => self.count("packetsOut", None, 1),
            (None, Direction::S2c, _) => {}
        }
        if !self.development {
            if rec.socket_id.is_none() && rec.direction == Direction::S2c {
                let n = self.recipients(rec).len() as u64;
                self.count("packetsOut", None, n);
            }
            return;
        }
        match (&rec.socket_id, rec.direction, rec.event.as_str()) {
            (Some(id), Direction::C2s, "disconnect") => {
                let key = (ns.to_owned(), id.clone());
                if self.known.remove(&key).is_some() {
                    let reason = rec.args.get(0).and_then(Value::as_str).unwrap_or("unknown");
                    self.send(
                        "socket_disconnected",
                        vec![json!(ns), json!(id), json!(reason), json!(now_iso())],
                    );
                }
                if self.socket(ns, id).is_some() {
                    self.departed.insert(key);
                }
            }
            (Some(id), dir, event) => {
                if let Some(s) = self.socket(ns, id) {
                    self.sync_socket(&s, ns);
                }
                if event != "connect" {
                    let what = match dir {
                        Direction::C2s => "event_received",
                        Direction::S2c => "event_sent",
                    };
                    self.send(
                        what,
                        vec![
                            json!(ns),
                            json!(id),
                            Value::Array(relayed()),
                            json!(now_iso()),
                        ],
                    );
                }
            }
            (None, Direction::S2c, _) => {
                let sockets = self.recipients(rec);
                self.count("packetsOut", None, sockets.len() as u64);
                let args = relayed();
                for s in sockets {
                    self.sync_socket(&s, ns);
                    self.send(
                        "event_sent",
                        vec![
                            json!(ns),
                            json!(s.id.to_string()),
                            Value::Array(args.clone()),
                            json!(now_iso()),
                        ],
                    );
                }
            }
            (None, Direction::C2s, _) => {}
        }
    }

    /// The sockets a broadcast record was addressed to, as of now.
    fn recipients(&self, rec: &EventRecord) -> Vec<SocketRef> {
        let Some(op) = self.io.of(rec.namespace.as_str()) else {
            return Vec::new();
        };
        if rec.rooms.is_empty() {
            op.sockets()
        } else {
            op.to(rec.rooms.clone()).sockets()
        }
    }

    fn stats(&mut self, server_id: &str, host: &str, started: Instant) -> Value {
        let mut namespaces = Vec::new();
        let (mut clients, mut polling) = (0usize, 0usize);
        let mut all = self.shared.namespaces.clone();
        all.push(self.admin_ns.clone());
        for ns in &all {
            let sockets = self
                .io
                .of(ns.as_str())
                .map(|op| op.sockets())
                .unwrap_or_default();
            clients += sockets.len();
            polling += sockets
                .iter()
                .filter(|s| transport_of(s) == "polling")
                .count();
            namespaces.push(json!({"name": ns, "socketsCount": sockets.len()}));
        }
        let events: Vec<Value> = std::mem::take(&mut self.aggregated)
            .into_iter()
            .map(|((timestamp, kind, sub), count)| {
                let mut e = json!({"timestamp": timestamp, "type": kind, "count": count});
                if let Some(sub) = sub {
                    e["subType"] = Value::String(sub);
                }
                e
            })
            .collect();
        json!({
            "serverId": server_id,
            "hostname": host,
            "pid": std::process::id(),
            "uptime": started.elapsed().as_secs_f64(),
            "clientsCount": clients,
            "pollingClientsCount": polling,
            "aggregatedEvents": events,
            "namespaces": namespaces,
        })
    }
}

/// Host name for `server_stats`; `serverId` adds the port so several gateways on
/// one machine stay apart.
pub(crate) fn server_identity(port: u16) -> (String, String) {
    let host = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_owned());
    (format!("{host}#{port}"), host)
}

/// Starts the task that sends `server_stats` and the live messages until aborted.
/// `rx` must be subscribed before the gateway accepts connections.
pub(crate) fn spawn(
    io: SocketIo,
    shared: Arc<Shared>,
    mut rx: broadcast::Receiver<EventRecord>,
    port: u16,
) -> Option<JoinHandle<()>> {
    let admin = shared.admin.clone()?;
    let (server_id, host) = server_identity(port);
    Some(tokio::spawn(async move {
        let mut w = Watcher {
            io,
            admin_ns: admin.namespace().to_owned(),
            development: admin.development(),
            shared,
            known: HashMap::new(),
            departed: HashSet::new(),
            aggregated: BTreeMap::new(),
            outbox: Vec::new(),
        };
        let mut stats = tokio::time::interval(STATS_EVERY);
        let mut sweep = tokio::time::interval(SWEEP);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stats.tick() => {
                    let s = w.stats(&server_id, &host, admin.started);
                    w.send("server_stats", vec![s]);
                }
                _ = sweep.tick(), if w.development => w.sweep(),
                _ = admin.wake.notified(), if w.development => w.sweep(),
                next = rx.recv() => match next {
                    Ok(rec) if rec.source == SOURCE => w.on_record(&rec),
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "admin watcher fell behind the bus");
                        if w.development {
                            w.sweep();
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
            w.flush().await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic() -> AdminConfig {
        AdminConfig::new(AdminLogin::Basic {
            username: "admin".into(),
            password_hash: bcrypt::hash("pw", 4).unwrap(),
        })
    }

    #[test]
    fn config_is_checked_before_binding() {
        assert!(basic().check(&["/".into()]).is_ok());
        let bad = AdminConfig::new(AdminLogin::Basic {
            username: "admin".into(),
            password_hash: "plain".into(),
        });
        assert!(bad.check(&["/".into()]).is_err());
        assert!(basic().check(&["/".into(), "/admin".into()]).is_err());
    }

    #[test]
    fn features_follow_mode_and_readonly() {
        let mut c = basic();
        assert!(c.features().contains(&"ALL_EVENTS"));
        assert!(c.features().contains(&"JOIN"));
        c.mode = AdminMode::Production;
        c.readonly = true;
        assert_eq!(c.features(), vec!["AGGREGATED_EVENTS"]);
    }

    #[tokio::test]
    async fn login_needs_the_password_or_a_real_session() {
        let a = AdminServer::new(basic());
        assert!(a
            .login(&json!({"username": "admin", "password": "no"}))
            .await
            .is_err());
        assert!(a
            .login(&json!({"username": "root", "password": "pw"}))
            .await
            .is_err());
        assert!(a.login(&json!({"username": "admin"})).await.is_err());
        assert!(a.login(&json!({"sessionId": "forged"})).await.is_err());
        let session = a
            .login(&json!({"username": "admin", "password": "pw"}))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            a.login(&json!({ "sessionId": session })).await.unwrap(),
            None
        );
        let open = AdminServer::new(AdminConfig::new(AdminLogin::Open));
        assert_eq!(open.login(&Value::Null).await.unwrap(), None);
    }
}
