//! The embedded gateway: a Socket.IO server (socketioxide on axum) that stands in for
//! a real one on the operator's machine.
//!
//! It binds to loopback unless told otherwise, authenticates handshakes, keeps
//! tenants' rooms apart, serves a small HTTP API on the same port and publishes every
//! event in and out on the engine's [`Bus`].

pub mod admin_server;
pub mod api_access;
pub mod args;
pub mod auth;
pub mod cluster;
pub mod error;
pub mod http_api;
pub mod inspect;
pub mod inspect_query;
pub(crate) mod order;
pub mod profiles;
pub mod rooms;
pub(crate) mod socket;
pub mod stats;
pub mod templates;
pub mod tls;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::serve::ListenerExt as _;
use serde_json::json;
use socketioxide::operators::BroadcastOperators;
use sockscope_protocol::{
    Direction, EmitRequest, GatewaySettings, InspectSnapshot, Profile, TemplateSend, TemplateSent,
    TemplateSet,
};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use auth::Authenticator;
pub use error::{Error, Result};
use sockscope_bus::{self as bus, Bus};

/// The adapter every gateway runs on: socketioxide-redis's, talking to Redis when
/// clustered and to nothing otherwise (see [`cluster`]). One type either way, so
/// the profiles' handlers are the same code in both modes.
pub(crate) type Adapter =
    socketioxide_redis::CustomRedisAdapter<socketioxide::adapter::Emitter, cluster::Backplane>;
/// The gateway's Socket.IO server.
pub(crate) type SocketIo = socketioxide::SocketIo<Adapter>;
/// A socket of this node.
pub(crate) type SocketRef = socketioxide::extract::SocketRef<Adapter>;
/// The ack callback of a client event.
pub(crate) type AckSender = socketioxide::extract::AckSender<Adapter>;
/// A room or namespace target.
pub(crate) type Target = BroadcastOperators<Adapter>;

/// How often a clustered node counts the other nodes' sockets.
pub const CENSUS_EVERY: Duration = Duration::from_millis(250);

/// Counts the other nodes' sockets per namespace, for [`GatewayHandle::namespace_sockets`].
fn spawn_census(shared: Arc<Shared>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(CENSUS_EVERY).await;
            let Some(io) = shared.io() else { return };
            if !shared.clustered() {
                continue;
            }
            for ns in &shared.namespaces {
                let Some(op) = io.of(ns) else { continue };
                let Ok(all) = op.fetch_sockets().await else {
                    continue;
                };
                let remote = all
                    .iter()
                    .filter(|s| s.data().server_id.to_string() != shared.node_id)
                    .count();
                if let Ok(mut counts) = shared.remote_counts.lock() {
                    counts.insert(ns.clone(), remote);
                }
            }
        }
    })
}

/// The `source` of every record the embedded gateway publishes.
pub const SOURCE: &str = "gateway";

/// How long `stop` waits for in-flight HTTP requests before cutting them off.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// What every handler of a running gateway shares.
pub(crate) struct Shared {
    pub(crate) bus: Bus,
    pub(crate) auth: Authenticator,
    pub(crate) namespaces: Vec<String>,
    pub(crate) settings: GatewaySettings,
    /// The server itself, for handlers and timers that emit to rooms. Cleared on stop
    /// (the server holds `Shared` as state, so this would otherwise be a cycle).
    io: RwLock<Option<SocketIo>>,
    /// Per-profile bookkeeping (entity owners, running simulations, plain-WS clients).
    pub(crate) state: ProfileState,
    /// The Admin UI namespace, when `serve --admin` asked for it.
    pub(crate) admin: Option<Arc<admin_server::AdminServer>>,
    /// The cluster's Redis link, when clustered.
    pub(crate) cluster: Option<Arc<cluster::Link>>,
    /// This node's id (the Socket.IO server id the adapter knows it by).
    pub(crate) node_id: String,
    /// Sockets per namespace on the other nodes, as last counted (clustered only).
    remote_counts: Mutex<HashMap<String, usize>>,
}

