//! The connection backend for what rust_socketio cannot do: Engine.IO v3 (Socket.IO
//! 2.x servers), the msgpack parser, and answering a server's ack requests. It runs
//! on Sockscope's own protocol code ([`super::wire`], shared with the simulator) over
//! one WebSocket, with one driver task that reads, pings (v3) or pongs (v4),
//! answers acks by the connection's rules, and reconnects.
//!
//! Records are the same as the rust_socketio backend's; in addition a server event
//! that asked for an ack carries `ack.id`, and `ack.reply` = `{"reply": R}` when a
//! rule answered it (the reply is sent as one argument), or no reply when nothing
//! did (shown as unanswered).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sockscope_protocol::{AckInfo, Direction, Parser};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use super::health::{Health, DEFAULT_MAX_PAYLOAD};
use super::wire::{self, Eio, Incoming, OpenOutcome, OpenRequest, Socket, Wire};
use super::ConnectOptions;
use crate::{Error, Result};
use sockscope_bus::redact;
use sockscope_bus::{self as bus, Bus};
use sockscope_codec::Kind;

type Sink = SplitSink<Socket, Message>;

/// What the driver task and the connection's callers share.
struct Shared {
    ns: String,
    source: String,
    bus: Bus,
    health: Arc<Health>,
    eio: Eio,
    parser: Parser,
    sink: tokio::sync::Mutex<Option<Sink>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    next_ack: AtomicU64,
    closing: AtomicBool,
    opts: ConnectOptions,
    max_payload: usize,
}

pub(super) struct Native {
    shared: Arc<Shared>,
    driver: tokio::task::JoinHandle<()>,
}

/// The ack reply a rule gives to `event`: its own rule first, else `*`.
pub fn ack_reply<'a>(rules: &'a [(String, Value)], event: &str) -> Option<&'a Value> {
    rules
        .iter()
        .find(|(e, _)| e == event)
        .or_else(|| rules.iter().find(|(e, _)| e == "*"))
        .map(|(_, v)| v)
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(DEFAULT_MAX_PAYLOAD))
        .max_frame_size(Some(DEFAULT_MAX_PAYLOAD))
}

/// v3 handshakes carry no auth object: its top-level scalar fields go in the query
/// (where Socket.IO 2.x servers read `socket.handshake.query`).
fn query_for(opts: &ConnectOptions, eio: Eio) -> Vec<(String, String)> {
    let mut q = opts.query.clone();
    if eio == Eio::V3 {
        if let Some(Value::Object(auth)) = &opts.auth {
            for (k, v) in auth {
                match v {
                    Value::String(s) => q.push((k.clone(), s.clone())),
                    Value::Number(_) | Value::Bool(_) => q.push((k.clone(), v.to_string())),
                    _ => {}
                }
            }
        }
    }
    q
}

/// One open (no fallback): joined, a v3 server seen, or why not.
async fn open_once(
    opts: &ConnectOptions,
    ns: &str,
    eio: Eio,
    timeout: Duration,
) -> Result<OpenOutcome> {
    let shown_url = redact::url(&opts.url);
    let url = wire::websocket_url(&opts.url, eio, &query_for(opts, eio))?;
    let req = OpenRequest {
        url: &url,
        headers: &opts.headers,
        ns,
        auth: opts.auth.as_ref(),
        eio,
        parser: opts.parser,
        config: Some(ws_config()),
        tls: opts.tls.ws_connector()?,
    };
    match tokio::time::timeout(timeout, wire::open(req)).await {
        Err(_) => Err(Error::Unreachable {
            url: shown_url,
            reason: format!("namespace {ns} not joined within {timeout:?}"),
        }),
        Ok(Ok(o)) => Ok(o),
        Ok(Err(f)) if f.kind == "connect_error" => Err(Error::Refused {
            url: shown_url,
            message: redact::text(&f.message),
        }),
        Ok(Err(f)) => Err(Error::Unreachable {
            url: shown_url,
            reason: redact::text(&f.message),
        }),
    }
}

