//! Prometheus / OpenMetrics exposition: the monitoring people already run can scrape
//! what the gateway (`serve`), the simulator (`simulate`) or any other front end that
//! sees events (a proxy) observes, instead of reading our reports.
//!
//! One [`Metrics`] holds the families; a front end feeds it either record by record
//! ([`Metrics::observe`], or [`follow`] on a bus subscription) or through the direct
//! calls (latencies, drops, socket counts), and [`serve`] answers `GET /metrics` on
//! an address that [`parse_addr`] keeps on loopback unless remote scraping is asked
//! for. The families:
//!
//! - `sockscope_sockets{namespace}` (gauge): connected sockets;
//! - `sockscope_events_total{namespace,event,direction}` (counter): events seen;
//!   `rate()` gives events per second;
//! - `sockscope_ack_latency_seconds`, `sockscope_delivery_latency_seconds`
//!   (histograms, 100 µs .. ~100 s);
//! - `sockscope_drops_total{cause}` (counter): events or operations lost, by cause.
//!
//! Label values come from peers (event names, namespaces), so the number of distinct
//! `(namespace, event)` pairs is capped at [`MAX_EVENT_SERIES`]; later new pairs are
//! counted under `event="_other"` and the cap is itself counted as a drop cause
//! (`label_cap`). Names longer than [`MAX_LABEL_LEN`] bytes are cut.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use sockscope_protocol::{Direction, EventRecord};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// Distinct `(namespace, event)` label pairs kept apart before the rest share
/// `event="_other"`.
pub const MAX_EVENT_SERIES: usize = 500;
/// Longest label value kept (bytes, cut at a character boundary).
pub const MAX_LABEL_LEN: usize = 120;
/// The `event` label of pairs past [`MAX_EVENT_SERIES`].
pub const OTHER_EVENT: &str = "_other";
/// The content type of the exposition (OpenMetrics 1.0 text).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why the exporter cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("--metrics {given:?}: expected PORT or HOST:PORT (e.g. 9464 or 127.0.0.1:9464)")]
    BadAddr { given: String },
    #[error("--metrics {addr} is not a loopback address: metrics name events and namespaces; pass --metrics-allow-remote to expose them to other machines")]
    NotLoopback { addr: SocketAddr },
    #[error("cannot listen for metrics on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    namespace: String,
    event: String,
    direction: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NamespaceLabels {
    namespace: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: String,
}

