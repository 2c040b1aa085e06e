//! `sockscope audit tenants`: the tenant audit over any of three sources, so the
//! same leaks are looked for wherever the sockets are:
//!
//! - `--admin URL`: a live gateway instrumented with the Admin UI (the same audit
//!   as `sockscope admin URL audit`);
//! - `--url URL`: the embedded gateway (`sockscope serve`), through `GET /inspect`
//!   with the API token;
//! - `--session ID`: a recorded session, from the SQLite store: every room each
//!   socket was seen in, and every event delivered to a socket whose payload names
//!   another tenant.
//!
//! Exit code 1 when it finds anything, 0 when clean, 2 on an error.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use sockscope_engine::admin_client::sources::{self, SessionAudit, GATEWAY_TENANT_ROOMS};
use sockscope_engine::admin_client::tenants::{self, RoomPattern};
use sockscope_protocol::InspectSnapshot;

use crate::admin::{AdminAction, AdminArgs};
use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::http;
use crate::numbers::duration as parse_duration;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Group sockets by tenant and report cross-tenant rooms and deliveries (exit 1 on any).
    Tenants(TenantsArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["url", "session", "admin"])))]
pub struct TenantsArgs {
    /// The embedded gateway (`sockscope serve`), e.g. http://127.0.0.1:3069.
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    token: http::ApiTokenArgs,
    /// A recorded session (see `sockscope sessions list`).
    #[arg(long, value_name = "ID")]
    session: Option<i64>,
    #[command(flatten)]
    db: DbArgs,
    /// A gateway instrumented with the Socket.IO Admin UI.
    #[arg(long, value_name = "URL")]
    admin: Option<String>,
    /// Admin login name (the password from --password-file or SOCKSCOPE_ADMIN_PASSWORD).
    #[arg(long, requires = "admin")]
    username: Option<String>,
    #[arg(long, value_name = "FILE", requires = "admin")]
    password_file: Option<PathBuf>,
    /// The admin namespace has no login.
    #[arg(long, requires = "admin", conflicts_with_all = ["username", "password_file"])]
    no_auth: bool,
    /// With --admin: also watch relayed events this long for payload leaks.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "admin")]
    listen: Option<Duration>,
    /// Key of socket.data naming the tenant (dotted path; repeatable).
    #[arg(long = "tenant-key", value_name = "KEY", default_values = ["tenantId", "tenant", "spaceId"])]
    tenant_keys: Vec<String>,
    /// Room-name pattern naming a tenant ('tenant:{tenant}:*' for --url and --session
    /// unless given).
    #[arg(long, value_name = "PATTERN")]
    tenant_room: Option<String>,
    #[arg(long)]
    json: bool,
    /// TLS trust for an `https://` admin target.
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
}

pub async fn run(cmd: AuditCommand) -> Result<()> {
    let AuditCommand::Tenants(a) = cmd;
    if let Some(url) = a.admin {
        let args = AdminArgs {
            url,
            namespace: "/admin".to_owned(),
            path: None,
            username: a.username,
            password_file: a.password_file,
            no_auth: a.no_auth,
            timeout: Duration::from_secs(10),
            tls: a.tls,
            action: AdminAction::Audit {
                tenant_keys: a.tenant_keys,
                tenant_room: a.tenant_room,
                listen: a.listen,
                json: a.json,
            },
        };
        return crate::admin::run(args).await;
    }
    let pattern = RoomPattern::parse(a.tenant_room.as_deref().unwrap_or(GATEWAY_TENANT_ROOMS))
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let report = if let Some(url) = &a.url {
        let endpoint = format!("{}/inspect", url.trim_end_matches('/'));
        let token = a.token.for_url(url);
        let snap: InspectSnapshot = http::get(&endpoint, token.as_deref()).await?;
        tenants::audit(
            &sources::from_inspect(&snap),
            &a.tenant_keys,
            Some(&pattern),
        )
    } else if let Some(id) = a.session {
        let store = a.db.open()?;
        store.session(id)?;
        let mut audit = SessionAudit::new(&a.tenant_keys);
        store.for_each_event(id, |rec| {
            audit.add(&rec);
            Ok(())
        })?;
        eprintln!("session {id}: {} events read", audit.events());
        audit.finish(Some(&pattern))
    } else {
        return Err(CliError::Usage("pass --url, --session or --admin".into()));
    };
    crate::tenant_report::print(&report, a.json)?;
    if !report.findings.is_empty() {
        tracing::info!(findings = report.findings.len(), "tenant audit found leaks");
        std::process::exit(1);
    }
    Ok(())
}
