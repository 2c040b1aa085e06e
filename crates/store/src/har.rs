//! Chrome DevTools HAR files in and out of the store.
//!
//! A browser's DevTools is where most people first see a gateway's traffic, and "Save
//! all as HAR" is how they hand it over. This module turns the WebSocket entries of
//! such a file (`_webSocketMessages`) into [`EventRecord`]s, and writes a recording
//! back out in the same shape so any HAR viewer (or Sockscope itself) can read it.
//!
//! Import rules:
//! - Only entries with `_webSocketMessages` count; each is one client connection,
//!   recorded with source `connection:<n>` (n = its position among those entries).
//!   `send` is `c2s`, `receive` is `s2c`; `time` (unix seconds, float) becomes the
//!   record's `ts` in microseconds.
//! - Engine.IO v4 text frames: `4` (message) carries a Socket.IO v5 packet; open,
//!   close, ping, pong, upgrade and noop frames are transport chatter and skipped.
//!   Socket.IO CONNECT/DISCONNECT/CONNECT_ERROR become `connect`/`disconnect`/
//!   `connect_error` records with the packet's payload (if any) as the one argument;
//!   EVENT and BINARY_EVENT become the named event, binary attachments (opcode 2
//!   frames, base64 in the HAR) inlined as `{"_binary": "<base64>"}` like the gateway
//!   does. The server's CONNECT reply names the socket id, which later records of that
//!   namespace carry.
//! - An ACK is attached to the latest earlier event of the same connection and
//!   namespace, sent the other way, that asked for that ack id and has no reply yet:
//!   the reply is the ack's one argument, or the list of them when there are zero or
//!   several. An ACK with no such event (the capture started late) is kept as its own
//!   record, event `ack`, with the ack's arguments as its args and its id in `ack`.
//! - An entry whose frames are not Engine.IO (a plain WebSocket such as Jac Cloud's)
//!   is imported message by message: event = the JSON message's string `type`, else
//!   `message`; namespace = the URL path.
//! - Frames that cannot be decoded are skipped with a warning; a file that is not a
//!   HAR or has no WebSocket messages is an error naming the file.
//! - Secrets: request headers, cookies and the query string are never stored (the
//!   session keeps the URL without its userinfo and query, and header and query
//!   *names*); payloads, the CONNECT auth object and ack replies included, go through
//!   the one redaction policy (`crate::redact`) like every record. Export writes
//!   what the database holds, redacted again on the way out.
//!
//! Export writes one HAR entry per connection (the records' `source`, in order of
//! first appearance) whose frames re-encode each record as the Socket.IO packet that
//! would carry it, acks right after their event, so an export imports back to the
//! same events: each entry is one connection again, and acks only meet the asks of
//! their own connection (a property test checks it for any session of several
//! connections a capture can hold).

use std::collections::{HashMap, HashSet};

use base64::Engine as _;
use serde_json::{json, Value};
use sockscope_protocol::{AckInfo, Direction, EventRecord, SessionInfo};

use sockscope_bus as bus;
use sockscope_bus::redact;
use sockscope_codec::binary::BINARY_MARKER;
use sockscope_codec::{self as codec, EnginePacket, Kind, Packet};

/// What a HAR file turns into: the records in time order, the session's target and
/// metadata, and how many frames could not be decoded.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub records: Vec<EventRecord>,
    pub target: String,
    pub meta: Value,
    pub skipped: usize,
}

/// Why a file is not a usable HAR (the caller names the file).
pub(crate) type Refusal = String;

