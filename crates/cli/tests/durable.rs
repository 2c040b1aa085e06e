//! `sockscope record` against a real Node socket.io 4.8 server
//! (`tests/interop/durable-server.mjs`, whose npm packages `cargo xtask test`
//! installs first) when things go wrong: another process holds the database lock for
//! 3 s at 10k events/s, the server sends a malformed frame, the server restarts, and
//! the recorder is killed with SIGKILL. Every wait is bounded.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sockscope_protocol::Direction;
use sockscope_test_support::Event;

const WAIT: Duration = Duration::from_secs(15);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sockscope")
}

fn temp_dir(name: &str) -> PathBuf {
    sockscope_test_support::temp_dir("durable", name)
}

/// The Node server, killed when dropped.
struct Server {
    child: Child,
    url: String,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(port: u16) -> Server {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/durable-server.mjs"
    );
    let mut child = Command::new("node")
        .args([script, &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node (cargo xtask test installs what it needs)");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(WAIT).expect("the server's listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening on URL")
        .to_owned();
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    Server { child, url, port }
}

/// A running `sockscope` with its output collected; killed if still running when
/// dropped.
struct Run {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    pipe.map(|mut p| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = p.read_to_string(&mut s);
            s
        })
    })
}

fn start<S: AsRef<OsStr>>(args: &[S]) -> Run {
    start_reading_after(args, Duration::ZERO)
}

/// Like [`start`], but nothing reads its stdout for the first `delay` (a terminal
/// that has stopped reading), then it is read to the end.
fn start_reading_after<S: AsRef<OsStr>>(args: &[S], delay: Duration) -> Run {
    let mut child = Command::new(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sockscope");
    let stdout = child.stdout.take().map(|mut p| {
        std::thread::spawn(move || {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            let mut s = String::new();
            let _ = p.read_to_string(&mut s);
            s
        })
    });
    let stderr = collect(child.stderr.take());
    Run {
        child,
        stdout,
        stderr,
    }
}

/// `sockscope COMMAND URL --transport websocket FLAGS --emit start=START_MSG --json`: a
/// client that asks the test server for its paced stream of `tick`s.
fn paced(command: &str, url: &str, start_msg: &Value, flags: &[&str]) -> Vec<String> {
    let mut args = vec![
        command.to_owned(),
        url.to_owned(),
        "--transport".to_owned(),
        "websocket".to_owned(),
    ];
    args.extend(flags.iter().map(|f| (*f).to_owned()));
    args.extend(["--emit".to_owned(), format!("start={start_msg}")]);
    args.push("--json".to_owned());
    args
}

/// `sockscope record` of the paced stream `start_msg` asks for, into `db`, stopping after
/// `count` events when given.
fn record_args(
    url: &str,
    start_msg: &Value,
    count: Option<u64>,
    db: &Path,
    flags: &[&str],
) -> Vec<String> {
    let mut args = paced("record", url, start_msg, flags);
    if let Some(count) = count {
        args.extend(["--count".to_owned(), count.to_string()]);
    }
    args.extend(["--db".to_owned(), db_str(db).to_owned()]);
    args
}

/// Starts a paced recording (see [`record_args`]).
fn record(url: &str, start_msg: &Value, count: Option<u64>, db: &Path, flags: &[&str]) -> Run {
    start(&record_args(url, start_msg, count, db, flags))
}

/// The start message for `total` ticks at 10k/s, and how many events a full recording
/// of it holds: connect + the c2s `start` + every tick + `done`.
fn ten_k_per_second(total: u64) -> (Value, u64) {
    (json!({ "rate": 10_000, "total": total }), total + 3)
}

/// A fresh database path for the test `name`.
fn fresh_db(name: &str) -> PathBuf {
    temp_dir(name).join("rec.db")
}

impl Run {
    /// Waits (at most `limit`) for the process to exit: its status, stdout, stderr.
    fn wait(mut self, limit: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "sockscope still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = self
            .stdout
            .take()
            .map(|h| h.join().expect("stdout"))
            .unwrap_or_default();
        let err = self
            .stderr
            .take()
            .map(|h| h.join().expect("stderr"))
            .unwrap_or_default();
        (status, out, err)
    }
}

/// `sockscope ARGS` to completion (bounded).
fn sockscope(args: &[&str]) -> (ExitStatus, String, String) {
    start(args).wait(WAIT)
}

fn id(session: &Value) -> i64 {
    session["id"].as_i64().expect("id")
}

/// The events of the `index`th session in `db`.
fn session_events(db: &Path, index: usize) -> Vec<Value> {
    events(db, id(&sessions(db)[index]))
}

/// The first recorded `name` event; panics naming what was recorded if there is none.
fn first<'a>(events: &'a [Value], name: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["event"] == name)
        .unwrap_or_else(|| panic!("no {name} record: {:?}", names(events)))
}

