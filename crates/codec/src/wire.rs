//! The framing of Sockscope's own Engine.IO/Socket.IO client protocol over one
//! WebSocket: what rust_socketio cannot speak. The simulator's virtual clients
//! (`sockscope_engine::simulate::client`) and the native connection backend
//! (`sockscope_client::connection`) both read and write through this module (the
//! client crate opens the socket); the text packet grammar is the shared
//! [`crate::packet`]. No sockets here: it turns messages into packets and back, so
//! it is fuzzed alone.
//!
//! What it covers:
//! - Engine.IO v4 (Socket.IO 3/4 servers) and v3 (Socket.IO 2.x servers). The
//!   differences that matter to a client: in v3 the *client* pings (`2`) every
//!   `pingInterval` and the server pongs, in v4 the server pings and the client pongs;
//!   a v3 server joins the root namespace by itself (an unsolicited `40`) and takes no
//!   auth object in CONNECT (its handshake data travels in the query string); a v3
//!   binary WebSocket frame starts with the Engine.IO message type byte `4`, a v4 one
//!   is the bare payload. A v3 server is recognised by its open packet, which has no
//!   `maxPayload`.
//! - The JSON parser (text packets, binary attachments as placeholders followed by
//!   binary frames) and the msgpack parser (`socket.io-msgpack-parser`: every packet
//!   is one binary frame holding a map `{type, nsp, data, id}`, binary inline).
//! - Binary data becomes the recordings' base64 marker
//!   (`{"_binary": "..."}`, [`crate::binary::BINARY_MARKER`]) on the
//!   way in, and the marker becomes binary on the way out.
//!
//! Everything read comes from a server that may be hostile: decoding never panics,
//! attachments are counted and capped, and the WebSocket message size is capped by
//! the caller's configuration.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value};
use sockscope_protocol::Parser;
use tokio_tungstenite::tungstenite::Message;

use crate::binary::{BINARY_MARKER, MAX_ATTACHMENTS};
pub use crate::error::WireError;
use crate::packet::{self as codec, EnginePacket, Kind, Packet};

/// Engine.IO protocol revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eio {
    /// Socket.IO 2.x servers.
    V3,
    /// Socket.IO 3 and 4 servers.
    #[default]
    V4,
}

impl Eio {
    pub fn number(self) -> u8 {
        match self {
            Eio::V3 => 3,
            Eio::V4 => 4,
        }
    }
}

/// The server's Engine.IO open packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Handshake {
    pub sid: String,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// The revision the server speaks (v3 has no `maxPayload`).
    pub eio: Eio,
}

impl Handshake {
    fn parse(json: &str) -> Result<Self, WireError> {
        let v: Value = serde_json::from_str(json)
            .map_err(|e| WireError::Open(sockscope_bus::limits::clip_message(&e.to_string())))?;
        let ms = |k: &str, default: u64| {
            Duration::from_millis(
                v.get(k)
                    .and_then(Value::as_u64)
                    .unwrap_or(default)
                    .clamp(100, sockscope_bus::limits::MAX_MS),
            )
        };
        Ok(Self {
            sid: v
                .get("sid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            ping_interval: ms("pingInterval", 25_000),
            ping_timeout: ms("pingTimeout", 20_000),
            eio: if v.get("maxPayload").is_some() {
                Eio::V4
            } else {
                Eio::V3
            },
        })
    }
}

/// What one frame (or a completed binary packet) came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Open(Handshake),
    Ping,
    Pong,
    Close,
    /// A Socket.IO packet, binary already folded in as base64 markers.
    Packet(Packet),
    /// Nothing to act on (noop, upgrade, an attachment still awaited).
    Nothing,
}

/// One connection's protocol: revision and parser, and the binary packet being
/// assembled.
#[derive(Debug)]
pub struct Wire {
    pub eio: Eio,
    pub parser: Parser,
    pending: Option<(Packet, Vec<Vec<u8>>)>,
}

impl Wire {
    pub fn new(eio: Eio, parser: Parser) -> Self {
        Self {
            eio,
            parser,
            pending: None,
        }
    }

    /// Reads one WebSocket message.
    pub fn read(&mut self, msg: &Message) -> Result<Incoming, WireError> {
        match msg {
            Message::Text(t) => self.read_text(t.as_str()),
            Message::Binary(b) => self.read_binary(b),
            Message::Close(_) => Ok(Incoming::Close),
            _ => Ok(Incoming::Nothing),
        }
    }