/// Decodes a HAR document's WebSocket entries.
pub(crate) fn decode(text: &str) -> Result<Decoded, Refusal> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    let entries = doc
        .get("log")
        .and_then(|l| l.get("entries"))
        .and_then(Value::as_array)
        .ok_or("not a HAR file (no log.entries)")?;
    let mut per_entry: Vec<Vec<EventRecord>> = Vec::new();
    let mut sockets = Vec::new();
    let mut skipped = 0;
    for entry in entries {
        let Some(messages) = entry.get("_webSocketMessages").and_then(Value::as_array) else {
            continue;
        };
        let url = entry
            .get("request")
            .and_then(|r| r.get("url"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let source = format!("connection:{}", per_entry.len() + 1);
        let mut conn = EntryDecoder::new(source, url);
        for (i, m) in messages.iter().enumerate() {
            if let Err(why) = conn.frame(m) {
                skipped += 1;
                tracing::warn!(url = %redact::url_base(url), frame = i, reason = %why, "HAR frame skipped");
            }
        }
        skipped += conn.finish();
        sockets.push(json!({
            "url": redact::url_base(url),
            "query": query_names(url),
            "headers": header_names(entry.get("request")),
            "protocol": if conn.socketio == Some(false) { "websocket" } else { "socket.io" },
        }));
        per_entry.push(conn.records.into_iter().flatten().collect());
    }
    if per_entry.iter().all(Vec::is_empty) {
        return Err(if per_entry.is_empty() {
            "no WebSocket entries (_webSocketMessages) in it".to_owned()
        } else {
            "its WebSocket entries carry no decodable messages".to_owned()
        });
    }
    let target = sockets
        .first()
        .and_then(|s| s["url"].as_str())
        .unwrap_or_default()
        .to_owned();
    let mut records = merge_by_time(per_entry);
    // An import is a way in that skips the bus: the same policy applies here.
    records.iter_mut().for_each(redact::record);
    Ok(Decoded {
        records,
        target,
        meta: json!({ "format": "har", "websockets": sockets }),
        skipped,
    })
}

/// Interleaves the entries' records by time, keeping each entry's own order.
fn merge_by_time(entries: Vec<Vec<EventRecord>>) -> Vec<EventRecord> {
    let mut iters: Vec<_> = entries
        .into_iter()
        .map(|v| v.into_iter().peekable())
        .collect();
    let mut out = Vec::new();
    loop {
        let next = iters
            .iter_mut()
            .enumerate()
            .filter_map(|(i, it)| it.peek().map(|r| (r.ts, i)))
            .min();
        let Some((_, i)) = next else { break };
        if let Some(r) = iters[i].next() {
            out.push(r);
        }
    }
    out
}

fn strip_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

fn query_names(url: &str) -> Vec<String> {
    url.split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or_default())
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split('=').next())
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn header_names(request: Option<&Value>) -> Vec<String> {
    request
        .and_then(|r| r.get("headers"))
        .and_then(Value::as_array)
        .map(|hs| {
            hs.iter()
                .filter_map(|h| h.get("name").and_then(Value::as_str))
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

fn preview(s: &str) -> String {
    codec::preview(s)
}

/// A binary packet waiting for its attachments.
struct Pending {
    slot: usize,
    packet: Packet,
    ts: i64,
    bins: Vec<String>,
}

/// Decoding state of one HAR WebSocket entry.
struct EntryDecoder {
    source: String,
    /// The URL path, the namespace of plain WebSocket messages.
    path: String,
    /// Decided by the first text frame: Engine.IO or a plain WebSocket.
    socketio: Option<bool>,
    /// In order; a slot is `None` while a binary packet waits for its attachments,
    /// or when an ack ended up attached to its event.
    records: Vec<Option<EventRecord>>,
    /// Socket id per namespace, from the server's CONNECT reply.
    sids: HashMap<String, String>,
    /// Per direction (c2s, s2c).
    pending: [Option<Pending>; 2],
    /// Binary packets that never got all their attachments.
    incomplete: usize,
    /// Records that asked for an ack and have no reply yet, by (direction asked,
    /// namespace, ack id), latest last: an ACK finds its event in O(1), so a capture
    /// of 80,000 acks imports in linear time.
    asking: HashMap<(usize, String, u64), Vec<usize>>,
}

fn dir_index(d: Direction) -> usize {
    match d {
        Direction::C2s => 0,
        Direction::S2c => 1,
    }
}

impl EntryDecoder {
    fn new(source: String, url: &str) -> Self {
        let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = without_scheme
            .find('/')
            .map(|i| strip_query(&without_scheme[i..]))
            .unwrap_or_else(|| "/".to_owned());
        Self {
            source,
            path,
            socketio: url.contains("EIO=").then_some(true),
            records: Vec::new(),
            sids: HashMap::new(),
            pending: [None, None],
            incomplete: 0,
            asking: HashMap::new(),
        }
    }

    fn frame(&mut self, m: &Value) -> Result<(), String> {
        let direction = match m.get("type").and_then(Value::as_str) {
            Some("send") => Direction::C2s,
            Some("receive") => Direction::S2c,
            other => return Err(format!("unknown message type {other:?}")),
        };
        let time = m
            .get("time")
            .and_then(Value::as_f64)
            .ok_or("message without a time")?;
        let ts = (time * 1e6).round() as i64;
        let data = m
            .get("data")
            .and_then(Value::as_str)
            .ok_or("message without data")?;
        let opcode = m.get("opcode").and_then(Value::as_u64).unwrap_or(1);
        if opcode == 2 {
            return self.attachment(direction, data);
        }
        if opcode != 1 {
            return Ok(()); // control frames carry no events
        }
        let socketio = *self
            .socketio
            .get_or_insert_with(|| data.bytes().next().is_some_and(|c| c.is_ascii_digit()));
        if !socketio {
            self.plain(direction, ts, data);
            return Ok(());
        }
        let idx = dir_index(direction);
        if let Some(p) = self.pending[idx].take() {
            self.incomplete += 1;
            tracing::warn!(source = %self.source, expected = p.packet.attachments, got = p.bins.len(),
                "binary packet cut short by a text frame; skipped");
        }
        match codec::engine_io(data) {
            Ok(EnginePacket::Message(text)) => self.packet(direction, ts, text),
            Ok(_) => Ok(()), // open, close, ping, pong, upgrade, noop
            Err(_) => Err(format!("not an Engine.IO frame: {:?}", preview(data))),
        }
    }

    fn plain(&mut self, direction: Direction, ts: i64, data: &str) {
        let msg = serde_json::from_str::<Value>(data).unwrap_or_else(|_| json!(data));
        let event = msg
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
            .to_owned();
        let mut r = bus::record(&self.source, direction, &self.path, &event, json!([msg]));
        r.ts = ts;
        self.records.push(Some(r));
    }

    fn attachment(&mut self, direction: Direction, data: &str) -> Result<(), String> {
        let idx = dir_index(direction);
        let Some(p) = self.pending[idx].as_mut() else {
            return Err("binary frame with no binary packet before it".to_owned());
        };
        p.bins.push(data.to_owned());
        if p.bins.len() >= p.packet.attachments {
            if let Some(p) = self.pending[idx].take() {
                let mut packet = p.packet;
                if let Some(d) = packet.data.as_mut() {
                    inline_attachments(d, &p.bins);
                }
                self.complete(direction, p.ts, packet, Some(p.slot))?;
            }
        }
        Ok(())
    }

    fn packet(&mut self, direction: Direction, ts: i64, text: &str) -> Result<(), String> {
        let packet = codec::decode(text).map_err(|e| e.to_string())?;
        if packet.attachments > 0 {
            let slot = self.records.len();
            self.records.push(None);
            self.pending[dir_index(direction)] = Some(Pending {
                slot,
                packet,
                ts,
                bins: Vec::new(),
            });
            return Ok(());
        }
        self.complete(direction, ts, packet, None)
    }

    /// Turns a whole packet into a record (into `slot` when one was reserved).
    fn complete(
        &mut self,
        direction: Direction,
        ts: i64,
        packet: Packet,
        slot: Option<usize>,
    ) -> Result<(), String> {
        let Packet {
            kind,
            nsp,
            id,
            data,
            ..
        } = packet;
        let payload_args = |data: Option<Value>| data.map_or_else(|| json!([]), |d| json!([d]));
        let (event, args, ack) = match kind {
            Kind::Connect => {
                if direction == Direction::S2c {
                    if let Some(sid) = data
                        .as_ref()
                        .and_then(|d| d.get("sid"))
                        .and_then(Value::as_str)
                    {
                        self.sids.insert(nsp.clone(), sid.to_owned());
                    }
                }
                ("connect".to_owned(), payload_args(data), None)
            }
            Kind::Disconnect => ("disconnect".to_owned(), payload_args(data), None),
            Kind::ConnectError => ("connect_error".to_owned(), payload_args(data), None),
            Kind::Event | Kind::BinaryEvent => {
                let mut items = match data {
                    Some(Value::Array(items)) => items,
                    _ => return Err("event packet without an argument list".to_owned()),
                };
                let name = match items.first() {
                    Some(Value::String(s)) => s.clone(),
                    _ => return Err("event packet without an event name".to_owned()),
                };
                items.remove(0);
                let ack = id.map(|id| AckInfo {
                    id: Some(id),
                    reply: None,
                    latency_us: None,
                });
                (name, Value::Array(items), ack)
            }
            Kind::Ack | Kind::BinaryAck => {
                let args = match data {
                    Some(Value::Array(items)) => items,
                    Some(other) => vec![other],
                    None => Vec::new(),
                };
                let id = id.ok_or("ack packet without an id")?;
                if self.attach_ack(direction, &nsp, id, &args) {
                    return Ok(());
                }
                let ack = Some(AckInfo {
                    id: Some(id),
                    reply: None,
                    latency_us: None,
                });
                ("ack".to_owned(), Value::Array(args), ack)
            }
        };
        let mut r = bus::record(&self.source, direction, &nsp, &event, args);
        r.ts = ts;
        r.ack = ack;
        r.socket_id = self.sids.get(&nsp).cloned();
        if kind == Kind::Disconnect {
            self.sids.remove(&nsp);
        }
        let asked = match (&r.ack, r.event.as_str()) {
            (_, "ack") | (None, _) => None,
            (Some(a), _) => a.id,
        };
        let at = match slot.filter(|s| *s < self.records.len()) {
            Some(s) => {
                self.records[s] = Some(r);
                s
            }
            None => {
                self.records.push(Some(r));
                self.records.len() - 1
            }
        };
        if let Some(id) = asked {
            self.asking
                .entry((dir_index(direction), nsp, id))
                .or_default()
                .push(at);
        }
        Ok(())
    }

    /// Puts an ack reply on the event that asked for it; false when there is none.
    fn attach_ack(&mut self, direction: Direction, nsp: &str, id: u64, args: &[Value]) -> bool {
        let asked_by = match direction {
            Direction::C2s => Direction::S2c,
            Direction::S2c => Direction::C2s,
        };
        let key = (dir_index(asked_by), nsp.to_owned(), id);
        let Some(at) = self.asking.get_mut(&key).and_then(Vec::pop) else {
            return false;
        };
        let Some(r) = self.records.get_mut(at).and_then(Option::as_mut) else {
            return false;
        };
        let mut reply = match args {
            [one] => one.clone(),
            many => Value::Array(many.to_vec()),
        };
        redact::value(&mut reply);
        if let Some(a) = r.ack.as_mut() {
            a.reply = Some(reply);
        }
        true
    }

    /// Ends the entry; returns how many binary packets were left incomplete.
    fn finish(&mut self) -> usize {
        for p in self.pending.iter_mut().filter_map(Option::take) {
            self.incomplete += 1;
            tracing::warn!(source = %self.source, expected = p.packet.attachments,
                got = p.bins.len(), "binary packet missing attachments; skipped");
        }
        self.incomplete
    }
}

/// Replaces `{"_placeholder": true, "num": N}` with attachment N as a binary marker.
fn inline_attachments(v: &mut Value, bins: &[String]) {
    sockscope_codec::binary::replace_placeholders(v, &|n| {
        bins.get(n).map(|b| json!({ BINARY_MARKER: b }))
    });
}

/// Replaces binary markers with placeholders, collecting the base64 attachments.
fn extract_attachments(v: &mut Value, bins: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(Value::String(b)) = map.get(BINARY_MARKER) {
                    let valid = base64::engine::general_purpose::STANDARD.decode(b).is_ok();
                    if valid {
                        bins.push(b.clone());
                        *v = json!({ "_placeholder": true, "num": bins.len() - 1 });
                        return;
                    }
                }
            }
            map.values_mut().for_each(|x| extract_attachments(x, bins));
        }
        Value::Array(items) => items.iter_mut().for_each(|x| extract_attachments(x, bins)),
        _ => {}
    }
}

