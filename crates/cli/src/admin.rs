//! `sockscope admin URL ...`: inspect and act on any gateway instrumented with the
//! Socket.IO Admin UI (`@socket.io/admin-ui`), through the engine's `admin` client.
//! Argument parsing and printing only.
//!
//! The password is read from `--password-file` or `SOCKSCOPE_ADMIN_PASSWORD`, never
//! from the command line, where other users of the machine could read it in `ps`.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::Value;
use sockscope_engine::admin_client::tenants::{self, RoomPattern};
use sockscope_engine::admin_client::{
    AdminAuth, AdminClient, AdminOptions, AdminSnapshot, Change, Outcome,
};
use sockscope_engine::usecase::{self, Capture, CaptureOptions, LeakNote, NewSession, OnRecord};
use sockscope_engine::Bus;
use tokio::sync::broadcast::error::RecvError;

use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::numbers::duration as parse_duration;
use crate::output;
use crate::signal::shutdown_signal;

/// The environment variable a password may come from instead of a file.
const PASSWORD_ENV: &str = "SOCKSCOPE_ADMIN_PASSWORD";

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The instrumented gateway, e.g. http://127.0.0.1:3000
    pub url: String,
    /// The admin namespace the server was instrumented with.
    #[arg(long, default_value = "/admin", global = true)]
    pub namespace: String,
    /// The Socket.IO path (default /socket.io).
    #[arg(long, global = true)]
    pub path: Option<String>,
    /// Basic-auth user name (the password comes from --password-file or SOCKSCOPE_ADMIN_PASSWORD).
    #[arg(long, global = true)]
    pub username: Option<String>,
    /// File holding the admin password (one line).
    #[arg(long, value_name = "FILE", global = true)]
    pub password_file: Option<PathBuf>,
    /// The server was instrumented with `auth: false`.
    #[arg(long, global = true, conflicts_with_all = ["username", "password_file"])]
    pub no_auth: bool,
    /// Bound on connecting, on the first sync and on each action's confirmation.
    #[arg(long, default_value = "10s", value_parser = parse_duration, global = true)]
    pub timeout: Duration,
    #[command(flatten)]
    pub tls: crate::tls_args::TlsArgs,
    #[command(subcommand)]
    pub action: AdminAction,
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// One snapshot: servers, namespaces, rooms, sockets.
    Inspect {
        #[arg(long)]
        json: bool,
    },
    /// Print socket and room changes (and, in development mode, events) as they happen.
    Watch {
        /// JSON Lines instead of text.
        #[arg(long)]
        json: bool,
        /// Also print every server_stats (every 2 s per server).
        #[arg(long)]
        stats: bool,
        /// Stop after this long (e.g. 30s).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
    },
    /// Disconnect a socket.
    Disconnect {
        // Socket ids are base64url and may start with '-'.
        #[arg(allow_hyphen_values = true)]
        socket: String,
        /// Close the underlying connection too (all its namespaces).
        #[arg(long)]
        close: bool,
        /// The socket's namespace (found from the socket list in development mode).
        #[arg(long)]
        nsp: Option<String>,
    },
    /// Make a socket (or --all sockets of --nsp) join a room.
    Join(Membership),
    /// Make a socket (or --all sockets of --nsp) leave a room.
    Leave(Membership),
    /// Emit an event to every socket of a namespace, or --to a socket or room.
    Emit {
        #[arg(allow_hyphen_values = true)]
        event: String,
        /// The event's argument as JSON (`-1` is a number, not a flag).
        #[arg(allow_hyphen_values = true)]
        json: String,
        /// A socket id or room.
        #[arg(long, allow_hyphen_values = true)]
        to: Option<String>,
        #[arg(long)]
        nsp: Option<String>,
    },
    /// Group sockets by tenant and report cross-tenant memberships (exit 1 on any).
    Audit {
        /// Key of socket.data naming the tenant (dotted path; repeatable).
        #[arg(long = "tenant-key", value_name = "KEY", default_values = ["tenantId", "tenant", "spaceId"])]
        tenant_keys: Vec<String>,
        /// Room-name pattern naming a tenant, e.g. 'tenant:{tenant}:*' or '{tenant}-*'.
        #[arg(long, value_name = "PATTERN")]
        tenant_room: Option<String>,
        /// Also watch relayed events this long (e.g. 30s) for payloads that name
        /// another tenant than the receiving socket's (development mode).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        listen: Option<Duration>,
        #[arg(long)]
        json: bool,
    },
    /// Record the relayed events (development mode) into a session.
    Record {
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Stop after this many events.
        #[arg(long)]
        count: Option<u64>,
    },
}