/// The metric families of one process. Cheap to share (`Arc<Metrics>`); every
/// method takes `&self`.
pub struct Metrics {
    registry: Registry,
    sockets: Family<NamespaceLabels, Gauge>,
    events: Family<EventLabels, Counter>,
    ack: Histogram,
    delivery: Histogram,
    drops: Family<CauseLabels, Counter>,
    /// `(namespace, event)` pairs given their own series so far.
    series: Mutex<HashSet<(String, String)>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// 100 µs doubling 21 times: the last finite bucket is ~105 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 21)
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let sockets = Family::<NamespaceLabels, Gauge>::default();
        let events = Family::<EventLabels, Counter>::default();
        let ack = Histogram::new(latency_buckets());
        let delivery = Histogram::new(latency_buckets());
        let drops = Family::<CauseLabels, Counter>::default();
        registry.register(
            "sockscope_sockets",
            "Connected sockets by namespace",
            sockets.clone(),
        );
        registry.register(
            "sockscope_events",
            "Events seen, by namespace, event name and direction (c2s, s2c)",
            events.clone(),
        );
        registry.register_with_unit(
            "sockscope_ack_latency",
            "Time from an emit to its acknowledgement",
            Unit::Seconds,
            ack.clone(),
        );
        registry.register_with_unit(
            "sockscope_delivery_latency",
            "Time from an event's payload timestamp (or its emit) to its arrival",
            Unit::Seconds,
            delivery.clone(),
        );
        registry.register(
            "sockscope_drops",
            "Events or operations lost, by cause",
            drops.clone(),
        );
        Self {
            registry,
            sockets,
            events,
            ack,
            delivery,
            drops,
            series: Mutex::new(HashSet::new()),
        }
    }

    /// Makes `cause` show as 0 before anything is dropped, so a dashboard or alert
    /// sees the series (and a test can tell "none" from "not exported").
    pub fn declare_drop_cause(&self, cause: &str) {
        let _ = self
            .drops
            .get_or_create(&CauseLabels { cause: clip(cause) });
    }

    /// `n` events or operations lost for `cause` (`bus_lagged`, `ack_timeout`...).
    pub fn dropped(&self, cause: &str, n: u64) {
        self.drops
            .get_or_create(&CauseLabels { cause: clip(cause) })
            .inc_by(n);
    }

    /// One event of `namespace` named `event` went `direction`.
    pub fn event(&self, namespace: &str, event: &str, direction: Direction) {
        let (namespace, event) = self.series_for(namespace, event);
        self.events
            .get_or_create(&EventLabels {
                namespace,
                event,
                direction: direction.as_str().to_owned(),
            })
            .inc();
    }

    /// A socket of `namespace` connected.
    pub fn socket_opened(&self, namespace: &str) {
        self.sockets.get_or_create(&ns_labels(namespace)).inc();
    }

    /// A socket of `namespace` left.
    pub fn socket_closed(&self, namespace: &str) {
        self.sockets.get_or_create(&ns_labels(namespace)).dec();
    }

    /// Sets the socket count of `namespace` outright (for a front end that counts
    /// its sockets itself rather than by connect/disconnect records).
    pub fn set_sockets(&self, namespace: &str, n: i64) {
        self.sockets.get_or_create(&ns_labels(namespace)).set(n);
    }

    pub fn ack_latency(&self, d: Duration) {
        self.ack.observe(d.as_secs_f64());
    }

    pub fn delivery_latency(&self, d: Duration) {
        self.delivery.observe(d.as_secs_f64());
    }

    /// Counts one record from a bus: its event (by namespace, name and direction);
    /// `connect` / `disconnect` records from clients move the socket gauge; a
    /// client event whose first argument carries a `timestamp` (ISO 8601 or epoch
    /// milliseconds) is a delivery latency sample, from that time to the record's.
    pub fn observe(&self, rec: &EventRecord) {
        match (rec.direction, rec.event.as_str()) {
            (Direction::C2s, "connect") => self.socket_opened(&rec.namespace),
            (Direction::C2s, "disconnect") => self.socket_closed(&rec.namespace),
            _ => {}
        }
        self.event(&rec.namespace, &rec.event, rec.direction);
        // The capture proxy pairs acks with their events and times them.
        if let Some(us) = rec.ack.as_ref().and_then(|a| a.latency_us) {
            self.ack_latency(Duration::from_micros(us));
        }
        if rec
            .fault
            .as_deref()
            .is_some_and(|f| f.contains("dropped by rule"))
        {
            self.dropped("proxy_rule", 1);
        }
        if rec.direction == Direction::C2s {
            let stamped = rec
                .args
                .get(0)
                .and_then(sockscope_protocol::time::payload_timestamp);
            if let Some(sent) = stamped {
                if let Ok(micros) = u64::try_from(rec.ts.saturating_sub(sent)) {
                    self.delivery_latency(Duration::from_micros(micros));
                }
            }
        }
    }

    /// The exposition in OpenMetrics text (ends with `# EOF`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Only a failing `fmt::Write`, which a String is not.
            tracing::warn!(error = %e, "metrics could not be encoded");
        }
        out
    }

    /// The labels `(namespace, event)` are counted under: their own while fewer
    /// than [`MAX_EVENT_SERIES`] pairs exist, else `event="_other"`.
    fn series_for(&self, namespace: &str, event: &str) -> (String, String) {
        let key = (clip(namespace), clip(event));
        let Ok(mut series) = self.series.lock() else {
            return (key.0, OTHER_EVENT.to_owned());
        };
        if series.contains(&key) {
            return key;
        }
        if series.len() < MAX_EVENT_SERIES {
            series.insert(key.clone());
            return key;
        }
        drop(series);
        self.dropped("label_cap", 1);
        (key.0, OTHER_EVENT.to_owned())
    }
}

fn ns_labels(namespace: &str) -> NamespaceLabels {
    NamespaceLabels {
        namespace: clip(namespace),
    }
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_LABEL_LEN {
        return s.to_owned();
    }
    let mut end = MAX_LABEL_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// `PORT` (loopback) or `HOST:PORT` where HOST is an IP address or `localhost`.
/// A non-loopback address is refused unless `allow_remote`.
pub fn parse_addr(given: &str, allow_remote: bool) -> Result<SocketAddr, MetricsError> {
    let bad = || MetricsError::BadAddr {
        given: given.to_owned(),
    };
    let given_trim = given.trim();
    let addr = if let Ok(port) = given_trim.parse::<u16>() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    } else if let Some(port) = given_trim.strip_prefix("localhost:") {
        SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port.parse().map_err(|_| bad())?,
        )
    } else {
        given_trim.parse::<SocketAddr>().map_err(|_| bad())?
    };
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(MetricsError::NotLoopback { addr });
    }
    Ok(addr)
}