/// Opens with `eio` (`None`: v4, then v3 when the server answers with a v3 open).
pub(super) async fn open_joined(
    opts: &ConnectOptions,
    ns: &str,
    eio: Option<Eio>,
    timeout: Duration,
) -> Result<wire::Opened> {
    let first = eio.unwrap_or(Eio::V4);
    match open_once(opts, ns, first, timeout).await? {
        OpenOutcome::Joined(o) => Ok(*o),
        OpenOutcome::SpeaksV3 if eio.is_none() => {
            tracing::info!(url = %redact::url(&opts.url), "server answered with Engine.IO v3; reconnecting as v3");
            match open_once(opts, ns, Eio::V3, timeout).await? {
                OpenOutcome::Joined(o) => Ok(*o),
                OpenOutcome::SpeaksV3 => Err(Error::Unreachable {
                    url: redact::url(&opts.url),
                    reason: "Engine.IO v3 handshake failed".into(),
                }),
            }
        }
        OpenOutcome::SpeaksV3 => Err(Error::Unreachable {
            url: redact::url(&opts.url),
            reason: "the server speaks Engine.IO v3 (Socket.IO 2.x): use --eio 3 or auto".into(),
        }),
    }
}

/// Which revision a server speaks, from one WebSocket open packet (for `--eio auto`
/// when the rust_socketio backend would otherwise be used). None when the probe
/// cannot tell (then rust_socketio tries and reports its own error).
pub(super) async fn probe(opts: &ConnectOptions, timeout: Duration) -> Option<Eio> {
    let url = wire::websocket_url(&opts.url, Eio::V4, &opts.query).ok()?;
    let run = async {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.as_str().into_client_request().ok()?;
        for (k, v) in &opts.headers {
            let name =
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).ok()?;
            let value = tokio_tungstenite::tungstenite::http::HeaderValue::from_str(v).ok()?;
            request.headers_mut().append(name, value);
        }
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(ws_config()), true)
                .await
                .ok()?;
        let mut w = Wire::new(Eio::V4, Parser::Json);
        let found = loop {
            match socket.next().await? {
                Ok(m @ Message::Text(_)) => match w.read(&m).ok()? {
                    Incoming::Open(h) => break h.eio,
                    _ => return None,
                },
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                _ => return None,
            }
        };
        let _ = socket.close(None).await;
        Some(found)
    };
    tokio::time::timeout(timeout, run).await.ok().flatten()
}

impl Native {
    /// Starts the driver on a joined socket (the caller has published nothing yet).
    pub(super) fn start(
        opened: wire::Opened,
        opts: ConnectOptions,
        ns: String,
        source: String,
        bus: Bus,
        health: Arc<Health>,
    ) -> Self {
        let max_payload = match opts.max_payload {
            0 => DEFAULT_MAX_PAYLOAD,
            n => n,
        };
        let shared = Arc::new(Shared {
            ns,
            source,
            bus,
            health,
            eio: opened.wire.eio,
            parser: opened.wire.parser,
            sink: tokio::sync::Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            next_ack: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            opts,
            max_payload,
        });
        let driver = tokio::spawn(drive(shared.clone(), opened));
        Self { shared, driver }
    }

    pub(super) fn eio(&self) -> Eio {
        self.shared.eio
    }

    async fn send(&self, msgs: Vec<Message>) -> Result<()> {
        send(&self.shared, msgs).await
    }

    pub(super) async fn emit(&self, event: &str, args: &[Value]) -> Result<()> {
        let w = Wire::new(self.shared.eio, self.shared.parser);
        self.send(w.event(&self.shared.ns, event, args, None)).await
    }

