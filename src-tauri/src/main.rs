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

/// The invoke handler over every command `sockscope_protocol::commands` declares:
/// `Declaration => module::function`. Checked at compile time: each function carries
/// its declaration's name, no name is listed twice, and the list is as long as the
/// declarations' (so every declared command has a handler and nothing else does).
macro_rules! handlers {
    ($($decl:ident => $module:ident :: $func:ident),* $(,)?) => {{
        use sockscope_protocol::commands as declared;
        $(
            const _: () = assert!(
                declared::same_name(<declared::$decl as declared::Command>::NAME, stringify!($func)),
                concat!("the handler `", stringify!($func), "` is not the command `", stringify!($decl), "` declares")
            );
        )*
        const HANDLED: &[&str] = &[$(stringify!($func)),*];
        const _: () = assert!(declared::distinct(HANDLED), "a command is in the handler list twice");
        const _: () = assert!(
            HANDLED.len() == declared::ALL.len(),
            "the handler list and sockscope_protocol::commands::ALL differ: every declared command needs a handler here"
        );
        tauri::generate_handler![$(commands::$module::$func),*]
    }};
}

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
        .invoke_handler(handlers![
            CmdGatewayStart => gateway::cmd_gateway_start,
            CmdGatewayStop => gateway::cmd_gateway_stop,
            CmdGatewayStatus => gateway::cmd_gateway_status,
            CmdInspect => inspect::cmd_inspect,
            CmdInspectTenants => admin::cmd_inspect_tenants,
            CmdAdminTargets => admin::cmd_admin_targets,
            CmdAdminTargetSave => admin::cmd_admin_target_save,
            CmdAdminTargetDelete => admin::cmd_admin_target_delete,
            CmdAdminConnect => admin::cmd_admin_connect,
            CmdAdminDisconnect => admin::cmd_admin_disconnect,
            CmdAdminAction => admin::cmd_admin_action,
            CmdTemplatesList => templates::cmd_templates_list,
            CmdTemplateSend => templates::cmd_template_send,
            CmdConnect => connections::cmd_connect,
            CmdDoctor => connections::cmd_doctor,
            CmdDisconnect => connections::cmd_disconnect,
            CmdConnections => connections::cmd_connections,
            CmdConnectionEmit => connections::cmd_connection_emit,
            CmdTargets => connections::cmd_targets,
            CmdTargetSave => connections::cmd_target_save,
            CmdTargetDelete => connections::cmd_target_delete,
            CmdRecordStart => recordings::cmd_record_start,
            CmdRecordStop => recordings::cmd_record_stop,
            CmdSessions => recordings::cmd_sessions,
            CmdSessionEvents => recordings::cmd_session_events,
            CmdSessionDelete => recordings::cmd_session_delete,
            CmdSessionExport => recordings::cmd_session_export,
            CmdSessionImport => recordings::cmd_session_import,
            CmdContractInfer => contracts::cmd_contract_infer,
            CmdContractCheck => contracts::cmd_contract_check,
            CmdScenarioFromSession => contracts::cmd_scenario_from_session,
            CmdReplay => replay::cmd_replay,
            CmdReplayState => replay::cmd_replay_state,
            CmdServerReplayStart => replay::cmd_server_replay_start,
            CmdServerReplayControl => replay::cmd_server_replay_control,
            CmdServerReplaySeek => replay::cmd_server_replay_seek,
            CmdServerReplayStatus => replay::cmd_server_replay_status,
            CmdScenarios => simulate::cmd_scenarios,
            CmdEnsureCheck => simulate::cmd_ensure_check,
            CmdSimulateStart => simulate::cmd_simulate_start,
            CmdSimulateStop => simulate::cmd_simulate_stop,
            CmdSimulateState => simulate::cmd_simulate_state,
            CmdProxyStart => proxy::cmd_proxy_start,
            CmdProxyStop => proxy::cmd_proxy_stop,
            CmdProxyStatus => proxy::cmd_proxy_status,
            CmdAbout => about::cmd_about,
        ])
        .run(tauri::generate_context!("../tauri.conf.json"));
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
