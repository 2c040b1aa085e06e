//! Engine.IO v4 / Socket.IO v5 text packets: the one decoder and encoder that the
//! simulator's virtual clients (`sockscope_engine::simulate::client`), the own wire
//! client ([`crate::wire`]) and the HAR importer and exporter (`sockscope_store`)
//! share.
//!
//! Both read packets that come from outside (a gateway under load, a file someone
//! saved), so decoding never panics on any input: every slice is taken at an ASCII
//! separator or after a character checked to be ASCII, numbers that do not fit are
//! errors, and a bad packet is an [`Error`] that quotes at most 40 characters of it.
//!
//! Why not `socketioxide-parser-common` (0.17, the parser socketioxide 0.18 uses): it
//! is the server's half. It refuses packet type 4 (CONNECT_ERROR), which both users
//! here must read (a client is refused with it; a capture holds it), it drops the
//! payload of a DISCONNECT, and it reads ack ids as `i64` where captures can carry
//! any `u64`. engineioxide's Engine.IO packet type is tied to its server sockets. The
//! wire format is small and fixed, so it is written out here once, tested with
//! property tests and fuzzed (`cargo xtask fuzz`).

use serde_json::Value;

use crate::Error;

/// Longest excerpt of a bad packet an error quotes.
const PREVIEW_CHARS: usize = 40;

/// The first characters of `s`, for an error message.
pub fn preview(s: &str) -> String {
    s.chars().take(PREVIEW_CHARS).collect()
}

/// An Engine.IO v4 text frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnginePacket<'a> {
    /// `0{json}`: the handshake.
    Open(&'a str),
    Close,
    /// `2` (with an optional probe payload).
    Ping(&'a str),
    Pong(&'a str),
    /// `4...`: a Socket.IO packet.
    Message(&'a str),
    Upgrade,
    Noop,
}

/// Splits an Engine.IO text frame into its type and payload.
pub fn engine_io(frame: &str) -> Result<EnginePacket<'_>, Error> {
    let Some(&first) = frame.as_bytes().first() else {
        return Err(Error::Empty);
    };
    if !first.is_ascii_digit() {
        return Err(Error::EngineIoType(preview(frame)));
    }
    // `first` is ASCII, so byte 1 is a char boundary.
    let rest = &frame[1..];
    Ok(match first {
        b'0' => EnginePacket::Open(rest),
        b'1' => EnginePacket::Close,
        b'2' => EnginePacket::Ping(rest),
        b'3' => EnginePacket::Pong(rest),
        b'4' => EnginePacket::Message(rest),
        b'5' => EnginePacket::Upgrade,
        b'6' => EnginePacket::Noop,
        _ => return Err(Error::EngineIoType(preview(frame))),
    })
}

/// Socket.IO v5 packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Connect,
    Disconnect,
    Event,
    Ack,
    ConnectError,
    BinaryEvent,
    BinaryAck,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            b'0' => Kind::Connect,
            b'1' => Kind::Disconnect,
            b'2' => Kind::Event,
            b'3' => Kind::Ack,
            b'4' => Kind::ConnectError,
            b'5' => Kind::BinaryEvent,
            b'6' => Kind::BinaryAck,
            _ => return None,
        })
    }

    fn digit(self) -> char {
        match self {
            Kind::Connect => '0',
            Kind::Disconnect => '1',
            Kind::Event => '2',
            Kind::Ack => '3',
            Kind::ConnectError => '4',
            Kind::BinaryEvent => '5',
            Kind::BinaryAck => '6',
        }
    }

    fn is_binary(self) -> bool {
        matches!(self, Kind::BinaryEvent | Kind::BinaryAck)
    }
}

/// One Socket.IO packet: `<type>[<n>-][<nsp>,][<id>][<json>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: Kind,
    /// Binary attachments that follow (BINARY_EVENT / BINARY_ACK), else 0.
    pub attachments: usize,
    /// `/` when the packet names none.
    pub nsp: String,
    pub id: Option<u64>,
    pub data: Option<Value>,
}

