//! `cargo xtask bundle`: the installable packages. Tauri's own bundler (tauri-cli from
//! crates.io, pinned to the release that matches our `tauri` crate) wraps a release
//! build of the UI and the app; the `sockscope` CLI rides along as an external binary
//! so a package puts both on PATH. Only formats that build offline are made here:
//! `.deb` and `.rpm` on Linux (AppImage's tooling downloads at build time), `.msi`,
//! NSIS and `.dmg` by the release workflow on hosted runners.
//!
//! `tauri.conf.json` lives at the top level (the build reads it through
//! `tauri_build::Attributes::config_path` and `generate_context!("../tauri.conf.json")`).
//! tauri-cli, though, reads its configuration only from `tauri.conf.json` in the
//! folder `TAURI_APP_PATH` names, and the app's `[package]` from the `Cargo.toml` in
//! that same folder; the top-level `Cargo.toml` is the workspace's and has none. So
//! each tauri-cli run gets `TAURI_APP_PATH=src-tauri` and, for its duration only, a
//! copy of the top-level file in `src-tauri/` with its paths made absolute
//! ([`CliConfig`]); the top-level file stays the one source.

use std::path::{Path, PathBuf};

use crate::command::{cargo, output, run, Cmd};
use crate::{setup, step, workspace};

/// tauri-cli whose bundler matches tauri 2.12 in Cargo.lock.
pub const TAURI_CLI_VERSION: &str = "2.12.4";

/// What `bundle` was asked for.
#[derive(Debug)]
pub struct Options {
    /// Release (what users download) or debug (what CI's install test uses: the same
    /// packaging over the debug artifacts the test run has already built).
    pub release: bool,
    /// Tauri bundle formats, e.g. `deb`, `rpm`, `msi`, `dmg`.
    pub bundles: Vec<String>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Options {
            release: true,
            bundles: default_bundles(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--debug" => options.release = false,
                "--bundles" => {
                    let list = args.next().ok_or("--bundles needs a list, e.g. deb,rpm")?;
                    options.bundles = list
                        .split(',')
                        .map(str::trim)
                        .filter(|b| !b.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if options.bundles.is_empty() {
                        return Err("--bundles needs at least one format".into());
                    }
                }
                other => return Err(format!("bundle: unknown argument {other:?}")),
            }
        }
        Ok(options)
    }

    fn profile_dir(&self) -> &'static str {
        if self.release {
            "release"
        } else {
            "debug"
        }
    }
}

fn default_bundles() -> Vec<String> {
    let formats: &[&str] = if cfg!(target_os = "linux") {
        &["deb", "rpm"]
    } else if cfg!(target_os = "windows") {
        &["msi", "nsis"]
    } else {
        &["app", "dmg"]
    };
    formats.iter().map(|f| (*f).to_owned()).collect()
}

/// Builds the UI, the CLI and the app, then the packages; returns their paths.
pub fn bundle(options: &Options) -> Result<Vec<PathBuf>, String> {
    if cfg!(target_os = "linux") {
        setup::apt()?;
    }
    setup::ui_tools()?;
    tauri_cli()?;
    let target = workspace::target_dir()?;

    if options.release {
        release_ui()?;
    } else {
        crate::build_ui()?;
    }

    step("build the sockscope CLI that the packages carry");
    let mut build = vec!["build", "-p", "sockscope-cli"];
    if options.release {
        build.push("--release");
    }
    run(cargo(build))?;
    let sidecar = sidecar(&target, options.profile_dir())?;

    step(&format!("bundle {}", options.bundles.join(", ")));
    let config = format!(
        r#"{{"bundle":{{"active":true,"externalBin":[{}]}}}}"#,
        json_string(&sidecar.to_string_lossy())
    );
    let cli_config = CliConfig::write()?;
    let mut tauri = tauri_cli_cmd(&cli_config)
        .args(["build", "--ci", "--bundles"])
        .args([options.bundles.join(",")])
        .args(["--config", &config]);
    if !options.release {
        tauri = tauri.args(["--debug"]);
    }
    run(tauri)?;
    drop(cli_config);

    let made = packages(&target.join(options.profile_dir()).join("bundle"));
    if made.is_empty() {
        return Err("the bundler finished but no package was written".into());
    }
    for p in &made {
        let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        println!("  {} ({:.1} MB)", p.display(), size as f64 / 1e6);
    }
    Ok(made)
}

/// The UI as users get it: the `wasm-release` profile (size-optimised, fat LTO, one
/// codegen unit, abort on panic). No wasm-opt: Debian's binaryen (108) rewrites
/// wasm-bindgen's reference-typed function table into one browsers refuse
/// (`WebAssembly.Table.set(): Argument 1 is invalid`), seen here in WebKit and
/// Chromium; without it the wasm is 1.5 MB instead of 0.8 MB.
pub fn release_ui() -> Result<(), String> {
    step("build the UI for release (trunk --release, wasm-release profile)");
    run(Cmd::new("trunk")
        .args([
            "build",
            "--offline",
            "--release",
            "--cargo-profile",
            "wasm-release",
        ])
        .dir(workspace::root().join("ui")))
}

/// The release app exactly as the packages carry it, without packaging it.
pub fn release_app() -> Result<PathBuf, String> {
    setup::ui_tools()?;
    tauri_cli()?;
    release_ui()?;
    step("build the release app (cargo tauri build --no-bundle)");
    let cli_config = CliConfig::write()?;
    run(tauri_cli_cmd(&cli_config).args(["build", "--ci", "--no-bundle"]))?;
    drop(cli_config);
    Ok(workspace::target_dir()?
        .join("release")
        .join(format!("sockscope-app{}", std::env::consts::EXE_SUFFIX)))
}

