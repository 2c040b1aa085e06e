//! Wire types shared by every Sockscope part.
//!
//! The desktop UI is compiled to wasm32 and the engine runs on tokio; both must agree
//! on the shape of what crosses the Tauri IPC boundary and what goes into recordings.
//! Keeping these types here, with only `serde` as a dependency, lets the UI use them
//! without pulling in tokio, socketioxide or rusqlite.
//!
//! One module per domain; every type is re-exported at the crate root. The IPC
//! commands themselves (name, arguments, reply) are declared once, in [`commands`].

pub mod about;
pub mod admin;
pub mod commands;
pub mod connections;
pub mod contracts;
pub mod doctor;
pub mod error;
pub mod events;
pub mod gateway;
pub mod inspect;
pub mod proxy;
pub mod replay;
pub mod sessions;
pub mod simulate;
pub mod templates;
pub mod time;

pub use about::AboutInfo;
pub use admin::{
    AdminActionKind, AdminActionReply, AdminActionRequest, AdminNamespaceView, AdminRoomView,
    AdminServerView, AdminSocketView, AdminTarget, AdminTargetSave, InspectorSource, InspectorView,
    LeakBadge, TenantGroupView,
};
pub use commands::Command;
pub use connections::{
    ConnectRequest, ConnectionEmit, ConnectionInfo, EmitReply, OnConnectEmit, TargetProfile,
    TargetTls, TransportChoice,
};
pub use contracts::{CheckOutcome, ContractMessage, InferOutcome, Violation};
pub use doctor::{DoctorCheck, DoctorOutcome, DoctorReport, DoctorRequest, WorkingSettings};
pub use error::ApiError;
pub use events::{AckInfo, Direction, EventBatch, EventRecord};
pub use gateway::{
    AuthMode, EmitRequest, GatewaySettings, GatewayStatus, Parser, Profile, TlsFiles, DEFAULT_PORT,
};
pub use inspect::{
    InspectCounts, InspectPage, InspectQuery, InspectSnapshot, NamespaceCounts, NamespaceInfo,
    PagedSocket, RoomInfo, SocketInfo,
};
pub use proxy::{ProxyClient, ProxyNamespace, ProxyRequest, ProxyStatus};
pub use replay::{
    AckDrift, DriftReport, EventCountDrift, LatencyDrift, ReplayPlan, ReplayRequest, ReplayState,
    ScheduleSummary, ServerReplayPhase, ServerReplayRequest, ServerReplayStatus,
};
pub use sessions::{
    ExportRequest, ImportRequest, RecordRequest, RecordingStatus, SessionInfo, SessionOutcome,
    SessionState,
};
pub use simulate::{
    EnsureOutcome, LatencySummary, SimErrorCount, SimEventCount, SimulateRequest, SimulateState,
    SimulationProgress, SimulationReport,
};
pub use templates::{Template, TemplateProblem, TemplateSend, TemplateSent, TemplateSet};
