//! `sockscope-bench store N ORDER`: events/s persisted by the recorder against the
//! best raw loop for the same rows, each into a fresh database file (so both write
//! into a table of the same size), in the order ORDER (`ceiling-first` or
//! `recorder-first`; the xtask alternates it between rounds).
//!
//! The ceiling is what a SQLite expert would write for these rows with nothing
//! else to do: the values already encoded (text and integers in memory), the
//! recorder's own multi-row statement (16 rows per `INSERT OR ROLLBACK`, session id
//! and first `seq` bound once per statement, NULLs bound once), the same pragmas
//! (WAL, `synchronous = NORMAL`, foreign keys off, auto-checkpoint off), a
//! transaction per 8,192 rows, and WAL checkpoints (PASSIVE) on a second connection
//! in their own thread every 4 MiB committed, with the same 64 MiB WAL cap. The
//! recorder is timed from `Recorder::start` through `record` per event (JSON not yet
//! encoded, as the network path hands it over) to `finish()`.
//!
//! `sockscope-bench store-sustained EVENTS RATE BURST`: EVENTS events paced at RATE
//! per second (1 ms steps), then BURST events as fast as the caller can produce
//! them, each into its own recording; reports written and dropped and checks
//! written + dropped = sent for both.
//!
//! `sockscope-bench store-count DB`: the rows of every recording in the SQLite file
//! DB, those rows by event name, and the span of their timestamps, so the end-to-end run through a `sockscope
//! record` process is checked against the file, not against the process's own words.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::json;
use sockscope_engine::bus::record;
use sockscope_engine::store::{Recorder, RecorderStats, Store};
use sockscope_protocol::{Direction, EventRecord};

