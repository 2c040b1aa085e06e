//! A minimal Socket.IO v5 client over Engine.IO v4's WebSocket transport, for the
//! simulator's virtual clients. Opening and reading frames is the connections' own
//! protocol code ([`crate::connection::wire`]); this module adds what a virtual
//! client counts and waits for.
//!
//! Why not `rust_socketio` (what [`crate::connection`] uses): each of its clients
//! starts an Engine.IO polling handshake, its own background tasks, callback maps and
//! reconnect machinery, which is right for one operator connection and far too heavy
//! for 10,000 simulated ones in one process. This client does only what a virtual
//! client needs, on one WebSocket with small buffers and one reader task:
//!
//! - open `ws(s)://host/socket.io/?EIO=4&transport=websocket` directly (no polling);
//! - answer Engine.IO `2` (ping) with `3` (pong);
//! - `40/ns,{auth}` CONNECT, then `40` (joined) or `44` (connect_error);
//! - send `42/ns,[event,data]` EVENTs, with an ack id when asked (`42/ns,7[...]`);
//! - read `42`/`43` (EVENT/ACK) packets: count them, time them, wake waiters.
//!
//! Binary attachments are assembled by the shared reader and counted by name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use super::report::{payload_timestamp, Latency, Stats};
use crate::bus::now_micros;
use crate::codec::{self, Kind};
use crate::connection::wire::{
    self, Eio, Incoming, OpenOutcome, OpenRequest, Opened, Socket, Wire,
};
use crate::{Error, Result};

type Sink = SplitSink<Socket, Message>;

/// The WebSocket URL of a gateway given as `http(s)://host[:port][/]` or
/// `ws(s)://...`: Engine.IO v4 on the default `/socket.io/` path.
pub fn websocket_url(target: &str) -> Result<String> {
    Ok(wire::websocket_url(target, Eio::V4, &[])?)
}

use crate::connection::wire::failure;
/// Why a client did not connect, as an error kind for the report
/// (`connect_timeout`, `unreachable`, `http_refused`, `connect_error`, `protocol`).
pub use crate::connection::wire::OpenFailure as ConnectFailure;

/// One Socket.IO packet, as far as the simulator cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    Connect {
        ns: String,
    },
    ConnectError {
        ns: String,
        message: String,
    },
    Disconnect {
        ns: String,
    },
    Event {
        ns: String,
        name: String,
        data: Value,
    },
    Ack {
        ns: String,
        id: u64,
    },
    Other,
}

/// Reads a Socket.IO packet (the text after Engine.IO's `4`) with the shared
/// [`codec`]; a packet the codec refuses is the error (the reader then fails its
/// client), a well-formed packet the simulator has no use for is [`Packet::Other`].
pub fn parse_packet(text: &str) -> std::result::Result<Packet, codec::Error> {
    Ok(packet_of(codec::decode(text)?))
}

/// What the simulator makes of a decoded packet.
fn packet_of(p: codec::Packet) -> Packet {
    match p.kind {
        Kind::Connect => Packet::Connect { ns: p.nsp },
        Kind::Disconnect => Packet::Disconnect { ns: p.nsp },
        Kind::Event | Kind::BinaryEvent => match p.event() {
            Some((name, args)) => Packet::Event {
                name: name.to_owned(),
                data: args.first().cloned().unwrap_or(Value::Null),
                ns: p.nsp,
            },
            None => Packet::Other,
        },
        Kind::Ack | Kind::BinaryAck => match p.id {
            Some(id) => Packet::Ack { ns: p.nsp, id },
            None => Packet::Other,
        },
        Kind::ConnectError => {
            let v = p.data.unwrap_or(Value::Null);
            let message = v
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            Packet::ConnectError { ns: p.nsp, message }
        }
    }
}

/// `42/ns,7["event",data]`: an EVENT packet inside an Engine.IO message.
pub fn event_frame(ns: &str, event: &str, data: &Value, ack: Option<u64>) -> String {
    let body = Value::Array(vec![Value::String(event.to_owned()), data.clone()]);
    codec::Packet::new(Kind::Event, ns, ack, Some(body)).frame()
}

