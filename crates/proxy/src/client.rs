//! One client seen through the proxy: one Engine.IO session (`sid`), whatever
//! transports it uses over its life. Both transports feed the same two decoders (one
//! per direction), so a session that starts on long-polling and upgrades to a
//! websocket halfway is one client with one ordered stream of records.
//!
//! Records leave in the order the proxy saw the packets. An event that asks for an
//! ack is held until its ack crosses the other way, so the record carries the reply
//! and its latency (the form the rest of Sockscope reads: replay compares replies,
//! contracts infer their schema); the client's later records wait behind it. The wait
//! is bounded: after [`ACK_WAIT`] the event is published without its reply, and at
//! most [`MAX_HELD`] records wait at once. Nothing here touches the bytes on the
//! wire: the transports forward the original frames unless a rule changed them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sockscope_bus::Bus;
use sockscope_codec::wire::{Eio, Incoming, Wire};
use sockscope_codec::{Kind, Packet};
use sockscope_protocol::{AckInfo, Direction, EventRecord, Parser, ProxyClient, ProxyNamespace};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;

use crate::payload::Frame;
use crate::rules::{self, Rule, Verdict};

/// How long an event that asked for an ack waits for it before it is published
/// without the reply.
pub const ACK_WAIT: Duration = Duration::from_secs(10);
/// Most records one client holds back waiting for acks.
pub const MAX_HELD: usize = 10_000;
/// Most fault lines kept per client (the records keep every one).
const MAX_FAULT_LINES: usize = 1_000;

/// What one frame came to.
#[derive(Debug)]
pub enum Seen {
    /// Not a Socket.IO packet (Engine.IO open/ping/pong/noop/upgrade/close), or a
    /// packet no rule touched: forward what was held and this frame as they are.
    Pass,
    /// A binary attachment is still awaited: hold the frame.
    Incomplete,
    /// A rule acted on the packet.
    Fault {
        verdict: Verdict,
        /// The frames to send instead of the held ones, when rewritten.
        replacement: Option<Vec<Frame>>,
    },
}

/// A proxied client.
pub struct Client {
    pub n: u64,
    /// The Engine.IO session id (kept out of records: it would let a reader join
    /// the live session).
    pub sid: String,
    /// The Engine.IO path the app used (`/socket.io/`).
    pub path: String,
    pub source: String,
    pub eio: Eio,
    bus: Bus,
    state: Mutex<State>,
    /// Set when a rule or an error ended the client: its transports close.
    killed: AtomicBool,
    pub kill: Notify,
    pub started: Instant,
    last_seen: Mutex<Instant>,
    /// Time spent throttled, c2s and s2c.
    throttled: Mutex<[Duration; 2]>,
}

struct State {
    parser: Option<Parser>,
    c2s: Wire,
    s2c: Wire,
    transport: &'static str,
    handshake: Value,
    namespaces: BTreeMap<String, Option<String>>,
    c2s_count: u64,
    s2c_count: u64,
    faults: Vec<String>,
    closed: Option<String>,
    held: VecDeque<Held>,
    /// Absolute index of `held[0]`.
    first: u64,
    /// (direction of the request, namespace, ack id) -> absolute index in `held`.
    asked: HashMap<(Direction, String, u64), u64>,
}

struct Held {
    rec: EventRecord,
    /// Waiting for its ack until then.
    waiting: Option<Instant>,
    read_at: Instant,
}