/// The recorder's statement shape (see crates/store/src/recorder.rs).
const ROWS_PER_INSERT: usize = 16;
const ROW_PARAMS: usize = 12;
const TRANSACTION_ROWS: usize = 8_192;
const CHECKPOINT_BYTES: usize = 4 << 20;
const WAL_CAP_FRAMES: i64 = 16_384;
const ROW_OVERHEAD: usize = 48;

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

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A fresh store in its own directory (removed by the caller).
fn fresh(tag: &str) -> Result<(std::path::PathBuf, Store), String> {
    let dir = std::env::temp_dir().join(format!(
        "sockscope-bench-store-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(dir.join("bench.db")).map_err(err)?;
    Ok((dir, store))
}

/// A row as the ceiling binds it: everything already text or integer.
struct Row {
    ts: i64,
    args: String,
}

/// The recorder's own statement text: the ceiling binds the same columns the same way.
fn insert_sql(rows: usize) -> String {
    sockscope_engine::store::recorder_insert_sql(rows)
}

fn open(store: &Store) -> Result<Connection, String> {
    let conn = Connection::open(store.path()).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA wal_autocheckpoint = 0;",
    )
    .map_err(err)?;
    Ok(conn)
}

/// The raw loop; returns events/s.
fn ceiling(n: u64) -> Result<f64, String> {
    let (dir, store) = fresh("ceiling")?;
    let session = store
        .create_session("ceiling", "bench", "", json!({}))
        .map_err(err)?;
    let rows: Vec<Row> = (1..=n)
        .map(|i| Row {
            ts: 1_700_000_000_000_000 + i as i64,
            args: event(i).args.to_string(),
        })
        .collect();
    let conn = open(&store)?;
    let ckpt = open(&store)?;
    // The checkpoint thread: a PASSIVE checkpoint per request, answering the WAL size.
    let (req_tx, req_rx) = mpsc::sync_channel::<mpsc::SyncSender<i64>>(1);
    let checkpointer = std::thread::spawn(move || {
        while let Ok(done) = req_rx.recv() {
            let frames = ckpt
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1))
                .unwrap_or(0);
            let _ = done.send(frames);
        }
    });
    let request = || {
        let (tx, rx) = mpsc::sync_channel(1);
        req_tx.send(tx).ok().map(|()| rx)
    };
    let multi_sql = insert_sql(ROWS_PER_INSERT);
    let single_sql = insert_sql(1);
    let start = Instant::now();
    let mut pending: Option<mpsc::Receiver<i64>> = None;
    let mut wal_frames = 0i64;
    let mut since_checkpoint = 0usize;
    let mut seq = 0i64;
    for chunk in rows.chunks(TRANSACTION_ROWS) {
        if wal_frames >= WAL_CAP_FRAMES {
            if let Some(p) = pending.take() {
                let _ = p.recv();
            }
            if let Some(p) = request() {
                let _ = p.recv();
            }
            wal_frames = 0;
        }
        conn.execute_batch("BEGIN").map_err(err)?;
        {
            let mut multi = conn.prepare_cached(&multi_sql).map_err(err)?;
            multi.raw_bind_parameter(1, session).map_err(err)?;
            let mut groups = chunk.chunks_exact(ROWS_PER_INSERT);
            let mut bound_constants = false;
            for group in &mut groups {
                multi.raw_bind_parameter(2, seq + 1).map_err(err)?;
                for (i, row) in group.iter().enumerate() {
                    let f = 3 + i * ROW_PARAMS;
                    multi.raw_bind_parameter(f, row.ts).map_err(err)?;
                    multi.raw_bind_parameter(f + 5, &row.args).map_err(err)?;
                    multi
                        .raw_bind_parameter(f + 11, row.args.len() as i64)
                        .map_err(err)?;
                    if !bound_constants {
                        // Constant columns once per statement; NULL columns stay NULL.
                        multi
                            .raw_bind_parameter(f + 1, "connection:1")
                            .map_err(err)?;
                        multi.raw_bind_parameter(f + 2, "s2c").map_err(err)?;
                        multi.raw_bind_parameter(f + 3, "/dashboard").map_err(err)?;
                        multi
                            .raw_bind_parameter(f + 4, "metric:update")
                            .map_err(err)?;
                        multi.raw_bind_parameter(f + 9, "acme").map_err(err)?;
                    }
                }
                bound_constants = true;
                multi.raw_execute().map_err(err)?;
                seq += group.len() as i64;
            }
            if !groups.remainder().is_empty() {
                let mut single = conn.prepare_cached(&single_sql).map_err(err)?;
                single.raw_bind_parameter(1, session).map_err(err)?;
                for row in groups.remainder() {
                    seq += 1;
                    single.raw_bind_parameter(2, seq).map_err(err)?;
                    single.raw_bind_parameter(3, row.ts).map_err(err)?;
                    single.raw_bind_parameter(4, "connection:1").map_err(err)?;
                    single.raw_bind_parameter(5, "s2c").map_err(err)?;
                    single.raw_bind_parameter(6, "/dashboard").map_err(err)?;
                    single.raw_bind_parameter(7, "metric:update").map_err(err)?;
                    single.raw_bind_parameter(8, &row.args).map_err(err)?;
                    single.raw_bind_parameter(12, "acme").map_err(err)?;
                    single
                        .raw_bind_parameter(14, row.args.len() as i64)
                        .map_err(err)?;
                    single.raw_execute().map_err(err)?;
                }
            }
        }
        conn.execute_batch("COMMIT").map_err(err)?;
        since_checkpoint += chunk
            .iter()
            .map(|r| r.args.len() + 40 + ROW_OVERHEAD)
            .sum::<usize>();
        if let Some(p) = &pending {
            match p.try_recv() {
                Ok(frames) => {
                    wal_frames = frames;
                    pending = None;
                }
                Err(mpsc::TryRecvError::Disconnected) => pending = None,
                Err(mpsc::TryRecvError::Empty) => {}
            }
        }
        if since_checkpoint >= CHECKPOINT_BYTES && pending.is_none() {
            pending = request();
            since_checkpoint = 0;
        }
    }
    if let Some(p) = pending.take() {
        let _ = p.recv();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(req_tx);
    let _ = checkpointer.join();
    let count: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE session_id = ?1",
            [session],
            |r| r.get(0),
        )
        .map_err(err)?;
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
    if count as u64 != n {
        return Err(format!("the ceiling wrote {count} rows, not {n}"));
    }
    Ok(rate)
}

/// The recorder fed record by record as the network path does; returns events/s.
fn recorder(n: u64) -> Result<(f64, Phases), String> {
    let (dir, store) = fresh("recorder")?;
    let events: Vec<EventRecord> = (1..=n).map(event).collect();
    let session = store
        .create_session("recorder", "bench", "", json!({}))
        .map_err(err)?;
    let start = Instant::now();
    let rec = Recorder::start(&store, session).map_err(err)?;
    for e in events {
        rec.record(e);
    }
    let recorded = start.elapsed().as_secs_f64();
    let stats = rec.finish().map_err(err)?;
    let total = start.elapsed().as_secs_f64();
    let rate = stats.written as f64 / total;
    let _ = std::fs::remove_dir_all(&dir);
    Ok((
        rate,
        Phases {
            stats,
            record_secs: recorded,
            finish_secs: total - recorded,
        },
    ))
}

