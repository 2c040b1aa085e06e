//! Sockscope's engine: every behaviour of the product, with no GUI dependency, so the
//! desktop app and the `sockscope` CLI are thin front ends over the same code.
//!
//! This crate is the facade. The layers live in their own crates, each with its own
//! error enum, and are re-exported here under their old paths:
//!
//! ```text
//! protocol          shared types (no tokio, no SQLite)
//!   bus             the event bus, redaction, limits, offload
//!     codec         Engine.IO/Socket.IO packets and wire framing (fuzzed alone)
//!       store       SQLite sessions, recorder, JSON Lines, HAR, saved targets
//!       gateway     the embedded server, profiles, admin_server, inspect, templates
//!       client      connections, keychain, admin_client (uses store for saved targets)
//!         engine    this facade: replay, simulate, contracts, recording
//! ```
//!
//! [`Engine`] owns the parts: the event [`bus::Bus`], the embedded
//! [`gateway::Gateway`], the open client [`connection::Connections`], the recordings
//! [`store::Store`] and the recording in progress, replay and simulation.

pub use sockscope_bus as bus;
pub use sockscope_bus::{limits, offload, redact};
pub use sockscope_client as client;
pub use sockscope_client::{admin_client, connection, keychain};
pub use sockscope_codec as codec;
pub use sockscope_gateway as gateway;
pub use sockscope_gateway::{inspect, templates};
pub use sockscope_proxy as proxy;

pub mod contract;
pub mod error;
pub mod metrics;
pub mod recording;
pub mod replay;
pub mod simulate;
pub mod store;
pub mod usecase;

use std::path::Path;

use sockscope_protocol::{
    ConnectRequest, ConnectionEmit, ConnectionInfo, EmitReply, EmitRequest, EventRecord,
    GatewaySettings, GatewayStatus, InspectSnapshot, RecordRequest, RecordingStatus, SessionInfo,
    TargetProfile, TemplateSend, TemplateSent, TemplateSet,
};
use tokio::sync::Mutex;

use connection::Connections;
use recording::Recording;
use store::{RecorderStats, Store};

pub use bus::Bus;
pub use error::{Error, Result};
pub use gateway::{Gateway, GatewayHandle};

/// The one handle a front end holds.
#[derive(Default)]
pub struct Engine {
    bus: Bus,
    gateway: Mutex<Option<RunningGateway>>,
    connections: Connections,
    store: Option<Store>,
    recording: Mutex<Option<Recording>>,
    server_replay: Mutex<Option<replay::server::ServerReplayHandle>>,
    replay: std::sync::Arc<std::sync::Mutex<sockscope_protocol::ReplayState>>,
    simulation: Mutex<Option<simulate::job::SimJob>>,
    proxy: Mutex<Option<proxy::Proxy>>,
}

struct RunningGateway {
    gateway: Gateway,
    /// Bus position when this gateway started, so its event count starts at zero.
    events_at_start: u64,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine whose recordings and saved targets live in `store`.
    pub fn with_store(store: Store) -> Self {
        Self {
            store: Some(store),
            ..Self::default()
        }
    }