/// Whether the recorded ticks are exactly 0, 1, ... `n - 1`, in order.
fn ticks_up_to(events: &[Value], n: u64) -> bool {
    ticks(events).iter().copied().eq(0..n)
}

/// The recorder's summary says all `count` events were written, none dropped or lost.
fn assert_lossless(err: &str, count: u64) {
    assert!(
        err.contains(&format!("{count} events written, 0 dropped, 0 lost")),
        "{err}"
    );
}

fn sessions(db: &Path) -> Vec<Value> {
    let (status, out, err) = sockscope(&["sessions", "list", "--json", "--db", db_str(db)]);
    assert!(status.success(), "{err}");
    serde_json::from_str(&out).expect("sessions JSON")
}

fn events(db: &Path, id: i64) -> Vec<Value> {
    let (status, out, err) = sockscope(&[
        "sessions",
        "show",
        &id.to_string(),
        "--json",
        "--db",
        db_str(db),
    ]);
    assert!(status.success(), "{err}");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .collect()
}

fn db_str(db: &Path) -> &str {
    db.to_str().expect("utf-8 path")
}

/// The `i` of every recorded `tick`, in recorded order.
fn ticks(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e["event"] == "tick")
        .map(|e| e["args"][0]["i"].as_u64().expect("tick i"))
        .collect()
}

fn names(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["event"].as_str()).collect()
}

/// Polls `check` every 20 ms until it holds, for at most `limit`.
fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Events recorded so far in the database's only session, read directly.
fn rows(db: &Path) -> i64 {
    let Ok(conn) = rusqlite::Connection::open(db) else {
        return 0;
    };
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap_or(0)
}

#[test]
fn a_three_second_lock_from_another_process_delays_a_10k_per_second_recording_and_loses_nothing() {
    let srv = server(0);
    let db = fresh_db("lock");
    const TOTAL: u64 = 60_000;
    let (start_msg, count) = ten_k_per_second(TOTAL);
    let rec = record(&srv.url, &start_msg, Some(count), &db, &[]);
    eventually(WAIT, "the first rows", || rows(&db) > 1_000);

    // Another process (this test) holds the write lock for 3 s mid-recording.
    let holder = rusqlite::Connection::open(&db).expect("open");
    holder.busy_timeout(WAIT).expect("busy timeout");
    holder.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let locked_at = rows_in(&holder);
    std::thread::sleep(Duration::from_secs(3));
    holder.execute_batch("COMMIT").expect("unlock");
    drop(holder);

    let (status, _, err) = rec.wait(Duration::from_secs(60));
    assert!(status.success(), "{err}");
    assert!(
        err.contains("database locked by another program"),
        "the lock was never felt: {err}"
    );
    assert!(
        err.contains(&format!(
            "{count} events written, 0 dropped, 0 lost (bus lag 0, queue full 0, connection lost 0, oversized 0)"
        )),
        "{err}"
    );
    let list = sessions(&db);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "complete");
    let evs = events(&db, id(&list[0]));
    let got = ticks(&evs);
    assert_eq!(got.len() as u64, TOTAL, "sent {TOTAL}, kept {}", got.len());
    assert!(
        got.iter().copied().eq(0..TOTAL),
        "ticks out of order or with gaps"
    );
    assert!(names(&evs).contains(&"done"));
    eprintln!(
        "lock held for 3 s after {locked_at} rows: sent {TOTAL} ticks, kept {}",
        got.len()
    );
}

fn rows_in(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap_or(0)
}

#[test]
fn a_malformed_frame_with_reconnection_off_is_an_error_record_counted_and_exit_non_zero() {
    let srv = server(0);
    let db = fresh_db("badframe");
    let start_msg = json!({ "rate": 1000, "total": 300, "badAfter": 50 });
    let (status, _, err) = record(&srv.url, &start_msg, None, &db, &["--no-reconnect"]).wait(WAIT);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("connection to {} ended: connection lost", srv.url)),
        "{err}"
    );
    assert!(err.contains("connection lost 1"), "{err}");
    let list = sessions(&db);
    assert_eq!(list[0]["state"], "complete");
    let evs = events(&db, id(&list[0]));
    // Positive control: what came before the bad frame is all there, in order.
    assert!(ticks_up_to(&evs, 50), "{:?}", names(&evs));
    assert_eq!(first(&evs, "error")["direction"], "s2c");
    let disconnect = first(&evs, "disconnect");
    assert_eq!(disconnect["args"][0], "transport error", "{disconnect}");
    assert_eq!(names(&evs).last(), Some(&"disconnect"));

    // `connect` says the same and exits non-zero too.
    let (status, out, err) =
        start(&paced("connect", &srv.url, &start_msg, &["--no-reconnect"])).wait(WAIT);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("ended: connection lost"), "{err}");
    assert!(out.contains("\"disconnect\""), "{out}");
}

