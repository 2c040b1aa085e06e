//! `cargo xtask bench replay`: replay timing measured where the events land.
//!
//! For every event, the receiver notes its arrival (CLOCK_REALTIME, same machine)
//! and compares it with its plan (event i at i x spacing after the start); p50, p99
//! and max of that error, at 5,000 and 20,000 events/s, over two paths:
//!
//! - server-side replay: `sockscope replay ID --mode server` (the real CLI process)
//!   to a Node socket.io-client 4.8 receiver (`bench/node/replay-receiver.mjs`);
//!   peer: `sockscope-bench replay-peer-server`, the same embedded gateway driven by
//!   absolute `sleep_until` deadlines.
//! - client replay: `sockscope replay ID --target URL --transport websocket` to a
//!   Node socket.io 4.8 staging server (`bench/node/replay-staging.mjs`); peer:
//!   `sockscope-bench replay-peer-client`, a raw websocket sending on `sleep_until`
//!   deadlines.
//!
//! Rounds alternate Sockscope and peer; CPU seconds (user + sys) of the replaying
//! process come from `/usr/bin/time`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::report::{Section, Target};
use super::{load_average, machine, median, number_field, start};
use crate::command::{output, Cmd};
use crate::{step, workspace};

/// Events per second, and seconds of events per run.
const RATES: [u64; 2] = [5_000, 20_000];
const RUN_SECS: u64 = 5;
const ROUNDS: usize = 3;

/// Where the tail at the receiver came from, and what was done about it.
/// One run's figures.
#[derive(Debug, Clone, Default)]
struct Run {
    p50: f64,
    p99: f64,
    max: f64,
    lost: f64,
    cpu: f64,
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "sockscope-bench-replay-{}-{name}",
        std::process::id()
    ))
}

/// user + sys seconds from a `/usr/bin/time -f "%U %S"` file.
fn cpu_seconds(path: &Path) -> Result<f64, String> {
    let t = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let last = t.lines().last().unwrap_or_default();
    let v: Vec<f64> = last
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    match v.as_slice() {
        [u, s] => Ok(u + s),
        _ => Err(format!("unexpected /usr/bin/time output {t:?}")),
    }
}