impl Shared {
    pub(crate) fn io(&self) -> Option<SocketIo> {
        self.io.read().ok().and_then(|io| io.clone())
    }

    /// The cluster link while it is up.
    pub(crate) fn live_link(&self) -> Option<&cluster::Link> {
        self.cluster.as_deref().filter(|c| c.lost().is_none())
    }

    /// Whether broadcasts go to the other nodes: clustered and Redis not lost.
    fn clustered(&self) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.lost().is_none())
    }

    /// `target` as this gateway reaches it: every node's sockets when clustered,
    /// this process's otherwise (the adapter then never touches its backplane).
    pub(crate) fn scope(&self, target: Target) -> Target {
        if self.clustered() {
            target
        } else {
            target.local()
        }
    }

    /// Sends `event(data)` to `target` (already [`scope`](Self::scope)d). When the
    /// hop to the other nodes fails, Redis is marked lost and this node's sockets
    /// still get the event.
    pub(crate) async fn broadcast<T: serde::Serialize + ?Sized>(
        &self,
        target: &Target,
        event: &str,
        data: &T,
    ) -> std::result::Result<(), socketioxide::BroadcastError> {
        match target.clone().emit(event, data).await {
            Err(socketioxide::BroadcastError::Adapter(error)) if self.cluster.is_some() => {
                if let Some(link) = &self.cluster {
                    link.mark_lost(&self.bus, &self.node_id, &error.to_string());
                }
                target.clone().local().emit(event, data).await
            }
            other => other,
        }
    }

    /// How many sockets `target` reaches: on every node when clustered (asked over
    /// Redis), else (or when that fails) `here`, this node's count.
    pub(crate) async fn recipients(&self, target: &Target, here: usize) -> usize {
        if self.clustered() {
            match target.clone().fetch_sockets().await {
                Ok(all) => return all.len(),
                Err(error) => {
                    tracing::debug!(%error, "cannot count the cluster's sockets; counting this node's")
                }
            }
        }
        here
    }

    /// [`broadcast`](Self::broadcast)s and counts the recipients
    /// ([`recipients`](Self::recipients)) at once, so a cluster's count costs no
    /// extra round trip. Returns this node's recipients (for their counters) and
    /// the count.
    pub(crate) async fn broadcast_counted<T: serde::Serialize + ?Sized>(
        &self,
        target: &Target,
        event: &str,
        data: &T,
    ) -> std::result::Result<(Vec<SocketRef>, usize), socketioxide::BroadcastError> {
        let sockets = target.clone().local().sockets();
        let here = sockets.len();
        let (sent, count) = tokio::join!(
            self.broadcast(target, event, data),
            self.recipients(target, here)
        );
        sent.map(|()| (sockets, count))
    }
}

/// Bookkeeping some profiles keep while the gateway runs.
#[derive(Default)]
pub(crate) struct ProfileState {
    /// Owner tenant of each entity id (analytics: first subscriber's tenant).
    pub(crate) owners: Mutex<HashMap<String, String>>,
    /// Keys of running timers (metric tickers, workflow runs), so each runs once.
    pub(crate) timers: Mutex<HashSet<String>>,
    /// Plain WebSocket clients (jac).
    pub(crate) jac: profiles::jac::Clients,
    /// Held across a broadcast's emit and its publish, so room and namespace
    /// broadcasts are recorded in the order they were sent (see `order`).
    pub(crate) broadcasts: tokio::sync::Mutex<()>,
}

impl ProfileState {
    /// Marks `key` as running; false if it already was.
    pub(crate) fn start_timer(&self, key: &str) -> bool {
        self.timers
            .lock()
            .map(|mut t| t.insert(key.to_owned()))
            .unwrap_or(false)
    }

    pub(crate) fn end_timer(&self, key: &str) {
        if let Ok(mut t) = self.timers.lock() {
            t.remove(key);
        }
    }
}

