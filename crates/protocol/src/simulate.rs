//! Load simulation: the request from the Simulator panel, live progress, the final
//! report with its latency percentiles, and `--ensure` verdicts on it.

use serde::{Deserialize, Serialize};

/// Latency percentiles of one measured quantity, in milliseconds (simulator reports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LatencySummary {
    /// How many samples were measured.
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Events of one name a simulation sent and received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SimEventCount {
    pub event: String,
    pub sent: u64,
    pub received: u64,
}

/// Failures of one kind during a simulation (`connect_refused`, `wait_timeout`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SimErrorCount {
    pub kind: String,
    pub count: u64,
}

/// Running counters of a simulation, sent while it runs (progress bar, GUI chart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SimulationProgress {
    pub elapsed_ms: u64,
    /// Clients started so far (the ramp spreads their starts).
    pub started: u64,
    pub clients: u64,
    pub connected: u64,
    pub failed: u64,
    pub events_sent: u64,
    pub events_received: u64,
    pub acks_ok: u64,
    pub acks_timed_out: u64,
    pub errors: u64,
    pub done: bool,
    /// Latency so far (all samples since the start), for live charts.
    #[serde(default)]
    pub delivery_p50_ms: f64,
    #[serde(default)]
    pub delivery_p99_ms: f64,
    #[serde(default)]
    pub ack_p99_ms: f64,
}

/// The outcome of a simulation. Counts add up: `connected + failed == clients`,
/// `errors == sum(errors_by_kind)`, `events_sent == sum(events[].sent)`,
/// `events_received == sum(events[].received)`; rates are counts over `elapsed_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SimulationReport {
    pub scenario: String,
    /// The gateway URL driven (the embedded one's when `--embedded`).
    pub target: String,
    pub embedded: bool,
    pub clients: u64,
    pub connected: u64,
    pub failed: u64,
    pub events_sent: u64,
    pub events_received: u64,
    pub acks_ok: u64,
    pub acks_timed_out: u64,
    pub errors: u64,
    pub errors_by_kind: Vec<SimErrorCount>,
    pub events: Vec<SimEventCount>,
    /// Wall time from the first client's start to the last client's end.
    pub elapsed_ms: u64,
    pub sent_per_sec: f64,
    pub received_per_sec: f64,
    /// Handshake: TCP + WebSocket upgrade + Socket.IO CONNECT answered.
    pub connect_latency: LatencySummary,
    /// Emit with ack to its ack reply.
    pub ack_latency: LatencySummary,
    /// Server to client: from the payload's `timestamp` (ISO 8601 or epoch ms), else
    /// from the client's last emit to a `wait_for` match.
    pub delivery_latency: LatencySummary,
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
    pub progress: SimulationProgress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<SimulationReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One `--ensure` condition evaluated on a finished run's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EnsureOutcome {
    pub text: String,
    pub holds: bool,
    /// The metric's value in the report, with its unit.
    pub actual: String,
}
