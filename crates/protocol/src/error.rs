//! The one error shape that crosses IPC: a stable code and a one-line message.

use serde::{Deserialize, Serialize};

/// An error as it crosses IPC: a stable code and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}