    pub(super) async fn emit_with_ack(
        &self,
        event: &str,
        args: &[Value],
        timeout: Duration,
    ) -> Result<Value> {
        let id = self.shared.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.pending).insert(id, tx);
        let w = Wire::new(self.shared.eio, self.shared.parser);
        if let Err(e) = self
            .send(w.event(&self.shared.ns, event, args, Some(id)))
            .await
        {
            lock(&self.shared.pending).remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(Error::Emit(format!(
                "no ack for {event}: the connection was lost"
            ))),
            Err(_) => {
                lock(&self.shared.pending).remove(&id);
                Err(Error::Emit(format!(
                    "no ack for {event} within {timeout:?}"
                )))
            }
        }
    }

    pub(super) async fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        let w = Wire::new(self.shared.eio, self.shared.parser);
        let mut msgs = w.disconnect(&self.shared.ns);
        msgs.push(Message::Close(None));
        let _ = self.send(msgs).await;
        let mut guard = self.shared.sink.lock().await;
        *guard = None;
        drop(guard);
        self.driver.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn send(shared: &Shared, msgs: Vec<Message>) -> Result<()> {
    let mut guard = shared.sink.lock().await;
    let Some(sink) = guard.as_mut() else {
        return Err(Error::Emit("not connected".into()));
    };
    for m in msgs {
        sink.send(m).await.map_err(|e| Error::Emit(e.to_string()))?;
    }
    Ok(())
}

fn publish(shared: &Shared, direction: Direction, event: &str, args: Value, ack: Option<AckInfo>) {
    let mut r = bus::record(&shared.source, direction, &shared.ns, event, args);
    r.ack = ack;
    shared.bus.publish(r);
}

/// Runs the connection: serve the socket, and after a loss reconnect as the options
/// say, until closed or out of attempts.
async fn drive(shared: Arc<Shared>, first: wire::Opened) {
    let mut opened = Some(first);
    let delay = shared
        .opts
        .reconnect_delay_ms
        .clamp(100, sockscope_bus::limits::MAX_MS);
    loop {
        let Some(o) = opened.take() else { return };
        let reason = serve(&shared, o).await;
        if shared.closing.load(Ordering::SeqCst) {
            return;
        }
        let line = shared
            .health
            .lose(reason)
            .unwrap_or_else(|| reason.to_owned());
        lock(&shared.pending).clear();
        if !shared.opts.reconnect {
            shared.health.end(format!("connection lost ({line})"));
            return;
        }
        let max = u32::from(shared.opts.reconnect_attempts);
        let mut attempt: u32 = 0;
        while opened.is_none() {
            attempt += 1;
            if max > 0 && attempt > max {
                let why = format!("connection lost; gave up after {max} reconnection attempts");
                shared.health.publish("error", json!([why]));
                shared.health.end(why);
                return;
            }
            let wait = delay.saturating_mul(u64::from(attempt.min(4)));
            tokio::time::sleep(Duration::from_millis(wait)).await;
            if shared.closing.load(Ordering::SeqCst) {
                return;
            }
            match open_joined(
                &shared.opts,
                &shared.ns,
                Some(shared.eio),
                Duration::from_secs(10),
            )
            .await
            {
                Ok(o) => opened = Some(o),
                Err(error) => {
                    tracing::debug!(source = %shared.source, %error, attempt, "reconnection failed")
                }
            }
        }
    }
}

