//! Where things are: the workspace root, the cargo target directory and the versions
//! pinned in Cargo.lock.

use std::path::PathBuf;

use crate::command::{cargo, output};

/// The workspace root (see [`crate::command::root`]).
pub use crate::command::root;

/// The target directory cargo uses (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return Ok(if dir.is_absolute() {
            dir
        } else {
            root().join(dir)
        });
    }
    let meta = output(cargo([
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
    ]))
    .ok_or("`cargo metadata` failed")?;
    json_string_field(&meta, "target_directory")
        .map(PathBuf::from)
        .ok_or_else(|| "no target_directory in `cargo metadata`".to_owned())
}

/// The revision a binary built from this checkout names in `--version` (the same
/// `git rev-parse --short=12 HEAD` as build-support/git_rev.rs), for the package tests
/// to compare against: a build that lost its revision prints `unknown` and fails them.
pub fn git_rev() -> Result<String, String> {
    output(
        crate::command::Cmd::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .dir(root()),
    )
    .map(|r| r.trim().to_owned())
    .filter(|r| !r.is_empty())
    .ok_or_else(|| {
        "`git rev-parse HEAD` failed: the package tests compare the binaries' revision with it"
            .to_owned()
    })
}

/// The version of `package` recorded in Cargo.lock.
pub fn locked_version(package: &str) -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("cannot read Cargo.lock: {e}"))?;
    let wanted = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return Ok(v.to_owned());
            }
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}

/// The value of a top-level `"field":"..."` in compact JSON (no escapes expected).
fn json_string_field(json: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\":\"");
    let start = json.find(&key)? + key.len();
    let end = json[start..].find('"')? + start;
    Some(json[start..end].replace("\\\\", "\\"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_string_field() {
        assert_eq!(
            json_string_field(
                r#"{"a":1,"target_directory":"/x/target","b":"c"}"#,
                "target_directory"
            ),
            Some("/x/target".into())
        );
        assert_eq!(json_string_field("{}", "target_directory"), None);
    }

    #[test]
    fn wasm_bindgen_is_locked() {
        assert!(locked_version("wasm-bindgen").is_ok());
        assert!(locked_version("no-such-crate").is_err());
    }
}
