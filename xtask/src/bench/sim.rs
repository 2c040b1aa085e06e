//! `cargo xtask bench simulate`: one `sockscope serve --profile analytics` release process per run,
//!   loaded either by Sockscope's simulator (`sockscope-bench simulate`, the
//!   `analytics-dashboard` scenario) or by Artillery's socketio engine doing the
//!   same connect to `/dashboard` only + subscribe + stay until the end of the run;
//!   alternating rounds at 1,000, 5,000 and 10,000 clients. The gateway runs on one
//!   core, either load generator on the other. CPU time and peak RSS of each load
//!   generator come from `/usr/bin/time`; the headline is the marginal cost, the
//!   slope of a least-squares fit of CPU seconds against client-seconds over every
//!   run, beside the per-count figures net of each tool's start-up run (one client).
//!   Sockets connected and subscribed are counted by the gateway (`GET /inspect`)
//!   while the load holds.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::report::{Section, Target};
use super::{load_average, median, number_field, pinned, start, Server, HARNESS_CORE, SERVER_CORE};
use crate::command::{output, Cmd};
use crate::{step, workspace};

/// Alternating rounds per client count.
const CMP_ROUNDS: usize = 3;
/// (clients, ramp s, hold s): connects are spread over the ramp; every client of
/// both tools stays connected until `hold` after its tool's run started. The same
/// ramp and hold at every count, so the fit's points differ in clients alone.
const SIZES: [(usize, u64, u64); 3] = [(1_000, 15, 30), (5_000, 15, 30), (10_000, 15, 30)];
/// The start-up run of each tool: one client, this ramp and hold; its CPU is each
/// tool's start-up and shut-down, subtracted from every load run of that tool.
const STARTUP: (usize, u64, u64) = (1, 1, 2);

fn release_dir() -> Result<PathBuf, String> {
    Ok(workspace::target_dir()?.join("release"))
}

fn fmt_all(v: &[f64], digits: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.digits$}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What one load-generator run measured.
#[derive(Debug, Default, Clone)]
struct Load {
    /// Most sockets the gateway had in `/dashboard` at one poll.
    peak_sockets: usize,
    /// Of those (at the same poll), sockets that had joined an entity room.
    peak_subscribed: usize,
    /// Most sockets the gateway had in any other namespace at one poll (0 when
    /// both tools open only `/dashboard`).
    peak_other: usize,
    cpu_s: f64,
    max_rss_kib: f64,
    /// The load generator's own JSON line (simulator) or summary (Artillery).
    detail: String,
}

