//! Every IPC command of the desktop app, declared once: its name as `invoke` sends
//! it, its arguments and its reply.
//!
//! Why here: the name used to be typed by hand in five places (the Tauri command,
//! the handler list, `build.rs`, the capability file and the UI's wrapper), so a
//! mismatch showed only in a GUI run. Now the UI invokes through these types
//! (`api::invoke::<C: Command>`), `src-tauri/build.rs` takes [`ALL`] for the app's
//! permissions and fails the build when `capabilities/main.json` grants anything
//! else, and `src-tauri`'s handler list is checked against the declarations at
//! compile time (same names, same count).
//!
//! Each declaration is a struct named after the command (`cmd_gateway_start` is
//! [`CmdGatewayStart`]); its fields are the command's arguments, exactly as they
//! travel: the struct serialises to the argument object Tauri hands to the command
//! function, field by field. Its [`Command::Reply`] is what the command returns on
//! success; failures are [`crate::ApiError`].

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{
    AboutInfo, AdminActionReply, AdminActionRequest, AdminTarget, AdminTargetSave, CheckOutcome,
    ConnectRequest, ConnectionEmit, ConnectionInfo, DoctorReport, DoctorRequest, DriftReport,
    EmitReply, EnsureOutcome, EventRecord, ExportRequest, GatewaySettings, GatewayStatus,
    ImportRequest, InferOutcome, InspectSnapshot, InspectorView, ProxyRequest, ProxyStatus,
    RecordRequest, RecordingStatus, ReplayRequest, ReplayState, ServerReplayRequest,
    ServerReplayStatus, SessionInfo, SessionOutcome, SimulateRequest, SimulateState,
    SimulationReport, TargetProfile, TemplateSend, TemplateSent, TemplateSet,
};

/// One IPC command: the implementing struct is its argument object.
pub trait Command: Serialize + DeserializeOwned {
    /// The name `invoke` sends and the Tauri command function carries.
    const NAME: &'static str;
    /// What the command returns on success.
    type Reply: Serialize + DeserializeOwned;
}

