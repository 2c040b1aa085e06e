//! `sockscope contract infer|check|diff`: AsyncAPI 3.0 contracts from recordings.
//! `infer` writes the document, `check` reports every recorded event that breaks
//! one, `diff` compares two. `check` and `diff` are CI gates: exit code 1 on a
//! violation or a breaking change, 0 when clean (2 stays "could not run").
//! The behaviour is the engine's `contract` module.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use sockscope_engine::contract::{self, Contract, Violation};
use sockscope_engine::usecase;

use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::junit::Case;

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Write an AsyncAPI 3.0 document inferred from one or more recorded sessions.
    Infer(InferArgs),
    /// Report every event of a session that violates a contract (exit 1 if any).
    Check(CheckArgs),
    /// Breaking and non-breaking changes from contract A to contract B (exit 1 if
    /// any change is breaking).
    Diff(DiffArgs),
    /// Connect to a gateway (the `connect` flags) and check every event live
    /// against a contract until --duration, --count or Ctrl-C (exit 1 on violations).
    Live(Box<LiveArgs>),
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    #[command(flatten)]
    connect: crate::connect::ConnectArgs,
    /// The contract (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    against: PathBuf,
    /// Stop after this long: 10s, 500ms, 2m.
    #[arg(long, value_parser = crate::numbers::duration, value_name = "D")]
    duration: Option<std::time::Duration>,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Also write the result as JUnit XML (one test case per event and direction).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InferArgs {
    /// The sessions to learn from (`sockscope sessions list`).
    #[arg(required = true, value_name = "SESSION")]
    sessions: Vec<i64>,
    /// Output file: JSON when it ends in .json, else YAML (default: YAML on stdout).
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The session to check.
    session: i64,
    /// The contract (YAML or JSON).
    #[arg(long, value_name = "FILE")]
    against: PathBuf,
    /// Also write the result as JUnit XML (one test case per event and direction).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Print the violations as one JSON document.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old contract.
    a: PathBuf,
    /// The new contract.
    b: PathBuf,
    /// Print the changes as one JSON document.
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: ContractCommand) -> Result<()> {
    match cmd {
        ContractCommand::Infer(a) => infer(a),
        ContractCommand::Check(a) => check(a),
        ContractCommand::Diff(a) => diff(a),
        ContractCommand::Live(a) => live(*a).await,
    }
}

