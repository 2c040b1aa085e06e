//! Property tests: exporting a session and importing the file back gives the same
//! events, for any session (JSON Lines: every field; HAR: every field a HAR frame
//! carries, for sessions of several connections), and importing arbitrary bytes
//! never panics.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use sockscope_protocol::{AckInfo, Direction, EventRecord};
use sockscope_store::Store;
use sockscope_test_support::unique_dir;

/// JSON values without secret-looking keys (imports redact those) or floats that do
/// not survive text (NaN is not JSON).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e12f64..1e12).prop_map(|f| json!(f)),
        "[a-zé \"\\\\/,0-9\\[\\]{}]{0,8}".prop_map(Value::String),
        // A binary attachment as records carry it.
        "([A-Za-z0-9+/]{4}){1,3}".prop_map(|b| json!({ "_binary": b })),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-e]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::C2s), Just(Direction::S2c)]
}

/// Any record a session can hold.
fn record() -> impl Strategy<Value = EventRecord> {
    (
        (0i64..4_000_000_000_000_000, direction()),
        prop_oneof![Just("/".to_owned()), "/[a-z]{1,6}", "[a-zé,]{0,4}"],
        prop_oneof![
            "[a-z:_é]{1,8}",
            Just("connect".to_owned()),
            Just("disconnect".to_owned()),
            Just("connect_error".to_owned()),
            Just("ack".to_owned()),
        ],
        proptest::collection::vec(json_value(), 0..3),
        proptest::option::of((
            proptest::option::of(any::<u64>()),
            proptest::option::of(json_value()),
        )),
        (
            "[a-z:0-9]{0,6}",
            proptest::option::of("[A-Za-z0-9_]{1,8}"),
            proptest::collection::vec("[a-z:]{1,6}", 0..2),
            proptest::option::of("[a-z]{1,4}"),
            proptest::option::of("[a-z]{1,4}"),
        ),
    )
        .prop_map(
            |(
                (ts, direction),
                namespace,
                event,
                args,
                ack,
                (source, socket_id, rooms, tenant, user),
            )| {
                EventRecord {
                    seq: 0,
                    ts,
                    source,
                    direction,
                    namespace,
                    event,
                    args: Value::Array(args),
                    // `reply: null` reads back as no reply (JSON has one null).
                    ack: ack.map(|(id, reply)| AckInfo {
                        id,
                        reply: reply.filter(|r| !r.is_null()),
                        latency_us: None,
                    }),
                    socket_id,
                    rooms,
                    tenant,
                    user,
                    fault: None,
                }
            },
        )
}

/// Records as a Socket.IO capture can hold them: namespaces that start with `/`
/// without a `,`; lifecycle packets with an object payload (Socket.IO's CONNECT,
/// DISCONNECT and CONNECT_ERROR carry an object or nothing); acks with ids; in time
/// order (a HAR entry's frames are); only the fields a frame carries.
fn har_record() -> impl Strategy<Value = EventRecord> {
    // Few ack ids, so asks and acks of the same id meet; and the largest one.
    let ack_id = prop_oneof![0u64..4, Just(u64::MAX)];
    // Up to three connections (named by `as_capture`).
    (record(), proptest::option::of(ack_id), 0u8..3).prop_map(|(mut r, id, conn)| {
        r.source = conn.to_string();
        if !r.namespace.starts_with('/') || r.namespace.contains(',') {
            r.namespace = format!("/{}", r.namespace.replace([',', '/'], ""));
        }
        if matches!(r.event.as_str(), "connect" | "disconnect" | "connect_error") {
            r.args = match r.args.as_array().and_then(|a| a.first()) {
                Some(Value::Object(m)) => json!([Value::Object(m.clone())]),
                _ => json!([]),
            };
            r.ack = None;
        }
        if let Some(a) = r.ack.as_mut() {
            a.id = Some(id.unwrap_or(1));
        }
        if r.event == "ack" {
            // A stand-alone ack record: an ACK packet without a matching event.
            r.ack = Some(AckInfo {
                id: Some(r.ack.as_ref().and_then(|a| a.id).unwrap_or(1)),
                reply: None,
                latency_us: None,
            });
        }
        r.socket_id = None;
        r.rooms = Vec::new();
        r.tenant = None;
        r.user = None;
        r
    })
}

