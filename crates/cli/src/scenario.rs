//! `sockscope scenario from SESSION`: a load-test scenario generated from a recorded
//! session (the engine's `simulate::from_recording`), written as the JSON that
//! `simulate --file` runs.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use sockscope_engine::simulate::from_recording::{self, FromOptions, Vary};

use crate::db::DbArgs;
use crate::error::{CliError, Result};

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// Write a scenario reproducing a recorded socket's client behaviour: its
    /// namespace and auth, its emits in order with the recorded gaps as think times,
    /// acks awaited, and waits for the server events it reacted to.
    From(FromArgs),
}

#[derive(Debug, Args)]
pub struct FromArgs {
    /// The recorded session (`sockscope sessions list`).
    session: i64,
    /// Output file (default: stdout).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Replace a JSON field (dotted path) of emitted payloads per virtual client:
    /// a UUID, the client's sequence number, or a pick from a list (repeatable),
    /// e.g. --vary entityId=uuid, --vary user.id=seq, --vary room=pick:a,b.
    #[arg(long, value_name = "FIELD=uuid|seq|pick:a,b")]
    vary: Vec<Vary>,
    /// Virtual clients per recorded socket: sets the scenario's default client
    /// count (`simulate --clients` overrides it).
    #[arg(long, value_name = "N", value_parser = crate::numbers::clients)]
    clients_per_socket: Option<usize>,
    /// Reproduce only this recorded socket (default: every socket that emitted; with
    /// several, the scenario's `sockets` lists one behaviour each).
    #[arg(long, value_name = "ID")]
    socket: Option<String>,
    /// The embedded gateway profile written into the scenario (default: the
    /// session's, when it recorded the embedded gateway).
    #[arg(long, value_name = "PROFILE")]
    profile: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

pub fn run(cmd: ScenarioCommand) -> Result<()> {
    match cmd {
        ScenarioCommand::From(a) => from(a),
    }
}

fn from(args: FromArgs) -> Result<()> {
    let store = args.db.open()?;
    let info = store.session(args.session)?;
    let mut records = Vec::new();
    store.for_each_event(args.session, |r| {
        records.push(r);
        Ok(())
    })?;
    let profile = args.profile.clone().or_else(|| {
        info.meta
            .get("profile")
            .and_then(|p| p.as_str())
            .map(str::to_owned)
    });
    let opts = FromOptions {
        name: format!("from-session-{}", args.session),
        profile,
        socket: args.socket.clone(),
        vary: args.vary.clone(),
        clients: args.clients_per_socket,
        auth_keys: info
            .meta
            .get("auth_keys")
            .and_then(|k| k.as_array())
            .map(|k| {
                k.iter()
                    .filter_map(|k| k.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let scenario = from_recording::generate(&records, &opts).map_err(CliError::Usage)?;
    // Checked with the simulator's own parser: what we write, `simulate --file` runs.
    let text = serde_json::to_string_pretty(&scenario)
        .map_err(|e| CliError::Failed(format!("cannot write the scenario: {e}")))?;
    sockscope_engine::simulate::scenario::parse(&text, "generated scenario")?;
    let sockets = from_recording::socket_ids(&records).len();
    match &args.output {
        Some(path) => {
            sockscope_engine::store::write_atomically(path, |out| {
                out.write_all(text.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
                    .map_err(|e| sockscope_engine::Error::File {
                        path: path.display().to_string(),
                        source: e,
                    })?;
                Ok(0)
            })?;
            eprintln!(
                "scenario from session {} ({} events, {sockets} sockets) written to {}",
                args.session,
                records.len(),
                path.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
    }
    tracing::info!(session = args.session, sockets, "scenario generated");
    Ok(())
}