/// The last arrivals of one event name or message type (for `wait_for`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Seen {
    pub count: u64,
    pub last_at: Instant,
    /// Whether the last one carried a payload timestamp (latency already measured).
    pub timed: bool,
}

/// What the reader task and the scenario task of one virtual client share, whatever
/// its protocol (this Socket.IO client and [`super::ws_client`]): the counts of what
/// arrived, a wake-up for waiters, and whether the connection is closing or gone.
pub(super) struct Arrivals {
    pub stats: Arc<Stats>,
    /// The namespace (or plain WebSocket path) the live metrics label this client with.
    pub ns: String,
    seen: Mutex<HashMap<String, Seen>>,
    pub wake: Notify,
    pub closing: AtomicBool,
    pub gone: AtomicBool,
}

impl Arrivals {
    pub fn new(stats: Arc<Stats>, ns: &str) -> Self {
        Self {
            stats,
            ns: ns.to_owned(),
            seen: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            closing: AtomicBool::new(false),
            gone: AtomicBool::new(false),
        }
    }

    /// Counts one arrival of `name` (an event name or message type) carrying
    /// `payload`: a payload timestamp is a delivery latency sample. Wakes the waiters.
    pub fn arrived(&self, name: String, payload: &Value) {
        let now = Instant::now();
        self.stats.received(&self.ns, &name);
        let timed = match payload_timestamp(payload) {
            Some(ts) => {
                let micros = now_micros().saturating_sub(ts).max(0);
                self.stats
                    .latency_micros(Latency::Delivery, u64::try_from(micros).unwrap_or(0));
                true
            }
            None => false,
        };
        if let Ok(mut seen) = self.seen.lock() {
            let s = seen.entry(name).or_insert(Seen {
                count: 0,
                last_at: now,
                timed,
            });
            s.count += 1;
            s.last_at = now;
            s.timed = timed;
        }
        self.wake.notify_waiters();
    }

    pub fn seen(&self, name: &str) -> Option<Seen> {
        self.seen.lock().ok().and_then(|s| s.get(name).copied())
    }

    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    /// Waits until `check` finds what it looks for (`Ok`), the connection ends
    /// (`Err(Outcome::Gone)`) or `timeout` passes (`Err(Outcome::TimedOut)`).
    pub async fn wait_until<R>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> Option<R>,
    ) -> std::result::Result<R, Outcome> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if let Some(r) = check(self) {
                return Ok(r);
            }
            if self.is_gone() {
                return Err(Outcome::Gone);
            }
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                return Err(Outcome::TimedOut);
            }
        }
    }
}

/// The scenario task's side of `wait_for`, whatever the protocol: how many of each
/// name it has consumed, and when it last emitted (for delivery latency).
#[derive(Default)]
pub(super) struct Waits {
    consumed: HashMap<String, u64>,
    last_emit: Option<Instant>,
}

impl Waits {
    pub fn emitted(&mut self, at: Instant) {
        self.last_emit = Some(at);
    }

    /// Marks the first `count` arrivals of `name` consumed (`wait_for` skips them).
    pub fn consume(&mut self, name: &str, count: u64) {
        self.consumed.insert(name.to_owned(), count);
    }

    /// Waits for the next unconsumed `name`. Without a payload timestamp, its
    /// delivery latency is measured from the last emit.
    pub async fn wait_for(
        &mut self,
        arrivals: &Arrivals,
        name: &str,
        timeout: Duration,
    ) -> Outcome {
        let consumed = self.consumed.get(name).copied().unwrap_or(0);
        let found = arrivals
            .wait_until(timeout, |a| a.seen(name).filter(|s| s.count > consumed))
            .await;
        match found {
            Ok(seen) => {
                self.consume(name, consumed + 1);
                if let (false, Some(emitted)) = (seen.timed, self.last_emit) {
                    if seen.last_at >= emitted {
                        arrivals
                            .stats
                            .latency(Latency::Delivery, seen.last_at - emitted);
                    }
                }
                Outcome::Ok
            }
            Err(Outcome::TimedOut) => {
                arrivals.stats.error("wait_timeout");
                Outcome::TimedOut
            }
            Err(other) => other,
        }
    }
}