/// Records as captures of several connections hold them: in time order (distinct
/// times), each connection named `connection:<n>` with n its rank by first event (an
/// import calls the n-th HAR entry so, and an export writes one entry per
/// connection), and no stand-alone `ack` after an unanswered ask of the same id on
/// the same connection (the import would have attached it: such a session cannot
/// come from a capture). Across connections it can, and must survive.
fn as_capture(mut records: Vec<EventRecord>) -> Vec<EventRecord> {
    records.sort_by_key(|r| r.ts);
    let mut out: Vec<EventRecord> = Vec::new();
    for (i, mut r) in records.into_iter().enumerate() {
        r.ts += i as i64; // distinct
        if r.event == "ack" {
            let id = r.ack.as_ref().and_then(|a| a.id);
            let taken = out.iter().any(|o| {
                o.source == r.source
                    && o.namespace == r.namespace
                    && o.direction != r.direction
                    && o.event != "ack"
                    && o.ack
                        .as_ref()
                        .is_some_and(|a| a.id == id && a.reply.is_none())
            });
            if taken {
                continue;
            }
        }
        out.push(r);
    }
    let mut names: Vec<String> = Vec::new();
    for r in &mut out {
        let n = match names.iter().position(|s| *s == r.source) {
            Some(p) => p + 1,
            None => {
                names.push(r.source.clone());
                names.len()
            }
        };
        r.source = format!("connection:{n}");
    }
    out
}

fn without_seq(records: &[EventRecord]) -> Vec<EventRecord> {
    records
        .iter()
        .cloned()
        .map(|mut r| {
            r.seq = 0;
            r
        })
        .collect()
}

proptest! {
    // 64 cases in the normal suite (PROPTEST_CASES does not override this; raise
    // it here to search harder).
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn jsonl_export_then_import_is_identity(records in proptest::collection::vec(record(), 0..12)) {
        let dir = unique_dir("roundtrip");
        let store = Store::open(dir.join("s.db")).expect("store");
        let mut jsonl = Vec::new();
        for r in &records {
            serde_json::to_writer(&mut jsonl, r).expect("json");
            jsonl.push(b'\n');
        }
        let (id, n) = store.import_jsonl("a", jsonl.as_slice()).expect("import");
        prop_assert_eq!(n, records.len());
        let first = store.events(id).expect("events");
        prop_assert_eq!(without_seq(&first), records);
        let mut out = Vec::new();
        store.export_jsonl(id, &mut out).expect("export");
        let (copy, _) = store.import_jsonl("b", out.as_slice()).expect("re-import");
        prop_assert_eq!(store.events(copy).expect("events"), first);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn har_export_then_import_is_identity(
        records in proptest::collection::vec(har_record(), 1..12)
    ) {
        let dir = unique_dir("roundtrip");
        let store = Store::open(dir.join("s.db")).expect("store");
        let records = as_capture(records);
        // The session as it stands in the store (JSON Lines carries every field).
        let mut jsonl = Vec::new();
        for r in &records {
            serde_json::to_writer(&mut jsonl, r).expect("json");
            jsonl.push(b'\n');
        }
        let (id, _) = store.import_jsonl("a", jsonl.as_slice()).expect("import");
        let har = dir.join("a.har");
        let mut file = std::fs::File::create(&har).expect("file");
        let n = store.export_har(id, &mut file).expect("export");
        drop(file);
        let (copy, m) = store.import_har("b", &har).expect("re-import");
        prop_assert_eq!(m, n, "an event was lost: {}", std::fs::read_to_string(&har).unwrap_or_default());
        let stored = without_seq(&store.events(id).expect("events"));
        prop_assert_eq!(&stored, &records);
        let back = without_seq(&store.events(copy).expect("events"));
        prop_assert_eq!(back, stored);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn importing_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = unique_dir("roundtrip");
        let store = Store::open(dir.join("s.db")).expect("store");
        let _ = store.import_jsonl_limited("x", bytes.as_slice(), 64);
        let path = dir.join("x.har");
        std::fs::write(&path, &bytes).expect("write");
        let _ = store.import_har("x", &path);
        std::fs::remove_dir_all(&dir).ok();
    }
}
