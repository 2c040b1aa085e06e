//! The simulator: many virtual Socket.IO clients running a [`Scenario`] against a
//! gateway, measuring connect, ack and delivery latency and throughput, so an
//! operator can see how a gateway (or the embedded emulation) holds up under
//! dashboard / workflow / widget / chat traffic.
//!
//! How a run goes:
//! - client `i` starts at `ramp * i / clients` after the run starts, connects
//!   (lightweight client, see [`client`]), runs the scenario's `setup` once, then its
//!   `steps` at `rate` iterations per second per client (the scenario's `rate`, else
//!   `--rate`, else 1/s; a slow iteration delays the next, there is no catch-up
//!   burst) until `duration` after the run's start; clients with nothing left to do
//!   stay connected and keep receiving until then. At the deadline every client
//!   leaves; steps in flight are cut off and not counted as failures.
//! - Every client either connects or fails, so `connected + failed == clients`.
//! - Per-client variables: `{{client}}` is the index, `{{tenant}}` cycles through
//!   the tenant list, `{{user}}` is `user-{client}`, `{{entity}}` is
//!   `{tenant}-entity-{n}` with `n` cycling through `entities` per tenant (so clients
//!   share entity rooms and the gateway fans out), `{{token}}` an HS256 JWT (`sub` =
//!   user, `tenantId` = tenant) signed with the JWT secret, and `{{iteration}}` the
//!   steps' iteration (0 in setup). Without a secret the token is signed with a
//!   random key: fine for gateways that read claims unverified, refused by ones that
//!   verify.
//! - A scenario with `"transport": "ws"` runs plain WebSocket clients
//!   ([`ws_client`], Jac-style JSON messages) instead; one with an `api` section also
//!   has the run itself POST to the gateway's HTTP API at its rate (templates for
//!   listening clients), counted as sent under `POST /path`.
//! - `embedded`: the scenario's profile is started in-process on `127.0.0.1:0` with
//!   an HS256 secret (the given one, else a random one), so the tokens are real and a
//!   run needs nothing else. It has its own event bus, apart from any [`crate::Engine`].

pub mod client;
pub mod ensure;
pub mod from_recording;
pub mod job;
pub mod merge;
pub mod report;
pub mod scenario;
pub mod shard;
pub mod ws_client;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sockscope_protocol::{
    AuthMode, GatewaySettings, Profile, SimulationProgress, SimulationReport,
};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::bus::Bus;
use crate::gateway::Gateway;
use crate::limits;
use crate::metrics::Metrics;
use crate::{Error, Result};
use client::{Client, Outcome};
use report::{Latency, Stats};
pub use scenario::{ApiDriver, Scenario, ScenarioTransport, Step, Think, Variables};
pub use shard::Shard;
use ws_client::WsClient;

/// Where the virtual clients connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A gateway's URL (`http://host:port`), or several separated by commas (the
    /// nodes of a cluster): clients are spread over them round-robin.
    Url(String),
    /// The scenario's profile, started in-process for the run.
    Embedded,
}

/// Everything a run needs besides the scenario.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    pub target: Target,
    pub clients: usize,
    /// Connects are spread evenly over this.
    pub ramp: Duration,
    /// From the run's start to when every client leaves.
    pub duration: Duration,
    /// Iterations of the scenario's `steps` per second per client.
    pub rate: Option<f64>,
    pub jwt_secret: Option<String>,
    pub tenants: Vec<String>,
    /// Distinct entities per tenant (`{{entity}}`).
    pub entities: usize,
    /// The embedded gateway's push interval (metric ticks, workflow steps).
    pub tick_ms: u64,
    pub connect_timeout: Duration,
    /// Extra roots, no checks, or a client certificate for `https://` targets.
    pub tls: crate::connection::TlsOptions,
    /// Bearer token for the scenario's `api` requests to a remote gateway (the
    /// embedded one's is known).
    pub api_token: Option<String>,
    /// Which part of `clients` this process runs (the whole run by default).
    pub shard: Shard,
    /// A wall-clock start every shard shares; `None` starts now.
    pub start_at: Option<std::time::SystemTime>,
    /// Where observations also go live (`--metrics`).
    pub metrics: Option<Arc<Metrics>>,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        Self {
            target: Target::Embedded,
            clients: 10,
            ramp: Duration::from_secs(1),
            duration: Duration::from_secs(10),
            rate: None,
            jwt_secret: None,
            tenants: vec!["acme".to_owned(), "globex".to_owned()],
            entities: 10,
            tick_ms: 1000,
            connect_timeout: Duration::from_secs(10),
            tls: crate::connection::TlsOptions::default(),
            api_token: None,
            shard: Shard::default(),
            start_at: None,
            metrics: None,
        }
    }
}

