//! A client-side replay started from the desktop console: the panel's request becomes
//! [`ReplayOptions`] the same way the CLI's flags do, and the progress is kept where
//! the panel can poll it while the replay runs.

use std::sync::{Arc, Mutex};

use sockscope_protocol::{DriftReport, ReplayRequest, ReplayState};

use super::{run, ReplayOptions};
use crate::connection::registry::options_for;
use crate::store::Store;
use crate::{keychain, Error, Result};

/// The options for `req`; the token is the request's, else the keychain's for the
/// target's name.
pub fn options(req: &ReplayRequest) -> Result<ReplayOptions> {
    let name = req.target.name.trim();
    let token = match req.token.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => Some(t.to_owned()),
        None if !name.is_empty() => keychain::token(name).unwrap_or(None),
        None => None,
    };
    let mut target = req.target.clone();
    let keep_namespace = !target.namespace.trim().is_empty() && target.namespace != "/";
    if !keep_namespace {
        target.namespace = String::new();
    }
    let mut connect = options_for(&target, token.as_deref())?;
    if !keep_namespace {
        // Empty: the recording's own namespace (see `ReplayOptions::target`).
        connect.namespace = String::new();
    }
    connect.reconnect = false;
    connect.on_connect.clear();
    let mut opts = ReplayOptions::new(req.session, connect);
    // The panel's "loops" field left empty means once.
    let mut plan = req.plan.clone();
    plan.loops = plan.loops.max(1);
    (opts.timing, opts.filter, opts.rewrites) = super::plan_parts(&plan)?;
    opts.ignore = req.ignore.clone();
    Ok(opts)
}

/// Runs the replay to its drift report, keeping `state` current; one at a time.
pub async fn run_tracked(
    store: &Store,
    req: &ReplayRequest,
    state: &Arc<Mutex<ReplayState>>,
) -> Result<DriftReport> {
    let opts = options(req)?;
    {
        let mut s = state.lock().map_err(|_| Error::ReplayBusy)?;
        if s.running {
            return Err(Error::ReplayBusy);
        }
        *s = ReplayState {
            running: true,
            ..ReplayState::default()
        };
    }
    let progress = |p: &super::ReplayProgress| {
        if let Ok(mut s) = state.lock() {
            s.sent = p.sent;
            s.total = p.total;
            s.event.clone_from(&p.event);
        }
    };
    let outcome = run(store, opts, progress).await;
    if let Ok(mut s) = state.lock() {
        s.running = false;
    }
    Ok(outcome?.report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_protocol::{ReplayPlan, TargetProfile};

    #[test]
    fn a_panel_request_becomes_replay_options() {
        let req = ReplayRequest {
            session: 4,
            target: TargetProfile {
                url: "http://staging:4004".into(),
                namespace: "/".into(),
                ..TargetProfile::default()
            },
            token: Some("tok".into()),
            plan: ReplayPlan {
                speed: 4.0,
                loops: 0,
                skip: vec!["ping".into()],
                rewrites: vec!["acme=>globex".into()],
                ..ReplayPlan::default()
            },
            ..ReplayRequest::default()
        };
        let o = options(&req).unwrap();
        assert_eq!(o.source, 4);
        assert_eq!(o.target.namespace, "");
        assert_eq!(o.target.auth, Some(serde_json::json!({"token": "tok"})));
        assert_eq!(o.timing.loops, 1);
        assert!(!o.filter.keeps("ping"));
        let mut bad = req;
        bad.plan.sets = vec!["no-dollar".into()];
        assert!(options(&bad).is_err());
    }
}
