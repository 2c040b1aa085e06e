//! `sockscope replay SESSION --target URL`: re-send a recorded session's client
//! events to a gateway (original timing, faster, or as fast as possible; filtered
//! and rewritten), record what it answers as a new `replay` session and print the
//! drift report. The connection flags are `connect`'s; the behaviour is the engine's
//! `replay` module. Exit code 0 whenever the replay ran, drift or not, unless
//! `--fail-on-drift` makes drift a CI failure (exit 1); `--junit FILE` writes the
//! report as JUnit XML.
//!
//! `--mode server` is the other direction (see `replay_server.rs`): the embedded
//! gateway re-emits the session's server events to the clients connected to it.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use sockscope_engine::connection::{ConnectOptions, Transport};
use sockscope_engine::replay::{self, Filter, ReplayOptions, Rewrites, Timing};
use sockscope_protocol::{DriftReport, ReplayPlan};

use crate::connect::{pair, parse_duration, EioArg, ParserArg, TransportArg};
use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::replay_server::{self, ServerReplay};

/// Which side of the recording is replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Re-send the client events to a gateway (--target).
    Client,
    /// Re-emit the server events from the embedded gateway to connected clients.
    Server,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The session to replay (`sockscope sessions list`).
    pub(crate) session: i64,
    /// client: re-send client events to --target; server: the embedded gateway
    /// re-emits server events to the clients that connect to it.
    #[arg(long, value_enum, default_value = "client")]
    pub(crate) mode: Mode,
    /// Client mode: the gateway to replay against, e.g. http://staging.local:4004
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Client mode: the namespace to connect to (default: the one the first replayed
    /// event was recorded on). Server mode: an extra namespace to serve besides `/`
    /// (repeatable).
    #[arg(long = "namespace", short = 'n', value_name = "NS")]
    pub(crate) namespaces: Vec<String>,
    /// The handshake's auth object, e.g. '{"token":"..."}', or @FILE holding it (or a
    /// bare token). Default: the SOCKSCOPE_AUTH environment variable.
    #[arg(long, value_name = "JSON|@FILE")]
    auth: Option<String>,
    /// Extra handshake header (repeatable).
    #[arg(long = "header", value_name = "K:V")]
    headers: Vec<String>,
    /// Extra query parameter (repeatable).
    #[arg(long = "query", value_name = "K=V")]
    query: Vec<String>,
    /// websocket or polling (default: polling upgraded to websocket).
    #[arg(long, value_enum)]
    transport: Option<TransportArg>,
    /// Speed factor on the recorded gaps: 2 = twice as fast, 0.5 = half speed.
    /// Client mode: Engine.IO revision (auto: v4, or v3 when the server answers so).
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) eio: EioArg,
    /// The Socket.IO parser to speak (the gateway's in server mode). Default: the
    /// one the session was recorded with.
    #[arg(long, value_enum)]
    pub(crate) parser: Option<ParserArg>,
    /// Client mode: answer the target's ack requests for EVENT (or `*`) with this
    /// JSON (repeatable).
    #[arg(long = "ack-reply", value_name = "EVENT=JSON")]
    pub(crate) ack_replies: Vec<String>,
    #[arg(long, default_value_t = 1.0, value_name = "F", value_parser = crate::numbers::speed)]
    pub(crate) speed: f64,
    /// Send each event as soon as the one before it went out.
    #[arg(long, conflicts_with = "speed")]
    pub(crate) as_fast_as_possible: bool,
    /// Longest wait between two events (after --speed): 2s, 500ms.
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    pub(crate) max_gap: Option<Duration>,
    /// Only send events with this name (repeatable).
    #[arg(long = "only", value_name = "EVENT")]
    pub(crate) only: Vec<String>,
    /// Never send events with this name (repeatable).
    #[arg(long = "skip", value_name = "EVENT")]
    pub(crate) skip: Vec<String>,
    /// Replace text in every string of every argument (repeatable): 'tenant-a=>tenant-b'.
    /// Server mode: in room names, tenant and user too.
    #[arg(long = "rewrite", value_name = "FROM=>TO")]
    pub(crate) rewrites: Vec<String>,
    /// Set an existing field of the first argument (repeatable): '$.tenantID=t2';
    /// '$[1].x=VALUE' for the second argument. VALUE is JSON, else a string.
    #[arg(long = "set", value_name = "$.PATH=VALUE")]
    pub(crate) sets: Vec<String>,
    /// Send the whole sequence this many times, back to back.
    #[arg(long = "loop", default_value_t = 1, value_name = "N", value_parser = crate::numbers::loops)]
    pub(crate) loops: u32,
    /// Drop this key (any depth) from ack payloads before comparing (repeatable).
    #[arg(long = "ignore", value_name = "KEY")]
    ignore: Vec<String>,
    /// How long to wait for each ack.
    #[arg(long, value_parser = parse_duration, default_value = "5s", value_name = "D")]
    ack_timeout: Duration,
    /// After the last send, wait until the target is quiet this long.
    #[arg(long, value_parser = parse_duration, default_value = "500ms", value_name = "D")]
    settle: Duration,
    /// Name of the new session (default: "replay of SESSION").
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Print the drift report (server mode: the final status) as one JSON document.
    #[arg(long)]
    pub(crate) json: bool,
    /// Client mode: exit 1 when the drift report is not clean (a CI gate).
    #[arg(long)]
    fail_on_drift: bool,
    /// Client mode: also write the drift report as JUnit XML (one test case per
    /// event count, plus missing/unexpected events and acks).
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub(crate) server: replay_server::ServerModeArgs,
    #[command(flatten)]
    pub(crate) redact: crate::redaction::RedactArgs,
    #[command(flatten)]
    pub(crate) tls: crate::tls_args::TlsArgs,
}

