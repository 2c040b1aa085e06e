//! `cargo xtask bench store`, end to end: the real `sockscope record` process
//! recording from a Node socket.io 4.8 server (`bench/node/record-source.mjs`) that
//! emits as fast as it can, with the recorder's stdout on a pipe this process reads
//! slowly (so its printer falls behind and must skip lines, never recording events).
//! The rows are counted in the SQLite file afterwards (`sockscope-bench
//! store-count`): the `metric:update` rows (the events the source sent) plus the
//! recorder's lost count must equal what the source says it sent, checked against
//! the file, not only against the process's own summary.
//!
//! `sockscope record --count N` stops after N records, and a recording's first
//! record is the connection's own `connect` (no source sent it); so the run asks for
//! `events + 1` records, and the check counts `metric:update` rows alone, so a
//! limit that stopped one event short cannot balance.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::number_field;
use crate::command::{output, Cmd};

/// How slowly the pipe on `sockscope record`'s stdout is read: this many bytes per
/// pause (about 100 KiB/s, a few hundred event lines a second).
const SLOW_READ: usize = 1024;
const SLOW_PAUSE: Duration = Duration::from_millis(10);
/// Records `sockscope record` writes besides the source's events: the `connect`
/// of its one connection (`--count` counts every record).
const CONNECT_RECORDS: u64 = 1;
/// A bound on one run: `record --duration`.
const RUN_LIMIT_S: u64 = 60;

/// What one end-to-end run measured.
#[derive(Debug, Clone)]
pub struct E2e {
    pub sent: f64,
    pub node_send_secs: f64,
    /// `metric:update` rows of the recording in the SQLite file (the events sent).
    pub rows: f64,
    /// Every row of the recording, lifecycle records (`connect`) included.
    pub all_rows: f64,
    /// The recorder's own counts (its stderr summary).
    pub written: f64,
    pub lost: f64,
    /// Rows over the span of their receive timestamps.
    pub per_sec: f64,
    /// Bytes the slow reader took from stdout, and whether the printer said it skipped.
    pub stdout_bytes: usize,
    pub printer_skipped: bool,
    pub wall_secs: f64,
}

impl E2e {
    /// Event rows + lost = sent, the recorder's own count matches the file, and
    /// the only other rows are the connection's `connect`.
    pub fn balanced(&self) -> bool {
        self.rows + self.lost == self.sent
            && self.all_rows == self.written
            && self.all_rows - self.rows == CONNECT_RECORDS as f64
    }
}

/// One run: `events` emitted by the Node source, recorded into a fresh file.
pub fn run(sockscope: &Path, harness: &Path, node_dir: &Path, events: u64) -> Result<E2e, String> {
    let dir = std::env::temp_dir().join(format!("sockscope-bench-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let db = dir.join("e2e.db");
    let result = run_in(sockscope, harness, node_dir, events, &db);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(
    sockscope: &Path,
    harness: &Path,
    node_dir: &Path,
    events: u64,
    db: &Path,
) -> Result<E2e, String> {
    let mut node = Command::new("node")
        .args(["record-source.mjs", &events.to_string()])
        .current_dir(node_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start node record-source.mjs: {e}"))?;
    let stdout = node.stdout.take().ok_or("no stdout from node")?;
    let (line_tx, line_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let result = (|| {
        let url = loop {
            let line = line_rx
                .recv_timeout(Duration::from_secs(20))
                .map_err(|_| "record-source.mjs did not start listening".to_owned())?;
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.to_owned();
            }
        };
        let started = Instant::now();
        let mut rec = Command::new(sockscope)
            .args([
                "record",
                &url,
                "--count",
                &(events + CONNECT_RECORDS).to_string(),
            ])
            .args(["--duration", &format!("{RUN_LIMIT_S}s"), "--db"])
            .arg(db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start sockscope record: {e}"))?;
        let mut out = rec.stdout.take().ok_or("no stdout from sockscope record")?;
        let slow = std::thread::spawn(move || {
            let mut buf = [0u8; SLOW_READ];
            let mut total = 0usize;
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n;
                std::thread::sleep(SLOW_PAUSE);
            }
            total
        });
        let mut err = String::new();
        if let Some(mut e) = rec.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let _ = rec.wait();
        let wall_secs = started.elapsed().as_secs_f64();
        let stdout_bytes = slow.join().unwrap_or(0);
        let sent_line = loop {
            let line = line_rx
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| "record-source.mjs did not report what it sent".to_owned())?;
            if line.contains("\"sent\"") {
                break line;
            }
        };
        // "session N "name": W events written, D dropped, L lost (...)"
        let summary = err
            .lines()
            .rev()
            .find(|l| l.contains("events written"))
            .ok_or_else(|| format!("no summary from sockscope record: {}", err.trim()))?;
        let count_before = |word: &str| -> Option<f64> {
            let at = summary.find(word)?;
            summary[..at].split_whitespace().last()?.parse().ok()
        };
        let written = count_before("events written").ok_or("no written count")?;
        let lost = count_before("lost (").ok_or("no lost count")?;
        let counted = output(
            Cmd::new(&harness.to_string_lossy())
                .args(["store-count".to_owned(), db.to_string_lossy().into_owned()]),
        )
        .ok_or("sockscope-bench store-count failed")?;
        let field =
            |json: &str, k: &str| number_field(json, k).ok_or_else(|| format!("no {k} in {json}"));
        let all_rows = field(&counted, "rows")?;
        // Rows of the one event the source sends; 0 when none arrived.
        let rows = number_field(&counted, "metric:update").unwrap_or(0.0);
        let span = field(&counted, "span_us")? / 1e6;
        Ok(E2e {
            sent: field(&sent_line, "sent")?,
            node_send_secs: field(&sent_line, "send_secs")?,
            rows,
            all_rows,
            written,
            lost,
            per_sec: rows / span.max(1e-6),
            stdout_bytes,
            printer_skipped: err.contains("skipped"),
            wall_secs,
        })
    })();
    let _ = node.kill();
    let _ = node.wait();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sent: f64, rows: f64, all_rows: f64, written: f64, lost: f64) -> E2e {
        E2e {
            sent,
            node_send_secs: 1.0,
            rows,
            all_rows,
            written,
            lost,
            per_sec: 0.0,
            stdout_bytes: 0,
            printer_skipped: false,
            wall_secs: 1.0,
        }
    }

    #[test]
    fn a_limit_that_stops_one_event_short_does_not_balance() {
        // Every event and the connect record: balanced.
        assert!(run(100.0, 100.0, 101.0, 101.0, 0.0).balanced());
        // The old check: 100 records asked, the connect took one of them, the last
        // event never arrived; total rows = sent would have passed.
        assert!(!run(100.0, 99.0, 100.0, 100.0, 0.0).balanced());
        // Lost events counted by the recorder still balance.
        assert!(run(100.0, 97.0, 98.0, 98.0, 3.0).balanced());
        // A row the recorder did not report fails.
        assert!(!run(100.0, 100.0, 101.0, 100.0, 0.0).balanced());
    }
}
