//! Client-side replay: re-send a recorded session's client-to-server events to a
//! (staging) gateway, record what it answers as a new `replay` session and report
//! how the answers drift from the recording.
//!
//! This is how a production recording becomes a regression test for staging: same
//! client traffic, same rhythm (or a known multiple of it), rewritten where staging
//! needs its own ids, and a [`DriftReport`] that names what staging said differently.
//!
//! What is re-sent: the source session's `c2s` events in recorded order, minus
//! connection lifecycle pseudo-events (`connect`, `disconnect`, `connect_error`) and
//! minus what the [`Filter`] drops, with the [`Rewrites`] applied, on one fresh
//! connection to the target's namespace (every event goes to that namespace, whatever
//! namespace it was recorded on; an empty target namespace means the namespace of
//! the first event sent). Events of several recorded sockets are sent by this one
//! client. A source event that carried an ack is sent with
//! `emit_with_ack` and its reply waited for (up to `ack_timeout`) before the next
//! event goes out, as an `emitWithAck` client does; a slow reply therefore shows up
//! as scheduling error on the events after it, never as a reordering.
//!
//! A session recorded with `--ws` (plain WebSocket, its metadata says `"protocol":
//! "websocket"`) is replayed over plain WebSocket: each recorded client message is
//! sent as it was (the record's one argument), to the target URL, or to the
//! recorded path on the target when the target URL has none (`http://host:port` +
//! `/websocket`). Plain WebSocket has no acks: Jac's `response: true` replies come
//! back as server messages and are compared as events.
//!
//! Secrets: recorded payloads were redacted at the source, so a replayed `token`
//! field holds `[redacted]` unless a rewrite puts a value back (what is sent and
//! answered is redacted again on the bus). The replay session's metadata keeps the
//! target URL without credentials or query values, the timing and the filters, never
//! the rewrite rules' text; the drift report compares redacted replies.

pub mod drift;
pub mod job;
pub mod rewrite;
pub mod scheduler;
pub mod server;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use serde_json::{json, Value};
use sockscope_protocol::{Direction, DriftReport, EventRecord};
use tokio::sync::broadcast::error::TryRecvError;

use crate::bus::{now_micros, Bus};
use crate::connection::{ConnectOptions, Connection, WsConnection, WsOptions};
use crate::store::{Recorder, Store};
use crate::{Error, Result};

pub use drift::{AckOutcome, SendOutcome};
pub use rewrite::Rewrites;
pub use scheduler::{Clock, Timing};

/// The timing, filter and rewrite rules of a replay request, client or server side;
/// bad timing or a bad rule is the error.
pub fn plan_parts(plan: &sockscope_protocol::ReplayPlan) -> Result<(Timing, Filter, Rewrites)> {
    let timing = Timing {
        speed: plan.speed,
        max_gap: plan.max_gap_ms.map(Duration::from_millis),
        as_fast_as_possible: plan.as_fast_as_possible,
        loops: plan.loops,
    };
    timing.validate()?;
    let filter = Filter {
        only: plan.only.clone(),
        skip: plan.skip.clone(),
    };
    Ok((timing, filter, Rewrites::parse(&plan.rewrites, &plan.sets)?))
}

/// Which events are re-sent, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// When not empty, only these names are sent.
    pub only: Vec<String>,
    /// These names are never sent (wins over `only`).
    pub skip: Vec<String>,
}

impl Filter {
    pub fn keeps(&self, event: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|o| o == event))
            && !self.skip.iter().any(|s| s == event)
    }
}

/// Everything a replay needs.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The session to replay.
    pub source: i64,
    /// Where to, as `sockscope connect` builds it (no on-connect emits are added).
    /// An empty namespace means the first replayed event's namespace.
    pub target: ConnectOptions,
    pub timing: Timing,
    pub filter: Filter,
    pub rewrites: Rewrites,
    /// Object keys dropped from ack payloads before they are compared.
    pub ignore: Vec<String>,
    pub ack_timeout: Duration,
    pub connect_timeout: Duration,
    /// After the last send, wait until the target has been quiet this long (at most
    /// ten times this long) so trailing server events make it into the report.
    pub settle: Duration,
    /// Name of the new session (default: `replay of <source>`).
    pub name: Option<String>,
    /// The parser to speak; None: the one the source session was recorded with
    /// (its meta's `parser`), else JSON.
    pub parser: Option<sockscope_protocol::Parser>,
}