/// Polls the gateway's `/inspect` every second until `stop`; keeps the peak.
fn poll_gateway(
    url: String,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, usize, usize)> {
    std::thread::spawn(move || {
        let (mut peak, mut peak_sub, mut peak_other) = (0, 0, 0);
        let inspect = format!("{url}/inspect");
        let auth = format!("Authorization: Bearer {}", api_token());
        while !stop.load(Ordering::Relaxed) {
            if let Some(body) =
                output(Cmd::new("curl").args(["-s", "--max-time", "5", "-H", &auth, &inspect]))
            {
                let (sockets, subscribed) = count_sockets(&body);
                if subscribed > peak_sub || (subscribed == peak_sub && sockets > peak) {
                    peak = sockets;
                    peak_sub = subscribed;
                }
                peak_other = peak_other.max(other_sockets(&body));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        (peak, peak_sub, peak_other)
    })
}

/// Sockets in an `/inspect` body outside `/dashboard`.
fn other_sockets(body: &str) -> usize {
    body.split("{\"name\":\"/")
        .skip(1)
        .filter(|ns| !ns.starts_with("dashboard\""))
        .map(|ns| ns.matches("{\"id\":").count())
        .sum()
}

/// Sockets in an `/inspect` body, and those among them in an entity room.
fn count_sockets(body: &str) -> (usize, usize) {
    let mut sockets = 0;
    let mut subscribed = 0;
    let dashboard = body
        .split("{\"name\":\"/")
        .find(|ns| ns.starts_with("dashboard\""))
        .unwrap_or_default();
    for part in dashboard.split("{\"id\":").skip(1) {
        sockets += 1;
        let rooms = part
            .find("\"rooms\":[")
            .map(|at| &part[at + 9..])
            .and_then(|r| r.find(']').map(|end| &r[..end]))
            .unwrap_or_default();
        if rooms.contains("entity") {
            subscribed += 1;
        }
    }
    (sockets, subscribed)
}

/// Runs `cmd` (program + args) under `/usr/bin/time` in `dir` while polling the
/// gateway; returns the load's measurements and the program's stdout.
fn measure_load(
    url: &str,
    program: &str,
    args: &[String],
    dir: &Path,
    env: &[(&str, &str)],
) -> Result<(Load, String), String> {
    let times = std::env::temp_dir().join(format!("sockscope-bench-time-{}", std::process::id()));
    let stop = Arc::new(AtomicBool::new(false));
    let poller = poll_gateway(url.to_owned(), stop.clone());
    let mut cmd = Cmd::new("taskset")
        .args(["-c", HARNESS_CORE, "/usr/bin/time", "-f", "%U %S %M", "-o"])
        .args([times.to_string_lossy().as_ref(), program])
        .args(args)
        .dir(dir);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let started = Instant::now();
    let out = output(cmd);
    stop.store(true, Ordering::Relaxed);
    let (peak_sockets, peak_subscribed, peak_other) =
        poller.join().map_err(|_| "the gateway poller panicked")?;
    let out = out.ok_or_else(|| format!("{program} failed after {:?}", started.elapsed()))?;
    let t = std::fs::read_to_string(&times)
        .map_err(|e| format!("cannot read {}: {e}", times.display()))?;
    let _ = std::fs::remove_file(&times);
    let f: Vec<f64> = t
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let [user, sys, rss] = f[..] else {
        return Err(format!("unexpected /usr/bin/time output {t:?}"));
    };
    Ok((
        Load {
            peak_sockets,
            peak_subscribed,
            peak_other,
            cpu_s: user + sys,
            max_rss_kib: rss,
            detail: String::new(),
        },
        out,
    ))
}

/// The gateway's HTTP API token for this run (a gateway that verifies JWTs guards
/// `/inspect`).
fn api_token() -> String {
    format!("sockscope-bench-api-{}", std::process::id())
}

/// A fresh analytics gateway (release `sockscope serve`) with the run's secret.
/// Only the profile's namespaces: both load generators open `/dashboard` alone.
fn gateway(secret: &str) -> Result<Server, String> {
    let api = api_token();
    let sockscope = release_dir()?.join("sockscope");
    let sockscope = sockscope.to_string_lossy();
    start(
        Path::new("taskset"),
        &pinned(
            SERVER_CORE,
            &[
                sockscope.as_ref(),
                "serve",
                "--profile",
                "analytics",
                "--port",
                "0",
                "--jwt-secret",
                secret,
                "--api-token",
                &api,
            ],
        ),
        &workspace::root(),
    )
}

fn simulator(
    url: &str,
    clients: usize,
    ramp: u64,
    hold: u64,
    secret: &str,
) -> Result<Load, String> {
    let harness = release_dir()?.join("sockscope-bench");
    let args = [
        "simulate".to_owned(),
        url.to_owned(),
        clients.to_string(),
        hold.to_string(),
        ramp.to_string(),
        secret.to_owned(),
    ];
    let (mut load, out) = measure_load(
        url,
        &harness.to_string_lossy(),
        &args,
        &workspace::root(),
        &[],
    )?;
    load.detail = out.trim().to_owned();
    Ok(load)
}

/// The Artillery script: the same connect (websocket, JWT in `auth`), subscribe and
/// stay as the `analytics-dashboard` scenario. The target URL names `/dashboard`, so
/// the socketio engine's own first socket (it always opens the target's namespace
/// before the flow runs) is the `/dashboard` socket and no `/` socket is opened; the
/// emit uses that socket. `holdUntilEnd` (bench/node/artillery-hold.cjs) sets the
/// think time so every user stays until HOLD after the run's start.
fn artillery_script(url: &str, clients: usize, ramp: u64, token: &str) -> String {
    format!(
        "config:\n  target: \"{url}/dashboard\"\n  processor: \"./artillery-hold.cjs\"\n  phases:\n    - duration: {ramp}\n      arrivalCount: {clients}\n  \
         socketio:\n    transports: [\"websocket\"]\n    auth:\n      token: \"{token}\"\n\
         scenarios:\n  - name: analytics-dashboard\n    engine: socketio\n    flow:\n      \
         - emit:\n          channel: \"subscribe\"\n          \
         data:\n            entityId: \"acme-entity-{{{{ $randomNumber(0, 9) }}}}\"\n            entityType: \"event\"\n      \
         - function: \"holdUntilEnd\"\n      \
         - think: \"{{{{ holdMs }}}}\"\n"
    )
}

fn artillery(url: &str, clients: usize, ramp: u64, hold: u64, token: &str) -> Result<Load, String> {
    let dir = workspace::root().join("bench/node");
    // The processor is resolved relative to the script: keep the script in bench/node.
    let script = dir.join(format!(".artillery-{}.yml", std::process::id()));
    let report =
        std::env::temp_dir().join(format!("sockscope-artillery-{}.json", std::process::id()));
    std::fs::write(&script, artillery_script(url, clients, ramp, token))
        .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let args = [
        "node_modules/artillery/bin/run".to_owned(),
        "run".to_owned(),
        "--output".to_owned(),
        report.to_string_lossy().into_owned(),
        script.to_string_lossy().into_owned(),
    ];
    let hold_s = hold.to_string();
    let env = [
        ("ARTILLERY_DISABLE_TELEMETRY", "true"),
        ("DO_NOT_TRACK", "1"),
        ("SOCKSCOPE_HOLD_S", hold_s.as_str()),
    ];
    let measured = measure_load(url, "node", &args, &dir, &env);
    let _ = std::fs::remove_file(&script);
    let (mut load, _) = measured?;
    let json = std::fs::read_to_string(&report).unwrap_or_default();
    let counters = json
        .find("\"aggregate\"")
        .and_then(|a| json[a..].find("\"counters\"").map(|c| a + c))
        .map(|c| &json[c..])
        .unwrap_or_default();
    let field = |k: &str| number_field(counters, k).unwrap_or(0.0);
    load.detail = format!(
        "vusers.created {}, vusers.completed {}, vusers.failed {}, socketio.emit {}",
        field("vusers.created"),
        field("vusers.completed"),
        field("vusers.failed"),
        field("socketio.emit")
    );
    let _ = std::fs::remove_file(&report);
    Ok(load)
}

/// An HS256 JWT (`sub`, `tenantId` = acme) for Artillery's clients, minted by Node.
fn mint_token(secret: &str) -> Result<String, String> {
    let js = "const c=require('crypto');const b=o=>Buffer.from(JSON.stringify(o)).toString('base64url');\
              const n=Math.floor(Date.now()/1000);const h=b({alg:'HS256',typ:'JWT'})+'.'+b({sub:'artillery',tenantId:'acme',iat:n,exp:n+86400});\
              process.stdout.write(h+'.'+c.createHmac('sha256',process.argv[1]).update(h).digest('base64url'))";
    output(Cmd::new("node").args(["-e", js, secret]))
        .map(|t| t.trim().to_owned())
        .filter(|t| t.split('.').count() == 3)
        .ok_or_else(|| "cannot mint a JWT with node".to_owned())
}

/// The two load generators.
#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Sockscope,
    Artillery,
}

/// One load run of `tool` against a fresh gateway, printed as it ends.
fn load_run(
    tool: Tool,
    (clients, ramp, hold): (usize, u64, u64),
    secret: &str,
    token: &str,
) -> Result<Load, String> {
    let g = gateway(secret)?;
    let load = match tool {
        Tool::Sockscope => simulator(&g.url, clients, ramp, hold, secret),
        Tool::Artillery => artillery(&g.url, clients, ramp, hold, token),
    };
    drop(g);
    let load = load?;
    println!(
        "{}: {clients} asked, {} sockets in /dashboard, {} subscribed, {} elsewhere, {:.2} CPU s, \
         {:.0} MiB peak RSS, load average {} ({})",
        match tool {
            Tool::Sockscope => "sockscope simulator",
            Tool::Artillery => "artillery",
        },
        load.peak_sockets,
        load.peak_subscribed,
        load.peak_other,
        load.cpu_s,
        load.max_rss_kib / 1024.0,
        load_average(),
        load.detail
    );
    Ok(load)
}

/// Every round of one tool at one client count, with the start-up CPU to subtract.
struct Series {
    runs: Vec<Load>,
    loads: Vec<String>,
}

impl Series {
    fn med(&self, f: impl Fn(&Load) -> f64) -> f64 {
        median(self.runs.iter().map(f).collect())
    }
    fn all(&self, f: impl Fn(&Load) -> f64, digits: usize) -> String {
        fmt_all(&self.runs.iter().map(f).collect::<Vec<_>>(), digits)
    }
}

/// CPU seconds of a load run beyond the tool's start-up run.
fn net_cpu(l: &Load, startup: f64) -> f64 {
    (l.cpu_s - startup).max(0.0)
}

/// Net CPU milliseconds per client held subscribed.
fn net_ms_per_client(l: &Load, startup: f64) -> f64 {
    1000.0 * net_cpu(l, startup) / l.peak_subscribed.max(1) as f64
}

/// Client-seconds of a run: client i of n connects at ramp x i / n and stays until
/// `hold`, so together they are connected n x hold - ramp x (n - 1) / 2 seconds;
/// n = the clients the gateway saw subscribed.
fn client_seconds(l: &Load, ramp: u64, hold: u64) -> f64 {
    let n = l.peak_subscribed as f64;
    if n == 0.0 {
        return 0.0;
    }
    n * hold as f64 - ramp as f64 * (n - 1.0) / 2.0
}

/// A least-squares line y = intercept + slope x through `points`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fit {
    slope: f64,
    intercept: f64,
    /// Coefficient of determination (1 = every point on the line).
    r2: f64,
}

fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let ss_tot: f64 = points.iter().map(|p| (p.1 - my).powi(2)).sum();
    let ss_res: f64 = points
        .iter()
        .map(|p| (p.1 - intercept - slope * p.0).powi(2))
        .sum();
    let r2 = if ss_tot == 0.0 {
        1.0
    } else {
        1.0 - ss_res / ss_tot
    };
    Some(Fit {
        slope,
        intercept,
        r2,
    })
}

/// Sockscope's simulator vs Artillery: start-up runs, then alternating rounds at
/// each client count in [`SIZES`].
pub fn simulate() -> Result<Section, String> {
    super::build_release()?;
    crate::setup::npm_ci("bench/node")?;
    let node_dir = workspace::root().join("bench/node");
    let artillery_version = output(
        Cmd::new("node")
            .args([
                "-p",
                "require('./node_modules/artillery/package.json').version",
            ])
            .dir(&node_dir),
    )
    .unwrap_or_default();
    let artillery_version = artillery_version.trim();
    let secret = format!("sockscope-bench-{}", std::process::id());
    let token = mint_token(&secret)?;
    let machine = super::machine();

    step("start-up runs (1 client, ramp 1 s, hold 2 s), alternating");
    let (mut s_up, mut a_up) = (Vec::new(), Vec::new());
    for round in 1..=CMP_ROUNDS {
        let order = if round % 2 == 1 {
            [Tool::Sockscope, Tool::Artillery]
        } else {
            [Tool::Artillery, Tool::Sockscope]
        };
        for tool in order {
            let l = load_run(tool, STARTUP, &secret, &token)?;
            match tool {
                Tool::Sockscope => s_up.push(l.cpu_s),
                Tool::Artillery => a_up.push(l.cpu_s),
            }
        }
    }
    let (s_startup, a_startup) = (median(s_up.clone()), median(a_up.clone()));

    let mut sections = String::new();
    let mut headline = Vec::new();
    // (client-seconds, CPU s) and (clients, peak RSS KiB) of every run, per tool.
    let (mut s_cpu_pts, mut a_cpu_pts) = (Vec::new(), Vec::new());
    let (mut s_rss_pts, mut a_rss_pts) = (Vec::new(), Vec::new());
    let mut fit_rows = String::new();
    for size in SIZES {
        let (clients, ramp, hold) = size;
        let mut ours = Series {
            runs: Vec::new(),
            loads: Vec::new(),
        };
        let mut theirs = Series {
            runs: Vec::new(),
            loads: Vec::new(),
        };
        for round in 1..=CMP_ROUNDS {
            step(&format!(
                "round {round}/{CMP_ROUNDS}: {clients} clients each"
            ));
            let order = if round % 2 == 1 {
                [Tool::Sockscope, Tool::Artillery]
            } else {
                [Tool::Artillery, Tool::Sockscope]
            };
            for tool in order {
                let series = match tool {
                    Tool::Sockscope => &mut ours,
                    Tool::Artillery => &mut theirs,
                };
                series.loads.push(load_average());
                series.runs.push(load_run(tool, size, &secret, &token)?);
            }
        }
        for (series, cpu_pts, rss_pts) in [
            (&ours, &mut s_cpu_pts, &mut s_rss_pts),
            (&theirs, &mut a_cpu_pts, &mut a_rss_pts),
        ] {
            for l in &series.runs {
                cpu_pts.push((client_seconds(l, ramp, hold), l.cpu_s));
                rss_pts.push((l.peak_subscribed as f64, l.max_rss_kib));
            }
        }
        fit_rows.push_str(&format!(
            "| {clients} | {} | {} | {} | {} |\n",
            ours.all(|l| client_seconds(l, ramp, hold), 0),
            ours.all(|l| l.cpu_s, 2),
            theirs.all(|l| client_seconds(l, ramp, hold), 0),
            theirs.all(|l| l.cpu_s, 2),
        ));
        let sustained = |l: &Load| l.peak_subscribed as f64;
        let rss = |l: &Load| l.max_rss_kib / 1024.0;
        let (o_sus, t_sus) = (ours.med(sustained), theirs.med(sustained));
        let o_cpc = ours.med(|l| net_ms_per_client(l, s_startup));
        let t_cpc = theirs.med(|l| net_ms_per_client(l, a_startup));
        let other = ours
            .runs
            .iter()
            .chain(&theirs.runs)
            .map(|l| l.peak_other)
            .max()
            .unwrap_or(0);
        let sus_ratio = o_sus / t_sus.max(1.0);
        let cpu_ratio = t_cpc / o_cpc.max(f64::MIN_POSITIVE);
        headline.push(format!(
            "at {clients} clients: sustained {sus_ratio:.2}x, net CPU per client {cpu_ratio:.1}x less"
        ));
        let row = |name: &str, s: &Series, startup: f64| {
            format!(
                "| {name} | {:.0} ({}) | {:.2} ({}) | {:.2} ({}) | {:.2} | {:.0} ({}) | {} |\n",
                s.med(sustained),
                s.all(sustained, 0),
                s.med(|l| l.cpu_s),
                s.all(|l| l.cpu_s, 2),
                s.med(|l| net_cpu(l, startup)),
                s.all(|l| net_cpu(l, startup), 2),
                s.med(|l| net_ms_per_client(l, startup)),
                s.med(rss),
                s.all(rss, 0),
                s.loads.join(", "),
            )
        };
        sections.push_str(&format!(
            "#### {clients} clients (ramp {ramp} s, every client held until {hold} s)\n\n\
             | load generator | sustained: median (rounds) | CPU s: median (rounds) | net CPU s: median (rounds) | \
             net CPU ms per sustained client (median) | peak RSS MiB: median (rounds) | load average before each round |\n\
             |---|---|---|---|---:|---|---|\n{}{}\n\
             Sockets in any namespace other than `/dashboard` at any poll, either tool: {other}. \
             Artillery's own counts, last round: {}. Sockscope's simulator, last round: `{}`.\n\n\
             **Sockscope / Artillery at {clients} clients: clients sustained {sus_ratio:.2}x; net CPU per \
             sustained client {cpu_ratio:.1}x less.**\n\n",
            row("Sockscope simulator", &ours, s_startup),
            row(&format!("Artillery {artillery_version}"), &theirs, a_startup),
            theirs.runs.last().map_or("", |l| l.detail.as_str()),
            ours.runs.last().map_or("", |l| l.detail.as_str()),
        ));
    }
    let (s_fit, a_fit) = (fit(&s_cpu_pts), fit(&a_cpu_pts));
    let (s_mem, a_mem) = (fit(&s_rss_pts), fit(&a_rss_pts));
    let us = |f: Option<Fit>| f.map_or("no fit".to_owned(), |f| format!("{:.1}", f.slope * 1e6));
    let fixed = |f: Option<Fit>| f.map_or("-".to_owned(), |f| format!("{:.2}", f.intercept));
    let r2 = |f: Option<Fit>| f.map_or("-".to_owned(), |f| format!("{:.3}", f.r2));
    let kib = |f: Option<Fit>| f.map_or("no fit".to_owned(), |f| format!("{:.1}", f.slope));
    let marginal = match (s_fit, a_fit) {
        (Some(s), Some(a)) if s.slope > 0.0 => Some(a.slope / s.slope),
        _ => None,
    };
    let marginal_text = marginal.map_or_else(
        || "not computed (a fit failed or Sockscope's slope is not positive)".to_owned(),
        |r| format!("{r:.1}x less CPU per client-second"),
    );
    let table = format!(
        "## simulate: virtual clients vs Artillery\n\n\
         Machine: {machine}. The gateway is a separate `sockscope serve --profile analytics --jwt-secret ...` \
         release process, fresh for every load run, under `taskset -c {SERVER_CORE}`; either load generator \
         runs under `taskset -c {HARNESS_CORE}` (one core each tool, the same core for both).\n\n\
         Both tools do the same per virtual client: one websocket (no polling) to `/dashboard` only, \
         an HS256 JWT in the handshake's `auth`, emit `subscribe {{entityId, entityType: event}}`, then stay \
         connected receiving `metric:update` ticks (one per entity per second) until the end of the run; \
         client i connects at ramp x i / clients.\n\n\
         - **Sockscope**: the built-in `analytics-dashboard` scenario through `simulate::run` \
         (`sockscope-bench simulate`, the code `sockscope simulate` runs); every client leaves at `hold` after \
         the run's start. It also waits for the subscribe ack and `dashboard:initial` (more work than Artillery).\n\
         - **Artillery {artillery_version}** (`bench/node`, exact version in its lock file): socketio engine \
         (socket.io-client 4, websocket transport), target `URL/dashboard` so its one socket per user is the \
         `/dashboard` socket (its engine always opens the target's namespace first; with a bare URL it would \
         open `/` as well), one `emit`, then `think` until `hold` after its first user's arrival \
         (`bench/node/artillery-hold.cjs`).\n\n\
         Sustained = most sockets the gateway held in an entity room at one `GET /inspect` poll (1 s). CPU = \
         user+sys of the load-generator process over its whole life (`/usr/bin/time`). {CMP_ROUNDS} rounds per \
         client count, alternating which tool goes first; medians, every round in brackets.\n\n\
         ### Marginal cost: CPU per client-second\n\n\
         Every load run below is a point (client-seconds, CPU s): client-seconds = n x hold - ramp x (n - 1) / 2 \
         for the n clients the gateway saw subscribed (client i connects at ramp x i / n and stays until hold). \
         A least-squares line through each tool's {} points: its slope is the CPU one more client costs per \
         second it stays connected (its ticks, its share of connects and acks), its intercept what the tool \
         costs regardless of clients (start-up, reporting, shut-down).\n\n\
         | clients | Sockscope client-seconds (rounds) | Sockscope CPU s (rounds) | Artillery client-seconds (rounds) | Artillery CPU s (rounds) |\n\
         |---:|---|---|---|---|\n{fit_rows}\n\
         | load generator | marginal CPU µs per client-second (slope) | fixed CPU s (intercept) | R² | peak RSS KiB per added client (slope over clients) |\n\
         |---|---:|---:|---:|---:|\n\
         | Sockscope simulator | {} | {} | {} | {} |\n\
         | Artillery {artillery_version} | {} | {} | {} | {} |\n\n\
         **Headline, marginal (Sockscope / Artillery): {marginal_text}** (target >= 10x, issue 24).\n\n\
         ### Per client count, net of start-up\n\n\
         Start-up: each tool run with 1 client (ramp 1 s, hold 2 s), {CMP_ROUNDS} alternating rounds: Sockscope {} \
         CPU s (median; rounds {}), Artillery {} CPU s (rounds {}). Net CPU = CPU - that tool's median start-up. \
         These per-count ratios include each tool's fixed cost spread over its clients; the marginal ratio \
         above does not.\n\n{sections}\
         **Per-count ratios (Sockscope / Artillery): {}.**\n\n\
         Caveats: other load on the machine (see the load averages) lands on either core; peak RSS is \
         `/usr/bin/time`'s maximum resident set of the generator process.\n\n",
        s_cpu_pts.len(),
        us(s_fit),
        fixed(s_fit),
        r2(s_fit),
        kib(s_mem),
        us(a_fit),
        fixed(a_fit),
        r2(a_fit),
        kib(a_mem),
        fmt_all(&[s_startup], 2),
        fmt_all(&s_up, 2),
        fmt_all(&[a_startup], 2),
        fmt_all(&a_up, 2),
        headline.join("; "),
    );
    let mut targets = vec![match marginal {
        Some(r) => Target::judged(
            "marginal CPU per client-second >= 10x less than Artillery (issue 24)",
            format!(
                "{r:.1}x ({} vs {} µs per client-second)",
                us(s_fit),
                us(a_fit)
            ),
            r >= 10.0,
        ),
        None => Target::unjudged(
            "marginal CPU per client-second >= 10x less than Artillery (issue 24)",
            "no fit",
        ),
    }];
    if let Some(m) = s_mem {
        targets.push(Target::judged(
            "simulator peak RSS <= 8 KiB per added client (issue 24 says idle; these clients receive ticks)",
            format!("{:.1} KiB", m.slope),
            m.slope <= 8.0,
        ));
    }
    targets.push(Target::unjudged(
        "net CPU per sustained client, per count (today's figure; no target of its own)",
        headline.join("; "),
    ));
    Ok(Section {
        body: table,
        pinning: format!(
            "gateway `taskset -c {SERVER_CORE}`, load generator (either tool) `taskset -c {HARNESS_CORE}`"
        ),
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sockets_and_subscriptions() {
        let body = r#"{"namespaces":[{"name":"/dashboard","rooms":[{"name":"x","sockets":["a"]}],"sockets":[{"id":"a","rooms":["tenant:acme:entity:acme-entity-1"]},{"id":"b","rooms":["tenant:acme:user:u"]}]},{"name":"/","rooms":[],"sockets":[{"id":"c","rooms":[]}]}]}"#;
        assert_eq!(count_sockets(body), (2, 1));
        assert_eq!(other_sockets(body), 1);
    }

    #[test]
    fn the_fit_finds_the_marginal_cost_not_the_average() {
        // 2 s fixed + 25 µs per client-second: the average per client-second falls
        // with scale, the slope does not.
        let pts: Vec<(f64, f64)> = [30_000.0, 150_000.0, 300_000.0]
            .iter()
            .map(|&x| (x, 2.0 + 25e-6 * x))
            .collect();
        let f = fit(&pts).expect("a fit");
        assert!((f.slope - 25e-6).abs() < 1e-12, "{f:?}");
        assert!((f.intercept - 2.0).abs() < 1e-9, "{f:?}");
        assert!((f.r2 - 1.0).abs() < 1e-9);
        assert_eq!(fit(&[(1.0, 1.0)]), None);
        assert_eq!(fit(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }

    #[test]
    fn client_seconds_follow_the_ramp_and_hold() {
        let l = Load {
            peak_subscribed: 3,
            ..Load::default()
        };
        // Clients connect at 0, 5 and 10 s and stay until 30 s: 30 + 25 + 20.
        assert_eq!(client_seconds(&l, 15, 30), 75.0);
    }
}