#[derive(Debug, Args)]
pub struct Membership {
    #[arg(allow_hyphen_values = true)]
    pub room: String,
    /// Socket ids are base64url and may start with '-'.
    #[arg(required_unless_present = "all", allow_hyphen_values = true)]
    pub socket: Option<String>,
    /// Every socket of the namespace (--nsp, default /).
    #[arg(long, conflicts_with = "socket")]
    pub all: bool,
    #[arg(long)]
    pub nsp: Option<String>,
}

impl AdminArgs {
    fn options(&self, reconnect: bool) -> Result<AdminOptions> {
        let auth = if self.no_auth {
            AdminAuth::None
        } else {
            let username = self.username.clone().ok_or_else(|| {
                CliError::Usage(
                    "pass --username U with --password-file F (or SOCKSCOPE_ADMIN_PASSWORD), or --no-auth".into(),
                )
            })?;
            AdminAuth::Basic {
                username,
                password: self.password()?,
            }
        };
        let mut opts = AdminOptions::new(&self.url);
        opts.namespace = self.namespace.clone();
        opts.path = self.path.clone();
        opts.auth = auth;
        opts.reconnect = reconnect;
        opts.timeout = self.timeout;
        opts.tls = self.tls.options()?;
        Ok(opts)
    }

    fn password(&self) -> Result<String> {
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| CliError::File {
                path: path.display().to_string(),
                source: e,
            })?;
            return Ok(text.trim_end_matches(['\r', '\n']).to_owned());
        }
        std::env::var(PASSWORD_ENV).map_err(|_| {
            CliError::Usage(format!(
                "no admin password: pass --password-file FILE or set {PASSWORD_ENV}"
            ))
        })
    }
}

pub async fn run(args: AdminArgs) -> Result<()> {
    let streaming = matches!(
        args.action,
        AdminAction::Watch { .. } | AdminAction::Record { .. }
    );
    args.tls.announce();
    let opts = args.options(streaming)?;
    // Bad JSON or a bad pattern fails before anything connects.
    if let AdminAction::Audit {
        tenant_room: Some(p),
        ..
    } = &args.action
    {
        RoomPattern::parse(p).map_err(|e| CliError::Usage(e.to_string()))?;
    }
    let emit_arg = match &args.action {
        AdminAction::Emit { json, .. } => Some(
            serde_json::from_str::<Value>(json)
                .map_err(|e| CliError::Usage(format!("invalid JSON argument: {e}")))?,
        ),
        _ => None,
    };
    let bus = Bus::new();
    match args.action {
        AdminAction::Record {
            name,
            db,
            duration,
            count,
        } => return record(&opts, bus, name, &db, duration, count).await,
        AdminAction::Watch {
            json,
            stats,
            duration,
        } => {
            let events = bus.subscribe();
            let client = AdminClient::connect(&opts, bus).await?;
            let r = watch(&client, events, json, stats, duration).await;
            client.close().await;
            return r;
        }
        _ => {}
    }
    let events = bus.subscribe();
    let client = AdminClient::connect(&opts, bus).await?;
    let result = act(&client, args.action, emit_arg, events).await;
    client.close().await;
    if let Err(CliError::Findings(n)) = result {
        // The report is printed; findings are a result, not an error: exit 1, the
        // audit convention, rather than the error path's one line and exit 2.
        tracing::info!(findings = n, "tenant audit found leaks");
        std::process::exit(1);
    }
    result
}

async fn act(
    client: &AdminClient,
    action: AdminAction,
    emit_arg: Option<Value>,
    events: tokio::sync::broadcast::Receiver<sockscope_protocol::EventRecord>,
) -> Result<()> {
    let said = |what: String, o: Outcome| println!("{what}: {}", how(o));
    match action {
        AdminAction::Inspect { json } => {
            // server_stats come every 2 s; wait for one so the servers list is filled.
            let _ = client
                .wait_for_stats(Duration::from_secs(3).min(client.timeout()))
                .await;
            let snap = client.snapshot();
            output::report(&snap, json, |out, s| print_snapshot(out, s, client.url()))?;
        }
        AdminAction::Disconnect { socket, close, nsp } => {
            let o = client.disconnect(&socket, nsp.as_deref(), close).await?;
            said(format!("disconnect {socket}"), o);
        }
        AdminAction::Join(m) => membership(client, true, m).await?,
        AdminAction::Leave(m) => membership(client, false, m).await?,
        AdminAction::Emit { event, to, nsp, .. } => {
            let args = emit_arg.into_iter().collect();
            let o = client
                .emit(&event, args, to.as_deref(), nsp.as_deref())
                .await?;
            said(
                format!(
                    "emit {event} to {}",
                    to.as_deref().unwrap_or("every socket")
                ),
                o,
            );
        }
        AdminAction::Audit {
            tenant_keys,
            tenant_room,
            listen,
            json,
        } => {
            if !client.development() {
                return Err(CliError::Usage(format!(
                    "{} is in production mode: it does not list sockets, so tenants cannot be audited",
                    client.url()
                )));
            }
            let pattern = tenant_room
                .as_deref()
                .map(RoomPattern::parse)
                .transpose()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let leaks = match listen {
                Some(d) => payload_leaks(client, events, &tenant_keys, d).await,
                None => Vec::new(),
            };
            let report = usecase::audit_admin(client, &tenant_keys, pattern.as_ref(), leaks);
            crate::tenant_report::print(&report, json)?;
            if !report.findings.is_empty() {
                return Err(CliError::Findings(report.findings.len()));
            }
        }
        AdminAction::Watch { .. } | AdminAction::Record { .. } => {}
    }
    Ok(())
}

