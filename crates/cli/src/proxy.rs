//! `sockscope proxy`: the capture proxy in front of a real gateway. Prints
//! `proxy listening on URL` once it accepts connections, then every event of every
//! client that goes through it, until Ctrl-C or SIGTERM; then one line per client
//! (its handshake, transport, counts and faults) on stderr.

use std::io::Write;

use clap::Args;
use sockscope_engine::usecase::{Capture, CaptureOptions, NewSession};
use sockscope_engine::Engine;
use sockscope_protocol::{ProxyRequest, TargetTls, TlsFiles};
use tokio::sync::broadcast::error::RecvError;

use crate::capture::{self, Printer};
use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::signal::shutdown_signal;

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Where the app connects: IP:PORT (loopback by default; port 0 picks one).
    #[arg(long, default_value = sockscope_engine::usecase::proxy::DEFAULT_LISTEN)]
    listen: String,
    /// The real gateway: http(s)://HOST:PORT[/base] (ws(s):// is read the same).
    #[arg(long, value_name = "URL")]
    upstream: String,
    /// A fault to inject (repeatable): `delay by=200ms [jitter=50ms]`, `drop`,
    /// `rewrite path=/0/field value=JSON`, `close [after=5s]`, `no-upgrade`,
    /// `throttle bps=N`; event rules take `event=NAME dir=c2s|s2c ns=/x count=N`.
    #[arg(long = "rule", value_name = "RULE")]
    rules: Vec<String>,
    /// The Socket.IO parser; detected from the first packet when unset.
    #[arg(long, value_enum)]
    parser: Option<crate::connect::ParserArg>,
    /// Serve HTTPS/WSS to the app with this certificate chain (PEM); needs
    /// --listen-tls-key.
    #[arg(long, value_name = "PEM_FILE", requires = "listen_tls_key")]
    listen_tls_cert: Option<String>,
    /// The private key of --listen-tls-cert (PEM).
    #[arg(long, value_name = "PEM_FILE", requires = "listen_tls_cert")]
    listen_tls_key: Option<String>,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
    /// Record every client's events into a session with this name.
    #[arg(long, value_name = "NAME")]
    record: Option<String>,
    /// Print events as JSON Lines instead of text.
    #[arg(long)]
    json: bool,
    /// Print no events, even with --json (the recording, if any, still keeps them all).
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    redact: crate::redaction::RedactArgs,
    #[command(flatten)]
    metrics: crate::metrics_args::MetricsArgs,
}

impl ProxyArgs {
    fn request(&self) -> Result<ProxyRequest> {
        let tls = self.tls.options()?;
        let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
        Ok(ProxyRequest {
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            parser: self.parser.map(Into::into),
            rules: self.rules.clone(),
            tls: TargetTls {
                ca_cert: path(&tls.ca_cert),
                insecure: tls.insecure,
                client_cert: path(&tls.client_cert),
                client_key: path(&tls.client_key),
            },
            listen_tls: match (&self.listen_tls_cert, &self.listen_tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles {
                    cert_path: cert.clone(),
                    key_path: key.clone(),
                }),
                _ => None,
            },
            record: self.record.clone(),
        })
    }
}

pub async fn run(args: ProxyArgs) -> Result<()> {
    args.redact.apply();
    let req = args.request()?;
    args.tls.announce();
    let metrics_addr = args.metrics.addr()?;
    let engine = Engine::new();
    let mut events = engine.bus().subscribe();
    // The metrics endpoint binds before the proxy starts (a taken port fails first)
    // and counts every record from its own subscription.
    let exporter = crate::metrics_args::MetricsArgs::start(metrics_addr).await?;
    if let Some((m, _)) = &exporter {
        m.declare_drop_cause("proxy_rule");
        m.declare_drop_cause("bus_lagged");
        sockscope_engine::metrics::follow(engine.bus().subscribe(), m.clone());
    }
    let record_rx = args.record.as_ref().map(|_| engine.bus().subscribe());
    let store = args.record.as_ref().map(|_| args.db.open()).transpose()?;
    let status = engine.proxy_start(&req).await?;
    let recorder = match (&store, &args.record, record_rx) {
        (Some(store), Some(name), Some(rx)) => {
            let meta = serde_json::json!({
                "proxy": status.url,
                "upstream": status.upstream,
                "rules": args.rules,
                "parser": args.parser.map(|p| sockscope_protocol::Parser::from(p).name()),
            });
            let new = NewSession {
                name: name.clone(),
                kind: "proxy".to_owned(),
                target: status.upstream.clone(),
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
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "proxy listening on {} (upstream {})",
            status.url, status.upstream
        )?;
        out.flush()?;
    }
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let note = if recorder.is_some() {
        " (the recording keeps them)"
    } else {
        ""
    };
    let mut printer = Printer::start(args.json, None, note)?;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            next = events.recv() => match next {
                Ok(_) if args.quiet => {}
                Ok(rec) => printer.print(&rec)?,
                Err(RecvError::Lagged(n)) => printer.skip(n),
                Err(RecvError::Closed) => break,
            },
        }
    }
    let last = engine.proxy_status().await;
    engine.proxy_stop().await;
    // The clients' final records (their disconnects) reach the printer too.
    while let Ok(rec) = events.try_recv() {
        if !args.quiet {
            printer.print(&rec)?;
        }
    }
    let skipped = printer.finish()?;
    for c in &last.clients {
        let namespaces: Vec<&str> = c.namespaces.iter().map(|n| n.name.as_str()).collect();
        eprintln!(
            "client {}: EIO {} {} {}, namespaces [{}], {} c2s / {} s2c packets{}{}",
            c.n,
            c.eio,
            c.parser.map(|p| p.name()).unwrap_or("?"),
            c.transport,
            namespaces.join(", "),
            c.c2s,
            c.s2c,
            if c.faults.is_empty() {
                String::new()
            } else {
                format!(", faults: {}", c.faults.join(" | "))
            },
            c.closed
                .as_deref()
                .map(|r| format!(", ended: {r}"))
                .unwrap_or_default(),
        );
    }
    eprintln!(
        "{} client(s), {} other request(s) passed through",
        last.clients.len(),
        last.passthrough
    );
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
    Ok::<(), CliError>(())
}