/// A cheap handle for acting on a running gateway (emit, inspect, count).
#[derive(Clone)]
pub struct GatewayHandle {
    io: SocketIo,
    shared: Arc<Shared>,
    access: api_access::ApiAccess,
}

impl GatewayHandle {
    /// Sends one event to a room of a namespace, or to all of it, and publishes it on
    /// the bus. Returns how many sockets it was addressed to.
    pub async fn emit(&self, req: &EmitRequest) -> Result<usize> {
        let ns = req.namespace.as_deref().unwrap_or("/");
        let op = self
            .io
            .of(ns)
            .ok_or_else(|| Error::UnknownNamespace(ns.to_owned()))?;
        if let Some(t) = &req.tenant {
            rooms::check_tenant(t)?;
        }
        // `channel` names a room exactly (gxp channels, steedos rooms); `room` is a
        // client-side name scoped by tenant.
        let real_room = match (&req.channel, &req.room) {
            (Some(channel), _) => Some(profiles::delivery_room(
                self.shared.settings.profile,
                req.tenant.as_deref(),
                channel,
            )),
            (None, Some(r)) => Some(rooms::client_room(req.tenant.as_deref(), r)),
            (None, None) => None,
        };
        let target = self.shared.scope(match &real_room {
            Some(room) => op.to(profiles::delivery_targets(
                self.shared.settings.profile,
                room,
            )),
            None => op,
        });
        let _turn = self.shared.state.broadcasts.lock().await;
        let (sockets, recipients) = self
            .shared
            .broadcast_counted(&target, &req.event, &req.data)
            .await
            .map_err(|e| Error::Emit(e.to_string()))?;
        socket::count_out(&sockets);
        let mut rec = bus::record(
            SOURCE,
            Direction::S2c,
            ns,
            &req.event,
            json!([req.data.clone()]),
        );
        rec.rooms = real_room.into_iter().collect();
        rec.tenant = req.tenant.clone();
        self.shared.bus.publish(rec);
        tracing::debug!(namespace = ns, event = %req.event, recipients, "emitted");
        Ok(recipients)
    }

    /// Sends an event with the argument list `args` (one Socket.IO argument each) to
    /// every socket in any of `rooms` — full room names as the gateway names them,
    /// e.g. `tenant:acme:orders`, each widened as the profile delivers it — or, with
    /// no rooms, to the whole namespace; publishes it on the bus with those rooms and
    /// `tenant`. Server-side replay re-emits recorded events through this. Returns
    /// how many sockets it was addressed to.
    pub async fn emit_to_rooms(
        &self,
        ns: &str,
        rooms: &[String],
        tenant: Option<&str>,
        event: &str,
        args: &[serde_json::Value],
    ) -> Result<usize> {
        if self.plain_websocket_path() == Some(ns) {
            return Ok(self.replay_plain(event, args));
        }
        let op = self
            .io
            .of(ns)
            .ok_or_else(|| Error::UnknownNamespace(ns.to_owned()))?;
        let target = if rooms.is_empty() {
            op
        } else {
            let mut targets: Vec<String> = Vec::with_capacity(rooms.len());
            for room in rooms {
                let room = profiles::upgrade_recorded(self.shared.settings.profile, room);
                for t in profiles::delivery_targets(self.shared.settings.profile, &room) {
                    if !targets.contains(&t) {
                        targets.push(t);
                    }
                }
            }
            op.to(targets)
        };
        let target = self.shared.scope(target);
        let _turn = self.shared.state.broadcasts.lock().await;
        let (sockets, recipients) = self
            .shared
            .broadcast_counted(&target, event, &ArgList(args))
            .await
            .map_err(|e| Error::Emit(e.to_string()))?;
        socket::count_out(&sockets);
        let mut rec = bus::record(
            SOURCE,
            Direction::S2c,
            ns,
            event,
            serde_json::Value::Array(args.to_vec()),
        );
        rec.rooms = rooms.to_vec();
        rec.tenant = tenant.map(str::to_owned);
        self.shared.bus.publish(rec);
        tracing::debug!(namespace = ns, event, rooms = ?rooms, recipients, "emitted to rooms");
        Ok(recipients)
    }