impl SimulateOptions {
    /// The checks a run makes before anything connects.
    pub fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::BadSimulation(m.to_owned()));
        let range = |r: std::result::Result<(), String>| r.map_err(Error::BadSimulation);
        range(limits::check_range("--clients", self.clients, 1, limits::MAX_CLIENTS).map(drop))?;
        if self.duration.is_zero() {
            return bad("--duration must be longer than 0");
        }
        range(limits::check_duration("--duration", self.duration).map(drop))?;
        range(limits::check_duration("--connect-timeout", self.connect_timeout).map(drop))?;
        if self.ramp >= self.duration {
            return bad("--ramp must be shorter than --duration");
        }
        if let Some(r) = self.rate {
            range(limits::check_f64("--rate", r, limits::MIN_RATE, limits::MAX_RATE).map(drop))?;
        }
        range(limits::check_range("--entities", self.entities, 1, limits::MAX_ENTITIES).map(drop))?;
        range(limits::check_range("--tick-ms", self.tick_ms, 0, limits::MAX_MS).map(drop))?;
        if self.tenants.is_empty() || self.tenants.iter().any(String::is_empty) {
            return bad("--tenants needs at least one non-empty tenant id");
        }
        if !self.shard.is_whole() && self.target == Target::Embedded {
            return bad("--shard needs --target: with --embedded every shard would load a gateway of its own");
        }
        if self.shard.index >= self.shard.count {
            return bad("--shard I/N needs I < N");
        }
        // A start whose whole run is over would measure nothing.
        shard::start_instant(self.start_at, self.duration).map(drop)?;
        Ok(())
    }
}

/// The per-client values of client `index`.
pub fn variables(index: usize, opts: &SimulateOptions, secret: &str) -> Variables {
    let tenant = opts.tenants[index % opts.tenants.len()].clone();
    let user = format!("user-{index}");
    let entity = format!(
        "{tenant}-entity-{}",
        (index / opts.tenants.len()) % opts.entities
    );
    let token = mint_token(secret, &user, &tenant);
    Variables {
        client: index,
        tenant,
        entity,
        user,
        token,
        iteration: 0,
    }
}

