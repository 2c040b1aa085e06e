//! `sockscope serve`: the headless main job. Runs the embedded gateway, prints
//! `listening on http://HOST:PORT` once it accepts connections, then every event,
//! until Ctrl-C or SIGTERM.

use std::io::Write;

use clap::Args;
use sockscope_engine::gateway::admin_server::{AdminConfig, AdminLogin, AdminMode};
use sockscope_engine::usecase::{Capture, CaptureOptions, NewSession};
use sockscope_engine::Engine;
use sockscope_protocol::{
    AuthMode, GatewaySettings, GatewayStatus, Profile, TlsFiles, DEFAULT_PORT,
};
use tokio::sync::broadcast::error::RecvError;

use crate::capture::{self, Printer};
use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::signal::shutdown_signal;

pub(crate) fn parse_profile(s: &str) -> std::result::Result<Profile, String> {
    Profile::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
        format!("unknown profile {s:?} (one of: {})", names.join(", "))
    })
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to bind. Loopback by default; use 0.0.0.0 to accept other machines.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, short, env = "SOCKET_IO_PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
    /// The gateway to emulate: generic, jet-admin, analytics, gxp, steedos, jac.
    #[arg(long, default_value = "generic", value_parser = parse_profile)]
    profile: Profile,
    /// Interval of simulated pushes (metric ticks, workflow steps), in milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = crate::numbers::millis)]
    tick_ms: u64,
    /// Folder of event templates (`{event, channel, data}` JSON files); the shipped
    /// examples when unset.
    #[arg(long, value_name = "DIR")]
    templates: Option<String>,
    /// Serve HTTPS/WSS (gxp's USE_HTTPS); needs --tls-cert and --tls-key.
    #[arg(long, env = "USE_HTTPS", value_name = "BOOL")]
    https: Option<bool>,
    /// TLS certificate chain (PEM).
    #[arg(long, env = "CERT_PATH", value_name = "PEM_FILE")]
    tls_cert: Option<String>,
    /// TLS private key (PEM).
    #[arg(long, env = "KEY_PATH", value_name = "PEM_FILE")]
    tls_key: Option<String>,
    /// Require an HS256 JWT in the handshake (`auth.token`), signed with this secret.
    #[arg(
        long,
        env = "SOCKSCOPE_JWT_SECRET",
        hide_env_values = true,
        conflicts_with = "jwt_public_key"
    )]
    jwt_secret: Option<String>,
    /// Require an RS256 JWT, checked with the RSA public key in this PEM file.
    #[arg(long, value_name = "PEM_FILE")]
    jwt_public_key: Option<std::path::PathBuf>,
    /// JWT claim naming the user.
    #[arg(long, default_value = "sub")]
    user_claim: String,
    /// JWT claim naming the tenant.
    #[arg(long, default_value = "tenantId")]
    tenant_claim: String,
    /// The HTTP API's token (needed when a JWT key is set or the bind is not
    /// loopback); generated, printed once and written to a 0600 file for the local CLI
    /// when unset.
    #[command(flatten)]
    api: crate::http::ApiTokenArgs,
    /// Web origin allowed to call the gateway from a browser (repeatable), besides
    /// http(s)://localhost:* and http(s)://127.0.0.1:*.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Run as one node of a cluster joined through this Redis (7 or later):
    /// broadcasts, rooms and inspection then span every node on the same Redis.
    #[arg(long, env = "SOCKSCOPE_REDIS", value_name = "redis://HOST:PORT[/DB]")]
    redis: Option<String>,
    /// Extra namespace to serve besides `/` (repeatable).
    #[arg(long = "namespace", short = 'n', value_name = "NS")]
    namespaces: Vec<String>,
    /// Print events as JSON Lines instead of text.
    #[arg(long)]
    json: bool,
    /// Socket.IO parser: json (default) or msgpack (for socket.io-msgpack-parser
    /// front ends). Recordings store events as JSON and note the parser.
    #[arg(long, value_enum, default_value = "json")]
    parser: crate::connect::ParserArg,
    /// Record every event into a session with this name.
    #[arg(long, value_name = "NAME")]
    record: Option<String>,
    /// Check every event of every client, both ways, against this AsyncAPI contract
    /// (`contract infer`) as it happens: violations on stderr, exit 1 at the end if any.
    #[arg(long, value_name = "FILE")]
    contract: Option<std::path::PathBuf>,
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    redact: crate::redaction::RedactArgs,
    #[command(flatten)]
    admin: AdminServeArgs,
    #[command(flatten)]
    metrics: crate::metrics_args::MetricsArgs,
}

