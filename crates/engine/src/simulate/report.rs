//! What a simulation measured: shared counters every virtual client adds to,
//! latency histograms (hdrhistogram, microsecond resolution, 3 significant digits),
//! errors by kind, and the final [`SimulationReport`] built so its counts add up.
//!
//! One shared set of histograms (behind a mutex) rather than one per client: a
//! histogram is tens of kilobytes, and 10,000 clients each holding three would cost
//! more memory than the clients themselves.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use sockscope_protocol::Direction;

use crate::metrics::Metrics;
use sockscope_protocol::{
    LatencySummary, SimErrorCount, SimEventCount, SimulationProgress, SimulationReport,
};

/// Longest latency a histogram tracks (longer samples are clamped): one hour.
pub const MAX_MICROS: u64 = 3_600_000_000;

/// Which latency a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    Connect,
    Ack,
    Delivery,
}

/// Counters shared by every client of one run.
pub struct Stats {
    pub clients: u64,
    pub started: AtomicU64,
    pub connected: AtomicU64,
    pub failed: AtomicU64,
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub acks_ok: AtomicU64,
    pub acks_timed_out: AtomicU64,
    pub errors: AtomicU64,
    errors_by_kind: Mutex<BTreeMap<String, u64>>,
    /// Per event name: (sent, received).
    events: Mutex<BTreeMap<String, (u64, u64)>>,
    histograms: Mutex<[Histogram<u64>; 3]>,
    /// Where the same observations go live (`simulate --metrics`).
    metrics: Option<Arc<Metrics>>,
}

/// Significant digits of every latency histogram.
pub const SIGFIG: u8 = 3;

/// An empty latency histogram: microseconds, 1 µs .. 1 h, [`SIGFIG`] digits.
pub fn histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_MICROS, SIGFIG)
        .expect("1 µs .. 1 h at 3 digits is a valid histogram")
}

impl Stats {
    pub fn new(clients: u64) -> Self {
        Self {
            clients,
            started: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            acks_ok: AtomicU64::new(0),
            acks_timed_out: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            errors_by_kind: Mutex::new(BTreeMap::new()),
            events: Mutex::new(BTreeMap::new()),
            histograms: Mutex::new([histogram(), histogram(), histogram()]),
            metrics: None,
        }
    }

    /// Also feeds every observation to `metrics` as it happens.
    pub fn with_metrics(mut self, metrics: Option<Arc<Metrics>>) -> Self {
        if let Some(m) = &metrics {
            for cause in ["ack_timeout", "wait_timeout"] {
                m.declare_drop_cause(cause);
            }
        }
        self.metrics = metrics;
        self
    }

    /// A virtual client of `namespace` connected (`true`) or left (`false`): the
    /// live socket gauge (the report counts connects itself).
    pub fn socket(&self, namespace: &str, open: bool) {
        if let Some(m) = &self.metrics {
            if open {
                m.socket_opened(namespace);
            } else {
                m.socket_closed(namespace);
            }
        }
    }

    /// The three histograms (connect, ack, delivery) as they are now.
    pub fn histograms(&self) -> Option<[Histogram<u64>; 3]> {
        self.histograms.lock().ok().map(|h| h.clone())
    }

