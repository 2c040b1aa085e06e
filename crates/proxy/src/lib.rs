//! The capture proxy: the app points its socket URL here, the proxy forwards every
//! request and websocket to the real gateway, and each Engine.IO session becomes a
//! client whose packets are published on the bus as records (source `proxy:<n>`),
//! like the embedded gateway's and the connections'. So the live log, the recorder,
//! export, replay, contracts and `scenario from` work on what a real front end and a
//! real gateway said to each other, with no change to either.
//!
//! The proxy never changes bytes on its own: frames are forwarded as they came. Only
//! a fault rule ([`rules`]) drops, delays, rewrites or closes, and every fault is
//! on the record it touched (`EventRecord::fault`) and in the client's list.
//!
//! Modules: [`http`] (the handler: passthrough and long-polling), [`websocket`]
//! (upgrades), [`exchange`] (what both transports share), [`payload`] (polling
//! bodies), [`client`] (one session's decoding, ack pairing and record order),
//! [`rules`] (faults).

pub mod client;
pub mod error;
pub mod exchange;
pub mod http;
pub mod payload;
pub mod rules;
pub mod websocket;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::serve::ListenerExt;
use sockscope_bus::Bus;
use sockscope_client::connection::tls::TlsOptions;
use sockscope_codec::wire::Eio;
use sockscope_protocol::{Parser, ProxyClient, ProxyStatus, TlsFiles};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub use client::Client;
pub use error::{Error, PayloadError, Result, RuleError};
use payload::Frame;
pub use rules::Rule;

/// Ended clients kept for the list (the records keep all of them).
const ENDED_KEPT: usize = 1_000;
/// Most clients open at once; a new session beyond it is forwarded uninspected.
pub const MAX_CLIENTS: usize = 100_000;
/// A polling client with no request for this long is over (its server has long
/// timed it out: Engine.IO's default ping interval plus timeout is 45 s).
const POLLING_IDLE: Duration = Duration::from_secs(120);

/// What to start.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub listen: SocketAddr,
    pub upstream: Url,
    pub tls: TlsOptions,
    pub listen_tls: Option<TlsFiles>,
    pub parser: Option<Parser>,
    pub rules: Vec<String>,
}

impl ProxyConfig {
    /// Reads `--upstream`: `http(s)://` (or `ws(s)://`, the same server) with a host.
    pub fn upstream(raw: &str) -> Result<Url> {
        let bad = |why: &str| Error::Upstream {
            url: sockscope_bus::redact::url(raw),
            why: why.to_owned(),
        };
        let mut url = Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
        let scheme = match url.scheme() {
            "http" | "ws" => "http",
            "https" | "wss" => "https",
            _ => return Err(bad("use http://, https://, ws:// or wss://")),
        };
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        url.set_scheme(scheme).map_err(|_| bad("bad scheme"))?;
        url.set_query(None);
        url.set_fragment(None);
        Ok(url)
    }

    /// Reads `--listen`: `HOST:PORT` with an IP host.
    pub fn listen(raw: &str) -> Result<SocketAddr> {
        raw.trim().parse().map_err(|_| Error::Listen {
            addr: raw.to_owned(),
            why: "expected IP:PORT, e.g. 127.0.0.1:3070".into(),
        })
    }
}

/// The state every request handler shares.
pub struct Inner {
    upstream: Url,
    http: reqwest::Client,
    ws_connector: Option<tokio_tungstenite::Connector>,
    pub rules: Vec<Rule>,
    parser: Option<Parser>,
    bus: Bus,
    clients: Mutex<Clients>,
    next: AtomicU64,
    pub passthrough: AtomicU64,
}

#[derive(Default)]
struct Clients {
    by_sid: HashMap<String, Arc<Client>>,
    ended: VecDeque<ProxyClient>,
}

impl Inner {
    fn clients(&self) -> MutexGuard<'_, Clients> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The open client of an Engine.IO session.
    pub fn client(&self, sid: &str) -> Option<Arc<Client>> {
        self.clients().by_sid.get(sid).cloned()
    }