/// The running exporter; dropping it stops it.
pub struct MetricsServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Where it listens (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listens on `addr` and answers `GET /metrics` with `metrics`' exposition (every
/// other path is 404). Binding happens before this returns, so a taken port is an
/// error here rather than a silent background failure.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<MetricsServer, MetricsError> {
    use axum::http::header::CONTENT_TYPE as CT;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { ([(CT, CONTENT_TYPE)], metrics.render()) }
        }),
    );
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "metrics endpoint stopped");
        }
    });
    tracing::info!(addr = %bound, "metrics endpoint listening");
    Ok(MetricsServer { addr: bound, task })
}

/// Feeds every record of `rx` (a bus subscription) to `metrics` until the bus
/// closes; records the subscription missed because it fell behind are counted as
/// drops with cause `bus_lagged` (declared up front, so it shows as 0).
pub fn follow(mut rx: broadcast::Receiver<EventRecord>, metrics: Arc<Metrics>) -> JoinHandle<()> {
    metrics.declare_drop_cause(BUS_LAGGED);
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(rec) => metrics.observe(&rec),
                Err(broadcast::error::RecvError::Lagged(n)) => metrics.dropped(BUS_LAGGED, n),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}

/// Drop cause of records a metrics subscription missed.
pub const BUS_LAGGED: &str = "bus_lagged";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(direction: Direction, ns: &str, event: &str, args: serde_json::Value) -> EventRecord {
        sockscope_test_support::Event::new(event, args)
            .seq(1)
            .ts(1_705_314_600_500_000)
            .source("gateway")
            .direction(direction)
            .namespace(ns)
            .build()
    }

    #[test]
    fn records_become_series() {
        let m = Metrics::new();
        m.declare_drop_cause("bus_lagged");
        m.observe(&rec(Direction::C2s, "/", "connect", json!([])));
        m.observe(&rec(Direction::C2s, "/", "connect", json!([])));
        m.observe(&rec(Direction::C2s, "/", "disconnect", json!([])));
        m.observe(&rec(
            Direction::C2s,
            "/",
            "chat",
            json!([{"timestamp": "2024-01-15T10:30:00.250Z"}]),
        ));
        m.observe(&rec(Direction::S2c, "/", "chat", json!([])));
        let text = m.render();
        assert!(
            text.contains("sockscope_sockets{namespace=\"/\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "sockscope_events_total{namespace=\"/\",event=\"chat\",direction=\"c2s\"} 1\n"
            ),
            "{text}"
        );
        // 250 ms: counted in the 0.4096 s bucket, not the 0.2048 s one.
        assert!(
            text.contains("sockscope_delivery_latency_seconds_bucket{le=\"0.2048\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("sockscope_delivery_latency_seconds_bucket{le=\"0.4096\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("sockscope_drops_total{cause=\"bus_lagged\"} 0\n"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }

    #[test]
    fn event_names_cannot_grow_the_series_without_bound() {
        let m = Metrics::new();
        for i in 0..MAX_EVENT_SERIES + 50 {
            m.event("/", &format!("e{i}"), Direction::C2s);
        }
        let text = m.render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("sockscope_events_total{"))
            .count();
        assert_eq!(series, MAX_EVENT_SERIES + 1, "own series plus _other");
        assert!(text.contains("event=\"_other\",direction=\"c2s\"} 50\n"));
        assert!(text.contains("sockscope_drops_total{cause=\"label_cap\"} 50\n"));
        // Positive control: an event seen before the cap keeps its own series.
        m.event("/", "e0", Direction::C2s);
        assert!(m
            .render()
            .contains("{namespace=\"/\",event=\"e0\",direction=\"c2s\"} 2\n"));
    }

    #[test]
    fn addresses_stay_on_loopback_unless_asked() {
        assert_eq!(
            parse_addr("9464", false).expect("port").to_string(),
            "127.0.0.1:9464"
        );
        assert_eq!(
            parse_addr("localhost:1", false)
                .expect("localhost")
                .to_string(),
            "127.0.0.1:1"
        );
        assert!(parse_addr("[::1]:9464", false).is_ok());
        assert!(matches!(
            parse_addr("0.0.0.0:9464", false),
            Err(MetricsError::NotLoopback { .. })
        ));
        assert!(parse_addr("0.0.0.0:9464", true).is_ok());
        for bad in ["", "x", "70000", "host:1", "127.0.0.1"] {
            assert!(
                matches!(parse_addr(bad, true), Err(MetricsError::BadAddr { .. })),
                "{bad}"
            );
        }
    }
}
