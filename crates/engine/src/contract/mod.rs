//! Contracts: what a gateway's events look like, written down as AsyncAPI 3.0.
//!
//! A recording holds what a gateway really sends; this module turns it into a
//! document ([`document::Inference`], with the schema rules in [`infer`]), checks
//! recorded events against a document ([`check`]) and compares two documents for
//! breaking changes ([`diff`]). Validation and YAML are the `jsonschema` and
//! `serde_norway` crates'; only the inference is ours.

pub mod check;
pub mod diff;
pub mod document;
pub mod infer;

use std::path::Path;

use serde_json::Value;

pub use check::{Contract, Violation};
pub use diff::{diff, Change};
pub use document::Inference;

/// What reading, writing or using a contract can fail at.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a YAML or JSON document: {reason}")]
    Parse { path: String, reason: String },
    #[error("cannot encode the document as YAML: {0}")]
    Encode(#[source] serde_norway::Error),
    #[error("not an AsyncAPI 3 contract: {0}")]
    Shape(String),
    #[error("invalid payload schema for {what}: {reason}")]
    Schema { what: String, reason: String },
}

/// Longest contract file read (a contract is text a person reviews).
pub const MAX_DOCUMENT_BYTES: u64 = 32 * 1024 * 1024;

/// Is `path` meant to hold JSON (`.json`), rather than YAML?
pub fn is_json_path(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The document as text: JSON for a `.json` path, else YAML.
pub fn render(doc: &Value, json: bool) -> Result<String, ContractError> {
    if json {
        let mut s = serde_json::to_string_pretty(doc).unwrap_or_default();
        s.push('\n');
        Ok(s)
    } else {
        serde_norway::to_string(doc).map_err(ContractError::Encode)
    }
}

/// Reads a contract file (YAML or JSON; JSON is tried first for a `.json` path).
pub fn load(path: &Path) -> Result<Value, ContractError> {
    let read_err = |source| ContractError::Read {
        path: path.display().to_string(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > MAX_DOCUMENT_BYTES {
        return Err(ContractError::Parse {
            path: path.display().to_string(),
            reason: format!("{len} bytes, more than the {MAX_DOCUMENT_BYTES} allowed"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    parse(&text).map_err(|reason| ContractError::Parse {
        path: path.display().to_string(),
        reason,
    })
}

/// Parses contract text: JSON if it is JSON, else YAML.
pub fn parse(text: &str) -> Result<Value, String> {
    match serde_json::from_str(text) {
        Ok(v) => Ok(v),
        Err(_) => serde_norway::from_str(text).map_err(|e| e.to_string()),
    }
}
