//! `cargo xtask bench`: every part in one run, written whole to `bench/results.md`
//! (see `report`); `cargo xtask bench NAME`: one part, written beside the build.
//!
//! `gateway` (here): broadcast fan-out of a ~200-byte event to 1,000 websocket
//! clients, Sockscope's gateway against a Node socket.io 4.8 server doing the same
//! and against a raw-websocket ceiling, driven by the same harness (`bench/fanout`)
//! in the same run. The harness runs on a core of its own, the server under test on
//! the other. Rounds alternate the order so machine noise hits every server; the
//! table quotes medians, and a ratio to the ceiling only where it is one.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::command::{cargo, output, run, Cmd};
use crate::{step, workspace};

mod app;
mod cluster;
mod proxy;
mod record;
mod replay;
mod report;
mod sim;

use report::{Section, Target};

const CLIENTS: usize = 1_000;
const BROADCASTS: usize = 300;
const PAYLOAD: usize = 200;
const ROUNDS: usize = 3;
/// Broadcast requests the harness keeps in flight (bench/fanout/src/main.rs).
const IN_FLIGHT: usize = 4;

/// The core servers under test run on, and the core of the load-generating harness
/// (fan-out and cluster parts): the harness never competes with the server it drives.
pub(crate) const SERVER_CORE: &str = "0";
pub(crate) const HARNESS_CORE: &str = "1";

/// A benchmark part: runs and hands back its section.
type Part = fn() -> Result<Section, String>;

/// The parts a full run runs, in order.
const PARTS: [(&str, Part); 6] = [
    ("gateway", gateway),
    ("store", store),
    ("replay", replay::replay),
    ("simulate", sim::simulate),
    ("cluster", cluster::cluster),
    ("proxy", proxy::proxy),
];

pub fn run_bench(which: Option<&str>) -> Result<(), String> {
    // `taskset` (util-linux) pins processes; `/usr/bin/time` (time) measures CPU.
    crate::setup::apt_packages(&["util-linux", "time"])?;
    match which {
        None => {
            let runs: Vec<report::PartRun> = PARTS
                .iter()
                .map(|(name, part)| report::run_part(name, part))
                .collect();
            report::write_results(
                &runs,
                &[(
                    "app",
                    "runs only when named (`cargo xtask bench app`: needs the release desktop bundle)",
                )],
            )?;
            let failed: Vec<&str> = runs
                .iter()
                .filter(|r| r.result.is_err())
                .map(|r| r.name)
                .collect();
            if failed.is_empty() {
                Ok(())
            } else {
                Err(format!("failed parts: {}", failed.join(", ")))
            }
        }
        Some("app") => report::write_single(&report::run_part("app", app::app)),
        Some(name) => match PARTS.iter().find(|(n, _)| *n == name) {
            Some((name, part)) => report::write_single(&report::run_part(name, part)),
            None => Err(format!(
                "unknown benchmark {name:?} (known: gateway, store, replay, simulate, cluster, proxy, app)"
            )),
        },
    }
}

const STORE_EVENTS: u64 = 200_000;
/// The sustained run: this many times the recorder's queue, paced at this rate;
/// then a burst of `STORE_BURST_QUEUES` queues as fast as the caller can send.
const STORE_PACED_QUEUES: u64 = 10;
const STORE_PACED_RATE: u64 = 50_000;
const STORE_BURST_QUEUES: u64 = 4;
/// The recorder's queue capacity (`sockscope_engine::store::RECORDER_QUEUE`, which
/// the harness also reports; checked against it below).
const RECORDER_QUEUE: u64 = 262_144;
/// End to end through `sockscope record`: events the Node source emits per round.
const E2E_EVENTS: u64 = 200_000;

/// The 1-minute load average, as `uptime` would print it.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// The machine, for every section: cores and the load average when it started.
pub(crate) fn machine() -> String {
    format!(
        "{}, 1-min load average {} at the start",
        machine_cores(),
        load_average()
    )
}

/// Cores and CPU model.
pub(crate) fn machine_cores() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({cpu})")
}

