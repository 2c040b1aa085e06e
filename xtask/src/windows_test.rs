//! `cargo xtask test-windows`: the CLI cross-built for Windows (`x86_64-pc-windows-gnu`
//! with Debian's MinGW-w64) and run under Wine, so Windows users get a binary that was
//! started, served a real client and read and wrote a recording file before it ships.
//! The desktop installers for Windows are built by the release workflow instead.

use crate::command::{cargo, run, Cmd};
use crate::{setup, step, workspace, NODE_TEST};

const TARGET: &str = "x86_64-pc-windows-gnu";
/// Debian's 64-bit Wine loader (package `wine64`).
const WINE: &str = "/usr/lib/wine/wine64";

pub fn run_windows_test() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("test-windows cross-builds with MinGW and runs Wine: Linux only".into());
    }
    let started = std::time::Instant::now();
    setup::apt_packages(&["gcc-mingw-w64-x86-64", "wine64"])?;
    setup::rust_target(TARGET)?;
    setup::npm_ci("tests/interop")?;

    step("cross-build sockscope.exe");
    run(cargo(["build", "-p", "sockscope-cli", "--target", TARGET]))?;
    let exe = workspace::target_dir()?
        .join(TARGET)
        .join("debug")
        .join("sockscope.exe");

    step("build the Wine 8 stand-in for bcryptprimitives.dll (tests/windows)");
    let shim_dir = workspace::root().join("tests/windows");
    let Some(exe_dir) = exe.parent() else {
        return Err(format!("{} has no parent folder", exe.display()));
    };
    run(Cmd::new("x86_64-w64-mingw32-gcc")
        .args(["-O2", "-shared", "-o"])
        .args([exe_dir.join("bcryptprimitives.dll")])
        .args([
            shim_dir.join("bcryptprimitives.c"),
            shim_dir.join("bcryptprimitives.def"),
        ])
        .args(["-ladvapi32"]))?;

    step("run sockscope.exe under Wine");
    let prefix = workspace::target_dir()?.join("wine-prefix");
    run(Cmd::new("node")
        .args(NODE_TEST)
        .args(["windows.pkg.mjs"])
        .dir(workspace::root().join("tests/interop"))
        .env("SOCKSCOPE_EXE", &exe)
        .env("SOCKSCOPE_EXPECT_REV", workspace::git_rev()?)
        .env("SOCKSCOPE_WINE", WINE)
        .env("WINEPREFIX", &prefix)
        .env("WINEDEBUG", "-all"))?;
    println!(
        "\nxtask: the Windows CLI passed under Wine in {:.1} min",
        started.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}
