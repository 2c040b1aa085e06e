//! A simulation started from the desktop console: it runs in the background while the
//! Simulator panel polls its counters for the live charts, and can be stopped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockscope_protocol::{SimulateRequest, SimulateState, SimulationProgress};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{run, scenario, SimulateOptions, Target};
use crate::{Error, Result};

/// The running (or last) simulation.
pub struct SimJob {
    progress: watch::Receiver<SimulationProgress>,
    outcome: Arc<Mutex<Option<std::result::Result<sockscope_protocol::SimulationReport, String>>>>,
    task: JoinHandle<()>,
    stopped: bool,
}

/// The options for `req`, or why they are unusable.
pub fn options(req: &SimulateRequest) -> Result<SimulateOptions> {
    let target = match req
        .target
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(url) => Target::Url(url.to_owned()),
        None => Target::Embedded,
    };
    Ok(SimulateOptions {
        target,
        clients: req.clients,
        ramp: Duration::from_millis(req.ramp_ms),
        duration: Duration::from_millis(req.duration_ms),
        rate: req.rate,
        jwt_secret: req.jwt_secret.clone().filter(|s| !s.is_empty()),
        ..SimulateOptions::default()
    })
}

impl SimJob {
    /// Starts `req` in the background; bad input fails here, before anything runs.
    pub fn start(req: &SimulateRequest) -> Result<Self> {
        let scenario = scenario::built_in(&req.scenario)?;
        let opts = options(req)?;
        let (tx, rx) = watch::channel(SimulationProgress {
            clients: req.clients as u64,
            ..SimulationProgress::default()
        });
        let outcome = Arc::new(Mutex::new(None));
        let slot = outcome.clone();
        let task = tokio::spawn(async move {
            let result = run(&scenario, &opts, Some(tx))
                .await
                .map_err(|e| e.to_string());
            if let Err(error) = &result {
                tracing::warn!(%error, "simulation failed");
            }
            if let Ok(mut s) = slot.lock() {
                *s = Some(result);
            }
        });
        Ok(Self {
            progress: rx,
            outcome,
            task,
            stopped: false,
        })
    }

    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Ends the run now; its report is lost, the counters so far stay readable.
    pub fn stop(&mut self) {
        if self.is_running() {
            self.task.abort();
            self.stopped = true;
        }
    }

    pub fn state(&self) -> SimulateState {
        let outcome = self.outcome.lock().ok().and_then(|o| o.clone());
        let (report, error) = match outcome {
            Some(Ok(r)) => (Some(r), None),
            Some(Err(e)) => (None, Some(e)),
            None if self.stopped => (None, Some("stopped before the end".to_owned())),
            None => (None, None),
        };
        SimulateState {
            running: self.is_running(),
            progress: self.progress.borrow().clone(),
            report,
            error,
        }
    }
}

/// Names of the built-in scenarios.
pub fn scenarios() -> Vec<String> {
    scenario::built_in_names()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// `Error::BadSimulation` when another run is still going.
pub fn ensure_idle(job: Option<&SimJob>) -> Result<()> {
    match job {
        Some(j) if j.is_running() => Err(Error::BadSimulation(
            "a simulation is already running: stop it first".into(),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panel_request_runs_and_reports_or_fails_clearly() {
        let bad = SimulateRequest {
            scenario: "no-such".into(),
            clients: 1,
            ramp_ms: 0,
            duration_ms: 500,
            ..SimulateRequest::default()
        };
        assert!(SimJob::start(&bad).is_err());
        let req = SimulateRequest {
            scenario: "analytics-dashboard".into(),
            clients: 5,
            ramp_ms: 100,
            duration_ms: 1_200,
            ..SimulateRequest::default()
        };
        let job = SimJob::start(&req).expect("starts");
        assert!(ensure_idle(Some(&job)).is_err());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while job.is_running() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let state = job.state();
        assert!(!state.running);
        let report = state.report.expect("a report");
        assert_eq!(report.connected + report.failed, 5);
        assert_eq!(report.connected, 5, "{:?}", report.errors_by_kind);
        assert!(state.progress.done);
    }
}
