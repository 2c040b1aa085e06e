//! Server-side replay: the embedded gateway re-emits a recorded session's
//! server-to-client events to the clients connected to it.
//!
//! A front end under development then sees yesterday's production stream — same
//! events, same payloads, same rhythm (or a known multiple of it), same rooms — with
//! no production gateway and no backend behind it. The timing is the client-side
//! replay's [`scheduler`](super::scheduler) and the rewrites are its
//! [`Rewrites`](super::Rewrites), so both replays mean the same thing by `--speed`,
//! `--max-gap`, `--loop` and `--rewrite`.
//!
//! What is emitted: the source session's `s2c` events in recorded order, minus
//! connection lifecycle pseudo-events (`connect`, `disconnect`, `connect_error`) and
//! minus what the [`Filter`] drops, on the namespace each was recorded on (every such
//! namespace must be served by the gateway; the error lists the ones that are). Each
//! record's argument list is re-sent as separate Socket.IO arguments; binary
//! attachments were recorded as base64 placeholders and go out as that JSON, and
//! recorded acks are not asked for (a replayed stream has nobody to answer to).
//!
//! Addressing, from what the gateway recorded:
//! - a room emit (`rooms` set, no `socket_id`) goes to those rooms — full names as
//!   the gateway named them, e.g. `tenant:acme:orders` — so tenants stay apart;
//! - an emit to one socket (`socket_id` set) goes to that user's room
//!   (`tenant:T:user:U`), the nearest thing to "the same client" in a new run; one
//!   without a user has nobody to go to and is left out of the plan (logged);
//! - anything else (a namespace-wide emit, an event our client received from a
//!   remote gateway) goes to the whole namespace.
//!
//! The literal `FROM=>TO` rules apply to the arguments *and* to room names, tenant
//! and user, so `acme=>globex` delivers acme's stream to globex's clients; `$.path`
//! rules apply to the first (or chosen) argument only.
//!
//! Controls (for the GUI): pause, resume, seek to an event index and stop, through a
//! [`ServerReplayHandle`]; progress is a [`ServerReplayStatus`] on a
//! `tokio::sync::watch` channel. Waits are on absolute deadlines; a resume or a seek
//! restarts the clock at the next event's planned offset, so the gaps after it stay
//! as planned.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sockscope_protocol::{
    Direction, EventRecord, ServerReplayPhase, ServerReplayRequest, ServerReplayStatus,
};
use tokio::sync::{mpsc, watch};

use super::drift::is_lifecycle;
use super::scheduler::{self, Clock, Timing};
use super::{Filter, Rewrites};
use crate::gateway::{rooms, GatewayHandle};
use crate::{Error, Result};

/// How long a replay waits for its clients unless told otherwise.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the client count is checked while waiting.
const CLIENT_POLL: Duration = Duration::from_millis(25);

/// Everything a server-side replay needs besides the gateway and the events.
#[derive(Debug, Clone)]
pub struct ServerReplayOptions {
    /// The session being replayed (for the status; the events are passed in).
    pub source: i64,
    pub timing: Timing,
    pub filter: Filter,
    pub rewrites: Rewrites,
    /// Sockets (over the replayed namespaces) to wait for before the first event.
    pub wait_clients: usize,
    pub wait_timeout: Duration,
    /// Pause after the clients are there, so they can subscribe to their rooms.
    pub start_delay: Duration,
}

impl ServerReplayOptions {
    /// Original timing, no filters or rewrites, no waiting.
    pub fn new(source: i64) -> Self {
        Self {
            source,
            timing: Timing::default(),
            filter: Filter::default(),
            rewrites: Rewrites::default(),
            wait_clients: 0,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            start_delay: Duration::ZERO,
        }
    }