    fn read_text(&mut self, text: &str) -> Result<Incoming, WireError> {
        Ok(match codec::engine_io(text)? {
            EnginePacket::Open(json) => Incoming::Open(Handshake::parse(json)?),
            EnginePacket::Close => Incoming::Close,
            EnginePacket::Ping(_) => Incoming::Ping,
            EnginePacket::Pong(_) => Incoming::Pong,
            EnginePacket::Upgrade | EnginePacket::Noop => Incoming::Nothing,
            EnginePacket::Message(sio) => match self.parser {
                // msgpack servers send only Engine.IO control packets as text.
                Parser::Msgpack => return Err(WireError::Msgpack("text packet".into())),
                Parser::Json => {
                    let p = codec::decode(sio)?;
                    if p.attachments == 0 {
                        Incoming::Packet(p)
                    } else if p.attachments > MAX_ATTACHMENTS {
                        return Err(WireError::TooManyAttachments(p.attachments));
                    } else {
                        self.pending = Some((p, Vec::new()));
                        Incoming::Nothing
                    }
                }
            },
        })
    }

    fn read_binary(&mut self, bytes: &[u8]) -> Result<Incoming, WireError> {
        // v3 prefixes a binary message with its Engine.IO type byte.
        let body = match self.eio {
            Eio::V4 => bytes,
            Eio::V3 => match bytes.split_first() {
                Some((4, rest)) => rest,
                _ => return Err(WireError::UnexpectedBinary(bytes.len())),
            },
        };
        if self.parser == Parser::Msgpack {
            return Ok(Incoming::Packet(msgpack_decode(body)?));
        }
        let Some((packet, mut buffers)) = self.pending.take() else {
            return Err(WireError::UnexpectedBinary(bytes.len()));
        };
        buffers.push(body.to_vec());
        if buffers.len() < packet.attachments {
            self.pending = Some((packet, buffers));
            return Ok(Incoming::Nothing);
        }
        let mut packet = packet;
        packet.data = packet.data.map(|d| fill_placeholders(d, &buffers));
        packet.attachments = 0;
        packet.kind = match packet.kind {
            Kind::BinaryAck => Kind::Ack,
            _ => Kind::Event,
        };
        Ok(Incoming::Packet(packet))
    }

    /// The messages that carry `packet` (data with base64 markers becomes binary).
    pub fn encode(&self, packet: &Packet) -> Vec<Message> {
        match self.parser {
            Parser::Msgpack => vec![self.binary(msgpack_encode(packet))],
            Parser::Json => {
                let mut buffers = Vec::new();
                let data = packet.data.clone().map(|d| take_binary(d, &mut buffers));
                let mut p = Packet::new(packet.kind, &packet.nsp, packet.id, data);
                if !buffers.is_empty() {
                    p.kind = match p.kind {
                        Kind::Ack | Kind::BinaryAck => Kind::BinaryAck,
                        _ => Kind::BinaryEvent,
                    };
                    p.attachments = buffers.len();
                }
                let mut out = vec![Message::text(p.frame())];
                out.extend(buffers.into_iter().map(|b| self.binary(b)));
                out
            }
        }
    }

    fn binary(&self, mut body: Vec<u8>) -> Message {
        if self.eio == Eio::V3 {
            body.insert(0, 4);
        }
        Message::binary(body)
    }

    /// The CONNECT for `ns`; v3 carries no auth object.
    pub fn connect(&self, ns: &str, auth: Option<&Value>) -> Vec<Message> {
        let auth = match self.eio {
            Eio::V3 => None,
            Eio::V4 => auth.cloned(),
        };
        self.encode(&Packet::new(Kind::Connect, ns, None, auth))
    }

    /// An EVENT `[event, ...args]` with an optional ack id.
    pub fn event(&self, ns: &str, event: &str, args: &[Value], id: Option<u64>) -> Vec<Message> {
        let mut items = Vec::with_capacity(args.len() + 1);
        items.push(Value::String(event.to_owned()));
        items.extend(args.iter().cloned());
        self.encode(&Packet::new(Kind::Event, ns, id, Some(Value::Array(items))))
    }

    /// The ACK answering a server's request `id` with `args`.
    pub fn ack(&self, ns: &str, id: u64, args: &[Value]) -> Vec<Message> {
        self.encode(&Packet::new(
            Kind::Ack,
            ns,
            Some(id),
            Some(Value::Array(args.to_vec())),
        ))
    }

    /// The DISCONNECT for `ns`.
    pub fn disconnect(&self, ns: &str) -> Vec<Message> {
        self.encode(&Packet::new(Kind::Disconnect, ns, None, None))
    }
}

/// Engine.IO ping (sent by a v3 client) and pong (sent by a v4 client).
pub fn ping() -> Message {
    Message::text("2")
}

pub fn pong() -> Message {
    Message::text("3")
}

/// The message of a CONNECT_ERROR: `{"message": M}` (v5) or a bare string (v4).
pub fn connect_error_message(data: Option<&Value>) -> String {
    match data {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string()),
        None => String::from("refused"),
    }
}

