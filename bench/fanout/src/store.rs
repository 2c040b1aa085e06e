//! `sockscope-bench store N`: events/s persisted by the recorder against the raw
//! SQLite ceiling measured in the same process: the same schema and pragmas, one
//! transaction, one cached INSERT, values already serialized.

use std::time::Instant;

use rusqlite::params;
use serde_json::json;
use sockscope_engine::bus::record;
use sockscope_engine::store::{Recorder, Store};
use sockscope_protocol::{Direction, EventRecord};

fn event(i: u64) -> EventRecord {
    let mut r = record(
        "connection:1",
        Direction::S2c,
        "/dashboard",
        "metric:update",
        json!([{ "entityId": "event-uuid-123", "metricName": "attendees", "value": i, "timestamp": "2026-11-23T18:00:00.000Z" }]),
    );
    r.ts = 1_700_000_000_000_000 + i as i64;
    r.tenant = Some("acme".into());
    r
}

pub fn run(n: u64) -> Result<serde_json::Value, String> {
    let dir = std::env::temp_dir().join(format!("sockscope-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(dir.join("bench.db")).map_err(|e| e.to_string())?;

    // Raw ceiling.
    let raw_session = store
        .create_session("raw", "bench", "", json!({}))
        .map_err(|e| e.to_string())?;
    let rows: Vec<(i64, String)> = (1..=n)
        .map(|i| (1_700_000_000_000_000 + i as i64, event(i).args.to_string()))
        .collect();
    let mut conn = rusqlite::Connection::open(store.path()).map_err(|e| e.to_string())?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO events (session_id, seq, ts, source, direction, namespace, event, args, ack, socket_id, rooms, tenant, user, size)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )
                .map_err(|e| e.to_string())?;
            for (i, (ts, args)) in rows.iter().enumerate() {
                let none: Option<&str> = None;
                st.execute(params![
                    raw_session,
                    i as i64 + 1,
                    ts,
                    "connection:1",
                    "s2c",
                    "/dashboard",
                    "metric:update",
                    args,
                    none,
                    none,
                    none,
                    "acme",
                    none,
                    args.len() as i64
                ])
                .map_err(|e| e.to_string())?;
            }
        }
        tx.commit().map_err(|e| e.to_string())?;
    }
    let raw = n as f64 / start.elapsed().as_secs_f64();
    drop(conn);

    // The recorder, fed record by record as the network path does.
    let events: Vec<EventRecord> = (1..=n).map(event).collect();
    let session = store
        .create_session("recorder", "bench", "", json!({}))
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let rec = Recorder::start(&store, session).map_err(|e| e.to_string())?;
    for e in events {
        rec.record(e);
    }
    let stats = rec.finish().map_err(|e| e.to_string())?;
    let recorder = stats.written as f64 / start.elapsed().as_secs_f64();

    // Sustained 50k events/s for two seconds (paced in 1 ms steps): nothing may drop.
    let paced_session = store
        .create_session("paced", "bench", "", json!({}))
        .map_err(|e| e.to_string())?;
    let rec = Recorder::start(&store, paced_session).map_err(|e| e.to_string())?;
    let begin = Instant::now();
    let mut sent: u64 = 0;
    while sent < 100_000 {
        let due = (begin.elapsed().as_secs_f64() * 50_000.0) as u64;
        while sent < due.min(100_000) {
            sent += 1;
            rec.record(event(sent));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let paced = rec.finish().map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(json!({
        "events": n,
        "raw_per_sec": raw,
        "recorder_per_sec": recorder,
        "written": stats.written,
        "dropped": stats.dropped,
        "paced_50k_written": paced.written,
        "paced_50k_dropped": paced.dropped,
    }))
}
