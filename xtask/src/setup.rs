//! Installs what a fresh Debian machine with only Rust and Node lacks. Each check is
//! cheap and each install happens only when the installed version differs, so a warm
//! machine passes through in seconds. Nothing is fetched from outside the package
//! registries (Debian, crates.io, npm).

use crate::command::{output, run, Cmd};
use crate::{step, workspace};

/// Debian packages: WebKitGTK and friends for Tauri, the WebDriver for WebKit, Xvfb.
const APT_PACKAGES: &[&str] = &[
    "pkg-config",
    "libssl-dev",
    "libgtk-3-dev",
    "libwebkit2gtk-4.1-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
    "webkit2gtk-driver",
    "xvfb",
];
/// trunk 0.22 needs a newer rustc than this machine's; 0.21.14 is known to work.
const TRUNK_VERSION: &str = "0.21.14";
const TAURI_DRIVER_VERSION: &str = "2";

pub fn all() -> Result<(), String> {
    apt()?;
    chromium();
    ui_tools()?;
    tauri_driver()?;
    npm_packages()
}

/// Where the official Admin UI's browser test (tests/interop/admin_ui_browser.test.mjs)
/// finds Chromium, driven by playwright-core.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Why Chromium could not be installed, when it could not (see [`chromium`]).
static CHROMIUM_MISSING: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Installs Debian's `chromium` when missing. Apart from [`APT_PACKAGES`] because it
/// is needed by one test only: a machine whose mirror lacks it still runs everything
/// else, and that test skips, loudly, with the reason recorded here (it fails when
/// Chromium is missing for any other reason).
pub fn chromium() {
    if std::path::Path::new(CHROMIUM).exists() {
        return;
    }
    if let Err(why) = apt_install(&["chromium"]) {
        eprintln!("\nxtask: WARNING: cannot install chromium ({why}); the Admin UI browser test will be SKIPPED\n");
        let _ = CHROMIUM_MISSING.set(why);
    }
}

/// The reason Chromium is missing, for the interop tests' environment.
pub fn chromium_missing() -> Option<&'static str> {
    CHROMIUM_MISSING.get().map(String::as_str)
}

pub fn apt() -> Result<(), String> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            output(Cmd::new("dpkg-query").args(["-W", "-f=${db:Status-Abbrev}", p]))
                .is_none_or(|s| !s.starts_with("ii"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

/// `apt-get update` then `apt-get install` of `packages` (through sudo unless root).
fn apt_install(packages: &[&str]) -> Result<(), String> {
    step(&format!("install Debian packages: {}", packages.join(" ")));
    let root = output(Cmd::new("id").args(["-u"])).is_some_and(|u| u.trim() == "0");
    let (program, prefix): (&str, &[&str]) = if root {
        ("apt-get", &[])
    } else {
        ("sudo", &["apt-get"])
    };
    run(Cmd::new(program).args(prefix.iter().copied().chain(["update", "-qq"])))?;
    run(Cmd::new(program)
        .args(
            prefix
                .iter()
                .copied()
                .chain(["install", "-y", "-qq", "--no-install-recommends"]),
        )
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The wasm32 target, trunk, and wasm-bindgen-cli at the version in Cargo.lock (trunk
/// would otherwise try to download it from GitHub, which this network refuses).
pub fn ui_tools() -> Result<(), String> {
    let targets = output(Cmd::new("rustup").args(["target", "list", "--installed"]))
        .ok_or("`rustup` is needed to add the wasm32-unknown-unknown target")?;
    if !targets
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        step("add the wasm32-unknown-unknown target");
        run(Cmd::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let bindgen = workspace::locked_version("wasm-bindgen")?;
    cargo_install("trunk", ["trunk", "--version"], TRUNK_VERSION, true)?;
    cargo_install(
        "wasm-bindgen-cli",
        ["wasm-bindgen", "--version"],
        &bindgen,
        false,
    )
}

fn tauri_driver() -> Result<(), String> {
    // tauri-driver has no --version; --help tells it is on PATH.
    cargo_install(
        "tauri-driver",
        ["tauri-driver", "--help"],
        TAURI_DRIVER_VERSION,
        true,
    )
}

/// `cargo install` unless `cargo install --list` already shows `krate` at `version`
/// (a bare major such as "2" accepts any 2.x) and `probe` (the binary and an argument
/// it answers) runs. `wasm-bindgen-cli` is installed without `--locked`: its lock file
/// names a crate version the registry mirror lacks.
fn cargo_install(krate: &str, probe: [&str; 2], version: &str, locked: bool) -> Result<(), String> {
    let list = output(Cmd::new("cargo").args(["install", "--list"])).unwrap_or_default();
    let installed = list.lines().find_map(|l| {
        l.strip_prefix(&format!("{krate} v"))
            .and_then(|rest| rest.split(':').next())
            .map(str::to_owned)
    });
    let on_path = output(Cmd::new(probe[0]).args([probe[1]])).is_some();
    let matches = installed.as_deref().is_some_and(|v| {
        v == version || (!version.contains('.') && v.split('.').next() == Some(version))
    });
    if matches && on_path {
        return Ok(());
    }
    step(&format!("install {krate} {version}"));
    let mut cmd = Cmd::new("cargo").args(["install", krate, "--version"]);
    cmd = cmd.args([if version.contains('.') {
        version.to_owned()
    } else {
        format!("^{version}")
    }]);
    if locked {
        cmd = cmd.args(["--locked"]);
    }
    run(cmd)
}

fn npm_packages() -> Result<(), String> {
    for dir in ["tests/interop", "tests/gui"] {
        npm_ci(dir)?;
    }
    Ok(())
}

/// `npm ci` in the workspace folder `rel` unless its node_modules is at least as new
/// as its package-lock.json.
pub fn npm_ci(rel: &str) -> Result<(), String> {
    if output(Cmd::new("npm").args(["--version"])).is_none() {
        return Err(
            "Node.js and npm are needed for the interop tests, GUI tests and benchmarks".into(),
        );
    }
    let dir = workspace::root().join(rel);
    let lock = dir.join("package-lock.json");
    let installed = dir.join("node_modules/.package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&installed)) {
        (Ok(l), Ok(i)) => match (l.modified(), i.modified()) {
            (Ok(l), Ok(i)) => i >= l,
            _ => false,
        },
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    step(&format!("npm ci in {rel}"));
    run(Cmd::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .dir(&dir))
}
