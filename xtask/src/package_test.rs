//! `cargo xtask test-package`: proves the Linux packages install and work, on this
//! very machine. It bundles `.deb` and `.rpm`, checks both carry the same files and the
//! `.deb` declares its runtime libraries, installs the `.deb` with apt (which resolves
//! those), drives the installed CLI and desktop app (`tests/gui/installed.pkg.mjs`),
//! then removes the package and checks nothing it installed is left.

use std::path::{Path, PathBuf};

use crate::bundle::{self, Options};
use crate::command::{output, run, Cmd};
use crate::{display, setup, step, workspace, NODE_TEST};

/// The Debian package name (Tauri's, from `productName`).
const PACKAGE: &str = "sockscope";

/// Files both packages must carry: the two binaries on PATH, the desktop entry and
/// an icon.
const EXPECTED: &[&str] = &[
    "/usr/bin/sockscope",
    "/usr/bin/sockscope-app",
    "/usr/share/applications/Sockscope.desktop",
    "/usr/share/icons/hicolor/",
];

/// Libraries the `.deb` must depend on for the app to start on a bare system.
const DEB_DEPENDS: &[&str] = &["libwebkit2gtk-4.1-0", "libgtk-3-0"];

pub fn run_package_test(args: &[String]) -> Result<(), String> {
    let release = args.iter().any(|a| a == "--release");
    if let Some(other) = args.iter().find(|a| *a != "--release") {
        return Err(format!("test-package: unknown argument {other:?}"));
    }
    if !cfg!(target_os = "linux") {
        return Err("test-package installs a .deb: it runs on Debian or Ubuntu only".into());
    }
    let started = std::time::Instant::now();
    setup::all()?;
    setup::apt_packages(&["rpm"])?;
    let made = bundle::bundle(&Options {
        release,
        bundles: vec!["deb".into(), "rpm".into()],
    })?;
    let deb = pick(&made, "deb")?;
    let rpm = pick(&made, "rpm")?;

    step("check the packages' contents and dependencies");
    let deb_files = listing(Cmd::new("dpkg-deb").args(["--contents"]).args([&deb]))?;
    let rpm_files = listing(Cmd::new("rpm").args(["-qpl"]).args([&rpm]))?;
    for want in EXPECTED {
        for (kind, files) in [("deb", &deb_files), ("rpm", &rpm_files)] {
            if !files.iter().any(|f| f.starts_with(want)) {
                return Err(format!("the .{kind} does not carry {want}"));
            }
        }
    }
    let depends = output(
        Cmd::new("dpkg-deb")
            .args(["--field"])
            .args([&deb])
            .args(["Depends"]),
    )
    .ok_or("cannot read the .deb's Depends")?;
    for lib in DEB_DEPENDS {
        if !depends.contains(lib) {
            return Err(format!(
                "the .deb does not depend on {lib} (Depends: {depends})"
            ));
        }
    }
    println!("  both packages carry {}", EXPECTED.join(", "));
    println!("  .deb Depends: {}", depends.trim());

    step("install the .deb");
    let installed = Installed::install(&deb)?;
    // Every file the package put on the system, read from dpkg while it is installed,
    // so the removal check below covers all of them, not a hand-kept list.
    let installed_files: Vec<String> = output(Cmd::new("dpkg").args(["-L", PACKAGE]))
        .ok_or("cannot list the installed package's files (dpkg -L)")?
        .lines()
        .map(str::trim)
        .filter(|p| Path::new(p).symlink_metadata().is_ok_and(|m| !m.is_dir()))
        .map(str::to_owned)
        .collect();
    for want in EXPECTED.iter().filter(|w| !w.ends_with('/')) {
        if !installed_files.iter().any(|f| f == want) {
            return Err(format!("dpkg -L {PACKAGE} does not list {want}"));
        }
    }
    let root = workspace::root();
    step("drive the installed CLI and desktop app");
    let display = display::Xvfb::start()?;
    run(Cmd::new("node")
        .args(NODE_TEST)
        .args(["installed.pkg.mjs"])
        .dir(root.join("tests/gui"))
        .env("DISPLAY", display.name())
        .env("SOCKSCOPE_BIN", "/usr/bin/sockscope")
        .env("SOCKSCOPE_APP_BIN", "/usr/bin/sockscope-app")
        .env("SOCKSCOPE_EXPECT_REV", workspace::git_rev()?)
        .env("SOCKSCOPE_ARTIFACTS", root.join("tests/artifacts")))?;
    drop(display);

    step("remove the package");
    installed.remove()?;
    let left: Vec<&String> = installed_files
        .iter()
        .filter(|f| Path::new(f).symlink_metadata().is_ok())
        .collect();
    if !left.is_empty() {
        return Err(format!(
            "{} of the package's {} files are still there after removing it: {}",
            left.len(),
            installed_files.len(),
            left.iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    println!(
        "  all {} files the package installed are gone",
        installed_files.len()
    );
    println!(
        "\nxtask: the package installed, ran and uninstalled in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}

fn pick(made: &[PathBuf], ext: &str) -> Result<PathBuf, String> {
    made.iter()
        .find(|p| p.extension().is_some_and(|e| e == ext))
        .cloned()
        .ok_or_else(|| format!("the bundler made no .{ext}"))
}

/// Absolute paths listed by `cmd` (dpkg-deb's `usr/...` or `./usr/...` as the last
/// column, rpm's `/usr/...`).
fn listing(cmd: Cmd) -> Result<Vec<String>, String> {
    let text = output(cmd).ok_or("cannot list a package's files")?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|p| format!("/{}", p.trim_start_matches('.').trim_start_matches('/')))
        .collect())
}

/// The installed package; removed on drop if the test stopped half way.
struct Installed {
    removed: bool,
}

impl Installed {
    fn install(deb: &Path) -> Result<Self, String> {
        let path = deb.to_string_lossy().into_owned();
        // apt-get wants a path, not a bare name, to install a local file.
        setup::apt_get(&["install", "-y", "-qq", "--reinstall", &path])?;
        Ok(Self { removed: false })
    }

    fn remove(mut self) -> Result<(), String> {
        self.removed = true;
        setup::apt_get(&["remove", "-y", "-qq", "--purge", PACKAGE])
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.removed {
            if let Err(e) = setup::apt_get(&["remove", "-y", "-qq", "--purge", PACKAGE]) {
                eprintln!("xtask: the package could not be removed: {e}");
            }
        }
    }
}