/// `--admin`: serve the Socket.IO Admin UI protocol on `/admin`.
#[derive(Debug, Args)]
pub struct AdminServeArgs {
    /// Serve the Socket.IO Admin UI protocol (@socket.io/admin-ui 0.5) on /admin, so
    /// the official Admin UI or `sockscope admin` can inspect and act on this gateway.
    #[arg(long)]
    admin: bool,
    /// Admin UI login name (with --admin-password-hash).
    #[arg(
        long,
        value_name = "USER",
        requires = "admin",
        requires = "admin_password_hash"
    )]
    admin_user: Option<String>,
    /// bcrypt hash of the admin password (`$2b$...`, e.g. from `htpasswd -bnBC 10 "" PW`).
    #[arg(
        long,
        value_name = "HASH",
        env = "SOCKSCOPE_ADMIN_PASSWORD_HASH",
        hide_env_values = true
    )]
    admin_password_hash: Option<String>,
    /// Serve /admin without a login (loopback binds only).
    #[arg(long, requires = "admin", conflicts_with = "admin_user")]
    admin_no_auth: bool,
    /// `development` streams sockets, rooms and events to the admin; `production`
    /// only server stats.
    #[arg(long, value_name = "MODE", default_value = "development", value_parser = parse_admin_mode, requires = "admin")]
    admin_mode: AdminMode,
    /// List no actions (disconnect, join, leave, emit) and accept none.
    #[arg(long, requires = "admin")]
    admin_readonly: bool,
}

fn parse_admin_mode(s: &str) -> std::result::Result<AdminMode, String> {
    AdminMode::from_name(s)
        .ok_or_else(|| format!("unknown admin mode {s:?} (development or production)"))
}

impl AdminServeArgs {
    fn config(&self, host: &str) -> Result<Option<AdminConfig>> {
        if !self.admin {
            return Ok(None);
        }
        let login = match (&self.admin_user, &self.admin_password_hash, self.admin_no_auth) {
            (Some(user), Some(hash), false) => AdminLogin::Basic {
                username: user.clone(),
                password_hash: hash.trim().to_owned(),
            },
            // A hash from SOCKSCOPE_ADMIN_PASSWORD_HASH does not override an explicit
            // --admin-no-auth.
            (None, _, true) => {
                if !matches!(host, "127.0.0.1" | "localhost" | "::1") {
                    return Err(CliError::Usage(format!(
                        "--admin-no-auth is for loopback binds only (--host {host}): give --admin-user and --admin-password-hash"
                    )));
                }
                AdminLogin::Open
            }
            _ => {
                return Err(CliError::Usage(
                    "--admin needs --admin-user U --admin-password-hash H (a bcrypt hash), or --admin-no-auth".into(),
                ))
            }
        };
        let mut config = AdminConfig::new(login);
        config.mode = self.admin_mode;
        config.readonly = self.admin_readonly;
        Ok(Some(config))
    }

    /// The admin trust line (stderr), like the other trust lines.
    fn print_trust(&self, config: &AdminConfig) {
        let mode = match config.mode {
            AdminMode::Development => "development: it sees every socket, room and event",
            AdminMode::Production => "production: server stats only",
        };
        let acts = if config.readonly {
            "read-only"
        } else {
            "it may disconnect, join, leave and emit"
        };
        match &config.login {
            AdminLogin::Basic { username, .. } => eprintln!(
                "admin: {} for user {username} (bcrypt password), {mode}; {acts}",
                config.namespace
            ),
            AdminLogin::Open => eprintln!(
                "admin: WARNING {} has no login (--admin-no-auth): anyone on this machine may inspect every socket{}",
                config.namespace,
                if config.readonly { "" } else { " and disconnect, join, leave and emit" }
            ),
        }
    }
}