/// An HS256 JWT for a simulated user, valid for a day.
pub fn mint_token(secret: &str, user: &str, tenant: &str) -> String {
    let now = crate::bus::now_micros() / 1_000_000;
    let claims = json!({ "sub": user, "tenantId": tenant, "iat": now, "exp": now + 86_400 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}

/// Runs `scenario` to its report; `progress`, when given, gets a snapshot about
/// every 200 ms and a last one with `done`.
pub async fn run(
    scenario: &Scenario,
    opts: &SimulateOptions,
    progress: Option<watch::Sender<SimulationProgress>>,
) -> Result<SimulationReport> {
    Ok(run_full(scenario, opts, progress).await?.report)
}

/// A run's report with what a mergeable report also needs.
pub struct RunOutcome {
    pub report: SimulationReport,
    /// Connect, ack and delivery latency, microseconds.
    pub histograms: [hdrhistogram::Histogram<u64>; 3],
    /// How late this process was for `start_at` (zero when it waited).
    pub late: Duration,
}

/// [`run`], keeping the histograms and the start delay (`--report-out`).
pub async fn run_full(
    scenario: &Scenario,
    opts: &SimulateOptions,
    progress: Option<watch::Sender<SimulationProgress>>,
) -> Result<RunOutcome> {
    opts.check()?;
    let secret = opts
        .jwt_secret
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (gateway, target_url) = match &opts.target {
        Target::Url(url) => (None, url.clone()),
        Target::Embedded => {
            let g = start_embedded(scenario, opts, &secret).await?;
            let url = g.url();
            (Some(g), url)
        }
    };
    let targets: Vec<&str> = target_url
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let Some(first) = targets.first() else {
        return Err(Error::BadSimulation("--target names no URL".to_owned()));
    };
    let mut ws_urls = Vec::with_capacity(targets.len());
    for target in &targets {
        let ws_url = match scenario.transport {
            ScenarioTransport::Socketio => client::websocket_url(target)?,
            ScenarioTransport::Ws => ws_client::websocket_url(
                target,
                scenario.path.as_deref().unwrap_or(ws_client::DEFAULT_PATH),
            )?,
        };
        if gateway.is_none() {
            probe(target, &ws_url, opts.connect_timeout).await?;
        }
        ws_urls.push(Arc::<str>::from(ws_url));
    }
    let tls = opts.tls.ws_connector()?;
    // The HTTP API driver posts to the first target: in a cluster every node
    // reaches every socket.
    let api = scenario.api.clone().map(|driver| Api {
        driver,
        base: first.trim_end_matches('/').to_owned(),
        token: gateway
            .as_ref()
            .and_then(|g| g.handle().api_token().map(str::to_owned))
            .or_else(|| opts.api_token.clone()),
        tls: opts.tls.clone(),
    });
    let outcome = drive(scenario, opts, &secret, &ws_urls, tls, api, progress).await;
    if let Some(g) = gateway {
        g.stop().await;
    }
    let (stats, elapsed, late) = outcome?;
    // The report names the target as the redaction policy shows it.
    let report = stats.report(
        &scenario.name,
        &targets
            .iter()
            .map(|t| crate::redact::url(t))
            .collect::<Vec<_>>()
            .join(","),
        opts.target == Target::Embedded,
        elapsed,
    );
    tracing::info!(
        scenario = %scenario.name,
        clients = report.clients,
        connected = report.connected,
        failed = report.failed,
        sent = report.events_sent,
        received = report.events_received,
        errors = report.errors,
        "simulation finished"
    );
    let histograms = stats.histograms().unwrap_or_else(|| {
        [
            report::histogram(),
            report::histogram(),
            report::histogram(),
        ]
    });
    Ok(RunOutcome {
        report,
        histograms,
        late,
    })
}

/// One TCP connect to the target first, so an unreachable gateway is one clear
/// error instead of a report of N identical failures.
async fn probe(target: &str, ws_url: &str, timeout: Duration) -> Result<()> {
    let unreachable = |reason: String| Error::Unreachable {
        url: crate::redact::url(target),
        reason,
    };
    let (scheme, rest) = ws_url.split_once("://").unwrap_or(("ws", ws_url));
    let authority = rest.split('/').next().unwrap_or_default();
    let has_port = authority.rsplit_once(':').is_some_and(|(_, p)| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !p.contains(']')
    });
    let addr = if has_port {
        authority.to_owned()
    } else if scheme == "wss" {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    };
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!("no answer within {timeout:?}"))),
    }
}

async fn start_embedded(
    scenario: &Scenario,
    opts: &SimulateOptions,
    secret: &str,
) -> Result<Gateway> {
    let profile: Profile = serde_json::from_value(Value::String(scenario.profile.clone()))
        .map_err(|_| {
            Error::BadSimulation(format!(
                "scenario {} names an unknown profile {:?}",
                scenario.name, scenario.profile
            ))
        })?;
    let settings = GatewaySettings {
        host: "127.0.0.1".to_owned(),
        port: 0,
        auth: AuthMode::Hs256 {
            secret: secret.to_owned(),
        },
        profile,
        tick_ms: opts.tick_ms.max(10),
        ..GatewaySettings::default()
    };
    let gateway = Gateway::start(&settings, Bus::new()).await?;
    tracing::info!(profile = ?profile, url = %gateway.url(), "embedded gateway for the simulation");
    Ok(gateway)
}