    /// Options from the GUI's / CLI's request; bad rules or timing are the error.
    pub fn from_request(req: &ServerReplayRequest) -> Result<Self> {
        let (timing, filter, rewrites) = super::plan_parts(&req.plan)?;
        let wait_timeout = req
            .wait_timeout_ms
            .map_or(DEFAULT_WAIT_TIMEOUT, Duration::from_millis);
        let start_delay = Duration::from_millis(req.start_delay_ms);
        // Deadlines are `Instant + these`: out of range is an error, not an overflow.
        crate::limits::check_duration("--wait-timeout", wait_timeout).map_err(Error::BadReplay)?;
        crate::limits::check_duration("--start-delay", start_delay).map_err(Error::BadReplay)?;
        crate::limits::check_range(
            "--wait-clients",
            req.wait_clients,
            0,
            crate::limits::MAX_CLIENTS,
        )
        .map_err(Error::BadReplay)?;
        Ok(Self {
            source: req.session,
            timing,
            filter,
            rewrites,
            wait_clients: req.wait_clients,
            wait_timeout,
            start_delay,
        })
    }
}

/// One event to emit: when, where and what.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEmit {
    /// Offset from the replay's start.
    pub at: Duration,
    pub namespace: String,
    pub event: String,
    /// The rewritten argument list, one Socket.IO argument each.
    pub args: Vec<Value>,
    /// Full room names (rewritten); empty = the whole namespace.
    pub rooms: Vec<String>,
    /// The rewritten tenant, for the published record.
    pub tenant: Option<String>,
}

/// `s` with the literal rules applied, as they apply to string values.
fn rewrite_str(rewrites: &Rewrites, s: &str) -> String {
    let mut v = Value::String(s.to_owned());
    rewrites.apply_literal(&mut v);
    match v {
        Value::String(out) => out,
        _ => s.to_owned(),
    }
}

/// Where a recorded event goes in a replay, rewritten: `(rooms, tenant)`, or `None`
/// when it has nobody to go to (see the module docs).
pub fn address(rec: &EventRecord, rewrites: &Rewrites) -> Option<(Vec<String>, Option<String>)> {
    let tenant = rec.tenant.as_deref().map(|t| rewrite_str(rewrites, t));
    if rec.socket_id.is_some() {
        let user = rec.user.as_deref().map(|u| rewrite_str(rewrites, u))?;
        return Some((vec![rooms::user_room(tenant.as_deref(), &user)], tenant));
    }
    let rooms = rec.rooms.iter().map(|r| rewrite_str(rewrites, r)).collect();
    Some((rooms, tenant))
}

/// The emits of a replay of `events` (a whole session), over every loop.
pub fn plan(events: &[EventRecord], opts: &ServerReplayOptions) -> Vec<PlannedEmit> {
    let mut chosen = Vec::new();
    for e in events {
        if e.direction != Direction::S2c || is_lifecycle(&e.event) || !opts.filter.keeps(&e.event) {
            continue;
        }
        match address(e, &opts.rewrites) {
            Some(to) => chosen.push((e, to)),
            None => {
                tracing::warn!(seq = e.seq, event = %e.event, socket = ?e.socket_id, "event was sent to one socket with no user: left out of the replay");
            }
        }
    }
    let ts: Vec<i64> = chosen.iter().map(|(e, _)| e.ts).collect();
    let offsets = scheduler::plan(&ts, &opts.timing);
    offsets
        .into_iter()
        .zip(chosen.iter().cycle())
        .map(|(at, (e, (rooms, tenant)))| {
            let mut args = match &e.args {
                Value::Array(_) => e.args.clone(),
                other => Value::Array(vec![other.clone()]),
            };
            opts.rewrites.apply(&mut args);
            let args = match args {
                Value::Array(items) => items,
                other => vec![other],
            };
            PlannedEmit {
                at,
                namespace: e.namespace.clone(),
                event: e.event.clone(),
                args,
                rooms: rooms.clone(),
                tenant: tenant.clone(),
            }
        })
        .collect()
}

/// What a [`ServerReplayHandle`] asks of the running replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Pause,
    Resume,
    Seek(usize),
    Stop,
}

/// Controls and progress of a running server-side replay. Cheap to clone; every
/// clone controls the same replay.
#[derive(Clone)]
pub struct ServerReplayHandle {
    controls: mpsc::UnboundedSender<Control>,
    status: watch::Receiver<ServerReplayStatus>,
    /// Why the replay failed, for the first [`ServerReplayHandle::wait`] to return.
    failure: Arc<Mutex<Option<Error>>>,
}