    pub fn store(&self) -> Result<&Store> {
        self.store.as_ref().ok_or(Error::NoStore)
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Starts the embedded gateway; fails if it is already running.
    pub async fn start_gateway(&self, settings: &GatewaySettings) -> Result<GatewayStatus> {
        self.start_gateway_with_admin(settings, None).await
    }

    /// [`Engine::start_gateway`], also serving the Admin UI protocol (`serve --admin`).
    pub async fn start_gateway_with_admin(
        &self,
        settings: &GatewaySettings,
        admin: Option<gateway::admin_server::AdminConfig>,
    ) -> Result<GatewayStatus> {
        let mut slot = self.gateway.lock().await;
        if let Some(running) = slot.as_ref() {
            return Err(Error::AlreadyRunning(running.gateway.addr()));
        }
        // A templates folder that cannot be read is refused now, not answered with
        // a 500 on the first template request.
        if let Some(dir) = &settings.templates_dir {
            templates::load_dir(Path::new(dir))?;
        }
        let gateway = Gateway::start_with_admin(settings, self.bus.clone(), admin).await?;
        *slot = Some(RunningGateway {
            gateway,
            events_at_start: self.bus.published(),
        });
        Ok(status_of(slot.as_ref(), &self.bus))
    }

    /// Stops the embedded gateway if it runs; stopping a stopped gateway is a no-op.
    pub async fn stop_gateway(&self) -> GatewayStatus {
        // A server-side replay has nobody to emit to once the gateway is gone.
        if let Some(replay) = self.server_replay.lock().await.as_ref() {
            let _ = replay.stop();
        }
        let running = self.gateway.lock().await.take();
        if let Some(running) = running {
            running.gateway.stop().await;
        }
        GatewayStatus::default()
    }

    /// Starts the capture proxy (`sockscope proxy`, the Proxy panel); its clients'
    /// records go on this engine's bus.
    pub async fn proxy_start(
        &self,
        req: &sockscope_protocol::ProxyRequest,
    ) -> Result<sockscope_protocol::ProxyStatus> {
        let mut slot = self.proxy.lock().await;
        if let Some(p) = slot.as_ref() {
            return Err(Error::ProxyRunning(p.url().to_owned()));
        }
        let config = usecase::proxy::config(req)?;
        let p = proxy::Proxy::start(config, self.bus.clone()).await?;
        let status = p.status();
        *slot = Some(p);
        Ok(status)
    }

    /// Stops the capture proxy; its open clients are ended (and recorded as such).
    pub async fn proxy_stop(&self) -> sockscope_protocol::ProxyStatus {
        if let Some(p) = self.proxy.lock().await.take() {
            p.stop().await;
        }
        sockscope_protocol::ProxyStatus::default()
    }

    /// The running proxy and its clients (`running: false` when stopped).
    pub async fn proxy_status(&self) -> sockscope_protocol::ProxyStatus {
        match self.proxy.lock().await.as_ref() {
            Some(p) => p.status(),
            None => sockscope_protocol::ProxyStatus::default(),
        }
    }

    pub async fn gateway_status(&self) -> GatewayStatus {
        status_of(self.gateway.lock().await.as_ref(), &self.bus)
    }

    /// A handle on the running gateway, for emitting or inspecting.
    pub async fn gateway(&self) -> Result<GatewayHandle> {
        self.gateway
            .lock()
            .await
            .as_ref()
            .map(|r| r.gateway.handle().clone())
            .ok_or(Error::NotRunning)
    }

    pub async fn inspect(&self) -> Result<InspectSnapshot> {
        Ok(self.gateway().await?.inspect())
    }

    pub async fn emit(&self, req: &EmitRequest) -> Result<usize> {
        Ok(self.gateway().await?.emit(req).await?)
    }

    /// The Inspector's action on a socket or a room of the embedded gateway.
    pub async fn admin_action(
        &self,
        req: &sockscope_protocol::AdminActionRequest,
    ) -> Result<sockscope_protocol::AdminActionReply> {
        Ok(self.gateway().await?.admin_action(req).await?)
    }

    /// The running gateway's templates, or the shipped ones when it is stopped.
    pub async fn templates(&self) -> Result<TemplateSet> {
        match self.gateway().await {
            Ok(g) => Ok(offload::blocking(move || g.templates()).await?),
            Err(_) => Ok(templates::shipped()),
        }
    }

    pub async fn send_template(&self, req: &TemplateSend) -> Result<TemplateSent> {
        Ok(self.gateway().await?.send_template(req).await?)
    }
}

/// Client connections, recordings and saved targets.
impl Engine {
    pub async fn connect(&self, req: &ConnectRequest) -> Result<ConnectionInfo> {
        Ok(self.connections.open(req, &self.bus).await?)
    }

    pub async fn disconnect(&self, id: u64) -> Result<()> {
        Ok(self.connections.close(id).await?)
    }

    pub async fn connections(&self) -> Vec<ConnectionInfo> {
        self.connections.list().await
    }

    pub async fn connection_emit(&self, req: &ConnectionEmit) -> Result<EmitReply> {
        Ok(self.connections.emit(req).await?)
    }