#[test]
fn a_gateway_restart_mid_recording_shows_disconnect_then_connect() {
    let mut srv = server(0);
    let port = srv.port;
    let db = fresh_db("restart");
    let start_msg = json!({ "rate": 1000, "total": 5 });
    // connect, start, 5 ticks, done; disconnect; the same again.
    let rec = record(
        &srv.url,
        &start_msg,
        Some(17),
        &db,
        &["--reconnect-delay", "100"],
    );
    eventually(WAIT, "the first ticks", || rows(&db) >= 8);
    let _ = srv.child.kill();
    let _ = srv.child.wait();
    srv = server(port);
    let (status, _, err) = rec.wait(Duration::from_secs(30));
    drop(srv);
    assert!(status.success(), "{err}");
    assert!(err.contains("connection lost 1"), "{err}");
    let evs = session_events(&db, 0);
    let lifecycle: Vec<&str> = names(&evs)
        .into_iter()
        .filter(|n| matches!(*n, "connect" | "disconnect"))
        .collect();
    assert_eq!(
        lifecycle,
        ["connect", "disconnect", "connect"],
        "{:?}",
        names(&evs)
    );
    let cut = names(&evs)
        .iter()
        .position(|n| *n == "disconnect")
        .expect("disconnect");
    // Everything before the restart came before the disconnect, and the stream
    // resumed after the reconnect.
    assert_eq!(ticks(&evs[..cut]), [0, 1, 2, 3, 4]);
    assert_eq!(ticks(&evs[cut..]), [0, 1, 2, 3, 4]);
}

#[test]
fn a_recorder_killed_with_sigkill_leaves_an_interrupted_session_with_a_gap_free_prefix() {
    let srv = server(0);
    let db = fresh_db("kill");
    let start_msg = json!({ "rate": 10_000, "total": 1_000_000 });
    let mut rec = record(&srv.url, &start_msg, None, &db, &[]);
    eventually(WAIT, "rows to be written", || rows(&db) > 2_000);
    // While it runs, the session is `recording` and another process's open of the
    // store leaves it so (the positive control for `interrupted`).
    let list = sessions(&db);
    assert_eq!(list[0]["state"], "recording");
    rec.child.kill().expect("SIGKILL");
    let _ = rec.child.wait();

    let list = sessions(&db);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "interrupted", "{}", list[0]);
    let evs = events(&db, id(&list[0]));
    let got = ticks(&evs);
    assert!(got.len() > 2_000, "{}", got.len());
    assert!(ticks_up_to(&evs, got.len() as u64), "not a gap-free prefix");
    let seqs: Vec<u64> = evs.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.iter().copied().eq(1..=evs.len() as u64));
    let last_ts = evs.last().and_then(|e| e["ts"].as_i64()).expect("ts");
    assert_eq!(list[0]["ended_at"].as_i64(), Some(last_ts));
    let (_, out, _) = sockscope(&["sessions", "list", "--db", db_str(&db)]);
    assert!(out.contains("interrupted"), "{out}");
}

