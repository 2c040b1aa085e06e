//! `sockscope simulate [SCENARIO | --file F] (--target URL | --embedded)`: many
//! virtual clients run a scenario against a gateway (or the embedded emulation of
//! the scenario's profile) and the run ends in a latency/throughput report. Live
//! counters go to stderr as a progress bar; the report to stdout as a table or one
//! JSON document. The behaviour is the engine's `simulate` module.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Args;
use sockscope_engine::simulate::merge::ShardReport;
use sockscope_engine::simulate::{self, scenario, shard, Shard, SimulateOptions, Target};
use sockscope_protocol::{LatencySummary, SimulationProgress, SimulationReport};
use tokio::sync::watch;

use crate::error::{CliError, Result};
use crate::junit::Case;
use crate::numbers::duration as parse_duration;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("where").required(true).args(["target", "embedded"])))]
pub struct SimulateArgs {
    /// A shipped scenario: analytics-dashboard, jet-admin-workflow, jet-admin-widget,
    /// ai-chat, steedos-records, jac-chat (plain WebSocket), gxp-plugins.
    #[arg(conflicts_with = "file")]
    scenario: Option<String>,
    /// A scenario file (JSON; see socket-events/scenarios/README.md).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// The gateway to load, e.g. http://localhost:4004; several URLs separated by
    /// commas (a cluster's nodes) get the clients round-robin.
    #[arg(long, value_name = "URL[,URL...]")]
    target: Option<String>,
    /// Start the scenario's gateway profile in-process and load that.
    #[arg(long)]
    embedded: bool,
    /// Virtual clients (default: the scenario's `clients`, else 10).
    #[arg(long, value_name = "N", value_parser = crate::numbers::clients)]
    clients: Option<usize>,
    /// Spread the clients' connects over this: 1s, 500ms.
    #[arg(long, value_parser = parse_duration, default_value = "1s", value_name = "D")]
    ramp: Duration,
    /// How long the run lasts, from the first connect.
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "D")]
    duration: Duration,
    /// Iterations of the scenario's steps per second per client (default: the
    /// scenario's own rate, else 1).
    #[arg(long, value_name = "R", value_parser = crate::numbers::rate)]
    rate: Option<f64>,
    /// HS256 secret for the clients' tokens ({{token}}) and the embedded gateway.
    #[arg(
        long,
        env = "SOCKSCOPE_JWT_SECRET",
        value_name = "S",
        hide_env_values = true
    )]
    jwt_secret: Option<String>,
    /// Tenant ids, assigned to clients round-robin.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "acme,globex",
        value_name = "A,B"
    )]
    tenants: Vec<String>,
    /// Entities per tenant ({{entity}}): clients of a tenant share these.
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = crate::numbers::entities)]
    entities: usize,
    /// The embedded gateway's push interval (metric ticks, workflow steps).
    #[arg(long, default_value_t = 1000, value_name = "MS", value_parser = crate::numbers::millis)]
    tick_ms: u64,
    /// How long one client may take to connect.
    #[arg(long, value_parser = parse_duration, default_value = "10s", value_name = "D")]
    connect_timeout: Duration,
    /// Print the report as one JSON document.
    #[arg(long)]
    json: bool,
    /// Bearer token for the scenario's HTTP API requests (`api` in the scenario) to
    /// --target; --embedded knows its own.
    #[arg(
        long,
        env = "SOCKSCOPE_API_TOKEN",
        value_name = "T",
        hide_env_values = true
    )]
    api_token: Option<String>,
    /// Fail the run (exit 1) unless this holds, e.g. 'p99(delivery)<50ms',
    /// 'errors==0', 'connected>=0.99' (repeatable). Metrics:
    /// p50|p95|p99|max|mean(connect|ack|delivery) in ms/s/us, connected (fraction or %),
    /// errors, errors(KIND), failed, acks_ok, acks_timed_out, sent, received,
    /// sent_per_sec, received_per_sec.
    #[arg(long = "ensure", value_name = "COND", value_parser = crate::ensure::parse)]
    ensure: Vec<crate::ensure::Ensure>,
    /// Write the outcome as JUnit XML (one test case per --ensure, plus the run).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Run only shard I of N (0-based) of the clients; --clients is the whole run's,
    /// and each client keeps the index, tenant, user and ramp slot it has in a single
    /// process. Needs --target.
    #[arg(long, value_name = "I/N", value_parser = Shard::parse)]
    shard: Option<Shard>,
    /// Start the run at this Unix time (seconds, fraction allowed) instead of now:
    /// every shard of a run waits for the same moment. A shard that starts late
    /// connects the clients whose slot passed at once and ends at the same time.
    #[arg(long, env = "SOCKSCOPE_START_AT", value_name = "UNIX_SECS", value_parser = shard::parse_start_at)]
    start_at: Option<SystemTime>,
    /// Also write a mergeable report (counts and HDR histograms) to FILE, for
    /// `sockscope report merge`.
    #[arg(long, value_name = "FILE")]
    report_out: Option<PathBuf>,
    #[command(flatten)]
    metrics: crate::metrics_args::MetricsArgs,
    /// With --metrics: keep serving the final values this long after the run (so a
    /// scrape catches them), e.g. 15s.
    #[arg(long, value_parser = parse_duration, value_name = "D", requires = "metrics")]
    metrics_hold: Option<Duration>,
    #[command(flatten)]
    pub(crate) k8s: crate::k8s::K8sArgs,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
}