    /// Starts recording the bus (or one source of it) into a new session.
    pub async fn record_start(&self, req: &RecordRequest) -> Result<RecordingStatus> {
        let mut slot = self.recording.lock().await;
        if let Some(r) = slot.as_ref() {
            return Err(Error::AlreadyRecording(r.status().name));
        }
        let name = req.name.trim();
        let req = RecordRequest {
            name: if name.is_empty() {
                "recording".to_owned()
            } else {
                name.to_owned()
            },
            source: req.source.clone().filter(|s| !s.is_empty()),
        };
        let (store, bus) = (self.store()?.clone(), self.bus.clone());
        let rec = offload::blocking(move || Recording::start(&store, &bus, &req)).await?;
        let status = rec.status();
        *slot = Some(rec);
        Ok(status)
    }

    /// Stops the recording in progress; everything it received is committed.
    pub async fn record_stop(&self) -> Result<RecorderStats> {
        let rec = self
            .recording
            .lock()
            .await
            .take()
            .ok_or(Error::NotRecording)?;
        rec.stop().await
    }

    pub async fn recording_status(&self) -> RecordingStatus {
        self.recording
            .lock()
            .await
            .as_ref()
            .map(Recording::status)
            .unwrap_or_default()
    }

    /// Replays a session against a target (client side) to its drift report.
    pub async fn replay(
        &self,
        req: &sockscope_protocol::ReplayRequest,
    ) -> Result<sockscope_protocol::DriftReport> {
        replay::job::run_tracked(self.store()?, req, &self.replay).await
    }

    /// Starts a simulation in the background (one at a time).
    pub async fn simulate_start(
        &self,
        req: &sockscope_protocol::SimulateRequest,
    ) -> Result<sockscope_protocol::SimulateState> {
        let mut slot = self.simulation.lock().await;
        simulate::job::ensure_idle(slot.as_ref())?;
        let job = simulate::job::SimJob::start(req)?;
        let state = job.state();
        *slot = Some(job);
        Ok(state)
    }

    pub async fn simulate_stop(&self) -> sockscope_protocol::SimulateState {
        let mut slot = self.simulation.lock().await;
        match slot.as_mut() {
            Some(job) => {
                job.stop();
                job.state()
            }
            None => sockscope_protocol::SimulateState::default(),
        }
    }

    pub async fn simulate_state(&self) -> sockscope_protocol::SimulateState {
        self.simulation
            .lock()
            .await
            .as_ref()
            .map(simulate::job::SimJob::state)
            .unwrap_or_default()
    }

