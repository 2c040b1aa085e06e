//! `cargo xtask bench app`: what a user downloads and starts. The release UI's wasm
//! size, the time from launch to an interactive window, and the idle memory of the app
//! with its WebKit processes, for the release build.

use std::path::Path;

use super::report::{Section, Target};
use crate::bundle;
use crate::command::{output, Cmd};
use crate::{display, setup, step, workspace};

/// Cold starts per build; the table quotes the median and every round.
const ROUNDS: usize = 3;

#[derive(Debug, Default)]
struct Round {
    interactive_ms: f64,
    rss_mib: f64,
    pss_mib: f64,
}

pub fn app() -> Result<Section, String> {
    setup::all()?;
    let root = workspace::root();

    let release_app = bundle::release_app()?;
    let release_wasm = wasm_size(&root.join("ui/dist")).ok_or("no .wasm in ui/dist")?;

    let display = display::Xvfb::start()?;
    let mut release = Vec::new();
    for round in 0..ROUNDS {
        step(&format!("round {}/{ROUNDS}: release app", round + 1));
        release.push(probe(&release_app, display.name())?);
    }
    drop(display);

    let mut table = format!(
        "## Desktop app: wasm size, start, idle memory\n\n\
         `cargo xtask bench app`, {ROUNDS} cold starts of the release build; load average \
         {} on {} cores. Interactive = the Server panel painted and the About line filled \
         by an IPC round trip, timed from the WebDriver session request (so it includes \
         tauri-driver's and WebKitWebDriver's own start). Memory after 5 s idle, summed over \
         the app and the WebKit processes it started; PSS divides shared pages among the \
         processes sharing them. Targets: wasm <= 2 MB, idle <= 250 MB, interactive <= 1.5 s.\n\n\
         | build | wasm | interactive (median) | RSS total (median) | PSS total (median) | rounds (ms / RSS MiB) |\n\
         |---|---|---|---|---|---|\n",
        super::load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    table.push_str(&row("release", Some(release_wasm), &release));
    let med = |f: fn(&Round) -> f64| super::median(release.iter().map(f).collect());
    table.push_str(&format!(
        "\nRelease against the targets: wasm {:.2} MB ({}), idle RSS {:.0} MiB ({}), interactive {:.2} s ({}).\n\n",
        release_wasm as f64 / 1e6,
        verdict(release_wasm as f64 <= 2e6),
        med(|r| r.rss_mib),
        verdict(med(|r| r.rss_mib) * 1.048_576 <= 250.0),
        med(|r| r.interactive_ms) / 1000.0,
        verdict(med(|r| r.interactive_ms) <= 1500.0),
    ));
    let (rss, interactive) = (med(|r| r.rss_mib), med(|r| r.interactive_ms));
    Ok(Section {
        body: table,
        pinning: "none".into(),
        targets: vec![
            Target::judged(
                "release wasm <= 2 MB",
                format!("{:.2} MB", release_wasm as f64 / 1e6),
                release_wasm as f64 <= 2e6,
            ),
            Target::judged(
                "idle RSS <= 250 MB",
                format!("{rss:.0} MiB"),
                rss * 1.048_576 <= 250.0,
            ),
            Target::judged(
                "interactive <= 1.5 s",
                format!("{:.2} s", interactive / 1000.0),
                interactive <= 1500.0,
            ),
        ],
    })
}

fn verdict(met: bool) -> &'static str {
    if met {
        "target met"
    } else {
        "target missed"
    }
}

fn row(build: &str, wasm: Option<u64>, rounds: &[Round]) -> String {
    let med = |f: fn(&Round) -> f64| super::median(rounds.iter().map(f).collect());
    let every = rounds
        .iter()
        .map(|r| format!("{:.0} / {:.0}", r.interactive_ms, r.rss_mib))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "| {build} | {} | {:.0} ms | {:.0} MiB | {:.0} MiB | {every} |\n",
        wasm.map_or("?".to_owned(), |w| format!("{:.2} MB", w as f64 / 1e6)),
        med(|r| r.interactive_ms),
        med(|r| r.rss_mib),
        med(|r| r.pss_mib),
    )
}

/// Size of the (one) wasm file trunk wrote into `dist`.
fn wasm_size(dist: &Path) -> Option<u64> {
    std::fs::read_dir(dist)
        .ok()?
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "wasm"))
        .and_then(|e| e.metadata().ok())
        .map(|m| m.len())
}

/// One cold start of `app` measured by bench/app/probe.mjs.
fn probe(app: &Path, display: &str) -> Result<Round, String> {
    let out = output(
        Cmd::new("node")
            .args(["bench/app/probe.mjs"])
            .dir(workspace::root())
            .env("DISPLAY", display)
            .env("SOCKSCOPE_APP_BIN", app)
            .env(
                "SOCKSCOPE_DB",
                std::env::temp_dir().join("sockscope-bench-app.sqlite"),
            ),
    )
    .ok_or_else(|| format!("the start probe failed for {}", app.display()))?;
    let line = out.lines().last().unwrap_or("");
    let num = |key: &str| -> Result<f64, String> {
        let k = format!("\"{key}\":");
        let start = line
            .find(&k)
            .ok_or_else(|| format!("no {key} in {line:?}"))?
            + k.len();
        let end = line[start..]
            .find([',', '}'])
            .map_or(line.len(), |e| start + e);
        line[start..end]
            .parse()
            .map_err(|e| format!("{key} in {line:?}: {e}"))
    };
    let round = Round {
        interactive_ms: num("interactive_ms")?,
        rss_mib: num("rss_kib")? / 1024.0,
        pss_mib: num("pss_kib")? / 1024.0,
    };
    println!("  {round:?}");
    Ok(round)
}