impl SimulateArgs {
    pub(crate) fn scenario(&self) -> Result<simulate::Scenario> {
        match (&self.scenario, &self.file) {
            (_, Some(path)) => Ok(scenario::load(path)?),
            (Some(name), None) => Ok(scenario::built_in(name)?),
            (None, None) => Err(CliError::Usage(format!(
                "name a scenario or pass --file (shipped: {})",
                scenario::built_in_names().join(", ")
            ))),
        }
    }

    /// What every shard pod of `--k8s-job` runs: these arguments, resolved (the
    /// whole run's client count, durations in ms), minus what a pod cannot have.
    fn k8s_plan(&self, scenario: &simulate::Scenario) -> Result<crate::k8s::Plan> {
        let usage = |m: &str| Err(CliError::Usage(m.to_owned()));
        if self.shard.is_some() {
            return usage("--k8s-job gives each pod its --shard: pass --k8s-shards N instead");
        }
        if self.tls.ca_cert.is_some() || self.tls.client_cert.is_some() {
            return usage("--k8s-job cannot carry --ca-cert/--client-cert files into the pods: build them into the image and run the shards yourself");
        }
        if self.report_out.is_some() || self.metrics.metrics.is_some() || self.junit.is_some() {
            return usage("--k8s-job writes each pod's --report-out itself; --metrics and --junit are per process: leave them out");
        }
        let Some(target) = &self.target else {
            return usage("--k8s-job needs --target URL (the pods load a gateway they can reach)");
        };
        // The same checks a run makes, so a bad manifest is not printed.
        let mut opts = self.options(scenario)?;
        opts.shard = Shard {
            index: 0,
            count: self.k8s.k8s_shards.unwrap_or(1),
        };
        opts.check()?;
        let scenario_text = match (&self.file, &self.scenario) {
            (Some(path), _) => std::fs::read_to_string(path).map_err(|source| CliError::File {
                path: path.display().to_string(),
                source,
            })?,
            (None, Some(name)) => scenario::built_in_text(name)
                .map(str::to_owned)
                .ok_or_else(|| CliError::Usage(format!("unknown scenario {name:?}")))?,
            (None, None) => return usage("name a scenario or pass --file"),
        };
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let mut args: Vec<String> = vec![
            "simulate".into(),
            "--file".into(),
            crate::k8s::scenario_path(),
            "--target".into(),
            target.clone(),
            "--clients".into(),
            opts.clients.to_string(),
            "--ramp".into(),
            ms(opts.ramp),
            "--duration".into(),
            ms(opts.duration),
            "--tenants".into(),
            opts.tenants.join(","),
            "--entities".into(),
            opts.entities.to_string(),
            "--connect-timeout".into(),
            ms(opts.connect_timeout),
            "--json".into(),
        ];
        if let Some(rate) = self.rate {
            args.extend(["--rate".into(), rate.to_string()]);
        }
        if self.tls.insecure {
            args.push("--insecure".into());
        }
        Ok(crate::k8s::Plan {
            scenario_text,
            args,
            ensure: self.ensure.iter().map(|e| e.text.clone()).collect(),
            duration: opts.duration,
            start_at: self.start_at,
        })
    }