    /// Registers the client whose session `frames` opens (the first is the open
    /// packet); `None` when it is not one or the proxy is full.
    pub fn open_client(
        &self,
        eio: Eio,
        transport: &'static str,
        frames: &[Frame],
        handshake: serde_json::Value,
    ) -> Option<Arc<Client>> {
        let Some(Frame::Text(open)) = frames.first() else {
            return None;
        };
        let json = open.strip_prefix('0')?;
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        let sid = v.get("sid")?.as_str()?.to_owned();
        let path = handshake
            .get("url")
            .and_then(serde_json::Value::as_str)
            .map(|u| u.split('?').next().unwrap_or("/socket.io/").to_owned())
            .unwrap_or_else(|| "/socket.io/".into());
        let mut clients = self.clients();
        if clients.by_sid.len() >= MAX_CLIENTS {
            tracing::warn!(
                max = MAX_CLIENTS,
                "proxy: too many clients; this one is forwarded uninspected"
            );
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let c = Arc::new(Client::new(
            n,
            sid.clone(),
            path,
            eio,
            self.parser,
            transport,
            handshake,
            self.bus.clone(),
        ));
        clients.by_sid.insert(sid, c.clone());
        tracing::info!(
            client = n,
            eio = eio.number(),
            transport,
            "proxy: new client"
        );
        Some(c)
    }

    /// The upstream URL of a request: the upstream's base path, then the request's
    /// path and query (`ws(s)://` for websockets).
    pub fn upstream_url(&self, uri: &axum::http::Uri, websocket: bool) -> Url {
        let mut url = self.upstream.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{}", uri.path()));
        url.set_query(uri.query());
        if websocket {
            let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
            let _ = url.set_scheme(scheme);
        }
        url
    }

    /// Moves ended clients to the list of ended ones, ends idle polling clients and
    /// publishes records whose ack wait is over.
    fn sweep(&self) {
        let open: Vec<Arc<Client>> = self.clients().by_sid.values().cloned().collect();
        for c in &open {
            c.flush();
            if !c.is_closed() && c.idle() > POLLING_IDLE {
                c.end(
                    sockscope_protocol::Direction::C2s,
                    "transport close: no request from the client for 120 s",
                    None,
                );
            }
            if let Some((rule, after)) = rules::close_after(&self.rules) {
                if !c.is_closed() && c.started.elapsed() >= after {
                    c.kill(
                        sockscope_protocol::Direction::S2c,
                        "transport close: closed by the proxy",
                        Some(format!("transport closed by {}", rule.label())),
                    );
                }
            }
        }
        let mut clients = self.clients();
        let ended: Vec<String> = clients
            .by_sid
            .iter()
            .filter(|(_, c)| c.is_closed())
            .map(|(sid, _)| sid.clone())
            .collect();
        for sid in ended {
            if let Some(c) = clients.by_sid.remove(&sid) {
                clients.ended.push_back(c.view());
                while clients.ended.len() > ENDED_KEPT {
                    clients.ended.pop_front();
                }
            }
        }
    }
}

/// A running proxy.
pub struct Proxy {
    addr: SocketAddr,
    url: String,
    inner: Arc<Inner>,
    rules: Vec<String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    sweeper: JoinHandle<()>,
}

impl Proxy {
    /// Binds and starts forwarding. Bad rules, upstream, TLS files or a taken port
    /// are errors before anything listens.
    pub async fn start(cfg: ProxyConfig, bus: Bus) -> Result<Self> {
        let rules = rules::parse_all(&cfg.rules)?;
        let mut http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .tcp_nodelay(true);
        let tls = if cfg.upstream.scheme() == "https" && !cfg.tls.is_default() {
            Some(cfg.tls.connector()?)
        } else {
            None
        };
        if let Some(connector) = &tls {
            http = http.use_preconfigured_tls(connector.clone());
        }
        let http = http.build()?;
        let ws_connector = tls.map(tokio_tungstenite::Connector::NativeTls);
        let server_tls = cfg
            .listen_tls
            .as_ref()
            .map(sockscope_gateway::tls::config)
            .transpose()?;
        let inner = Arc::new(Inner {
            upstream: cfg.upstream.clone(),
            http,
            ws_connector,
            rules,
            parser: cfg.parser,
            bus,
            clients: Mutex::new(Clients::default()),
            next: AtomicU64::new(1),
            passthrough: AtomicU64::new(0),
        });
        let listener = TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: cfg.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: cfg.listen.to_string(),
            source,
        })?;
        let app = axum::Router::new()
            .fallback(http::handle)
            .with_state(inner.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let secure = server_tls.is_some();
        let server = tokio::spawn(async move {
            let stopped = async move {
                let _ = stopped.await;
            };
            let result = match server_tls {
                Some(cfg) => match sockscope_gateway::tls::TlsListener::new(listener, cfg) {
                    Ok(l) => {
                        axum::serve(l.tap_io(|_| {}), app)
                            .with_graceful_shutdown(stopped)
                            .await
                    }
                    Err(e) => Err(e),
                },
                None => {
                    let l = listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                    axum::serve(l, app).with_graceful_shutdown(stopped).await
                }
            };
            if let Err(error) = result {
                tracing::error!(%error, "proxy server failed");
            }
        });
        let sweeping = inner.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                sweeping.sweep();
            }
        });
        let scheme = if secure { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        tracing::info!(%url, upstream = %sockscope_bus::redact::url(cfg.upstream.as_str()), rules = cfg.rules.len(), "proxy listening");
        Ok(Self {
            addr,
            url,
            inner,
            rules: cfg.rules,
            shutdown: Some(shutdown),
            server,
            sweeper,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the app should point its socket URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The proxy and its clients, open ones first.
    pub fn status(&self) -> ProxyStatus {
        let clients = self.inner.clients();
        let mut list: Vec<ProxyClient> = clients.by_sid.values().map(|c| c.view()).collect();
        list.sort_by_key(|c| c.n);
        list.extend(clients.ended.iter().rev().cloned());
        ProxyStatus {
            running: true,
            url: self.url.clone(),
            upstream: sockscope_bus::redact::url(self.inner.upstream.as_str()),
            rules: self.rules.clone(),
            clients: list,
            passthrough: self.inner.passthrough.load(Ordering::Relaxed),
            session_id: None,
        }
    }

    /// Stops listening and ends every client (their records are published).
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        let open: Vec<Arc<Client>> = self.inner.clients().by_sid.values().cloned().collect();
        for c in open {
            c.kill(
                sockscope_protocol::Direction::S2c,
                "transport close: the proxy stopped",
                None,
            );
        }
        self.sweeper.abort();
        // Open websockets are ended by the kill; give the server a moment to finish.
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.server).await;
        self.server.abort();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.sweeper.abort();
        self.server.abort();
    }
}
