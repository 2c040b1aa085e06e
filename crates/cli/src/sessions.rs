//! `sockscope sessions list|show|export|import|rm`: the recordings in the database.

use std::io::{BufReader, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::output;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Every recording with its event count.
    List(ListArgs),
    /// One recording's events.
    Show(IdArgs),
    /// A recording as JSON Lines (one event record a line).
    Export(ExportArgs),
    /// A JSON Lines file as a new recording.
    Import(ImportArgs),
    /// Delete a recording.
    Rm(IdArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    id: i64,
    #[command(flatten)]
    db: DbArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    id: i64,
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// Output file (default: stdout).
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    file: PathBuf,
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// Session name (default: the file name).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    db: DbArgs,
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: SessionsCommand) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match cmd {
        SessionsCommand::List(a) => {
            let sessions = a.db.open()?.sessions()?;
            if a.json {
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&sessions).map_err(std::io::Error::other)?
                )?;
            } else {
                for s in &sessions {
                    writeln!(
                        out,
                        "{:>5}  {:<10} {:>8} events  {}  {}",
                        s.id, s.kind, s.events, s.name, s.target
                    )?;
                }
                writeln!(out, "{} sessions", sessions.len())?;
            }
        }
        SessionsCommand::Show(a) => {
            let store = a.db.open()?;
            for e in store.events(a.id)? {
                output::event_line(&mut out, &e, a.json)?;
            }
        }
        SessionsCommand::Export(a) => {
            let store = a.db.open()?;
            let Format::Jsonl = a.format;
            let n = match &a.output {
                Some(path) => {
                    let file = std::fs::File::create(path).map_err(|e| CliError::File {
                        path: path.display().to_string(),
                        source: e,
                    })?;
                    let mut w = std::io::BufWriter::new(file);
                    let n = store.export_jsonl(a.id, &mut w)?;
                    w.flush()?;
                    n
                }
                None => store.export_jsonl(a.id, &mut out)?,
            };
            eprintln!("exported {n} events from session {}", a.id);
        }
        SessionsCommand::Import(a) => {
            let store = a.db.open()?;
            let Format::Jsonl = a.format;
            let file = std::fs::File::open(&a.file).map_err(|e| CliError::File {
                path: a.file.display().to_string(),
                source: e,
            })?;
            let name = a
                .name
                .clone()
                .unwrap_or_else(|| a.file.display().to_string());
            let (id, n) = store.import_jsonl(&name, BufReader::new(file))?;
            if a.json {
                writeln!(out, "{}", json!({ "id": id, "events": n }))?;
            } else {
                writeln!(out, "imported {n} events as session {id}")?;
            }
        }
        SessionsCommand::Rm(a) => {
            a.db.open()?.delete_session(a.id)?;
            writeln!(out, "deleted session {}", a.id)?;
        }
    }
    Ok(())
}