impl Packet {
    /// A packet on `nsp` with no attachments.
    pub fn new(kind: Kind, nsp: &str, id: Option<u64>, data: Option<Value>) -> Self {
        Self {
            kind,
            attachments: 0,
            nsp: nsp.to_owned(),
            id,
            data,
        }
    }

    /// For EVENT/BINARY_EVENT: the event name and the arguments after it.
    pub fn event(&self) -> Option<(&str, &[Value])> {
        match (&self.kind, &self.data) {
            (Kind::Event | Kind::BinaryEvent, Some(Value::Array(items))) => {
                match items.split_first() {
                    Some((Value::String(name), args)) => Some((name.as_str(), args)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The Socket.IO packet as text (without Engine.IO's `4`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        out.push(self.kind.digit());
        if self.kind.is_binary() || self.attachments > 0 {
            out.push_str(&self.attachments.to_string());
            out.push('-');
        }
        if self.nsp != "/" && !self.nsp.is_empty() {
            if !self.nsp.starts_with('/') {
                out.push('/');
            }
            out.push_str(&self.nsp);
            out.push(',');
        }
        if let Some(id) = self.id {
            out.push_str(&id.to_string());
        }
        if let Some(d) = &self.data {
            out.push_str(&d.to_string());
        }
        out
    }

    /// The Engine.IO message frame carrying this packet (`4` + [`Packet::encode`]).
    pub fn frame(&self) -> String {
        let mut out = String::from("4");
        out.push_str(&self.encode());
        out
    }
}

/// Decodes a Socket.IO packet (the text after Engine.IO's `4`).
pub fn decode(text: &str) -> Result<Packet, Error> {
    let kind = text
        .as_bytes()
        .first()
        .and_then(|b| Kind::from_byte(*b))
        .ok_or_else(|| Error::PacketType(preview(text)))?;
    // The type is one ASCII digit: byte 1 is a char boundary.
    let mut rest = &text[1..];
    let mut attachments = 0;
    if kind.is_binary() {
        let (n, after) = rest
            .split_once('-')
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| Error::Attachments(preview(text)))?;
        attachments = n.parse().map_err(|_| Error::Attachments(preview(text)))?;
        rest = after;
    }
    let mut nsp = "/".to_owned();
    if rest.starts_with('/') {
        let (name, after) = rest.split_once(',').unwrap_or((rest, ""));
        nsp = name.to_owned();
        rest = after;
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    // ASCII digits: `digits` is a char boundary.
    let (id_text, payload) = rest.split_at(digits);
    let id = if id_text.is_empty() {
        None
    } else {
        Some(
            id_text
                .parse::<u64>()
                .map_err(|_| Error::AckId(preview(text)))?,
        )
    };
    if matches!(kind, Kind::Ack | Kind::BinaryAck) && id.is_none() {
        return Err(Error::AckWithoutId);
    }
    let data = if payload.is_empty() {
        None
    } else {
        Some(serde_json::from_str(payload).map_err(|e| Error::Json(e.to_string()))?)
    };
    Ok(Packet {
        kind,
        attachments,
        nsp,
        id,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn packets_parse_with_namespace_id_and_attachments() {
        let p = decode(r#"2/dashboard,12["ev",1]"#).unwrap();
        assert_eq!(
            (p.kind, p.nsp.as_str(), p.id),
            (Kind::Event, "/dashboard", Some(12))
        );
        assert_eq!(p.data, Some(json!(["ev", 1])));
        assert_eq!(p.event(), Some(("ev", &[json!(1)][..])));
        let p = decode(r#"51-["up",{"_placeholder":true,"num":0}]"#).unwrap();
        assert_eq!(
            (p.kind, p.attachments, p.nsp.as_str(), p.id),
            (Kind::BinaryEvent, 1, "/", None)
        );
        let p = decode("1/admin,").unwrap();
        assert_eq!(
            (p.kind, p.nsp.as_str(), p.data),
            (Kind::Disconnect, "/admin", None)
        );
        let p = decode("0/custom").unwrap();
        assert_eq!(p.nsp, "/custom");
        let p = decode(r#"4/dashboard,{"message":"bad signature"}"#).unwrap();
        assert_eq!(p.kind, Kind::ConnectError);
        assert_eq!(p.data, Some(json!({"message": "bad signature"})));
        let p = decode("318446744073709551615[]").unwrap();
        assert_eq!(p.id, Some(u64::MAX));
        assert!(decode("9x").is_err());
        assert!(decode("2[bad").is_err());
        assert!(decode("3[]").is_err());
        assert!(decode("318446744073709551616[]").is_err());
        assert!(decode("5x-[]").is_err());
        assert!(decode("").is_err());
    }

    #[test]
    fn multibyte_text_never_splits_a_character() {
        for text in [
            "é", "2é", "21é", "2/é", "2/é,", "2/é,1é", "51é", "5é-", "51-é", "4é", "0é", "3é", "6é",
        ] {
            let _ = decode(text);
            let _ = engine_io(text);
            let _ = engine_io(&format!("4{text}"));
        }
        assert!(matches!(engine_io("4é"), Ok(EnginePacket::Message("é"))));
        assert!(decode("é").is_err());
        assert!(engine_io("é").is_err());
    }

    #[test]
    fn frames_encode_what_decode_reads() {
        let p = Packet::new(
            Kind::Event,
            "/dash",
            Some(7),
            Some(json!(["save", {"a": 1}])),
        );
        assert_eq!(p.frame(), r#"42/dash,7["save",{"a":1}]"#);
        assert_eq!(decode(&p.encode()).unwrap(), p);
        assert_eq!(Packet::new(Kind::Connect, "/", None, None).frame(), "40");
        let mut b = Packet::new(
            Kind::BinaryAck,
            "/",
            Some(1),
            Some(json!([{"_placeholder": true, "num": 0}])),
        );
        b.attachments = 1;
        assert_eq!(b.encode(), r#"61-1[{"_placeholder":true,"num":0}]"#);
        assert_eq!(decode(&b.encode()).unwrap(), b);
    }

    proptest! {
        #[test]
        fn decoding_any_text_never_panics(s in any::<String>()) {
            let _ = decode(&s);
            let _ = engine_io(&s);
        }

        #[test]
        fn decoding_any_packet_shaped_text_never_panics(
            kind in "[0-9é]", n in "[0-9]{0,22}-?", nsp in "(/[a-zé,]{0,4})?", id in "[0-9]{0,22}", rest in ".{0,12}"
        ) {
            let _ = decode(&format!("{kind}{n}{nsp}{id}{rest}"));
        }

        #[test]
        fn encode_then_decode_is_identity(
            kind in 0usize..7,
            nsp in "/[a-z]{0,6}",
            id in proptest::option::of(any::<u64>()),
            attachments in 0usize..4,
            args in proptest::collection::vec("[a-zé\"\\\\,\\[]{0,6}", 0..3),
        ) {
            let kinds = [Kind::Connect, Kind::Disconnect, Kind::Event, Kind::Ack, Kind::ConnectError, Kind::BinaryEvent, Kind::BinaryAck];
            let kind = kinds[kind];
            let id = if matches!(kind, Kind::Ack | Kind::BinaryAck) { Some(id.unwrap_or(0)) } else { id };
            let mut items = vec![Value::String("ev".into())];
            items.extend(args.into_iter().map(Value::String));
            let mut p = Packet::new(kind, &nsp, id, Some(Value::Array(items)));
            if kind.is_binary() {
                p.attachments = attachments;
            }
            if p.nsp.len() == 1 {
                p.nsp = "/".into();
            }
            prop_assert_eq!(decode(&p.encode()).unwrap(), p);
        }
    }
}
