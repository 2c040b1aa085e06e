//! `sockscope replay SESSION --mode server`: the embedded gateway re-emits a recorded
//! session's server-to-client events to the clients that connect to it, so a front
//! end under development sees yesterday's production stream with its rooms and
//! tenants (after `--rewrite`), at its original rhythm or `--speed`.
//!
//! The gateway starts like `serve` does (`listening on http://HOST:PORT` on stdout
//! first), then waits until `--wait-clients` sockets (default 1) are connected to the
//! replayed namespaces, then `--start-delay` (default 500 ms) so clients that
//! subscribe on connect are in their rooms, then plays. Progress goes to stderr; a
//! summary (events sent, deliveries, scheduling error) to stdout (`--json`: the final
//! status). It exits when done, or keeps serving with `--keep-serving` until Ctrl-C.
//! Ctrl-C during the replay stops it and still prints the summary.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use sockscope_engine::replay::server::{ServerReplayOptions, DEFAULT_WAIT_TIMEOUT};
use sockscope_engine::Engine;
use sockscope_protocol::{
    AuthMode, GatewaySettings, Parser, Profile, ReplayPlan, ServerReplayPhase, ServerReplayRequest,
    ServerReplayStatus, DEFAULT_PORT,
};

use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::numbers::duration as parse_duration;
use crate::serve::parse_profile;
use crate::signal::shutdown_signal;

/// How long the gateway keeps serving after the last event before it stops, so the
/// last packets reach the clients before their connections close.
const DRAIN: Duration = Duration::from_millis(300);

/// Clients to wait for unless `--wait-clients` says otherwise.
const DEFAULT_WAIT_CLIENTS: usize = 1;

/// Pause between the clients being there and the first event, unless told otherwise.
const DEFAULT_START_DELAY: Duration = Duration::from_millis(500);

/// The flags only `--mode server` uses.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerModeArgs {
    /// Server mode: address to bind (default 127.0.0.1).
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Server mode: port to listen on (default 3069; 0 picks a free one).
    #[arg(long, value_name = "P")]
    port: Option<u16>,
    /// Server mode: the gateway profile to emulate (default generic).
    #[arg(long, value_parser = parse_profile, value_name = "NAME")]
    profile: Option<Profile>,
    /// Server mode: require an HS256 JWT in the handshake, signed with this secret.
    #[arg(long, value_name = "S")]
    jwt_secret: Option<String>,
    /// Server mode: wait until this many sockets are connected to the replayed
    /// namespaces before the first event (default 1; 0 starts at once).
    #[arg(long, value_name = "N", value_parser = crate::numbers::wait_clients)]
    wait_clients: Option<usize>,
    /// Server mode: give up when the clients are not there after this long (default 60s).
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    wait_timeout: Option<Duration>,
    /// Server mode: pause between the clients being there and the first event, so
    /// they can subscribe to their rooms (default 500ms).
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    start_delay: Option<Duration>,
    /// Server mode: keep the gateway serving after the replay until Ctrl-C.
    #[arg(long)]
    keep_serving: bool,
    /// Server mode: join a cluster through this Redis, so the replay reaches the
    /// clients of every node (`--wait-clients` then counts every node's).
    #[arg(long, value_name = "redis://HOST:PORT[/DB]")]
    redis: Option<String>,
}

impl ServerModeArgs {
    fn given(&self) -> Vec<&'static str> {
        let flags = [
            ("--host", self.host.is_some()),
            ("--port", self.port.is_some()),
            ("--profile", self.profile.is_some()),
            ("--jwt-secret", self.jwt_secret.is_some()),
            ("--wait-clients", self.wait_clients.is_some()),
            ("--wait-timeout", self.wait_timeout.is_some()),
            ("--start-delay", self.start_delay.is_some()),
            ("--keep-serving", self.keep_serving),
            ("--redis", self.redis.is_some()),
        ];
        flags.iter().filter(|(_, g)| *g).map(|(n, _)| *n).collect()
    }

    /// Client mode: these flags would be silently ignored, so they are an error.
    pub fn reject_in_client_mode(&self) -> Result<()> {
        let given = self.given();
        if given.is_empty() {
            return Ok(());
        }
        let verb = if given.len() == 1 { "applies" } else { "apply" };
        Err(CliError::Usage(format!(
            "{} only {verb} with --mode server",
            given.join(", ")
        )))
    }

    pub(crate) fn settings(&self, namespaces: &[String]) -> GatewaySettings {
        GatewaySettings {
            host: self
                .host
                .clone()
                .unwrap_or_else(|| GatewaySettings::default().host),
            port: self.port.unwrap_or(DEFAULT_PORT),
            auth: match &self.jwt_secret {
                Some(secret) => AuthMode::Hs256 {
                    secret: secret.clone(),
                },
                None => AuthMode::None,
            },
            namespaces: namespaces.to_vec(),
            profile: self.profile.unwrap_or_default(),
            redis: self.redis.clone(),
            ..GatewaySettings::default()
        }
    }
}

