//! One function per thing a user does, called by both front ends: the `sockscope`
//! CLI and the desktop app's commands. A front end parses its arguments, makes one
//! call here and prints or returns the outcome; a flow that both front ends offer
//! lives here so the two cannot drift apart (they did: the app's scenario from a
//! session lost the session's profile and auth shape the CLI read).

/// Watching an admin stream for leaks lives with the admin client (the app's admin
/// source runs it too); this is the use case's name for it.
pub use sockscope_client::admin_client::leaks as admin_leaks;
pub mod capture;
pub mod contract;
pub mod doctor;
pub mod proxy;
pub mod scenario;

pub use admin_leaks::{audit_admin, socket_tenant, watch_payload_leaks, LeakNote};
pub use capture::{Capture, CaptureOptions, Ended, NewSession, OnRecord};
pub use contract::{check_session, infer_contract, load_contract, Inferred};
pub use doctor::{diagnose, DoctorError};
pub use scenario::{
    scenario_from_session, write_scenario, Generated, ScenarioError, ScenarioOptions,
};