/// What the reader task and the scenario task of one client share.
struct Inbox {
    ns: String,
    arrivals: Arrivals,
    pending_acks: Mutex<HashMap<u64, oneshot::Sender<Instant>>>,
}

/// A connected virtual client.
pub struct Client {
    index: usize,
    inbox: Arc<Inbox>,
    sink: Arc<tokio::sync::Mutex<Sink>>,
    reader: JoinHandle<()>,
    next_ack: u64,
    waits: Waits,
}

/// What a wait or an ack came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    TimedOut,
    /// The connection ended.
    Gone,
}

impl Client {
    /// Opens the WebSocket, joins `ns` with `auth`; all within `timeout`.
    pub async fn connect(
        index: usize,
        url: &str,
        ns: &str,
        auth: Option<&Value>,
        timeout: Duration,
        stats: Arc<Stats>,
        tls: Option<tokio_tungstenite::Connector>,
    ) -> std::result::Result<Self, ConnectFailure> {
        match tokio::time::timeout(timeout, Self::handshake(index, url, ns, auth, stats, tls)).await
        {
            Ok(r) => r,
            Err(_) => Err(failure(
                "connect_timeout",
                format!("not connected within {timeout:?}"),
            )),
        }
    }

    async fn handshake(
        index: usize,
        url: &str,
        ns: &str,
        auth: Option<&Value>,
        stats: Arc<Stats>,
        tls: Option<tokio_tungstenite::Connector>,
    ) -> std::result::Result<Self, ConnectFailure> {
        // Small buffers: thousands of these live in one process.
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let opened = wire::open(OpenRequest {
            url,
            ns,
            auth,
            config: Some(config),
            tls,
            ..OpenRequest::default()
        })
        .await?;
        let Opened { socket, wire, .. } =
            match opened {
                OpenOutcome::Joined(o) => *o,
                OpenOutcome::SpeaksV3 => return Err(failure(
                    "protocol",
                    "the server speaks Engine.IO v3 (Socket.IO 2.x); simulated clients speak v4",
                )),
            };
        let (sink, stream) = socket.split();
        let sink = Arc::new(tokio::sync::Mutex::new(sink));
        let inbox = Arc::new(Inbox {
            ns: ns.to_owned(),
            arrivals: Arrivals::new(stats, ns),
            pending_acks: Mutex::new(HashMap::new()),
        });
        let reader = tokio::spawn(read_loop(stream, wire, sink.clone(), inbox.clone(), index));
        Ok(Self {
            index,
            inbox,
            sink,
            reader,
            next_ack: 0,
            waits: Waits::default(),
        })
    }

