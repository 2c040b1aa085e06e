//! `sockscope-bench replay EVENTS SPACING_US`: how well the replay scheduler keeps
//! its plan at 1x.
//!
//! It starts the embedded gateway in-process (generic profile, no auth), joins one
//! raw websocket client to `/`, and sends EVENTS events recorded `SPACING_US` apart
//! the way server-side replay does: the engine's `scheduler::plan` turns the
//! timestamps into offsets, `Clock::wait` sleeps to each absolute deadline and
//! returns the scheduling error (actual minus planned), and
//! `GatewayHandle::emit_to_rooms` emits the event to the connected client. As a
//! peer measured in the same process, the same events are then sent by a naive
//! scheduler that sleeps each recorded gap relative to the previous send (what a
//! replay without absolute deadlines would do), its error measured against the same
//! plan. Prints one JSON object with p50/p99/max for both, and how many events the
//! client received.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sockscope_engine::replay::scheduler::{plan, Clock, Timing};
use sockscope_engine::{Bus, Gateway, GatewayHandle};
use sockscope_protocol::GatewaySettings;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Runs the benchmark: `events` events `spacing_us` apart, both schedulers.
pub async fn run(events: usize, spacing_us: i64) -> Result<Value, String> {
    let settings = GatewaySettings {
        port: 0,
        ..GatewaySettings::default()
    };
    let gateway = Gateway::start(&settings, Bus::new())
        .await
        .map_err(|e| format!("cannot start the embedded gateway: {e}"))?;
    let received = Arc::new(AtomicU64::new(0));
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        gateway.url().replacen("http", "ws", 1)
    );
    let client = tokio::spawn(listen(ws_url, received.clone()));
    let handle = gateway.handle().clone();
    let joined = Instant::now();
    while handle.namespace_sockets("/") < 1 {
        if joined.elapsed() > Duration::from_secs(10) {
            return Err("the replay client did not join within 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let ts: Vec<i64> = (0..events as i64).map(|i| i * spacing_us).collect();
    let offsets = plan(&ts, &Timing::default());
    let args = vec![json!({ "metric": "cpu", "value": 0.5, "seq": 0 })];

    let absolute = absolute_deadlines(&handle, &offsets, &args).await?;
    let after_absolute = wait_for(&received, events as u64).await;
    let relative = relative_sleeps(&handle, &offsets, &args).await?;
    let after_relative = wait_for(&received, 2 * events as u64).await;

    client.abort();
    gateway.stop().await;
    Ok(json!({
        "events": events,
        "spacing_us": spacing_us,
        "absolute": summary(absolute),
        "relative": summary(relative),
        "received_absolute": after_absolute,
        "received_relative": after_relative.saturating_sub(after_absolute),
    }))
}

/// The replay's own path: `Clock::wait` on absolute deadlines, then the emit.
async fn absolute_deadlines(
    gw: &GatewayHandle,
    offsets: &[Duration],
    args: &[Value],
) -> Result<Vec<i64>, String> {
    let mut errors = Vec::with_capacity(offsets.len());
    let clock = Clock::start();
    for at in offsets {
        errors.push(clock.wait(*at).await);
        gw.emit_to_rooms("/", &[], None, "replay", args)
            .await
            .map_err(|e| format!("emit: {e}"))?;
    }
    Ok(errors)
}

/// The peer: sleep each gap after the previous send; error against the same plan.
async fn relative_sleeps(
    gw: &GatewayHandle,
    offsets: &[Duration],
    args: &[Value],
) -> Result<Vec<i64>, String> {
    let mut errors = Vec::with_capacity(offsets.len());
    let start = Instant::now();
    let mut previous = Duration::ZERO;
    for at in offsets {
        let gap = at.saturating_sub(previous);
        previous = *at;
        if !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        let actual = start.elapsed().as_micros() as i64;
        errors.push(actual - at.as_micros() as i64);
        gw.emit_to_rooms("/", &[], None, "replay", args)
            .await
            .map_err(|e| format!("emit: {e}"))?;
    }
    Ok(errors)
}

/// p50/p99/max/mean of the errors, in microseconds.
fn summary(mut errors: Vec<i64>) -> Value {
    errors.sort_unstable();
    let pick = |q: f64| -> i64 {
        if errors.is_empty() {
            return 0;
        }
        let i = ((errors.len() - 1) as f64 * q).round() as usize;
        errors[i.min(errors.len() - 1)]
    };
    let mean = if errors.is_empty() {
        0.0
    } else {
        errors.iter().map(|e| *e as f64).sum::<f64>() / errors.len() as f64
    };
    json!({
        "p50_us": pick(0.5),
        "p99_us": pick(0.99),
        "max_us": errors.last().copied().unwrap_or(0),
        "mean_us": mean,
    })
}

/// Waits (up to 10 s) until `want` events arrived; returns how many did.
async fn wait_for(received: &AtomicU64, want: u64) -> u64 {
    let start = Instant::now();
    while received.load(Ordering::Relaxed) < want && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    received.load(Ordering::Relaxed)
}

/// One raw Engine.IO v4 client on `/`: joins, answers pings, counts `42` frames.
async fn listen(ws_url: String, received: Arc<AtomicU64>) -> Result<(), String> {
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .map_err(|e| format!("connect {ws_url}: {e}"))?;
    while let Some(frame) = ws.next().await {
        let text = match frame {
            Ok(Message::Text(t)) => t,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        match text.as_bytes() {
            [b'0', ..] => ws
                .send(Message::Text("40".into()))
                .await
                .map_err(|e| e.to_string())?,
            [b'2'] => ws
                .send(Message::Text("3".into()))
                .await
                .map_err(|e| e.to_string())?,
            [b'4', b'2', ..] => {
                received.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_picks_percentiles() {
        let s = summary((1..=100).collect());
        assert_eq!(s["p50_us"], 51);
        assert_eq!(s["p99_us"], 99);
        assert_eq!(s["max_us"], 100);
    }
}
