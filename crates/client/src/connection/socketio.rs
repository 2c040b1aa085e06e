//! A Socket.IO client connection: one API, two backends. rust_socketio (async)
//! for Engine.IO v4 with the JSON parser and no ack rules; Sockscope's own client
//! ([`super::native`]) for Engine.IO v3 (Socket.IO 2.x), the msgpack parser, and
//! answering a server's ack requests (`ack_replies`). With [`EioChoice::Auto`] a
//! server that answers a v4 open with a v3 one is spoken to in v3, by the native
//! backend. What the rest of this page says is about the rust_socketio backend.
//!
//! - Every server event is captured by a catch-all and published (`s2c`).
//! - Emits are published (`c2s`); with an ack, the reply and its latency are
//!   captured in the record's `ack`.
//! - "On connect" emits are replayed after every (re)connect, which is how a client
//!   re-subscribes after the server restarts. They are sent from the `open`
//!   callback: rust_socketio's `connect()` returns before the namespace is joined, and
//!   an emit sent straight after it can be lost.
//! - `connect_error` and disconnects surface as records too. rust_socketio reports a
//!   disconnect only when the server sends one; when the transport closes or a frame
//!   cannot be parsed its stream just ends. Sockscope always asks it to reconnect and
//!   learns of every loss from its `on_reconnect` hook, where it publishes the
//!   `disconnect` itself (with the library's last error as the detail) and, with
//!   reconnection off or out of attempts, makes that reconnection fail at once (an
//!   empty address, no network) and ends the connection: [`Connection::ended`].
//! - An event over `max_payload` is dropped and counted, with an `error` record saying
//!   so. A message over the client library's own limit ([`DEFAULT_MAX_PAYLOAD`], its
//!   WebSocket frame limit) ends the connection; rust_socketio reports that only as
//!   "EngineIO Error", so it is counted as a lost connection.
//!
//! Secrets: the auth object and headers go to the server only; records carry event
//! payloads and ack replies, which the bus redacts (`crate::redact`) before anyone
//! sees them. Log lines and errors name the URL without userinfo or query values.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder, ReconnectSettings};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::{json, Value};
use sockscope_protocol::{AckInfo, Direction, Parser};
use tokio::sync::{oneshot, Mutex};

use super::health::{self, ConnectionLosses, Health, DEFAULT_MAX_PAYLOAD};
use super::native::{self, Native};
use super::wire::Eio;
use crate::{Error, Result};
use sockscope_bus::redact;
use sockscope_bus::{self as bus, Bus};

/// Connection ids, shared with the plain WebSocket client so sources never collide.
pub(super) static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Which transport the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// Polling first, upgraded to websocket (the socket.io-client default).
    #[default]
    Any,
    Websocket,
    Polling,
}

/// Which Engine.IO revision to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EioChoice {
    /// v4, or v3 when the server answers a v4 open with a v3 one.
    #[default]
    Auto,
    V3,
    V4,
}

/// Everything needed to connect, as the user typed it.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub url: String,
    pub namespace: String,
    pub auth: Option<Value>,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub transport: Transport,
    pub reconnect: bool,
    /// Reconnection attempts (0 = unlimited).
    pub reconnect_attempts: u8,
    pub reconnect_delay_ms: u64,
    /// Sent after every (re)connect, in order.
    pub on_connect: Vec<(String, Value)>,
    /// Largest event payload (JSON bytes) kept; bigger ones are dropped and counted.
    /// 0 means [`DEFAULT_MAX_PAYLOAD`], which is also the most the client accepts.
    pub max_payload: usize,
    /// Extra roots, no checks, or a client certificate for `https://` targets.
    pub tls: super::tls::TlsOptions,
    /// Engine.IO revision (`--eio`).
    pub eio: EioChoice,
    /// Socket.IO parser (`--parser`).
    pub parser: Parser,
    /// Answers to a server's ack requests: event name (or `*`) -> the reply (sent as
    /// one argument). Any rule selects the native backend.
    pub ack_replies: Vec<(String, Value)>,
}

impl ConnectOptions {
    /// Whether only the native backend can do what these options ask.
    fn needs_native(&self) -> bool {
        self.parser == Parser::Msgpack || !self.ack_replies.is_empty() || self.eio == EioChoice::V3
    }

