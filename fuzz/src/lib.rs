//! The fuzz targets: each takes any bytes and feeds them to one parser of outside
//! input. A target fails by panicking: the parser panicked, or a property that must
//! hold for every input (stated next to it) did not.
//!
//! The codec and wire targets exercise `sockscope-codec` alone (no sockets, no
//! engine); the file formats exercise `sockscope-store`; scenarios, templates and
//! rewrite rules are the engine's.
//!
//! The same functions run under libFuzzer (`fuzz_targets/*.rs`) and in the stable
//! mutation loop (`src/bin/fuzz_loop.rs`).

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};
use sockscope_codec as codec;
use sockscope_engine::replay::Rewrites;
use sockscope_engine::simulate::scenario;
use sockscope_store::{self as store, Store};
use sockscope_protocol::SessionInfo;

/// Every target by name, for the loop runner.
pub const TARGETS: [(&str, fn(&[u8])); 8] = [
    ("codec", codec),
    ("wire", wire),
    ("har", har),
    ("jsonl", jsonl),
    ("scenario", scenario),
    ("templates", templates),
    ("rules", rules),
    ("proxy", proxy),
];

fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Engine.IO frames and Socket.IO packets. Property: a packet that decodes encodes
/// to text that decodes to the same packet (unless its payload is a bare number,
/// which the wire cannot tell from an ack id).
pub fn codec(data: &[u8]) {
    let t = text(data);
    let _ = codec::engine_io(&t);
    if let Ok(p) = codec::decode(&t) {
        if !matches!(p.data, Some(Value::Number(_))) {
            let again = codec::decode(&p.encode());
            assert_eq!(again.as_ref(), Ok(&p), "re-encoded as {:?}", p.encode());
        }
    }
}

/// What a hostile server sends a connection: any bytes as a text and as a binary
/// WebSocket message, to every Engine.IO revision and parser. Property: a msgpack
/// packet that decodes encodes to bytes that decode to the same packet.
pub fn wire(data: &[u8]) {
    use sockscope_codec::wire::{self, Eio, Wire};
    use sockscope_protocol::Parser;
    use tokio_tungstenite::tungstenite::Message;
    for eio in [Eio::V3, Eio::V4] {
        for parser in [Parser::Json, Parser::Msgpack] {
            let mut w = Wire::new(eio, parser);
            let _ = w.read(&Message::text(text(data).into_owned()));
            let _ = w.read(&Message::binary(data.to_vec()));
        }
    }
    if let Ok(p) = wire::msgpack_decode(data) {
        let again = wire::msgpack_decode(&wire::msgpack_encode(&p));
        assert_eq!(
            again.as_ref(),
            Ok(&p),
            "msgpack re-encode changed the packet"
        );
    }
}

/// A HAR document. Property: what imports exports to a document that imports with
/// the same number of events.
pub fn har(data: &[u8]) {
    let Ok(records) = store::decode_har(&text(data)) else {
        return;
    };
    let session = SessionInfo {
        id: 1,
        name: "fuzz".into(),
        kind: "import".into(),
        target: String::new(),
        started_at: 0,
        ended_at: None,
        events: records.len() as u64,
        meta: Value::Null,
        state: Default::default(),
    };
    let doc = store::encode_har(&session, &records);
    let back = store::decode_har(&doc.to_string()).unwrap_or_default();
    assert!(
        back.len() <= records.len(),
        "{} events became {}",
        records.len(),
        back.len()
    );
}

/// One store for every JSON Lines run of this process.
fn scratch_store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir: PathBuf =
            std::env::temp_dir().join(format!("sockscope-fuzz-{}", std::process::id()));
        #[allow(clippy::expect_used)]
        Store::open(dir.join("fuzz.db")).expect("a scratch database")
    })
}

/// A JSON Lines import, lines at most 4 KiB.
pub fn jsonl(data: &[u8]) {
    let _ = scratch_store().import_jsonl_limited("fuzz", data, 4096);
}

/// A scenario file. Property: an accepted scenario's steps per pass are within the
/// limit.
pub fn scenario(data: &[u8]) {
    if let Ok(s) = scenario::parse(&text(data), "fuzz.json") {
        assert!(scenario::step_count(&s.steps) <= sockscope_engine::limits::MAX_SCENARIO_STEPS);
        assert!(scenario::step_count(&s.setup) <= sockscope_engine::limits::MAX_SCENARIO_STEPS);
    }
}

/// An event template file, and a channel identifier from its second line.
pub fn templates(data: &[u8]) {
    let t = text(data);
    let (file, id) = t.split_once('\n').unwrap_or((&t, "kiosk"));
    if let Ok(template) = sockscope_engine::templates::parse("fuzz.json", file) {
        let _ = sockscope_engine::templates::with_identifier(&template.channel, id);
    }
}

/// `--rewrite` and `--set` rules (first two lines) applied to JSON arguments (the
/// rest, or a sample).
pub fn rules(data: &[u8]) {
    let t = text(data);
    let mut lines = t.splitn(3, '\n');
    let literal = lines.next().unwrap_or_default().to_owned();
    let set = lines.next().unwrap_or_default().to_owned();
    let mut args = lines
        .next()
        .and_then(|a| serde_json::from_str::<Value>(a).ok())
        .unwrap_or_else(|| json!([{"tenantID": "t1", "a": [1, {"b": "tenant-a"}]}, "x"]));
    for (l, s) in [
        (vec![literal.clone()], vec![set.clone()]),
        (vec![literal], vec![]),
        (vec![], vec![set]),
    ] {
        if let Ok(r) = Rewrites::parse(&l, &s) {
            let _ = r.check_sets_apply(std::iter::once(&args));
            r.apply(&mut args);
        }
    }
}

/// What the capture proxy reads from either side: a long-polling body of any
/// revision, and a `--rule` line. Property: a body that decodes re-encodes in its
/// own framing to bytes that decode to the same packets.
pub fn proxy(data: &[u8]) {
    use sockscope_codec::wire::Eio;
    use sockscope_proxy::payload;
    for eio in [Eio::V3, Eio::V4] {
        if let Ok((framing, frames)) = payload::decode(eio, data) {
            let again = payload::decode(eio, &payload::encode(framing, &frames));
            assert_eq!(again, Ok((framing, frames)), "re-encoding changed the body");
        }
    }
    let _ = sockscope_proxy::Rule::parse(1, &text(data));
}