/// Where the recorder's time went: the caller's `record` calls, then `finish`
/// (waiting for the pipeline to commit what was queued).
struct Phases {
    stats: RecorderStats,
    record_secs: f64,
    finish_secs: f64,
}

pub fn run(n: u64, recorder_first: bool) -> Result<serde_json::Value, String> {
    let (raw, (rec, stats)) = if recorder_first {
        let r = recorder(n)?;
        (ceiling(n)?, r)
    } else {
        let c = ceiling(n)?;
        (c, recorder(n)?)
    };
    Ok(json!({
        "events": n,
        "raw_per_sec": raw,
        "recorder_per_sec": rec,
        "written": stats.stats.written,
        "dropped": stats.stats.dropped,
        "record_secs": stats.record_secs,
        "finish_secs": stats.finish_secs,
    }))
}

/// Paced then burst runs, each into its own recording of one store.
pub fn sustained(paced: u64, rate: u64, burst: u64) -> Result<serde_json::Value, String> {
    let (dir, store) = fresh("sustained")?;
    // Removed on every path: a failed run (a full disk) must not leave its file behind.
    let result = sustained_in(&store, paced, rate, burst);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn sustained_in(
    store: &Store,
    paced: u64,
    rate: u64,
    burst: u64,
) -> Result<serde_json::Value, String> {
    let template = event(0);
    let make = |i: u64| {
        let mut e = template.clone();
        e.ts = 1_700_000_000_000_000 + i as i64;
        e
    };

    let session = store
        .create_session("paced", "bench", "", json!({}))
        .map_err(err)?;
    let rec = Recorder::start(store, session).map_err(err)?;
    let begin = Instant::now();
    let mut sent: u64 = 0;
    while sent < paced {
        let due = ((begin.elapsed().as_secs_f64() * rate as f64) as u64).min(paced);
        while sent < due {
            sent += 1;
            rec.record(make(sent));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let send_secs = begin.elapsed().as_secs_f64();
    let p = rec.finish().map_err(err)?;
    let paced_secs = begin.elapsed().as_secs_f64();

    let session = store
        .create_session("burst", "bench", "", json!({}))
        .map_err(err)?;
    let events: Vec<EventRecord> = (1..=burst).map(make).collect();
    let begin = Instant::now();
    let rec = Recorder::start(store, session).map_err(err)?;
    for e in events {
        rec.record(e);
    }
    let burst_send_secs = begin.elapsed().as_secs_f64();
    let b = rec.finish().map_err(err)?;
    let burst_secs = begin.elapsed().as_secs_f64();
    Ok(json!({
        "queue": sockscope_engine::store::RECORDER_QUEUE,
        "paced_sent": paced,
        "paced_rate": rate,
        "paced_send_secs": send_secs,
        "paced_secs": paced_secs,
        "paced_written": p.written,
        "paced_dropped": p.dropped,
        "paced_balanced": p.written + p.dropped == paced,
        "burst_sent": burst,
        "burst_send_secs": burst_send_secs,
        "burst_secs": burst_secs,
        "burst_written": b.written,
        "burst_dropped": b.dropped,
        "burst_balanced": b.written + b.dropped == burst,
    }))
}

/// Rows in the file's `events` table per session, and the span of their `ts`
/// (microseconds), for the end-to-end check.
pub fn count(db: &str) -> Result<serde_json::Value, String> {
    let conn =
        Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err)?;
    let (rows, sessions, min_ts, max_ts): (i64, i64, Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT session_id), MIN(ts), MAX(ts) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .map_err(err)?;
    // Rows by event name: the end-to-end check compares the source's events with
    // the rows of that event alone (a recording also holds lifecycle records such
    // as `connect`, which no source sent).
    let mut by_event = serde_json::Map::new();
    let mut stmt = conn
        .prepare("SELECT event, COUNT(*) FROM events GROUP BY event ORDER BY event")
        .map_err(err)?;
    let names = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(err)?;
    for row in names {
        let (event, n) = row.map_err(err)?;
        by_event.insert(event, json!(n));
    }
    Ok(json!({
        "rows": rows,
        "sessions": sessions,
        "span_us": max_ts.zip(min_ts).map_or(0, |(a, b)| a - b),
        "by_event": by_event,
    }))
}
