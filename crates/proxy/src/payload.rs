//! Engine.IO long-polling bodies: one HTTP body carries several Engine.IO packets,
//! and the proxy must see each one (and, when a rule drops or rewrites one, put the
//! body back together). Three framings exist:
//!
//! - v4 (Socket.IO 3/4): packets joined by the record separator `\x1e`; a binary
//!   packet is `b` + base64 of its bytes.
//! - v3 text (Socket.IO 2): `<length>:<packet>` repeated, the length counted in
//!   UTF-16 code units (JavaScript string length); a binary packet is `b4` + base64.
//! - v3 binary (Socket.IO 2 when the payload holds binary and the peer supports it):
//!   per packet a `0` (text) or `1` (binary) byte, the length as one byte per
//!   decimal digit, `0xFF`, then the packet's bytes (a binary packet starts with its
//!   Engine.IO type byte).
//!
//! A packet comes out as a [`Frame`] shaped like the WebSocket message that would
//! carry it on that revision (v3 binary frames keep their leading type byte), so the
//! one [`sockscope_codec::wire::Wire`] decoder reads both transports. Bodies come
//! from either side and may be hostile: decoding never panics and the number of
//! packets is capped.

use base64::Engine as _;
use sockscope_codec::wire::Eio;

use crate::error::PayloadError;

/// Most packets one body may hold.
pub const MAX_PACKETS: usize = 100_000;

const SEPARATOR: char = '\u{1e}';

/// One Engine.IO packet of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

/// How a body was framed, so a rebuilt one is framed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    V4,
    V3Text,
    V3Binary,
}

/// Splits a polling body into its packets.
pub fn decode(eio: Eio, body: &[u8]) -> Result<(Framing, Vec<Frame>), PayloadError> {
    match eio {
        Eio::V4 => {
            let text = std::str::from_utf8(body).map_err(|_| PayloadError::NotUtf8)?;
            Ok((Framing::V4, decode_v4(text)?))
        }
        Eio::V3 => match body.first() {
            Some(0 | 1) => Ok((Framing::V3Binary, decode_v3_binary(body)?)),
            _ => {
                let text = std::str::from_utf8(body).map_err(|_| PayloadError::NotUtf8)?;
                Ok((Framing::V3Text, decode_v3_text(text)?))
            }
        },
    }
}

/// Puts packets back into a body framed as `framing`.
pub fn encode(framing: Framing, frames: &[Frame]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    match framing {
        Framing::V4 => {
            let mut out = String::new();
            for (i, f) in frames.iter().enumerate() {
                if i > 0 {
                    out.push(SEPARATOR);
                }
                match f {
                    Frame::Text(t) => out.push_str(t),
                    Frame::Binary(b) => {
                        out.push('b');
                        out.push_str(&b64.encode(b));
                    }
                }
            }
            out.into_bytes()
        }
        Framing::V3Text => {
            let mut out = String::new();
            for f in frames {
                let packet = match f {
                    Frame::Text(t) => t.clone(),
                    Frame::Binary(b) => match b.split_first() {
                        Some((ty, rest)) => format!("b{}{}", ty, b64.encode(rest)),
                        None => "b".to_owned(),
                    },
                };
                out.push_str(&packet.encode_utf16().count().to_string());
                out.push(':');
                out.push_str(&packet);
            }
            out.into_bytes()
        }
        Framing::V3Binary => {
            let mut out = Vec::new();
            for f in frames {
                let (kind, bytes): (u8, &[u8]) = match f {
                    Frame::Text(t) => (0, t.as_bytes()),
                    Frame::Binary(b) => (1, b),
                };
                out.push(kind);
                out.extend(bytes.len().to_string().bytes().map(|d| d - b'0'));
                out.push(0xFF);
                out.extend_from_slice(bytes);
            }
            out
        }
    }
}

fn decode_v4(text: &str) -> Result<Vec<Frame>, PayloadError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut frames = Vec::new();
    for part in text.split(SEPARATOR) {
        if frames.len() >= MAX_PACKETS {
            return Err(PayloadError::TooManyPackets(MAX_PACKETS));
        }
        match part.strip_prefix('b') {
            Some(data) => frames.push(Frame::Binary(
                b64.decode(data).map_err(|_| PayloadError::Base64)?,
            )),
            None => frames.push(Frame::Text(part.to_owned())),
        }
    }
    Ok(frames)
}

fn decode_v3_text(text: &str) -> Result<Vec<Frame>, PayloadError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut frames = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if frames.len() >= MAX_PACKETS {
            return Err(PayloadError::TooManyPackets(MAX_PACKETS));
        }
        let (len, after) = rest.split_once(':').ok_or(PayloadError::Length)?;
        if len.is_empty() || len.len() > 10 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PayloadError::Length);
        }
        let units: usize = len.parse().map_err(|_| PayloadError::Length)?;
        // Walk `units` UTF-16 code units into `after`.
        let mut counted = 0;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            if counted == units {
                end = i;
                break;
            }
            counted += c.len_utf16();
        }
        if counted < units || (end == after.len() && counted != units) {
            return Err(PayloadError::Truncated);
        }
        let packet = &after[..end];
        rest = &after[end..];
        match packet.strip_prefix('b') {
            Some(data) => {
                let mut chars = data.chars();
                let ty = chars
                    .next()
                    .and_then(|c| c.to_digit(10))
                    .ok_or(PayloadError::Base64)? as u8;
                let mut bytes = vec![ty];
                bytes.extend(
                    b64.decode(chars.as_str())
                        .map_err(|_| PayloadError::Base64)?,
                );
                frames.push(Frame::Binary(bytes));
            }
            None => frames.push(Frame::Text(packet.to_owned())),
        }
    }
    Ok(frames)
}

