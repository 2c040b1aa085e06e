//! `cargo xtask docs`: builds the book in `docs/` (mdBook) into `docs/book/`.
//!
//! mdBook comes from crates.io at one exact version, installed only when the one on
//! PATH differs, so the book builds the same everywhere and nothing is fetched from
//! outside the registry. `cargo xtask test` never needs it: the book's command
//! examples are run by `tests/interop/docs_examples.test.mjs` straight from the
//! markdown.

use crate::command::{output, run, Cmd};
use crate::{step, workspace};

/// 0.5.4 builds with this machine's rustc 1.95 (its rust-version is 1.88).
const MDBOOK_VERSION: &str = "0.5.4";

pub fn build_docs() -> Result<(), String> {
    install_mdbook()?;
    step("build the book (mdbook → docs/book)");
    run(Cmd::new("mdbook")
        .args(["build"])
        .dir(workspace::root().join("docs")))?;
    println!(
        "\nxtask: the book is in {}",
        workspace::root().join("docs/book/index.html").display()
    );
    Ok(())
}

/// `cargo install mdbook` at [`MDBOOK_VERSION`] unless `mdbook --version` already says
/// it. Without the `serve` and `watch` features (a web server and a file watcher the
/// build does not use), which shortens its compile.
fn install_mdbook() -> Result<(), String> {
    let installed = output(Cmd::new("mdbook").args(["--version"]));
    if installed.is_some_and(|v| v.trim() == format!("mdbook v{MDBOOK_VERSION}")) {
        return Ok(());
    }
    step(&format!("install mdbook {MDBOOK_VERSION}"));
    run(Cmd::new("cargo").args([
        "install",
        "mdbook",
        "--version",
        MDBOOK_VERSION,
        "--locked",
        "--no-default-features",
        "--features",
        "search",
    ]))
}