    /// The namespaces this gateway serves.
    pub fn namespaces(&self) -> &[String] {
        &self.shared.namespaces
    }

    /// Sockets connected to namespace `ns` right now (0 when it is not served); in a
    /// cluster, every node's (the other nodes' as counted within the last
    /// [`CENSUS_EVERY`]).
    /// The plain WebSocket path counts its clients.
    pub fn namespace_sockets(&self, ns: &str) -> usize {
        if self.plain_websocket_path() == Some(ns) {
            return self.shared.state.jac.len();
        }
        let here = self.io.of(ns).map_or(0, |op| op.sockets().len());
        let there = if self.shared.clustered() {
            self.shared
                .remote_counts
                .lock()
                .ok()
                .and_then(|c| c.get(ns).copied())
                .unwrap_or(0)
        } else {
            0
        };
        here + there
    }

    /// The plain WebSocket endpoint this gateway serves (`/websocket` with the `jac`
    /// profile), which server-side replay treats as one more namespace.
    pub fn plain_websocket_path(&self) -> Option<&'static str> {
        (self.shared.settings.profile == Profile::Jac).then_some(profiles::jac::PATH)
    }

    /// A recorded plain WebSocket message (the record's one argument) to every
    /// plain WebSocket client, published like the profile's own messages.
    fn replay_plain(&self, event: &str, args: &[serde_json::Value]) -> usize {
        let msg = match args {
            [one] => one.clone(),
            many => serde_json::Value::Array(many.to_vec()),
        };
        let n = self.shared.state.jac.broadcast(&msg);
        let rec = bus::record(
            SOURCE,
            Direction::S2c,
            profiles::jac::PATH,
            event,
            json!([msg]),
        );
        self.shared.bus.publish(rec);
        tracing::debug!(event, recipients = n, "replayed to plain websocket clients");
        n
    }

    /// The templates of this gateway's folder (the shipped ones when it has none).
    pub fn templates(&self) -> Result<TemplateSet> {
        crate::templates::load(self.shared.settings.templates_dir.as_deref())
    }

    /// Sends a template's event on its channel (the identifier, when given, replaces
    /// the channel's last segment; `data`, when given, replaces the template's).
    pub async fn send_template(&self, req: &TemplateSend) -> Result<TemplateSent> {
        let this = self.clone();
        let set = sockscope_bus::offload::blocking(move || this.templates()).await?;
        let template = crate::templates::find(&set, &req.event)?;
        let channel = match &req.identifier {
            Some(id) => crate::templates::with_identifier(&template.channel, id),
            None => template.channel.clone(),
        };
        let emit = EmitRequest {
            namespace: req.namespace.clone(),
            event: template.event.clone(),
            data: req.data.clone().unwrap_or_else(|| template.data.clone()),
            room: None,
            tenant: req.tenant.clone(),
            channel: Some(channel.clone()),
        };
        let delivered = self.emit(&emit).await?;
        Ok(TemplateSent {
            event: emit.event,
            channel,
            delivered,
        })
    }

    /// Namespaces -> rooms -> sockets of this node, as of now.
    pub fn inspect(&self) -> InspectSnapshot {
        let mut snap = crate::inspect::snapshot(&self.io, &self.shared.namespaces);
        if self.shared.settings.profile == Profile::Jac {
            snap.namespaces.push(self.shared.state.jac.snapshot());
        }
        if self.shared.cluster.is_some() {
            crate::inspect::mark_node(&mut snap, &self.shared.node_id);
        }
        snap
    }

    /// Namespaces -> rooms -> sockets of every node of the cluster (this node's
    /// alone when not clustered, or when Redis is gone).
    pub async fn inspect_cluster(&self) -> InspectSnapshot {
        let mut snap = self.inspect();
        if self.shared.clustered() {
            crate::inspect::add_remote(
                &mut snap,
                &self.io,
                &self.shared.namespaces,
                &self.shared.node_id,
            )
            .await;
        }
        snap
    }

    /// This node's id, when the gateway is clustered.
    pub fn node_id(&self) -> Option<&str> {
        self.shared
            .cluster
            .as_ref()
            .map(|_| self.shared.node_id.as_str())
    }

    /// The cluster link's state, when clustered: `connected to URL` or
    /// `redis lost: WHY`.
    pub fn cluster_state(&self) -> Option<String> {
        self.shared.cluster.as_ref().map(|c| match c.lost() {
            Some(why) => format!("redis lost ({}): {why}", c.url()),
            None => format!("connected to {}", c.url()),
        })
    }

    /// Connected sockets over every namespace, plus plain WebSocket clients.
    pub fn socket_count(&self) -> usize {
        let sio: usize = self
            .shared
            .namespaces
            .iter()
            .filter_map(|ns| self.io.of(ns))
            .map(|op| op.sockets().len())
            .sum();
        sio + self.shared.state.jac.len()
    }

    /// The profile this gateway emulates.
    pub fn profile(&self) -> Profile {
        self.shared.settings.profile
    }

    /// Whether handshake tokens are verified against a key (auth on).
    pub fn identities_verified(&self) -> bool {
        self.shared.auth.required()
    }

    /// The HTTP API's token, when the API needs one.
    pub fn api_token(&self) -> Option<&str> {
        self.access.token()
    }
}