/// Recorder throughput against the best raw loop for the same rows (alternating
/// which goes first), then a paced run of 10x the queue and a burst past it.
fn store() -> Result<Section, String> {
    build_release()?;
    crate::setup::npm_ci("bench/node")?;
    let harness = workspace::target_dir()?.join("release/sockscope-bench");
    let machine = machine();
    let (mut raw, mut rec, mut drops, mut loads) = (Vec::new(), Vec::new(), 0.0, Vec::new());
    let mut phases = Vec::new();
    for round in 1..=ROUNDS {
        let order = if round % 2 == 1 {
            "ceiling-first"
        } else {
            "recorder-first"
        };
        loads.push(load_average());
        let out = output(Cmd::new(&harness.to_string_lossy()).args([
            "store".to_owned(),
            STORE_EVENTS.to_string(),
            order.to_owned(),
        ]))
        .ok_or("the store harness failed")?;
        let r = number_field(&out, "raw_per_sec").ok_or_else(|| format!("no raw rate in {out}"))?;
        let w = number_field(&out, "recorder_per_sec")
            .ok_or_else(|| format!("no recorder rate in {out}"))?;
        drops += number_field(&out, "dropped").unwrap_or(0.0);
        phases.push(format!(
            "{:.2} s + {:.2} s",
            number_field(&out, "record_secs").unwrap_or(f64::NAN),
            number_field(&out, "finish_secs").unwrap_or(f64::NAN)
        ));
        println!("round {round} ({order}): ceiling {r:.0}/s, recorder {w:.0}/s");
        raw.push(r);
        rec.push(w);
    }
    let (m_raw, m_rec) = (median(raw.clone()), median(rec.clone()));
    let pct = 100.0 * m_rec / m_raw;

    step("sustained and burst runs");
    let paced = STORE_PACED_QUEUES * RECORDER_QUEUE;
    let burst = STORE_BURST_QUEUES * RECORDER_QUEUE;
    let sustained_load = load_average();
    let out = output(Cmd::new(&harness.to_string_lossy()).args([
        "store-sustained".to_owned(),
        paced.to_string(),
        STORE_PACED_RATE.to_string(),
        burst.to_string(),
    ]))
    .ok_or("the sustained store harness failed")?;
    let field = |k: &str| number_field(&out, k).ok_or_else(|| format!("no {k} in {out}"));
    if field("queue")? as u64 != RECORDER_QUEUE {
        return Err(format!(
            "the recorder's queue is {} records, the xtask assumes {RECORDER_QUEUE}: update RECORDER_QUEUE",
            field("queue")?
        ));
    }
    let balanced =
        out.contains("\"paced_balanced\":true") && out.contains("\"burst_balanced\":true");
    let (pw, pd, bw, bd) = (
        field("paced_written")?,
        field("paced_dropped")?,
        field("burst_written")?,
        field("burst_dropped")?,
    );
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };

    step("end to end: sockscope record from a Node socket.io server, stdout read slowly");
    let sockscope = workspace::target_dir()?.join("release/sockscope");
    let node_dir = workspace::root().join("bench/node");
    let (mut e2e, mut e2e_loads) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        e2e_loads.push(load_average());
        let r = record::run(&sockscope, &harness, &node_dir, E2E_EVENTS)?;
        println!(
            "round {round}: sent {:.0} in {:.2} s, metric:update rows {:.0} of {:.0}, recorder said written {:.0} lost {:.0}, \
             {:.0} recorded/s, {} stdout bytes read, printer skipped: {}",
            r.sent,
            r.node_send_secs,
            r.rows,
            r.all_rows,
            r.written,
            r.lost,
            r.per_sec,
            r.stdout_bytes,
            r.printer_skipped
        );
        e2e.push(r);
    }
    let e2e_lost: f64 = e2e.iter().map(|r| r.sent - r.rows).sum();
    let e2e_sent: f64 = e2e.iter().map(|r| r.sent).sum();
    let e2e_balanced = e2e.iter().all(record::E2e::balanced);
    let e2e_rate = median(e2e.iter().map(|r| r.per_sec).collect());
    let e2e_send = median(e2e.iter().map(|r| r.sent / r.node_send_secs).collect());
    let e2e_rounds = e2e
        .iter()
        .map(|r| {
            format!(
                "sent {:.0} (Node's emit loop {:.2} s), {:.0} `metric:update` rows of {:.0} rows in the file, \
                 recorder's summary {:.0} written / {:.0} lost, {:.0} recorded/s, {:.1} s wall, {} KiB of stdout read{}",
                r.sent,
                r.node_send_secs,
                r.rows,
                r.all_rows,
                r.written,
                r.lost,
                r.per_sec,
                r.wall_secs,
                r.stdout_bytes / 1024,
                if r.printer_skipped { ", printer skipped lines" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let e2e_verdict = if e2e_lost == 0.0 && e2e_balanced {
        "met"
    } else {
        "missed"
    };

    let verdict = if pct >= 70.0 { "met" } else { "missed" };
    let e2e_count = E2E_EVENTS + 1;
    let paced_verdict = if pd == 0.0 && balanced {
        "met"
    } else {
        "missed"
    };
    let table = format!(
        "## store: recorder vs raw SQLite\n\n\
         Machine: {machine}; load average before each round: {}; before the sustained run: {sustained_load}.\n\n\
         {STORE_EVENTS} metric events (~170-byte JSON args) per writer per round, {ROUNDS} rounds alternating which \
         writer goes first, each writer into a fresh SQLite file (same schema, so the same table size).\n\n\
         - **Ceiling** (the best raw loop for these rows): values pre-encoded (args already JSON text, \
         integers in memory); the recorder's own multi-row statement (`INSERT OR ROLLBACK`, 16 rows per \
         statement, session id and first `seq` bound once per statement, constant and NULL columns bound \
         once per transaction); the recorder's pragmas (WAL, `synchronous = NORMAL`, foreign keys off, \
         auto-checkpoint off); a transaction per 8,192 rows; PASSIVE WAL checkpoints on a second connection \
         in their own thread every 4 MiB committed, with the same 64 MiB WAL cap. One thread inserting.\n\
         - **Recorder**: `Recorder::start`, `Recorder::record` per event (an `EventRecord` with its args still a \
         `serde_json::Value`, as the network path hands it over), then `finish()` (all committed, session \
         ended); timed from start to finish. JSON is encoded on its encoder thread, rows inserted on its \
         writer thread, checkpoints on its checkpointer thread. Like the ceiling, its writer binds a text \
         column only when it differs from what the statement already holds in that place (source, namespace, \
         event, tenant are the same row after row), and `args` always.\n\n\
         | writer | median events/s | all rounds |\n|---|---:|---|\n\
         | raw SQLite ceiling | {m_raw:.0} | {} |\n\
         | Sockscope recorder | {m_rec:.0} | {} |\n\n\
         **Recorder at {pct:.0}% of the ceiling: target >= 70% {verdict}.** Dropped in these rounds: {drops:.0}. \
         Recorder time per round, the caller's `record` calls + `finish` (the pipeline catching up): {}.\n\n\
         Sustained (one run): {paced} events ({STORE_PACED_QUEUES}x the recorder's {RECORDER_QUEUE}-record queue) \
         paced at {STORE_PACED_RATE} events/s in 1 ms steps ({:.1} s of sending, {:.1} s to `finish`): \
         written {pw:.0}, dropped {pd:.0}. Burst: {burst} events ({STORE_BURST_QUEUES}x the queue) sent as fast \
         as the caller can clone them ({:.2} s), {:.2} s to `finish`: written {bw:.0}, dropped {bd:.0}. \
         Written + dropped = sent in both: {}. **Nothing dropped at {STORE_PACED_RATE}/s sustained: {paced_verdict}.** \
         The burst is meant to overflow: its drops show the bound and the count hold.\n\n\
         End to end ({ROUNDS} rounds, load average before each: {}): `bench/node/record-source.mjs` (socket.io \
         4.8) emits {E2E_EVENTS} `metric:update` events (~140-byte payload) to the first client on `/` as fast as \
         it can (batches of 256 emits, yielding to the event loop between batches); the real release \
         `sockscope record URL --count {e2e_count} --db FILE` records them (`--count` counts every record, and the first is \
         the connection's own `connect`: {E2E_EVENTS} events + 1), its stdout a pipe this xtask reads 1 KiB \
         per 10 ms. Rows then counted in the SQLite file by event name (`sockscope-bench store-count`): the \
         `metric:update` rows are the events that arrived; recorded/s = rows / span of their receive timestamps. \
         Rounds: {e2e_rounds}.\n\n\
         **End to end: {e2e_rate:.0} events/s recorded (median; Node emitted at {e2e_send:.0}/s), {e2e_lost:.0} \
         of {e2e_sent:.0} events missing from the file over {ROUNDS} rounds (target 0: {e2e_verdict}); in every round \
         `metric:update` rows + lost = sent, all rows = the recorder's own written count, and the one other row \
         is `connect`: {}.**\n\n\
         Caveats: the ceiling runs on one thread with nothing else to do; the recorder's three threads share \
         the machine's cores with the caller. End to end, the Node source, the recorder and the slow reader share \
         the machine's cores; recorded/s below Node's emit rate means the recording side (its socket.io \
         client, bus and recorder) is the bound, not the source.\n\n",
        loads.join(", "),
        fmt(&raw),
        fmt(&rec),
        phases.join(", "),
        field("paced_send_secs")?,
        field("paced_secs")?,
        field("burst_send_secs")?,
        field("burst_secs")?,
        if balanced { "yes" } else { "NO" },
        e2e_loads.join(", "),
        if e2e_balanced { "yes" } else { "NO" },
    );
    Ok(Section {
        body: table,
        pinning: "none (every process on both cores)".into(),
        targets: vec![
            Target::judged(
                "recorder >= 70% of the raw SQLite ceiling (median events/s)",
                format!("{pct:.0}% ({m_rec:.0} vs {m_raw:.0} events/s)"),
                pct >= 70.0,
            ),
            Target::judged(
                format!("nothing dropped at {STORE_PACED_RATE} events/s sustained over {STORE_PACED_QUEUES}x the queue, counts balanced"),
                format!("{pd:.0} dropped, balanced: {}", if balanced { "yes" } else { "no" }),
                paced_verdict == "met",
            ),
            Target::judged(
                "end to end through `sockscope record`: 0 events lost, every event's row in the file",
                format!("{e2e_lost:.0} of {e2e_sent:.0} missing, balanced: {}", if e2e_balanced { "yes" } else { "no" }),
                e2e_verdict == "met",
            ),
        ],
    })
}

/// A server under test; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program args` in `dir` and waits for its `listening on URL` line.
fn start(program: &Path, args: &[&str], dir: &Path) -> Result<Server, String> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("listening on ") {
                    break url.to_owned();
                }
            }
            _ => return Err(format!("{} exited before listening", program.display())),
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { child, url })
}

