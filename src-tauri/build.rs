//! Runs tauri-build against the top-level `tauri.conf.json` and declares the app's
//! commands, taken from `sockscope_protocol::commands::ALL`, so tauri-build makes one
//! `allow-*` permission per declared command; then checks that the capability file
//! grants exactly those (plus the event permissions) and fails the build otherwise.

use std::collections::BTreeSet;
use std::path::Path;

#[path = "../build-support/git_rev.rs"]
mod git_rev;

/// Permissions the main window holds besides one `allow-*` per declared command: the
/// engine events it listens to. Anything else in `capabilities/main.json` (fs, shell,
/// http, a command nobody declared) fails the build.
const CORE_PERMISSIONS: &[&str] = &["core:event:allow-listen", "core:event:allow-unlisten"];

/// The capability file that must grant exactly the declared commands.
const CAPABILITY: &str = "capabilities/main.json";

fn main() {
    git_rev::emit();
    ensure_ui_dist();
    check_capability();
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(sockscope_protocol::commands::ALL));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {e:#}");
    }
}

/// Fails the build unless `capabilities/main.json` grants one `allow-*` per declared
/// command and [`CORE_PERMISSIONS`], nothing more and nothing less: a command added to
/// the declarations but not granted would be refused at run time, and a grant beyond
/// them widens what the webview may do.
fn check_capability() {
    println!("cargo:rerun-if-changed={CAPABILITY}");
    let text = std::fs::read_to_string(CAPABILITY)
        .unwrap_or_else(|e| panic!("cannot read {CAPABILITY}: {e}"));
    let capability: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{CAPABILITY} is not JSON: {e}"));
    let granted: BTreeSet<String> = capability["permissions"]
        .as_array()
        .unwrap_or_else(|| panic!("{CAPABILITY} has no permissions list"))
        .iter()
        .map(|p| match p.as_str() {
            Some(s) => s.to_owned(),
            // A permission with scopes is an object; the app grants none.
            None => panic!("{CAPABILITY}: only plain permission names are expected, found {p}"),
        })
        .collect();
    let expected: BTreeSet<String> = sockscope_protocol::commands::ALL
        .iter()
        .map(|name| sockscope_protocol::commands::permission(name))
        .chain(CORE_PERMISSIONS.iter().map(|p| (*p).to_owned()))
        .collect();
    let missing: Vec<_> = expected.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&expected).collect();
    if !missing.is_empty() || !extra.is_empty() {
        panic!(
            "{CAPABILITY} does not match the commands declared in sockscope_protocol::commands: \
             missing {missing:?}, not declared {extra:?}"
        );
    }
}

/// `generate_context!` embeds `ui/dist` and fails to compile when it is missing. A
/// fresh clone has not run trunk yet, so `cargo check`/`clippy` would fail on the whole
/// workspace; give it a page that says how to build the real UI instead. `cargo xtask
/// app` and `cargo xtask test` always build the real UI first.
fn ensure_ui_dist() {
    let dist = Path::new("../ui/dist");
    let index = dist.join("index.html");
    println!("cargo:rerun-if-changed=../ui/dist");
    if index.exists() {
        return;
    }
    let page = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Sockscope</title></head>\
<body><p id=\"ui-missing\">The UI has not been built: run <code>cargo xtask app</code>.</p></body></html>\n";
    if let Err(e) = std::fs::create_dir_all(dist).and_then(|()| std::fs::write(&index, page)) {
        println!("cargo:warning=cannot write a placeholder ui/dist: {e}");
    }
}
