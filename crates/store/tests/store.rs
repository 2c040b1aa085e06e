//! The recordings store on a real SQLite file: order and payloads survive, export and
//! import round-trip, secrets stay out, a locked database says so.

use serde_json::{json, Value};
use sockscope_protocol::{AckInfo, Direction, EventRecord};
use sockscope_store::Error;
use sockscope_store::{Recorder, Store};
use sockscope_test_support::{ack, Event};

fn temp_db(name: &str) -> std::path::PathBuf {
    sockscope_test_support::scratch("store", name)
        .join("nested")
        .join("test.db")
}

/// Event `i` of a dashboard connection: alternating directions, one per microsecond.
fn base(i: u64, name: &str, args: Value) -> Event {
    Event::new(name, args)
        .source("connection:1")
        .direction(if i.is_multiple_of(2) {
            Direction::S2c
        } else {
            Direction::C2s
        })
        .namespace("/dashboard")
        .ts(1_700_000_000_000_000 + i as i64)
        .seq(i)
}

fn event(i: u64) -> EventRecord {
    base(
        i,
        "metric:update",
        json!([{ "i": i, "value": i as f64 / 3.0, "nested": { "list": [1, "two", null] } }]),
    )
    .tenant("acme")
    .rooms(["tenant:acme:entity:e1"])
    .ack((i == 3).then(|| ack(9, json!({ "ok": true }))))
    .build()
}

#[test]
fn a_recording_keeps_every_event_in_order_and_round_trips_through_jsonl() {
    let path = temp_db("roundtrip");
    let store = Store::open(&path).unwrap();
    let id = store
        .create_session(
            "run 1",
            "connection",
            "http://x",
            json!({ "auth": { "token": "SECRET-TOKEN" }, "namespace": "/dashboard" }),
        )
        .unwrap();
    let rec = Recorder::start(&store, id).unwrap();
    let n = 20_000;
    for i in 1..=n {
        rec.record(event(i));
    }
    let stats = rec.finish().unwrap();
    assert_eq!((stats.written, stats.dropped), (n, 0));

    let got = store.events(id).unwrap();
    assert_eq!(got.len() as u64, n);
    for (i, e) in got.iter().enumerate() {
        let want = event(i as u64 + 1);
        assert_eq!(e.args, want.args);
        assert_eq!(e.ts, want.ts);
        assert_eq!(e.direction, want.direction);
        assert_eq!(e.rooms, want.rooms);
        assert_eq!(e.ack, want.ack);
        assert_eq!(e.seq, i as u64 + 1);
    }
    let info = store.session(id).unwrap();
    assert_eq!(info.events, n);
    assert!(info.ended_at.is_some());

    let mut out = Vec::new();
    assert_eq!(store.export_jsonl(id, &mut out).unwrap() as u64, n);
    let (copy, count) = store.import_jsonl("copy", out.as_slice()).unwrap();
    assert_eq!(count as u64, n);
    assert_eq!(store.events(copy).unwrap(), got);

    // The session meta's token never reached the file.
    drop(store);
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    for b in [&bytes, &wal] {
        assert!(
            !String::from_utf8_lossy(b).contains("SECRET-TOKEN"),
            "token in the database file"
        );
    }
}

#[test]
fn bad_import_names_the_line_and_imports_nothing() {
    let store = Store::open(temp_db("badimport")).unwrap();
    let text = format!("{}\nnot json\n", serde_json::to_string(&event(1)).unwrap());
    match store.import_jsonl("x", text.as_bytes()) {
        Err(Error::BadImport { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected a bad import, got {other:?}"),
    }
    assert!(store.sessions().unwrap().is_empty());
    assert!(matches!(store.events(42), Err(Error::UnknownSession(42))));
    assert!(matches!(
        store.delete_session(42),
        Err(Error::UnknownSession(42))
    ));
}

#[test]
fn a_locked_database_is_reported_as_locked_and_nothing_recorded_is_lost() {
    let path = temp_db("locked");
    let store = Store::open(&path).unwrap();
    let id = store
        .create_session("keep", "gateway", "", json!({}))
        .unwrap();
    let rec = Recorder::start(&store, id).unwrap();
    rec.record(event(1));
    rec.finish().unwrap();

    let holder = rusqlite::Connection::open(&path).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let err = store
        .create_session("blocked", "gateway", "", json!({}))
        .unwrap_err();
    assert!(matches!(err, Error::DbLocked(_)), "{err}");
    assert!(err.to_string().contains("locked"));
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    assert_eq!(store.events(id).unwrap().len(), 1);
}

/// A record whose optional columns come and go, so consecutive rows of one multi-row
/// statement bind NULL and text in turn.
fn varied(i: u64) -> EventRecord {
    let socket = (!i.is_multiple_of(3)).then(|| format!("sock-{}", i % 7));
    let user = (i % 6 == 1).then(|| format!("user-{i}"));
    base(
        i,
        &format!("e{}", i % 9),
        json!([i, { "text": "é \"q\" ✓\n", "n": i as f64 / 7.0 }, null]),
    )
    .ack(i.is_multiple_of(5).then(|| AckInfo {
        id: Some(i),
        reply: i.is_multiple_of(10).then(|| json!(["ok", i])),
        latency_us: None,
    }))
    .socket(socket.as_deref())
    .rooms((0..i % 4).map(|k| format!("room-{k}")))
    .tenant(i.is_multiple_of(2).then_some("acme"))
    .user(user.as_deref())
    .build()
}

#[test]
fn recordings_keep_every_field_and_a_second_recording_continues_the_sequence() {
    let store = Store::open(temp_db("multirow")).unwrap();
    let id = store.create_session("m", "gateway", "", json!({})).unwrap();
    // Not a multiple of the rows per INSERT, and not of the batch size either.
    let first = 5_003;
    let rec = Recorder::start(&store, id).unwrap();
    for i in 1..=first {
        rec.record(varied(i));
    }
    assert_eq!(rec.finish().unwrap().written, first);
    let rec = Recorder::start(&store, id).unwrap();
    for i in first + 1..=first + 37 {
        rec.record(varied(i));
    }
    let stats = rec.finish().unwrap();
    assert_eq!((stats.written, stats.dropped), (37, 0));

    let got = store.events(id).unwrap();
    assert_eq!(got.len() as u64, first + 37);
    for (i, got) in got.into_iter().enumerate() {
        let seq = i as u64 + 1;
        assert_eq!(got, EventRecord { seq, ..varied(seq) }, "record {seq}");
    }
    assert!(store.session(id).unwrap().ended_at.is_some());
}

#[test]
fn recording_into_a_deleted_session_fails_and_leaves_no_rows() {
    let path = temp_db("deleted");
    let store = Store::open(&path).unwrap();
    let id = store
        .create_session("gone", "gateway", "", json!({}))
        .unwrap();
    let rec = Recorder::start(&store, id).unwrap();
    store.delete_session(id).unwrap();
    for i in 1..=10 {
        rec.record(event(i));
    }
    let err = rec.finish().unwrap_err();
    assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE session_id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
}