impl ServeArgs {
    fn settings(&self) -> Result<GatewaySettings> {
        let auth = match (&self.jwt_secret, &self.jwt_public_key) {
            (Some(secret), _) => AuthMode::Hs256 {
                secret: secret.clone(),
            },
            (None, Some(path)) => AuthMode::Rs256 {
                public_key_pem: std::fs::read_to_string(path).map_err(|e| CliError::File {
                    path: path.display().to_string(),
                    source: e,
                })?,
            },
            (None, None) => AuthMode::None,
        };
        let tls = match (self.https, &self.tls_cert, &self.tls_key) {
            (Some(false), _, _) | (None, None, None) => None,
            (_, Some(cert), Some(key)) => Some(TlsFiles {
                cert_path: cert.clone(),
                key_path: key.clone(),
            }),
            _ => {
                return Err(CliError::Usage(
                    "HTTPS needs both --tls-cert (CERT_PATH) and --tls-key (KEY_PATH)".into(),
                ))
            }
        };
        Ok(GatewaySettings {
            host: self.host.clone(),
            port: self.port,
            auth,
            namespaces: self.namespaces.clone(),
            user_claim: self.user_claim.clone(),
            tenant_claim: self.tenant_claim.clone(),
            profile: self.profile,
            tick_ms: self.tick_ms,
            templates_dir: self.templates.clone(),
            tls,
            api_token: self.api.given().map(str::to_owned),
            cors_origins: self.cors_origins.clone(),
            parser: self.parser.into(),
            redis: self.redis.clone(),
        })
    }
}

pub async fn run(args: ServeArgs) -> Result<()> {
    args.redact.apply();
    let engine = Engine::new();
    let mut events = engine.bus().subscribe();
    // The recording's own subscription: a slow terminal cannot make it lose events.
    let record_rx = args.record.as_ref().map(|_| engine.bus().subscribe());
    let settings = args.settings()?;
    // The database is opened before the port is taken: a locked or unwritable file is
    // reported before anything happens.
    let store = args.record.as_ref().map(|_| args.db.open()).transpose()?;
    let mut contract = args
        .contract
        .as_deref()
        .map(crate::contract::GatewayCheck::load)
        .transpose()?;
    let admin = args.admin.config(&settings.host)?;
    // The metrics endpoint binds before the gateway starts (a taken port fails
    // first), with its own bus subscription: no connect is missed.
    let exporter = crate::metrics_args::MetricsArgs::start(args.metrics.addr()?).await?;
    let follower = exporter.as_ref().map(|(m, _)| {
        m.declare_drop_cause(PRINTER_LAGGED);
        sockscope_engine::metrics::follow(engine.bus().subscribe(), m.clone())
    });
    let status = engine
        .start_gateway_with_admin(&settings, admin.clone())
        .await?;
    let recorder = match (&store, &args.record, record_rx) {
        (Some(store), Some(name), Some(rx)) => {
            let meta = serde_json::json!({ "profile": settings.profile.name(), "namespaces": settings.namespaces, "port": settings.port, "parser": settings.parser.name() });
            let new = NewSession {
                name: name.clone(),
                kind: "gateway".to_owned(),
                target: status.url.clone().unwrap_or_default(),
                meta,
            };
            Some(Capture::into_session(
                store,
                &new,
                rx,
                CaptureOptions::default(),
            )?)
        }
        _ => None,
    };
    announce(&engine, &status, args.api.given().is_some()).await?;
    if let Some(config) = &admin {
        args.admin.print_trust(config);
    }
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let note = if recorder.is_some() {
        " (the recording keeps them)"
    } else {
        ""
    };
    let mut printer = Printer::start(args.json, None, note)?;
    let mut unchecked = 0_u64;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            next = events.recv() => match next {
                Ok(rec) => {
                    say_if_cluster_lost(&rec);
                    if let Some(c) = contract.as_mut() {
                        c.check(&rec);
                    }
                    printer.print(&rec)?
                }
                Err(RecvError::Lagged(n)) => {
                    unchecked += n;
                    if let Some((m, _)) = &exporter {
                        m.dropped(PRINTER_LAGGED, n);
                    }
                    printer.skip(n)
                }
                Err(RecvError::Closed) => break,
            },
        }
    }
    engine.stop_gateway().await;
    if let Some(f) = follower {
        f.abort();
    }
    drop(exporter);
    let skipped = printer.finish()?;
    if let Some(r) = recorder {
        let stats = r.stop().await?;
        eprintln!(
            "session {}: {}",
            stats.session_id,
            capture::summary(&stats, 0, 0)
        );
    }
    if skipped > 0 {
        eprintln!("printer skipped {skipped} lines");
    }
    match contract {
        Some(c) => c.finish(unchecked),
        None => Ok(()),
    }
}