/// Builds the HAR document of `session`, one WebSocket entry per connection, in
/// memory (the store exports through [`Writer`]; fuzzing uses this).
pub(crate) fn encode(session: &SessionInfo, events: &[EventRecord]) -> Value {
    let max_ack_id = events
        .iter()
        .filter_map(|e| e.ack.as_ref().and_then(|a| a.id))
        .max();
    let mut encoder = FrameEncoder::new(max_ack_id);
    let info = EntryInfo::of(session);
    let mut seen = HashSet::new();
    let sources: Vec<&str> = events
        .iter()
        .map(|e| e.source.as_str())
        .filter(|s| seen.insert(*s))
        .collect();
    let mut entries = Vec::new();
    for source in sources {
        let mut frames = Vec::new();
        let mut started = None;
        for e in events.iter().filter(|e| e.source == source) {
            started.get_or_insert(e.ts);
            encoder.frames(e, &mut frames);
        }
        let started = started.unwrap_or(session.started_at);
        entries.push(info.entry(started, Value::Array(frames)));
    }
    if entries.is_empty() {
        entries.push(info.entry(session.started_at, json!([])));
    }
    document(entries)
}

/// Writes a HAR document frame by frame, so an export never holds a whole session:
/// the document and each entry around its frames are written first and last. The
/// caller gives the events one connection after the other, calling
/// [`Writer::next_connection`] between two connections.
pub(crate) struct Writer<'w, W: std::io::Write> {
    out: &'w mut W,
    info: EntryInfo,
    encoder: FrameEncoder,
    frames: Vec<Value>,
    /// What closes the open entry after its frames (`None`: no entry open).
    entry_tail: Option<String>,
    entries: usize,
    tail: String,
    first: bool,
}

