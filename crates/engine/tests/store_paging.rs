//! Reading a recording without loading it whole: the Recordings panel's pages and
//! the row-by-row walk exports use, against a real SQLite file.

use serde_json::json;
use sockscope_engine::store::Error;
use sockscope_engine::store::Store;
use sockscope_protocol::EventRecord;
use sockscope_test_support::Event;

fn temp_db(name: &str) -> std::path::PathBuf {
    sockscope_test_support::temp_db("paging", name)
}

fn session(store: &Store, n: u64) -> i64 {
    let mut jsonl = Vec::new();
    for i in 0..n {
        let r = Event::new("n", json!([i]))
            .ts(1_700_000_000_000_000 + i as i64)
            .build();
        serde_json::to_writer(&mut jsonl, &r).expect("serialize");
        jsonl.push(b'\n');
    }
    store
        .import_jsonl("paged", jsonl.as_slice())
        .expect("import")
        .0
}

fn ns(events: &[EventRecord]) -> Vec<u64> {
    events.iter().filter_map(|e| e.args[0].as_u64()).collect()
}

#[test]
fn pages_cover_a_session_in_order_without_overlap() {
    let path = temp_db("pages");
    let store = Store::open(&path).expect("open");
    let id = session(&store, 25);
    assert_eq!(
        ns(&store.events_page(id, 0, 10).expect("page")),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(
        ns(&store.events_page(id, 10, 10).expect("page")),
        (10..20).collect::<Vec<_>>()
    );
    assert_eq!(
        ns(&store.events_page(id, 20, 10).expect("page")),
        (20..25).collect::<Vec<_>>()
    );
    assert!(store.events_page(id, 25, 10).expect("page").is_empty());
    // Out-of-range numbers are "all" / "none", never an error or a panic.
    assert_eq!(store.events_page(id, 0, u64::MAX).expect("page").len(), 25);
    assert!(store
        .events_page(id, u64::MAX, 10)
        .expect("page")
        .is_empty());
    assert!(matches!(
        store.events_page(id + 1, 0, 10),
        Err(Error::UnknownSession(_))
    ));
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

#[test]
fn the_row_by_row_walk_sees_what_events_returns_and_stops_on_error() {
    let path = temp_db("walk");
    let store = Store::open(&path).expect("open");
    let id = session(&store, 300);
    let mut seen = Vec::new();
    let n = store
        .for_each_event(id, |e| {
            seen.push(e);
            Ok(())
        })
        .expect("walk");
    assert_eq!(n, 300);
    assert_eq!(seen, store.events(id).expect("events"));
    let mut calls = 0;
    let stopped = store.for_each_event(id, |_| {
        calls += 1;
        if calls == 7 {
            Err(Error::Io(std::io::Error::other("stop")))
        } else {
            Ok(())
        }
    });
    assert!(matches!(stopped, Err(Error::Io(_))));
    assert_eq!(calls, 7);
    // The streamed JSON Lines export reads back to the same events.
    let mut out = Vec::new();
    assert_eq!(store.export_jsonl(id, &mut out).expect("export"), 300);
    let (copy, count) = store.import_jsonl("copy", out.as_slice()).expect("import");
    assert_eq!(count, 300);
    assert_eq!(
        ns(&store.events(copy).expect("events")),
        (0..300).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}

/// The engine's Record button path creates its session on the blocking pool; on a
/// one-thread runtime it must still start, record and stop.
#[tokio::test(flavor = "current_thread")]
async fn the_engine_records_with_its_database_work_off_the_runtime() {
    let path = temp_db("engine");
    let engine = sockscope_engine::Engine::with_store(Store::open(&path).expect("open"));
    let status = engine
        .record_start(&sockscope_protocol::RecordRequest {
            name: "r".into(),
            source: None,
        })
        .await
        .expect("record start");
    assert!(status.active);
    for i in 0..50u64 {
        engine.bus().publish(Event::new("n", json!([i])).build());
    }
    let stats = engine.record_stop().await.expect("record stop");
    assert_eq!((stats.written, stats.dropped), (50, 0));
    let page = engine
        .session_events_page(stats.session_id, 45, 100)
        .expect("page");
    assert_eq!(ns(&page), (45..50).collect::<Vec<_>>());
    let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
}
