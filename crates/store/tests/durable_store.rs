//! The store's durability on a real SQLite file: a write lock held by another
//! connection delays a recording and loses nothing; a session whose recorder stopped
//! without finishing is found `interrupted` at the next open, ended at its last
//! event, while one still being recorded is left alone.

use std::time::Duration;

use serde_json::json;
use sockscope_protocol::{Direction, EventRecord, SessionState};
use sockscope_store::{Recorder, Store};
use sockscope_test_support::Event;

fn temp_db(name: &str) -> std::path::PathBuf {
    sockscope_test_support::temp_db("durable-store", name)
}

fn event(i: u64) -> EventRecord {
    Event::new("tick", json!([{ "i": i }]))
        .source("connection:1")
        .direction(Direction::S2c)
        .ts(1_700_000_000_000_000 + i as i64)
        .build()
}

#[test]
fn a_lock_held_mid_recording_delays_writing_and_loses_nothing() {
    let path = temp_db("lock");
    let store = Store::open(&path).expect("open");
    let id = store
        .create_session("locked", "gateway", "", json!({}))
        .expect("session");
    let rec = Recorder::start(&store, id).expect("recorder");
    for i in 0..1_000 {
        rec.record(event(i));
    }
    // Another connection takes the write lock while events keep coming.
    let holder = rusqlite::Connection::open(&path).expect("holder");
    holder
        .busy_timeout(Duration::from_secs(10))
        .expect("timeout");
    holder.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    for i in 1_000..20_000 {
        rec.record(event(i));
    }
    std::thread::sleep(Duration::from_millis(1_500));
    let during = rec.written();
    holder.execute_batch("COMMIT").expect("unlock");
    drop(holder);
    let stats = rec.finish().expect("finish");
    assert_eq!((stats.written, stats.dropped), (20_000, 0), "{stats:?}");
    assert!(
        during < 20_000,
        "the lock was never felt ({during} written under it)"
    );
    assert!(stats.lock_waits >= 1, "{stats:?}");
    let got = store.events(id).expect("events");
    assert!(got
        .iter()
        .map(|e| e.args[0]["i"].as_u64().expect("i"))
        .eq(0..20_000));
    assert_eq!(
        store.session(id).expect("session").state,
        SessionState::Complete
    );
}

#[test]
fn an_unfinished_session_is_interrupted_at_the_next_open_and_a_live_one_is_not() {
    let path = temp_db("interrupted");
    let store = Store::open(&path).expect("open");
    let dead = store
        .create_session("dead", "gateway", "", json!({}))
        .expect("session");
    let rec = Recorder::start(&store, dead).expect("recorder");
    for i in 0..10 {
        rec.record(event(i));
    }
    // Dropped without `finish`: what a crash leaves (the lock goes with it).
    drop(rec);
    let live = store
        .create_session("live", "gateway", "", json!({}))
        .expect("session");
    let rec = Recorder::start(&store, live).expect("recorder");
    rec.record(event(1));

    let reopened = Store::open(&path).expect("reopen");
    let dead_info = reopened.session(dead).expect("dead");
    assert_eq!(dead_info.state, SessionState::Interrupted);
    assert_eq!(dead_info.events, 10);
    assert_eq!(dead_info.ended_at, Some(event(9).ts));
    // Positive control: the recording in progress keeps its state.
    assert_eq!(
        reopened.session(live).expect("live").state,
        SessionState::Recording
    );
    rec.finish().expect("finish");
    assert_eq!(
        reopened.session(live).expect("live").state,
        SessionState::Complete
    );
    assert_eq!(
        Store::open(&path)
            .expect("again")
            .session(dead)
            .expect("dead")
            .state,
        SessionState::Interrupted
    );
}
