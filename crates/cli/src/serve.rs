//! `sockscope serve`: the headless main job. Runs the embedded gateway, prints
//! `listening on http://HOST:PORT` once it accepts connections, then every event,
//! until Ctrl-C or SIGTERM.

use std::io::Write;

use clap::Args;
use sockscope_engine::Engine;
use sockscope_protocol::{AuthMode, GatewaySettings, DEFAULT_PORT};
use tokio::sync::broadcast::error::RecvError;

use crate::error::Result;
use crate::output;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to bind. Loopback by default; use 0.0.0.0 to accept other machines.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, short, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Require an HS256 JWT in the handshake (`auth.token`), signed with this secret.
    #[arg(long, env = "SOCKSCOPE_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// JWT claim naming the user.
    #[arg(long, default_value = "sub")]
    user_claim: String,
    /// JWT claim naming the tenant.
    #[arg(long, default_value = "tenantId")]
    tenant_claim: String,
    /// Extra namespace to serve besides `/` (repeatable).
    #[arg(long = "namespace", short = 'n', value_name = "NS")]
    namespaces: Vec<String>,
    /// Print events as JSON Lines instead of text.
    #[arg(long)]
    json: bool,
}

impl ServeArgs {
    fn settings(&self) -> GatewaySettings {
        GatewaySettings {
            host: self.host.clone(),
            port: self.port,
            auth: match &self.jwt_secret {
                Some(secret) => AuthMode::Hs256 {
                    secret: secret.clone(),
                },
                None => AuthMode::None,
            },
            namespaces: self.namespaces.clone(),
            user_claim: self.user_claim.clone(),
            tenant_claim: self.tenant_claim.clone(),
        }
    }
}

pub async fn run(args: ServeArgs) -> Result<()> {
    let engine = Engine::new();
    let mut events = engine.bus().subscribe();
    let status = engine.start_gateway(&args.settings()).await?;
    let addr = status.addr.unwrap_or_default();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            next = events.recv() => match next {
                Ok(rec) => {
                    let mut out = std::io::stdout().lock();
                    output::event_line(&mut out, &rec, args.json)?;
                    out.flush()?;
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "printing fell behind; events skipped from the display");
                }
                Err(RecvError::Closed) => break,
            },
        }
    }
    engine.stop_gateway().await;
    Ok(())
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
