//! `sockscope-bench simulate URL CLIENTS DURATION_S RAMP_S SECRET`: Sockscope's
//! simulator as a load generator, for `cargo xtask bench simulate`.
//!
//! It runs the built-in `analytics-dashboard` scenario (connect to `/dashboard` with
//! an HS256 JWT signed with SECRET, `subscribe` with an ack, wait for
//! `dashboard:initial`, then stay connected receiving `metric:update` ticks) with
//! CLIENTS virtual clients against the gateway at URL, through the engine's
//! `simulate::run` — the code path `sockscope simulate` uses. Prints one JSON
//! object: the report's counts, the time until every client had connected (or
//! failed), and this process's peak RSS (`VmHWM`). CPU time is measured from
//! outside, the same way as for the peer load generator.

use std::time::Duration;

use serde_json::{json, Value};
use sockscope_engine::simulate::{self, scenario, SimulateOptions, Target};
use sockscope_protocol::SimulationProgress;
use tokio::sync::watch;

/// Runs the scenario to its report.
pub async fn run(
    url: &str,
    clients: usize,
    duration: Duration,
    ramp: Duration,
    secret: &str,
) -> Result<Value, String> {
    let scenario = scenario::built_in("analytics-dashboard").map_err(|e| e.to_string())?;
    let opts = SimulateOptions {
        target: Target::Url(url.to_owned()),
        clients,
        ramp,
        duration,
        jwt_secret: Some(secret.to_owned()),
        connect_timeout: Duration::from_secs(30),
        ..SimulateOptions::default()
    };
    let (tx, mut rx) = watch::channel(SimulationProgress::default());
    // The first progress snapshot in which every client has connected or failed.
    let watcher = tokio::spawn(async move {
        let mut all_in: Option<u64> = None;
        let mut peak_connected = 0;
        while rx.changed().await.is_ok() {
            let p = rx.borrow_and_update().clone();
            peak_connected = peak_connected.max(p.connected);
            if all_in.is_none() && p.clients > 0 && p.connected + p.failed >= p.clients {
                all_in = Some(p.elapsed_ms);
            }
            if p.done {
                break;
            }
        }
        (all_in, peak_connected)
    });
    let report = simulate::run(&scenario, &opts, Some(tx))
        .await
        .map_err(|e| e.to_string())?;
    let (all_in_ms, peak_connected) = watcher.await.map_err(|e| e.to_string())?;
    let subscribed = report
        .events
        .iter()
        .find(|e| e.event == "dashboard:initial")
        .map_or(0, |e| e.received);
    Ok(json!({
        "clients": report.clients,
        "connected": report.connected,
        "peak_connected": peak_connected,
        "failed": report.failed,
        "subscribed": subscribed,
        "events_received": report.events_received,
        "acks_ok": report.acks_ok,
        "errors": report.errors,
        "all_connected_ms": all_in_ms,
        "connect_p50_ms": report.connect_latency.p50_ms,
        "connect_p99_ms": report.connect_latency.p99_ms,
        "elapsed_ms": report.elapsed_ms,
        "vm_hwm_kib": peak_rss_kib(),
    }))
}

/// `VmHWM` of this process in KiB, from /proc/self/status (None off Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