/// Drop cause of events the terminal printer (and the contract check) skipped
/// because it fell behind the bus.
const PRINTER_LAGGED: &str = "printer_lagged";

/// A clustered node that lost Redis says so on stderr too (stdout has the event).
pub(crate) fn say_if_cluster_lost(rec: &sockscope_protocol::EventRecord) {
    if rec.source != sockscope_engine::gateway::SOURCE
        || rec.event != sockscope_engine::gateway::cluster::REDIS_LOST_EVENT
    {
        return;
    }
    let why = rec.args.get(0);
    let field = |k: &str| {
        why.and_then(|w| w.get(k))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    eprintln!(
        "cluster: redis lost ({}): {}; this node now serves only its own sockets",
        field("url"),
        field("reason")
    );
}

/// `listening on URL` on stdout, then who is trusted on stderr: what every command
/// that starts the embedded gateway says first.
pub(crate) async fn announce(
    engine: &Engine,
    status: &GatewayStatus,
    token_given: bool,
) -> Result<()> {
    print_listening(status)?;
    print_trust(engine, token_given).await;
    Ok(())
}

/// `listening on URL` on stdout (flushed: scripts wait for it), and the node's
/// cluster line on stderr when it is one.
pub(crate) fn print_listening(status: &GatewayStatus) -> Result<()> {
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "listening on {}",
            status.url.as_deref().unwrap_or_default()
        )?;
        out.flush()?;
    }
    if let (Some(node), Some(cluster)) = (&status.node_id, &status.cluster) {
        eprintln!("cluster: node {node}, {cluster}");
    }
    Ok(())
}

/// The running gateway's trust lines (see [`print_security`]).
pub(crate) async fn print_trust(engine: &Engine, token_given: bool) {
    let status = engine.gateway_status().await;
    let api_token = engine
        .gateway()
        .await
        .ok()
        .and_then(|g| g.api_token().map(str::to_owned));
    print_security(&status, api_token.as_deref(), token_given);
}

/// What the operator must know about who is trusted, on stderr (stdout carries only
/// events): whether identities are verified, and how to reach the HTTP API. A
/// generated API token is shown this once.
fn print_security(status: &GatewayStatus, api_token: Option<&str>, token_given: bool) {
    if status.identities_verified {
        eprintln!("auth: on, identities come from verified tokens only");
    } else {
        eprintln!("auth: off, identities are not verified (claims are read unverified; pass --jwt-secret or --jwt-public-key to verify)");
    }
    match (status.api_protected, api_token, &status.api_token_file) {
        (false, _, _) => eprintln!(
            "http api: open (loopback and auth off); anyone on this machine may call it"
        ),
        (true, Some(token), Some(file)) if !token_given => eprintln!(
            "http api: needs Authorization: Bearer {token} (generated; also in {file}, read by `sockscope templates send` and `inspect`)"
        ),
        (true, _, _) => eprintln!(
            "http api: needs Authorization: Bearer <api token> (the one given with --api-token / SOCKSCOPE_API_TOKEN)"
        ),
    }
}
