//! `sockscope record` against a real Node socket.io 4.8 server
//! (`tests/interop/durable-server.mjs`, whose npm packages `cargo xtask test`
//! installs first) when things go wrong: another process holds the database lock for
//! 3 s at 10k events/s, the server sends a malformed frame, the server restarts, and
//! the recorder is killed with SIGKILL. Every wait is bounded.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sockscope")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sockscope-durable-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
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

fn start(args: &[&str]) -> Run {
    let mut child = Command::new(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sockscope");
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    Run {
        child,
        stdout,
        stderr,
    }
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
    let dir = temp_dir("lock");
    let db = dir.join("rec.db");
    const TOTAL: u64 = 60_000;
    let start_msg = json!({ "rate": 10_000, "total": TOTAL }).to_string();
    // connect + the c2s `start` + every tick + `done`.
    let count = (TOTAL + 3).to_string();
    let rec = start(&[
        "record",
        &srv.url,
        "--transport",
        "websocket",
        "--emit",
        &format!("start={start_msg}"),
        "--count",
        &count,
        "--json",
        "--db",
        db_str(&db),
    ]);
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
    let id = list[0]["id"].as_i64().expect("id");
    let evs = events(&db, id);
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
    let dir = temp_dir("badframe");
    let db = dir.join("rec.db");
    let start_msg = json!({ "rate": 1000, "total": 300, "badAfter": 50 }).to_string();
    let emit = format!("start={start_msg}");
    let (status, _, err) = start(&[
        "record",
        &srv.url,
        "--transport",
        "websocket",
        "--no-reconnect",
        "--emit",
        &emit,
        "--json",
        "--db",
        db_str(&db),
    ])
    .wait(WAIT);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("connection to {} ended: connection lost", srv.url)),
        "{err}"
    );
    assert!(err.contains("connection lost 1"), "{err}");
    let list = sessions(&db);
    assert_eq!(list[0]["state"], "complete");
    let evs = events(&db, list[0]["id"].as_i64().expect("id"));
    // Positive control: what came before the bad frame is all there, in order.
    assert!(ticks(&evs).iter().copied().eq(0..50), "{:?}", names(&evs));
    let error = evs
        .iter()
        .find(|e| e["event"] == "error")
        .unwrap_or_else(|| panic!("no error record: {:?}", names(&evs)));
    assert_eq!(error["direction"], "s2c");
    let disconnect = evs
        .iter()
        .find(|e| e["event"] == "disconnect")
        .unwrap_or_else(|| panic!("no disconnect record: {:?}", names(&evs)));
    assert_eq!(disconnect["args"][0], "transport error", "{disconnect}");
    assert_eq!(names(&evs).last(), Some(&"disconnect"));

    // `connect` says the same and exits non-zero too.
    let (status, out, err) = start(&[
        "connect",
        &srv.url,
        "--transport",
        "websocket",
        "--no-reconnect",
        "--emit",
        &emit,
        "--json",
    ])
    .wait(WAIT);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("ended: connection lost"), "{err}");
    assert!(out.contains("\"disconnect\""), "{out}");
}

#[test]
fn a_gateway_restart_mid_recording_shows_disconnect_then_connect() {
    let mut srv = server(0);
    let port = srv.port;
    let dir = temp_dir("restart");
    let db = dir.join("rec.db");
    let start_msg = json!({ "rate": 1000, "total": 5 }).to_string();
    let rec = start(&[
        "record",
        &srv.url,
        "--transport",
        "websocket",
        "--reconnect-delay",
        "100",
        "--emit",
        &format!("start={start_msg}"),
        "--count",
        // connect, start, 5 ticks, done; disconnect; the same again.
        "17",
        "--json",
        "--db",
        db_str(&db),
    ]);
    eventually(WAIT, "the first ticks", || rows(&db) >= 8);
    let _ = srv.child.kill();
    let _ = srv.child.wait();
    srv = server(port);
    let (status, _, err) = rec.wait(Duration::from_secs(30));
    drop(srv);
    assert!(status.success(), "{err}");
    assert!(err.contains("connection lost 1"), "{err}");
    let list = sessions(&db);
    let evs = events(&db, list[0]["id"].as_i64().expect("id"));
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
    let dir = temp_dir("kill");
    let db = dir.join("rec.db");
    let start_msg = json!({ "rate": 10_000, "total": 1_000_000 }).to_string();
    let mut rec = start(&[
        "record",
        &srv.url,
        "--transport",
        "websocket",
        "--emit",
        &format!("start={start_msg}"),
        "--json",
        "--db",
        db_str(&db),
    ]);
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
    let id = list[0]["id"].as_i64().expect("id");
    let evs = events(&db, id);
    let got = ticks(&evs);
    assert!(got.len() > 2_000, "{}", got.len());
    assert!(
        got.iter().copied().eq(0..got.len() as u64),
        "not a gap-free prefix"
    );
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
    let dir = temp_dir("oversized");
    let db = dir.join("rec.db");
    // Over --max-payload: dropped with an error record, the stream goes on.
    let start_msg = json!({ "rate": 1000, "total": 20, "bigAt": 10, "bigSize": 4096 }).to_string();
    let (status, _, err) = start(&[
        "record",
        &srv.url,
        "--transport",
        "websocket",
        "--max-payload",
        "1KiB",
        "--emit",
        &format!("start={start_msg}"),
        // connect, start, the error record, 20 ticks, done.
        "--count",
        "24",
        "--json",
        "--db",
        db_str(&db),
    ])
    .wait(WAIT);
    assert!(status.success(), "{err}");
    assert!(err.contains("oversized 1)"), "{err}");
    let id = sessions(&db)[0]["id"].as_i64().expect("id");
    let evs = events(&db, id);
    assert!(ticks(&evs).iter().copied().eq(0..20), "{:?}", names(&evs));
    assert!(!names(&evs).contains(&"big"));
    let error = evs
        .iter()
        .find(|e| e["event"] == "error")
        .unwrap_or_else(|| panic!("no error record: {:?}", names(&evs)));
    let text = error["args"][0].as_str().expect("message");
    assert!(
        text.contains("\"big\"") && text.contains("1024 byte limit (--max-payload)"),
        "{text}"
    );

    // Positive control: the same event under a larger limit is kept.
    let (status, _, err) = start(&[
        "record",
        &srv.url,
        "--transport",
        "websocket",
        "--max-payload",
        "8KiB",
        "--emit",
        &format!("start={start_msg}"),
        "--count",
        "24",
        "--json",
        "--db",
        db_str(&db),
    ])
    .wait(WAIT);
    assert!(status.success(), "{err}");
    assert!(err.contains("oversized 0)"), "{err}");
    let id = sessions(&db)[1]["id"].as_i64().expect("id");
    assert!(names(&events(&db, id)).contains(&"big"));

    // Over the client's own 16 MiB: the connection ends, counted and said.
    // (rust_socketio reports it only as "EngineIO Error", so it counts as a lost
    // connection rather than as oversized; see README, Known limits.)
    let start_msg =
        json!({ "rate": 1000, "total": 20, "bigAt": 10, "bigSize": 17 << 20 }).to_string();
    let (status, _, err) = start(&[
        "record",
        &srv.url,
        "--transport",
        "websocket",
        "--no-reconnect",
        "--emit",
        &format!("start={start_msg}"),
        "--json",
        "--db",
        db_str(&db),
    ])
    .wait(Duration::from_secs(30));
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("connection lost 1, oversized 0)"), "{err}");
    assert!(
        err.contains("ended: connection lost (transport error"),
        "{err}"
    );
    let id = sessions(&db)[2]["id"].as_i64().expect("id");
    let evs = events(&db, id);
    assert!(ticks(&evs).iter().copied().eq(0..10), "{:?}", names(&evs));
    assert_eq!(names(&evs).last(), Some(&"disconnect"));

    let (status, _, err) = sockscope(&["record", &srv.url, "--max-payload", "17MiB"]);
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("--max-payload"), "{err}");
}

