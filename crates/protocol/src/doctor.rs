//! The connection doctor (`sockscope doctor URL`, the Connections panel's "Why can't
//! I connect?"): what it is asked and what it answers. The answer is a list of
//! checks in plain words plus, when something connects, the settings that do, so
//! the CLI prints it and the UI shows it from the same typed report.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Parser, TargetTls};

/// What the doctor is asked to look at: the connect form's fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DoctorRequest {
    /// The gateway as typed: `http(s)://host:port[/path/]` (or `ws(s)://`).
    pub url: String,
    /// The namespace to join (`/` when empty).
    #[serde(default)]
    pub namespace: String,
    /// The Engine.IO path; `None`: the URL's own path, else `/socket.io/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A browser origin to check CORS for, e.g. `https://app.example.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The handshake's auth object (`{"token": ...}` for a bare token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Value>,
    #[serde(default)]
    pub tls: TargetTls,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DoctorOutcome {
    Ok,
    Fail,
    /// Not tried: an earlier failure made it pointless, or it was not asked for.
    Skipped,
}

/// One check: a stable id (`reach`, `tls_chain`, `polling_v4`...), a short title
/// and what was found, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorCheck {
    pub id: String,
    pub title: String,
    pub outcome: DoctorOutcome,
    pub detail: String,
}

/// Settings that connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingSettings {
    /// Engine.IO revision: 3 (Socket.IO 2.x) or 4 (Socket.IO 3/4).
    pub eio: u8,
    /// `any` (polling upgraded to websocket), `polling` or `websocket`.
    pub transport: String,
    /// The Engine.IO path, e.g. `/socket.io/`.
    pub path: String,
    pub parser: Parser,
    pub namespace: String,
    /// Connected only without certificate checks.
    pub insecure: bool,
    /// Connected trusting this extra root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// The auth object was sent (and accepted).
    pub auth: bool,
}

/// The doctor's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoctorReport {
    /// The URL looked at, without userinfo or query values.
    pub url: String,
    pub checks: Vec<DoctorCheck>,
    /// The settings that connect, if any did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub works: Option<WorkingSettings>,
    /// The `sockscope connect` line with those settings (no secret in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_with: Option<String>,
    /// One sentence: what works or the main reason nothing does.
    pub summary: String,
}

impl DoctorReport {
    /// The first failed check, the main reason when nothing connects.
    pub fn first_failure(&self) -> Option<&DoctorCheck> {
        self.checks
            .iter()
            .find(|c| c.outcome == DoctorOutcome::Fail)
    }
}