    /// A client that had connected failed afterwards (its reader got a bad frame, or
    /// its task panicked): it moves from `connected` to `failed`, so the two still
    /// add up to the clients started.
    pub fn client_failed_after_connect(&self) {
        let _ = self
            .connected
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// One failure of `kind`; `errors` and the per-kind table move together.
    pub fn error(&self, kind: &str) {
        if let Ok(mut by_kind) = self.errors_by_kind.lock() {
            *by_kind.entry(kind.to_owned()).or_default() += 1;
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(m) = &self.metrics {
            m.dropped(kind, 1);
        }
    }

    /// One event of `namespace` sent (the namespace only labels the live metrics).
    pub fn sent(&self, namespace: &str, event: &str) {
        if let Ok(mut events) = self.events.lock() {
            events.entry(event.to_owned()).or_default().0 += 1;
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(m) = &self.metrics {
            m.event(namespace, event, Direction::C2s);
        }
    }

    pub fn received(&self, namespace: &str, event: &str) {
        if let Some(m) = &self.metrics {
            m.event(namespace, event, Direction::S2c);
        }
        if let Ok(mut events) = self.events.lock() {
            match events.get_mut(event) {
                Some(e) => e.1 += 1,
                None => {
                    events.insert(event.to_owned(), (0, 1));
                }
            }
            self.received.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn latency(&self, which: Latency, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(MAX_MICROS);
        self.latency_micros(which, micros);
    }

    pub fn latency_micros(&self, which: Latency, micros: u64) {
        let i = match which {
            Latency::Connect => 0,
            Latency::Ack => 1,
            Latency::Delivery => 2,
        };
        if let Ok(mut h) = self.histograms.lock() {
            h[i].saturating_record(micros.clamp(1, MAX_MICROS));
        }
        if let Some(m) = &self.metrics {
            let d = Duration::from_micros(micros);
            match which {
                Latency::Connect => {}
                Latency::Ack => m.ack_latency(d),
                Latency::Delivery => m.delivery_latency(d),
            }
        }
    }

    pub fn progress(&self, elapsed: Duration, done: bool) -> SimulationProgress {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let ms = |h: &Histogram<u64>, q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let (delivery_p50_ms, delivery_p99_ms, ack_p99_ms) = self
            .histograms
            .lock()
            .map(|h| (ms(&h[2], 0.5), ms(&h[2], 0.99), ms(&h[1], 0.99)))
            .unwrap_or_default();
        SimulationProgress {
            delivery_p50_ms,
            delivery_p99_ms,
            ack_p99_ms,
            elapsed_ms: millis(elapsed),
            started: get(&self.started),
            clients: self.clients,
            connected: get(&self.connected),
            failed: get(&self.failed),
            events_sent: get(&self.sent),
            events_received: get(&self.received),
            acks_ok: get(&self.acks_ok),
            acks_timed_out: get(&self.acks_timed_out),
            errors: get(&self.errors),
            done,
        }
    }

    /// The final report. Counts come from the same locked tables, so the totals
    /// equal the sums of their breakdowns.
    pub fn report(
        &self,
        scenario: &str,
        target: &str,
        embedded: bool,
        elapsed: Duration,
    ) -> SimulationReport {
        let p = self.progress(elapsed, true);
        let errors_by_kind: Vec<SimErrorCount> = self
            .errors_by_kind
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(kind, count)| SimErrorCount {
                        kind: kind.clone(),
                        count: *count,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let events: Vec<SimEventCount> = self
            .events
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(event, (sent, received))| SimEventCount {
                        event: event.clone(),
                        sent: *sent,
                        received: *received,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let [connect, ack, delivery] = self
            .histograms
            .lock()
            .map(|h| [summary(&h[0]), summary(&h[1]), summary(&h[2])])
            .unwrap_or_default();
        let secs = elapsed.as_secs_f64().max(1e-3);
        SimulationReport {
            scenario: scenario.to_owned(),
            target: target.to_owned(),
            embedded,
            clients: self.clients,
            connected: p.connected,
            failed: p.failed,
            events_sent: p.events_sent,
            events_received: p.events_received,
            acks_ok: p.acks_ok,
            acks_timed_out: p.acks_timed_out,
            errors: p.errors,
            errors_by_kind,
            events,
            elapsed_ms: p.elapsed_ms,
            sent_per_sec: p.events_sent as f64 / secs,
            received_per_sec: p.events_received as f64 / secs,
            connect_latency: connect,
            ack_latency: ack,
            delivery_latency: delivery,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Percentiles in milliseconds of a microsecond histogram.
pub fn summary(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    LatencySummary {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        mean_ms: h.mean() / 1000.0,
    }
}

// Payload timestamps are parsed where they are formatted (the protocol's `time`),
// so the metrics exporter reads them without depending on the simulator.
pub use sockscope_protocol::time::{parse_iso8601, payload_timestamp};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_add_up() {
        let s = Stats::new(3);
        s.connected.fetch_add(2, Ordering::Relaxed);
        s.failed.fetch_add(1, Ordering::Relaxed);
        s.error("connect_refused");
        s.error("wait_timeout");
        s.error("wait_timeout");
        s.sent("/", "subscribe");
        s.sent("/", "subscribe");
        s.received("/", "metric:update");
        s.received("/", "metric:update");
        s.received("/", "dashboard:initial");
        for ms in 1..=100 {
            s.latency(Latency::Delivery, Duration::from_millis(ms));
        }
        s.latency(Latency::Ack, Duration::from_micros(1500));
        let r = s.report("x", "http://h", false, Duration::from_secs(2));
        assert_eq!(r.connected + r.failed, r.clients);
        assert_eq!(r.errors, 3);
        assert_eq!(
            r.errors_by_kind.iter().map(|e| e.count).sum::<u64>(),
            r.errors
        );
        assert_eq!(r.events.iter().map(|e| e.sent).sum::<u64>(), r.events_sent);
        assert_eq!(
            r.events.iter().map(|e| e.received).sum::<u64>(),
            r.events_received
        );
        assert_eq!(r.events_received, 3);
        assert!((r.received_per_sec - 1.5).abs() < 1e-9);
        assert!((r.sent_per_sec - 1.0).abs() < 1e-9);
        assert_eq!(r.delivery_latency.count, 100);
        assert!(
            (r.delivery_latency.p50_ms - 50.0).abs() < 0.1,
            "{:?}",
            r.delivery_latency
        );
        assert!((r.delivery_latency.p99_ms - 99.0).abs() < 0.1);
        assert!((r.delivery_latency.max_ms - 100.0).abs() < 0.1);
        assert_eq!(r.ack_latency.count, 1);
        assert!((r.ack_latency.p50_ms - 1.5).abs() < 0.01);
        assert_eq!(r.connect_latency, LatencySummary::default());
    }
}
