//! `cargo xtask bench cluster`: the gateway fan-out (same harness, `bench/fanout`,
//! same 1,000 clients, broadcasts and payload as `bench gateway`) with the clients
//! spread over two `sockscope serve --redis` nodes, against all of them on one node:
//! alone (no Redis) and alone on Redis (a one-node cluster, which isolates what the
//! Redis hop costs a broadcast). One redis-server, started here on a free loopback
//! port with its own data dir and stopped at the end. Rounds alternate the order.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::report::{Section, Target};
use super::{
    build_release, machine, measure, median, pinned, start, Server, BROADCASTS, CLIENTS,
    HARNESS_CORE, PAYLOAD, ROUNDS, SERVER_CORE,
};
use crate::{step, workspace};

/// A redis-server of the benchmark's own; killed (and its dir removed) when dropped.
struct Redis {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn pong(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

fn start_redis(bin: &str) -> Result<Redis, String> {
    let port = free_port()?;
    let dir = std::env::temp_dir().join(format!("sockscope-bench-redis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let child = Command::new("taskset")
        .args(["-c", SERVER_CORE, bin])
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {bin}: {e}"))?;
    let redis = Redis {
        child,
        dir,
        url: format!("redis://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while !pong(port) {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("redis-server did not answer on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(redis)
}

/// The servers of one setup, and the URL list the harness gets.
fn start_setup(sockscope: &Path, redis: &Redis, setup: usize) -> Result<Vec<Server>, String> {
    let root = workspace::root();
    let node = |clustered: bool| {
        let sockscope = sockscope.to_string_lossy();
        let mut args = vec![sockscope.as_ref(), "serve", "--port", "0"];
        if clustered {
            args.extend(["--redis", redis.url.as_str()]);
        }
        start(Path::new("taskset"), &pinned(SERVER_CORE, &args), &root)
    };
    match setup {
        0 => Ok(vec![node(false)?]),
        1 => Ok(vec![node(true)?]),
        _ => Ok(vec![node(true)?, node(true)?]),
    }
}

const SETUPS: [&str; 3] = [
    "1 node, no Redis (1,000 clients on it)",
    "1 node on Redis (1,000 clients on it)",
    "2 nodes on Redis (500 + 500 clients)",
];

pub(crate) fn cluster() -> Result<Section, String> {
    let redis_bin = crate::setup::redis_server()?;
    build_release()?;
    let release = workspace::target_dir()?.join("release");
    let harness = release.join("sockscope-bench");
    let sockscope = release.join("sockscope");
    let machine = machine();
    let version = crate::command::output(crate::command::Cmd::new(&redis_bin).args(["--version"]))
        .unwrap_or_default();
    let redis = start_redis(&redis_bin)?;
    let mut figures: Vec<Vec<f64>> = vec![Vec::new(); SETUPS.len()];
    let mut missing: Vec<Vec<f64>> = vec![Vec::new(); SETUPS.len()];
    for round in 1..=ROUNDS {
        let mut order: Vec<usize> = (0..SETUPS.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for i in order {
            step(&format!(
                "cluster fan-out round {round}/{ROUNDS}: {}",
                SETUPS[i]
            ));
            let servers = start_setup(&sockscope, &redis, i)?;
            let urls: Vec<&str> = servers.iter().map(|s| s.url.as_str()).collect();
            // Every node has subscribed on Redis before it prints `listening on`.
            match measure(&harness, &urls.join(","))? {
                Ok(rate) => figures[i].push(rate),
                Err(lost) => missing[i].push(lost),
            }
            drop(servers);
        }
    }
    drop(redis);
    let med: Vec<Option<f64>> = figures
        .iter()
        .map(|f| (!f.is_empty()).then(|| median(f.clone())))
        .collect();
    let rows: String = SETUPS
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let all = figures[i]
                .iter()
                .map(|x| format!("{x:.0}"))
                .chain(
                    missing[i]
                        .iter()
                        .map(|m| format!("incomplete ({m:.0} lost)")),
                )
                .collect::<Vec<_>>()
                .join(", ");
            let m = med[i].map_or("-".to_owned(), |m| format!("{m:.0}"));
            format!("| {label} | {m} | {all} |\n")
        })
        .collect();
    // Time per broadcast (all 1,000 deliveries) and what the Redis hop adds to it.
    let per = |r: f64| CLIENTS as f64 / r * 1e6;
    let hop = match (med[0], med[1], med[2]) {
        (Some(alone), Some(one), Some(two)) => format!(
            "**Cost of the Redis hop:** a broadcast to 1,000 clients takes {:.0} µs of throughput on one node alone, \
             {:.0} µs on one node on Redis (+{:.0} µs, {:+.0}% deliveries/s: the publish to Redis and the cluster-wide \
             recipient count `POST /emit` answers with), {:.0} µs over two nodes ({:+.0}% deliveries/s against one node \
             alone: the second node gets each broadcast from Redis and writes to its 500 sockets while the first \
             writes to its own).\n\n",
            per(alone),
            per(one),
            per(one) - per(alone),
            (one / alone - 1.0) * 100.0,
            per(two),
            (two / alone - 1.0) * 100.0,
        ),
        _ => "**Cost of the Redis hop:** not computed, a setup did not complete a round.\n\n".to_owned(),
    };
    let table = format!(
        "## cluster: fan-out over 2 nodes on Redis vs 1 node\n\n\
         Machine: {machine}. {}.\n\n\
         Harness (`bench/fanout`, as in `bench gateway`): {CLIENTS} websocket clients spread round-robin over the \
         nodes, {BROADCASTS} broadcasts of a ~{PAYLOAD}-byte event asked of the first node through `POST /emit`, \
         {ROUNDS} rounds, each running every setup once, in reverse order on even rounds; medians. Nodes are \
         release `sockscope serve --port 0 [--redis URL]`; one redis-server started by the benchmark \
         (`--save '' --appendonly no`, own data dir). Cores: the harness under `taskset -c {HARNESS_CORE}`, the \
         nodes and Redis under `taskset -c {SERVER_CORE}` (as in `bench gateway`).\n\n\
         | setup | median deliveries/s | all rounds |\n|---|---:|---|\n{rows}\n\
         {hop}\
         Caveats: both nodes and Redis share one core, so two nodes here cannot show the \
         scaling two machines would; what the table shows is what clustering costs per broadcast, not what it buys.\n\n",
        version.trim(),
    );
    let figure = |i: usize| med[i].map_or("incomplete".to_owned(), |m| format!("{m:.0}"));
    Ok(Section {
        body: table,
        pinning: format!(
            "nodes and Redis `taskset -c {SERVER_CORE}`, harness `taskset -c {HARNESS_CORE}`"
        ),
        targets: vec![Target::unjudged(
            "deliveries/s: 1 node alone / 1 node on Redis / 2 nodes on Redis (no target set)",
            format!("{} / {} / {}", figure(0), figure(1), figure(2)),
        )],
    })
}