/// The harness's deliveries/s for one run against `url`, or (Err) how many
/// deliveries never arrived when the run did not complete: a server that drops
/// broadcasts under load is a result, not a failure of the benchmark.
fn measure(harness: &Path, url: &str) -> Result<Result<f64, f64>, String> {
    let out = output(Cmd::new("taskset").args([
        "-c".to_owned(),
        HARNESS_CORE.to_owned(),
        harness.to_string_lossy().into_owned(),
        "fanout".to_owned(),
        url.to_owned(),
        CLIENTS.to_string(),
        BROADCASTS.to_string(),
        PAYLOAD.to_string(),
    ]))
    .ok_or_else(|| format!("the harness failed against {url}"))?;
    if !out.contains("\"complete\":true") {
        let missing = number_field(&out, "expected").unwrap_or(0.0)
            - number_field(&out, "delivered").unwrap_or(0.0);
        return Ok(Err(missing));
    }
    number_field(&out, "deliveries_per_sec")
        .map(Ok)
        .ok_or_else(|| format!("no rate in {out}"))
}

fn number_field(json: &str, field: &str) -> Option<f64> {
    let key = format!("\"{field}\":");
    let start = json.find(&key)? + key.len();
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Set to use the release binaries already in TARGET/release as they are (no
/// `cargo build`): for a machine where the build cannot finish before the run
/// must start. The results' header then says so, with the binaries' build times.
pub(crate) const PREBUILT_ENV: &str = "SOCKSCOPE_BENCH_PREBUILT";

/// How the release binaries of this run came to be, for the results' header.
pub(crate) fn binaries_note() -> String {
    if std::env::var_os(PREBUILT_ENV).is_none() {
        return "built by this run (`cargo build --release -p sockscope-cli -p sockscope-bench`)"
            .into();
    }
    let when = |name: &str| -> String {
        workspace::target_dir()
            .ok()
            .map(|d| d.join("release").join(name))
            .and_then(|p| {
                output(Cmd::new("date").args([
                    "-u".to_owned(),
                    "-r".to_owned(),
                    p.to_string_lossy().into_owned(),
                    "+%H:%M UTC".to_owned(),
                ]))
            })
            .map_or_else(|| "?".into(), |t| t.trim().to_owned())
    };
    format!(
        "**prebuilt**, not rebuilt by this run ({PREBUILT_ENV} set): `sockscope` built at {}, \
         `sockscope-bench` at {}",
        when("sockscope"),
        when("sockscope-bench")
    )
}

/// The release `sockscope` and the bench harness every benchmark runs.
pub(crate) fn build_release() -> Result<(), String> {
    if std::env::var_os(PREBUILT_ENV).is_some() {
        let release = workspace::target_dir()?.join("release");
        for bin in ["sockscope", "sockscope-bench"] {
            if !release.join(bin).is_file() {
                return Err(format!(
                    "{PREBUILT_ENV} is set but {} does not exist",
                    release.join(bin).display()
                ));
            }
        }
        step("release binaries: prebuilt, not rebuilt");
        return Ok(());
    }
    step("build release binaries (sockscope, harness)");
    run(cargo([
        "build",
        "--release",
        "-p",
        "sockscope-cli",
        "-p",
        "sockscope-bench",
    ]))
}

/// Idle sockets for the memory figure.
const IDLE_SOCKETS: usize = 10_000;

/// Resident memory (KiB) of `pid` and all its descendants (a Node cluster's workers).
fn tree_rss_kib(pid: u32) -> f64 {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // Fields after the `(comm)`: state, ppid, ...
            let ppid = stat
                .rfind(')')
                .and_then(|at| stat[at + 1..].split_whitespace().nth(1))
                .and_then(|x| x.parse().ok())
                .unwrap_or(0);
            parents.push((p, ppid));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let me = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == me).map(|(p, _)| *p));
        i += 1;
    }
    tree.iter()
        .map(|p| {
            std::fs::read_to_string(format!("/proc/{p}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("VmRSS:"))
                        .and_then(|l| l.split_whitespace().nth(1))
                        .and_then(|v| v.parse::<f64>().ok())
                })
                .unwrap_or(0.0)
        })
        .sum()
}