/// A server-side replay as `replay --mode server` asks for it; `replay` checks the
/// flags that do not apply and hands over the rest.
#[derive(Debug, Clone)]
pub struct ServerReplay {
    pub session: i64,
    pub plan: ReplayPlan,
    /// Namespaces to serve besides `/`.
    pub namespaces: Vec<String>,
    /// The parser to speak (default: the session's).
    pub parser: Option<Parser>,
    pub db: DbArgs,
    /// Print the final status as JSON.
    pub json: bool,
    pub server: ServerModeArgs,
}

/// The engine request for these flags.
pub(crate) fn request(r: &ServerReplay) -> ServerReplayRequest {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    ServerReplayRequest {
        session: r.session,
        plan: r.plan.clone(),
        wait_clients: r.server.wait_clients.unwrap_or(DEFAULT_WAIT_CLIENTS),
        wait_timeout_ms: Some(ms(r.server.wait_timeout.unwrap_or(DEFAULT_WAIT_TIMEOUT))),
        start_delay_ms: ms(r.server.start_delay.unwrap_or(DEFAULT_START_DELAY)),
    }
}

pub async fn run(args: ServerReplay) -> Result<()> {
    // Bad rules, timing, database or session fail before the port is taken.
    let req = request(&args);
    ServerReplayOptions::from_request(&req)?;
    let store = args.db.open()?;
    let source = store.session(args.session)?;
    let engine = Engine::with_store(store);
    let mut settings = args.server.settings(&args.namespaces);
    // The gateway speaks the parser the session was recorded with unless told.
    settings.parser = match args.parser {
        Some(p) => p,
        None => sockscope_engine::replay::source_parser(&source.meta),
    };
    let status = engine.start_gateway(&settings).await?;
    crate::serve::print_listening(&status)?;
    let outcome = replay(&engine, &req, &args).await;
    engine.stop_gateway().await;
    outcome
}

/// Runs the replay on the started gateway, reports, and keeps serving if asked.
async fn replay(engine: &Engine, req: &ServerReplayRequest, args: &ServerReplay) -> Result<()> {
    engine.replay_server_start(req).await?;
    // Said once the replay is accepted, so a refused request stays one line.
    crate::serve::print_trust(engine, false).await;
    let handle = engine
        .replay_server()
        .await
        .ok_or(sockscope_engine::Error::ReplayNotRunning)?;
    if req.wait_clients > 0 {
        eprintln!("waiting for {} client(s)", req.wait_clients);
    }
    let bar = indicatif::ProgressBar::hidden();
    let mut changes = handle.subscribe();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut interrupted = false;
    let mut playing = false;
    loop {
        let now = changes.borrow_and_update().clone();
        if !playing && matches!(now.phase, ServerReplayPhase::Playing) {
            playing = true;
            eprintln!("replaying {} events", now.total);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
            bar.set_length(now.total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "replay {bar:30} {pos}/{len} {msg} ({elapsed})",
            ) {
                bar.set_style(style);
            }
        }
        bar.set_position(now.sent);
        bar.set_message(now.event.clone());
        if now.phase.is_done() {
            break;
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { break },
            _ = &mut shutdown, if !interrupted => {
                interrupted = true;
                // Already done between the check and the signal: nothing to stop.
                let _ = handle.stop();
            }
        }
    }
    bar.finish_and_clear();
    let last = handle.wait().await?;
    // Let the last packets out before anything closes the connections.
    tokio::time::sleep(DRAIN).await;
    summary(&last, args.json)?;
    if args.server.keep_serving && !interrupted {
        eprintln!("replay done; still serving until Ctrl-C");
        shutdown.await;
    }
    Ok(())
}

fn summary(s: &ServerReplayStatus, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, s).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", human(s))?;
    }
    out.flush()?;
    Ok(())
}

/// One line: what was sent, to how many sockets, how well the schedule was kept.
fn human(s: &ServerReplayStatus) -> String {
    let how = if s.phase == ServerReplayPhase::Stopped {
        " (stopped)"
    } else {
        ""
    };
    format!(
        "replayed session {}: {} of {} events sent{how}, {} deliveries; schedule: mean error {:.2} ms, max {:.2} ms",
        s.session,
        s.sent,
        s.total,
        s.delivered,
        s.schedule.mean_error_us / 1000.0,
        s.schedule.max_error_us as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_summary_is_one_line() {
        let s = ServerReplayStatus {
            phase: ServerReplayPhase::Stopped,
            session: 3,
            sent: 2,
            total: 5,
            delivered: 4,
            ..ServerReplayStatus::default()
        };
        let line = human(&s);
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with("replayed session 3: 2 of 5 events sent (stopped), 4 deliveries"),
            "{line}"
        );
    }
}