    /// How far the running replay has got.
    pub fn replay_state(&self) -> sockscope_protocol::ReplayState {
        self.replay.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn sessions(&self) -> Result<Vec<SessionInfo>> {
        Ok(self.store()?.sessions()?)
    }

    pub fn session_events(&self, id: i64) -> Result<Vec<EventRecord>> {
        Ok(self.store()?.events(id)?)
    }

    /// At most `limit` events of session `id` from position `offset` (blocking: call
    /// it off the runtime).
    pub fn session_events_page(
        &self,
        id: i64,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<EventRecord>> {
        Ok(self.store()?.events_page(id, offset, limit)?)
    }

    pub fn delete_session(&self, id: i64) -> Result<()> {
        Ok(self.store()?.delete_session(id)?)
    }

    /// Writes session `id` to `path` as `format` (`jsonl` or `har`); returns the
    /// event count.
    pub fn export_session(&self, id: i64, path: &Path, format: &str) -> Result<usize> {
        let store = self.store()?;
        store.session(id)?;
        if format != "jsonl" && format != "har" {
            return Err(store::Error::BadFormat(format.to_owned()).into());
        }
        // A temporary file renamed when complete: a failure leaves no truncated file.
        Ok(sockscope_store::write_atomically(path, |mut out| {
            if format == "har" {
                store.export_har(id, &mut out)
            } else {
                store.export_jsonl(id, &mut out)
            }
        })?)
    }

    /// Imports a file as a new session (`format`, else from the extension); returns
    /// its id and event count.
    pub fn import_session(&self, path: &Path, format: Option<&str>) -> Result<(i64, usize)> {
        let store = self.store()?;
        let format = format.map(str::to_owned).unwrap_or_else(|| {
            match path.extension().and_then(|e| e.to_str()) {
                Some(e) if e.eq_ignore_ascii_case("har") => "har".to_owned(),
                _ => "jsonl".to_owned(),
            }
        });
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "import".to_owned());
        match format.as_str() {
            "har" => Ok(store.import_har(&name, path)?),
            "jsonl" => {
                let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
                Ok(store.import_jsonl(&name, std::io::BufReader::new(file))?)
            }
            _ => Err(store::Error::BadFormat(format).into()),
        }
    }

    /// Saved targets, each with whether the keychain holds its token.
    pub fn targets(&self) -> Result<Vec<TargetProfile>> {
        let mut all = self.store()?.targets()?;
        for t in &mut all {
            t.has_token = keychain::token(&t.name).ok().flatten().is_some();
        }
        Ok(all)
    }

    pub fn save_target(&self, target: &TargetProfile) -> Result<()> {
        Ok(self.store()?.save_target(target)?)
    }

    /// Forgets a saved target and its keychain token.
    pub fn delete_target(&self, name: &str) -> Result<()> {
        self.store()?.delete_target(name)?;
        Ok(keychain::delete_token(name)?)
    }
}

fn file_error(path: &Path, e: std::io::Error) -> Error {
    Error::File {
        path: path.display().to_string(),
        source: e,
    }
}

fn status_of(running: Option<&RunningGateway>, bus: &Bus) -> GatewayStatus {
    match running {
        None => GatewayStatus::default(),
        Some(r) => GatewayStatus {
            running: true,
            addr: Some(r.gateway.addr().to_string()),
            url: Some(r.gateway.url()),
            sockets: r.gateway.handle().socket_count(),
            events: bus.published().saturating_sub(r.events_at_start),
            identities_verified: r.gateway.handle().identities_verified(),
            api_protected: r.gateway.handle().api_token().is_some(),
            api_token_file: r.gateway.token_file().map(|p| p.display().to_string()),
            node_id: r.gateway.handle().node_id().map(str::to_owned),
            cluster: r.gateway.handle().cluster_state(),
        },
    }
}

/// Server-side replay: the embedded gateway re-emits a recorded session's server
/// events (see [`replay::server`]). One at a time; a finished one is replaced.
impl Engine {
    /// Starts replaying `req.session` through the running gateway.
    pub async fn replay_server_start(
        &self,
        req: &sockscope_protocol::ServerReplayRequest,
    ) -> Result<sockscope_protocol::ServerReplayStatus> {
        let opts = replay::server::ServerReplayOptions::from_request(req)?;
        let mut slot = self.server_replay.lock().await;
        if let Some(running) = slot.as_ref() {
            let status = running.status();
            if !status.phase.is_done() {
                return Err(Error::ReplayRunning(status.session));
            }
        }
        let (store, id) = (self.store()?.clone(), req.session);
        let events = offload::blocking(move || store.events(id)).await?;
        let handle = replay::server::start(self.gateway().await?, &events, opts)?;
        let status = handle.status();
        *slot = Some(handle);
        Ok(status)
    }

    async fn server_replay_handle(&self) -> Result<replay::server::ServerReplayHandle> {
        self.server_replay
            .lock()
            .await
            .clone()
            .ok_or(Error::ReplayNotRunning)
    }

    /// The handle of the latest server-side replay, for progress and controls.
    pub async fn replay_server(&self) -> Option<replay::server::ServerReplayHandle> {
        self.server_replay.lock().await.clone()
    }

    pub async fn replay_server_pause(&self) -> Result<()> {
        self.server_replay_handle().await?.pause()
    }

    pub async fn replay_server_resume(&self) -> Result<()> {
        self.server_replay_handle().await?.resume()
    }

    /// Makes event `index` of the plan the next one.
    pub async fn replay_server_seek(&self, index: u64) -> Result<()> {
        self.server_replay_handle().await?.seek(index)
    }

    pub async fn replay_server_stop(&self) -> Result<()> {
        self.server_replay_handle().await?.stop()
    }

    /// The latest server-side replay's progress (`idle` when none was started).
    pub async fn replay_server_status(&self) -> sockscope_protocol::ServerReplayStatus {
        self.server_replay
            .lock()
            .await
            .as_ref()
            .map(replay::server::ServerReplayHandle::status)
            .unwrap_or_default()
    }
}