/// Starts this shard's clients, reports progress, waits for all; returns the
/// stats, the run's wall time and how late this process was for `start_at`.
async fn drive(
    scenario: &Scenario,
    opts: &SimulateOptions,
    secret: &str,
    ws_urls: &[Arc<str>],
    tls: Option<tokio_tungstenite::Connector>,
    api: Option<Api>,
    progress: Option<watch::Sender<SimulationProgress>>,
) -> Result<(Arc<Stats>, Duration, Duration)> {
    let mine = opts.shard.clients(opts.clients);
    let stats = Arc::new(Stats::new(mine.len() as u64).with_metrics(opts.metrics.clone()));
    let (start, late) = shard::start_instant(opts.start_at, opts.duration)?;
    if !late.is_zero() {
        tracing::warn!(shard = %opts.shard, late_ms = late.as_millis() as u64, "started after --start-at: clients whose slot passed connect at once");
    }
    let deadline = start + opts.duration;
    let variants: Vec<Arc<Scenario>> = scenario.variants().into_iter().map(Arc::new).collect();
    let rate = opts.rate.or(scenario.rate).unwrap_or(1.0);
    let mut tasks = tokio::task::JoinSet::new();
    // Global client indexes: a shard's clients get the tenants, users and ramp slots
    // they would have in one process running every client.
    for i in mine {
        let offset = opts.ramp.mul_f64(i as f64 / opts.clients as f64);
        let job = ClientJob {
            index: i,
            vars: variables(i, opts, secret),
            scenario: variants[i % variants.len()].clone(),
            stats: stats.clone(),
            // Round-robin over the targets (the nodes of a cluster).
            ws_url: ws_urls[i % ws_urls.len()].clone(),
            start_at: start + offset,
            deadline,
            rate,
            connect_timeout: opts.connect_timeout,
            tls: tls.clone(),
        };
        tasks.spawn(job.run());
    }
    // The HTTP API driver belongs to the run, not to each shard: shard 0 runs it.
    let api_task = match api.filter(|_| opts.shard.index == 0) {
        Some(api) => {
            let start_at = start + opts.ramp + Duration::from_millis(api.driver.start_ms);
            let client = api.client()?;
            Some(tokio::spawn(api.run(
                client,
                stats.clone(),
                opts.clone(),
                secret.to_owned(),
                start_at,
                deadline,
            )))
        }
        None => None,
    };
    let (finished, mut finished_rx) = tokio::sync::oneshot::channel::<Duration>();
    let reporter = progress.map(|tx| {
        let stats = stats.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    elapsed = &mut finished_rx => {
                        let elapsed = elapsed.unwrap_or_else(|_| start.elapsed());
                        let _ = tx.send(stats.progress(elapsed, true));
                        return;
                    }
                    _ = every.tick() => {
                        // Nobody watching any more is fine: keep running the clients.
                        let _ = tx.send(stats.progress(start.elapsed(), false));
                    }
                }
            }
        })
    });
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            // Its guard already moved it to `failed`; the report names the panic.
            tracing::warn!(error = %e, "simulated client task failed");
            stats.error(CLIENT_PANIC);
        }
    }
    if let Some(t) = api_task {
        if let Err(e) = t.await {
            tracing::warn!(error = %e, "simulation api driver failed");
            stats.error(CLIENT_PANIC);
        }
    }
    let elapsed = start.elapsed();
    let _ = finished.send(elapsed);
    if let Some(r) = reporter {
        if let Err(e) = r.await {
            tracing::warn!(error = %e, "simulation progress reporter failed");
        }
    }
    Ok((stats, elapsed, late))
}

