//! The Sockscope desktop console: a Tauri window over the engine. This crate only wires
//! things together; behaviour lives in `sockscope-engine`.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod relay;

use std::sync::Arc;

use sockscope_engine::Engine;
use sockscope_protocol::GatewaySettings;
use tauri::Manager;

/// The engine as Tauri state.
pub type EngineState = Arc<Engine>;

/// The Inspector's admin source as Tauri state.
pub type AdminState = Arc<sockscope_engine::admin_client::inspector::AdminSources>;

fn main() {
    sockscope_engine::keychain::prepare();
    init_tracing();
    let autostart = !std::env::args().any(|a| a == "--no-autostart")
        && std::env::var("SOCKSCOPE_AUTOSTART").map_or(true, |v| v != "0");
    let engine: EngineState = Arc::new(open_engine());
    let for_setup = engine.clone();
    let admin: AdminState = Arc::default();
    let admin_for_setup = admin.clone();
    let result = tauri::Builder::default()
        .manage(engine)
        .manage(admin)
        .setup(move |app| {
            relay::spawn(app.handle().clone(), for_setup.clone());
            relay::spawn_admin(app.handle().clone(), admin_for_setup.clone());
            // The title carries the version, so a screenshot says which build it shows.
            if let Some(window) = app.get_webview_window("main") {
                let about = commands::about::info();
                if let Err(error) = window.set_title(&format!("Sockscope {}", about.version)) {
                    tracing::warn!(%error, "window title not set");
                }
            }
            if autostart {
                let engine = for_setup.clone();
                tauri::async_runtime::spawn(async move {
                    // A busy 3069 is not fatal: the Server panel shows the state and the
                    // user picks another port.
                    if let Err(error) = engine.start_gateway(&GatewaySettings::default()).await {
                        tracing::warn!(%error, "embedded gateway did not start at launch");
                    }
                });
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::gateway::cmd_gateway_start,
            commands::gateway::cmd_gateway_stop,
            commands::gateway::cmd_gateway_status,
            commands::inspect::cmd_inspect,
            commands::admin::cmd_inspect_tenants,
            commands::admin::cmd_admin_targets,
            commands::admin::cmd_admin_target_save,
            commands::admin::cmd_admin_target_delete,
            commands::admin::cmd_admin_connect,
            commands::admin::cmd_admin_disconnect,
            commands::admin::cmd_admin_action,
            commands::templates::cmd_templates_list,
            commands::templates::cmd_template_send,
            commands::connections::cmd_connect,
            commands::connections::cmd_disconnect,
            commands::connections::cmd_connections,
            commands::connections::cmd_connection_emit,
            commands::connections::cmd_targets,
            commands::connections::cmd_target_save,
            commands::connections::cmd_target_delete,
            commands::recordings::cmd_record_start,
            commands::recordings::cmd_record_stop,
            commands::recordings::cmd_sessions,
            commands::recordings::cmd_session_events,
            commands::recordings::cmd_session_delete,
            commands::recordings::cmd_session_export,
            commands::recordings::cmd_session_import,
            commands::contracts::cmd_contract_infer,
            commands::contracts::cmd_contract_check,
            commands::contracts::cmd_scenario_from_session,
            commands::replay::cmd_replay,
            commands::replay::cmd_replay_state,
            commands::replay::cmd_server_replay_start,
            commands::replay::cmd_server_replay_control,
            commands::replay::cmd_server_replay_seek,
            commands::replay::cmd_server_replay_status,
            commands::simulate::cmd_scenarios,
            commands::simulate::cmd_ensure_check,
            commands::simulate::cmd_simulate_start,
            commands::simulate::cmd_simulate_stop,
            commands::simulate::cmd_simulate_state,
            commands::about::cmd_about,
        ])
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("sockscope-app: error: {error}");
        std::process::exit(1);
    }
}

/// The engine over the recordings database: `SOCKSCOPE_DB` when set, else the
/// platform data dir. A database that cannot open leaves the gateway and connections
/// working; the Recordings panel then shows why it has nothing.
fn open_engine() -> Engine {
    let path = std::env::var_os("SOCKSCOPE_DB")
        .map(std::path::PathBuf::from)
        .or_else(sockscope_engine::store::default_path);
    match path.map(sockscope_engine::store::Store::open) {
        Some(Ok(store)) => {
            tracing::info!(db = %store.path().display(), "recordings database open");
            Engine::with_store(store)
        }
        Some(Err(error)) => {
            tracing::error!(%error, "recordings database unavailable");
            Engine::new()
        }
        None => {
            tracing::error!("no data directory for the recordings database");
            Engine::new()
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Through the redaction policy, as the CLI's logs.
        .with_writer(|| sockscope_engine::redact::LogWriter::new(std::io::stderr()))
        .init();
    // Extra secret key names, as the CLI's --redact-key (comma-separated).
    sockscope_engine::redact::add_keys_from_env();
}
