//! Contracts view of the Recordings panel: infer an AsyncAPI contract from one
//! session, check a session against a contract file, and write a load scenario
//! generated from a session. The behaviour is the engine's `contract` and
//! `simulate::from_recording` modules; these are adapters over them.

use std::path::PathBuf;

use sockscope_engine::contract::{self, Contract, Inference};
use sockscope_engine::simulate::from_recording::{self, FromOptions};
use sockscope_protocol::{ApiError, CheckOutcome, ContractMessage, EventRecord, InferOutcome};
use tauri::State;

use super::blocking;
use crate::EngineState;

/// Most events one contract view folds in (a recording larger than this is checked
/// from the CLI, which streams).
const MAX_EVENTS: usize = 200_000;

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
    let (events, document) = blocking(&engine, move |e| {
        let mut inference = Inference::new();
        inference.session(id);
        e.store()?.for_each_event(id, |r| {
            inference.add(&r);
            Ok(())
        })?;
        Ok((inference.events(), inference.document()))
    })
    .await?;
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
    tracing::info!(session = id, events, "contract inferred");
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
        Ok::<_, sockscope_engine::Error>(contract::load(&path))
    })
    .await
    .map_err(super::api_error)?;
    let doc = loaded.map_err(|e| contract_error("contract", e))?;
    let contract = Contract::from_document(&doc).map_err(|e| contract_error("contract", e))?;
    let (checked, total, violations) = blocking(&engine, move |e| {
        let mut violations = Vec::new();
        let mut total = 0u64;
        let checked = e.store()?.for_each_event(id, |r| {
            for v in contract.check(&r) {
                total += 1;
                if violations.len() < MAX_VIOLATIONS {
                    violations.push(v);
                }
            }
            Ok(())
        })?;
        Ok((checked, total, violations))
    })
    .await?;
    tracing::info!(
        session = id,
        checked,
        violations = violations.len(),
        "contract checked"
    );
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
    let records: Vec<EventRecord> = blocking(&engine, move |e| {
        let mut records = Vec::new();
        e.store()?.for_each_event(id, |r| {
            if records.len() < MAX_EVENTS {
                records.push(r);
            }
            Ok(())
        })?;
        Ok(records)
    })
    .await?;
    let opts = FromOptions {
        name: format!("from-session-{id}"),
        ..FromOptions::default()
    };
    let scenario =
        from_recording::generate(&records, &opts).map_err(|e| contract_error("scenario", e))?;
    let text =
        serde_json::to_string_pretty(&scenario).map_err(|e| contract_error("scenario", e))?;
    sockscope_engine::simulate::scenario::parse(&text, "generated scenario")
        .map_err(super::api_error)?;
    // A relative path lands next to the recordings database (the data dir).
    let shown = blocking(&engine, move |e| {
        let target = match e.store()?.path().parent() {
            Some(dir) if path.is_relative() => dir.join(&path),
            _ => path,
        };
        sockscope_engine::store::write_atomically(&target, |out| {
            out.write_all(text.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(Into::into)
        })?;
        Ok(target.display().to_string())
    })
    .await?;
    tracing::info!(session = id, path = %shown, "scenario written");
    Ok(shown)
}
