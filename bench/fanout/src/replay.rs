//! The Rust side of `cargo xtask bench replay`. Delivery is measured at the
//! receiving end (a Node socket.io-client for server-side replay, a Node socket.io
//! server for client replay; see bench/node/replay-*.mjs); this module makes the
//! recording both replays read, and is the peer they are compared with.
//!
//! - `replay-recording FILE EVENTS SPACING_US DIRECTION` writes a JSONL recording of
//!   EVENTS `tick` events `{i}` on `/`, SPACING_US apart, `s2c` (for `sockscope
//!   replay --mode server`) or `c2s` (for client replay), for `sockscope sessions
//!   import`.
//! - `replay-peer-server EVENTS SPACING_US` is a competent server-side scheduler: the
//!   embedded gateway in-process, and each event emitted to `/` at its absolute
//!   deadline on tokio's timer (`sleep_until`, no yield loop) once one client has
//!   joined and 500 ms have passed (what `sockscope replay --mode server` waits).
//! - `replay-peer-client URL EVENTS SPACING_US` is a competent client-side
//!   scheduler: one raw Engine.IO v4 websocket (Nagle off) on URL's `/`, each event
//!   sent at its absolute deadline with `sleep_until`.
//!
//! Both peers print `listening on URL` (server) and, at the end, one JSON object
//! with their own view of the scheduling error.

use std::io::Write as _;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sockscope_engine::bus::record;
use sockscope_engine::{Bus, Gateway};
use sockscope_protocol::{Direction, GatewaySettings};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Writes the recording; returns how many events it holds.
pub fn recording(path: &str, events: usize, spacing_us: i64, dir: &str) -> Result<Value, String> {
    let direction = match dir {
        "s2c" => Direction::S2c,
        "c2s" => Direction::C2s,
        other => return Err(format!("direction {other:?}: want s2c or c2s")),
    };
    let file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = std::io::BufWriter::new(file);
    for i in 0..events {
        let mut r = record(
            "gateway",
            direction,
            "/",
            "tick",
            json!([{ "i": i, "metric": "cpu", "value": 0.5 }]),
        );
        r.seq = i as u64 + 1;
        r.ts = 1_700_000_000_000_000 + i as i64 * spacing_us;
        let line = serde_json::to_string(&r).map_err(|e| e.to_string())?;
        writeln!(out, "{line}").map_err(|e| format!("{path}: {e}"))?;
    }
    out.flush().map_err(|e| format!("{path}: {e}"))?;
    Ok(json!({ "events": events, "path": path }))
}

/// The absolute-deadline loop both peers run: `send(i)` at `start + i * spacing`.
/// Returns the scheduler's own lateness per event, in microseconds.
async fn schedule<F, Fut>(events: usize, spacing_us: u64, mut send: F) -> Result<Vec<i64>, String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut late = Vec::with_capacity(events);
    let start = Instant::now();
    for i in 0..events {
        let deadline = start + Duration::from_micros(spacing_us * i as u64);
        tokio::time::sleep_until(deadline).await;
        late.push(Instant::now().duration_since(deadline).as_micros() as i64);
        send(i).await?;
    }
    Ok(late)
}

/// The server-side peer: embedded gateway, emits on absolute deadlines.
pub async fn peer_server(events: usize, spacing_us: u64) -> Result<Value, String> {
    let settings = GatewaySettings {
        port: 0,
        ..GatewaySettings::default()
    };
    let gateway = Gateway::start(&settings, Bus::new())
        .await
        .map_err(|e| format!("cannot start the embedded gateway: {e}"))?;
    println!("listening on {}", gateway.url());
    let _ = std::io::stdout().flush();
    let handle = gateway.handle().clone();
    let joined = Instant::now();
    while handle.namespace_sockets("/") < 1 {
        if joined.elapsed() > Duration::from_secs(60) {
            return Err("no client joined within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A failed emit (a socket's buffer full) is counted and the replay goes on, as
    // server-side replay does.
    let failed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let late = schedule(events, spacing_us, |i| {
        let (handle, failed) = (handle.clone(), failed.clone());
        async move {
            let args = [json!({ "i": i, "metric": "cpu", "value": 0.5 })];
            if handle
                .emit_to_rooms("/", &[], None, "tick", &args)
                .await
                .is_err()
            {
                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        }
    })
    .await?;
    eprintln!(
        "replay-peer-server: {} emits failed",
        failed.load(std::sync::atomic::Ordering::Relaxed)
    );
    // Let the last packets leave before the connections close.
    tokio::time::sleep(Duration::from_millis(500)).await;
    gateway.stop().await;
    Ok(summary(late))
}

/// The client-side peer: one raw websocket, sends on absolute deadlines.
pub async fn peer_client(url: &str, events: usize, spacing_us: u64) -> Result<Value, String> {
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        url.trim_end_matches('/').replacen("http", "ws", 1)
    );
    let (ws, _) = tokio_tungstenite::connect_async_with_config(&ws_url, None, true)
        .await
        .map_err(|e| format!("connect {ws_url}: {e}"))?;
    let (mut sink, mut stream) = ws.split();
    // Engine.IO open, then join `/`.
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with('0') => break,
            Some(Ok(_)) => continue,
            _ => return Err("no Engine.IO open packet".into()),
        }
    }
    sink.send(Message::Text("40".into()))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) if t.starts_with("40") => break,
            Some(Ok(_)) => continue,
            _ => return Err("not joined to /".into()),
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
    // Answer pings while sending.
    let pongs = tx.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            if let Message::Text(t) = m {
                if t.as_str() == "2" {
                    let _ = pongs.send(Message::Text("3".into()));
                }
            }
        }
    });
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let late = schedule(events, spacing_us, |i| {
        let frame = format!(r#"42["tick",{{"i":{i},"metric":"cpu","value":0.5}}]"#);
        let sent = tx
            .send(Message::Text(frame.into()))
            .map_err(|e| e.to_string());
        async move { sent }
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(tx);
    reader.abort();
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    Ok(summary(late))
}

/// p50/p99/max of the scheduler's own lateness, in microseconds.
fn summary(mut errors: Vec<i64>) -> Value {
    errors.sort_unstable();
    let pick = |q: f64| -> i64 {
        if errors.is_empty() {
            return 0;
        }
        let i = ((errors.len() - 1) as f64 * q).round() as usize;
        errors[i.min(errors.len() - 1)]
    };
    json!({
        "events": errors.len(),
        "self_p50_us": pick(0.5),
        "self_p99_us": pick(0.99),
        "self_max_us": errors.last().copied().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_picks_percentiles() {
        let s = summary((1..=100).collect());
        assert_eq!(s["self_p50_us"], 51);
        assert_eq!(s["self_p99_us"], 99);
        assert_eq!(s["self_max_us"], 100);
    }
}