    /// Sends an EVENT; with `ack_timeout`, waits for its ack and records the latency.
    pub async fn emit(
        &mut self,
        event: &str,
        data: &Value,
        ack_timeout: Option<Duration>,
    ) -> Result<Outcome> {
        let stats = self.inbox.arrivals.stats.clone();
        let ack = match ack_timeout {
            Some(_) => {
                let id = self.next_ack;
                self.next_ack += 1;
                let (tx, rx) = oneshot::channel();
                if let Ok(mut p) = self.inbox.pending_acks.lock() {
                    p.insert(id, tx);
                }
                Some((id, rx))
            }
            None => None,
        };
        let frame = event_frame(&self.inbox.ns, event, data, ack.as_ref().map(|(id, _)| *id));
        let sent_at = Instant::now();
        let sent = self.sink.lock().await.send(Message::text(frame)).await;
        if let Err(e) = sent {
            stats.error("send_failed");
            tracing::debug!(client = self.index, event, error = %e, "simulated emit failed");
            return Err(Error::Emit(e.to_string()));
        }
        stats.sent(&self.inbox.ns, event);
        self.waits.emitted(sent_at);
        let (Some((id, rx)), Some(timeout)) = (ack, ack_timeout) else {
            return Ok(Outcome::Ok);
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(at)) => {
                stats.acks_ok.fetch_add(1, Ordering::Relaxed);
                stats.latency(Latency::Ack, at.saturating_duration_since(sent_at));
                Ok(Outcome::Ok)
            }
            Ok(Err(_)) => Ok(Outcome::Gone),
            Err(_) => {
                if let Ok(mut p) = self.inbox.pending_acks.lock() {
                    p.remove(&id);
                }
                stats.acks_timed_out.fetch_add(1, Ordering::Relaxed);
                stats.error("ack_timeout");
                Ok(Outcome::TimedOut)
            }
        }
    }

    /// Waits for the next unconsumed `event`. Without a payload timestamp, its
    /// delivery latency is measured from this client's last emit.
    pub async fn wait_for(&mut self, event: &str, timeout: Duration) -> Outcome {
        let outcome = self
            .waits
            .wait_for(&self.inbox.arrivals, event, timeout)
            .await;
        if outcome == Outcome::TimedOut {
            tracing::debug!(client = self.index, event, "simulated wait timed out");
        }
        outcome
    }

    pub fn is_gone(&self) -> bool {
        self.inbox.arrivals.is_gone()
    }

    /// Leaves cleanly: Socket.IO DISCONNECT, Engine.IO close, WebSocket close.
    pub async fn close(self) {
        self.inbox.arrivals.closing.store(true, Ordering::SeqCst);
        {
            let mut sink = self.sink.lock().await;
            let ns = &self.inbox.ns;
            let bye = if ns == "/" {
                "41".to_owned()
            } else {
                format!("41{ns},")
            };
            // Best effort: the server may already be gone.
            let _ = sink.send(Message::text(bye)).await;
            let _ = sink.send(Message::Close(None)).await;
        }
        let mut reader = self.reader;
        match tokio::time::timeout(Duration::from_secs(1), &mut reader).await {
            Err(_) => reader.abort(),
            Ok(Err(e)) if e.is_panic() => {
                tracing::warn!(client = self.index, error = %e, "simulated client's reader panicked");
                self.inbox.arrivals.stats.client_failed_after_connect();
                self.inbox.arrivals.stats.error(super::CLIENT_PANIC);
            }
            Ok(_) => {}
        }
    }
}

/// The error kind of a client whose reader got a frame it cannot decode.
pub const BAD_FRAME: &str = "bad_frame";

