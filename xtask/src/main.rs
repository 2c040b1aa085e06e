//! `cargo xtask`: Sockscope's only build and test entry points, so a fresh Debian
//! machine with Rust and Node needs nothing but these two commands:
//!
//! - `cargo xtask app`: install the UI toolchain if missing, build the UI, launch the
//!   desktop console;
//! - `cargo xtask test`: install everything missing, then run every test (format,
//!   clippy, unit, integration, interop against npm socket.io peers, GUI end to end).
//!
//! Plain std only: xtask must compile fast on a cold machine.

mod bench;
mod bundle;
mod circles;
mod command;
mod display;
mod docs;
mod fuzz;
mod package_test;
mod setup;
mod windows_test;
mod workspace;

use std::process::ExitCode;

use command::{cargo, run, Cmd};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup   install what this machine lacks (apt packages, wasm32 target, trunk,
          wasm-bindgen-cli, tauri-driver, npm packages)
  ui      build the UI into ui/dist
  app     build the UI and launch the desktop console
  test    install what is missing, then run every test
  docs    build the book (docs/, mdBook) into docs/book
  bench [gateway|store|replay|simulate|cluster|app]
          benchmarks against a peer in the same run; without a name every
          part but `app`, and bench/results.md is written whole from that one
          run; a named part writes TARGET/bench/NAME.md (`app`, the release
          desktop build's size, start and memory, runs only when named)
  bundle [--debug] [--bundles deb,rpm]
          installable packages: release UI and app, Tauri's bundler, the CLI
          inside (Linux: .deb and .rpm; Windows/macOS: the release workflow)
  test-package [--release]
          bundle, install the .deb, drive the installed CLI and app, uninstall
  test-windows
          cross-build sockscope.exe (MinGW) and smoke-test it under Wine
  fuzz [SECONDS]
          every fuzz target in fuzz/ for SECONDS each (default 60): libFuzzer
          when it builds here, else a seeded mutation loop on stable";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::all(),
        Some("ui") => setup::ui_tools().and_then(|()| build_ui()),
        Some("app") => app(&args[1..]),
        Some("test") => test(),
        Some("docs") => docs::build_docs(),
        Some("bench") => bench::run_bench(args.get(1).map(String::as_str)),
        Some("bundle") => bundle::Options::parse(&args[1..])
            .and_then(|o| bundle::bundle(&o))
            .map(|_| ()),
        Some("test-package") => package_test::run_package_test(&args[1..]),
        Some("test-windows") => windows_test::run_windows_test(),
        Some("fuzz") => fuzz::run_fuzz(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn build_ui() -> Result<(), String> {
    step("build the UI (trunk → ui/dist)");
    run(Cmd::new("trunk")
        .args(["build", "--offline"])
        .dir(workspace::root().join("ui")))
}

/// The CLI and the app, built together by `app` and `test` alike, so both resolve
/// the same feature set and reuse each other's artifacts.
fn build_binaries() -> Result<(), String> {
    step("build the CLI and the app");
    run(cargo([
        "build",
        "-p",
        "sockscope-cli",
        "-p",
        "sockscope-app",
    ]))
}

fn app(extra: &[String]) -> Result<(), String> {
    setup::apt()?;
    setup::ui_tools()?;
    build_ui()?;
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Err(
            "no display (DISPLAY/WAYLAND_DISPLAY unset): the desktop console needs one; \
             for the headless main job run `cargo run -p sockscope-cli -- serve`"
                .into(),
        );
    }
    build_binaries()?;
    step("launch the desktop console");
    let app = workspace::target_dir()?.join("debug").join("sockscope-app");
    run(Cmd::new(app.to_string_lossy().as_ref()).args(extra.iter().map(String::as_str)))
}

fn test() -> Result<(), String> {
    let started = std::time::Instant::now();
    setup::all()?;
    step("format");
    run(cargo(["fmt", "--all", "--", "--check"]))?;
    build_ui()?;
    step("clippy");
    run(cargo([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("unit and integration tests");
    run(cargo(["test", "--workspace"]))?;
    build_binaries()?;

    let bin = workspace::target_dir()?.join("debug");
    let root = workspace::root();
    step("interop tests (Node socket.io peers)");
    // The cluster tests start their own redis-server (tests/interop/redis.mjs) on a
    // free port with a data dir of its own; none is assumed to be running.
    let redis = setup::redis_server_path()?;
    // The metrics test starts its own Prometheus; the manifest test runs
    // kubernetes-validate from its virtualenv (both installed by setup).
    let prometheus = setup::prometheus_path()?;
    let kubernetes_validate = setup::kubernetes_validate()?;
    run(Cmd::new("node")
        .args(NODE_TEST)
        .dir(root.join("tests/interop"))
        .env("SOCKSCOPE_BIN", bin.join("sockscope"))
        .env("REDIS_SERVER", &redis)
        .env("PROMETHEUS", &prometheus)
        .env("KUBERNETES_VALIDATE", &kubernetes_validate))?;

    step("GUI end-to-end tests (tauri-driver + WebKitWebDriver under Xvfb)");
    let display = display::Xvfb::start()?;
    run(Cmd::new("node")
        .args(NODE_TEST)
        .dir(root.join("tests/gui"))
        .env("DISPLAY", display.name())
        .env("SOCKSCOPE_APP_BIN", bin.join("sockscope-app"))
        .env("SOCKSCOPE_ARTIFACTS", root.join("tests/artifacts")))?;
    drop(display);

    println!(
        "\nxtask: every test passed in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}

/// node:test flags: one file at a time (they share ports and the display), a time
/// limit per test, and exit when the tests are done even if a handle stays open, so a
/// stuck test fails the run instead of hanging CI.
pub const NODE_TEST: [&str; 4] = [
    "--test",
    "--test-concurrency=1",
    "--test-timeout=180000",
    "--test-force-exit",
];

/// A visible marker between steps, so a CI log shows where it failed.
pub fn step(what: &str) {
    println!("\n==> {what}");
}