impl ReplayArgs {
    /// The client-mode-only flags that were given, by name.
    pub(crate) fn client_only_flags(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.target.is_some() {
            given.push("--target");
        }
        if self.auth.is_some() {
            given.push("--auth");
        }
        if !self.headers.is_empty() {
            given.push("--header");
        }
        if !self.query.is_empty() {
            given.push("--query");
        }
        if self.transport.is_some() {
            given.push("--transport");
        }
        if !self.ignore.is_empty() {
            given.push("--ignore");
        }
        if self.name.is_some() {
            given.push("--name");
        }
        if self.tls.ca_cert.is_some() || self.tls.insecure || self.tls.client_cert.is_some() {
            given.push("--ca-cert/--insecure/--client-cert");
        }
        if !self.ack_replies.is_empty() {
            given.push("--ack-reply");
        }
        if self.fail_on_drift {
            given.push("--fail-on-drift");
        }
        if self.junit.is_some() {
            given.push("--junit");
        }
        given
    }

    fn target(&self) -> Result<ConnectOptions> {
        let auth = crate::connect::parse_auth(self.auth.as_deref())?;
        let url = self.target.clone().ok_or_else(|| {
            CliError::Usage(
                "client mode needs --target URL (or --mode server to replay from the embedded gateway)"
                    .into(),
            )
        })?;
        if self.namespaces.len() > 1 {
            return Err(CliError::Usage(
                "client mode connects to one namespace: give --namespace once".into(),
            ));
        }
        Ok(ConnectOptions {
            url,
            namespace: self.namespaces.first().cloned().unwrap_or_default(),
            auth,
            headers: self
                .headers
                .iter()
                .map(|h| pair(h, ':', "--header"))
                .collect::<Result<_>>()?,
            query: self
                .query
                .iter()
                .map(|q| pair(q, '=', "--query"))
                .collect::<Result<_>>()?,
            transport: match self.transport {
                None => Transport::Any,
                Some(TransportArg::Websocket) => Transport::Websocket,
                Some(TransportArg::Polling) => Transport::Polling,
            },
            // A replay is one pass: a dropped connection shows up as drift.
            reconnect: false,
            reconnect_attempts: 0,
            reconnect_delay_ms: 500,
            on_connect: Vec::new(),
            max_payload: 0,
            tls: self.tls.options()?,
            eio: self.eio.into(),
            parser: self.parser.map(Into::into).unwrap_or_default(),
            ack_replies: crate::connect::ack_replies(&self.ack_replies)?,
        })
    }

    /// What `--mode server` needs of these flags.
    pub(crate) fn server_replay(&self) -> ServerReplay {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        ServerReplay {
            session: self.session,
            plan: ReplayPlan {
                speed: self.speed,
                as_fast_as_possible: self.as_fast_as_possible,
                max_gap_ms: self.max_gap.map(ms),
                loops: self.loops,
                only: self.only.clone(),
                skip: self.skip.clone(),
                rewrites: self.rewrites.clone(),
                sets: self.sets.clone(),
            },
            namespaces: self.namespaces.clone(),
            parser: self.parser.map(Into::into),
            db: self.db.clone(),
            json: self.json,
            server: self.server.clone(),
        }
    }

    fn options(&self) -> Result<ReplayOptions> {
        let mut opts = ReplayOptions::new(self.session, self.target()?);
        opts.timing = Timing {
            speed: self.speed,
            max_gap: self.max_gap,
            as_fast_as_possible: self.as_fast_as_possible,
            loops: self.loops,
        };
        opts.timing.validate()?;
        opts.filter = Filter {
            only: self.only.clone(),
            skip: self.skip.clone(),
        };
        opts.rewrites = Rewrites::parse(&self.rewrites, &self.sets)?;
        opts.ignore = self.ignore.clone();
        opts.ack_timeout = self.ack_timeout;
        opts.settle = self.settle;
        opts.name = self.name.clone();
        opts.parser = self.parser.map(Into::into);
        Ok(opts)
    }
}