/// One virtual client's whole life.
struct ClientJob {
    index: usize,
    vars: Variables,
    scenario: Arc<Scenario>,
    stats: Arc<Stats>,
    ws_url: Arc<str>,
    start_at: Instant,
    deadline: Instant,
    rate: f64,
    connect_timeout: Duration,
    tls: Option<tokio_tungstenite::Connector>,
}

/// A virtual client of either transport.
enum AnyClient {
    Sio(Client),
    Ws(WsClient),
}

impl AnyClient {
    async fn emit(
        &mut self,
        event: &str,
        data: &Value,
        ack_timeout: Option<Duration>,
    ) -> Result<Outcome> {
        match self {
            AnyClient::Sio(c) => c.emit(event, data, ack_timeout).await,
            AnyClient::Ws(c) => c.emit(event, data, ack_timeout).await,
        }
    }

    async fn wait_for(&mut self, event: &str, timeout: Duration) -> Outcome {
        match self {
            AnyClient::Sio(c) => c.wait_for(event, timeout).await,
            AnyClient::Ws(c) => c.wait_for(event, timeout).await,
        }
    }

    fn is_gone(&self) -> bool {
        match self {
            AnyClient::Sio(c) => c.is_gone(),
            AnyClient::Ws(c) => c.is_gone(),
        }
    }

    async fn close(self) {
        match self {
            AnyClient::Sio(c) => c.close().await,
            AnyClient::Ws(c) => c.close().await,
        }
    }
}

/// The scenario's HTTP API requests and where they go.
struct Api {
    driver: ApiDriver,
    /// `http(s)://host:port` of the gateway.
    base: String,
    token: Option<String>,
    tls: crate::connection::TlsOptions,
}

impl Api {
    fn client(&self) -> Result<reqwest::Client> {
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(10));
        if let Some(c) = self.tls.socketio_connector()? {
            b = b.use_preconfigured_tls(c);
        }
        b.build()
            .map_err(|e| Error::BadSimulation(format!("HTTP client: {e}")))
    }

    /// Sends the requests in turn at the driver's rate from `start_at` until
    /// `deadline`; each is counted as sent (`POST /path`), a failure or non-2xx as
    /// an `api_failed` error.
    async fn run(
        self,
        http: reqwest::Client,
        stats: Arc<Stats>,
        opts: SimulateOptions,
        secret: String,
        start_at: Instant,
        deadline: Instant,
    ) {
        tokio::time::sleep_until(start_at).await;
        let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / self.driver.rate));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n: u64 = 0;
        let per_round = self.driver.requests.len() as u64;
        let work = async {
            loop {
                pace.tick().await;
                let round = n / per_round.max(1);
                let Some(req) = self
                    .driver
                    .requests
                    .get(usize::try_from(n % per_round.max(1)).unwrap_or(0))
                else {
                    return;
                };
                let mut vars = variables(usize::try_from(round).unwrap_or(0), &opts, &secret);
                vars.iteration = round;
                let body = vars.apply(&req.body);
                let mut call = http.post(format!("{}{}", self.base, req.path)).json(&body);
                if let Some(t) = &self.token {
                    call = call.bearer_auth(t);
                }
                let name = format!("POST {}", req.path);
                match call.send().await {
                    Ok(r) if r.status().is_success() => stats.sent("http", &name),
                    Ok(r) => {
                        tracing::debug!(path = %req.path, status = %r.status(), "simulation api request refused");
                        stats.error("api_failed");
                    }
                    Err(e) => {
                        tracing::debug!(path = %req.path, error = %e, "simulation api request failed");
                        stats.error("api_failed");
                    }
                }
                n += 1;
            }
        };
        let _ = tokio::time::timeout_at(deadline, work).await;
    }
}

/// Why a client stops before the deadline.
enum Stop {
    Gone,
}

