//! Installs what a fresh Debian machine with only Rust and Node lacks. Each check is
//! cheap and each install happens only when the installed version differs, so a warm
//! machine passes through in seconds. Nothing is fetched from outside the package
//! registries (Debian, crates.io, npm).

use crate::command::{output, run, Cmd};
use crate::{step, workspace};

/// Debian packages: WebKitGTK and friends for Tauri, the WebDriver for WebKit, Xvfb,
/// and Redis (7.0 in Debian 12; the cluster tests start their own on a free port).
const APT_PACKAGES: &[&str] = &[
    "pkg-config",
    "libssl-dev",
    "libgtk-3-dev",
    "libwebkit2gtk-4.1-dev",
    "librsvg2-dev",
    "libayatana-appindicator3-dev",
    "webkit2gtk-driver",
    "xvfb",
    REDIS_PACKAGE,
    // The TLS tests make their certificates with openssl; the harness and benchmarks
    // use curl, taskset (util-linux) and GNU time (/usr/bin/time): none is assumed.
    "openssl",
    "curl",
    "util-linux",
    "time",
    // The metrics test scrapes `serve --metrics` with a real Prometheus (2.42 in
    // Debian 12); python3-venv holds kubernetes-validate for the manifest test.
    PROMETHEUS_PACKAGE,
    "python3",
    "python3-venv",
];
/// The package whose `prometheus` binary the metrics test starts.
const PROMETHEUS_PACKAGE: &str = "prometheus";
/// PyPI's kubernetes-validate, at an exact version: it carries the Kubernetes JSON
/// schemas the `simulate --k8s-job` manifest is checked against offline.
const KUBERNETES_VALIDATE_VERSION: &str = "1.37.0";
/// The package whose `redis-server` the cluster tests and `bench cluster` start.
const REDIS_PACKAGE: &str = "redis-server";
/// trunk 0.22 needs a newer rustc than this machine's; 0.21.14 is known to work.
const TRUNK_VERSION: &str = "0.21.14";
/// The WebDriver bridge for the GUI tests, at an exact version (2.1.0 is the newest
/// 2.x; 3.0 is an alpha).
const TAURI_DRIVER_VERSION: &str = "2.1.0";

pub fn all() -> Result<(), String> {
    apt()?;
    chromium()?;
    ui_tools()?;
    tauri_driver()?;
    kubernetes_validate()?;
    npm_packages()
}

/// `kubernetes-validate` at [`KUBERNETES_VALIDATE_VERSION`] in a virtualenv of its own
/// under the target folder (no system Python packages touched); the path of its
/// executable, which `cargo xtask test` hands to the interop tests.
pub fn kubernetes_validate() -> Result<String, String> {
    let venv = workspace::target_dir()?
        .join("tools")
        .join("kubernetes-validate");
    let bin = venv.join("bin").join("kubernetes-validate");
    let bin_s = bin.to_string_lossy().into_owned();
    let installed = output(Cmd::new(&bin_s).args(["--version"]));
    if installed.as_deref().map(str::trim) == Some(KUBERNETES_VALIDATE_VERSION) {
        return Ok(bin_s);
    }
    step(&format!(
        "install kubernetes-validate {KUBERNETES_VALIDATE_VERSION} into {}",
        venv.display()
    ));
    run(Cmd::new("python3").args(["-m", "venv", venv.to_string_lossy().as_ref()]))?;
    let pip = venv.join("bin").join("pip");
    run(Cmd::new(pip.to_string_lossy().as_ref()).args([
        "install",
        "--quiet",
        &format!("kubernetes-validate=={KUBERNETES_VALIDATE_VERSION}"),
    ]))?;
    Ok(bin_s)
}

/// The `prometheus` on PATH (Debian's is /usr/bin/prometheus), checked to run.
pub fn prometheus_path() -> Result<String, String> {
    output(Cmd::new("prometheus").args(["--version"])).ok_or_else(|| {
        format!("prometheus is not on PATH (Debian package {PROMETHEUS_PACKAGE})")
    })?;
    Ok("prometheus".to_owned())
}

/// Where the official Admin UI's browser test (tests/interop/admin_ui_browser.test.mjs)
/// finds Chromium, driven by playwright-core.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Installs Debian's `chromium` when missing. Apart from [`APT_PACKAGES`] only so a
/// failure names it: the Admin UI browser test needs it, and a machine that cannot
/// install it fails `cargo xtask test` rather than skipping that test.
pub fn chromium() -> Result<(), String> {
    if std::path::Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    apt_packages(&["chromium"]).map_err(|why| {
        format!("cannot install chromium ({why}): the Admin UI browser test needs {CHROMIUM}")
    })
}

pub fn apt() -> Result<(), String> {
    apt_packages(APT_PACKAGES)
}

/// `redis-server` alone, for `cargo xtask bench cluster`; the path of the binary.
pub fn redis_server() -> Result<String, String> {
    apt_packages(&[REDIS_PACKAGE])?;
    redis_server_path()
}

/// The `redis-server` on PATH (Debian's is /usr/bin/redis-server), checked to run.
pub fn redis_server_path() -> Result<String, String> {
    output(Cmd::new("redis-server").args(["--version"]))
        .ok_or_else(|| "redis-server is not on PATH (Debian package redis-server)".to_owned())?;
    Ok("redis-server".to_owned())
}

/// Installs those of `packages` that dpkg does not list as installed.
pub fn apt_packages(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
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
    step(&format!("install Debian packages: {}", missing.join(" ")));
    apt_get(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(missing);
    apt_get(&install)
}

/// `apt-get ARGS` as root, through sudo when we are not root.
pub fn apt_get(args: &[&str]) -> Result<(), String> {
    let root = output(Cmd::new("id").args(["-u"])).is_some_and(|u| u.trim() == "0");
    let (program, prefix): (&str, &[&str]) = if root {
        ("apt-get", &[])
    } else {
        ("sudo", &["apt-get"])
    };
    run(Cmd::new(program)
        .args(prefix.iter().copied().chain(args.iter().copied()))
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// `rustup target add TRIPLE` unless it is installed already.
pub fn rust_target(triple: &str) -> Result<(), String> {
    let targets = output(Cmd::new("rustup").args(["target", "list", "--installed"]))
        .ok_or_else(|| format!("`rustup` is needed to add the {triple} target"))?;
    if targets.lines().any(|t| t.trim() == triple) {
        return Ok(());
    }
    step(&format!("add the {triple} target"));
    run(Cmd::new("rustup").args(["target", "add", triple]))
}

/// The wasm32 target, trunk, and wasm-bindgen-cli at the version in Cargo.lock (trunk
/// would otherwise try to download it from GitHub, which this network refuses).
pub fn ui_tools() -> Result<(), String> {
    rust_target("wasm32-unknown-unknown")?;
    let bindgen = workspace::locked_version("wasm-bindgen")?;
    cargo_install("trunk", ["trunk", "--version"], TRUNK_VERSION, true)?;
    cargo_install(
        "wasm-bindgen-cli",
        ["wasm-bindgen", "--version"],
        &bindgen,
        true,
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
/// it answers) runs. Every tool is installed with `--locked`: its own lock file, so the
/// same sources build on every machine. (wasm-bindgen-cli 0.2.130's lock file names a
/// webpki-roots release the registry no longer has; the workspace pins wasm-bindgen
/// 0.2.129, whose CLI installs locked.)
pub fn cargo_install(
    krate: &str,
    probe: [&str; 2],
    version: &str,
    locked: bool,
) -> Result<(), String> {
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