/// An argument list that socketioxide sends as separate arguments: it serializes as
/// a tuple, which socketioxide expands, where a `Vec` or JSON array would be sent as
/// one array argument.
pub(crate) struct ArgList<'a>(pub(crate) &'a [serde_json::Value]);

impl serde::Serialize for ArgList<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = serializer.serialize_tuple(self.0.len())?;
        for v in self.0 {
            t.serialize_element(v)?;
        }
        t.end()
    }
}

/// A running embedded gateway. Dropping it without [`Gateway::stop`] leaves the
/// server task running until the runtime ends.
pub struct Gateway {
    addr: SocketAddr,
    secure: bool,
    /// The generated API token's file, removed on stop.
    token_file: Option<std::path::PathBuf>,
    handle: GatewayHandle,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<()>,
    /// The admin namespace's stats and live-change task.
    admin_task: Option<JoinHandle<()>>,
    /// Watch the cluster's Redis link and count the other nodes' sockets, when clustered.
    watchers: Vec<JoinHandle<()>>,
}

impl Gateway {
    /// Binds and starts serving. Fails with a message naming the address when the
    /// port is taken, and before binding when the settings are invalid.
    pub async fn start(settings: &GatewaySettings, bus: Bus) -> Result<Self> {
        Self::start_with_admin(settings, bus, None).await
    }

