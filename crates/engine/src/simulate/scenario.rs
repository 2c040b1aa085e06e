//! Scenarios: what each virtual client does, as data. A scenario names the namespace
//! and handshake auth, `setup` steps run once after connecting, and `steps` repeated
//! until the run ends. Strings anywhere in the auth object and event data may use
//! per-client variables (`{{client}}`, `{{tenant}}`, `{{entity}}`, `{{user}}`,
//! `{{token}}`, `{{iteration}}`, and `{{uuid}}` / `{{uuid:K}}` / `{{pick:a,b}}` for ids
//! that must differ per client), so one file describes thousands of distinct clients.
//!
//! Scenarios live in JSON files (`socket-events/scenarios/*.json`, format in that
//! folder's README); the shipped ones are compiled in so the binary needs no files.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::{limits, Error, Result};

/// A scenario as written in its JSON file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The embedded gateway profile this scenario is written for (`--embedded`).
    #[serde(default = "default_profile")]
    pub profile: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The handshake auth object (variables substituted per client).
    #[serde(default)]
    pub auth: Option<Value>,
    /// Default iterations of `steps` per second per client (`--rate` overrides).
    #[serde(default)]
    pub rate: Option<f64>,
    /// Run once after connecting.
    #[serde(default)]
    pub setup: Vec<Step>,
    /// Repeated at `rate` until the run's duration is over.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// `socketio` (default) or `ws`: plain WebSocket JSON messages (Jac-style, see
    /// `simulate::ws_client`).
    #[serde(default)]
    pub transport: ScenarioTransport,
    /// With `ws`: the endpoint path (default `/websocket`).
    #[serde(default)]
    pub path: Option<String>,
    /// With `ws`: query parameters of the upgrade URL (variables substituted).
    #[serde(default)]
    pub query: Option<serde_json::Map<String, Value>>,
    /// HTTP API requests the run sends while the clients run (e.g. templates).
    #[serde(default)]
    pub api: Option<ApiDriver>,
    /// Virtual clients when `simulate --clients` is not given (default 10).
    #[serde(default)]
    pub clients: Option<usize>,
    /// Several client behaviours in one run (e.g. each socket of a recording): client
    /// `i` runs `sockets[i % len]`, whose namespace, auth, setup and steps replace the
    /// top-level ones.
    #[serde(default)]
    pub sockets: Vec<SocketScript>,
}

/// One client behaviour of a scenario with several (`sockets`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocketScript {
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default)]
    pub auth: Option<Value>,
    #[serde(default)]
    pub setup: Vec<Step>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

impl Scenario {
    /// The behaviours the clients cycle through: the scenario itself, or one
    /// scenario per entry of `sockets`.
    pub fn variants(&self) -> Vec<Scenario> {
        if self.sockets.is_empty() {
            return vec![self.clone()];
        }
        self.sockets
            .iter()
            .map(|s| Scenario {
                namespace: s.namespace.clone(),
                auth: s.auth.clone(),
                setup: s.setup.clone(),
                steps: s.steps.clone(),
                sockets: Vec::new(),
                ..self.clone()
            })
            .collect()
    }
}

/// How the virtual clients talk to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioTransport {
    #[default]
    #[serde(alias = "socket.io")]
    Socketio,
    #[serde(alias = "websocket")]
    Ws,
}

/// Requests to the gateway's HTTP API, sent in turn at `rate` per second by the run
/// itself (not by a client) from the first client's start to the end, e.g.
/// `POST /templates/send` so listening clients measure delivery latency. Request `n`
/// substitutes the variables of client `n` (so `{{tenant}}` cycles); a body string
/// that is exactly `{{now_ms}}` becomes the send time in epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiDriver {
    #[serde(default = "default_api_rate")]
    pub rate: f64,
    /// Wait this long after the run starts before the first request.
    #[serde(default)]
    pub start_ms: u64,
    pub requests: Vec<ApiRequest>,
}

/// One HTTP API request (`POST` with a JSON body).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiRequest {
    /// The path on the gateway, e.g. `/templates/send`.
    pub path: String,
    #[serde(default)]
    pub body: Value,
}

fn default_api_rate() -> f64 {
    1.0
}

fn default_profile() -> String {
    "generic".to_owned()
}

fn default_namespace() -> String {
    "/".to_owned()
}

/// One thing a client does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Send an event without asking for an ack.
    Emit {
        event: String,
        #[serde(default)]
        data: Value,
    },
    /// Send an event and wait up to `timeout_ms` for its ack.
    EmitWithAck {
        event: String,
        #[serde(default)]
        data: Value,
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
    /// Wait up to `timeout_ms` for the next `event` from the server (one occurrence
    /// received since the previous wait for the same name).
    WaitFor {
        event: String,
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
    /// Pause `ms`, or a uniformly random time between `min_ms` and `max_ms`.
    Think(Think),
    /// Run `steps` `count` times.
    Loop { count: u32, steps: Vec<Step> },
}

/// A pause: fixed or random.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Think {
    Fixed { ms: u64 },
    Range { min_ms: u64, max_ms: u64 },
}