/// Copies the built CLI to where Tauri's `externalBin` expects it
/// (`<name>-<host triple>[.exe]`) and returns the path without the triple.
fn sidecar(target: &Path, profile: &str) -> Result<PathBuf, String> {
    let triple = host_triple()?;
    let exe = std::env::consts::EXE_SUFFIX;
    let built = target.join(profile).join(format!("sockscope{exe}"));
    let dir = target.join("bundle-sidecar").join(profile);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let copy = dir.join(format!("sockscope-{triple}{exe}"));
    std::fs::copy(&built, &copy)
        .map_err(|e| format!("cannot copy {} to {}: {e}", built.display(), copy.display()))?;
    Ok(dir.join("sockscope"))
}

fn host_triple() -> Result<String, String> {
    let info = output(Cmd::new("rustc").args(["-vV"])).ok_or("`rustc -vV` failed")?;
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|t| t.trim().to_owned())
        .ok_or_else(|| "no host line in `rustc -vV`".to_owned())
}

/// Every package file under `dir` (one level of format folders).
fn packages(dir: &Path) -> Vec<PathBuf> {
    const EXTENSIONS: &[&str] = &["deb", "rpm", "msi", "exe", "dmg", "AppImage"];
    let mut found = Vec::new();
    let Ok(formats) = std::fs::read_dir(dir) else {
        return found;
    };
    for format in formats.flatten() {
        let Ok(files) = std::fs::read_dir(format.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if path.is_file() && EXTENSIONS.contains(&ext) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// tauri-cli at [`TAURI_CLI_VERSION`] (`cargo tauri`), installed when missing.
pub fn tauri_cli() -> Result<(), String> {
    setup::cargo_install(
        "tauri-cli",
        ["cargo-tauri", "--version"],
        TAURI_CLI_VERSION,
        true,
    )
}

/// `cargo tauri` pointed at the app crate, with `config` in place for the run.
fn tauri_cli_cmd(config: &CliConfig) -> Cmd {
    cargo(["tauri"]).env("TAURI_APP_PATH", &config.app_dir)
}

/// The top-level `tauri.conf.json` as tauri-cli must find it: in the app crate's
/// folder, its relative paths (frontend, icons) made absolute so they mean the same
/// from there. Removed again when dropped.
pub struct CliConfig {
    app_dir: PathBuf,
    path: PathBuf,
}

/// Keys of `tauri.conf.json` holding paths relative to the file: `build.frontendDist`
/// (one path) and `bundle.icon` (a list).
const CONFIG_PATHS: &[(&str, &str)] = &[("build", "frontendDist"), ("bundle", "icon")];

impl CliConfig {
    pub fn write() -> Result<Self, String> {
        let root = workspace::root();
        let source = root.join("tauri.conf.json");
        let app_dir = root.join("src-tauri");
        let path = app_dir.join("tauri.conf.json");
        let text = std::fs::read_to_string(&source)
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        let mut config: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", source.display()))?;
        rebase_paths(&mut config, &root);
        let text = serde_json::to_string_pretty(&config)
            .map_err(|e| format!("cannot write the tauri-cli config: {e}"))?;
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(Self { app_dir, path })
    }
}

impl Drop for CliConfig {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            eprintln!("xtask: cannot remove {}: {e}", self.path.display());
        }
    }
}

/// Makes the relative paths under [`CONFIG_PATHS`] absolute against `root`; URLs
/// (a dev server) stay as they are.
fn rebase_paths(config: &mut serde_json::Value, root: &Path) {
    let rebase = |v: &mut serde_json::Value| {
        if let Some(p) = v.as_str() {
            if !p.contains("://") && Path::new(p).is_relative() {
                *v = serde_json::Value::String(root.join(p).to_string_lossy().into_owned());
            }
        }
    };
    for (section, key) in CONFIG_PATHS {
        match config.get_mut(*section).and_then(|s| s.get_mut(*key)) {
            Some(serde_json::Value::Array(list)) => list.iter_mut().for_each(rebase),
            Some(v) => rebase(v),
            None => {}
        }
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags() {
        let o = Options::parse(&["--debug".into(), "--bundles".into(), "deb".into()]).unwrap();
        assert!(!o.release);
        assert_eq!(o.bundles, vec!["deb"]);
        assert!(Options::parse(&["--bundles".into()]).is_err());
        assert!(Options::parse(&["--bundles".into(), ",".into()]).is_err());
        assert!(Options::parse(&["--nope".into()]).is_err());
    }

    #[test]
    #[cfg(unix)]
    fn the_cli_copy_of_the_config_has_absolute_paths() {
        let mut c = serde_json::json!({
            "build": {"frontendDist": "ui/dist"},
            "bundle": {"icon": ["src-tauri/icons/icon.png", "/abs/icon.icns"]},
            "productName": "x"
        });
        rebase_paths(&mut c, Path::new("/repo"));
        assert_eq!(c["build"]["frontendDist"], "/repo/ui/dist");
        assert_eq!(c["bundle"]["icon"][0], "/repo/src-tauri/icons/icon.png");
        assert_eq!(c["bundle"]["icon"][1], "/abs/icon.icns");
        assert_eq!(c["productName"], "x");
        let mut url = serde_json::json!({"build": {"frontendDist": "http://localhost:1420"}});
        rebase_paths(&mut url, Path::new("/repo"));
        assert_eq!(url["build"]["frontendDist"], "http://localhost:1420");
    }

    #[test]
    fn escapes_json() {
        assert_eq!(json_string(r#"C:\a "b""#), r#""C:\\a \"b\"""#);
    }
}
