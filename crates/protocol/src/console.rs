//! Requests and progress of the desktop console's long-running jobs (client-side
//! replay), kept apart from the record types so the UI and the app agree on them.

use serde::{Deserialize, Serialize};

use crate::TargetProfile;

/// Replay a recorded session against a target, from the Replay panel.
/// How a replay is played, whichever side plays it: timing, which events, rewrites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayPlan {
    /// 1.0 = original timing, 2.0 = twice as fast.
    #[serde(default = "default_speed")]
    pub speed: f64,
    #[serde(default)]
    pub as_fast_as_possible: bool,
    /// Longest wait between two events (after `speed`), in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_gap_ms: Option<u64>,
    /// How many times the whole sequence is played (at least 1).
    #[serde(default = "default_loops")]
    pub loops: u32,
    #[serde(default)]
    pub only: Vec<String>,
    #[serde(default)]
    pub skip: Vec<String>,
    /// `FROM=>TO` text rewrites.
    #[serde(default)]
    pub rewrites: Vec<String>,
    /// `$.path=VALUE` field rewrites.
    #[serde(default)]
    pub sets: Vec<String>,
}

fn default_speed() -> f64 {
    1.0
}

fn default_loops() -> u32 {
    1
}

impl Default for ReplayPlan {
    fn default() -> Self {
        Self {
            speed: default_speed(),
            as_fast_as_possible: false,
            max_gap_ms: None,
            loops: default_loops(),
            only: Vec::new(),
            skip: Vec::new(),
            rewrites: Vec::new(),
            sets: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ReplayRequest {
    pub session: i64,
    /// Where to, with the same fields as a saved target (its token from `token` or
    /// the keychain). An empty namespace means the recording's own.
    pub target: TargetProfile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Timing, filters and rewrites.
    #[serde(flatten)]
    pub plan: ReplayPlan,
    /// Keys dropped from ack payloads before comparing (timestamps).
    #[serde(default)]
    pub ignore: Vec<String>,
}

/// How far the running replay has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReplayState {
    pub running: bool,
    pub sent: u64,
    pub total: u64,
    #[serde(default)]
    pub event: String,
}

/// Start a simulation from the Simulator panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SimulateRequest {
    /// A built-in scenario's name.
    pub scenario: String,
    /// A gateway URL; none = the scenario's profile, embedded for the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub clients: usize,
    pub ramp_ms: u64,
    pub duration_ms: u64,
    /// Iterations per second per client; none = the scenario's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Signs the clients' tokens (`{{token}}`); a random one when embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<String>,
}

/// The simulation as the panel polls it: live counters, then the report or why
/// there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SimulateState {
    pub running: bool,
    pub progress: crate::SimulationProgress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<crate::SimulationReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