fn base64_of(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// `{"_placeholder":true,"num":N}` -> the marker holding attachment N.
fn fill_placeholders(v: Value, buffers: &[Vec<u8>]) -> Value {
    match v {
        Value::Object(o)
            if o.get("_placeholder") == Some(&Value::Bool(true)) && o.contains_key("num") =>
        {
            match o
                .get("num")
                .and_then(Value::as_u64)
                .and_then(|n| buffers.get(usize::try_from(n).ok()?))
            {
                Some(b) => marker(b),
                None => Value::Object(o),
            }
        }
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, fill_placeholders(v, buffers)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|v| fill_placeholders(v, buffers))
                .collect(),
        ),
        other => other,
    }
}

fn marker(b: &[u8]) -> Value {
    let mut o = Map::new();
    o.insert(BINARY_MARKER.to_owned(), Value::String(base64_of(b)));
    Value::Object(o)
}

/// The bytes of a base64 marker object, if `v` is one.
fn marker_bytes(v: &Value) -> Option<Vec<u8>> {
    let o = v.as_object()?;
    if o.len() != 1 {
        return None;
    }
    let s = o.get(BINARY_MARKER)?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// Markers -> placeholders, their bytes appended to `buffers`.
fn take_binary(v: Value, buffers: &mut Vec<Vec<u8>>) -> Value {
    if let Some(bytes) = marker_bytes(&v) {
        let num = buffers.len();
        buffers.push(bytes);
        return serde_json::json!({"_placeholder": true, "num": num});
    }
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, take_binary(v, buffers)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| take_binary(v, buffers)).collect()),
        other => other,
    }
}

fn kind_number(k: Kind) -> u8 {
    match k {
        Kind::Connect => 0,
        Kind::Disconnect => 1,
        Kind::Event | Kind::BinaryEvent => 2,
        Kind::Ack | Kind::BinaryAck => 3,
        Kind::ConnectError => 4,
    }
}

/// A packet as `socket.io-msgpack-parser` writes it.
pub fn msgpack_encode(p: &Packet) -> Vec<u8> {
    use rmpv::Value as M;
    let mut map = vec![
        (M::from("type"), M::from(kind_number(p.kind))),
        (M::from("nsp"), M::from(p.nsp.as_str())),
    ];
    if let Some(d) = &p.data {
        map.push((M::from("data"), json_to_msgpack(d)));
    }
    if let Some(id) = p.id {
        map.push((M::from("id"), M::from(id)));
    }
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &M::Map(map));
    out
}

/// A `socket.io-msgpack-parser` packet; binary values become base64 markers.
pub fn msgpack_decode(bytes: &[u8]) -> Result<Packet, WireError> {
    let mut rd = bytes;
    let v = rmpv::decode::read_value_with_max_depth(&mut rd, 256)
        .map_err(|e| WireError::Msgpack(e.to_string()))?;
    let rmpv::Value::Map(entries) = v else {
        return Err(WireError::Msgpack("not a map".into()));
    };
    let field = |name: &str| {
        entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    };
    let kind = match field("type").and_then(rmpv::Value::as_u64) {
        Some(0) => Kind::Connect,
        Some(1) => Kind::Disconnect,
        Some(2) | Some(5) => Kind::Event,
        Some(3) | Some(6) => Kind::Ack,
        Some(4) => Kind::ConnectError,
        other => return Err(WireError::Msgpack(format!("unknown packet type {other:?}"))),
    };
    let nsp = match field("nsp") {
        None | Some(rmpv::Value::Nil) => "/".to_owned(),
        Some(v) => v
            .as_str()
            .ok_or_else(|| WireError::Msgpack("nsp is not a string".into()))?
            .to_owned(),
    };
    let id = match field("id") {
        None | Some(rmpv::Value::Nil) => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| WireError::Msgpack("id is not an unsigned integer".into()))?,
        ),
    };
    if kind == Kind::Ack && id.is_none() {
        return Err(WireError::Codec(crate::Error::AckWithoutId));
    }
    let data = field("data").map(msgpack_to_json);
    Ok(Packet {
        kind,
        attachments: 0,
        nsp,
        id,
        data,
    })
}

/// Msgpack bytes as JSON (binary as base64 markers); None when they do not decode.
pub fn msgpack_value(bytes: &[u8]) -> Option<Value> {
    let mut rd = bytes;
    rmpv::decode::read_value_with_max_depth(&mut rd, 256)
        .ok()
        .map(|v| msgpack_to_json(&v))
}

