//! Replay, both sides: the plan (timing, filters, rewrites), a client-side replay
//! against a target and its drift report, and a server-side replay from the embedded
//! gateway with its progress.

use crate::TargetProfile;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// Replay a recorded session against a target, from the Replay panel.
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

/// Counts of one server-to-client event name: in the source session and in its replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCountDrift {
    pub event: String,
    /// Received in the source session (times the replay's loop count).
    pub expected: u64,
    /// Received during the replay.
    pub received: u64,
}

/// An ack reply that differs from the one the source session got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckDrift {
    pub event: String,
    /// Position of the send in the replay (0-based, over every loop).
    pub index: usize,
    /// The source session's reply (after rewrites and `ignore`).
    pub expected: Value,
    /// The replay's reply (after `ignore`); null when none came.
    pub received: Value,
    /// Why there is no reply (timeout, emit failure), when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Ack latency of one send, where both the source and the replay know it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyDrift {
    pub event: String,
    pub index: usize,
    pub original_ms: f64,
    pub replay_ms: f64,
    /// `replay_ms - original_ms`.
    pub delta_ms: f64,
}

/// How closely sends kept to their planned times (actual minus planned, microseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ScheduleSummary {
    pub sends: u64,
    pub mean_error_us: f64,
    pub max_error_us: i64,
}

/// What a client-side replay found: how the target's answers differ from the
/// source session's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DriftReport {
    pub source_session: i64,
    /// The new `replay` session holding everything the replay sent and received.
    pub replay_session: i64,
    pub target: String,
    /// Client-to-server events re-sent (over every loop).
    pub sent: u64,
    /// Server-to-client counts per event name, every name of either side.
    pub events: Vec<EventCountDrift>,
    /// Names the source session received and the replay did not.
    pub missing: Vec<String>,
    /// Names the replay received and the source session did not.
    pub unexpected: Vec<String>,
    pub ack_mismatches: Vec<AckDrift>,
    pub latency: Vec<LatencyDrift>,
    pub schedule: ScheduleSummary,
    /// Records the replay session could not keep (overload); 0 normally.
    #[serde(default)]
    pub dropped: u64,
}

impl DriftReport {
    /// True when counts, names and ack payloads all match.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.ack_mismatches.is_empty()
            && self.events.iter().all(|e| e.expected == e.received)
    }
}

/// Start a server-side replay: the embedded gateway re-emits a recorded session's
/// server-to-client events to the clients connected to it (rooms and tenants as
/// recorded, after the rewrite rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerReplayRequest {
    pub session: i64,
    /// Timing, filters and rewrites (`FROM=>TO` also rewrites room names, tenant and
    /// user; `$.path=VALUE` only the arguments).
    #[serde(flatten)]
    pub plan: ReplayPlan,
    /// Wait until this many sockets are connected to the replayed namespaces before
    /// the first event (0 = start at once).
    #[serde(default)]
    pub wait_clients: usize,
    /// Give up waiting for clients after this long, in ms (default 60 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout_ms: Option<u64>,
    /// Pause between the clients being there and the first event, in ms, so clients
    /// that subscribe on connect are in their rooms.
    #[serde(default)]
    pub start_delay_ms: u64,
}

/// Where a server-side replay is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ServerReplayPhase {
    /// No server-side replay has been started.
    #[default]
    Idle,
    /// Waiting for clients to connect (or for the start delay).
    Waiting,
    Playing,
    Paused,
    /// Every event was played.
    Finished,
    /// Stopped before the end.
    Stopped,
    /// Could not go on (no clients in time, the gateway stopped); see `error`.
    Failed,
}

impl ServerReplayPhase {
    /// Finished, stopped or failed: nothing more will happen.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Finished | Self::Stopped | Self::Failed)
    }
}

/// A snapshot of a server-side replay's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerReplayStatus {
    pub phase: ServerReplayPhase,
    pub session: i64,
    /// Events emitted so far (seeking back counts the replayed ones again).
    pub sent: u64,
    /// Events in the plan, over every loop.
    pub total: u64,
    /// Index in the plan of the next event to emit (`total` when done).
    pub index: u64,
    pub paused: bool,
    /// Name of the last event emitted.
    #[serde(default)]
    pub event: String,
    /// Sum over the emitted events of the sockets each was addressed to.
    pub delivered: u64,
    /// Scheduling error (actual minus planned emit time) over the emitted events.
    pub schedule: ScheduleSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
