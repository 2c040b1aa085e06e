//! `sockscope scenario from SESSION`: a load-test scenario generated from a recorded
//! session (the engine's `simulate::from_recording`), written as the JSON that
//! `simulate --file` runs.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use sockscope_engine::simulate::from_recording::Vary;
use sockscope_engine::usecase::{self, ScenarioError, ScenarioOptions};

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
    let opts = ScenarioOptions {
        profile: args.profile.clone(),
        socket: args.socket.clone(),
        vary: args.vary.clone(),
        clients: args.clients_per_socket,
        max_events: None,
    };
    let made =
        usecase::scenario_from_session(&store, args.session, &opts).map_err(|e| match e {
            ScenarioError::Engine(e) => CliError::Engine(e),
            ScenarioError::Generate(why) => CliError::Usage(why),
            e @ ScenarioError::Encode(_) => CliError::Failed(e.to_string()),
        })?;
    match &args.output {
        Some(path) => {
            usecase::write_scenario(path, &made.text)?;
            eprintln!(
                "scenario from session {} ({} events, {} sockets) written to {}",
                args.session,
                made.events,
                made.sockets,
                path.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(made.text.as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
    }
    Ok(())
}
