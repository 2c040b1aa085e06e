//! The fan-out harness behind `cargo xtask bench gateway`.
//!
//! It opens N raw websocket clients that speak just enough Engine.IO v4 / Socket.IO v5
//! to join the default namespace, answer pings and count `42` event frames, then asks
//! the server under test for K broadcasts through `POST /emit` and measures how fast
//! the N×K deliveries arrive. The clients are deliberately thin (no JSON parsing on
//! the hot path) so the server, not the harness, is what is measured; the same
//! harness drives every server in a run.
//!
//! Usage: `sockscope-bench fanout URL[,URL...] CLIENTS BROADCASTS PAYLOAD_BYTES`
//! (several URLs: the nodes of a cluster, clients spread round-robin, broadcasts
//! asked of the first),
//! `sockscope-bench store EVENTS ORDER`, `sockscope-bench store-sustained EVENTS RATE BURST`
//! (see `store.rs`),
//! `sockscope-bench replay-recording|replay-peer-server|replay-peer-client ...` (see
//! `replay.rs`) or
//! `sockscope-bench simulate URL CLIENTS DURATION_S RAMP_S SECRET` (see
//! `simulate.rs`). Prints one JSON object.

mod ceiling;
mod replay;
mod simulate;
mod store;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// Broadcast requests in flight at once.
const IN_FLIGHT: usize = 4;
const DEADLINE: Duration = Duration::from_secs(45);

#[derive(Default)]
struct Counters {
    connected: AtomicUsize,
    delivered: AtomicU64,
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let store_job = match args.as_slice() {
        [cmd, n, order] if cmd == "store" => Some(
            n.parse()
                .map_err(|_| format!("bad count {n:?}"))
                .and_then(|n| store::run(n, order == "recorder-first")),
        ),
        [cmd, db] if cmd == "store-count" => Some(store::count(db)),
        [cmd, paced, rate, burst] if cmd == "store-sustained" => {
            Some(match (paced.parse(), rate.parse(), burst.parse()) {
                (Ok(p), Ok(r), Ok(b)) => store::sustained(p, r, b),
                _ => Err("usage: store-sustained EVENTS RATE BURST".to_owned()),
            })
        }
        _ => None,
    };
    if let Some(result) = store_job {
        return report(result);
    }
    if let Some(code) = replay_or_simulate(&args) {
        return code;
    }
    let parsed = match args.as_slice() {
        [cmd, url, n, k, size] if cmd == "fanout" => n
            .parse::<usize>()
            .ok()
            .zip(k.parse::<usize>().ok())
            .zip(size.parse::<usize>().ok())
            .map(|((n, k), size)| (url.clone(), n, k, size)),
        _ => None,
    };
    let Some((url, clients, broadcasts, size)) = parsed else {
        eprintln!("usage: sockscope-bench fanout URL CLIENTS BROADCASTS PAYLOAD_BYTES");
        return std::process::ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sockscope-bench: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    report(rt.block_on(fanout(&url, clients, broadcasts, size)))
}

/// A command that needs the runtime, as parsed from the arguments.
type Job<'a> = dyn FnOnce(&tokio::runtime::Runtime) -> Result<serde_json::Value, String> + 'a;

/// Runs `replay` or `simulate` when `args` name one; None for other commands.
fn replay_or_simulate(args: &[String]) -> Option<std::process::ExitCode> {
    let bad = |what: &str| Err::<serde_json::Value, String>(format!("bad {what}"));
    let job: Box<Job<'_>> = match args {
        [cmd, path, n, spacing, dir] if cmd == "replay-recording" => {
            let (n, spacing) = (n.parse::<usize>(), spacing.parse::<i64>());
            Box::new(move |_: &tokio::runtime::Runtime| match (n, spacing) {
                (Ok(n), Ok(s)) if n > 0 && s > 0 => replay::recording(path, n, s, dir),
                _ => bad("replay-recording FILE EVENTS SPACING_US s2c|c2s"),
            })
        }
        [cmd, n, spacing] if cmd == "replay-peer-server" => {
            let (n, spacing) = (n.parse::<usize>(), spacing.parse::<u64>());
            Box::new(move |rt: &tokio::runtime::Runtime| match (n, spacing) {
                (Ok(n), Ok(s)) if n > 0 && s > 0 => rt.block_on(replay::peer_server(n, s)),
                _ => bad("replay-peer-server EVENTS SPACING_US"),
            })
        }
        [cmd, url, n, spacing] if cmd == "replay-peer-client" => {
            let (n, spacing) = (n.parse::<usize>(), spacing.parse::<u64>());
            Box::new(move |rt: &tokio::runtime::Runtime| match (n, spacing) {
                (Ok(n), Ok(s)) if n > 0 && s > 0 => rt.block_on(replay::peer_client(url, n, s)),
                _ => bad("replay-peer-client URL EVENTS SPACING_US"),
            })
        }
        [cmd] if cmd == "ceiling" => {
            Box::new(|rt: &tokio::runtime::Runtime| rt.block_on(ceiling::run()))
        }
        [cmd, url, n, secs] if cmd == "idle" => {
            let parsed = n.parse::<usize>().ok().zip(secs.parse::<u64>().ok());
            Box::new(move |rt: &tokio::runtime::Runtime| match parsed {
                Some((n, secs)) if n > 0 => rt.block_on(idle(url, n, secs)),
                _ => bad("idle URL CLIENTS HOLD_S"),
            })
        }
        [cmd, url, n, secs, ramp, secret] if cmd == "simulate" => {
            let parsed = n
                .parse::<usize>()
                .ok()
                .zip(secs.parse::<f64>().ok())
                .zip(ramp.parse::<f64>().ok());
            Box::new(move |rt: &tokio::runtime::Runtime| match parsed {
                Some(((n, secs), ramp)) if n > 0 && secs > ramp && ramp >= 0.0 => {
                    rt.block_on(simulate::run(
                        url,
                        n,
                        Duration::from_secs_f64(secs),
                        Duration::from_secs_f64(ramp),
                        secret,
                    ))
                }
                _ => bad("simulate URL CLIENTS DURATION_S RAMP_S SECRET"),
            })
        }
        _ => return None,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sockscope-bench: {e}");
            return Some(std::process::ExitCode::from(1));
        }
    };
    Some(report(job(&rt)))
}