    fn options(&self, scenario: &simulate::Scenario) -> Result<SimulateOptions> {
        Ok(SimulateOptions {
            target: match &self.target {
                Some(url) => Target::Url(url.clone()),
                None => Target::Embedded,
            },
            clients: self.clients.or(scenario.clients).unwrap_or(10),
            ramp: self.ramp,
            duration: self.duration,
            rate: self.rate,
            jwt_secret: self.jwt_secret.clone().filter(|s| !s.is_empty()),
            tenants: self.tenants.iter().map(|t| t.trim().to_owned()).collect(),
            entities: self.entities,
            tick_ms: self.tick_ms,
            connect_timeout: self.connect_timeout,
            tls: self.tls.options()?,
            api_token: self.api_token.clone().filter(|t| !t.is_empty()),
            shard: self.shard.unwrap_or_default(),
            start_at: self.start_at,
            metrics: None,
        })
    }
}

pub async fn run(args: SimulateArgs) -> Result<()> {
    let scenario = args.scenario()?;
    if args.k8s.job {
        let plan = args.k8s_plan(&scenario)?;
        return crate::k8s::print_plan(&args.k8s, &plan);
    }
    args.tls.announce();
    let mut opts = args.options(&scenario)?;
    let exporter = crate::metrics_args::MetricsArgs::start(args.metrics.addr()?).await?;
    opts.metrics = exporter.as_ref().map(|(m, _)| m.clone());
    let (tx, mut rx) = watch::channel(SimulationProgress::default());
    let total_ms = u64::try_from(opts.duration.as_millis()).unwrap_or(u64::MAX);
    let bar = indicatif::ProgressBar::new(total_ms);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("simulate {bar:25} {elapsed}/{len_s} {msg}")
    {
        bar.set_style(style.with_key(
            "len_s",
            |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}s", s.len().unwrap_or(0) / 1000);
            },
        ));
    }
    let shown = bar.clone();
    let watcher = tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let p = rx.borrow_and_update().clone();
            shown.set_position(p.elapsed_ms.min(total_ms));
            shown.set_message(format!(
                "clients {}/{} connected {} failed {} sent {} received {} errors {}",
                p.started,
                p.clients,
                p.connected,
                p.failed,
                p.events_sent,
                p.events_received,
                p.errors
            ));
            if p.done {
                break;
            }
        }
    });
    let outcome = simulate::run_full(&scenario, &opts, Some(tx)).await;
    let _ = watcher.await;
    bar.finish_and_clear();
    let outcome = outcome?;
    if let Some(path) = &args.report_out {
        ShardReport::from_run(&outcome, opts.shard, opts.start_at).write(path)?;
    }
    if !outcome.late.is_zero() {
        eprintln!(
            "note: started {} ms after --start-at: the clients whose slot had passed connected at once",
            outcome.late.as_millis()
        );
    }
    let report = outcome.report;
    crate::output::report(&report, args.json, human)?;
    if let (Some(hold), Some((_, server))) = (args.metrics_hold, &exporter) {
        eprintln!(
            "metrics: holding the final values on http://{}/metrics for {} ms",
            server.addr(),
            hold.as_millis()
        );
        tokio::time::sleep(hold).await;
    }
    drop(exporter);
    let broken = simulate::broken(&report);
    let failed: Vec<String> = args
        .ensure
        .iter()
        .filter(|e| !e.holds(&report))
        .map(|e| format!("{} (was {})", e.text, e.describe_actual(&report)))
        .collect();
    if let Some(path) = &args.junit {
        let suite = format!("simulate {}", report.scenario);
        let mut cases = vec![match &broken {
            None => Case::pass("simulate", "simulation ran"),
            Some(what) => Case::fail("simulate", "simulation ran", what.to_string()),
        }];
        for e in &args.ensure {
            cases.push(if e.holds(&report) {
                Case::pass("simulate.ensure", e.text.clone())
            } else {
                Case::fail(
                    "simulate.ensure",
                    e.text.clone(),
                    format!("{} was {}", e.text, e.describe_actual(&report)),
                )
            });
        }
        crate::junit::write(path, &suite, report.elapsed_ms as f64 / 1000.0, &cases)?;
    }
    // Panicked clients or frames no client could decode: the run is not a result.
    if let Some(what) = broken {
        return Err(CliError::Failed(format!(
            "simulation failed: {what} (clients counted as failed above)"
        )));
    }
    for e in &args.ensure {
        if e.holds(&report) {
            eprintln!(
                "ensure {}: holds (was {})",
                e.text,
                e.describe_actual(&report)
            );
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

/// The report as a person reads it.
pub(crate) fn human(out: &mut impl Write, r: &SimulationReport) -> std::io::Result<()> {
    writeln!(
        out,
        "simulation {} -> {}{}: {:.1}s",
        r.scenario,
        r.target,
        if r.embedded { " (embedded)" } else { "" },
        r.elapsed_ms as f64 / 1000.0
    )?;
    writeln!(
        out,
        "clients    {} connected, {} failed of {}",
        r.connected, r.failed, r.clients
    )?;
    writeln!(
        out,
        "events     {} sent ({:.1}/s), {} received ({:.1}/s)",
        r.events_sent, r.sent_per_sec, r.events_received, r.received_per_sec
    )?;
    writeln!(
        out,
        "acks       {} ok, {} timed out",
        r.acks_ok, r.acks_timed_out
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<10} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "latency", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"
    )?;
    let row = |out: &mut dyn Write, name: &str, l: &LatencySummary| {
        writeln!(
            out,
            "{:<10} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            name, l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
        )
    };
    row(out, "connect", &r.connect_latency)?;
    row(out, "ack", &r.ack_latency)?;
    row(out, "delivery", &r.delivery_latency)?;
    let width = r
        .events
        .iter()
        .map(|e| e.event.len())
        .max()
        .unwrap_or(0)
        .max(5);
    writeln!(out)?;
    writeln!(out, "{:<width$} {:>10} {:>10}", "event", "sent", "received")?;
    for e in &r.events {
        writeln!(out, "{:<width$} {:>10} {:>10}", e.event, e.sent, e.received)?;
    }
    writeln!(out)?;
    if r.errors_by_kind.is_empty() {
        writeln!(out, "errors     none")?;
    } else {
        writeln!(out, "errors     {}", r.errors)?;
        for e in &r.errors_by_kind {
            writeln!(out, "  {:<20} {}", e.kind, e.count)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_protocol::{SimErrorCount, SimEventCount};

    #[test]
    fn human_report_lists_counts_and_errors() {
        let r = SimulationReport {
            scenario: "analytics-dashboard".into(),
            target: "http://127.0.0.1:1".into(),
            embedded: true,
            clients: 3,
            connected: 2,
            failed: 1,
            events_sent: 2,
            events_received: 10,
            errors: 1,
            errors_by_kind: vec![SimErrorCount {
                kind: "connect_error".into(),
                count: 1,
            }],
            events: vec![SimEventCount {
                event: "metric:update".into(),
                sent: 0,
                received: 10,
            }],
            elapsed_ms: 2000,
            received_per_sec: 5.0,
            sent_per_sec: 1.0,
            ..SimulationReport::default()
        };
        let mut buf = Vec::new();
        human(&mut buf, &r).expect("write");
        let text = String::from_utf8(buf).expect("utf8");
        assert!(text.contains("2 connected, 1 failed of 3"), "{text}");
        assert!(text.contains("10 received (5.0/s)"), "{text}");
        assert!(text.contains("metric:update"), "{text}");
        assert!(text.contains("connect_error"), "{text}");
    }
}
