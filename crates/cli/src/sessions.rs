//! `sockscope sessions list|show|export|import|rm`: the recordings in the database.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::output;
use crate::redaction::RedactArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// JSON Lines: one event record a line.
    Jsonl,
    /// Chrome DevTools HAR 1.2 (`_webSocketMessages` with Socket.IO frames).
    Har,
}

impl Format {
    /// `--format` if given, else `har` for a `.har` file, else `jsonl`.
    fn pick(explicit: Option<Format>, file: Option<&Path>) -> Format {
        explicit.unwrap_or_else(|| {
            let har = file
                .and_then(|f| f.extension())
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("har"));
            if har {
                Format::Har
            } else {
                Format::Jsonl
            }
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Every recording with its event count.
    List(ListArgs),
    /// One recording's events.
    Show(IdArgs),
    /// A recording as JSON Lines (one event record a line) or a HAR file.
    Export(ExportArgs),
    /// A JSON Lines or Chrome DevTools HAR file as a new recording.
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
    /// Default: har when the output file ends in .har, else jsonl.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Output file (default: stdout).
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    redact: RedactArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    file: PathBuf,
    /// Default: har for a .har file, else jsonl.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Session name (default: the file name).
    #[arg(long)]
    name: Option<String>,
    /// Longest line read, in bytes (default 64 MiB); a longer one is an error.
    #[arg(long, value_name = "BYTES", default_value_t = sockscope_engine::limits::DEFAULT_MAX_LINE, value_parser = crate::numbers::max_line)]
    max_line: u64,
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    redact: RedactArgs,
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
                        "{:>5}  {:<10} {:<11} {:>8} events  {}  {}",
                        s.id,
                        s.kind,
                        s.state.as_str(),
                        s.events,
                        s.name,
                        s.target
                    )?;
                }
                writeln!(out, "{} sessions", sessions.len())?;
            }
        }
        SessionsCommand::Show(a) => {
            // Row by row: a session of any size prints without being loaded whole.
            let store = a.db.open()?;
            store.for_each_event(a.id, |e| Ok(output::event_line(&mut out, &e, a.json)?))?;
        }
        SessionsCommand::Export(a) => {
            a.redact.apply();
            let store = a.db.open()?;
            let format = Format::pick(a.format, a.output.as_deref());
            let export = |mut w: &mut dyn Write| -> Result<usize> {
                Ok(match format {
                    Format::Jsonl => store.export_jsonl(a.id, &mut w)?,
                    Format::Har => store.export_har(a.id, &mut w)?,
                })
            };
            let n = match &a.output {
                Some(path) => {
                    // Check the session first so a bad id leaves no empty file behind.
                    store.session(a.id)?;
                    // Written to a temporary file and renamed when complete: a failure
                    // never leaves a truncated file (or an empty one) at `path`.
                    sockscope_engine::store::write_atomically(path, |w| {
                        export(w).map_err(|e| match e {
                            CliError::Engine(e) => e,
                            other => sockscope_engine::Error::Io(std::io::Error::other(
                                other.to_string(),
                            )),
                        })
                    })?
                }
                None => export(&mut out)?,
            };
            eprintln!("exported {n} events from session {}", a.id);
        }
        SessionsCommand::Import(a) => {
            a.redact.apply();
            let store = a.db.open()?;
            let name = a
                .name
                .clone()
                .unwrap_or_else(|| a.file.display().to_string());
            let (id, n) = match Format::pick(a.format, Some(&a.file)) {
                Format::Har => store.import_har_limited(&name, &a.file, a.max_line)?,
                Format::Jsonl => {
                    let file = std::fs::File::open(&a.file).map_err(|e| CliError::File {
                        path: a.file.display().to_string(),
                        source: e,
                    })?;
                    store.import_jsonl_limited(&name, BufReader::new(file), a.max_line)?
                }
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_comes_from_the_flag_then_the_extension() {
        assert_eq!(Format::pick(None, Some(Path::new("a/b.HAR"))), Format::Har);
        assert_eq!(
            Format::pick(None, Some(Path::new("b.jsonl"))),
            Format::Jsonl
        );
        assert_eq!(Format::pick(None, None), Format::Jsonl);
        assert_eq!(
            Format::pick(Some(Format::Jsonl), Some(Path::new("b.har"))),
            Format::Jsonl
        );
    }
}
