//! `cargo xtask bench proxy`: what the capture proxy costs at the receiving client.
//!
//! One Node process (`bench/node/proxy-bench.mjs`, on the harness core) holds a
//! socket.io 4.8 server and the socket.io-client 4.8 receivers, so the send stamp
//! and the arrival come from one clock. The release `sockscope proxy` (on the other
//! core, `--quiet`: the terminal is not what is measured) forwards to that server.
//! Each round runs the same two measurements directly and through the proxy, in
//! alternating order: latency at 5,000 events/s (arrival - emit, p50 and p99), and
//! throughput (events/s a client receives when the server emits as fast as it can).
//! Added latency = proxy minus direct within a round; the table gives the medians
//! of the rounds and every round.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::report::{Section, Target};
use super::{machine, median, HARNESS_CORE, SERVER_CORE};
use crate::{step, workspace};

const ROUNDS: usize = 5;
const RATE: u64 = 5_000;
const SECS: u64 = 5;
const FLOOD: u64 = 100_000;

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A child process killed when dropped.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serde_json`'s number at `path` (object keys) in `v`.
fn num(v: &serde_json::Value, path: &[&str]) -> Result<f64, String> {
    let mut cur = v;
    for k in path {
        cur = cur.get(*k).ok_or_else(|| format!("no {k} in {v}"))?;
    }
    cur.as_f64()
        .ok_or_else(|| format!("{path:?} is not a number"))
}

pub fn proxy() -> Result<Section, String> {
    super::build_release()?;
    crate::setup::npm_ci("bench/node")?;
    let sockscope = workspace::target_dir()?.join("release/sockscope");
    let node_dir = workspace::root().join("bench/node");
    let machine = machine();
    let server_port = free_port()?;
    let proxy_port = free_port()?;
    let out: PathBuf =
        std::env::temp_dir().join(format!("sockscope-bench-proxy-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let upstream = format!("http://127.0.0.1:{server_port}");
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    step("bench proxy: Node server + receivers, sockscope proxy");
    let mut node = Command::new("taskset")
        .args(["-c", HARNESS_CORE, "node", "proxy-bench.mjs"])
        .arg(server_port.to_string())
        .arg(&proxy_url)
        .args([
            ROUNDS.to_string(),
            RATE.to_string(),
            SECS.to_string(),
            FLOOD.to_string(),
        ])
        .arg(&out)
        .current_dir(&node_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))?;
    let stdout = node.stdout.take().ok_or("no stdout")?;
    let node = Guard(node);
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(l)) if l.starts_with("listening on ") => {}
        other => return Err(format!("the Node bench server did not start: {other:?}")),
    }
    let proxy = Command::new("taskset")
        .args(["-c", SERVER_CORE])
        .arg(&sockscope)
        .args([
            "proxy",
            "--quiet",
            "--listen",
            &format!("127.0.0.1:{proxy_port}"),
            "--upstream",
            &upstream,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start sockscope proxy: {e}"))?;
    let proxy = Guard(proxy);
    let begin = Instant::now();
    let limit = Duration::from_secs(ROUNDS as u64 * (2 * SECS + 60) + 60);
    loop {
        match lines.next() {
            Some(Ok(l)) if l == "done" => break,
            Some(Ok(_)) => {}
            _ => return Err("the Node bench ended without its results".into()),
        }
        if begin.elapsed() > limit {
            return Err("the proxy bench ran over its time".into());
        }
    }
    drop(proxy);
    drop(node);
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let _ = std::fs::remove_file(&out);
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let rounds = v["rounds"].as_array().ok_or("no rounds")?;
    let mut rows = String::new();
    let (mut add50, mut add99, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let (mut d99s, mut p99s, mut dtp, mut ptp) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut lost = 0.0;
    for (i, r) in rounds.iter().enumerate() {
        let d50 = num(r, &["direct", "p50_ms"])?;
        let d99 = num(r, &["direct", "p99_ms"])?;
        let p50 = num(r, &["proxy", "p50_ms"])?;
        let p99 = num(r, &["proxy", "p99_ms"])?;
        let dt = num(r, &["direct", "events_per_sec"])?;
        let pt = num(r, &["proxy", "events_per_sec"])?;
        for path in ["direct", "proxy"] {
            lost += num(r, &[path, "expected"])? - num(r, &[path, "received"])?;
        }
        add50.push(p50 - d50);
        add99.push(p99 - d99);
        ratio.push(pt / dt);
        d99s.push(d99);
        p99s.push(p99);
        dtp.push(dt);
        ptp.push(pt);
        let order = r["order"]
            .as_array()
            .map(|o| {
                o.iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(" then ")
            })
            .unwrap_or_default();
        rows.push_str(&format!(
            "| {} | {order} | {d50:.3} / {d99:.3} | {p50:.3} / {p99:.3} | {:+.3} / {:+.3} | {dt:.0} | {pt:.0} | {:.0}% |\n",
            i + 1,
            p50 - d50,
            p99 - d99,
            100.0 * pt / dt
        ));
    }
    let (m50, m99, mratio) = (median(add50), median(add99), median(ratio));
    let targets = vec![
        Target::judged(
            "proxy: added p99 latency at the receiving client <= 1 ms at 5,000 events/s",
            format!("{m99:+.3} ms (median of {ROUNDS} rounds)"),
            m99 <= 1.0,
        ),
        Target::judged(
            "proxy: throughput >= 80% of a direct connection",
            format!("{:.0}% (median of {ROUNDS} rounds)", mratio * 100.0),
            mratio >= 0.8,
        ),
    ];
    let body = format!(
        "## proxy: the capture proxy's cost at the receiving client\n\n\
         Machine: {machine}. One Node process (`bench/node/proxy-bench.mjs`, core {HARNESS_CORE}) holds a \
         socket.io 4.8 server and socket.io-client 4.8 receivers (websocket transport), so the emit stamp and \
         the arrival are read from one clock. The release `sockscope proxy --quiet` runs on core {SERVER_CORE} \
         (`--quiet`: events are decoded, paired and published on the bus, not printed). Each round measures \
         directly and through the proxy, in alternating order, after one unmeasured warm-up of each:\n\n\
         - latency: {RATE} events/s for {SECS} s, arrival minus emit at the client, p50 / p99 in ms;\n\
         - throughput: the server emits {FLOOD} events as fast as it can; events/s at the client \
           (first to last arrival).\n\n\
         | round | order | direct p50 / p99 (ms) | proxy p50 / p99 (ms) | added p50 / p99 (ms) | direct events/s | proxy events/s | proxy / direct |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|\n{rows}\n\
         Medians of the rounds: added p50 **{m50:+.3} ms**, added p99 **{m99:+.3} ms** (direct p99 {:.3} ms, \
         proxy p99 {:.3} ms); throughput through the proxy **{:.0}%** of direct ({:.0} vs {:.0} events/s). \
         Events lost over all latency runs: {lost:.0}.\n\n",
        median(d99s),
        median(p99s),
        mratio * 100.0,
        median(ptp),
        median(dtp),
    );
    Ok(Section {
        body,
        pinning: format!(
            "Node server + receivers on core {HARNESS_CORE}, sockscope proxy on core {SERVER_CORE}"
        ),
        targets,
    })
}