pub async fn run(args: ReplayArgs) -> Result<()> {
    args.redact.apply();
    if args.mode == Mode::Server {
        let client_only = args.client_only_flags();
        if !client_only.is_empty() {
            return Err(CliError::Usage(format!(
                "{} cannot be used with --mode server (the embedded gateway replays to the clients that connect to it)",
                client_only.join(", ")
            )));
        }
        return replay_server::run(args.server_replay()).await;
    }
    args.tls.announce();
    args.server.reject_in_client_mode()?;
    // Bad rules and flags fail before the database or the network is touched.
    let opts = args.options()?;
    let started = std::time::Instant::now();
    let store = args.db.open()?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("replay {bar:30} {pos}/{len} {msg} ({elapsed})")
    {
        bar.set_style(style);
    }
    let outcome = replay::run(&store, opts, |p| {
        bar.set_length(p.total);
        bar.set_position(p.sent);
        bar.set_message(p.event.clone());
    })
    .await;
    bar.finish_and_clear();
    let report = outcome?.report;
    crate::output::report(&report, args.json, human)?;
    eprintln!(
        "replay session {}: {} events sent to {}, {}",
        report.replay_session,
        report.sent,
        report.target,
        if report.is_clean() {
            "no drift"
        } else {
            "drift found"
        }
    );
    if let Some(path) = &args.junit {
        crate::junit::write(
            path,
            &format!("replay of session {}", report.source_session),
            started.elapsed().as_secs_f64(),
            &junit_cases(&report),
        )?;
    }
    if args.fail_on_drift && !report.is_clean() {
        return Err(CliError::Gate(format!(
            "drift found replaying session {} against {} (--fail-on-drift)",
            report.source_session, report.target
        )));
    }
    Ok(())
}

/// The drift report as JUnit test cases: one per server event count, then the
/// missing and unexpected names and the ack payloads.
fn junit_cases(r: &DriftReport) -> Vec<crate::junit::Case> {
    use crate::junit::Case;
    const CLASS: &str = "replay";
    let mut cases: Vec<Case> = r
        .events
        .iter()
        .map(|e| {
            let name = format!("count {}", e.event);
            if e.expected == e.received {
                Case::pass(CLASS, name)
            } else {
                Case::fail(
                    CLASS,
                    name,
                    format!("expected {} received {}", e.expected, e.received),
                )
            }
        })
        .collect();
    let listed = |name: &str, names: &[String]| {
        if names.is_empty() {
            Case::pass(CLASS, name)
        } else {
            Case::fail(CLASS, name, names.join(", "))
        }
    };
    cases.push(listed("missing events", &r.missing));
    cases.push(listed("unexpected events", &r.unexpected));
    let acks: Vec<String> = r
        .ack_mismatches
        .iter()
        .map(|m| {
            format!(
                "#{} {}: expected {} received {}",
                m.index, m.event, m.expected, m.received
            )
        })
        .collect();
    cases.push(listed("ack payloads", &acks));
    cases
}