/// Error kind of a client whose task (or reader) panicked.
pub const CLIENT_PANIC: &str = "client_panic";

/// Error kinds that mean the run itself is broken (a client task panicked, or the
/// target sent frames a client cannot decode), as opposed to a gateway's ordinary
/// refusals and timeouts: a front end exits non-zero when the report has any.
pub const BROKEN_KINDS: [&str; 2] = [CLIENT_PANIC, client::BAD_FRAME];

/// `Some("3 client_panic, 1 bad_frame")` when `report` has errors of a
/// [`BROKEN_KINDS`] kind.
pub fn broken(report: &SimulationReport) -> Option<String> {
    let found: Vec<String> = report
        .errors_by_kind
        .iter()
        .filter(|e| BROKEN_KINDS.contains(&e.kind.as_str()) && e.count > 0)
        .map(|e| format!("{} {}", e.count, e.kind))
        .collect();
    (!found.is_empty()).then(|| found.join(", "))
}

/// Where a client is in its life, so a panic anywhere still leaves the counters
/// adding up (`connected + failed == clients`).
struct Phase {
    stats: Arc<Stats>,
    started: bool,
    connected: bool,
}

impl Drop for Phase {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        if !self.started {
            self.stats.started.fetch_add(1, Ordering::Relaxed);
        }
        if self.connected {
            self.stats.client_failed_after_connect();
        } else {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl ClientJob {
    async fn run(mut self) {
        let mut phase = Phase {
            stats: self.stats.clone(),
            started: false,
            connected: false,
        };
        tokio::time::sleep_until(self.start_at).await;
        self.stats.started.fetch_add(1, Ordering::Relaxed);
        phase.started = true;
        let auth = self.scenario.auth.as_ref().map(|a| self.vars.apply(a));
        let began = std::time::Instant::now();
        let connected = match self.scenario.transport {
            ScenarioTransport::Socketio => Client::connect(
                self.index,
                &self.ws_url,
                &self.scenario.namespace,
                auth.as_ref(),
                self.connect_timeout,
                self.stats.clone(),
                self.tls.clone(),
            )
            .await
            .map(AnyClient::Sio),
            ScenarioTransport::Ws => {
                let url = self.ws_url_with_query();
                let token = auth
                    .as_ref()
                    .and_then(|a| a.get("token"))
                    .and_then(Value::as_str);
                WsClient::connect(
                    self.index,
                    &url,
                    token,
                    self.connect_timeout,
                    self.stats.clone(),
                    self.tls.clone(),
                )
                .await
                .map(AnyClient::Ws)
            }
        };
        let mut client = match connected {
            Ok(c) => c,
            Err(f) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                self.stats.error(f.kind);
                tracing::debug!(client = self.index, kind = f.kind, message = %f.message, "simulated client did not connect");
                return;
            }
        };
        self.stats.connected.fetch_add(1, Ordering::Relaxed);
        phase.connected = true;
        self.stats.latency(Latency::Connect, began.elapsed());
        let ns = match self.scenario.transport {
            ScenarioTransport::Socketio => self.scenario.namespace.clone(),
            ScenarioTransport::Ws => self
                .scenario
                .path
                .clone()
                .unwrap_or_else(|| ws_client::DEFAULT_PATH.to_owned()),
        };
        self.stats.socket(&ns, true);
        let deadline = self.deadline;
        let _ = tokio::time::timeout_at(deadline, self.script(&mut client)).await;
        // Nothing left to do: stay connected and keep receiving until the end.
        if !client.is_gone() {
            tokio::time::sleep_until(deadline).await;
        }
        client.close().await;
        self.stats.socket(&ns, false);
    }

    /// The plain WebSocket URL with the scenario's query, variables substituted.
    fn ws_url_with_query(&self) -> String {
        let Some(query) = &self.scenario.query else {
            return self.ws_url.to_string();
        };
        let pairs: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                let v = match self.vars.apply(v) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                format!("{}={}", url_escape(k), url_escape(&v))
            })
            .collect();
        let sep = if self.ws_url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{}", self.ws_url, pairs.join("&"))
    }

    async fn script(&mut self, client: &mut AnyClient) -> std::result::Result<(), Stop> {
        let scenario = self.scenario.clone();
        self.steps(client, &scenario.setup).await?;
        if scenario.steps.is_empty() {
            return Ok(());
        }
        let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / self.rate));
        pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            pace.tick().await;
            self.vars.iteration += 1;
            self.steps(client, &scenario.steps).await?;
        }
    }

    fn steps<'a>(
        &'a mut self,
        client: &'a mut AnyClient,
        steps: &'a [Step],
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = std::result::Result<(), Stop>> + Send + 'a>,
    > {
        Box::pin(async move {
            for step in steps {
                self.step(client, step).await?;
            }
            Ok(())
        })
    }

    async fn step(&mut self, client: &mut AnyClient, step: &Step) -> std::result::Result<(), Stop> {
        let outcome = match step {
            Step::Emit { event, data } => client
                .emit(event, &self.vars.apply(data), None)
                .await
                .unwrap_or(Outcome::Gone),
            Step::EmitWithAck {
                event,
                data,
                timeout_ms,
            } => client
                .emit(
                    event,
                    &self.vars.apply(data),
                    Some(Duration::from_millis(*timeout_ms)),
                )
                .await
                .unwrap_or(Outcome::Gone),
            Step::WaitFor { event, timeout_ms } => {
                client
                    .wait_for(event, Duration::from_millis(*timeout_ms))
                    .await
            }
            Step::Think(t) => {
                tokio::time::sleep(Duration::from_millis(self.think_ms(*t))).await;
                Outcome::Ok
            }
            Step::Loop { count, steps } => {
                for _ in 0..*count {
                    self.steps(client, steps).await?;
                }
                Outcome::Ok
            }
        };
        match outcome {
            Outcome::Gone => Err(Stop::Gone),
            Outcome::Ok | Outcome::TimedOut => Ok(()),
        }
    }

    /// A think time; ranges are drawn from a cheap per-client generator.
    fn think_ms(&self, t: Think) -> u64 {
        match t {
            Think::Fixed { ms } => ms,
            Think::Range { min_ms, max_ms } => {
                // Scenarios are checked (`max_ms` at most a day), but stay total anyway.
                let span = max_ms.saturating_sub(min_ms).saturating_add(1);
                let mut x = (self.index as u64 + 1)
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_add(self.vars.iteration.wrapping_mul(0xBF58_476D_1CE4_E5B9));
                x ^= x >> 31;
                x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
                x ^= x >> 29;
                min_ms.saturating_add(x % span)
            }
        }
    }
}