impl ReplayOptions {
    /// Options with the defaults: original timing, 5 s ack timeout, 10 s connect
    /// timeout, 500 ms settle.
    pub fn new(source: i64, target: ConnectOptions) -> Self {
        Self {
            source,
            target,
            timing: Timing::default(),
            filter: Filter::default(),
            rewrites: Rewrites::default(),
            ignore: Vec::new(),
            ack_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            settle: Duration::from_millis(500),
            name: None,
            parser: None,
        }
    }
}

/// One event to send: when, what, and what the source got back.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSend {
    /// Offset from the replay's start.
    pub at: Duration,
    pub event: String,
    /// The namespace it was recorded on.
    pub namespace: String,
    /// Rewritten arguments (a JSON array).
    pub args: Value,
    /// The source event carried an ack, so this one asks for one.
    pub ack: bool,
    /// The source's ack reply, literal rewrites applied.
    pub expected: Option<Value>,
    pub original_latency_ms: Option<f64>,
}

/// Reported after each send.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayProgress {
    pub sent: u64,
    pub total: u64,
    pub event: String,
}

/// A finished replay: the drift report and every send's scheduling error.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayOutcome {
    pub report: DriftReport,
    /// Actual minus planned send time per send, microseconds (for benchmarks).
    pub schedule_errors_us: Vec<i64>,
}

/// Checks a replay before it is planned: `pass` (the events one pass sends) times
/// the loops fits in a plan, and every `--set` rule fits at least one of them.
pub fn precheck<'a>(
    pass: impl Iterator<Item = &'a EventRecord> + Clone,
    timing: &Timing,
    rewrites: &Rewrites,
) -> Result<()> {
    timing.check_plan_size(pass.clone().count())?;
    rewrites.check_sets_apply(pass.map(|e| &e.args))
}

/// The sends of a replay of `events` (a whole session), over every loop.
pub fn plan(events: &[EventRecord], opts: &ReplayOptions) -> Vec<PlannedSend> {
    let chosen: Vec<&EventRecord> = events
        .iter()
        .filter(|e| e.direction == Direction::C2s)
        .filter(|e| !drift::is_lifecycle(&e.event))
        .filter(|e| opts.filter.keeps(&e.event))
        .collect();
    let ts: Vec<i64> = chosen.iter().map(|e| e.ts).collect();
    let offsets = scheduler::plan(&ts, &opts.timing);
    offsets
        .into_iter()
        .zip(chosen.iter().cycle())
        .map(|(at, e)| {
            let mut args = match &e.args {
                Value::Array(_) => e.args.clone(),
                other => Value::Array(vec![other.clone()]),
            };
            opts.rewrites.apply(&mut args);
            let (expected, original_latency_ms) = match drift::original_ack(e) {
                Some((mut reply, latency)) => {
                    opts.rewrites.apply_literal(&mut reply);
                    (Some(reply), latency)
                }
                None => (None, None),
            };
            PlannedSend {
                at,
                event: e.event.clone(),
                namespace: e.namespace.clone(),
                args,
                ack: e.ack.is_some(),
                expected,
                original_latency_ms,
            }
        })
        .collect()
}

/// The connection a replay sends on: Socket.IO, or plain WebSocket for a session
/// recorded with `--ws`.
enum Target {
    SocketIo(Connection),
    Ws(WsConnection),
}

impl Target {
    async fn emit(&self, event: &str, args: Value) -> Result<()> {
        match self {
            Target::SocketIo(c) => Ok(c.emit(event, args).await?),
            // The recorded message is the record's one argument.
            Target::Ws(c) => {
                let msg = match args {
                    Value::Array(mut items) if items.len() == 1 => items.remove(0),
                    other => other,
                };
                Ok(c.send(msg).await?)
            }
        }
    }

    async fn emit_with_ack(
        &self,
        event: &str,
        args: Value,
        timeout: Duration,
    ) -> Result<(Value, Duration)> {
        match self {
            Target::SocketIo(c) => Ok(c.emit_with_ack(event, args, timeout).await?),
            Target::Ws(_) => Err(Error::Emit(
                "plain WebSocket has no acks to wait for".to_owned(),
            )),
        }
    }

    async fn close(self) {
        match self {
            Target::SocketIo(c) => c.close().await,
            Target::Ws(c) => c.close().await,
        }
    }
}

/// Whether a session's metadata says it was recorded over plain WebSocket.
pub fn is_plain_websocket(meta: &Value) -> bool {
    meta.get("protocol").and_then(Value::as_str) == Some("websocket")
}

