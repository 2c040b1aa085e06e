//! Shared by the CLI's and the app's build scripts: the git revision a binary was built
//! from, so `sockscope --version` and the app's About name the exact commit. Packagers
//! building from a tarball set `SOCKSCOPE_GIT_REV`; without git and without it the
//! revision reads `unknown` rather than failing the build.

use std::process::Command;

/// Emits `SOCKSCOPE_GIT_REV` for `env!` and the rerun triggers that keep it current.
pub fn emit() {
    println!("cargo:rerun-if-env-changed=SOCKSCOPE_GIT_REV");
    let rev = std::env::var("SOCKSCOPE_GIT_REV")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SOCKSCOPE_GIT_REV={rev}");
    // Rebuild when HEAD moves: HEAD itself (branch switch, detached checkout) and the
    // branch it points at (a new commit), both resolved for worktrees too.
    for path in [
        Some("HEAD".to_owned()),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}