/// The report as tables a person reads top to bottom.
fn human(out: &mut impl Write, r: &DriftReport) -> std::io::Result<()> {
    writeln!(
        out,
        "replay of session {} -> {}: {} events sent, new session {}",
        r.source_session, r.target, r.sent, r.replay_session
    )?;
    let width = r
        .events
        .iter()
        .map(|e| e.event.len())
        .max()
        .unwrap_or(0)
        .max(5);
    writeln!(
        out,
        "{:<width$}  {:>8}  {:>8}",
        "event", "expected", "received"
    )?;
    for e in &r.events {
        let mark = if e.expected == e.received { "" } else { "  *" };
        writeln!(
            out,
            "{:<width$}  {:>8}  {:>8}{mark}",
            e.event, e.expected, e.received
        )?;
    }
    if !r.missing.is_empty() {
        writeln!(out, "missing: {}", r.missing.join(", "))?;
    }
    if !r.unexpected.is_empty() {
        writeln!(out, "unexpected: {}", r.unexpected.join(", "))?;
    }
    if r.ack_mismatches.is_empty() {
        writeln!(out, "acks: all match")?;
    } else {
        writeln!(out, "acks that differ:")?;
        for m in &r.ack_mismatches {
            write!(
                out,
                "  #{} {}: expected {} received {}",
                m.index, m.event, m.expected, m.received
            )?;
            if let Some(e) = &m.error {
                write!(out, " ({e})")?;
            }
            writeln!(out)?;
        }
    }
    if !r.latency.is_empty() {
        writeln!(out, "ack latency (ms, original -> replay):")?;
        for l in &r.latency {
            writeln!(
                out,
                "  #{} {}: {:.1} -> {:.1} ({:+.1})",
                l.index, l.event, l.original_ms, l.replay_ms, l.delta_ms
            )?;
        }
    }
    writeln!(
        out,
        "schedule: mean error {:.2} ms, max {:.2} ms over {} sends",
        r.schedule.mean_error_us / 1000.0,
        r.schedule.max_error_us as f64 / 1000.0,
        r.schedule.sends
    )?;
    if r.dropped > 0 {
        writeln!(out, "dropped: {} records not written", r.dropped)?;
    }
    writeln!(
        out,
        "{}",
        if r.is_clean() {
            "no drift"
        } else {
            "drift found"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_protocol::{AckDrift, EventCountDrift};

    #[test]
    fn human_report_marks_differences() {
        let r = DriftReport {
            source_session: 1,
            replay_session: 2,
            target: "http://x".into(),
            sent: 3,
            events: vec![
                EventCountDrift {
                    event: "order".into(),
                    expected: 2,
                    received: 1,
                },
                EventCountDrift {
                    event: "tick".into(),
                    expected: 1,
                    received: 1,
                },
            ],
            ack_mismatches: vec![AckDrift {
                event: "echo".into(),
                index: 1,
                expected: serde_json::json!({"ok": true}),
                received: serde_json::json!({"ok": false}),
                error: None,
            }],
            ..DriftReport::default()
        };
        let mut out = Vec::new();
        human(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("order         2         1  *"), "{text}");
        assert!(text.contains("tick          1         1\n"), "{text}");
        assert!(
            text.contains("#1 echo: expected {\"ok\":true} received {\"ok\":false}"),
            "{text}"
        );
        assert!(text.ends_with("drift found\n"), "{text}");
        let cases = junit_cases(&r);
        let failed: Vec<&str> = cases
            .iter()
            .filter(|c| c.failure.is_some())
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(failed, ["count order", "ack payloads"]);
    }
}

/// `--mode server`'s flags, parsed as `replay` parses them.
#[cfg(test)]
mod server_mode_tests {
    use super::*;
    use clap::Parser;
    use sockscope_protocol::{AuthMode, ServerReplayRequest, DEFAULT_PORT};

    fn request(a: &ReplayArgs) -> ServerReplayRequest {
        replay_server::request(&a.server_replay())
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ReplayArgs,
    }

    fn parse(argv: &[&str]) -> ReplayArgs {
        let mut all = vec!["replay"];
        all.extend_from_slice(argv);
        Cli::try_parse_from(all).unwrap().args
    }

    #[test]
    fn server_mode_defaults_and_request() {
        let a = parse(&[
            "7",
            "--mode",
            "server",
            "--speed",
            "2",
            "--rewrite",
            "acme=>globex",
        ]);
        let req = request(&a);
        assert_eq!(req.session, 7);
        assert_eq!(req.plan.speed, 2.0);
        assert_eq!(req.wait_clients, 1);
        assert_eq!(req.start_delay_ms, 500);
        assert_eq!(req.wait_timeout_ms, Some(60_000));
        assert_eq!(req.plan.rewrites, vec!["acme=>globex"]);
        let s = a.server.settings(&a.namespaces);
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", DEFAULT_PORT));
        assert_eq!(s.auth, AuthMode::None);
        let a = parse(&[
            "7",
            "--mode",
            "server",
            "--port",
            "0",
            "--jwt-secret",
            "s",
            "-n",
            "/a",
            "-n",
            "/b",
            "--wait-clients",
            "0",
            "--start-delay",
            "0s",
        ]);
        let s = a.server.settings(&a.namespaces);
        assert_eq!(s.port, 0);
        assert_eq!(s.namespaces, vec!["/a", "/b"]);
        assert!(matches!(s.auth, AuthMode::Hs256 { .. }));
        assert_eq!(request(&a).wait_clients, 0);
        assert_eq!(request(&a).start_delay_ms, 0);
    }

    #[test]
    fn modes_reject_each_others_flags() {
        let a = parse(&["7", "--mode", "server", "--target", "http://x"]);
        assert_eq!(a.client_only_flags(), vec!["--target"]);
        let a = parse(&["7", "--target", "http://x", "--port", "1", "--keep-serving"]);
        let e = a.server.reject_in_client_mode().unwrap_err().to_string();
        assert_eq!(e, "--port, --keep-serving only apply with --mode server");
    }
}
