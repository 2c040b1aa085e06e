//! `sockscope doctor URL`: why a gateway does not connect, in plain words. The
//! engine's connection doctor (`usecase::doctor`) does the probing; this reads the
//! flags into its request and prints its report: one line per check (✓ worked,
//! ✗ failed, - skipped), then the `sockscope connect` line that works. Exit code 0
//! when some setting connects, 1 when nothing does, 2 on bad input.

use clap::Args;
use sockscope_engine::usecase::diagnose;
use sockscope_protocol::{DoctorOutcome, DoctorReport, DoctorRequest, TargetTls};

use crate::error::{CliError, Result};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The gateway, e.g. http://localhost:4004 (a path in it is the Engine.IO path).
    url: String,
    /// The namespace to join.
    #[arg(long, short = 'n', default_value = "/")]
    namespace: String,
    /// The Engine.IO path (default: the URL's path, else /socket.io/).
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
    /// Check CORS for a browser page at this origin, e.g. https://app.example.com.
    #[arg(long, value_name = "ORIGIN")]
    origin: Option<String>,
    /// A token, sent as auth.token (or in the query for Socket.IO 2.x).
    #[arg(long, value_name = "TOKEN", conflicts_with = "auth")]
    token: Option<String>,
    /// The handshake's auth object: JSON, or @FILE holding it (or a bare token).
    /// Default: the SOCKSCOPE_AUTH environment variable, as for `connect`.
    #[arg(long, value_name = "JSON|@FILE")]
    auth: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
}

pub async fn run(args: DoctorArgs) -> Result<()> {
    let auth = match &args.token {
        Some(t) if t.trim().is_empty() => {
            return Err(CliError::Usage("--token is empty".to_owned()))
        }
        Some(t) => Some(serde_json::json!({ "token": t })),
        None => crate::connect::parse_auth(args.auth.as_deref())?,
    };
    // Files are checked here: a bad PEM is one line before anything connects.
    args.tls.options()?;
    args.tls.announce();
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let request = DoctorRequest {
        url: args.url.clone(),
        namespace: args.namespace.clone(),
        path: args.path.clone(),
        origin: args.origin.clone(),
        auth,
        tls: TargetTls {
            ca_cert: path(&args.tls.ca_cert),
            insecure: args.tls.insecure,
            client_cert: path(&args.tls.client_cert),
            client_key: path(&args.tls.client_key),
        },
    };
    let report = diagnose(&request)
        .await
        .map_err(sockscope_engine::Error::from)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&report)
                .map_err(|e| CliError::Failed(format!("cannot encode the report: {e}")))?
        );
    } else {
        print!("{}", human(&report));
    }
    match report.works {
        Some(_) => Ok(()),
        // The human report ends with the reason already.
        None if !args.json => Err(CliError::Gate("nothing connects".to_owned())),
        None => Err(CliError::Gate(format!(
            "nothing connects: {}",
            report.summary
        ))),
    }
}

/// The report as lines a person reads.
fn human(report: &DoctorReport) -> String {
    let mut out = format!("doctor: {}\n", report.url);
    for c in &report.checks {
        let mark = match c.outcome {
            DoctorOutcome::Ok => "✓",
            DoctorOutcome::Fail => "✗",
            DoctorOutcome::Skipped => "-",
        };
        out.push_str(&format!("{mark} {}: {}\n", c.title, c.detail));
    }
    match &report.connect_with {
        Some(line) => {
            out.push_str(&format!("Works: {}\n", report.summary));
            out.push_str(&format!("Connect with: {line}\n"));
        }
        None => out.push_str(&format!("Nothing connects: {}\n", report.summary)),
    }
    out
}