impl Client {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        n: u64,
        sid: String,
        path: String,
        eio: Eio,
        parser: Option<Parser>,
        transport: &'static str,
        handshake: Value,
        bus: Bus,
    ) -> Self {
        let wire = |p: Option<Parser>| Wire::new(eio, p.unwrap_or_default());
        Self {
            n,
            sid,
            path,
            source: format!("proxy:{n}"),
            eio,
            bus,
            state: Mutex::new(State {
                parser,
                c2s: wire(parser),
                s2c: wire(parser),
                transport,
                handshake,
                namespaces: BTreeMap::new(),
                c2s_count: 0,
                s2c_count: 0,
                faults: Vec::new(),
                closed: None,
                held: VecDeque::new(),
                first: 0,
                asked: HashMap::new(),
            }),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            started: Instant::now(),
            last_seen: Mutex::new(Instant::now()),
            throttled: Mutex::new([Duration::ZERO; 2]),
        }
    }

    /// Notes traffic, for the idle check.
    pub fn touch(&self) {
        *self.last_seen.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Time since the client's last request or message.
    pub fn idle(&self) -> Duration {
        self.last_seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    /// Adds time a throttle rule held this client's traffic.
    pub fn note_throttle(&self, direction: Direction, t: Duration) {
        let mut th = self.throttled.lock().unwrap_or_else(|p| p.into_inner());
        th[direction as usize] += t;
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_transport(&self, transport: &'static str) {
        self.state().transport = transport;
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    pub fn is_closed(&self) -> bool {
        self.state().closed.is_some()
    }

    /// Reads one frame crossing in `direction` and decides what happens to it.
    /// An `Err` is a frame that does not decode: the caller ends the client.
    pub fn inspect(
        &self,
        direction: Direction,
        frame: &Frame,
        rules: &[Rule],
    ) -> Result<Seen, String> {
        let mut st = self.state();
        if st.parser.is_none() {
            st.parser = detect(self.eio, frame);
            if let Some(p) = st.parser {
                st.c2s.parser = p;
                st.s2c.parser = p;
            }
        }
        let msg = match frame {
            Frame::Text(t) => Message::text(t.clone()),
            Frame::Binary(b) => Message::binary(b.clone()),
        };
        let wire = match direction {
            Direction::C2s => &mut st.c2s,
            Direction::S2c => &mut st.s2c,
        };
        let packet = match wire.read(&msg).map_err(|e| e.to_string())? {
            Incoming::Packet(p) => p,
            Incoming::Nothing if matches!(frame, Frame::Binary(_)) || is_binary_header(frame) => {
                return Ok(Seen::Incomplete)
            }
            _ => return Ok(Seen::Pass),
        };
        match direction {
            Direction::C2s => st.c2s_count += 1,
            Direction::S2c => st.s2c_count += 1,
        }
        let mut seen = Seen::Pass;
        let mut fault = None;
        let mut delivered = packet.clone();
        if let Some((name, args)) = packet.event() {
            let args = Value::Array(args.to_vec());
            let verdict = rules::judge(rules, direction, &packet.nsp, name, &args);
            if !verdict.untouched() {
                let mut replacement = None;
                if let Some(new_args) = &verdict.rewritten {
                    let mut items = vec![Value::String(name.to_owned())];
                    items.extend(new_args.as_array().cloned().unwrap_or_default());
                    delivered.data = Some(Value::Array(items));
                    let wire = match direction {
                        Direction::C2s => &st.c2s,
                        Direction::S2c => &st.s2c,
                    };
                    replacement = Some(
                        wire.encode(&delivered)
                            .into_iter()
                            .map(|m| match m {
                                Message::Binary(b) => Frame::Binary(b.to_vec()),
                                other => Frame::Text(other.to_text().unwrap_or("").to_owned()),
                            })
                            .collect(),
                    );
                }
                let line = verdict.faults.join("; ");
                if st.faults.len() < MAX_FAULT_LINES {
                    st.faults
                        .push(format!("{} {name}: {line}", direction.as_str()));
                }
                fault = Some(line);
                seen = Seen::Fault {
                    verdict,
                    replacement,
                };
            }
        }
        self.record(&mut st, direction, delivered, fault);
        Ok(seen)
    }

    /// Turns a decoded packet into its record (or pairs an ack with its event).
    fn record(&self, st: &mut State, direction: Direction, p: Packet, fault: Option<String>) {
        let now = Instant::now();
        let socket_id = st.namespaces.get(&p.nsp).cloned().flatten();
        let rec = |event: &str, args: Value| {
            let mut r = sockscope_bus::record(&self.source, direction, &p.nsp, event, args);
            r.ts = sockscope_bus::now_micros();
            r.socket_id = socket_id.clone();
            r.fault = fault.clone();
            r
        };
        match p.kind {
            Kind::Event | Kind::BinaryEvent => {
                let Some((name, args)) = p.event() else {
                    return;
                };
                let mut r = rec(name, Value::Array(args.to_vec()));
                let mut waiting = None;
                if let Some(id) = p.id {
                    r.ack = Some(AckInfo {
                        id: Some(id),
                        reply: None,
                        latency_us: None,
                    });
                    let at = st.first + st.held.len() as u64;
                    st.asked.insert((direction, p.nsp.clone(), id), at);
                    waiting = Some(now + ACK_WAIT);
                }
                st.held.push_back(Held {
                    rec: r,
                    waiting,
                    read_at: now,
                });
            }
            Kind::Ack | Kind::BinaryAck => {
                let Some(id) = p.id else { return };
                let request = other(direction);
                if let Some(at) = st.asked.remove(&(request, p.nsp.clone(), id)) {
                    let first = st.first;
                    if let Some(h) = at
                        .checked_sub(first)
                        .and_then(|i| st.held.get_mut(i as usize))
                    {
                        let reply = match p.data {
                            Some(Value::Array(mut v)) if v.len() == 1 => v.remove(0),
                            Some(other) => other,
                            None => Value::Null,
                        };
                        h.rec.ack = Some(AckInfo {
                            id: Some(id),
                            reply: Some(reply),
                            latency_us: Some(now.duration_since(h.read_at).as_micros() as u64),
                        });
                        h.waiting = None;
                    }
                }
            }
            Kind::Connect => {
                let sid = p
                    .data
                    .as_ref()
                    .and_then(|d| d.get("sid"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                if direction == Direction::S2c {
                    st.namespaces.insert(p.nsp.clone(), sid.clone());
                } else {
                    st.namespaces.entry(p.nsp.clone()).or_insert(None);
                }
                let args = match p.data {
                    Some(d) => json!([d]),
                    None => json!([]),
                };
                let mut r = rec("connect", args);
                if direction == Direction::S2c {
                    r.socket_id = sid;
                }
                self.push(st, r);
            }
            Kind::ConnectError => {
                st.namespaces.remove(&p.nsp);
                let message = sockscope_codec::wire::connect_error_message(p.data.as_ref());
                let r = rec("connect_error", json!([message]));
                self.push(st, r);
            }
            Kind::Disconnect => {
                st.namespaces.remove(&p.nsp);
                let r = rec("disconnect", json!([]));
                self.push(st, r);
            }
        }
        self.flush_locked(st, false);
    }

    fn push(&self, st: &mut State, rec: EventRecord) {
        st.held.push_back(Held {
            rec,
            waiting: None,
            read_at: Instant::now(),
        });
    }

    /// Publishes the records that no longer wait (or waited too long).
    pub fn flush(&self) {
        let mut st = self.state();
        self.flush_locked(&mut st, false);
    }

    fn flush_locked(&self, st: &mut State, all: bool) {
        let now = Instant::now();
        while let Some(front) = st.held.front() {
            let expired = front.waiting.is_some_and(|until| until <= now);
            let over = st.held.len() > MAX_HELD;
            if front.waiting.is_some() && !expired && !over && !all {
                break;
            }
            let Some(h) = st.held.pop_front() else { break };
            st.first += 1;
            if let Some(ack) = &h.rec.ack {
                if let Some(id) = ack.id {
                    if ack.reply.is_none() {
                        st.asked
                            .remove(&(h.rec.direction, h.rec.namespace.clone(), id));
                    }
                }
            }
            self.bus.publish(h.rec);
        }
    }

    /// Notes a fault that has no event of its own (a refused upgrade).
    pub fn note_fault(&self, line: String) {
        let mut st = self.state();
        if st.faults.len() < MAX_FAULT_LINES {
            st.faults.push(line);
        }
    }

    /// Ends the client: a `disconnect` record per connected namespace carrying
    /// `reason` (and `fault` when a rule did it), then everything held is published.
    /// Only the first call counts.
    pub fn end(&self, direction: Direction, reason: &str, fault: Option<String>) {
        let mut st = self.state();
        if st.closed.is_some() {
            return;
        }
        st.closed = Some(reason.to_owned());
        let namespaces: Vec<(String, Option<String>)> =
            std::mem::take(&mut st.namespaces).into_iter().collect();
        for (ns, sid) in namespaces {
            let mut r =
                sockscope_bus::record(&self.source, direction, &ns, "disconnect", json!([reason]));
            r.ts = sockscope_bus::now_micros();
            r.socket_id = sid;
            r.fault = fault.clone();
            self.push(&mut st, r);
        }
        self.flush_locked(&mut st, true);
        tracing::debug!(client = self.n, reason, "proxy client ended");
    }

    /// Ends the client on purpose (a rule or a hostile frame); its transports close.
    pub fn kill(&self, direction: Direction, reason: &str, fault: Option<String>) {
        self.killed.store(true, Ordering::SeqCst);
        self.end(direction, reason, fault);
        self.kill.notify_waiters();
    }

    /// The client as front ends show it.
    pub fn view(&self) -> ProxyClient {
        let st = self.state();
        ProxyClient {
            n: self.n,
            eio: self.eio.number(),
            parser: st.parser,
            transport: st.transport.to_owned(),
            handshake: st.handshake.clone(),
            namespaces: st
                .namespaces
                .iter()
                .map(|(name, sid)| ProxyNamespace {
                    name: name.clone(),
                    socket_id: sid.clone(),
                })
                .collect(),
            c2s: st.c2s_count,
            s2c: st.s2c_count,
            faults: {
                let mut f = st.faults.clone();
                let th = *self.throttled.lock().unwrap_or_else(|p| p.into_inner());
                for (d, t) in [("c2s", th[0]), ("s2c", th[1])] {
                    if !t.is_zero() {
                        f.push(format!("{d}: throttled for {} ms in all", t.as_millis()));
                    }
                }
                f
            },
            closed: st.closed.clone(),
        }
    }
}

fn other(d: Direction) -> Direction {
    match d {
        Direction::C2s => Direction::S2c,
        Direction::S2c => Direction::C2s,
    }
}

/// The parser, from the first Socket.IO packet: the JSON parser sends text `4...`
/// messages, the msgpack parser binary ones with no text header before them.
fn detect(eio: Eio, frame: &Frame) -> Option<Parser> {
    match frame {
        Frame::Text(t) if t.starts_with('4') => Some(Parser::Json),
        Frame::Binary(b) => match eio {
            Eio::V4 => Some(Parser::Msgpack),
            Eio::V3 => (b.first() == Some(&4)).then_some(Parser::Msgpack),
        },
        _ => None,
    }
}

/// A JSON-parser packet announcing attachments (`45<n>-` / `46<n>-`).
fn is_binary_header(frame: &Frame) -> bool {
    matches!(frame, Frame::Text(t) if t.starts_with("45") || t.starts_with("46"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(bus: &Bus) -> Client {
        Client::new(
            1,
            "sid".into(),
            "/socket.io/".into(),
            Eio::V4,
            None,
            "websocket",
            json!({}),
            bus.clone(),
        )
    }

    fn text(s: &str) -> Frame {
        Frame::Text(s.to_owned())
    }

    #[test]
    fn an_acked_event_waits_for_its_reply_and_keeps_the_order() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        let c = client(&bus);
        c.inspect(Direction::C2s, &text("40"), &[]).unwrap();
        c.inspect(Direction::S2c, &text("40{\"sid\":\"abc\"}"), &[])
            .unwrap();
        c.inspect(Direction::C2s, &text("427[\"join\",\"r1\"]"), &[])
            .unwrap();
        c.inspect(Direction::C2s, &text("42[\"chat\",\"hi\"]"), &[])
            .unwrap();
        // connect (c2s), connect (s2c) out; join waits, chat waits behind it.
        assert_eq!(rx.try_recv().unwrap().event, "connect");
        assert_eq!(rx.try_recv().unwrap().socket_id.as_deref(), Some("abc"));
        assert!(rx.try_recv().is_err());
        c.inspect(Direction::S2c, &text("437[{\"ok\":true}]"), &[])
            .unwrap();
        let join = rx.try_recv().unwrap();
        assert_eq!(join.event, "join");
        let ack = join.ack.unwrap();
        assert_eq!(ack.reply, Some(json!({"ok": true})));
        assert!(ack.latency_us.is_some());
        assert_eq!(rx.try_recv().unwrap().event, "chat");
    }

    #[test]
    fn a_binary_event_is_complete_after_its_attachment() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        let c = client(&bus);
        let first = c
            .inspect(
                Direction::S2c,
                &text("451-[\"file\",{\"_placeholder\":true,\"num\":0}]"),
                &[],
            )
            .unwrap();
        assert!(matches!(first, Seen::Incomplete), "{first:?}");
        let second = c
            .inspect(Direction::S2c, &Frame::Binary(vec![1, 2, 3]), &[])
            .unwrap();
        assert!(matches!(second, Seen::Pass), "{second:?}");
        let r = rx.try_recv().unwrap();
        assert_eq!(r.event, "file");
        assert_eq!(r.args, json!([{"_binary": "AQID"}]));
    }

    #[test]
    fn a_hostile_frame_is_an_error_not_a_panic() {
        let bus = Bus::new();
        let c = client(&bus);
        assert!(c.inspect(Direction::S2c, &text("4x"), &[]).is_err());
        assert!(c
            .inspect(Direction::S2c, &text("42[\"unterminated"), &[])
            .is_err());
    }

    #[test]
    fn an_unanswered_ack_is_published_when_the_client_ends() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        let c = client(&bus);
        c.inspect(Direction::S2c, &text("40{\"sid\":\"s\"}"), &[])
            .unwrap();
        let _ = rx.try_recv();
        c.inspect(Direction::S2c, &text("423[\"ask\"]"), &[])
            .unwrap();
        assert!(rx.try_recv().is_err());
        c.end(Direction::C2s, "transport close", None);
        let ask = rx.try_recv().unwrap();
        assert_eq!(ask.event, "ask");
        assert_eq!(ask.ack.unwrap().reply, None);
        let bye = rx.try_recv().unwrap();
        assert_eq!(
            (bye.event.as_str(), bye.args.clone()),
            ("disconnect", json!(["transport close"]))
        );
    }
}
