//! Contracts over recordings: an AsyncAPI 3.0 contract inferred from a session, and
//! the violations a check of a session against a contract finds. The engine's
//! `contract` module produces these; the Contracts view and the CLI show them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event that breaks the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub seq: u64,
    pub namespace: String,
    pub event: String,
    pub direction: String,
    /// `unknown_event`, `unexpected_direction`, `missing_field`, `wrong_type` or
    /// `invalid_value` (enum, format and other keywords).
    pub kind: String,
    /// JSON pointer into the payload (`/ack/...` for the ack reply); for a missing
    /// field it names the field.
    pub pointer: String,
    pub message: String,
}

/// One message of an inferred contract, as the Contracts view lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractMessage {
    pub namespace: String,
    pub event: String,
    /// `send` (server to client) or `receive` (client to server), AsyncAPI's words.
    pub action: String,
    /// The payload's JSON Schema.
    pub payload: Value,
    /// The ack reply's JSON Schema, when the event is acknowledged.
    #[serde(default)]
    pub reply: Option<Value>,
}

/// An inferred contract: its messages and the whole AsyncAPI 3.0 document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferOutcome {
    pub events: u64,
    pub messages: Vec<ContractMessage>,
    /// The AsyncAPI document itself (shown and saved as is, never read by key).
    pub document: Value,
}

/// What a check of one session against a contract found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CheckOutcome {
    pub checked: usize,
    /// Every violation found; `violations` holds the first ones (a bounded number).
    pub total: u64,
    pub violations: Vec<Violation>,
}