// Percent-encodes all but RFC 3986's unreserved characters: the same encoder as the
// plain WebSocket connection's query.
use crate::connection::websocket::percent as url_escape;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_cycle_tenants_and_share_entities() {
        let opts = SimulateOptions {
            tenants: vec!["a".into(), "b".into()],
            entities: 2,
            ..SimulateOptions::default()
        };
        let v: Vec<Variables> = (0..6).map(|i| variables(i, &opts, "s")).collect();
        let tenants: Vec<&str> = v.iter().map(|x| x.tenant.as_str()).collect();
        assert_eq!(tenants, ["a", "b", "a", "b", "a", "b"]);
        let entities: Vec<&str> = v.iter().map(|x| x.entity.as_str()).collect();
        assert_eq!(
            entities,
            [
                "a-entity-0",
                "b-entity-0",
                "a-entity-1",
                "b-entity-1",
                "a-entity-0",
                "b-entity-0"
            ]
        );
        assert_eq!(v[3].user, "user-3");
        // The token is a real HS256 JWT with the user and tenant.
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Value>(
            &v[3].token,
            &jsonwebtoken::DecodingKey::from_secret(b"s"),
            &validation,
        )
        .expect("valid token")
        .claims;
        assert_eq!(claims["sub"], "user-3");
        assert_eq!(claims["tenantId"], "b");
    }

    #[test]
    fn options_are_checked() {
        let ok = SimulateOptions::default();
        assert!(ok.check().is_ok());
        for bad in [
            SimulateOptions {
                clients: 0,
                ..ok.clone()
            },
            SimulateOptions {
                ramp: ok.duration,
                ..ok.clone()
            },
            SimulateOptions {
                rate: Some(0.0),
                ..ok.clone()
            },
            SimulateOptions {
                tenants: vec![],
                ..ok.clone()
            },
        ] {
            let e = bad.check().expect_err("bad options");
            assert_eq!(e.code(), "bad_simulation");
        }
    }

    #[tokio::test]
    async fn a_panicking_client_counts_as_failed_and_breaks_the_run() {
        let stats = Arc::new(Stats::new(2));
        let mut tasks = tokio::task::JoinSet::new();
        for connected in [false, true] {
            let stats = stats.clone();
            tasks.spawn(async move {
                let mut phase = Phase {
                    stats: stats.clone(),
                    started: false,
                    connected: false,
                };
                stats.started.fetch_add(1, Ordering::Relaxed);
                phase.started = true;
                if connected {
                    stats.connected.fetch_add(1, Ordering::Relaxed);
                    phase.connected = true;
                }
                panic!("a client bug");
            });
        }
        while let Some(done) = tasks.join_next().await {
            assert!(done.is_err());
            stats.error(CLIENT_PANIC);
        }
        let r = stats.report("s", "t", false, Duration::from_secs(1));
        assert_eq!((r.connected, r.failed, r.clients), (0, 2, 2), "{r:?}");
        assert_eq!(broken(&r).as_deref(), Some("2 client_panic"));
        // Positive control: ordinary refusals do not break a run.
        let ok = Stats::new(1);
        ok.failed.fetch_add(1, Ordering::Relaxed);
        ok.error("connect_error");
        assert_eq!(
            broken(&ok.report("s", "t", false, Duration::from_secs(1))),
            None
        );
    }

    #[tokio::test]
    async fn a_small_embedded_analytics_run_counts_up() {
        let scenario = scenario::built_in("analytics-dashboard").expect("built in");
        let opts = SimulateOptions {
            clients: 20,
            ramp: Duration::from_millis(200),
            duration: Duration::from_millis(1500),
            tick_ms: 100,
            ..SimulateOptions::default()
        };
        let (tx, rx) = watch::channel(SimulationProgress::default());
        let r = run(&scenario, &opts, Some(tx)).await.expect("run");
        assert_eq!(r.connected, 20, "{r:?}");
        assert_eq!(r.failed, 0);
        assert_eq!(r.errors, 0, "{:?}", r.errors_by_kind);
        assert_eq!(r.acks_ok, 20);
        let metric = r
            .events
            .iter()
            .find(|e| e.event == "metric:update")
            .map_or(0, |e| e.received);
        assert!(metric > 20, "{r:?}");
        assert_eq!(
            r.events.iter().map(|e| e.received).sum::<u64>(),
            r.events_received
        );
        assert!(r.delivery_latency.count >= metric);
        assert_eq!(r.connect_latency.count, 20);
        assert!(rx.borrow().done);
    }

    #[tokio::test]
    async fn an_unreachable_target_is_one_error() {
        let scenario = scenario::built_in("ai-chat").expect("built in");
        // A port nobody listens on: bind, note it, release it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let opts = SimulateOptions {
            target: Target::Url(format!("http://127.0.0.1:{port}")),
            clients: 3,
            ramp: Duration::ZERO,
            duration: Duration::from_millis(300),
            connect_timeout: Duration::from_secs(2),
            ..SimulateOptions::default()
        };
        let e = run(&scenario, &opts, None).await.expect_err("unreachable");
        assert_eq!(e.code(), "unreachable", "{e}");
        assert!(e.to_string().contains(&port.to_string()), "{e}");
    }
}