async fn membership(client: &AdminClient, join: bool, m: Membership) -> Result<()> {
    let socket = if m.all { None } else { m.socket.as_deref() };
    let o = client
        .membership(join, &m.room, socket, m.nsp.as_deref())
        .await?;
    let verb = if join { "join" } else { "leave" };
    let println_target = socket.map_or_else(
        || format!("every socket of {}", m.nsp.as_deref().unwrap_or("/")),
        str::to_owned,
    );
    println!("{verb} {} {println_target}: {}", m.room, how(o));
    Ok(())
}

fn print_snapshot(out: &mut impl Write, s: &AdminSnapshot, url: &str) -> std::io::Result<()> {
    writeln!(
        out,
        "{url} ({} mode) features: {}",
        s.mode,
        s.features.join(", ")
    )?;
    writeln!(out, "servers:")?;
    if s.servers.is_empty() {
        writeln!(out, "  (no server_stats yet)")?;
    }
    for v in &s.servers {
        writeln!(
            out,
            "  {} host={} pid={} uptime={:.0}s clients={} polling={} events/s={:.1} {}",
            v.id,
            v.hostname,
            v.pid,
            v.uptime,
            v.clients,
            v.polling_clients,
            v.events_per_sec,
            if v.healthy { "healthy" } else { "STALE" }
        )?;
    }
    writeln!(out, "namespaces:")?;
    for n in &s.namespaces {
        writeln!(out, "  {} sockets={}", n.name, n.sockets)?;
    }
    writeln!(out, "rooms:")?;
    for r in s.rooms.iter().filter(|r| !r.private) {
        writeln!(
            out,
            "  {} {} sockets={}",
            r.namespace,
            r.name,
            r.sockets.join(",")
        )?;
    }
    writeln!(out, "sockets:")?;
    for k in &s.sockets {
        let rooms: Vec<&str> = k
            .rooms
            .iter()
            .filter(|r| **r != k.id)
            .map(String::as_str)
            .collect();
        writeln!(
            out,
            "  {} {} transport={} address={} rooms={} data={}",
            k.namespace,
            k.id,
            k.transport.as_deref().unwrap_or("?"),
            k.address.as_deref().unwrap_or("?"),
            rooms.join(","),
            k.data
        )?;
    }
    Ok(())
}

async fn watch(
    client: &AdminClient,
    mut events: tokio::sync::broadcast::Receiver<sockscope_protocol::EventRecord>,
    json: bool,
    stats: bool,
    duration: Option<Duration>,
) -> Result<()> {
    let mut changes = client.changes();
    let snap = client.snapshot();
    eprintln!(
        "watching {} ({} mode, {} sockets); Ctrl-C to stop",
        client.url(),
        snap.mode,
        snap.sockets.len()
    );
    let until = sleep_for(duration);
    tokio::pin!(until);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    // Health is judged by time, not by an event: check it every second and print
    // each server's transitions to stale and back.
    let mut health = tokio::time::interval(Duration::from_secs(1));
    let mut healthy: std::collections::BTreeMap<String, bool> = std::collections::BTreeMap::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = &mut until => break,
            _ = health.tick() => {
                for s in client.snapshot().servers {
                    let was = healthy.insert(s.id.clone(), s.healthy);
                    if was.is_some_and(|w| w != s.healthy) {
                        let what = if s.healthy { "server_healthy" } else { "server_stale" };
                        let mut out = std::io::stdout().lock();
                        if json {
                            let v = serde_json::json!({"change": what, "id": s.id, "last_seen_ms": s.last_seen_ms});
                            writeln!(out, "{v}")?;
                        } else {
                            writeln!(out, "{what} server={} last_seen_ms={}", s.id, s.last_seen_ms)?;
                        }
                    }
                }
            }
            c = changes.recv() => match c {
                Ok(Change::Server { .. }) if !stats => {}
                Ok(c) => {
                    let mut out = std::io::stdout().lock();
                    if json {
                        serde_json::to_writer(&mut out, &c).map_err(std::io::Error::other)?;
                        writeln!(out)?;
                    } else {
                        writeln!(out, "{}", c.line())?;
                    }
                }
                Err(RecvError::Lagged(n)) => eprintln!("sockscope: {n} changes skipped (output too slow)"),
                Err(RecvError::Closed) => break,
            },
            e = events.recv() => match e {
                Ok(rec) => output::event_line(&mut std::io::stdout().lock(), &rec, json)?,
                Err(RecvError::Lagged(n)) => eprintln!("sockscope: {n} events skipped (output too slow)"),
                Err(RecvError::Closed) => break,
            },
        }
    }
    Ok(())
}