impl ServerReplayHandle {
    fn send(&self, c: Control) -> Result<()> {
        if self.status.borrow().phase.is_done() {
            return Err(Error::ReplayNotRunning);
        }
        self.controls.send(c).map_err(|_| Error::ReplayNotRunning)
    }

    /// Holds the next event until [`ServerReplayHandle::resume`].
    pub fn pause(&self) -> Result<()> {
        self.send(Control::Pause)
    }

    pub fn resume(&self) -> Result<()> {
        self.send(Control::Resume)
    }

    /// Makes event `index` of the plan the next one (at once, unless paused);
    /// `index == total` skips to the end.
    pub fn seek(&self, index: u64) -> Result<()> {
        let total = self.status.borrow().total;
        if index > total {
            return Err(Error::BadSeek { index, total });
        }
        let i = usize::try_from(index).map_err(|_| Error::BadSeek { index, total })?;
        self.send(Control::Seek(i))
    }

    /// Ends the replay; nothing more is emitted.
    pub fn stop(&self) -> Result<()> {
        self.send(Control::Stop)
    }

    /// The progress as of now.
    pub fn status(&self) -> ServerReplayStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every status change.
    pub fn subscribe(&self) -> watch::Receiver<ServerReplayStatus> {
        self.status.clone()
    }

    /// Waits until the replay is finished or stopped and returns its last status; a
    /// failed replay (no clients in time) is the error.
    pub async fn wait(&self) -> Result<ServerReplayStatus> {
        let mut rx = self.status.clone();
        let waited = rx.wait_for(|s| s.phase.is_done()).await.map(|s| s.clone());
        let last = match waited {
            Ok(s) => s,
            Err(_) => rx.borrow().clone(),
        };
        if last.phase == ServerReplayPhase::Failed {
            let taken = self.failure.lock().ok().and_then(|mut f| f.take());
            return Err(taken.unwrap_or_else(|| {
                Error::BadReplay(last.error.clone().unwrap_or_else(|| "replay failed".into()))
            }));
        }
        if !last.phase.is_done() {
            return Err(Error::ReplayNotRunning);
        }
        Ok(last)
    }
}

/// Starts a server-side replay of `events` through `gateway` (see the module docs).
/// Bad timing, nothing to emit or a namespace the gateway does not serve fail here,
/// before anything is emitted.
pub fn start(
    gateway: GatewayHandle,
    events: &[EventRecord],
    opts: ServerReplayOptions,
) -> Result<ServerReplayHandle> {
    opts.timing.validate()?;
    super::precheck(
        events.iter().filter(|e| {
            e.direction == Direction::S2c && !is_lifecycle(&e.event) && opts.filter.keeps(&e.event)
        }),
        &opts.timing,
        &opts.rewrites,
    )?;
    let emits = plan(events, &opts);
    if emits.is_empty() {
        return Err(Error::NoServerEvents(opts.source));
    }
    let namespaces = replayed_namespaces(&emits);
    for ns in &namespaces {
        if !gateway.namespaces().iter().any(|served| served == ns)
            && gateway.plain_websocket_path() != Some(ns.as_str())
        {
            return Err(Error::NamespaceNotServed {
                namespace: ns.clone(),
                served: gateway.namespaces().join(", "),
            });
        }
    }
    let (controls, mut control_rx) = mpsc::unbounded_channel();
    let (status_tx, status) = watch::channel(ServerReplayStatus {
        phase: ServerReplayPhase::Waiting,
        session: opts.source,
        total: emits.len() as u64,
        ..ServerReplayStatus::default()
    });
    let failure = Arc::new(Mutex::new(None));
    let handle = ServerReplayHandle {
        controls,
        status,
        failure: failure.clone(),
    };
    tracing::info!(source = opts.source, emits = emits.len(), namespaces = ?namespaces, speed = opts.timing.speed, wait_clients = opts.wait_clients, "server replay planned");
    tokio::spawn(async move {
        let count = || {
            namespaces
                .iter()
                .map(|ns| gateway.namespace_sockets(ns))
                .sum::<usize>()
        };
        let early = match get_ready(&opts, count, &mut control_rx).await {
            Ok(Some(early)) => early,
            Ok(None) => {
                status_tx.send_modify(|s| s.phase = ServerReplayPhase::Stopped);
                return;
            }
            Err(e) => {
                tracing::warn!(source = opts.source, error = %e, "server replay failed");
                status_tx.send_modify(|s| {
                    s.phase = ServerReplayPhase::Failed;
                    s.error = Some(e.to_string());
                });
                if let Ok(mut f) = failure.lock() {
                    *f = Some(e);
                }
                return;
            }
        };
        let outcome = play(
            &emits,
            early,
            &mut control_rx,
            &status_tx,
            |e: PlannedEmit| {
                let gw = gateway.clone();
                async move {
                    Ok(gw
                        .emit_to_rooms(
                            &e.namespace,
                            &e.rooms,
                            e.tenant.as_deref(),
                            &e.event,
                            &e.args,
                        )
                        .await?)
                }
            },
        )
        .await;
        let final_status = status_tx.borrow().clone();
        tracing::info!(
            source = opts.source,
            sent = final_status.sent,
            delivered = final_status.delivered,
            stopped = outcome == Ended::Stopped,
            max_schedule_error_us = final_status.schedule.max_error_us,
            "server replay ended"
        );
    });
    Ok(handle)
}