fn msgpack_to_json(v: &rmpv::Value) -> Value {
    use rmpv::Value as M;
    match v {
        M::Nil => Value::Null,
        M::Boolean(b) => Value::Bool(*b),
        M::Integer(i) => match (i.as_u64(), i.as_i64()) {
            (Some(u), _) => Value::from(u),
            (_, Some(s)) => Value::from(s),
            _ => Value::Null,
        },
        M::F32(f) => serde_json::Number::from_f64(f64::from(*f))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        M::F64(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        M::String(s) => Value::String(
            s.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(s.as_bytes()).into_owned()),
        ),
        M::Binary(b) | M::Ext(_, b) => marker(b),
        M::Array(a) => Value::Array(a.iter().map(msgpack_to_json).collect()),
        M::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k.as_str() {
                        Some(s) => s.to_owned(),
                        None => k.to_string(),
                    };
                    (key, msgpack_to_json(v))
                })
                .collect(),
        ),
    }
}

fn json_to_msgpack(v: &Value) -> rmpv::Value {
    use rmpv::Value as M;
    if let Some(bytes) = marker_bytes(v) {
        return M::Binary(bytes);
    }
    match v {
        Value::Null => M::Nil,
        Value::Bool(b) => M::Boolean(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => M::from(u),
            (_, Some(i), _) => M::from(i),
            (_, _, Some(f)) => M::F64(f),
            _ => M::Nil,
        },
        Value::String(s) => M::from(s.as_str()),
        Value::Array(a) => M::Array(a.iter().map(json_to_msgpack).collect()),
        Value::Object(o) => M::Map(
            o.iter()
                .map(|(k, v)| (M::from(k.as_str()), json_to_msgpack(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn event(data: Value) -> Packet {
        Packet::new(Kind::Event, "/chat", Some(3), Some(data))
    }

    #[test]
    fn msgpack_round_trips_with_binary_as_markers() {
        let p = event(json!(["file", {"name": "a", "body": {BINARY_MARKER: "AAEC"}}, -2, 1.5]));
        let bytes = msgpack_encode(&p);
        assert_eq!(msgpack_decode(&bytes).unwrap(), p);
        let mut w = Wire::new(Eio::V4, Parser::Msgpack);
        let msgs = w.encode(&p);
        assert_eq!(msgs.len(), 1);
        assert_eq!(w.read(&msgs[0]).unwrap(), Incoming::Packet(p));
    }

    #[test]
    fn json_binary_goes_as_attachments_and_comes_back() {
        let p = event(json!(["up", {BINARY_MARKER: "AAEC"}, [{BINARY_MARKER: "/w=="}]]));
        for eio in [Eio::V3, Eio::V4] {
            let mut w = Wire::new(eio, Parser::Json);
            let msgs = w.encode(&p);
            assert_eq!(msgs.len(), 3, "{msgs:?}");
            assert!(msgs[0].to_text().unwrap().starts_with("452-/chat,3["));
            let got: Vec<Incoming> = msgs.iter().map(|m| w.read(m).unwrap()).collect();
            assert_eq!(got[2], Incoming::Packet(p.clone()));
        }
        // v3 binary frames carry the message type byte.
        let w = Wire::new(Eio::V3, Parser::Msgpack);
        match &w.encode(&p)[0] {
            Message::Binary(b) => assert_eq!(b[0], 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn open_packets_tell_v3_from_v4() {
        let mut w = Wire::new(Eio::V4, Parser::Json);
        let v3 = w
            .read(&Message::text(
                r#"0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":5000}"#,
            ))
            .unwrap();
        assert!(matches!(v3, Incoming::Open(Handshake { eio: Eio::V3, .. })));
        let v4 = w
            .read(&Message::text(
                r#"0{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#,
            ))
            .unwrap();
        assert!(matches!(v4, Incoming::Open(Handshake { eio: Eio::V4, .. })));
    }

    #[test]
    fn hostile_frames_are_errors() {
        let mut w = Wire::new(Eio::V4, Parser::Json);
        assert!(w.read(&Message::binary(vec![1u8, 2])).is_err());
        assert!(w.read(&Message::text("4599-[\"x\"]")).is_err());
        assert!(w.read(&Message::text("0{bad")).is_err());
        let mut m = Wire::new(Eio::V3, Parser::Msgpack);
        assert!(m.read(&Message::binary(vec![4u8, 0xc1])).is_err());
        assert!(m.read(&Message::binary(vec![0u8])).is_err());
        assert!(m.read(&Message::text("42[\"x\"]")).is_err());
        // An array announcing 4 billion elements does not allocate them.
        assert!(msgpack_decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(
            connect_error_message(Some(&json!("Not authorized"))),
            "Not authorized"
        );
    }

    proptest! {
        #[test]
        fn decoding_any_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = msgpack_decode(&b);
            for eio in [Eio::V3, Eio::V4] {
                for parser in [Parser::Json, Parser::Msgpack] {
                    let mut w = Wire::new(eio, parser);
                    let _ = w.read(&Message::binary(b.clone()));
                    let _ = w.read(&Message::text(String::from_utf8_lossy(&b).into_owned()));
                    let _ = w.read(&Message::binary(b.clone()));
                }
            }
        }
    }
}