/// Stands in for a list in a serialized document, which is split there.
const FRAMES_HERE: &str = "\u{0}frames\u{0}";

/// `v` serialized, split where [`FRAMES_HERE`] stands.
fn split_at_marker(v: &Value) -> crate::Result<(String, String)> {
    let text = serde_json::to_string_pretty(v).map_err(|e| crate::Error::Io(e.into()))?;
    let marker = serde_json::to_string(FRAMES_HERE).map_err(|e| crate::Error::Io(e.into()))?;
    let (head, tail) = text
        .split_once(&marker)
        .ok_or_else(|| crate::Error::Io(std::io::Error::other("HAR frame marker lost")))?;
    Ok((head.to_owned(), tail.to_owned()))
}

impl<'w, W: std::io::Write> Writer<'w, W> {
    /// Writes everything before the first entry. `max_ack_id` is the highest ack id
    /// of the session (new ids go above it).
    pub(crate) fn start(
        out: &'w mut W,
        session: &SessionInfo,
        max_ack_id: Option<u64>,
    ) -> crate::Result<Self> {
        let (head, tail) = split_at_marker(&document(vec![json!(FRAMES_HERE)]))?;
        out.write_all(head.as_bytes())?;
        Ok(Self {
            out,
            info: EntryInfo::of(session),
            encoder: FrameEncoder::new(max_ack_id),
            frames: Vec::new(),
            entry_tail: None,
            entries: 0,
            tail,
            first: true,
        })
    }

