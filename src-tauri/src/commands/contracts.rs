//! Contracts view of the Recordings panel: infer an AsyncAPI contract from one
//! session, check a session against a contract file, and write a load scenario
//! generated from a session. The behaviour is the engine's use cases
//! (`usecase::contract`, `usecase::scenario`), which the CLI calls too.

use std::path::PathBuf;

use sockscope_engine::contract;
use sockscope_engine::usecase::{self, Inferred, ScenarioError};
use sockscope_protocol::{ApiError, CheckOutcome, ContractMessage, InferOutcome};
use tauri::State;

use super::blocking;
use crate::EngineState;

/// Most violations one check returns to the window (all are counted).
const MAX_VIOLATIONS: usize = 10_000;

/// An error of the contract layer as the UI receives it.
fn contract_error(code: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError {
        code: code.to_owned(),
        message: sockscope_engine::redact::text(&message.to_string()),
    }
}

/// Infers the AsyncAPI 3.0 document from session `id`.
#[tauri::command]
pub async fn cmd_contract_infer(
    engine: State<'_, EngineState>,
    id: i64,
) -> Result<InferOutcome, ApiError> {
    let Inferred { events, document } =
        blocking(&engine, move |e| usecase::infer_contract(e.store()?, &[id])).await?;
    let messages = contract::check::operations(&document)
        .map_err(|e| contract_error("contract", e))?
        .into_iter()
        .map(|op| ContractMessage {
            namespace: op.namespace,
            event: op.event,
            action: op.action.to_owned(),
            payload: op.payload.clone(),
            reply: op.reply.map(|(schema, _)| schema.clone()),
        })
        .collect();
    Ok(InferOutcome {
        events,
        messages,
        document,
    })
}

/// Checks every event of session `id` against the contract at `path`.
#[tauri::command]
pub async fn cmd_contract_check(
    engine: State<'_, EngineState>,
    id: i64,
    path: String,
) -> Result<CheckOutcome, ApiError> {
    let path = PathBuf::from(path.trim());
    let loaded = sockscope_engine::offload::blocking(move || {
        Ok::<_, sockscope_engine::Error>(usecase::load_contract(&path))
    })
    .await
    .map_err(super::api_error)?;
    let contract = loaded.map_err(|e| contract_error("contract", e))?;
    let (checked, total, violations) = blocking(&engine, move |e| {
        let mut violations = Vec::new();
        let mut total = 0u64;
        let checked = usecase::check_session(e.store()?, id, &contract, |_, found| {
            for v in found {
                total += 1;
                if violations.len() < MAX_VIOLATIONS {
                    violations.push(v);
                }
            }
        })?;
        Ok((checked, total, violations))
    })
    .await?;
    Ok(CheckOutcome {
        checked,
        total,
        violations,
    })
}

/// Writes a scenario reproducing session `id`'s client behaviour to `path` (relative:
/// next to the recordings database); returns the path written.
#[tauri::command]
pub async fn cmd_scenario_from_session(
    engine: State<'_, EngineState>,
    id: i64,
    path: String,
) -> Result<String, ApiError> {
    let path = PathBuf::from(path.trim());
    if path.as_os_str().is_empty() {
        return Err(contract_error("bad_path", "give the scenario file's path"));
    }
    scenario_file(engine.inner().clone(), id, path).await
}

/// The command's body without the Tauri runtime, so a test can compare it with the
/// CLI's `scenario from` on the same session.
pub async fn scenario_file(
    engine: std::sync::Arc<sockscope_engine::Engine>,
    id: i64,
    path: PathBuf,
) -> Result<String, ApiError> {
    let written = sockscope_engine::offload::blocking(move || {
        Ok::<_, sockscope_engine::Error>(usecase::scenario::scenario_file(
            engine.store()?,
            id,
            &path,
        ))
    })
    .await
    .map_err(super::api_error)?;
    match written {
        Ok(path) => Ok(path.display().to_string()),
        Err(ScenarioError::Engine(e)) => Err(super::api_error(e)),
        Err(e) => Err(contract_error("scenario", e)),
    }
}