/// Each namespace the plan emits on, once, in first-use order.
fn replayed_namespaces(emits: &[PlannedEmit]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in emits {
        if !out.contains(&e.namespace) {
            out.push(e.namespace.clone());
        }
    }
    out
}

/// Waits for `opts.wait_clients` sockets (as `count` sees them) and then the start
/// delay. Returns the controls that came meanwhile (a pause before the start means
/// "start paused"), or `None` when stopped.
async fn get_ready(
    opts: &ServerReplayOptions,
    count: impl Fn() -> usize,
    controls: &mut mpsc::UnboundedReceiver<Control>,
) -> Result<Option<Vec<Control>>> {
    let started = tokio::time::Instant::now();
    let deadline = started + opts.wait_timeout;
    let mut early = Vec::new();
    let mut open = true;
    loop {
        let connected = count();
        if connected >= opts.wait_clients {
            tracing::debug!(connected, wanted = opts.wait_clients, "clients ready");
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::NoClients {
                wanted: opts.wait_clients,
                connected,
                waited_ms: u64::try_from(opts.wait_timeout.as_millis()).unwrap_or(u64::MAX),
            });
        }
        if !open {
            tokio::time::sleep(CLIENT_POLL).await;
            continue;
        }
        match tokio::time::timeout(CLIENT_POLL, controls.recv()).await {
            Ok(Some(Control::Stop)) => return Ok(None),
            Ok(Some(other)) => early.push(other),
            Ok(None) => open = false,
            Err(_) => {}
        }
    }
    let delay = tokio::time::sleep(opts.start_delay);
    tokio::pin!(delay);
    loop {
        tokio::select! {
            _ = &mut delay => break,
            c = controls.recv(), if open => match c {
                Some(Control::Stop) => return Ok(None),
                Some(other) => early.push(other),
                None => open = false,
            },
        }
    }
    Ok(Some(early))
}

/// Where a playback is: the next event and, while paused, the offset it paused at.
#[derive(Debug)]
struct Playhead {
    index: usize,
    paused_at: Option<Duration>,
    clock: Clock,
}

impl Playhead {
    fn new() -> Self {
        Self {
            index: 0,
            paused_at: None,
            clock: Clock::start(),
        }
    }