    /// The options minus secrets, for a session's metadata.
    pub fn describe(&self) -> Value {
        json!({
            "url": self.url,
            "namespace": self.namespace,
            "auth_keys": self.auth.as_ref().and_then(Value::as_object).map(|o| o.keys().cloned().collect::<Vec<_>>()),
            "headers": self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "query": self.query.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "transport": format!("{:?}", self.transport).to_lowercase(),
            "reconnect": self.reconnect,
            "on_connect": self.on_connect.iter().map(|(e, _)| e).collect::<Vec<_>>(),
            "tls": self.tls.describe(),
            "parser": self.parser.name(),
            "ack_replies": self.ack_replies.iter().map(|(e, _)| e).collect::<Vec<_>>(),
        })
    }

    fn full_url(&self) -> String {
        if self.query.is_empty() {
            return self.url.clone();
        }
        let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{}", self.url, q.join("&"))
    }
}

/// The library doing the talking.
enum Backend {
    Library(Client),
    Native(Native),
}

/// A live client connection.
pub struct Connection {
    id: u64,
    namespace: String,
    backend: Backend,
    bus: Bus,
    source: String,
    health: Arc<Health>,
    eio: Eio,
    parser: Parser,
}

fn args_of(p: Payload) -> Value {
    match p {
        Payload::Text(v) => Value::Array(v),
        #[allow(deprecated)]
        Payload::String(s) => {
            json!([serde_json::from_str::<Value>(&s).unwrap_or(Value::String(s))])
        }
        Payload::Binary(b) => json!([{ sockscope_codec::binary::BINARY_MARKER: base64_of(&b) }]),
    }
}

/// An error with its causes, `a: b: c` (the library's Display alone often hides
/// the TLS reason).
fn with_sources(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    out
}

fn base64_of(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A new connection's id, its bus source name (`connection:<id>`) and its
/// namespace (`/` when none is given): the same for both clients.
fn identity(opts: &ConnectOptions) -> (u64, String, String) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let source = format!("connection:{id}");
    let ns = if opts.namespace.is_empty() {
        "/".to_owned()
    } else {
        opts.namespace.clone()
    };
    (id, source, ns)
}

impl Connection {
    /// Connects and waits (up to `timeout`) for the namespace to be joined; a refusal
    /// (`connect_error`) or an unreachable target is an error with the server's words.
    /// The backend is chosen as the module docs say.
    pub async fn open(opts: ConnectOptions, bus: Bus, timeout: Duration) -> Result<Self> {
        let eio = match opts.eio {
            EioChoice::V3 => Some(Eio::V3),
            EioChoice::V4 => Some(Eio::V4),
            EioChoice::Auto if opts.needs_native() => None,
            // rust_socketio cannot speak v3: ask the server first.
            EioChoice::Auto => match native::probe(&opts, timeout).await {
                Some(Eio::V3) => Some(Eio::V3),
                _ => Some(Eio::V4),
            },
        };
        let native = opts.needs_native() || eio == Some(Eio::V3);
        if !native {
            return Self::open_library(opts, bus, timeout).await;
        }
        if opts.transport == Transport::Polling {
            return Err(Error::BadTarget(
                "polling needs the rust_socketio client (Engine.IO v4, JSON parser, no ack replies); Sockscope's own client speaks websocket only".into(),
            ));
        }
        let (id, source, ns) = identity(&opts);
        let opened = match native::open_joined(&opts, &ns, eio, timeout).await {
            Ok(o) => o,
            Err(e) => {
                if let Error::Refused { message, .. } = &e {
                    bus.publish(bus::record(
                        &source,
                        Direction::S2c,
                        &ns,
                        "connect_error",
                        json!([message]),
                    ));
                }
                return Err(e);
            }
        };
        let health = Arc::new(Health::new(bus.clone(), &source, &ns));
        let parser = opened.wire.parser;
        let backend = Native::start(
            opened,
            opts.clone(),
            ns.clone(),
            source.clone(),
            bus.clone(),
            health.clone(),
        );
        let eio = backend.eio();
        tracing::info!(connection = id, url = %redact::url(&opts.url), namespace = %ns, eio = eio.number(), parser = parser.name(), "connected (sockscope client)");
        Ok(Self {
            id,
            namespace: ns,
            backend: Backend::Native(backend),
            bus,
            source,
            health,
            eio,
            parser,
        })
    }

