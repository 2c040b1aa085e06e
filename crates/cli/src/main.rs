//! `sockscope`: the command-line front end. Everything here is argument parsing and
//! printing; behaviour lives in `sockscope-engine`, which the desktop app shares.

mod admin;
mod audit;
mod capture;
mod connect;
mod contract;
mod db;
mod doctor;
mod ensure;
mod error;
mod http;
mod inspect;
mod junit;
mod k8s;
mod metrics_args;
mod numbers;
mod output;
mod proxy;
mod redaction;
mod replay;
mod replay_server;
mod report;
mod scenario;
mod serve;
mod sessions;
mod signal;
mod simulate;
mod templates;
mod tenant_report;
mod tls_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::CliError;

/// Admin console and event inspector for Socket.IO gateways.
#[derive(Debug, Parser)]
#[command(
    name = "sockscope",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SOCKSCOPE_GIT_REV"), ")"),
    about,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the embedded gateway and print every event it sees.
    Serve(serve::ServeArgs),
    /// Event templates (socket-events/*.json): list them or send one.
    #[command(subcommand)]
    Templates(templates::TemplatesCommand),
    /// Show a running gateway's namespaces, tenants, rooms and sockets.
    Inspect(inspect::InspectArgs),
    /// Stand between a real app and its real gateway: forward everything, print and
    /// record every event of every client, inject faults on request.
    Proxy(proxy::ProxyArgs),
    /// Connect to a gateway as a client and print every event both ways.
    Connect(connect::ConnectArgs),
    /// Connect and record every event to SQLite.
    Record(connect::RecordArgs),
    /// Replay a recording: client events to a gateway with a drift report, or
    /// (--mode server) server events from the embedded gateway to connected clients.
    Replay(Box<replay::ReplayArgs>),
    /// Run many virtual clients through a scenario and report latency and throughput.
    Simulate(simulate::SimulateArgs),
    /// Inspect and act on a gateway instrumented with the Socket.IO Admin UI.
    Admin(admin::AdminArgs),
    /// Audits: `audit tenants` over an admin connection, the embedded gateway or a recording.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Why a gateway does not connect: tries Engine.IO v3/v4, polling and websocket,
    /// the path, the parsers, TLS, CORS and auth, and prints the settings that connect.
    Doctor(doctor::DoctorArgs),
    /// Recorded sessions: list, show, export, import, rm.
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// AsyncAPI contracts: infer one from recordings, check a recording against one,
    /// diff two.
    #[command(subcommand)]
    Contract(contract::ContractCommand),
    /// Load-test scenarios: `scenario from SESSION` generates one from a recording.
    #[command(subcommand)]
    Scenario(scenario::ScenarioCommand),
    /// Simulation reports: `report merge` adds up the shards of one run.
    #[command(subcommand)]
    Report(report::ReportCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_failure(&e),
    };
    init_tracing();
    sockscope_engine::redact::add_keys_from_env();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&CliError::Io(e)),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Templates(cmd) => templates::run(cmd).await,
            Command::Inspect(args) => inspect::run(args).await,
            Command::Proxy(args) => proxy::run(args).await,
            Command::Connect(args) => connect::connect(args).await,
            Command::Doctor(args) => doctor::run(args).await,
            Command::Record(args) => connect::record(args).await,
            Command::Replay(args) => replay::run(*args).await,
            Command::Simulate(args) => simulate::run(args).await,
            Command::Sessions(cmd) => sessions::run(cmd),
            Command::Admin(args) => admin::run(args).await,
            Command::Audit(cmd) => audit::run(cmd).await,
            Command::Contract(cmd) => contract::run(cmd).await,
            Command::Scenario(cmd) => scenario::run(cmd),
            Command::Report(cmd) => report::run(cmd).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Gate(why)) => {
            eprintln!(
                "sockscope: {}",
                numbers::clip(&sockscope_engine::redact::text(&why))
            );
            ExitCode::from(1)
        }
        Err(e) => fail(&e),
    }
}

/// One line on stderr, exit code 2: the contract for every bad input. The message is
/// redacted like a log line (a URL in it keeps no userinfo or query values).
fn fail(e: &CliError) -> ExitCode {
    eprintln!(
        "sockscope: error: {}",
        numbers::clip(&sockscope_engine::redact::text(&e.to_string()))
    );
    ExitCode::from(2)
}

/// A command-line mistake: one line saying what, one pointing at `--help`, exit
/// code 2. Help and version requests print as clap renders them.
fn clap_failure(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = numbers::command_path(&<Cli as clap::CommandFactory>::command(), &args);
    eprintln!("sockscope: error: {}", numbers::clap_error(e));
    eprintln!("usage: {command} --help");
    ExitCode::from(2)
}

/// Logs go to stderr (stdout is for events), `warn` unless `RUST_LOG` says otherwise,
/// through the redaction policy: neither our lines nor a dependency's (URLs with
/// tokens, raw frames at `trace`) carry a secret.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| sockscope_engine::redact::LogWriter::new(std::io::stderr()))
        .init();
}
