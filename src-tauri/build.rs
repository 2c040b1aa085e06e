//! Runs tauri-build against `src-tauri/tauri.conf.json` and declares
//! the app's commands so the capability file can grant exactly those.

use std::path::Path;

#[path = "../build-support/git_rev.rs"]
mod git_rev;

/// Every `#[tauri::command]` the app exposes; each gets an `allow-*` permission.
const COMMANDS: &[&str] = &[
    "cmd_gateway_start",
    "cmd_gateway_stop",
    "cmd_gateway_status",
    "cmd_inspect",
    "cmd_inspect_tenants",
    "cmd_admin_targets",
    "cmd_admin_target_save",
    "cmd_admin_target_delete",
    "cmd_admin_connect",
    "cmd_admin_disconnect",
    "cmd_admin_action",
    "cmd_templates_list",
    "cmd_template_send",
    "cmd_connect",
    "cmd_disconnect",
    "cmd_connections",
    "cmd_connection_emit",
    "cmd_targets",
    "cmd_target_save",
    "cmd_target_delete",
    "cmd_record_start",
    "cmd_record_stop",
    "cmd_sessions",
    "cmd_session_events",
    "cmd_session_delete",
    "cmd_session_export",
    "cmd_session_import",
    "cmd_contract_infer",
    "cmd_ensure_check",
    "cmd_contract_check",
    "cmd_scenario_from_session",
    "cmd_replay",
    "cmd_replay_state",
    "cmd_server_replay_start",
    "cmd_server_replay_control",
    "cmd_server_replay_seek",
    "cmd_server_replay_status",
    "cmd_scenarios",
    "cmd_simulate_start",
    "cmd_simulate_stop",
    "cmd_simulate_state",
    "cmd_about",
];

fn main() {
    git_rev::emit();
    ensure_ui_dist();
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {e:#}");
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
