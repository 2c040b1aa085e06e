//! Make a load-test scenario from a recorded session, reading the session's own
//! metadata: the embedded gateway profile it recorded and the shape of the
//! handshake auth it used (`auth_keys`; the values are secrets and never kept).
//! `sockscope scenario from` and the app's "Scenario from session" both call
//! [`scenario_from_session`]; before, the app built its options by hand and lost
//! the profile and the auth shape.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sockscope_protocol::{EventRecord, SessionInfo};

use crate::simulate::from_recording::{self, FromOptions, Vary};
use crate::store::Store;

/// What making a scenario can fail at.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Reading the session, or the simulator refusing the generated scenario.
    #[error(transparent)]
    Engine(#[from] crate::Error),
    /// The session cannot be turned into a scenario (no socket emitted, unknown
    /// socket...).
    #[error("{0}")]
    Generate(String),
    #[error("cannot write the scenario: {0}")]
    Encode(#[source] serde_json::Error),
}

/// The caller's choices; everything else comes from the session.
#[derive(Debug, Clone, Default)]
pub struct ScenarioOptions {
    /// The gateway profile written into the scenario (default: the session's).
    pub profile: Option<String>,
    /// Reproduce only this recorded socket.
    pub socket: Option<String>,
    pub vary: Vec<Vary>,
    /// Virtual clients per recorded socket.
    pub clients: Option<usize>,
    /// Read at most this many events (the app bounds what it holds in memory).
    pub max_events: Option<usize>,
}

/// A generated scenario, checked with the simulator's own parser.
#[derive(Debug, Clone)]
pub struct Generated {
    pub scenario: Value,
    /// The scenario as the pretty JSON `simulate --file` reads (no final newline).
    pub text: String,
    /// Events read from the session.
    pub events: usize,
    /// Sockets seen in them.
    pub sockets: usize,
}

/// The generator's options for session `info` under the caller's `opts`.
pub fn from_options(info: &SessionInfo, opts: &ScenarioOptions) -> FromOptions {
    let profile = opts.profile.clone().or_else(|| {
        info.meta
            .get("profile")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let auth_keys = info
        .meta
        .get("auth_keys")
        .and_then(Value::as_array)
        .map(|k| {
            k.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    FromOptions {
        name: format!("from-session-{}", info.id),
        profile,
        socket: opts.socket.clone(),
        vary: opts.vary.clone(),
        clients: opts.clients,
        auth_keys,
    }
}

/// Makes the scenario reproducing session `id`'s client behaviour.
pub fn scenario_from_session(
    store: &Store,
    id: i64,
    opts: &ScenarioOptions,
) -> Result<Generated, ScenarioError> {
    let info = store.session(id).map_err(crate::Error::from)?;
    let mut records: Vec<EventRecord> = Vec::new();
    store
        .for_each_event(id, |r| {
            if opts.max_events.is_none_or(|m| records.len() < m) {
                records.push(r);
            }
            Ok(())
        })
        .map_err(crate::Error::from)?;
    let scenario = from_recording::generate(&records, &from_options(&info, opts))
        .map_err(ScenarioError::Generate)?;
    let text = serde_json::to_string_pretty(&scenario).map_err(ScenarioError::Encode)?;
    // What we hand out, `simulate --file` runs.
    crate::simulate::scenario::parse(&text, "generated scenario")?;
    let sockets = from_recording::socket_ids(&records).len();
    tracing::info!(
        session = id,
        sockets,
        events = records.len(),
        "scenario generated"
    );
    Ok(Generated {
        scenario,
        text,
        events: records.len(),
        sockets,
    })
}

/// Writes `text` and a newline to `path`, atomically.
pub fn write_scenario(path: &Path, text: &str) -> crate::Result<()> {
    crate::store::write_atomically(path, |out| {
        out.write_all(text.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .map_err(|e| crate::Error::File {
                path: path.display().to_string(),
                source: e,
            })
    })
}

/// Most events the app's "Scenario from session" reads (a larger recording is
/// turned into a scenario from the CLI, which holds no window's memory).
pub const MAX_WINDOW_EVENTS: usize = 200_000;

/// The app's "Scenario from session": session `id` with the default options (the
/// session's own profile and auth shape), read in up to [`MAX_WINDOW_EVENTS`]
/// events, written to `path`; a relative path lands next to the recordings database
/// (the data dir). Returns the path written.
pub fn scenario_file(store: &Store, id: i64, path: &Path) -> Result<PathBuf, ScenarioError> {
    let opts = ScenarioOptions {
        max_events: Some(MAX_WINDOW_EVENTS),
        ..ScenarioOptions::default()
    };
    let made = scenario_from_session(store, id, &opts)?;
    let target = match store.path().parent() {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_owned(),
    };
    write_scenario(&target, &made.text)?;
    tracing::info!(session = id, path = %target.display(), "scenario written");
    Ok(target)
}