/// `url` with `path` when it has no path of its own (`http://h:1` -> `http://h:1/websocket`).
fn with_default_path(url: &str, path: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let has_path = rest
        .find('/')
        .is_some_and(|i| !rest[i..].split(['?', '#']).next().unwrap_or("/").eq("/"));
    if has_path || path.is_empty() || path == "/" {
        return url.to_owned();
    }
    let (base, query) = match url.find(['?', '#']) {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    format!("{}{path}{query}", base.trim_end_matches('/'))
}

/// `url` as the redaction policy shows it: scheme, host, port, path and query keys;
/// no credentials, query values or fragment.
pub fn public_url(url: &str) -> String {
    crate::redact::url(url)
}

/// Runs a replay (see the module docs): plans it, connects, sends on schedule,
/// records everything into a new `replay` session and compares. Bad options, an
/// unknown session, nothing to send or an unreachable target fail before a session
/// is created.
/// The parser a session was recorded with (its meta's `parser`), JSON by default.
pub fn source_parser(meta: &Value) -> sockscope_protocol::Parser {
    serde_json::from_value(meta.get("parser").cloned().unwrap_or(Value::Null)).unwrap_or_default()
}

pub async fn run(
    store: &Store,
    opts: ReplayOptions,
    progress: impl Fn(&ReplayProgress),
) -> Result<ReplayOutcome> {
    opts.timing.validate()?;
    let (events, plain_ws) = {
        let (store, id) = (store.clone(), opts.source);
        crate::offload::blocking(move || {
            let events = store.events(id)?;
            let ws = is_plain_websocket(&store.session(id)?.meta);
            Ok::<_, crate::Error>((events, ws))
        })
        .await?
    };
    precheck(
        events.iter().filter(|e| {
            e.direction == Direction::C2s
                && !drift::is_lifecycle(&e.event)
                && opts.filter.keeps(&e.event)
        }),
        &opts.timing,
        &opts.rewrites,
    )?;
    let sends = plan(&events, &opts);
    if sends.is_empty() {
        return Err(Error::NothingToReplay(opts.source));
    }
    let mut connect = opts.target.clone();
    connect.parser = match opts.parser {
        Some(p) => p,
        None => {
            let (store, id) = (store.clone(), opts.source);
            let meta = crate::offload::blocking(move || store.session(id))
                .await?
                .meta;
            source_parser(&meta)
        }
    };
    if connect.namespace.is_empty() {
        connect.namespace = sends[0].namespace.clone();
    }
    let target = public_url(&opts.target.url);
    tracing::info!(source = opts.source, target = %target, sends = sends.len(), speed = opts.timing.speed, "replay planned");

    let bus = Bus::new();
    let mut rx = bus.subscribe();
    let (conn, mut meta) = if plain_ws {
        let ws = WsOptions {
            url: with_default_path(&connect.url, &sends[0].namespace),
            headers: connect.headers.clone(),
            query: connect.query.clone(),
            on_connect: Vec::new(),
            max_payload: 0,
            tls: connect.tls.clone(),
        };
        let meta = ws.describe();
        let conn = WsConnection::open(ws, bus.clone(), opts.connect_timeout).await?;
        (Target::Ws(conn), meta)
    } else {
        let conn = Connection::open(connect.clone(), bus.clone(), opts.connect_timeout).await?;
        (Target::SocketIo(conn), connect.describe())
    };

    if let (Target::SocketIo(c), Value::Object(m)) = (&conn, &mut meta) {
        if let Value::Object(p) = c.protocol() {
            m.extend(p);
        }
    }
    meta["url"] = json!(target);
    meta["source_session"] = json!(opts.source);
    meta["speed"] = json!(opts.timing.speed);
    meta["as_fast_as_possible"] = json!(opts.timing.as_fast_as_possible);
    meta["max_gap_ms"] = json!(opts.timing.max_gap.map(|d| d.as_millis() as u64));
    meta["loops"] = json!(opts.timing.loops);
    meta["only"] = json!(opts.filter.only);
    meta["skip"] = json!(opts.filter.skip);
    meta["rewrites"] = json!(opts.rewrites.literal.len() + opts.rewrites.set.len());
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| format!("replay of {}", opts.source));
    let started = {
        let (store, target) = (store.clone(), target.clone());
        crate::offload::blocking(move || {
            let session = store.create_session(&name, "replay", &target, meta)?;
            Ok((session, Recorder::start(&store, session)?))
        })
        .await
    };
    let (session, recorder) = match started {
        Ok(started) => started,
        Err(e) => {
            conn.close().await;
            return Err(e);
        }
    };

    let last_seen = AtomicI64::new(now_micros());
    let done = AtomicBool::new(false);
    let collect = async {
        let mut seen = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        loop {
            tokio::select! {
                next = rx.recv() => match next {
                    Ok(rec) => {
                        last_seen.store(now_micros(), Ordering::Relaxed);
                        recorder.record(rec.clone());
                        seen.push(rec);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => recorder.note_dropped(n),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => if done.load(Ordering::Relaxed) { break },
            }
        }
        loop {
            match rx.try_recv() {
                Ok(rec) => {
                    recorder.record(rec.clone());
                    seen.push(rec);
                }
                Err(TryRecvError::Lagged(n)) => recorder.note_dropped(n),
                Err(_) => break,
            }
        }
        seen
    };
    let send = async {
        let total = sends.len() as u64;
        let mut outcomes = Vec::with_capacity(sends.len());
        let mut errors = Vec::with_capacity(sends.len());
        let clock = Clock::start();
        for (i, s) in sends.iter().enumerate() {
            errors.push(clock.wait(s.at).await);
            let outcome = if s.ack {
                match conn
                    .emit_with_ack(&s.event, s.args.clone(), opts.ack_timeout)
                    .await
                {
                    Ok((value, latency)) => AckOutcome::Reply {
                        value,
                        latency_ms: latency.as_secs_f64() * 1000.0,
                    },
                    Err(e) => {
                        tracing::warn!(event = %s.event, index = i, error = %e, "replayed ack failed");
                        AckOutcome::Failed(e.to_string())
                    }
                }
            } else {
                if let Err(e) = conn.emit(&s.event, s.args.clone()).await {
                    tracing::warn!(event = %s.event, index = i, error = %e, "replayed emit failed");
                }
                AckOutcome::NotAsked
            };
            outcomes.push(SendOutcome {
                event: s.event.clone(),
                expected: s.expected.clone(),
                original_latency_ms: s.original_latency_ms,
                outcome,
            });
            progress(&ReplayProgress {
                sent: i as u64 + 1,
                total,
                event: s.event.clone(),
            });
        }
        // Let trailing server events arrive: until quiet for `settle`, bounded.
        let settle_started = tokio::time::Instant::now();
        let settle_us = i64::try_from(opts.settle.as_micros()).unwrap_or(i64::MAX);
        loop {
            tokio::time::sleep((opts.settle / 5).max(Duration::from_millis(10))).await;
            let quiet = now_micros() - last_seen.load(Ordering::Relaxed) >= settle_us;
            if quiet || settle_started.elapsed() >= opts.settle * 10 {
                break;
            }
        }
        // Closed while the collector still runs, so the session ends with the
        // disconnect when the client reports one in time.
        conn.close().await;
        done.store(true, Ordering::Relaxed);
        (outcomes, errors)
    };
    let (seen, (outcomes, schedule_errors_us)) = tokio::join!(collect, send);
    let stats = crate::offload::blocking(move || recorder.finish()).await?;

    let mut report = drift::compare(&events, &seen, &outcomes, opts.timing.loops, &opts.ignore);
    report.source_session = opts.source;
    report.replay_session = session;
    report.target = target;
    report.schedule = scheduler::summarize(&schedule_errors_us);
    report.dropped = stats.dropped;
    tracing::info!(
        source = opts.source,
        session,
        sent = report.sent,
        written = stats.written,
        ack_mismatches = report.ack_mismatches.len(),
        max_schedule_error_us = report.schedule.max_error_us,
        "replay finished"
    );
    Ok(ReplayOutcome {
        report,
        schedule_errors_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_test_support::{ack, Event};

    fn event(ts_ms: i64, direction: Direction, event: &str, args: Value) -> Event {
        Event::new(event, args)
            .ts(ts_ms * 1000)
            .source("connection:1")
            .direction(direction)
            .namespace("/dashboard")
    }

    fn rec(ts_ms: i64, direction: Direction, name: &str, args: Value) -> EventRecord {
        event(ts_ms, direction, name, args).build()
    }

    fn session() -> Vec<EventRecord> {
        let echo = event(
            1300,
            Direction::C2s,
            "echo",
            json!([{"tenant": "tenant-a"}]),
        )
        .ack(ack(
            1,
            json!({"reply": {"tenant": "tenant-a"}, "latency_ms": 4.0}),
        ))
        .build();
        vec![
            rec(1000, Direction::S2c, "connect", json!([])),
            rec(
                1000,
                Direction::C2s,
                "subscribe",
                json!([{"room": "tenant-a:orders"}]),
            ),
            rec(1100, Direction::S2c, "order", json!([{"id": 1}])),
            echo,
            rec(
                1600,
                Direction::C2s,
                "set_tenant",
                json!([{"tenantID": "t1"}]),
            ),
            rec(1700, Direction::C2s, "disconnect", json!([])),
        ]
    }

    fn opts() -> ReplayOptions {
        ReplayOptions::new(1, ConnectOptions::default())
    }

    #[test]
    fn plan_sends_c2s_events_with_rewrites_and_expected_acks() {
        let mut o = opts();
        o.rewrites =
            Rewrites::parse(&["tenant-a=>tenant-b".into()], &["$.tenantID=t2".into()]).unwrap();
        let p = plan(&session(), &o);
        let names: Vec<&str> = p.iter().map(|s| s.event.as_str()).collect();
        assert_eq!(names, vec!["subscribe", "echo", "set_tenant"]);
        let at: Vec<u128> = p.iter().map(|s| s.at.as_millis()).collect();
        assert_eq!(at, vec![0, 300, 600]);
        assert_eq!(p[0].args, json!([{"room": "tenant-b:orders"}]));
        assert_eq!(p[0].namespace, "/dashboard");
        assert!(!p[0].ack && p[1].ack);
        assert_eq!(p[1].expected, Some(json!({"tenant": "tenant-b"})));
        assert_eq!(p[1].original_latency_ms, Some(4.0));
        assert_eq!(p[2].args, json!([{"tenantID": "t2"}]));
    }

    #[test]
    fn plan_filters_and_loops() {
        let mut o = opts();
        o.filter.skip = vec!["echo".into()];
        o.timing.speed = 2.0;
        o.timing.loops = 2;
        let p = plan(&session(), &o);
        let got: Vec<(&str, u128)> = p
            .iter()
            .map(|s| (s.event.as_str(), s.at.as_millis()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("subscribe", 0),
                ("set_tenant", 300),
                ("subscribe", 300),
                ("set_tenant", 600)
            ]
        );
        let mut o = opts();
        o.filter.only = vec!["echo".into(), "set_tenant".into()];
        o.filter.skip = vec!["set_tenant".into()];
        let p = plan(&session(), &o);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].event, "echo");
        assert_eq!(p[0].at, Duration::ZERO);
    }

    #[test]
    fn plain_websocket_targets_get_the_recorded_path() {
        assert_eq!(
            with_default_path("http://127.0.0.1:8000", "/websocket"),
            "http://127.0.0.1:8000/websocket"
        );
        assert_eq!(
            with_default_path("ws://h:1/?x=1", "/websocket"),
            "ws://h:1/websocket?x=1"
        );
        assert_eq!(
            with_default_path("ws://h:1/other", "/websocket"),
            "ws://h:1/other"
        );
        assert!(is_plain_websocket(&json!({"protocol": "websocket"})));
        assert!(!is_plain_websocket(&json!({"url": "x"})));
    }

    #[test]
    fn public_url_drops_credentials_query_values_and_fragment() {
        assert_eq!(
            public_url("https://user:pw@staging.example.com:8443/gw?token=abc#x"),
            "https://staging.example.com:8443/gw?token=[redacted]"
        );
        assert_eq!(public_url("http://127.0.0.1:3069"), "http://127.0.0.1:3069");
        assert_eq!(public_url("no-scheme?q=1"), "no-scheme?q=[redacted]");
    }

    #[tokio::test]
    async fn unknown_session_and_bad_timing_fail_before_connecting() {
        let dir = sockscope_test_support::scratch("replay", "unknown");
        let store = Store::open(dir.join("r.db")).unwrap();
        let mut o = opts();
        o.source = 999;
        o.target.url = "http://127.0.0.1:1".into();
        let e = run(&store, o.clone(), |_| {}).await.unwrap_err();
        assert!(
            matches!(e, Error::Store(crate::store::Error::UnknownSession(999))),
            "{e}"
        );
        o.timing.speed = 0.0;
        let e = run(&store, o, |_| {}).await.unwrap_err();
        assert!(matches!(e, Error::BadReplay(_)), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