/// Declares each command's struct and [`Command`] impl, and [`ALL`] from the same
/// list, so a command cannot be declared without being listed.
macro_rules! commands {
    ($(
        $(#[doc = $doc:literal])*
        $name:literal => $ty:ident {
            $( $(#[$attr:meta])* $field:ident : $fty:ty ),* $(,)?
        } -> $reply:ty;
    )*) => {
        $(
            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = concat!("Invoked as `", $name, "`.")]
            #[derive(Debug, Clone, Serialize, Deserialize)]
            pub struct $ty {
                $( $(#[$attr])* pub $field: $fty, )*
            }

            impl Command for $ty {
                const NAME: &'static str = $name;
                type Reply = $reply;
            }
        )*

        /// Every command's name, in declaration order.
        pub const ALL: &[&str] = &[$($name),*];
    };
}

commands! {
    /// Starts the embedded gateway (as one node of a cluster with `settings.redis`).
    "cmd_gateway_start" => CmdGatewayStart { settings: GatewaySettings } -> GatewayStatus;
    /// Stops the embedded gateway.
    "cmd_gateway_stop" => CmdGatewayStop {} -> GatewayStatus;
    /// The embedded gateway's status.
    "cmd_gateway_status" => CmdGatewayStatus {} -> GatewayStatus;
    /// The running gateway's namespaces, rooms and sockets.
    "cmd_inspect" => CmdInspect {} -> InspectSnapshot;
    /// The embedded gateway's tenant view and leak findings.
    "cmd_inspect_tenants" => CmdInspectTenants {} -> InspectorView;
    /// The saved admin targets.
    "cmd_admin_targets" => CmdAdminTargets {} -> Vec<AdminTarget>;
    /// Saves an admin target; its password (if any) goes to the keychain.
    "cmd_admin_target_save" => CmdAdminTargetSave { save: AdminTargetSave } -> ();
    /// Deletes a saved admin target.
    "cmd_admin_target_delete" => CmdAdminTargetDelete { name: String } -> ();
    /// Connects the Inspector to a saved admin target.
    "cmd_admin_connect" => CmdAdminConnect { name: String } -> InspectorView;
    /// Disconnects the Inspector's admin source.
    "cmd_admin_disconnect" => CmdAdminDisconnect {} -> ();
    /// An admin action on the connected admin source, or on the embedded gateway
    /// when `source` is `"embedded"`.
    "cmd_admin_action" => CmdAdminAction {
        request: AdminActionRequest,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
    } -> AdminActionReply;
    /// The gateway's event templates.
    "cmd_templates_list" => CmdTemplatesList {} -> TemplateSet;
    /// Sends a template through the running gateway.
    "cmd_template_send" => CmdTemplateSend { request: TemplateSend } -> TemplateSent;
    /// Opens a client connection to a real gateway.
    "cmd_connect" => CmdConnect { request: ConnectRequest } -> ConnectionInfo;
    /// The connection doctor: why the form's target does not connect, and what does.
    "cmd_doctor" => CmdDoctor { request: DoctorRequest } -> DoctorReport;
    /// Closes client connection `id`.
    "cmd_disconnect" => CmdDisconnect { id: u64 } -> ();
    /// The live client connections.
    "cmd_connections" => CmdConnections {} -> Vec<ConnectionInfo>;
    /// Emits on a client connection (with an ack when asked).
    "cmd_connection_emit" => CmdConnectionEmit { request: ConnectionEmit } -> EmitReply;
    /// The saved gateway targets.
    "cmd_targets" => CmdTargets {} -> Vec<TargetProfile>;
    /// Saves a gateway target.
    "cmd_target_save" => CmdTargetSave { target: TargetProfile } -> ();
    /// Deletes a saved gateway target.
    "cmd_target_delete" => CmdTargetDelete { name: String } -> ();
    /// Starts recording what the bus carries.
    "cmd_record_start" => CmdRecordStart { request: RecordRequest } -> RecordingStatus;
    /// Stops the recording.
    "cmd_record_stop" => CmdRecordStop {} -> SessionOutcome;
    /// The recorded sessions.
    "cmd_sessions" => CmdSessions {} -> Vec<SessionInfo>;
    /// At most `limit` events of session `id` from position `offset` (one page).
    "cmd_session_events" => CmdSessionEvents { id: i64, offset: u64, limit: u64 } -> Vec<EventRecord>;
    /// Deletes session `id`.
    "cmd_session_delete" => CmdSessionDelete { id: i64 } -> ();
    /// Exports a session to a file; replies with the number of events written.
    "cmd_session_export" => CmdSessionExport { request: ExportRequest } -> usize;
    /// Imports a file as a new session.
    "cmd_session_import" => CmdSessionImport { request: ImportRequest } -> SessionOutcome;
    /// Infers the AsyncAPI 3.0 contract of session `id`.
    "cmd_contract_infer" => CmdContractInfer { id: i64 } -> InferOutcome;
    /// Evaluates the Ensure box (one condition a line) on a finished run's report.
    "cmd_ensure_check" => CmdEnsureCheck { conditions: String, report: SimulationReport } -> Vec<EnsureOutcome>;
    /// Checks session `id` against the contract file at `path`.
    "cmd_contract_check" => CmdContractCheck { id: i64, path: String } -> CheckOutcome;
    /// Writes a scenario generated from session `id` to `path`; replies with the path
    /// written.
    "cmd_scenario_from_session" => CmdScenarioFromSession { id: i64, path: String } -> String;
    /// Replays a session against a target (client side).
    "cmd_replay" => CmdReplay { request: ReplayRequest } -> DriftReport;
    /// How far the client-side replay has got.
    "cmd_replay_state" => CmdReplayState {} -> ReplayState;
    /// Starts a server-side replay from the embedded gateway.
    "cmd_server_replay_start" => CmdServerReplayStart { request: ServerReplayRequest } -> ServerReplayStatus;
    /// `pause`, `resume` or `stop` on the server-side replay.
    "cmd_server_replay_control" => CmdServerReplayControl { action: String } -> ServerReplayStatus;
    /// Moves the server-side replay to event `index`.
    "cmd_server_replay_seek" => CmdServerReplaySeek { index: u64 } -> ServerReplayStatus;
    /// The server-side replay's progress.
    "cmd_server_replay_status" => CmdServerReplayStatus {} -> ServerReplayStatus;
    /// The built-in simulation scenarios.
    "cmd_scenarios" => CmdScenarios {} -> Vec<String>;
    /// Starts a simulation.
    "cmd_simulate_start" => CmdSimulateStart { request: SimulateRequest } -> SimulateState;
    /// Stops the simulation.
    "cmd_simulate_stop" => CmdSimulateStop {} -> SimulateState;
    /// The simulation's counters, then its report.
    "cmd_simulate_state" => CmdSimulateState {} -> SimulateState;
    /// Starts the capture proxy (the Proxy panel); refused with the engine's one-line
    /// error for a bad listen address, upstream URL or rule.
    "cmd_proxy_start" => CmdProxyStart { request: ProxyRequest } -> ProxyStatus;
    /// Stops the capture proxy; its open clients end.
    "cmd_proxy_stop" => CmdProxyStop {} -> ProxyStatus;
    /// The capture proxy's state and its clients.
    "cmd_proxy_status" => CmdProxyStatus {} -> ProxyStatus;
    /// The build this window is.
    "cmd_about" => CmdAbout {} -> AboutInfo;
}

/// The capability permission that grants command `name` (`cmd_x_y` -> `allow-cmd-x-y`),
/// as tauri-build names the permissions it generates for an app's commands.
pub fn permission(name: &str) -> String {
    format!("allow-{}", name.replace('_', "-"))
}

/// Whether `a` and `b` are the same text; usable in `const` assertions (the app
/// checks its handler names against [`ALL`] at compile time with it).
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether no name appears twice in `names`.
pub const fn distinct(names: &[&str]) -> bool {
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        while j < names.len() {
            if same_name(names[i], names[j]) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// Whether `name` is one of `names`.
pub const fn contains(names: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < names.len() {
        if same_name(names[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

const _: () = assert!(
    distinct(ALL),
    "two commands are declared with the same name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_travel_as_the_object_tauri_reads() {
        let v = serde_json::to_value(CmdSessionEvents {
            id: 3,
            offset: 10,
            limit: 5,
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"id": 3, "offset": 10, "limit": 5}));
        assert_eq!(
            serde_json::to_value(CmdAbout {}).unwrap(),
            serde_json::json!({})
        );
        let action = CmdAdminAction {
            request: serde_json::from_value(
                serde_json::json!({"action": "disconnect", "namespace": "/"}),
            )
            .unwrap(),
            source: None,
        };
        let v = serde_json::to_value(&action).unwrap();
        assert!(v.get("source").is_none(), "{v}");
    }

    #[test]
    fn names_are_distinct_and_map_to_permissions() {
        assert!(distinct(ALL));
        assert!(!distinct(&["a", "b", "a"]));
        assert!(contains(ALL, CmdGatewayStart::NAME));
        assert!(!contains(ALL, "cmd_nope"));
        assert!(same_name(<CmdAbout as Command>::NAME, "cmd_about"));
        assert!(!same_name("cmd_about", "cmd_abouts"));
        assert_eq!(
            permission("cmd_server_replay_seek"),
            "allow-cmd-server-replay-seek"
        );
    }
}
