//! `cargo xtask fuzz [SECONDS]`: every fuzz target in `fuzz/` (packet codec, HAR
//! import, JSON Lines import, scenario files, templates, `--set`/`--rewrite` rules)
//! for SECONDS each (default 60), starting from the corpus in `fuzz/corpus/`.
//!
//! Under libFuzzer when it can be built here: cargo-fuzz installed (at
//! [`CARGO_FUZZ_VERSION`], installed when missing) and its build going through.
//! With `--sanitizer none` cargo-fuzz passes only stable flags (sanitizer-coverage
//! via `-Cpasses=sancov-module` and `-Cllvm-args`), so a stable toolchain with a C++
//! compiler (for libFuzzer itself) is enough. libFuzzer adds what it finds new to the
//! corpus. Otherwise the same target functions run in `fuzz-loop`, a seeded mutation
//! loop on stable Rust (no coverage feedback), and the run says so.
//!
//! Not part of `cargo xtask test`: fuzzing is open-ended; the property tests in the
//! normal suite cover the same parsers with a fixed budget.

use crate::command::{cargo, output, run, Cmd};
use crate::step;

/// The targets, as `fuzz/Cargo.toml` names them.
const TARGETS: [&str; 8] = [
    "codec",
    "wire",
    "har",
    "jsonl",
    "scenario",
    "templates",
    "rules",
    "proxy",
];

/// The cargo-fuzz release this was tried with.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

pub fn run_fuzz(args: &[String]) -> Result<(), String> {
    let secs: u64 = match args.first() {
        None => 60,
        Some(s) => s
            .parse()
            .ok()
            .filter(|n| (1..=86_400).contains(n))
            .ok_or_else(|| format!("fuzz: SECONDS must be 1 to 86400, got {s:?}"))?,
    };
    let root = crate::workspace::root();
    let fuzz_dir = root.join("fuzz");
    let libfuzzer = libfuzzer_builds(&fuzz_dir);
    let mut found = Vec::new();
    if libfuzzer {
        for t in TARGETS {
            step(&format!("fuzz {t} under libFuzzer for {secs}s"));
            let corpus = format!("corpus/{t}");
            let max_time = format!("-max_total_time={secs}");
            let cmd = cargo_fuzz(&fuzz_dir).args([
                "fuzz",
                "run",
                t,
                &corpus,
                "--sanitizer",
                "none",
                "--features",
                "libfuzzer",
                "--",
                &max_time,
                "-print_final_stats=1",
            ]);
            if let Err(e) = run(cmd) {
                found.push(format!("{t}: {e}"));
            }
        }
    } else {
        step("build fuzz-loop (libFuzzer cannot be built here: a seeded mutation loop on stable)");
        run(cargo([
            "build",
            "--release",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--bin",
            "fuzz-loop",
            "--features",
            "mutation-loop",
        ]))?;
        let bin = crate::workspace::target_dir()?
            .join("release")
            .join("fuzz-loop");
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1);
        for t in TARGETS {
            step(&format!("fuzz {t} (mutation loop) for {secs}s"));
            let cmd = Cmd::new(&bin.to_string_lossy()).args([
                t.to_owned(),
                secs.to_string(),
                seed.to_string(),
            ]);
            if let Err(e) = run(cmd) {
                found.push(format!("{t}: {e}"));
            }
        }
    }
    if found.is_empty() {
        println!("\nxtask: every fuzz target ran {secs}s without a panic");
        Ok(())
    } else {
        Err(format!(
            "fuzzing found problems (inputs in fuzz/artifacts/):\n  {}",
            found.join("\n  ")
        ))
    }
}

/// `cargo` in `fuzz/`.
fn cargo_fuzz(dir: &std::path::Path) -> Cmd {
    cargo(Vec::<String>::new()).dir(dir)
}

/// Whether cargo-fuzz is there (installing it when missing) and builds the first
/// target; a machine where it does not falls back to the loop.
fn libfuzzer_builds(fuzz_dir: &std::path::Path) -> bool {
    let installed = output(cargo(["fuzz", "--version"])).is_some()
        || run(cargo([
            "install",
            "cargo-fuzz",
            "--locked",
            "--version",
            CARGO_FUZZ_VERSION,
        ]))
        .is_ok();
    if !installed {
        println!("xtask: cargo-fuzz {CARGO_FUZZ_VERSION} cannot be installed here");
        return false;
    }
    step("build the fuzz targets with cargo-fuzz (libFuzzer)");
    let built = run(cargo_fuzz(fuzz_dir).args([
        "fuzz",
        "build",
        "--sanitizer",
        "none",
        "--features",
        "libfuzzer",
    ]));
    if let Err(e) = &built {
        println!("xtask: libFuzzer does not build here ({e})");
    }
    built.is_ok()
}