fn infer(args: InferArgs) -> Result<()> {
    let store = args.db.open()?;
    let inferred = usecase::infer_contract(&store, &args.sessions)?;
    let json = args.output.as_deref().is_some_and(contract::is_json_path);
    let text = contract::render(&inferred.document, json)?;
    match &args.output {
        Some(path) => {
            sockscope_engine::store::write_atomically(path, |out| {
                out.write_all(text.as_bytes())
                    .map_err(|e| sockscope_engine::Error::File {
                        path: path.display().to_string(),
                        source: e,
                    })
            })?;
            eprintln!(
                "contract from {} events of session(s) {:?} written to {}",
                inferred.events,
                args.sessions,
                path.display()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Per event and direction: how many were checked and the violations found.
#[derive(Debug, Default)]
struct Tally {
    checked: u64,
    violations: Vec<Violation>,
}

/// Violations kept per test case for the JUnit text (all are printed).
const JUNIT_DETAIL: usize = 50;

/// Checks one event: counts it under its event and direction, prints each violation
/// (unless `quiet`), keeps the first few for JUnit. Returns the violations found.
fn tally(
    contract: &Contract,
    tallies: &mut BTreeMap<String, Tally>,
    r: &sockscope_protocol::EventRecord,
    out: Option<&mut dyn Write>,
) -> Vec<Violation> {
    let found = contract.check(r);
    count(tallies, r, found, out)
}

/// Counts one checked event and what it broke under its event and direction,
/// prints each violation (unless `out` is `None`), keeps the first few for JUnit.
fn count(
    tallies: &mut BTreeMap<String, Tally>,
    r: &sockscope_protocol::EventRecord,
    found: Vec<Violation>,
    out: Option<&mut dyn Write>,
) -> Vec<Violation> {
    let key = format!(
        "{} {} ({})",
        r.direction.as_str(),
        r.event,
        if r.namespace.is_empty() {
            "/"
        } else {
            r.namespace.as_str()
        }
    );
    let t = tallies.entry(key).or_default();
    t.checked += 1;
    if let Some(out) = out {
        for v in &found {
            // A closed stdout (`| head`) ends the printing, not the check.
            let _ = writeln!(
                out,
                "seq {} {} {} {} {} {}: {}",
                v.seq,
                v.direction,
                v.namespace,
                v.event,
                v.kind,
                if v.pointer.is_empty() {
                    "/"
                } else {
                    &v.pointer
                },
                v.message
            );
        }
    }
    for v in &found {
        if t.violations.len() < JUNIT_DETAIL {
            t.violations.push(v.clone());
        }
    }
    found
}

fn junit_cases(tallies: &BTreeMap<String, Tally>) -> Vec<Case> {
    tallies
        .iter()
        .map(|(name, t)| {
            let name = format!("{name}: {} events", t.checked);
            if t.violations.is_empty() {
                Case::pass("contract", name)
            } else {
                let detail: Vec<String> = t
                    .violations
                    .iter()
                    .map(|v| format!("seq {} {} {}: {}", v.seq, v.kind, v.pointer, v.message))
                    .collect();
                Case::fail("contract", name, detail.join("\n"))
            }
        })
        .collect()
}

/// `serve --contract`: every event the embedded gateway sees (every client's, both
/// ways) checked against a contract as it happens; violations go to stderr, since
/// stdout carries the events.
#[derive(Debug)]
pub struct GatewayCheck {
    contract: Contract,
    path: PathBuf,
    tallies: BTreeMap<String, Tally>,
    events: u64,
    total: u64,
}

impl GatewayCheck {
    /// Reads the contract before the gateway starts: a bad file is one line, not a
    /// gateway that checks nothing.
    pub fn load(path: &Path) -> Result<Self> {
        Ok(Self {
            contract: usecase::load_contract(path)?,
            path: path.to_owned(),
            tallies: BTreeMap::new(),
            events: 0,
            total: 0,
        })
    }

    pub fn check(&mut self, r: &sockscope_protocol::EventRecord) {
        self.events += 1;
        let mut err = std::io::stderr().lock();
        self.total += tally(&self.contract, &mut self.tallies, r, Some(&mut err)).len() as u64;
    }

    /// The summary line; a gate failure (exit 1) when anything violated the contract
    /// or went by unchecked.
    pub fn finish(self, unchecked: u64) -> Result<()> {
        let skipped = if unchecked > 0 {
            format!(" ({unchecked} events went by unchecked: the terminal fell behind)")
        } else {
            String::new()
        };
        let summary = format!(
            "{} gateway events checked against {}, {} violation(s){skipped}",
            self.events,
            self.path.display(),
            self.total
        );
        if self.total > 0 || unchecked > 0 {
            return Err(CliError::Gate(summary));
        }
        eprintln!("{summary}");
        Ok(())
    }
}

async fn live(args: LiveArgs) -> Result<()> {
    let started = Instant::now();
    let contract = usecase::load_contract(&args.against)?;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut total = 0u64;
    let watched = crate::connect::watch(&args.connect, args.duration, args.count, |r| {
        let mut out = std::io::stdout().lock();
        total += tally(&contract, &mut tallies, r, Some(&mut out)).len() as u64;
        let _ = out.flush();
        Ok(())
    })
    .await?;
    if let Some(path) = &args.junit {
        crate::junit::write(
            path,
            "contract live check",
            started.elapsed().as_secs_f64(),
            &junit_cases(&tallies),
        )?;
    }
    let skipped = if watched.skipped > 0 {
        format!(
            " ({} events went by unchecked: the check fell behind)",
            watched.skipped
        )
    } else {
        String::new()
    };
    let summary = format!(
        "{} live events checked against {}, {total} violation(s){skipped}",
        watched.events,
        args.against.display()
    );
    if total > 0 || watched.skipped > 0 {
        return Err(CliError::Gate(summary));
    }
    eprintln!("{summary}");
    Ok(())
}

fn check(args: CheckArgs) -> Result<()> {
    let started = Instant::now();
    let contract = usecase::load_contract(&args.against)?;
    let store = args.db.open()?;
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut all: Vec<Violation> = Vec::new();
    let mut total = 0u64;
    let mut out = std::io::stdout().lock();
    let checked = usecase::check_session(&store, args.session, &contract, |r, found| {
        let found = count(
            &mut tallies,
            r,
            found,
            (!args.json).then_some(&mut out as &mut dyn Write),
        );
        total += found.len() as u64;
        if args.json {
            all.extend(found);
        }
    })?;
    if args.json {
        crate::output::pretty_json(
            &mut out,
            &serde_json::json!({
                "session": args.session,
                "contract": args.against.display().to_string(),
                "events": checked,
                "violations": all,
            }),
        )?;
    }
    out.flush()?;
    drop(out);
    if let Some(path) = &args.junit {
        crate::junit::write(
            path,
            &format!("contract check of session {}", args.session),
            started.elapsed().as_secs_f64(),
            &junit_cases(&tallies),
        )?;
    }
    let summary = format!(
        "session {}: {checked} events checked against {}, {total} violation(s)",
        args.session,
        args.against.display()
    );
    if total > 0 {
        return Err(CliError::Gate(summary));
    }
    eprintln!("{summary}");
    Ok(())
}

fn diff(args: DiffArgs) -> Result<()> {
    let (a, b) = (contract::load(&args.a)?, contract::load(&args.b)?);
    let changes = contract::diff(&a, &b)?;
    let breaking = changes.iter().filter(|c| c.breaking).count();
    crate::output::report(&changes, args.json, |out, changes| {
        for c in changes {
            writeln!(
                out,
                "{} {}: {}",
                if c.breaking { "BREAKING" } else { "ok      " },
                c.location,
                c.description
            )?;
        }
        Ok(())
    })?;
    let summary = format!(
        "{} change(s) from {} to {}, {breaking} breaking",
        changes.len(),
        args.a.display(),
        args.b.display()
    );
    if breaking > 0 {
        return Err(CliError::Gate(summary));
    }
    eprintln!("{summary}");
    Ok(())
}