/// Bytes of server memory per idle connected socket at [`IDLE_SOCKETS`].
fn idle_memory(harness: &Path, server: &Server) -> Result<f64, String> {
    std::thread::sleep(std::time::Duration::from_secs(1));
    let before = tree_rss_kib(server.child.id());
    let mut idle = Command::new("taskset")
        .arg("-c")
        .arg(HARNESS_CORE)
        .arg(harness)
        .args(["idle", &server.url, &IDLE_SOCKETS.to_string(), "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the idle clients: {e}"))?;
    let stdout = idle.stdout.take().ok_or("no stdout")?;
    let joined = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("\"connected\""));
    let result = if joined {
        std::thread::sleep(std::time::Duration::from_secs(3));
        let after = tree_rss_kib(server.child.id());
        Ok((after - before) * 1024.0 / IDLE_SOCKETS as f64)
    } else {
        Err(format!(
            "{IDLE_SOCKETS} idle clients did not all join {}",
            server.url
        ))
    };
    let _ = idle.kill();
    let _ = idle.wait();
    result
}

/// The fan-out servers, each pinned to [`SERVER_CORE`]: (label, program, args, dir).
fn fanout_servers<'a>(
    sockscope: &'a str,
    harness: &'a str,
    node_dir: &'a Path,
    root: &'a Path,
) -> Vec<(&'static str, Vec<&'a str>, &'a Path)> {
    vec![
        (
            "Sockscope gateway",
            vec![sockscope, "serve", "--port", "0"],
            root,
        ),
        (
            "Node socket.io 4.8, 1 process",
            vec!["node", "fanout-server.mjs"],
            node_dir,
        ),
        ("raw-websocket ceiling", vec![harness, "ceiling"], root),
    ]
}