    /// [`Gateway::start`], also serving the Admin UI protocol on `admin`'s namespace
    /// when given (see [`admin`]).
    pub async fn start_with_admin(
        settings: &GatewaySettings,
        bus: Bus,
        admin: Option<admin_server::AdminConfig>,
    ) -> Result<Self> {
        let ip: IpAddr = match settings.host.as_str() {
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            host => host
                .parse()
                .map_err(|_| Error::BadHost(settings.host.clone()))?,
        };
        let profile = settings.profile;
        let namespaces = namespaces(profiles::namespaces(profile), &settings.namespaces)?;
        if let Some(a) = &admin {
            a.check(&namespaces)?;
        }
        let auth =
            Authenticator::new(&settings.auth, &settings.user_claim, &settings.tenant_claim)?;
        // Redis is reached before the port is taken: a node that cannot join its
        // cluster says so and does not serve alone by mistake.
        let (link, backplane) = match settings.redis.as_deref() {
            Some(url) => {
                let (link, driver, watch) = cluster::Link::connect(url).await?;
                (Some((link, watch)), cluster::Backplane::Redis(driver))
            }
            None => (None, cluster::Backplane::Alone),
        };
        let config = socketioxide_redis::RedisAdapterConfig::new()
            .with_request_timeout(cluster::REQUEST_TIMEOUT);
        let io_config = socketioxide::SocketIoConfig::default();
        let node_id = io_config.server_id.to_string();
        let shared = Arc::new(Shared {
            bus,
            auth,
            namespaces,
            settings: settings.clone(),
            io: RwLock::new(None),
            state: ProfileState::default(),
            admin: admin.map(|a| Arc::new(admin_server::AdminServer::new(a))),
            cluster: link.as_ref().map(|(l, _)| l.clone()),
            node_id: node_id.clone(),
            remote_counts: Mutex::new(HashMap::new()),
        });
        let builder = socketioxide::SocketIo::builder()
            .with_config(io_config)
            .with_adapter::<Adapter>(socketioxide_redis::RedisAdapterCtr::new_with_driver(
                backplane, config,
            ))
            .with_state(shared.clone());
        // msgpack for `socket.io-msgpack-parser` front ends; the gateway's own
        // records are JSON either way (socketioxide hands handlers decoded values).
        let builder = match settings.parser {
            sockscope_protocol::Parser::Json => builder,
            sockscope_protocol::Parser::Msgpack => {
                builder.with_parser(socketioxide::ParserConfig::msgpack())
            }
        };
        let (layer, io) = builder.build_layer();
        if let Ok(mut slot) = shared.io.write() {
            *slot = Some(io.clone());
        }
        for ns in &shared.namespaces {
            profiles::register(profile, &io, ns)
                .await
                .map_err(|error| not_joined(settings, format!("namespace {ns}: {error}")))?;
        }
        if let Some(a) = &shared.admin {
            admin_server::register(&io, a)
                .await
                .map_err(|error| not_joined(settings, format!("admin namespace: {error}")))?;
        }
        if let Err(error) = profiles::refuse_unknown(&io) {
            // socketioxide still refuses unknown namespaces, unrecorded.
            tracing::warn!(%error, "cannot record handshakes to unknown namespaces");
        }
        // Subscribed before the first connection can be accepted.
        let admin_rx = shared.admin.as_ref().map(|_| shared.bus.subscribe());
        let watchers: Vec<JoinHandle<()>> = match link {
            Some((link, watch)) => vec![
                link.watch(watch, shared.bus.clone(), node_id),
                spawn_census(shared.clone()),
            ],
            None => Vec::new(),
        };
        let access =
            api_access::ApiAccess::new(ip, shared.auth.required(), settings.api_token.as_deref());
        let handle = GatewayHandle {
            io,
            shared: shared.clone(),
            access: access.clone(),
        };
        // The operator's API behind the token check; the profile's client endpoints
        // (jac's WebSocket) and Socket.IO itself authenticate their own clients.
        let api =
            profiles::http(profile, http_api::router(handle.clone()), handle.clone()).route_layer(
                axum::middleware::from_fn_with_state(access.clone(), api_access::require),
            );
        let app = api
            .merge(profiles::client_routes(profile, handle.clone()))
            .layer(layer)
            .layer(api_access::cors(&settings.cors_origins));

        // Certificate problems are reported before the port is taken.
        let tls = settings.tls.as_ref().map(tls::config).transpose()?;
        let wanted = SocketAddr::new(ip, settings.port);
        let listener = TcpListener::bind(wanted)
            .await
            .map_err(|source| Error::Bind {
                addr: wanted.to_string(),
                source,
            })?;
        let addr = listener.local_addr()?;
        let token_file = match (settings.api_token.as_deref(), access.token()) {
            (None, Some(generated)) => match api_access::write_token_file(addr.port(), generated) {
                Ok(path) => Some(path),
                Err(error) => {
                    tracing::warn!(%error, "cannot write the API token file; pass --api-token to the CLI");
                    None
                }
            },
            _ => None,
        };
        let admin_task = admin_rx
            .and_then(|rx| admin_server::spawn(handle.io.clone(), shared.clone(), rx, addr.port()));
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.await;
            };
            let result = match tls {
                Some(cfg) => match tls::TlsListener::new(listener, cfg) {
                    Ok(l) => {
                        // A no-op tap so axum's connect info (the peer address, for
                        // the admin namespace) applies to the TLS listener too.
                        let l = l.tap_io(|_| {});
                        axum::serve(l, app.into_make_service_with_connect_info::<SocketAddr>())
                            .with_graceful_shutdown(stopped)
                            .await
                    }
                    Err(e) => Err(e),
                },
                None => {
                    // Nagle off: a small emit goes out now instead of waiting for the
                    // ACK of the one before (up to the peer's 40 ms delayed ACK), which
                    // was the tail of replay's delivery error at a real client.
                    let listener = listener.tap_io(|tcp| {
                        if let Err(error) = tcp.set_nodelay(true) {
                            tracing::debug!(%error, "cannot set TCP_NODELAY");
                        }
                    });
                    axum::serve(
                        listener,
                        app.into_make_service_with_connect_info::<SocketAddr>(),
                    )
                    .with_graceful_shutdown(stopped)
                    .await
                }
            };
            if let Err(error) = result {
                tracing::error!(%error, "gateway server failed");
            }
        });
        tracing::info!(%addr, %profile, auth = shared.auth.required(), api_protected = access.required(), namespaces = ?shared.namespaces, node = %shared.node_id, clustered = shared.cluster.is_some(), "gateway listening");
        Ok(Self {
            watchers,
            addr,
            secure: settings.tls.is_some(),
            token_file,
            handle,
            shutdown,
            server,
            admin_task,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://HOST:PORT` or `http://HOST:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn handle(&self) -> &GatewayHandle {
        &self.handle
    }

    /// Where the generated API token was written, if it was.
    pub fn token_file(&self) -> Option<&std::path::Path> {
        self.token_file.as_deref()
    }

    /// Disconnects every socket, stops accepting connections and waits briefly for
    /// the server to wind down.
    pub async fn stop(self) {
        if let Some(task) = &self.admin_task {
            task.abort();
        }
        for watcher in &self.watchers {
            watcher.abort();
        }
        self.handle.io.close().await;
        if let Ok(mut slot) = self.handle.shared.io.write() {
            *slot = None;
        }
        let _ = self.shutdown.send(());
        if let Some(path) = &self.token_file {
            let _ = std::fs::remove_file(path);
        }
        let mut server = self.server;
        if tokio::time::timeout(STOP_GRACE, &mut server).await.is_err() {
            server.abort();
        }
        tracing::info!(addr = %self.addr, "gateway stopped");
    }
}

/// The profile's namespaces plus the configured ones, each checked and listed once.
fn namespaces(base: &[&str], extra: &[String]) -> Result<Vec<String>> {
    let mut all: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
    for ns in extra {
        if !ns.starts_with('/') || ns.chars().any(char::is_whitespace) {
            return Err(Error::BadNamespace(ns.clone()));
        }
        if !all.contains(ns) {
            all.push(ns.clone());
        }
    }
    Ok(all)
}

/// A namespace the cluster's backplane would not join, named with the Redis URL (its
/// password hidden).
fn not_joined(settings: &GatewaySettings, reason: String) -> Error {
    Error::Cluster {
        url: settings
            .redis
            .as_deref()
            .map(cluster::display_url)
            .unwrap_or_default(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_always_include_root_once() {
        assert_eq!(
            namespaces(&["/"], &["/a".into(), "/".into(), "/a".into()]).unwrap(),
            vec!["/", "/a"]
        );
        assert!(matches!(
            namespaces(&["/"], &["admin".into()]),
            Err(Error::BadNamespace(_))
        ));
    }
}