    /// Ends the entry of the current connection: the next event starts a new one.
    pub(crate) fn next_connection(&mut self) -> crate::Result<()> {
        if let Some(tail) = self.entry_tail.take() {
            self.out.write_all(b"]")?;
            self.out.write_all(tail.as_bytes())?;
        }
        Ok(())
    }

    /// Starts an entry whose first event is at `started`.
    fn open_entry(&mut self, started: i64) -> crate::Result<()> {
        self.next_connection()?;
        let (head, tail) = split_at_marker(&self.info.entry(started, json!(FRAMES_HERE)))?;
        if self.entries > 0 {
            self.out.write_all(b",\n")?;
        }
        self.out.write_all(head.as_bytes())?;
        self.out.write_all(b"[")?;
        self.entry_tail = Some(tail);
        self.entries += 1;
        self.first = true;
        Ok(())
    }

    /// Writes the frames of one record, in the entry of its connection.
    pub(crate) fn event(&mut self, e: &EventRecord) -> crate::Result<()> {
        if self.entry_tail.is_none() {
            self.open_entry(e.ts)?;
        }
        self.frames.clear();
        self.encoder.frames(e, &mut self.frames);
        for f in &self.frames {
            if !self.first {
                self.out.write_all(b",")?;
            }
            self.first = false;
            self.out.write_all(b"\n")?;
            serde_json::to_writer(&mut *self.out, f).map_err(|e| crate::Error::Io(e.into()))?;
        }
        Ok(())
    }

    /// Closes the last entry and the document (a session without events gets one
    /// empty entry).
    pub(crate) fn finish(mut self) -> crate::Result<()> {
        if self.entries == 0 {
            let started = self.info.started_at;
            self.open_entry(started)?;
        }
        self.next_connection()?;
        self.out.write_all(self.tail.as_bytes())?;
        self.out.write_all(b"\n")?;
        Ok(())
    }
}

/// Re-encodes records as Engine.IO frames; a record that asked for an ack without
/// an id gets one above every id the session uses.
struct FrameEncoder {
    next_ack_id: u64,
}

impl FrameEncoder {
    fn new(max_ack_id: Option<u64>) -> Self {
        Self {
            next_ack_id: max_ack_id.unwrap_or(0).saturating_add(1),
        }
    }

    /// Appends the frames of record `e`.
    fn frames(&mut self, e: &EventRecord, frames: &mut Vec<Value>) {
        let time = e.ts as f64 / 1e6;
        let args = match &e.args {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        let first = || args.first().cloned();
        let ack_id = e.ack.as_ref().map(|a| {
            a.id.unwrap_or_else(|| {
                let id = self.next_ack_id;
                self.next_ack_id = id.saturating_add(1);
                id
            })
        });
        // Lifecycle records go back as their own Socket.IO packet types.
        let lifecycle = match e.event.as_str() {
            "connect" => Some(Kind::Connect),
            "disconnect" => Some(Kind::Disconnect),
            "connect_error" => Some(Kind::ConnectError),
            _ => None,
        };
        match (lifecycle, e.event.as_str()) {
            (Some(kind), _) => {
                push_packet(frames, e.direction, time, kind, &e.namespace, None, first())
            }
            (None, "ack")
                if ack_id.is_some() && e.ack.as_ref().is_some_and(|a| a.reply.is_none()) =>
            {
                push_packet(
                    frames,
                    e.direction,
                    time,
                    Kind::Ack,
                    &e.namespace,
                    ack_id,
                    Some(Value::Array(args)),
                );
            }
            (None, name) => {
                let mut items = vec![Value::String(name.to_owned())];
                items.extend(args);
                push_packet(
                    frames,
                    e.direction,
                    time,
                    Kind::Event,
                    &e.namespace,
                    ack_id,
                    Some(Value::Array(items)),
                );
                if let Some(reply) = e.ack.as_ref().and_then(|a| a.reply.clone()) {
                    let back = match e.direction {
                        Direction::C2s => Direction::S2c,
                        Direction::S2c => Direction::C2s,
                    };
                    push_packet(
                        frames,
                        back,
                        time,
                        Kind::Ack,
                        &e.namespace,
                        ack_id,
                        Some(json!([reply])),
                    );
                }
            }
        }
    }
}

/// The HAR document around `entries`.
fn document(entries: Vec<Value>) -> Value {
    json!({
        "log": {
            "version": "1.2",
            "creator": { "name": "sockscope", "version": env!("CARGO_PKG_VERSION") },
            "pages": [],
            "entries": entries
        }
    })
}

/// What every WebSocket entry of a session's export says about the session.
struct EntryInfo {
    url: String,
    comment: String,
    started_at: i64,
}

impl EntryInfo {
    fn of(session: &SessionInfo) -> Self {
        Self {
            url: entry_url(&session.target),
            comment: format!("sockscope session {} \"{}\"", session.id, session.name),
            started_at: session.started_at,
        }
    }

