//! `sockscope report merge FILE...`: adds up the mergeable reports the shards of one
//! run wrote (`simulate --shard I/N --report-out FILE`) into the report one process
//! running every client would have printed: counts summed, percentiles recomputed
//! from the merged histograms. The behaviour is the engine's `simulate::merge`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use sockscope_engine::simulate::merge::{self, ShardReport};

use crate::error::{CliError, Result};
use crate::numbers::duration as parse_duration;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the shards' reports of one run (exact percentiles from the histograms).
    Merge(MergeArgs),
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports written by `simulate --report-out` (one per shard).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Wait up to this long for every FILE to appear (shards still running), e.g. 10m.
    #[arg(long, value_parser = parse_duration, value_name = "D")]
    wait: Option<Duration>,
    /// Merge what is there even when some shards of the run are missing.
    #[arg(long)]
    partial: bool,
    /// Also write the merged report (mergeable again) to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the merged report as one JSON document.
    #[arg(long)]
    json: bool,
    /// Fail (exit 1) unless this holds for the merged report, as `simulate --ensure`
    /// (repeatable): the gate of a sharded run.
    #[arg(long = "ensure", value_name = "COND", value_parser = crate::ensure::parse)]
    ensure: Vec<crate::ensure::Ensure>,
}

pub async fn run(cmd: ReportCommand) -> Result<()> {
    match cmd {
        ReportCommand::Merge(args) => merge_files(args).await,
    }
}

async fn merge_files(args: MergeArgs) -> Result<()> {
    if args.files.len() > merge::MAX_FILES {
        return Err(merge::MergeError::TooMany.into());
    }
    if let Some(wait) = args.wait {
        wait_for(&args.files, wait).await?;
    }
    let mut parts = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let (report, histograms) = ShardReport::load(path)?;
        parts.push((path.display().to_string(), report, histograms));
    }
    let (merged, _) = merge::merge(parts, args.partial)?;
    if let Some(out) = &args.out {
        merged.write(out)?;
    }
    if merged.late_ms > 0 {
        eprintln!(
            "note: a shard started {} ms after --start-at (its first clients connected late)",
            merged.late_ms
        );
    }
    crate::output::report(&merged.report, args.json, crate::simulate::human)?;
    let mut failed = Vec::new();
    for e in &args.ensure {
        let actual = e.describe_actual(&merged.report);
        if e.holds(&merged.report) {
            eprintln!("ensure {}: holds (was {actual})", e.text);
        } else {
            failed.push(format!("{} (was {actual})", e.text));
        }
    }
    if !failed.is_empty() {
        return Err(CliError::Gate(format!(
            "ensure failed: {}",
            failed.join("; ")
        )));
    }
    Ok(())
}

/// Polls until every file exists or `wait` passes (then the missing ones are named).
async fn wait_for(files: &[PathBuf], wait: Duration) -> Result<()> {
    let until = tokio::time::Instant::now() + wait;
    loop {
        let missing: Vec<String> = files
            .iter()
            .filter(|f| !f.exists())
            .map(|f| f.display().to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= until {
            return Err(CliError::Failed(format!(
                "still missing after {}: {}",
                humanize(wait),
                missing.join(", ")
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn humanize(d: Duration) -> String {
    format!("{} s", d.as_secs())
}