fn default_timeout_ms() -> u64 {
    5000
}

/// Shipped scenarios: (name, JSON text).
const BUILT_IN: &[(&str, &str)] = &[
    (
        "analytics-dashboard",
        include_str!("../../../../socket-events/scenarios/analytics-dashboard.json"),
    ),
    (
        "jet-admin-workflow",
        include_str!("../../../../socket-events/scenarios/jet-admin-workflow.json"),
    ),
    (
        "jet-admin-widget",
        include_str!("../../../../socket-events/scenarios/jet-admin-widget.json"),
    ),
    (
        "ai-chat",
        include_str!("../../../../socket-events/scenarios/ai-chat.json"),
    ),
    (
        "steedos-records",
        include_str!("../../../../socket-events/scenarios/steedos-records.json"),
    ),
    (
        "jac-chat",
        include_str!("../../../../socket-events/scenarios/jac-chat.json"),
    ),
    (
        "gxp-plugins",
        include_str!("../../../../socket-events/scenarios/gxp-plugins.json"),
    ),
];

/// Names of the shipped scenarios.
pub fn built_in_names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(n, _)| *n).collect()
}

/// A shipped scenario's JSON text (what `--k8s-job` puts in its ConfigMap).
pub fn built_in_text(name: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// A shipped scenario by name.
pub fn built_in(name: &str) -> Result<Scenario> {
    let (file, text) =
        BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| Error::UnknownScenario {
                name: name.to_owned(),
                known: built_in_names().join(", "),
            })?;
    parse(text, &format!("{file}.json"))
}