#[test]
fn a_terminal_that_stops_reading_makes_the_printer_skip_lines_never_the_recording() {
    let srv = server(0);
    let dir = temp_dir("slowterm");
    let db = dir.join("rec.db");
    const TOTAL: u64 = 40_000;
    let start_msg = json!({ "rate": 10_000, "total": TOTAL }).to_string();
    let count = (TOTAL + 3).to_string();
    let mut child = Command::new(bin())
        .args([
            "record",
            &srv.url,
            "--transport",
            "websocket",
            "--emit",
            &format!("start={start_msg}"),
            "--count",
            &count,
            "--json",
            "--db",
            db_str(&db),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sockscope");
    // A terminal that reads nothing for 5 s, then catches up.
    let stdout = child.stdout.take().map(|mut p| {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(5));
            let mut s = String::new();
            let _ = p.read_to_string(&mut s);
            s
        })
    });
    let stderr = collect(child.stderr.take());
    let (status, out, err) = Run {
        child,
        stdout,
        stderr,
    }
    .wait(Duration::from_secs(60));
    assert!(status.success(), "{err}");
    assert!(
        err.contains("printer skipped"),
        "the terminal never fell behind: {err}"
    );
    assert!(
        err.contains(&format!("{count} events written, 0 dropped, 0 lost")),
        "{err}"
    );
    let printed = out.lines().count() as u64;
    assert!(printed < TOTAL, "printed {printed}");
    let id = sessions(&db)[0]["id"].as_i64().expect("id");
    assert!(ticks(&events(&db, id)).iter().copied().eq(0..TOTAL));
    eprintln!("slow terminal: {TOTAL} ticks sent, {TOTAL} kept, {printed} lines printed");
}

#[test]
fn sessions_import_into_the_same_database_while_recording_at_10k_per_second_loses_nothing() {
    let srv = server(0);
    let dir = temp_dir("import");
    let db = dir.join("rec.db");
    let file = dir.join("big.jsonl");
    let lines: Vec<String> = (0..100_000)
        .map(|i| {
            json!({ "seq": i + 1, "ts": 1_700_000_000_000_000_i64 + i, "source": "connection:9",
                    "direction": "s2c", "namespace": "/", "event": "imported", "args": [{ "i": i }] })
            .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).expect("jsonl");
    const TOTAL: u64 = 40_000;
    let start_msg = json!({ "rate": 10_000, "total": TOTAL }).to_string();
    let count = (TOTAL + 3).to_string();
    let rec = start(&[
        "record",
        &srv.url,
        "--transport",
        "websocket",
        "--emit",
        &format!("start={start_msg}"),
        "--count",
        &count,
        "--json",
        "--db",
        db_str(&db),
    ]);
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
    assert!(
        err.contains(&format!("{count} events written, 0 dropped, 0 lost")),
        "{err}"
    );
    let list = sessions(&db);
    let recorded = list
        .iter()
        .find(|s| s["kind"] == "connection")
        .expect("the recording");
    let id = recorded["id"].as_i64().expect("id");
    assert!(ticks(&events(&db, id)).iter().copied().eq(0..TOTAL));
    assert_eq!(list.iter().filter(|s| s["events"] == 100_000).count(), 2);
}