    /// Applies one control; false for stop.
    fn apply(&mut self, c: Control, emits: &[PlannedEmit]) -> bool {
        match c {
            Control::Pause => {
                if self.paused_at.is_none() {
                    self.paused_at = Some(self.clock.elapsed());
                }
            }
            Control::Resume => {
                if let Some(at) = self.paused_at.take() {
                    self.clock = Clock::resumed_at(at);
                }
            }
            Control::Seek(i) => {
                self.index = i.min(emits.len());
                // The sought event goes at once (on resume, when paused).
                let at = emits
                    .get(self.index)
                    .or(emits.last())
                    .map_or(Duration::ZERO, |e| e.at);
                match self.paused_at {
                    Some(_) => self.paused_at = Some(at),
                    None => self.clock = Clock::resumed_at(at),
                }
            }
            Control::Stop => return false,
        }
        true
    }
}

/// How a playback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Finished,
    Stopped,
}

/// Plays `emits` on schedule through `emit`, obeying `early` and then `controls`,
/// and reporting on `status` after every change.
async fn play<F>(
    emits: &[PlannedEmit],
    early: Vec<Control>,
    controls: &mut mpsc::UnboundedReceiver<Control>,
    status: &watch::Sender<ServerReplayStatus>,
    mut emit: impl FnMut(PlannedEmit) -> F,
) -> Ended
where
    F: std::future::Future<Output = Result<usize>>,
{
    let mut head = Playhead::new();
    let mut errors = scheduler::RunningSummary::default();
    let mut open = true;
    let mut ended = Ended::Finished;
    let publish = |head: &Playhead, errors: &scheduler::RunningSummary| {
        status.send_modify(|s| {
            s.phase = if head.paused_at.is_some() {
                ServerReplayPhase::Paused
            } else {
                ServerReplayPhase::Playing
            };
            s.paused = head.paused_at.is_some();
            s.index = head.index as u64;
            s.schedule = errors.summary();
        });
    };
    for c in early {
        if !head.apply(c, emits) {
            ended = Ended::Stopped;
        }
    }
    if ended == Ended::Finished {
        publish(&head, &errors);
        loop {
            let paused = head.paused_at.is_some();
            let due = emits.get(head.index).map(|e| e.at);
            let clock = head.clock;
            if due.is_none() && !paused {
                break;
            }
            tokio::select! {
                biased;
                c = controls.recv(), if open => match c {
                    Some(c) => {
                        tracing::debug!(control = ?c, index = head.index, "server replay control");
                        if !head.apply(c, emits) {
                            ended = Ended::Stopped;
                            break;
                        }
                        publish(&head, &errors);
                    }
                    None => open = false,
                },
                error_us = clock.wait(due.unwrap_or_default()), if !paused && due.is_some() => {
                    let i = head.index;
                    let e = &emits[i];
                    errors.push(error_us);
                    let delivered = match emit(e.clone()).await {
                        Ok(n) => n,
                        Err(error) => {
                            tracing::warn!(index = i, event = %e.event, %error, "replayed emit failed");
                            0
                        }
                    };
                    head.index = i + 1;
                    status.send_modify(|s| {
                        s.sent += 1;
                        s.delivered += delivered as u64;
                        s.event = e.event.clone();
                    });
                    publish(&head, &errors);
                }
                else => {
                    // Paused with no handle left to resume: nobody can go on.
                    ended = Ended::Stopped;
                    break;
                }
            }
        }
    }
    status.send_modify(|s| {
        s.phase = match ended {
            Ended::Finished => ServerReplayPhase::Finished,
            Ended::Stopped => ServerReplayPhase::Stopped,
        };
        s.paused = false;
        s.index = head.index as u64;
        s.schedule = errors.summary();
    });
    ended
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sockscope_protocol::ReplayPlan;
    use sockscope_test_support::Event;
    use tokio::time::Instant;

    fn event(ts_ms: i64, event: &str, args: Value, rooms: &[&str], tenant: Option<&str>) -> Event {
        Event::new(event, args)
            .ts(ts_ms * 1000)
            .direction(Direction::S2c)
            .rooms(rooms.iter().copied())
            .tenant(tenant)
    }

    fn rec(
        ts_ms: i64,
        name: &str,
        args: Value,
        rooms: &[&str],
        tenant: Option<&str>,
    ) -> EventRecord {
        event(ts_ms, name, args, rooms, tenant).build()
    }

    fn session() -> Vec<EventRecord> {
        let c2s = event(
            50,
            "subscribe",
            json!([{"room": "orders"}]),
            &[],
            Some("acme"),
        )
        .direction(Direction::C2s)
        .build();
        let direct = event(
            700,
            "welcome",
            json!([{"to": "ann@acme"}]),
            &["tenant:acme:orders"],
            Some("acme"),
        )
        .socket("s1")
        .user("ann")
        .build();
        let anonymous = event(750, "hello", json!([]), &[], None)
            .socket("s2")
            .build();
        vec![
            rec(0, "connect", json!([]), &[], Some("acme")),
            c2s,
            rec(
                100,
                "order",
                json!([{"id": 1, "tenant": "acme"}, "extra"]),
                &["tenant:acme:orders"],
                Some("acme"),
            ),
            rec(
                500,
                "order",
                json!([{"id": 2, "tenant": "globex"}]),
                &["tenant:globex:orders"],
                Some("globex"),
            ),
            rec(600, "announce", json!({"text": "hi acme"}), &[], None),
            direct,
            anonymous,
            rec(900, "disconnect", json!([]), &[], Some("acme")),
        ]
    }

    #[test]
    fn plan_keeps_server_events_with_their_rooms_and_tenants() {
        let p = plan(&session(), &ServerReplayOptions::new(1));
        let got: Vec<(&str, u128, Vec<String>, Option<&str>)> = p
            .iter()
            .map(|e| {
                (
                    e.event.as_str(),
                    e.at.as_millis(),
                    e.rooms.clone(),
                    e.tenant.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "order",
                    0,
                    vec!["tenant:acme:orders".to_owned()],
                    Some("acme")
                ),
                (
                    "order",
                    400,
                    vec!["tenant:globex:orders".to_owned()],
                    Some("globex")
                ),
                ("announce", 500, vec![], None),
                // One socket's event goes to that user's room, not the socket's rooms.
                (
                    "welcome",
                    600,
                    vec!["tenant:acme:user:ann".to_owned()],
                    Some("acme")
                ),
            ]
        );
        // Several arguments stay several; a bare value becomes the one argument.
        assert_eq!(
            p[0].args,
            vec![json!({"id": 1, "tenant": "acme"}), json!("extra")]
        );
        assert_eq!(p[2].args, vec![json!({"text": "hi acme"})]);
    }

    #[test]
    fn literal_rewrites_move_rooms_tenant_and_user_set_rules_only_touch_args() {
        let mut o = ServerReplayOptions::new(1);
        o.rewrites = Rewrites::parse(&["acme=>globex".into()], &["$.id=9".into()]).unwrap();
        o.filter.skip = vec!["announce".into()];
        let p = plan(&session(), &o);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].rooms, vec!["tenant:globex:orders"]);
        assert_eq!(p[0].tenant.as_deref(), Some("globex"));
        assert_eq!(
            p[0].args,
            vec![json!({"id": 9, "tenant": "globex"}), json!("extra")]
        );
        assert_eq!(p[1].rooms, vec!["tenant:globex:orders"]);
        assert_eq!(p[2].rooms, vec!["tenant:globex:user:ann"]);
        assert_eq!(p[2].args, vec![json!({"to": "ann@globex"})]);
    }

    #[test]
    fn plan_loops_and_timing_follow_the_scheduler() {
        let mut o = ServerReplayOptions::new(1);
        o.timing.speed = 2.0;
        o.timing.loops = 2;
        o.filter.only = vec!["order".into()];
        let at: Vec<u128> = plan(&session(), &o)
            .iter()
            .map(|e| e.at.as_millis())
            .collect();
        assert_eq!(at, vec![0, 200, 200, 400]);
    }

    #[test]
    fn options_from_a_request_reject_bad_rules_and_timing() {
        let mut req = ServerReplayRequest {
            session: 3,
            plan: ReplayPlan {
                rewrites: vec!["acme=>globex".into()],
                max_gap_ms: Some(250),
                ..ReplayPlan::default()
            },
            wait_clients: 2,
            ..ServerReplayRequest::default()
        };
        let o = ServerReplayOptions::from_request(&req).unwrap();
        assert_eq!(o.source, 3);
        assert_eq!(o.timing.max_gap, Some(Duration::from_millis(250)));
        assert_eq!(o.wait_clients, 2);
        assert_eq!(o.wait_timeout, DEFAULT_WAIT_TIMEOUT);
        req.plan.speed = 0.0;
        assert!(matches!(
            ServerReplayOptions::from_request(&req),
            Err(Error::BadReplay(_))
        ));
        req.plan.speed = 1.0;
        req.plan.rewrites = vec!["no-arrow".into()];
        assert!(matches!(
            ServerReplayOptions::from_request(&req),
            Err(Error::BadRewrite { .. })
        ));
        req.plan.rewrites = Vec::new();
        assert!(ServerReplayOptions::from_request(&req).is_ok());
        req.wait_timeout_ms = Some(u64::MAX);
        let e = ServerReplayOptions::from_request(&req)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--wait-timeout must be at most 30days"), "{e}");
        req.wait_timeout_ms = None;
        req.start_delay_ms = u64::MAX;
        assert!(ServerReplayOptions::from_request(&req).is_err());
    }

    fn emits(offsets_ms: &[u64]) -> Vec<PlannedEmit> {
        offsets_ms
            .iter()
            .enumerate()
            .map(|(i, ms)| PlannedEmit {
                at: Duration::from_millis(*ms),
                namespace: "/".into(),
                event: format!("e{i}"),
                args: vec![],
                rooms: vec![],
                tenant: None,
            })
            .collect()
    }

    type Log = Arc<Mutex<Vec<(String, u128)>>>;

    /// Runs `play` in a task; the log holds (event, ms since start) per emit.
    fn spawn_play(
        plan: Vec<PlannedEmit>,
        early: Vec<Control>,
    ) -> (
        mpsc::UnboundedSender<Control>,
        watch::Receiver<ServerReplayStatus>,
        Log,
        tokio::task::JoinHandle<Ended>,
    ) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (status_tx, status_rx) = watch::channel(ServerReplayStatus {
            total: plan.len() as u64,
            ..ServerReplayStatus::default()
        });
        let log: Log = Arc::default();
        let sink = log.clone();
        let t0 = Instant::now();
        let task = tokio::spawn(async move {
            play(&plan, early, &mut rx, &status_tx, |e: PlannedEmit| {
                let sink = sink.clone();
                async move {
                    if let Ok(mut l) = sink.lock() {
                        l.push((e.event.clone(), t0.elapsed().as_millis()));
                    }
                    Ok(2)
                }
            })
            .await
        });
        (tx, status_rx, log, task)
    }

    fn logged(log: &Log) -> Vec<(String, u128)> {
        log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn ev(name: &str, ms: u128) -> (String, u128) {
        (name.to_owned(), ms)
    }

    #[tokio::test(start_paused = true)]
    async fn plays_on_schedule_and_reports_progress() {
        let (_tx, status, log, task) = spawn_play(emits(&[0, 100, 300]), vec![]);
        assert_eq!(task.await.unwrap(), Ended::Finished);
        assert_eq!(
            logged(&log),
            vec![ev("e0", 0), ev("e1", 100), ev("e2", 300)]
        );
        let s = status.borrow().clone();
        assert_eq!(s.phase, ServerReplayPhase::Finished);
        assert_eq!((s.sent, s.total, s.index, s.delivered), (3, 3, 3, 6));
        assert_eq!(s.event, "e2");
        assert_eq!(s.schedule.sends, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_the_next_event_and_resume_keeps_the_remaining_gap() {
        let (tx, status, log, task) = spawn_play(emits(&[0, 100, 200, 300]), vec![]);
        tokio::time::sleep(Duration::from_millis(150)).await;
        tx.send(Control::Pause).unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(logged(&log), vec![ev("e0", 0), ev("e1", 100)]);
        {
            let s = status.borrow();
            assert_eq!(s.phase, ServerReplayPhase::Paused);
            assert!(s.paused);
            assert_eq!((s.sent, s.index), (2, 2));
        }
        // Paused at offset 150: e2 (planned at 200) comes 50 ms after the resume.
        tx.send(Control::Resume).unwrap();
        assert_eq!(task.await.unwrap(), Ended::Finished);
        assert_eq!(
            logged(&log),
            vec![ev("e0", 0), ev("e1", 100), ev("e2", 1200), ev("e3", 1300)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn seek_jumps_to_an_index_and_replays_from_there() {
        let (tx, status, log, task) = spawn_play(emits(&[0, 100, 200, 300]), vec![]);
        tokio::time::sleep(Duration::from_millis(250)).await;
        // Back to e1: at once, then e2 100 ms later, as planned.
        tx.send(Control::Seek(1)).unwrap();
        assert_eq!(task.await.unwrap(), Ended::Finished);
        assert_eq!(
            logged(&log),
            vec![
                ev("e0", 0),
                ev("e1", 100),
                ev("e2", 200),
                ev("e1", 250),
                ev("e2", 350),
                ev("e3", 450)
            ]
        );
        assert_eq!(status.borrow().sent, 6);
    }

    #[tokio::test(start_paused = true)]
    async fn seek_while_paused_waits_for_resume_and_stop_ends_early() {
        // A pause that came before the start: nothing plays until resumed.
        let (tx, status, log, task) = spawn_play(emits(&[0, 100, 200, 300]), vec![Control::Pause]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(logged(&log).is_empty());
        tx.send(Control::Seek(3)).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(logged(&log).is_empty());
        assert_eq!(status.borrow().index, 3);
        tx.send(Control::Resume).unwrap();
        assert_eq!(task.await.unwrap(), Ended::Finished);
        assert_eq!(logged(&log), vec![ev("e3", 600)]);

        let (tx, status, log, task) = spawn_play(emits(&[0, 100, 200]), vec![]);
        tokio::time::sleep(Duration::from_millis(150)).await;
        tx.send(Control::Stop).unwrap();
        assert_eq!(task.await.unwrap(), Ended::Stopped);
        assert_eq!(logged(&log), vec![ev("e0", 0), ev("e1", 100)]);
        let s = status.borrow().clone();
        assert_eq!(
            (s.phase, s.sent, s.index),
            (ServerReplayPhase::Stopped, 2, 2)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_clients_times_out_or_keeps_early_controls() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut o = ServerReplayOptions::new(1);
        o.wait_clients = 2;
        o.wait_timeout = Duration::from_millis(300);
        let e = get_ready(&o, || 1, &mut rx).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::NoClients {
                    wanted: 2,
                    connected: 1,
                    waited_ms: 300
                }
            ),
            "{e}"
        );
        assert_eq!(e.to_string(), "only 1 of 2 clients connected within 300 ms");

        let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = n.clone();
        o.start_delay = Duration::from_millis(200);
        o.wait_timeout = Duration::from_secs(5);
        tx.send(Control::Pause).unwrap();
        let t0 = Instant::now();
        let waiter = tokio::spawn(async move {
            let r = get_ready(
                &o,
                || seen.load(std::sync::atomic::Ordering::Relaxed),
                &mut rx,
            )
            .await;
            (r, t0.elapsed().as_millis())
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        n.store(2, std::sync::atomic::Ordering::Relaxed);
        let (r, elapsed) = waiter.await.unwrap();
        assert_eq!(r.unwrap(), Some(vec![Control::Pause]));
        // Clients at ~100 ms (polled every 25 ms), then the 200 ms start delay.
        assert!((300..=330).contains(&elapsed), "{elapsed}");
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_while_waiting_ends_without_error() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut o = ServerReplayOptions::new(1);
        o.wait_clients = 1;
        tx.send(Control::Stop).unwrap();
        assert_eq!(get_ready(&o, || 0, &mut rx).await.unwrap(), None);
    }
}