/// `program args` under `taskset -c core`.
pub(crate) fn pinned<'a>(core: &'a str, program_and_args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["-c", core];
    v.extend_from_slice(program_and_args);
    v
}

/// The ratio of Sockscope to the ceiling, when the ceiling is one: it must measure
/// above the server it bounds, else the run says the ceiling is invalid.
fn ceiling_ratio(server: f64, ceiling: f64) -> Result<f64, String> {
    if ceiling.is_finite() && server.is_finite() && ceiling > server {
        Ok(server / ceiling)
    } else {
        Err(format!(
            "the ceiling ({ceiling:.0} deliveries/s) measured at or below Sockscope ({server:.0}) in this run, \
             so it bounds nothing here: no ratio quoted, the ceiling is invalid in this run"
        ))
    }
}

fn gateway() -> Result<Section, String> {
    let root = workspace::root();
    build_release()?;
    crate::setup::npm_ci("bench/node")?;
    let node_dir = root.join("bench/node");
    let release = workspace::target_dir()?.join("release");
    let harness = release.join("sockscope-bench");
    let sockscope_s = release.join("sockscope").to_string_lossy().into_owned();
    let harness_s = harness.to_string_lossy().into_owned();
    let node_version = output(Cmd::new("node").args(["--version"])).unwrap_or_default();
    let machine = machine();
    let taskset = Path::new("taskset");
    let servers = fanout_servers(&sockscope_s, &harness_s, &node_dir, &root);

    let mut figures: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut missing: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut loads = Vec::new();
    for round in 1..=ROUNDS {
        step(&format!("fan-out round {round}/{ROUNDS}"));
        loads.push(load_average());
        let mut order: Vec<usize> = (0..servers.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for i in order {
            let (label, command, dir) = &servers[i];
            let s = start(taskset, &pinned(SERVER_CORE, command), dir)?;
            let r = measure(&harness, &s.url)?;
            drop(s);
            match r {
                Ok(r) => {
                    println!("{label}: {r:.0} deliveries/s");
                    figures[i].push(r);
                }
                Err(lost) => {
                    println!("{label}: incomplete, {lost:.0} deliveries missing");
                    missing[i].push(lost);
                }
            }
        }
    }
    step(&format!("memory per idle socket at {IDLE_SOCKETS}"));
    let mut memory = Vec::new();
    let memory_load = load_average();
    for (label, command, dir) in [
        (
            "Sockscope gateway",
            vec![sockscope_s.as_str(), "serve", "--port", "0"],
            root.as_path(),
        ),
        (
            "Node socket.io, 1 process",
            vec!["node", "fanout-server.mjs"],
            node_dir.as_path(),
        ),
    ] {
        let s = start(taskset, &pinned(SERVER_CORE, &command), dir)?;
        let bytes = idle_memory(&harness, &s)?;
        println!("{label}: {bytes:.0} bytes per idle socket");
        memory.push((label, bytes));
    }
    let m: Vec<f64> = figures
        .iter()
        .map(|v| {
            if v.is_empty() {
                f64::NAN
            } else {
                median(v.clone())
            }
        })
        .collect();
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut rows = String::new();
    for (i, (label, ..)) in servers.iter().enumerate() {
        let incomplete = if missing[i].is_empty() {
            String::new()
        } else {
            format!(
                "; **{} incomplete round(s), deliveries missing: {}** (not in the median)",
                missing[i].len(),
                fmt(&missing[i])
            )
        };
        rows.push_str(&format!(
            "| {label} | {:.0} | {}{incomplete} |\n",
            m[i],
            fmt(&figures[i])
        ));
    }
    let mem_rows: String = memory
        .iter()
        .map(|(l, b)| format!("| {l} | {:.1} |\n", b / 1024.0))
        .collect();
    let (ours, node, ceiling) = (m[0], m[1], m[2]);
    let vs_ceiling = match ceiling_ratio(ours, ceiling) {
        Ok(r) => format!("Sockscope / ceiling: {:.0}%.", 100.0 * r),
        Err(why) => format!("Sockscope / ceiling: none; {why}."),
    };
    let (mem_ours, mem_node) = (memory[0].1, memory[1].1);
    let table = format!(
        "## gateway: broadcast fan-out\n\n\
         Machine: {machine}; load average before each round: {}; before the memory runs: {memory_load}.\n\n\
         Harness (`bench/fanout`, the same for every server): {CLIENTS} websocket clients speaking raw \
         Engine.IO v4 join `/`, then {BROADCASTS} broadcasts of a ~{PAYLOAD}-byte event, each triggered by `POST /emit` \
         ({IN_FLIGHT} in flight); deliveries/s = clients x broadcasts / time to the last delivery. {ROUNDS} rounds, \
         each running every server once, in reverse order on even rounds; medians.\n\n\
         Cores: the harness runs under `taskset -c {HARNESS_CORE}`, every server under `taskset -c {SERVER_CORE}`, \
         so the server under test has one core to itself (as far as the other load on the machine allows) and \
         never competes with the clients it serves.\n\n\
         - Sockscope: `sockscope serve --port 0` (release; a tokio runtime on its one core).\n\
         - Node: `bench/node/fanout-server.mjs`, one socket.io 4.8 process (Node {}).\n\
         - Ceiling: `sockscope-bench ceiling`, raw websockets written by hand: handshake answered directly, \
         `TCP_NODELAY`, `POST /emit` on keep-alive encodes the packet once as a complete websocket frame \
         (`Bytes`) and sends it on a broadcast channel; every connection has its own writer task owning its \
         write half (no lock) that writes every frame waiting in one vectored write (no rooms, adapter, \
         per-socket encoding or copies). A ratio to it is quoted only when it measured above Sockscope.\n\n\
         | server (pinned to core {SERVER_CORE}) | median deliveries/s | all rounds |\n|---|---:|---|\n{rows}\n\
         **Sockscope / Node: {:.2}x (one core each). {vs_ceiling}**\n\n\
         Memory per idle connected socket: server RSS (with its children) after {IDLE_SOCKETS} idle clients joined \
         `/` and 3 s passed, minus its RSS before they connected, over {IDLE_SOCKETS}. One run each, same pinning.\n\n\
         | server | KiB per idle socket |\n|---|---:|\n{mem_rows}\n\
         Caveats: the ceiling is a ceiling for this harness on this machine, not for the hardware; other load on \
         the machine (see the load averages) lands on either core.\n\n",
        loads.join(", "),
        node_version.trim(),
        ours / node,
    );
    let ceiling_target = match ceiling_ratio(ours, ceiling) {
        Ok(r) => Target::judged(
            "the ceiling measures above Sockscope (a valid bound)",
            format!("ceiling {ceiling:.0}, Sockscope {ours:.0} deliveries/s: Sockscope at {:.0}%", 100.0 * r),
            true,
        ),
        Err(_) => Target::judged(
            "the ceiling measures above Sockscope (a valid bound)",
            format!("ceiling {ceiling:.0}, Sockscope {ours:.0} deliveries/s: ceiling invalid in this run"),
            false,
        ),
    };
    Ok(Section {
        body: table,
        pinning: format!("servers `taskset -c {SERVER_CORE}`, harness `taskset -c {HARNESS_CORE}`"),
        targets: vec![
            Target::judged(
                "memory per idle socket <= Node socket.io's (issue 24)",
                format!(
                    "{:.1} KiB vs Node {:.1} KiB",
                    mem_ours / 1024.0,
                    mem_node / 1024.0
                ),
                mem_ours <= mem_node,
            ),
            Target::unjudged(
                "Sockscope / Node deliveries/s, one core each (no target set)",
                format!("{:.2}x", ours / node),
            ),
            ceiling_target,
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_and_medians() {
        assert_eq!(
            number_field(
                r#"{"a":1,"deliveries_per_sec":123.5,"b":2}"#,
                "deliveries_per_sec"
            ),
            Some(123.5)
        );
        assert_eq!(
            number_field(r#"{"deliveries_per_sec":7}"#, "deliveries_per_sec"),
            Some(7.0)
        );
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn a_ceiling_below_the_server_gives_no_ratio() {
        assert_eq!(ceiling_ratio(50.0, 100.0), Ok(0.5));
        assert!(ceiling_ratio(150.0, 100.0).is_err());
        assert!(ceiling_ratio(100.0, 100.0).is_err());
        assert!(ceiling_ratio(100.0, f64::NAN).is_err());
    }
}
