//! Event templates in the gxdev format (`socket-events/*.json`): listing, load
//! problems, and sending one through the running gateway.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An event template in the gxdev format (`socket-events/*.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub event: String,
    pub channel: String,
    pub data: Value,
    /// The file it came from (`built-in:NAME` for shipped templates).
    #[serde(default)]
    pub file: String,
}

/// A template file that could not be loaded, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateProblem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every template of a folder, and the files that failed (the rest still load).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TemplateSet {
    pub templates: Vec<Template>,
    pub problems: Vec<TemplateProblem>,
}

/// Send a template through the running gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateSend {
    pub event: String,
    /// Replaces the channel's last segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Replaces the template's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The tenant whose sockets receive it (gxp channels are scoped by tenant when
    /// tokens name one); the public scope when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// What a template send did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSent {
    pub event: String,
    pub channel: String,
    pub delivered: usize,
}