/// Reads a scenario file.
pub fn load(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::File {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses and checks scenario JSON; errors name `file` and the line.
pub fn parse(text: &str, file: &str) -> Result<Scenario> {
    let scenario: Scenario = serde_json::from_str(text).map_err(|e| Error::BadScenario {
        file: file.to_owned(),
        line: e.line(),
        // serde quotes a bad string whole: a 20 MB one must not be echoed.
        message: limits::clip_message(&e.to_string()),
    })?;
    let bad = |message: String| Error::BadScenario {
        file: file.to_owned(),
        line: 1,
        message,
    };
    for ns in
        std::iter::once(&scenario.namespace).chain(scenario.sockets.iter().map(|s| &s.namespace))
    {
        if !ns.starts_with('/') {
            return Err(bad(format!("namespace {ns:?} must start with '/'")));
        }
    }
    if let Some(n) = scenario.clients {
        limits::check_range("clients", n as u64, 1, limits::MAX_CLIENTS as u64).map_err(bad)?;
    }
    if let Some(r) = scenario.rate {
        limits::check_f64("rate", r, limits::MIN_RATE, limits::MAX_RATE).map_err(bad)?;
    }
    if let Some(api) = &scenario.api {
        limits::check_f64("api rate", api.rate, limits::MIN_RATE, limits::MAX_RATE).map_err(bad)?;
        limits::check_range("api start_ms", api.start_ms, 0, limits::MAX_MS).map_err(bad)?;
        if api.requests.is_empty() {
            return Err(bad("api needs at least one request".to_owned()));
        }
        if let Some(r) = api.requests.iter().find(|r| !r.path.starts_with('/')) {
            return Err(bad(format!("api path {:?} must start with '/'", r.path)));
        }
    }
    if let Some(p) = &scenario.path {
        if scenario.transport != ScenarioTransport::Ws || !p.starts_with('/') {
            return Err(bad(format!(
                "path {p:?} needs \"transport\": \"ws\" and must start with '/'"
            )));
        }
    }
    let parts = [("setup", &scenario.setup), ("steps", &scenario.steps)]
        .into_iter()
        .chain(
            scenario
                .sockets
                .iter()
                .flat_map(|s| [("setup", &s.setup), ("steps", &s.steps)]),
        );
    for (part, steps) in parts {
        check_steps(steps).map_err(bad)?;
        let n = step_count(steps);
        if n > limits::MAX_SCENARIO_STEPS {
            return Err(bad(format!(
                "{part} runs {} steps per pass with its loops expanded; at most {} are allowed",
                if n == u64::MAX {
                    "too many".to_owned()
                } else {
                    n.to_string()
                },
                limits::MAX_SCENARIO_STEPS
            )));
        }
    }
    Ok(scenario)
}

/// Steps one pass runs, loops expanded, each loop iteration counting as one step
/// (so nested empty loops count too); saturates at `u64::MAX`.
pub fn step_count(steps: &[Step]) -> u64 {
    steps.iter().fold(0u64, |total, step| {
        let one = match step {
            Step::Loop { count, steps } => {
                u64::from(*count).saturating_mul(step_count(steps).saturating_add(1))
            }
            _ => 1,
        };
        total.saturating_add(one)
    })
}

fn check_steps(steps: &[Step]) -> std::result::Result<(), String> {
    let ms = |field: &str, v: u64| limits::check_range(field, v, 0, limits::MAX_MS).map(drop);
    for step in steps {
        match step {
            Step::Emit { event, .. }
            | Step::EmitWithAck { event, .. }
            | Step::WaitFor { event, .. }
                if event.is_empty() =>
            {
                return Err("a step has an empty event name".to_owned())
            }
            Step::EmitWithAck { timeout_ms, .. } => ms("emit_with_ack timeout_ms", *timeout_ms)?,
            Step::WaitFor { timeout_ms, .. } => ms("wait_for timeout_ms", *timeout_ms)?,
            Step::Think(Think::Fixed { ms: v }) => ms("think ms", *v)?,
            Step::Think(Think::Range { min_ms, max_ms }) => {
                ms("think min_ms", *min_ms)?;
                ms("think max_ms", *max_ms)?;
                if min_ms > max_ms {
                    return Err(format!("think: min_ms {min_ms} > max_ms {max_ms}"));
                }
            }
            Step::Loop { steps, .. } => check_steps(steps)?,
            _ => {}
        }
    }
    Ok(())
}

/// A random UUID (v4 layout) that is the same for one client, one `slot` and one
/// process run, and differs between clients and slots: `{{uuid}}` (slot 0) and
/// `{{uuid:K}}` keep an id stable across a client's emits without two clients of
/// the run sharing it.
pub fn client_uuid(client: usize, slot: u64) -> String {
    static SEED: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| uuid::Uuid::new_v4().as_u128());
    // splitmix-style mixing of (seed, client, slot) into 128 bits.
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let c = client as u64;
    let hi = mix((seed >> 64) as u64 ^ mix(c) ^ slot.rotate_left(32));
    let lo = mix(seed as u64 ^ mix(c.wrapping_add(1)) ^ mix(slot.wrapping_add(7)));
    let bytes = ((u128::from(hi) << 64) | u128::from(lo)).to_be_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The values one client substitutes into its scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Variables {
    pub client: usize,
    pub tenant: String,
    pub entity: String,
    pub user: String,
    pub token: String,
    pub iteration: u64,
}

impl Variables {
    /// Replaces every `{{name}}` this knows in `s`; unknown names stay as written.
    pub fn substitute(&self, s: &str) -> String {
        if !s.contains("{{") {
            return s.to_owned();
        }
        let mut out = String::with_capacity(s.len() + 16);
        let mut rest = s;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                return out;
            };
            match self.value(after[..end].trim()) {
                Some(v) => out.push_str(&v),
                None => out.push_str(&rest[start..start + 2 + end + 2]),
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn value(&self, name: &str) -> Option<String> {
        Some(match name {
            "client" => self.client.to_string(),
            "tenant" => self.tenant.clone(),
            "entity" => self.entity.clone(),
            "user" => self.user.clone(),
            "token" => self.token.clone(),
            "iteration" => self.iteration.to_string(),
            "now_ms" => (crate::bus::now_micros() / 1000).to_string(),
            "uuid" => client_uuid(self.client, 0),
            _ => {
                if let Some(k) = name.strip_prefix("uuid:") {
                    client_uuid(self.client, k.trim().parse().ok()?)
                } else if let Some(list) = name.strip_prefix("pick:") {
                    let items: Vec<&str> = list.split(',').map(str::trim).collect();
                    items[self.client % items.len()].to_owned()
                } else {
                    return None;
                }
            }
        })
    }

    /// `value` with every string (not keys) substituted; a string that is exactly
    /// `{{now_ms}}` becomes the current time in epoch milliseconds (a number).
    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::String(s) if s == "{{now_ms}}" => Value::from(crate::bus::now_micros() / 1000),
            Value::String(s) => Value::String(self.substitute(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.apply(v)).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), self.apply(v))).collect())
            }
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Variables {
        Variables {
            client: 7,
            tenant: "acme".into(),
            entity: "entity-acme-2".into(),
            user: "user-7".into(),
            token: "t.k.n".into(),
            iteration: 3,
        }
    }

    #[test]
    fn substitutes_known_variables_and_keeps_the_rest() {
        let v = vars();
        assert_eq!(
            v.substitute("run-{{client}}-{{iteration}} {{ tenant }}"),
            "run-7-3 acme"
        );
        assert_eq!(v.substitute("{{nope}} and {{user}}"), "{{nope}} and user-7");
        assert_eq!(v.substitute("open {{client"), "open {{client");
        assert_eq!(v.substitute("plain"), "plain");
    }

    #[test]
    fn applies_to_nested_json_strings_only() {
        let data = json!({"entityId": "{{entity}}", "n": 1, "list": ["{{token}}", true], "{{client}}": "k"});
        assert_eq!(
            vars().apply(&data),
            json!({"entityId": "entity-acme-2", "n": 1, "list": ["t.k.n", true], "{{client}}": "k"})
        );
    }

    #[test]
    fn every_built_in_parses() {
        for name in built_in_names() {
            let s = built_in(name).expect(name);
            assert_eq!(s.name, name);
        }
        let a = built_in("analytics-dashboard").expect("analytics");
        assert_eq!(a.namespace, "/dashboard");
        assert_eq!(a.profile, "analytics");
    }

    #[test]
    fn unknown_built_in_lists_the_known_ones() {
        let e = built_in("nope").expect_err("unknown");
        assert_eq!(e.code(), "unknown_scenario");
        assert!(e.to_string().contains("analytics-dashboard"), "{e}");
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let text = "{\n  \"name\": \"x\",\n  \"steps\": [\n    { \"emit\": { \"event\": \"a\" } },\n    { \"jump\": {} }\n  ]\n}";
        match parse(text, "bad.json") {
            Err(Error::BadScenario {
                file,
                line,
                message,
            }) => {
                assert_eq!(file, "bad.json");
                assert_eq!(line, 5, "{message}");
                assert!(message.contains("jump"), "{message}");
            }
            other => panic!("expected BadScenario, got {other:?}"),
        }
        let e = parse("{\"name\": \"x\",\n\"namespace\": \"dash\"}", "ns.json").expect_err("ns");
        assert!(e.to_string().contains("must start with '/'"), "{e}");
        let e = parse(
            "{\"name\": \"x\", \"steps\": [{\"think\": {\"min_ms\": 9, \"max_ms\": 1}}]}",
            "t.json",
        )
        .expect_err("think");
        assert!(e.to_string().contains("min_ms"), "{e}");
    }

    #[test]
    fn numbers_out_of_range_are_refused_with_the_range() {
        for (text, says) in [
            (
                r#"{"name":"x","steps":[{"think":{"max_ms":18446744073709551615,"min_ms":0}}]}"#,
                "think max_ms must be between 0 and 86400000",
            ),
            (
                r#"{"name":"x","steps":[{"think":{"ms":86400001}}]}"#,
                "think ms",
            ),
            (
                r#"{"name":"x","rate":1e308}"#,
                "rate must be between 0.001 and 1000",
            ),
            (r#"{"name":"x","rate":1e-300}"#, "rate must be between"),
            (r#"{"name":"x","rate":0}"#, "rate must be between"),
            (
                r#"{"name":"x","steps":[{"wait_for":{"event":"a","timeout_ms":18446744073709551615}}]}"#,
                "wait_for timeout_ms",
            ),
            (
                r#"{"name":"x","steps":[{"loop":{"count":4294967295,"steps":[{"loop":{"count":4294967295,"steps":[]}}]}}]}"#,
                "steps per pass with its loops expanded; at most 1000000",
            ),
            (
                r#"{"name":"x","setup":[{"loop":{"count":1000001,"steps":[]}}]}"#,
                "setup runs 1000001 steps",
            ),
        ] {
            let e = parse(text, "s.json").expect_err(text).to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
        // At the limits: accepted.
        parse(r#"{"name":"x","rate":1000,"steps":[{"think":{"min_ms":0,"max_ms":86400000}},{"loop":{"count":999998,"steps":[]}}]}"#, "ok.json").expect("at the limits");
    }

    #[test]
    fn steps_deserialize_in_every_form() {
        let s = parse(
            r#"{"name":"all","steps":[
                {"emit":{"event":"a","data":{"x":1}}},
                {"emit_with_ack":{"event":"b","timeout_ms":100}},
                {"wait_for":{"event":"c"}},
                {"think":{"ms":5}},
                {"think":{"min_ms":1,"max_ms":2}},
                {"loop":{"count":2,"steps":[{"emit":{"event":"d"}}]}}
            ]}"#,
            "all.json",
        )
        .expect("parse");
        assert_eq!(s.steps.len(), 6);
        assert_eq!(s.steps[3], Step::Think(Think::Fixed { ms: 5 }));
        assert_eq!(
            s.steps[2],
            Step::WaitFor {
                event: "c".into(),
                timeout_ms: 5000
            }
        );
    }
}
