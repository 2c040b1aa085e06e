//! Recordings: sessions as listed, recording in progress, export and import.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A recording as listed: its identity and how many events it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: i64,
    pub name: String,
    /// `gateway`, `connection` or `import`.
    pub kind: String,
    pub target: String,
    pub started_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    pub events: u64,
    /// The connection profile minus secrets.
    #[serde(default)]
    pub meta: Value,
    /// Whether the session is still being written, ended cleanly, or was cut short.
    #[serde(default)]
    pub state: SessionState,
}

/// Where a session's recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SessionState {
    /// A recorder is writing it now.
    Recording,
    /// Its recorder finished and wrote everything it was given.
    #[default]
    Complete,
    /// Its recorder stopped without finishing (killed, crashed): the events are a
    /// prefix of what happened, and `ended_at` is the time of the last one.
    Interrupted,
}

impl SessionState {
    /// The lowercase name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Recording => "recording",
            SessionState::Complete => "complete",
            SessionState::Interrupted => "interrupted",
        }
    }

    /// The state named `s`; anything unknown reads as `complete`.
    pub fn from_name(s: &str) -> Self {
        match s {
            "recording" => SessionState::Recording,
            "interrupted" => SessionState::Interrupted,
            _ => SessionState::Complete,
        }
    }
}

/// Start recording what the bus carries into a new session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRequest {
    pub name: String,
    /// Only records of this source (`gateway`, `connection:<id>`); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The recording in progress, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RecordingStatus {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<i64>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub written: u64,
    pub dropped: u64,
}

/// Export a session to a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub id: i64,
    pub path: String,
    /// `jsonl` or `har`.
    #[serde(default = "default_format")]
    pub format: String,
}

/// Import a file as a new session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    pub path: String,
    /// `jsonl` or `har`; from the file's extension when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

fn default_format() -> String {
    "jsonl".to_owned()
}

/// What a stopped recording or an import produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SessionOutcome {
    pub id: i64,
    pub events: u64,
    pub dropped: u64,
}