    /// One connection's WebSocket entry, started at `started`, whose messages are
    /// `frames`.
    fn entry(&self, started: i64, frames: Value) -> Value {
        json!({
            "startedDateTime": iso8601(started),
            "time": 0,
            "request": {
                "method": "GET",
                "url": self.url,
                "httpVersion": "HTTP/1.1",
                "headers": [],
                "queryString": [],
                "cookies": [],
                "headersSize": -1,
                "bodySize": 0
            },
            "response": {
                "status": 101,
                "statusText": "Switching Protocols",
                "httpVersion": "HTTP/1.1",
                "headers": [],
                "cookies": [],
                "content": { "size": 0, "mimeType": "x-unknown" },
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": 0
            },
            "cache": {},
            "timings": { "blocked": -1, "dns": -1, "connect": -1, "send": 0, "wait": 0, "receive": 0, "ssl": -1 },
            "comment": self.comment,
            "_resourceType": "websocket",
            "_webSocketMessages": frames
        })
    }
}

/// Appends the Engine.IO frame(s) of one Socket.IO packet: binary payloads become a
/// BINARY_EVENT / BINARY_ACK header followed by one opcode-2 frame per attachment.
/// Only events and acks carry attachments on the wire; other packets keep their
/// binary markers as plain JSON.
fn push_packet(
    frames: &mut Vec<Value>,
    direction: Direction,
    time: f64,
    kind: Kind,
    nsp: &str,
    id: Option<u64>,
    data: Option<Value>,
) {
    let mut data = data;
    let mut bins = Vec::new();
    if matches!(kind, Kind::Event | Kind::Ack) {
        if let Some(d) = data.as_mut() {
            extract_attachments(d, &mut bins);
        }
    }
    let kind = match (kind, bins.is_empty()) {
        (Kind::Event, false) => Kind::BinaryEvent,
        (Kind::Ack, false) => Kind::BinaryAck,
        (k, _) => k,
    };
    let mut packet = Packet::new(kind, nsp, id, data);
    packet.attachments = bins.len();
    let kind_name = match direction {
        Direction::C2s => "send",
        Direction::S2c => "receive",
    };
    frames.push(json!({ "type": kind_name, "time": time, "opcode": 1, "data": packet.frame() }));
    for b in bins {
        frames.push(json!({ "type": kind_name, "time": time, "opcode": 2, "data": b }));
    }
}

/// The WebSocket URL a session's target would have been reached at. The target's
/// query (keys only: it is stored redacted) goes before the Engine.IO parameters.
fn entry_url(target: &str) -> String {
    const EIO: &str = "EIO=4&transport=websocket";
    let target = target.trim();
    let (target, query) = match target.split_once('?') {
        Some((t, q)) => (t, format!("{}&", q.split('#').next().unwrap_or_default())),
        None => (target.split('#').next().unwrap_or_default(), String::new()),
    };
    if let Some(rest) = target
        .strip_prefix("ws://")
        .map(|r| ("ws://", r))
        .or_else(|| target.strip_prefix("wss://").map(|r| ("wss://", r)))
    {
        let (scheme, rest) = rest;
        return format!("{scheme}{rest}?{query}{EIO}");
    }
    let (scheme, rest) = if let Some(r) = target.strip_prefix("https://") {
        ("wss://", r)
    } else if let Some(r) = target.strip_prefix("http://") {
        ("ws://", r)
    } else if target.is_empty() {
        ("ws://", "localhost")
    } else {
        ("ws://", target)
    };
    format!(
        "{scheme}{}/socket.io/?{query}{EIO}",
        rest.trim_end_matches('/')
    )
}

use sockscope_protocol::time::iso8601;

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: &str, time: f64, data: &str) -> Value {
        json!({ "type": kind, "time": time, "opcode": 1, "data": data })
    }

    fn har(url: &str, messages: Vec<Value>) -> String {
        json!({ "log": { "version": "1.2", "entries": [
            { "request": { "method": "GET", "url": url,
                "headers": [{ "name": "Authorization", "value": "Bearer SECRET-BEARER" }] },
              "_webSocketMessages": messages }
        ] } })
        .to_string()
    }

    #[test]
    fn frames_become_records_with_acks_binaries_and_redaction() {
        let t0 = 1_712_345_678.123_456;
        let text = har(
            "ws://h:1/socket.io/?token=QSECRET&EIO=4&transport=websocket",
            vec![
                msg(
                    "receive",
                    t0,
                    r#"0{"sid":"eio","upgrades":[],"pingInterval":25000}"#,
                ),
                msg("send", t0 + 0.001, r#"40/dash,{"token":"AUTHSECRET"}"#),
                msg("receive", t0 + 0.002, r#"40/dash,{"sid":"S1"}"#),
                msg("send", t0 + 0.003, r#"42/dash,7["save",{"a":1}]"#),
                msg("receive", t0 + 0.004, "2"),
                msg("send", t0 + 0.004, "3"),
                msg("receive", t0 + 0.005, r#"43/dash,7[{"ok":true}]"#),
                msg(
                    "receive",
                    t0 + 0.006,
                    r#"451-/dash,["bin",{"_placeholder":true,"num":0}]"#,
                ),
                json!({ "type": "receive", "time": t0 + 0.006, "opcode": 2, "data": "AAEC" }),
                msg("receive", t0 + 0.007, r#"43/dash,99["late"]"#),
                msg("receive", t0 + 0.008, "4garbage"),
            ],
        );
        let d = decode(&text).unwrap();
        let got: Vec<(&str, Direction, &str)> = d
            .records
            .iter()
            .map(|r| (r.event.as_str(), r.direction, r.namespace.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("connect", Direction::C2s, "/dash"),
                ("connect", Direction::S2c, "/dash"),
                ("save", Direction::C2s, "/dash"),
                ("bin", Direction::S2c, "/dash"),
                ("ack", Direction::S2c, "/dash"),
            ]
        );
        assert_eq!(d.skipped, 1);
        assert_eq!(d.records[0].args, json!([{ "token": bus::REDACTED }]));
        assert_eq!(d.records[0].socket_id, None);
        assert_eq!(d.records[1].socket_id.as_deref(), Some("S1"));
        assert_eq!(d.records[2].ts, 1_712_345_678_126_456);
        assert_eq!(
            d.records[2].ack,
            Some(AckInfo {
                id: Some(7),
                reply: Some(json!({ "ok": true })),
                latency_us: None,
            })
        );
        assert_eq!(d.records[3].args, json!([{ BINARY_MARKER: "AAEC" }]));
        assert_eq!(d.records[4].args, json!(["late"]));
        assert_eq!(d.target, "ws://h:1/socket.io/");
        let all = format!("{:?} {}", d.records, d.meta);
        assert!(!all.contains("SECRET"), "{all}");
        assert_eq!(
            d.meta["websockets"][0]["query"],
            json!(["token", "EIO", "transport"])
        );
    }

    #[test]
    fn export_reimports_to_the_same_events() {
        let t0 = 1_712_345_678.000_001;
        let text = har(
            "ws://h:1/socket.io/?EIO=4&transport=websocket",
            vec![
                msg("send", t0, r#"40/dash,{"token":"x"}"#),
                msg("receive", t0 + 0.1, r#"40/dash,{"sid":"S1"}"#),
                msg("send", t0 + 0.2, r#"42/dash,3["save",{"a":[1,2]},"two"]"#),
                msg("receive", t0 + 0.3, r#"43/dash,3[{"ok":true},2]"#),
                msg(
                    "send",
                    t0 + 0.4,
                    r#"452-/dash,["up",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]"#,
                ),
                json!({ "type": "send", "time": t0 + 0.4, "opcode": 2, "data": "AQI=" }),
                json!({ "type": "send", "time": t0 + 0.4, "opcode": 2, "data": "/w==" }),
                msg("receive", t0 + 0.5, r#"42["root",null]"#),
                msg("receive", t0 + 0.6, r#"43/dash,40[]"#),
                msg("receive", t0 + 0.7, r#"41/dash,"#),
            ],
        );
        let first = decode(&text).unwrap();
        let session = SessionInfo {
            id: 1,
            name: "x".into(),
            kind: "import".into(),
            target: first.target.clone(),
            started_at: 0,
            ended_at: None,
            events: first.records.len() as u64,
            meta: first.meta.clone(),
            state: Default::default(),
        };
        let doc = encode(&session, &first.records);
        assert_eq!(doc["log"]["entries"][0]["_resourceType"], "websocket");
        // Streamed frame by frame, the document is the same.
        let mut out = Vec::new();
        let max_ack_id = first
            .records
            .iter()
            .filter_map(|e| e.ack.as_ref()?.id)
            .max();
        let mut w = Writer::start(&mut out, &session, max_ack_id).unwrap();
        for e in &first.records {
            w.event(e).unwrap();
        }
        w.finish().unwrap();
        let streamed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(streamed, doc);
        let second = decode(&doc.to_string()).unwrap();
        assert_eq!(second.records, first.records);
        assert_eq!(second.skipped, 0);
        assert_eq!(first.records.len(), 7);
    }

    #[test]
    fn each_connection_is_its_own_entry() {
        // Connection 1 asks for ack 1 and never hears back; connection 2 gets an ack 1
        // it has no ask for (its capture started late). In one entry the import
        // attached the second to the first: an event was lost.
        let rec = |source: &str, ts: i64, direction, event: &str, ack: Option<AckInfo>| {
            sockscope_test_support::Event::new(event, json!([ts]))
                .source(source)
                .direction(direction)
                .namespace("/d")
                .ts(ts)
                .ack(ack)
                .build()
        };
        let ask = AckInfo {
            id: Some(1),
            reply: None,
            latency_us: None,
        };
        let events = vec![
            rec(
                "connection:1",
                1_000_000,
                Direction::C2s,
                "save",
                Some(ask.clone()),
            ),
            rec("connection:2", 2_000_000, Direction::S2c, "ack", Some(ask)),
            rec("connection:1", 3_000_000, Direction::S2c, "tick", None),
        ];
        let session = SessionInfo {
            id: 1,
            name: "x".into(),
            kind: "import".into(),
            target: "ws://h:1/socket.io/".into(),
            started_at: 0,
            ended_at: None,
            events: 3,
            meta: json!({}),
            state: Default::default(),
        };
        let doc = encode(&session, &events);
        assert_eq!(doc["log"]["entries"].as_array().map(Vec::len), Some(2));
        let mut out = Vec::new();
        let mut w = Writer::start(&mut out, &session, Some(1)).unwrap();
        for source in ["connection:1", "connection:2"] {
            w.next_connection().unwrap();
            for e in events.iter().filter(|e| e.source == source) {
                w.event(e).unwrap();
            }
        }
        w.finish().unwrap();
        let streamed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(streamed, doc);
        assert_eq!(decode(&doc.to_string()).unwrap().records, events);
        // A session without events is one empty entry, as before.
        let mut out = Vec::new();
        Writer::start(&mut out, &session, None)
            .unwrap()
            .finish()
            .unwrap();
        let empty: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(empty, encode(&session, &[]));
    }

    #[test]
    fn ack_matching_is_linear() {
        // 40,000 answered asks and 40,000 acks with no ask (a capture started late):
        // each unmatched ack once scanned every record before it (39 s for 80k).
        let mut frames = Vec::with_capacity(120_000);
        for i in 0..40_000u64 {
            let t = i as f64 / 1000.0;
            frames.push(msg("send", t, &format!(r#"42/d,{i}["save",{i}]"#)));
            frames.push(msg("receive", t, &format!(r#"43/d,{i}[true]"#)));
            frames.push(msg(
                "receive",
                t,
                &format!(r#"43/d,{}["late"]"#, 1_000_000 + i),
            ));
        }
        let text = har("ws://h:1/socket.io/?EIO=4&transport=websocket", frames);
        let started = std::time::Instant::now();
        let d = decode(&text).unwrap();
        let took = started.elapsed();
        assert_eq!(d.records.len(), 80_000);
        assert_eq!(
            d.records[0].ack.as_ref().and_then(|a| a.reply.clone()),
            Some(json!(true))
        );
        assert_eq!(d.records[1].event, "ack");
        assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    }

    #[test]
    fn plain_websocket_entries_use_the_message_type() {
        let text = har(
            "ws://h:1/websocket?channel_id=c",
            vec![
                msg(
                    "receive",
                    1.0,
                    r#"{"type":"connection","data":{"client_id":"c1"}}"#,
                ),
                msg("send", 2.0, r#"{"type":"change_user","token":"T0KEN"}"#),
                msg("receive", 3.0, "hello"),
            ],
        );
        let d = decode(&text).unwrap();
        let events: Vec<&str> = d.records.iter().map(|r| r.event.as_str()).collect();
        assert_eq!(events, vec!["connection", "change_user", "message"]);
        assert_eq!(d.records[0].namespace, "/websocket");
        assert_eq!(d.records[2].args, json!(["hello"]));
        assert!(!format!("{:?}", d.records).contains("T0KEN"));
    }

    #[test]
    fn non_har_input_is_refused_with_a_reason() {
        assert!(decode("hello").unwrap_err().contains("not JSON"));
        assert!(decode("{}").unwrap_err().contains("not a HAR"));
        let none = json!({ "log": { "entries": [{ "request": { "url": "http://x" } }] } });
        assert!(decode(&none.to_string())
            .unwrap_err()
            .contains("no WebSocket"));
    }

    #[test]
    fn iso_dates_and_urls() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_712_345_678_123_456), "2024-04-05T19:34:38.123Z");
        assert_eq!(
            entry_url("http://localhost:4004"),
            "ws://localhost:4004/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            entry_url("http://h:1/?token=[redacted]"),
            "ws://h:1/socket.io/?token=[redacted]&EIO=4&transport=websocket"
        );
        assert_eq!(
            entry_url("ws://h:1/socket.io/"),
            "ws://h:1/socket.io/?EIO=4&transport=websocket"
        );
    }
}