    async fn open_library(opts: ConnectOptions, bus: Bus, timeout: Duration) -> Result<Self> {
        let (id, source, ns) = identity(&opts);
        let (ready_tx, ready_rx) = oneshot::channel::<std::result::Result<(), String>>();
        let ready = Arc::new(Mutex::new(Some(ready_tx)));
        let health = Arc::new(Health::new(bus.clone(), &source, &ns));
        let max_payload = match opts.max_payload {
            0 => DEFAULT_MAX_PAYLOAD,
            n => n,
        };

        let publish = {
            let bus = bus.clone();
            let source = source.clone();
            let ns = ns.clone();
            move |direction: Direction, event: &str, args: Value| {
                bus.publish(bus::record(&source, direction, &ns, event, args));
            }
        };

        // Reconnection attempts since the connection was last up.
        let attempts = Arc::new(AtomicUsize::new(0));
        let on_open = {
            let publish = publish.clone();
            let ready = ready.clone();
            let emits = opts.on_connect.clone();
            let health = health.clone();
            let attempts = attempts.clone();
            move |_: Payload, client: Client| {
                let publish = publish.clone();
                let ready = ready.clone();
                let emits = emits.clone();
                let health = health.clone();
                attempts.store(0, Ordering::SeqCst);
                async move {
                    health.connected();
                    publish(Direction::S2c, "connect", json!([]));
                    for (event, data) in &emits {
                        match client.emit(event.as_str(), data.clone()).await {
                            Ok(()) => publish(Direction::C2s, event, json!([data])),
                            Err(error) => tracing::warn!(event, %error, "on-connect emit failed"),
                        }
                    }
                    if let Some(tx) = ready.lock().await.take() {
                        let _ = tx.send(Ok(()));
                    }
                }
                .boxed()
            }
        };
        let on_error = {
            let publish = publish.clone();
            let ready = ready.clone();
            let health = health.clone();
            move |p: Payload, _: Client| {
                let publish = publish.clone();
                let ready = ready.clone();
                let health = health.clone();
                async move {
                    let args = args_of(p);
                    let text = args
                        .get(0)
                        .map(|v| {
                            v.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .unwrap_or_default();
                    let message = text
                        .split_once("frame: ")
                        .and_then(|(_, j)| serde_json::from_str::<Value>(j).ok())
                        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or(text.clone());
                    let refused = text.contains("ConnectError frame");
                    let mut ready = ready.lock().await;
                    if refused || ready.is_some() {
                        publish(Direction::S2c, "connect_error", json!([message]));
                        if let Some(tx) = ready.take() {
                            let _ = tx.send(Err(message));
                        }
                    } else if health::is_too_long(&message) {
                        health.note_error(&message);
                        health.oversized(format!(
                            "a message over the client's {} byte limit ended the connection: {message}",
                            DEFAULT_MAX_PAYLOAD
                        ));
                    } else {
                        health.note_error(&message);
                        publish(Direction::S2c, "error", json!([message]));
                    }
                }
                .boxed()
            }
        };
        let reconnect = opts.reconnect;
        let on_close = {
            let health = health.clone();
            move |_: Payload, _: Client| {
                let health = health.clone();
                async move {
                    if let Some(reason) = health.lose("io server disconnect") {
                        if !reconnect {
                            health.end(format!("the server disconnected ({reason})"));
                        }
                    }
                }
                .boxed()
            }
        };
        // Called by rust_socketio before each reconnection attempt, i.e. once the
        // connection is gone (see the module docs).
        let max_attempts = usize::from(opts.reconnect_attempts);
        let on_reconnect = {
            let health = health.clone();
            let attempts = attempts.clone();
            move || {
                let health = health.clone();
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    let reason = health
                        .lose("transport close")
                        .unwrap_or_else(|| "transport close".to_owned());
                    let mut settings = ReconnectSettings::new();
                    let why = if !reconnect {
                        Some(format!("connection lost ({reason})"))
                    } else if max_attempts > 0 && attempt > max_attempts.min(254) {
                        let why = format!(
                            "connection lost; gave up after {max_attempts} reconnection attempts"
                        );
                        health.publish("error", json!([why]));
                        Some(why)
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        health.end(why);
                        // An address that does not parse: the attempt fails at once
                        // without touching the network, and it is the last one.
                        settings.address("");
                    }
                    settings
                }
                .boxed()
            }
        };
        let on_any = {
            let publish = publish.clone();
            let health = health.clone();
            move |ev: Event, p: Payload, _: Client| {
                let publish = publish.clone();
                let health = health.clone();
                async move {
                    let name = match ev {
                        Event::Custom(name) => name,
                        Event::Message => "message".to_owned(),
                        _ => return,
                    };
                    let size = match &p {
                        Payload::Binary(b) => b.len(),
                        Payload::Text(v) => v.iter().map(health::json_size).sum(),
                        #[allow(deprecated)]
                        Payload::String(s) => s.len(),
                    };
                    if size > max_payload {
                        health.oversized(format!(
                            "event {name:?} dropped: {size} bytes is over the {max_payload} byte limit (--max-payload)"
                        ));
                        return;
                    }
                    publish(Direction::S2c, &name, args_of(p));
                }
                .boxed()
            }
        };

        let mut b = ClientBuilder::new(opts.full_url())
            .namespace(ns.clone())
            .transport_type(match opts.transport {
                Transport::Any => TransportType::Any,
                Transport::Websocket => TransportType::Websocket,
                Transport::Polling => TransportType::Polling,
            })
            // Always on: a loss is only seen through `on_reconnect`, which ends
            // the connection itself when reconnection is off.
            .reconnect(true)
            .reconnect_on_disconnect(opts.reconnect)
            .reconnect_delay(
                opts.reconnect_delay_ms
                    .clamp(100, sockscope_bus::limits::MAX_MS),
                opts.reconnect_delay_ms
                    .clamp(100, sockscope_bus::limits::MAX_MS)
                    .saturating_mul(4),
            )
            .on("open", on_open)
            .on("error", on_error)
            .on("close", on_close)
            .on_reconnect(on_reconnect)
            .on_any(on_any);
        if !opts.reconnect {
            b = b.max_reconnect_attempts(1);
        } else if opts.reconnect_attempts > 0 {
            // One more than asked: the extra call of `on_reconnect` is how the
            // connection learns the last real attempt failed (up to 254 attempts).
            b = b.max_reconnect_attempts(opts.reconnect_attempts.min(254) + 1);
        }
        if let Some(a) = &opts.auth {
            b = b.auth(a.clone());
        }
        for (k, v) in &opts.headers {
            b = b.opening_header(k.as_str(), v.as_str());
        }
        if let Some(tls) = opts.tls.socketio_connector()? {
            b = b.tls_config(tls);
        }
        // Errors and logs name the URL as the redaction policy shows it.
        let shown_url = redact::url(&opts.url);
        let client = tokio::time::timeout(timeout, b.connect())
            .await
            .map_err(|_| Error::Unreachable {
                url: shown_url.clone(),
                reason: format!("no answer within {timeout:?}"),
            })?
            .map_err(|e| Error::Unreachable {
                url: shown_url.clone(),
                reason: redact::text(&super::tls::explain(&with_sources(&e))),
            })?;
        match tokio::time::timeout(timeout, ready_rx).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(message))) => {
                let _ = client.disconnect().await;
                return Err(Error::Refused {
                    url: shown_url.clone(),
                    message: redact::text(&message),
                });
            }
            _ => {
                let _ = client.disconnect().await;
                return Err(Error::Unreachable {
                    url: shown_url.clone(),
                    reason: format!("namespace {ns} not joined within {timeout:?}"),
                });
            }
        }
        tracing::info!(connection = id, url = %shown_url, namespace = %ns, "connected");
        Ok(Self {
            id,
            namespace: ns,
            backend: Backend::Library(client),
            bus,
            source,
            health,
            eio: Eio::V4,
            parser: Parser::Json,
        })
    }

    /// Which protocol and client the connection uses, for a session's metadata:
    /// `{"eio": 3|4, "parser": "json"|"msgpack", "client": "rust_socketio"|"sockscope"}`.
    pub fn protocol(&self) -> Value {
        json!({
            "eio": self.eio.number(),
            "parser": self.parser.name(),
            "client": self.client_name(),
        })
    }

    /// One line saying what the connection speaks (the CLI prints it on stderr).
    pub fn protocol_line(&self) -> String {
        format!(
            "speaking Engine.IO v{} ({}) with the {} parser, {} client",
            self.eio.number(),
            match self.eio {
                Eio::V3 => "Socket.IO 2.x",
                Eio::V4 => "Socket.IO 3/4",
            },
            self.parser.name(),
            self.client_name()
        )
    }

    fn client_name(&self) -> &'static str {
        match self.backend {
            Backend::Library(_) => "rust_socketio",
            Backend::Native(_) => "sockscope",
        }
    }

    /// Resolves with the reason once the connection is gone and will not come back
    /// (reconnection off, or out of attempts). Never resolves otherwise.
    pub async fn ended(&self) -> String {
        self.health.ended().await
    }

    /// What the connection lost so far, by cause.
    pub fn losses(&self) -> ConnectionLosses {
        self.health.losses()
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// `connection:<id>`, the source of this connection's records.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn publish(&self, direction: Direction, event: &str, args: Value, ack: Option<AckInfo>) {
        let mut r = bus::record(&self.source, direction, &self.namespace, event, args);
        r.ack = ack;
        self.bus.publish(r);
    }

    /// Emits `event` with `args` (a JSON array: one element per argument).
    pub async fn emit(&self, event: &str, args: Value) -> Result<()> {
        let client = match &self.backend {
            Backend::Library(c) => c,
            Backend::Native(n) => {
                n.emit(event, &arg_list(&args)).await?;
                self.publish(Direction::C2s, event, args, None);
                return Ok(());
            }
        };
        let payload = payload_of(&args);
        client
            .emit(event, payload)
            .await
            .map_err(|e| Error::Emit(e.to_string()))?;
        self.publish(Direction::C2s, event, args, None);
        Ok(())
    }

    /// Emits and waits for the ack; the record carries the reply and its latency.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        args: Value,
        timeout: Duration,
    ) -> Result<(Value, Duration)> {
        let started = Instant::now();
        let client = match &self.backend {
            Backend::Library(c) => c,
            Backend::Native(n) => {
                let reply = n.emit_with_ack(event, &arg_list(&args), timeout).await?;
                let latency = started.elapsed();
                self.publish_acked(event, args, &reply, latency);
                return Ok((reply, latency));
            }
        };
        let (tx, rx) = oneshot::channel::<Value>();
        let tx = Arc::new(Mutex::new(Some(tx)));
        client
            .emit_with_ack(
                event,
                payload_of(&args),
                timeout,
                move |p: Payload, _: Client| {
                    let tx = tx.clone();
                    async move {
                        if let Some(tx) = tx.lock().await.take() {
                            // rust_socketio wraps ack replies in one more array level.
                            let reply = match args_of(p) {
                                Value::Array(mut v) if v.len() == 1 => match v.remove(0) {
                                    Value::Array(mut inner) if inner.len() == 1 => inner.remove(0),
                                    other => other,
                                },
                                other => other,
                            };
                            let _ = tx.send(reply);
                        }
                    }
                    .boxed()
                },
            )
            .await
            .map_err(|e| Error::Emit(e.to_string()))?;
        let reply = tokio::time::timeout(timeout, rx)
            .await
            .map_err(|_| Error::Emit(format!("no ack for {event} within {timeout:?}")))?
            .map_err(|_| Error::Emit(format!("no ack for {event}")))?;
        let latency = started.elapsed();
        self.publish_acked(event, args, &reply, latency);
        Ok((reply, latency))
    }

    fn publish_acked(&self, event: &str, args: Value, reply: &Value, latency: Duration) {
        self.publish(
            Direction::C2s,
            event,
            args,
            Some(AckInfo {
                id: None,
                reply: Some(
                    json!({ "reply": reply, "latency_ms": latency.as_secs_f64() * 1000.0 }),
                ),
                latency_us: None,
            }),
        );
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Library(c) => {
                let _ = c.disconnect().await;
            }
            Backend::Native(n) => n.close().await,
        }
    }
}

/// The arguments of an emit: a JSON array is one element per argument.
fn arg_list(args: &Value) -> Vec<Value> {
    match args {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// One argument goes as itself; several go as a list (rust_socketio sends a JSON
/// array payload as multiple arguments).
fn payload_of(args: &Value) -> Payload {
    match args {
        Value::Array(items) if items.len() == 1 => Payload::Text(vec![items[0].clone()]),
        Value::Array(items) => Payload::Text(items.clone()),
        other => Payload::Text(vec![other.clone()]),
    }
}