/// Serves one joined socket until it ends; returns the `disconnect` reason.
async fn serve(shared: &Shared, opened: wire::Opened) -> &'static str {
    let wire::Opened {
        socket,
        mut wire,
        handshake,
    } = opened;
    let (sink, mut stream) = socket.split();
    *shared.sink.lock().await = Some(sink);
    shared.health.connected();
    publish(shared, Direction::S2c, "connect", json!([]), None);
    let out = Wire::new(shared.eio, shared.parser);
    for (event, data) in &shared.opts.on_connect {
        let args = std::slice::from_ref(data);
        match send(shared, out.event(&shared.ns, event, args, None)).await {
            Ok(()) => publish(shared, Direction::C2s, event, json!([data]), None),
            Err(error) => tracing::warn!(event, %error, "on-connect emit failed"),
        }
    }
    // v3: the client pings; v4: the server does. Either way, silence for longer
    // than interval + timeout means the connection is dead.
    let interval = handshake.ping_interval;
    let silence = handshake.ping_interval + handshake.ping_timeout;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    let mut deadline = tokio::time::Instant::now() + silence;
    loop {
        let msg = tokio::select! {
            m = next_message(&mut stream) => m,
            _ = ticker.tick(), if shared.eio == Eio::V3 => {
                if send(shared, vec![wire::ping()]).await.is_err() {
                    return "transport close";
                }
                continue;
            }
            _ = tokio::time::sleep_until(deadline) => return "ping timeout",
        };
        let Some(msg) = msg else {
            return "transport close";
        };
        deadline = tokio::time::Instant::now() + silence;
        let size = match &msg {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
            _ => 0,
        };
        match wire.read(&msg) {
            Ok(Incoming::Ping) => {
                if send(shared, vec![wire::pong()]).await.is_err() {
                    return "transport close";
                }
            }
            Ok(Incoming::Close) => return "transport close",
            Ok(Incoming::Packet(p)) if p.nsp == shared.ns => {
                if let Some(reason) = on_packet(shared, &out, p, size).await {
                    return reason;
                }
            }
            Ok(_) => {}
            Err(error) => {
                let message = redact::text(&error.to_string());
                tracing::warn!(source = %shared.source, %message, "bad frame from the server");
                shared.health.note_error(&message);
                shared.health.publish("error", json!([message]));
                return "transport error";
            }
        }
    }
}

async fn next_message(stream: &mut SplitStream<Socket>) -> Option<Message> {
    loop {
        match stream.next().await? {
            Ok(m @ (Message::Text(_) | Message::Binary(_) | Message::Close(_))) => return Some(m),
            Ok(_) => continue,
            Err(error) => {
                tracing::debug!(%error, "websocket read failed");
                return None;
            }
        }
    }
}

/// One packet on our namespace; Some(reason) when it ends the connection.
async fn on_packet(
    shared: &Shared,
    out: &Wire,
    p: sockscope_codec::Packet,
    size: usize,
) -> Option<&'static str> {
    match p.kind {
        Kind::Event | Kind::BinaryEvent => {
            let (name, args) = p.event()?;
            let name = name.to_owned();
            if size > shared.max_payload {
                shared.health.oversized(format!(
                    "event {name:?} dropped: {size} bytes is over the {} byte limit (--max-payload)",
                    shared.max_payload
                ));
                return None;
            }
            let args = Value::Array(args.to_vec());
            let ack = match p.id {
                None => None,
                Some(id) => match ack_reply(&shared.opts.ack_replies, &name) {
                    Some(reply) => {
                        let sent =
                            send(shared, out.ack(&shared.ns, id, std::slice::from_ref(reply)))
                                .await;
                        if let Err(error) = &sent {
                            tracing::warn!(event = %name, %error, "ack reply failed");
                        }
                        Some(AckInfo {
                            id: Some(id),
                            reply: sent.is_ok().then(|| json!({ "reply": reply })),
                            latency_us: None,
                        })
                    }
                    None => Some(AckInfo {
                        id: Some(id),
                        reply: None,
                        latency_us: None,
                    }),
                },
            };
            publish(shared, Direction::S2c, &name, args, ack);
            None
        }
        Kind::Ack | Kind::BinaryAck => {
            let waiter = p.id.and_then(|id| lock(&shared.pending).remove(&id));
            if let Some(tx) = waiter {
                let reply = match p.data {
                    Some(Value::Array(mut v)) if v.len() == 1 => v.remove(0),
                    Some(other) => other,
                    None => Value::Null,
                };
                let _ = tx.send(reply);
            }
            None
        }
        Kind::Disconnect => Some("io server disconnect"),
        Kind::ConnectError => {
            let message = wire::connect_error_message(p.data.as_ref());
            shared.health.note_error(&message);
            publish(
                shared,
                Direction::S2c,
                "connect_error",
                json!([message]),
                None,
            );
            Some("io server disconnect")
        }
        Kind::Connect => None,
    }
}