/// Waits for `child` to exit on its own, up to `limit`.
fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Result<(), String> {
    let begin = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if begin.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => return Err(format!("still running after {limit:?}")),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Waits (up to `limit`) for the receiver's result file; returns the error figures.
fn read_result(path: &Path, limit: Duration) -> Result<Run, String> {
    let begin = Instant::now();
    let text = loop {
        match std::fs::read_to_string(path) {
            Ok(t) if t.ends_with('}') => break t,
            _ if begin.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => return Err(format!("no result in {}", path.display())),
        }
    };
    let _ = std::fs::remove_file(path);
    let f = |k: &str| number_field(&text, k).ok_or_else(|| format!("no {k} in {text}"));
    Ok(Run {
        p50: f("p50_us")?,
        p99: f("p99_us")?,
        max: f("max_us")?,
        lost: f("expected")? - f("received")?,
        cpu: 0.0,
    })
}

struct Paths {
    sockscope: PathBuf,
    harness: PathBuf,
    node_dir: PathBuf,
    db: PathBuf,
}

/// Server-side replay: `program args` (which prints `listening on URL` and exits when
/// done) under `/usr/bin/time`, the Node receiver connected to it.
fn server_run(
    p: &Paths,
    program: &Path,
    args: &[String],
    n: u64,
    spacing: u64,
) -> Result<Run, String> {
    let times = tmp("time");
    let out = tmp("result.json");
    let _ = std::fs::remove_file(&out);
    let full = timed(&times, program, args.iter().cloned());
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let mut server = start(Path::new("/usr/bin/time"), &full, &workspace::root())?;
    output(Cmd::new("node").dir(&p.node_dir).args([
        "replay-receiver.mjs".to_owned(),
        server.url.clone(),
        n.to_string(),
        spacing.to_string(),
        out.to_string_lossy().into_owned(),
        (RUN_SECS * 4 + 20).to_string(),
    ]))
    .ok_or("the replay receiver failed")?;
    wait_exit(&mut server.child, Duration::from_secs(30))?;
    let mut run = read_result(&out, Duration::from_secs(1))?;
    run.cpu = cpu_seconds(&times)?;
    Ok(run)
}

/// `/usr/bin/time`'s arguments to run `program args`, writing user and system CPU
/// seconds to `times`.
fn timed(times: &Path, program: &Path, args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut full: Vec<String> = vec![
        "-f".into(),
        "%U %S".into(),
        "-o".into(),
        times.to_string_lossy().into_owned(),
        program.to_string_lossy().into_owned(),
    ];
    full.extend(args);
    full
}

/// Client replay: the Node staging server, `program args URL-last?` under
/// `/usr/bin/time` sending to it.
fn client_run(
    p: &Paths,
    program: &Path,
    args: impl Fn(&str) -> Vec<String>,
    n: u64,
    spacing: u64,
) -> Result<Run, String> {
    let times = tmp("time");
    let out = tmp("result.json");
    let _ = std::fs::remove_file(&out);
    let staging = start(
        Path::new("node"),
        &[
            "replay-staging.mjs",
            &n.to_string(),
            &spacing.to_string(),
            &out.to_string_lossy(),
            &(RUN_SECS * 4 + 20).to_string(),
        ],
        &p.node_dir,
    )?;
    let full = timed(&times, program, args(&staging.url));
    output(Cmd::new("/usr/bin/time").args(full)).ok_or("the client replay failed")?;
    let mut run = read_result(&out, Duration::from_secs(RUN_SECS * 4 + 25))?;
    drop(staging);
    run.cpu = cpu_seconds(&times)?;
    Ok(run)
}

/// Imports a recording of `n` events `spacing` apart in `dir`; returns its id.
fn import(p: &Paths, n: u64, spacing: u64, dir: &str) -> Result<String, String> {
    let file = tmp(&format!("{dir}-{n}.jsonl"));
    output(Cmd::new(&p.harness.to_string_lossy()).args([
        "replay-recording".to_owned(),
        file.to_string_lossy().into_owned(),
        n.to_string(),
        spacing.to_string(),
        dir.to_owned(),
    ]))
    .ok_or("cannot write the recording")?;
    let out = output(Cmd::new(&p.sockscope.to_string_lossy()).args([
        "sessions".to_owned(),
        "import".to_owned(),
        file.to_string_lossy().into_owned(),
        "--db".to_owned(),
        p.db.to_string_lossy().into_owned(),
        "--json".to_owned(),
    ]))
    .ok_or("sockscope sessions import failed")?;
    let _ = std::fs::remove_file(&file);
    number_field(&out, "id")
        .map(|id| format!("{id:.0}"))
        .ok_or_else(|| format!("no session id in {out}"))
}

fn fmt_runs(v: &[Run], f: impl Fn(&Run) -> f64) -> String {
    v.iter()
        .map(|r| format!("{:.0}", f(r)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn med(v: &[Run], f: impl Fn(&Run) -> f64) -> f64 {
    median(v.iter().map(f).collect())
}

pub fn replay() -> Result<Section, String> {
    super::build_release()?;
    crate::setup::npm_ci("bench/node")?;
    let release = workspace::target_dir()?.join("release");
    let p = Paths {
        sockscope: release.join("sockscope"),
        harness: release.join("sockscope-bench"),
        node_dir: workspace::root().join("bench/node"),
        db: tmp("db.sqlite"),
    };
    let _ = std::fs::remove_file(&p.db);
    let machine = machine();
    let mut rows = String::new();
    let mut verdict = String::new();
    let mut targets = Vec::new();
    for rate in RATES {
        let spacing = 1_000_000 / rate;
        let n = rate * RUN_SECS;
        let s2c = import(&p, n, spacing, "s2c")?;
        let c2s = import(&p, n, spacing, "c2s")?;
        let db = p.db.to_string_lossy().into_owned();
        let (mut so, mut sp, mut co, mut cp) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut loads = Vec::new();
        for round in 1..=ROUNDS {
            step(&format!("replay {rate}/s round {round}/{ROUNDS}"));
            loads.push(load_average());
            let ours_args: Vec<String> = [
                "replay", &s2c, "--mode", "server", "--port", "0", "--db", &db, "--json",
            ]
            .map(str::to_owned)
            .to_vec();
            let peer_args = vec![
                "replay-peer-server".to_owned(),
                n.to_string(),
                spacing.to_string(),
            ];
            let (a, b) = if round % 2 == 1 {
                let a = server_run(&p, &p.sockscope, &ours_args, n, spacing)?;
                (a, server_run(&p, &p.harness, &peer_args, n, spacing)?)
            } else {
                let b = server_run(&p, &p.harness, &peer_args, n, spacing)?;
                (server_run(&p, &p.sockscope, &ours_args, n, spacing)?, b)
            };
            println!("server-side: sockscope {a:?}; peer {b:?}");
            so.push(a);
            sp.push(b);
            let ours = |url: &str| -> Vec<String> {
                [
                    "replay",
                    &c2s,
                    "--target",
                    url,
                    "--transport",
                    "websocket",
                    "--db",
                    &db,
                    "--json",
                ]
                .map(str::to_owned)
                .to_vec()
            };
            let peer = |url: &str| -> Vec<String> {
                vec![
                    "replay-peer-client".to_owned(),
                    url.to_owned(),
                    n.to_string(),
                    spacing.to_string(),
                ]
            };
            let (a, b) = if round % 2 == 1 {
                let a = client_run(&p, &p.sockscope, ours, n, spacing)?;
                (a, client_run(&p, &p.harness, peer, n, spacing)?)
            } else {
                let b = client_run(&p, &p.harness, peer, n, spacing)?;
                (client_run(&p, &p.sockscope, ours, n, spacing)?, b)
            };
            println!("client: sockscope {a:?}; peer {b:?}");
            co.push(a);
            cp.push(b);
        }
        for (path, who, runs) in [
            ("server-side", "`sockscope replay --mode server`", &so),
            ("server-side", "peer: embedded gateway + `sleep_until`", &sp),
            ("client", "`sockscope replay --target`", &co),
            ("client", "peer: raw websocket + `sleep_until`", &cp),
        ] {
            rows.push_str(&format!(
                "| {rate} | {path} | {who} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | p99 {}; max {}; CPU {} |\n",
                med(runs, |r| r.p50),
                med(runs, |r| r.p99),
                med(runs, |r| r.max),
                med(runs, |r| r.cpu),
                runs.iter().map(|r| r.lost).sum::<f64>(),
                fmt_runs(runs, |r| r.p99),
                fmt_runs(runs, |r| r.max),
                runs.iter()
                    .map(|r| format!("{:.2}", r.cpu))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        if rate == 5_000 {
            for (what, runs) in [("server-side replay", &so), ("client replay", &co)] {
                let p99 = med(runs, |r| r.p99);
                targets.push(Target::judged(
                    format!("{what} p99 <= 1 ms at 5,000 events/s"),
                    format!("{:.2} ms", p99 / 1000.0),
                    p99 <= 1000.0,
                ));
                verdict.push_str(&format!(
                    "{what} p99 {:.2} ms at 5,000 events/s: target <= 1 ms {}. ",
                    p99 / 1000.0,
                    if p99 <= 1000.0 { "met" } else { "missed" }
                ));
            }
        }
        rows.push_str(&format!(
            "| {rate} | | load average before each round: {} | | | | | | |\n",
            loads.join(", ")
        ));
    }
    let _ = std::fs::remove_file(&p.db);
    let table = format!(
        "## replay: arrival error at the receiver\n\n\
         Machine: {machine}. Recordings of {RUN_SECS} s of `tick` events `{{i, metric, value}}` at each rate, \
         imported with `sockscope sessions import`; replayed at 1x, {ROUNDS} rounds per rate alternating \
         Sockscope and peer, release builds.\n\n\
         - **server-side**: the real `sockscope replay ID --mode server --port 0` process; a Node \
         socket.io-client 4.8 receiver (websocket transport, `bench/node/replay-receiver.mjs`) joins `/` \
         and the replay starts (after its 500 ms settle). Peer: `sockscope-bench replay-peer-server`, the same \
         embedded gateway in-process, each event emitted at `start + i x gap` with tokio's `sleep_until` \
         (no yield loop), also after 500 ms.\n\
         - **client**: the real `sockscope replay ID --target URL --transport websocket` process sends the \
         events to a Node socket.io 4.8 staging server (`bench/node/replay-staging.mjs`). Peer: \
         `sockscope-bench replay-peer-client`, one raw Engine.IO websocket (Nagle off) sending each event at \
         its `sleep_until` deadline.\n\n\
         Error = arrival time at the receiver (CLOCK_REALTIME, same machine) minus the event's planned time. \
         The receiver does not know when the replay started, so the plan is anchored on the least-delayed \
         event (t0 = min over events of arrival - i x gap): errors are >= 0 and include drift, bunching and \
         late flushes, not the constant loopback latency. CPU = user + sys of the replaying process over its \
         whole life (`/usr/bin/time`; includes start-up, the 500 ms wait and 0.5-1 s linger). Lost = events \
         the receiver did not get, over all rounds. Medians of the rounds.\n\n\
         | events/s | path | sender | p50 (us) | p99 (us) | max (us) | CPU s | lost | all rounds (us, s) |\n\
         |---:|---|---|---:|---:|---:|---:|---:|---|\n{rows}\n\
         **{}**\n\n",
        verdict.trim_end(),
    );
    Ok(Section {
        body: table,
        pinning: "none (every process on both cores)".into(),
        targets,
    })
}