/// The run's JSON on stdout, or its error on stderr with exit code 1.
fn report(result: Result<serde_json::Value, String>) -> std::process::ExitCode {
    match result {
        Ok(report) => {
            println!("{report}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sockscope-bench: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn client(ws_url: String, counters: Arc<Counters>) -> Result<(), String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .map_err(|e| format!("connect {ws_url}: {e}"))?;
    let mut joined = false;
    while let Some(frame) = ws.next().await {
        let text = match frame {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let b = text.as_bytes();
        match b {
            [b'0', ..] => ws
                .send(Message::Text("40".into()))
                .await
                .map_err(|e| e.to_string())?,
            [b'2'] => ws
                .send(Message::Text("3".into()))
                .await
                .map_err(|e| e.to_string())?,
            [b'4', b'0', ..] if !joined => {
                joined = true;
                counters.connected.fetch_add(1, Ordering::Relaxed);
            }
            [b'4', b'2', ..] => {
                counters.delivered.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
    Ok(())
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Result<(), String> {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > DEADLINE {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// `idle URL N HOLD_S`: N clients join `/` and stay idle; prints
/// `{"connected":N}` once all have joined (for the caller to read the server's
/// memory), then holds HOLD_S seconds and reports.
async fn idle(url: &str, n: usize, hold: u64) -> Result<serde_json::Value, String> {
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url.trim_end_matches('/').replacen("http", "ws", 1)
    );
    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    for i in 0..n {
        let (c, u) = (counters.clone(), ws_url.clone());
        tokio::spawn(async move {
            if let Err(e) = client(u, c).await {
                eprintln!("sockscope-bench: client: {e}");
            }
        });
        // Spread the connects so the server's accept backlog keeps up.
        if i % 200 == 199 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    wait_until("every client to join", || {
        counters.connected.load(Ordering::Relaxed) >= n
    })
    .await?;
    let connect_ms = start.elapsed().as_secs_f64() * 1000.0;
    println!("{}", json!({ "connected": n }));
    tokio::time::sleep(Duration::from_secs(hold)).await;
    Ok(json!({ "clients": n, "connect_ms": connect_ms }))
}

async fn fanout(url: &str, n: usize, k: usize, size: usize) -> Result<serde_json::Value, String> {
    // Several URLs are a cluster's nodes: clients round-robin, broadcasts to the first.
    let bases: Vec<&str> = url.split(',').map(|u| u.trim_end_matches('/')).collect();
    let base = bases[0];
    let ws_urls: Vec<String> = bases
        .iter()
        .map(|b| {
            format!(
                "{}/socket.io/?EIO=4&transport=websocket",
                b.replacen("http", "ws", 1)
            )
        })
        .collect();
    let counters = Arc::new(Counters::default());
    let connect_start = Instant::now();
    for i in 0..n {
        let c = counters.clone();
        let u = ws_urls[i % ws_urls.len()].clone();
        tokio::spawn(async move {
            if let Err(e) = client(u, c).await {
                eprintln!("sockscope-bench: client: {e}");
            }
        });
    }
    wait_until("every client to join", || {
        counters.connected.load(Ordering::Relaxed) >= n
    })
    .await?;
    let connect_ms = connect_start.elapsed().as_secs_f64() * 1000.0;

    // ~`size` bytes of JSON payload.
    let payload =
        json!({ "metric": "cpu", "value": 0.5, "pad": "x".repeat(size.saturating_sub(40)) });
    let body = json!({ "event": "tick", "data": payload });
    let http = reqwest::Client::new();
    let emit_url = format!("{base}/emit");
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let start = Instant::now();
    for _ in 0..k {
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (http, url, body) = (http.clone(), emit_url.clone(), body.clone());
        tokio::spawn(async move {
            if let Err(e) = http.post(&url).json(&body).send().await {
                eprintln!("sockscope-bench: emit: {e}");
            }
            drop(permit);
        });
    }
    let want = (n * k) as u64;
    let waited = wait_until("every delivery", || {
        counters.delivered.load(Ordering::Relaxed) >= want
    })
    .await;
    let secs = start.elapsed().as_secs_f64();
    let got = counters.delivered.load(Ordering::Relaxed);
    Ok(json!({
        "clients": n,
        "broadcasts": k,
        "payload_bytes": serde_json::to_string(&payload).map(|s| s.len()).unwrap_or(0),
        "delivered": got,
        "expected": want,
        "complete": waited.is_ok(),
        "seconds": secs,
        "deliveries_per_sec": got as f64 / secs,
        "connect_ms": connect_ms,
    }))
}