#[test]
fn events_over_max_payload_are_dropped_counted_and_named_and_the_clients_own_limit_ends_the_connection(
) {
    let srv = server(0);
    let db = fresh_db("oversized");
    // Over --max-payload: dropped with an error record, the stream goes on.
    let start_msg = json!({ "rate": 1000, "total": 20, "bigAt": 10, "bigSize": 4096 });
    // connect, start, the error record, 20 ticks, done.
    let (status, _, err) = record(
        &srv.url,
        &start_msg,
        Some(24),
        &db,
        &["--max-payload", "1KiB"],
    )
    .wait(WAIT);
    assert!(status.success(), "{err}");
    assert!(err.contains("oversized 1)"), "{err}");
    let evs = session_events(&db, 0);
    assert!(ticks_up_to(&evs, 20), "{:?}", names(&evs));
    assert!(!names(&evs).contains(&"big"));
    let text = first(&evs, "error")["args"][0].as_str().expect("message");
    assert!(
        text.contains("\"big\"") && text.contains("1024 byte limit (--max-payload)"),
        "{text}"
    );

    // Positive control: the same event under a larger limit is kept.
    let (status, _, err) = record(
        &srv.url,
        &start_msg,
        Some(24),
        &db,
        &["--max-payload", "8KiB"],
    )
    .wait(WAIT);
    assert!(status.success(), "{err}");
    assert!(err.contains("oversized 0)"), "{err}");
    assert!(names(&session_events(&db, 1)).contains(&"big"));

    // Over the client's own 16 MiB: the connection ends, counted and said.
    // (rust_socketio reports it only as "EngineIO Error", so it counts as a lost
    // connection rather than as oversized; see README, Known limits.)
    let start_msg = json!({ "rate": 1000, "total": 20, "bigAt": 10, "bigSize": 17 << 20 });
    let (status, _, err) =
        record(&srv.url, &start_msg, None, &db, &["--no-reconnect"]).wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("connection lost 1, oversized 0)"), "{err}");
    assert!(
        err.contains("ended: connection lost (transport error"),
        "{err}"
    );
    let evs = session_events(&db, 2);
    assert!(ticks_up_to(&evs, 10), "{:?}", names(&evs));
    assert_eq!(names(&evs).last(), Some(&"disconnect"));

    let (status, _, err) = sockscope(&["record", &srv.url, "--max-payload", "17MiB"]);
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("--max-payload"), "{err}");
}

#[test]
fn a_terminal_that_stops_reading_makes_the_printer_skip_lines_never_the_recording() {
    let srv = server(0);
    let db = fresh_db("slowterm");
    const TOTAL: u64 = 40_000;
    let (start_msg, count) = ten_k_per_second(TOTAL);
    // A terminal that reads nothing for 5 s, then catches up.
    let args = record_args(&srv.url, &start_msg, Some(count), &db, &[]);
    let (status, out, err) =
        start_reading_after(&args, Duration::from_secs(5)).wait(Duration::from_secs(60));
    assert!(status.success(), "{err}");
    assert!(
        err.contains("printer skipped"),
        "the terminal never fell behind: {err}"
    );
    assert_lossless(&err, count);
    let printed = out.lines().count() as u64;
    assert!(printed < TOTAL, "printed {printed}");
    assert!(ticks_up_to(&session_events(&db, 0), TOTAL));
    eprintln!("slow terminal: {TOTAL} ticks sent, {TOTAL} kept, {printed} lines printed");
}

#[test]
fn sessions_import_into_the_same_database_while_recording_at_10k_per_second_loses_nothing() {
    let srv = server(0);
    let db = fresh_db("import");
    let file = db.with_file_name("big.jsonl");
    let lines: Vec<String> = (0..100_000)
        .map(|i| {
            let r = Event::new("imported", json!([{ "i": i }]))
                .seq(i as u64 + 1)
                .ts(1_700_000_000_000_000_i64 + i)
                .source("connection:9")
                .direction(Direction::S2c)
                .build();
            serde_json::to_string(&r).expect("json")
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).expect("jsonl");
    const TOTAL: u64 = 40_000;
    let (start_msg, count) = ten_k_per_second(TOTAL);
    let rec = record(&srv.url, &start_msg, Some(count), &db, &[]);
    eventually(WAIT, "the first rows", || rows(&db) > 1_000);
    // Two imports while the recording runs. An import waits 5 s for the lock (the
    // store's busy timeout) and may give up with a one-line "database is locked" when
    // the recorder is catching up; it is then run again.
    let (mut imported, mut refused) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while imported < 2 {
        assert!(Instant::now() < deadline, "imports kept failing");
        let (status, out, err) = start(&[
            "sessions",
            "import",
            file.to_str().expect("path"),
            "--db",
            db_str(&db),
        ])
        .wait(Duration::from_secs(60));
        if status.success() {
            assert!(out.contains("imported 100000 events"), "{out}");
            imported += 1;
        } else {
            assert!(err.contains("database is locked"), "{err}");
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            refused += 1;
        }
    }
    eprintln!("imports: {imported} done, {refused} refused as locked");
    let (status, _, err) = rec.wait(Duration::from_secs(60));
    assert!(status.success(), "{err}");
    assert_lossless(&err, count);
    let list = sessions(&db);
    let recorded = list
        .iter()
        .find(|s| s["kind"] == "connection")
        .expect("the recording");
    assert!(ticks_up_to(&events(&db, id(recorded)), TOTAL));
    assert_eq!(list.iter().filter(|s| s["events"] == 100_000).count(), 2);
}