/// Reads until the connection ends: pongs pings, counts events, resolves acks. A
/// frame that does not decode ends the connection and fails the client.
async fn read_loop(
    mut stream: SplitStream<Socket>,
    mut wire: Wire,
    sink: Arc<tokio::sync::Mutex<Sink>>,
    inbox: Arc<Inbox>,
    index: usize,
) {
    let ended = loop {
        let msg = match stream.next().await {
            Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => m,
            Some(Ok(Message::Close(_))) | None => break "closed",
            Some(Err(_)) => break "broken",
            Some(Ok(_)) => continue,
        };
        let packet = match wire.read(&msg) {
            Ok(Incoming::Ping) => {
                if sink.lock().await.send(wire::pong()).await.is_err() {
                    break "broken";
                }
                continue;
            }
            Ok(Incoming::Close) => break "closed",
            Ok(Incoming::Packet(p)) => packet_of(p),
            Ok(_) => continue,
            Err(error) => {
                tracing::debug!(client = index, %error, "simulated client got a bad frame");
                break BAD_FRAME;
            }
        };
        match packet {
            Packet::Event { ns, name, data } if ns == inbox.ns => {
                inbox.arrivals.arrived(name, &data);
            }
            Packet::Ack { ns, id } if ns == inbox.ns => {
                let waiter = inbox
                    .pending_acks
                    .lock()
                    .ok()
                    .and_then(|mut p| p.remove(&id));
                if let Some(tx) = waiter {
                    let _ = tx.send(Instant::now());
                }
            }
            Packet::Disconnect { ns } if ns == inbox.ns => break "server_disconnect",
            _ => {}
        }
    };
    let arrivals = &inbox.arrivals;
    arrivals.gone.store(true, Ordering::SeqCst);
    if ended == BAD_FRAME {
        // The server broke the protocol: this client failed, it is not connected.
        arrivals.stats.client_failed_after_connect();
        arrivals.stats.error(BAD_FRAME);
    } else if !arrivals.closing.load(Ordering::SeqCst) {
        let kind = if ended == "server_disconnect" {
            "server_disconnect"
        } else {
            "disconnected"
        };
        arrivals.stats.error(kind);
        tracing::debug!(
            client = index,
            how = ended,
            "simulated client lost its connection"
        );
    }
    if let Ok(mut p) = inbox.pending_acks.lock() {
        p.clear(); // dropping the senders ends the ack waits
    }
    arrivals.wake.notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn websocket_urls() {
        assert_eq!(
            websocket_url("http://127.0.0.1:3069").ok().as_deref(),
            Some("ws://127.0.0.1:3069/socket.io/?EIO=4&transport=websocket")
        );
        assert_eq!(
            websocket_url("https://gw.example/app").ok().as_deref(),
            Some("wss://gw.example/socket.io/?EIO=4&transport=websocket")
        );
        assert!(websocket_url("ftp://x").is_err());
        assert!(websocket_url("localhost:3069").is_err());
        assert!(websocket_url("http://").is_err());
    }

    #[test]
    fn frames() {
        assert_eq!(
            event_frame("/dashboard", "subscribe", &json!({"a": 1}), Some(7)),
            r#"42/dashboard,7["subscribe",{"a":1}]"#
        );
        assert_eq!(event_frame("/", "x", &json!(null), None), r#"42["x",null]"#);
    }

    #[test]
    fn packets() {
        assert_eq!(
            parse_packet(r#"0/dashboard,{"sid":"abc"}"#).unwrap(),
            Packet::Connect {
                ns: "/dashboard".into()
            }
        );
        assert_eq!(
            parse_packet(r#"4/dashboard,{"message":"bad signature"}"#).unwrap(),
            Packet::ConnectError {
                ns: "/dashboard".into(),
                message: "bad signature".into()
            }
        );
        assert_eq!(
            parse_packet(r#"2/dashboard,["metric:update",{"value":3}]"#).unwrap(),
            Packet::Event {
                ns: "/dashboard".into(),
                name: "metric:update".into(),
                data: json!({"value": 3})
            }
        );
        assert_eq!(
            parse_packet(r#"2["pong","Mon"]"#).unwrap(),
            Packet::Event {
                ns: "/".into(),
                name: "pong".into(),
                data: json!("Mon")
            }
        );
        assert_eq!(
            parse_packet(r#"3/dashboard,12[{"ok":true}]"#).unwrap(),
            Packet::Ack {
                ns: "/dashboard".into(),
                id: 12
            }
        );
        assert_eq!(
            parse_packet(r#"31[]"#).unwrap(),
            Packet::Ack {
                ns: "/".into(),
                id: 1
            }
        );
        assert_eq!(
            parse_packet(r#"51-["file",{"_placeholder":true,"num":0}]"#).unwrap(),
            Packet::Event {
                ns: "/".into(),
                name: "file".into(),
                data: json!({"_placeholder": true, "num": 0})
            }
        );
        assert_eq!(
            parse_packet("1/dashboard,").unwrap(),
            Packet::Disconnect {
                ns: "/dashboard".into()
            }
        );
        assert_eq!(parse_packet("2[1]").unwrap(), Packet::Other);
        // Bad packets are errors, multibyte text included (`4é` panicked once).
        for bad in ["", "é", "2é", "9", "3[]", "2[bad"] {
            assert!(parse_packet(bad).is_err(), "{bad:?}");
        }
    }
}