async fn sleep_for(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

async fn record(
    opts: &AdminOptions,
    bus: Bus,
    name: Option<String>,
    db: &DbArgs,
    duration: Option<Duration>,
    count: Option<u64>,
) -> Result<()> {
    let store = db.open()?;
    let rx = bus.subscribe();
    // Connect first: a refused login leaves no empty session behind.
    let client = AdminClient::connect(opts, bus).await?;
    if !client.development() {
        client.close().await;
        return Err(CliError::Usage(format!(
            "{} is in production mode: it relays no events, so there is nothing to record",
            client.url()
        )));
    }
    let shown = sockscope_engine::redact::url(&opts.url);
    let name = name.unwrap_or_else(|| format!("admin {shown}"));
    let new = NewSession {
        name: name.clone(),
        kind: "admin".to_owned(),
        target: shown.clone(),
        meta: serde_json::json!({"url": shown, "namespace": opts.namespace, "via": "admin"}),
    };
    let print: OnRecord =
        Box::new(|rec| output::event_line(&mut std::io::stdout().lock(), rec, false));
    let capture = Capture::into_session(
        &store,
        &new,
        rx,
        CaptureOptions {
            limit: count,
            on_record: Some(print),
            ..CaptureOptions::default()
        },
    )?;
    eprintln!(
        "recording {} into session {}; Ctrl-C to stop",
        opts.url,
        capture.session_id()
    );
    let started = Instant::now();
    let captured = capture.run(duration, shutdown_signal()).await;
    client.close().await;
    let (_, stats) = captured?;
    eprintln!(
        "session {} \"{}\": {} events written, {} dropped, {:.1}s -> {}",
        stats.session_id,
        name,
        stats.written,
        stats.dropped,
        started.elapsed().as_secs_f64(),
        store.path().display()
    );
    Ok(())
}

fn how(o: Outcome) -> &'static str {
    match o {
        Outcome::Confirmed => "confirmed by the server",
        Outcome::Sent => "sent (not confirmed: the server reports no such change in production mode, or nobody was addressed)",
    }
}

/// Payload leaks among the events relayed during `d`: an event sent to a socket of
/// one tenant whose payload names another.
async fn payload_leaks(
    client: &AdminClient,
    events: tokio::sync::broadcast::Receiver<sockscope_protocol::EventRecord>,
    keys: &[String],
    d: Duration,
) -> Vec<tenants::Finding> {
    eprintln!("listening to {} for {d:?}", client.url());
    let mut found = Vec::new();
    usecase::watch_payload_leaks(
        events,
        keys,
        |ns, id| usecase::socket_tenant(client, ns, id, keys),
        tokio::time::sleep(d),
        |note| match note {
            LeakNote::Leak(f) => found.push(f),
            LeakNote::Lagged(n) => eprintln!("sockscope: {n} events skipped (audit too slow)"),
        },
    )
    .await;
    found
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: super::AdminArgs,
    }

    #[test]
    fn socket_ids_and_json_may_start_with_a_dash() {
        let t = T::try_parse_from([
            "t",
            "http://h",
            "--no-auth",
            "emit",
            "ev",
            "-1",
            "--to",
            "-Eab",
        ])
        .unwrap();
        match t.a.action {
            super::AdminAction::Emit { json, to, .. } => {
                assert_eq!(json, "-1");
                assert_eq!(to.as_deref(), Some("-Eab"));
            }
            other => panic!("{other:?}"),
        }
        let t = T::try_parse_from([
            "t",
            "http://h",
            "--no-auth",
            "disconnect",
            "-Eab",
            "--close",
        ])
        .unwrap();
        assert!(matches!(
            t.a.action,
            super::AdminAction::Disconnect { ref socket, close: true, .. } if socket == "-Eab"
        ));
        let t = T::try_parse_from(["t", "http://h", "--no-auth", "join", "ops", "-Eab"]).unwrap();
        assert!(matches!(
            t.a.action,
            super::AdminAction::Join(ref m) if m.socket.as_deref() == Some("-Eab")
        ));
    }
}
