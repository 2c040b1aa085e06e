//! Infer and check a contract: the CLI's `contract infer/check` and the app's
//! Contracts view both learn an AsyncAPI document from recorded sessions and check a
//! session's events against a contract file through these functions, so the two
//! cannot fold events differently.

use std::path::Path;

use serde_json::Value;
use sockscope_protocol::EventRecord;

use crate::contract::{self, Contract, ContractError, Inference, Violation};
use crate::store::Store;
use crate::Result;

/// A contract learnt from recordings.
#[derive(Debug, Clone)]
pub struct Inferred {
    /// Events folded in.
    pub events: u64,
    /// The AsyncAPI 3.0 document.
    pub document: Value,
}

/// Infers the AsyncAPI 3.0 document from every event of `sessions`, in order.
pub fn infer_contract(store: &Store, sessions: &[i64]) -> Result<Inferred> {
    let mut inference = Inference::new();
    for &id in sessions {
        inference.session(id);
        store.for_each_event(id, |r| {
            inference.add(&r);
            Ok(())
        })?;
    }
    let inferred = Inferred {
        events: inference.events(),
        document: inference.document(),
    };
    tracing::info!(?sessions, events = inferred.events, "contract inferred");
    Ok(inferred)
}

/// Reads a contract file (YAML or JSON) and compiles its payload schemas.
pub fn load_contract(path: &Path) -> std::result::Result<Contract, ContractError> {
    let doc = contract::load(path)?;
    Contract::from_document(&doc)
}

/// Checks every event of session `id` against `contract`, handing each event and
/// what it broke (often nothing) to `each`; returns how many events were checked.
pub fn check_session(
    store: &Store,
    id: i64,
    contract: &Contract,
    mut each: impl FnMut(&EventRecord, Vec<Violation>),
) -> Result<usize> {
    let mut violations = 0usize;
    let checked = store.for_each_event(id, |r| {
        let found = contract.check(&r);
        violations += found.len();
        each(&r, found);
        Ok(())
    })?;
    tracing::info!(session = id, checked, violations, "contract checked");
    Ok(checked)
}