fn decode_v3_binary(body: &[u8]) -> Result<Vec<Frame>, PayloadError> {
    let mut frames = Vec::new();
    let mut rest = body;
    while let Some((&kind, after)) = rest.split_first() {
        if frames.len() >= MAX_PACKETS {
            return Err(PayloadError::TooManyPackets(MAX_PACKETS));
        }
        if kind > 1 {
            return Err(PayloadError::Length);
        }
        let digits_end = after
            .iter()
            .position(|&b| b == 0xFF)
            .filter(|&n| n > 0 && n <= 10)
            .ok_or(PayloadError::Length)?;
        let mut len: usize = 0;
        for &d in &after[..digits_end] {
            if d > 9 {
                return Err(PayloadError::Length);
            }
            len = len * 10 + d as usize;
        }
        let data = &after[digits_end + 1..];
        if data.len() < len {
            return Err(PayloadError::Truncated);
        }
        let (packet, tail) = data.split_at(len);
        frames.push(if kind == 0 {
            Frame::Text(String::from_utf8(packet.to_vec()).map_err(|_| PayloadError::NotUtf8)?)
        } else {
            Frame::Binary(packet.to_vec())
        });
        rest = tail;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn v4_splits_on_the_separator_and_decodes_binary() {
        let (f, frames) = decode(Eio::V4, b"42[\"a\"]\x1ebAQI=\x1e6").unwrap();
        assert_eq!(f, Framing::V4);
        assert_eq!(
            frames,
            vec![
                Frame::Text("42[\"a\"]".into()),
                Frame::Binary(vec![1, 2]),
                Frame::Text("6".into())
            ]
        );
    }

    #[test]
    fn v3_text_counts_utf16_units() {
        // "é" is one unit, "😀" two.
        let body = "7:42[\"é\"]3:2😀2:40";
        let (f, frames) = decode(Eio::V3, body.as_bytes()).unwrap();
        assert_eq!(f, Framing::V3Text);
        assert_eq!(
            frames,
            vec![
                Frame::Text("42[\"é\"]".into()),
                Frame::Text("2😀".into()),
                Frame::Text("40".into())
            ]
        );
        assert_eq!(encode(Framing::V3Text, &frames), body.as_bytes());
    }

    #[test]
    fn v3_text_binary_keeps_its_type_byte() {
        let (_, frames) = decode(Eio::V3, b"6:b4AQI=").unwrap();
        assert_eq!(frames, vec![Frame::Binary(vec![4, 1, 2])]);
        assert_eq!(encode(Framing::V3Text, &frames), b"6:b4AQI=");
    }

    #[test]
    fn v3_binary_payload_reads_both_kinds() {
        let mut body = vec![0, 2, 0xFF];
        body.extend_from_slice(b"40");
        body.extend_from_slice(&[1, 3, 0xFF, 4, 9, 9]);
        let (f, frames) = decode(Eio::V3, &body).unwrap();
        assert_eq!(f, Framing::V3Binary);
        assert_eq!(
            frames,
            vec![Frame::Text("40".into()), Frame::Binary(vec![4, 9, 9])]
        );
        assert_eq!(encode(f, &frames), body);
    }

    #[test]
    fn broken_bodies_are_errors() {
        assert!(decode(Eio::V3, b"9:40").is_err());
        assert!(decode(Eio::V3, b"x:40").is_err());
        assert!(decode(Eio::V3, b"99999999999:40").is_err());
        assert!(decode(Eio::V3, &[1, 9, 9, 0xFF, 4]).is_err());
        assert!(decode(Eio::V3, &[0, 1, 2]).is_err());
        assert!(decode(Eio::V4, b"b!!!").is_err());
        assert!(decode(Eio::V4, &[0xC3]).is_err());
    }

    proptest! {
        #[test]
        fn any_body_decodes_or_errs_without_panicking(eio in prop::bool::ANY, body in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(if eio { Eio::V4 } else { Eio::V3 }, &body);
        }

        #[test]
        fn encoded_frames_decode_back(texts in prop::collection::vec("[0-9][^\u{1e}]{0,20}", 1..6), bins in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..3)) {
            let mut frames: Vec<Frame> = texts.into_iter().map(Frame::Text).collect();
            for mut b in bins {
                b.insert(0, 4);
                frames.push(Frame::Binary(b));
            }
            for (eio, framing) in [(Eio::V4, Framing::V4), (Eio::V3, Framing::V3Text), (Eio::V3, Framing::V3Binary)] {
                let body = encode(framing, &frames);
                let (got_framing, got) = decode(eio, &body).unwrap();
                prop_assert_eq!(got_framing, framing);
                prop_assert_eq!(&got, &frames);
            }
        }
    }
}
