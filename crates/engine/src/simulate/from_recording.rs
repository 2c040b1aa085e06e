//! Scenarios from recordings: turns what one recorded socket did (its namespace, whether
//! it authenticated, its client emits in order, the acks it awaited, the server events
//! it reacted to and the gaps between) into a scenario in the ordinary format, so a
//! load test replays real client behaviour instead of a hand-written guess.
//!
//! Ids that must differ between virtual clients (`--vary entityId=uuid`) become the
//! simulator's own per-client placeholders (`{{uuid}}`, `{{client}}`, `{{pick:a,b}}`,
//! see [`super::scenario::Variables`]), so there is one templating mechanism.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use sockscope_protocol::{Direction, EventRecord};

/// Ack timeouts in the generated steps: never below this, else 4x the recorded wait.
const MIN_TIMEOUT_MS: u64 = 5000;

/// How a varied field's value is made per virtual client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaryKind {
    /// A UUID per client (and per distinct recorded value).
    Uuid,
    /// The client's sequence number.
    Seq,
    /// One of these, by client number.
    Pick(Vec<String>),
}

/// `--vary FIELD=KIND`: the dotted path of a JSON field in emitted payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vary {
    pub path: Vec<String>,
    pub kind: VaryKind,
}

impl std::str::FromStr for Vary {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (field, kind) = s
            .split_once('=')
            .ok_or_else(|| format!("--vary {s:?}: expected FIELD=uuid|seq|pick:a,b"))?;
        let path: Vec<String> = field.trim().split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!("--vary {s:?}: empty field name"));
        }
        let kind = match kind.trim() {
            "uuid" => VaryKind::Uuid,
            "seq" => VaryKind::Seq,
            k => match k.strip_prefix("pick:") {
                Some(list) => {
                    let items: Vec<String> = list.split(',').map(|i| i.trim().to_owned()).collect();
                    if items.iter().any(|i| i.is_empty() || i.contains('}')) {
                        return Err(format!("--vary {s:?}: pick needs a list like pick:a,b"));
                    }
                    VaryKind::Pick(items)
                }
                None => return Err(format!("--vary {s:?}: kind must be uuid, seq or pick:a,b")),
            },
        };
        Ok(Vary { path, kind })
    }
}

/// What to generate.
#[derive(Debug, Clone, Default)]
pub struct FromOptions {
    /// Scenario name (default `from-session-N`).
    pub name: String,
    /// Gateway profile for `--embedded` (e.g. from the session's meta).
    pub profile: Option<String>,
    /// Which socket to take (default: every socket that emitted).
    pub socket: Option<String>,
    /// Virtual clients per recorded socket (the scenario's default client count).
    pub clients: Option<usize>,
    /// The handshake auth object's keys, when the session kept them (a `record`
    /// session's `auth_keys`; the values are secrets and never recorded).
    pub auth_keys: Vec<String>,
    pub vary: Vec<Vary>,
}

/// One recorded socket's records, in order.
#[derive(Debug, Default)]
struct SocketLog {
    namespace: String,
    authenticated: bool,
    records: Vec<EventRecord>,
    emits: usize,
}

/// Builds the scenario JSON from one session's records. Errors say why (no socket
/// with client events, unknown socket).
pub fn generate(records: &[EventRecord], opts: &FromOptions) -> Result<Value, String> {
    let mut sockets: BTreeMap<String, SocketLog> = BTreeMap::new();
    for r in records {
        // The embedded gateway names the socket; a client connection's records carry
        // none, and its source (`connection:<id>`) is the one socket.
        let id = r.socket_id.as_ref().unwrap_or(&r.source);
        let log = sockets.entry(id.clone()).or_default();
        if log.records.is_empty() {
            log.namespace = r.namespace.clone();
        }
        log.authenticated |= r.tenant.is_some() || r.user.is_some();
        if r.direction == Direction::C2s && !is_lifecycle(&r.event) {
            log.emits += 1;
        }
        log.records.push(r.clone());
    }
    let chosen: Vec<(&String, &SocketLog)> = match &opts.socket {
        Some(want) => vec![sockets
            .iter()
            .find(|(id, _)| *id == want)
            .ok_or_else(|| format!("socket {want} is not in the recording"))?],
        None => sockets.iter().filter(|(_, l)| l.emits > 0).collect(),
    };
    if chosen.is_empty() {
        return Err("the recording has no socket that emitted a client event".to_owned());
    }
    // One slot table for the whole file: a value two sockets shared stays shared.
    let mut slots = Slots::default();
    let scripts: Vec<Map<String, Value>> = chosen
        .iter()
        .map(|(_, log)| {
            let mut script = Map::new();
            script.insert("namespace".into(), json!(log.namespace));
            if log.authenticated || !opts.auth_keys.is_empty() {
                script.insert("auth".into(), auth_shape(&opts.auth_keys));
            }
            script.insert(
                "setup".into(),
                Value::Array(steps_of(&log.records, &opts.vary, &mut slots)),
            );
            script.insert("steps".into(), json!([]));
            script
        })
        .collect();
    let emits: usize = chosen.iter().map(|(_, l)| l.emits).sum();
    let ids: Vec<&str> = chosen.iter().map(|(id, _)| id.as_str()).collect();
    let mut scenario = Map::new();
    scenario.insert("name".into(), json!(opts.name));
    scenario.insert(
        "description".into(),
        json!(format!(
            "Generated from recorded socket(s) {} ({emits} client emits; {} sockets recorded).",
            ids.join(", "),
            sockets.len()
        )),
    );
    if let Some(p) = &opts.profile {
        scenario.insert("profile".into(), json!(p));
    }
    if let Some(n) = opts.clients {
        scenario.insert("clients".into(), json!(n.saturating_mul(scripts.len())));
    }
    match <[_; 1]>::try_from(scripts) {
        Ok([one]) => scenario.extend(one),
        Err(many) => {
            scenario.insert(
                "sockets".into(),
                Value::Array(many.into_iter().map(Value::Object).collect()),
            );
        }
    }
    Ok(Value::Object(scenario))
}

/// The auth object with each recorded key given the simulator's matching per-client
/// variable (a minted token by default); `{"token": "{{token}}"}` without keys.
fn auth_shape(keys: &[String]) -> Value {
    if keys.is_empty() {
        return json!({ "token": "{{token}}" });
    }
    let pick = |k: &str| {
        let k = k.to_ascii_lowercase();
        if k.contains("tenant") || k.contains("org") {
            "{{tenant}}"
        } else if k.contains("user") || k == "sub" {
            "{{user}}"
        } else if k.contains("entity") {
            "{{entity}}"
        } else {
            "{{token}}"
        }
    };
    Value::Object(keys.iter().map(|k| (k.clone(), json!(pick(k)))).collect())
}

/// The sockets of the recording (a user may pick one with `--socket`).
pub fn socket_ids(records: &[EventRecord]) -> Vec<String> {
    let mut ids: Vec<String> = records
        .iter()
        .map(|r| r.socket_id.clone().unwrap_or_else(|| r.source.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn is_lifecycle(event: &str) -> bool {
    matches!(event, "connect" | "disconnect")
}

/// Per varied field: which recorded values got which slot (0, 1, ...).
#[derive(Default)]
struct Slots(BTreeMap<String, Vec<String>>);

impl Slots {
    fn slot(&mut self, field: &str, value: &str) -> usize {
        let seen = self.0.entry(field.to_owned()).or_default();
        match seen.iter().position(|v| v == value) {
            Some(k) => k,
            None => {
                seen.push(value.to_owned());
                seen.len() - 1
            }
        }
    }
}

fn placeholder(kind: &VaryKind, slot: usize) -> String {
    match (kind, slot) {
        (VaryKind::Uuid, 0) => "{{uuid}}".to_owned(),
        (VaryKind::Uuid, k) => format!("{{{{uuid:{k}}}}}"),
        (VaryKind::Seq, 0) => "{{client}}".to_owned(),
        (VaryKind::Seq, k) => format!("{{{{client}}}}-{k}"),
        (VaryKind::Pick(items), _) => format!("{{{{pick:{}}}}}", items.join(",")),
    }
}

/// Replaces each varied field present in `data` (an emit's first argument).
fn vary(data: &mut Value, rules: &[Vary], slots: &mut Slots) {
    for rule in rules {
        let pointer: String = rule
            .path
            .iter()
            .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
            .collect();
        let Some(v) = data.pointer_mut(&pointer) else {
            continue;
        };
        let recorded = match &*v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let k = slots.slot(&rule.path.join("."), &recorded);
        *v = Value::String(placeholder(&rule.kind, k));
    }
}

/// The steps of one socket: think for each recorded gap, wait for the server events
/// that came to it since its previous emit, then emit (with an ack when it had one).
fn steps_of(records: &[EventRecord], rules: &[Vary], slots: &mut Slots) -> Vec<Value> {
    let mut steps = Vec::new();
    let mut last_ts = records.first().map_or(0, |r| r.ts);
    let mut heard: Vec<&EventRecord> = Vec::new();
    for r in records {
        if is_lifecycle(&r.event) {
            continue;
        }
        match r.direction {
            Direction::S2c => heard.push(r),
            Direction::C2s => {
                // Wait for each distinct server event it heard since its last emit,
                // in the order first heard; think from there to the emit.
                let mut waited: Vec<&str> = Vec::new();
                for h in &heard {
                    if waited.contains(&h.event.as_str()) {
                        continue;
                    }
                    waited.push(&h.event);
                    let gap = gap_ms(last_ts, h.ts);
                    steps.push(
                        json!({ "wait_for": { "event": h.event, "timeout_ms": timeout(gap) } }),
                    );
                    last_ts = last_ts.max(h.ts);
                }
                heard.clear();
                let think = gap_ms(last_ts, r.ts);
                if think > 0 {
                    steps.push(json!({ "think": { "ms": think } }));
                }
                let mut args = match &r.args {
                    Value::Array(a) => a.clone(),
                    other => vec![other.clone()],
                };
                let mut data = if args.is_empty() {
                    Value::Null
                } else {
                    args.remove(0)
                };
                vary(&mut data, rules, slots);
                let step = if r.ack.is_some() {
                    json!({ "emit_with_ack": { "event": r.event, "data": data, "timeout_ms": MIN_TIMEOUT_MS } })
                } else {
                    json!({ "emit": { "event": r.event, "data": data } })
                };
                steps.push(step);
                last_ts = r.ts;
            }
        }
    }
    steps
}

fn gap_ms(from: i64, to: i64) -> u64 {
    u64::try_from((to - from) / 1000)
        .unwrap_or(0)
        .min(crate::limits::MAX_MS)
}

fn timeout(gap: u64) -> u64 {
    gap.saturating_mul(4)
        .clamp(MIN_TIMEOUT_MS, crate::limits::MAX_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_test_support::Event;

    fn rec(seq: u64, ms: i64, dir: Direction, name: &str, args: Value, ack: bool) -> EventRecord {
        event(seq, ms, dir, name, args, ack).build()
    }

    fn event(seq: u64, ms: i64, dir: Direction, event: &str, args: Value, ack: bool) -> Event {
        Event::new(event, args)
            .seq(seq)
            .ts(1_000_000_000 + ms * 1000)
            .direction(dir)
            .namespace("/dashboard")
            .ack(ack.then(|| sockscope_test_support::ack(seq, json!({"ok": true}))))
            .socket("s1")
            .tenant("acme")
            .user("ann")
    }

    fn recording() -> Vec<EventRecord> {
        use Direction::*;
        vec![
            rec(1, 0, C2s, "connect", json!([]), false),
            rec(
                2,
                100,
                C2s,
                "subscribe",
                json!([{"entityId": "e1", "entityType": "event"}]),
                true,
            ),
            rec(
                3,
                110,
                S2c,
                "dashboard:initial",
                json!([{"entityId": "e1"}]),
                false,
            ),
            rec(4, 600, S2c, "metric:update", json!([{}]), false),
            rec(5, 700, S2c, "metric:update", json!([{}]), false),
            rec(
                6,
                1500,
                C2s,
                "unsubscribe",
                json!([{"entityId": "e1"}]),
                true,
            ),
            rec(
                7,
                1600,
                C2s,
                "subscribe",
                json!([{"entityId": "e2", "entityType": "event"}]),
                true,
            ),
            rec(8, 1700, C2s, "note", json!([{"text": "hi"}]), false),
        ]
    }

    #[test]
    fn reproduces_emits_acks_waits_and_think_times() {
        let opts = FromOptions {
            name: "t".into(),
            profile: Some("analytics".into()),
            ..FromOptions::default()
        };
        let s = generate(&recording(), &opts).expect("generate");
        assert_eq!(s["namespace"], "/dashboard");
        assert_eq!(s["auth"], json!({"token": "{{token}}"}));
        let steps = s["setup"].as_array().expect("steps");
        let kinds: Vec<String> = steps
            .iter()
            .map(|st| {
                st.as_object()
                    .and_then(|o| o.keys().next().cloned())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "think",
                "emit_with_ack",
                "wait_for",
                "wait_for",
                "think",
                "emit_with_ack",
                "think",
                "emit_with_ack",
                "think",
                "emit"
            ]
        );
        assert_eq!(steps[0]["think"]["ms"], 100);
        assert_eq!(steps[2]["wait_for"]["event"], "dashboard:initial");
        assert_eq!(steps[3]["wait_for"]["event"], "metric:update");
        // From the first metric:update (600 ms, the one waited for) to the emit at 1500 ms.
        assert_eq!(steps[4]["think"]["ms"], 900);
        assert_eq!(steps[1]["emit_with_ack"]["data"]["entityId"], "e1");
        // It is a valid scenario.
        let parsed = crate::simulate::scenario::parse(&s.to_string(), "gen.json").expect("parses");
        assert_eq!(parsed.profile, "analytics");
    }

    #[test]
    fn vary_gives_each_distinct_value_its_own_placeholder() {
        let opts = FromOptions {
            name: "t".into(),
            vary: vec!["entityId=uuid".parse().expect("vary")],
            ..FromOptions::default()
        };
        let s = generate(&recording(), &opts).expect("generate");
        let steps = s["setup"].as_array().expect("steps");
        assert_eq!(steps[1]["emit_with_ack"]["data"]["entityId"], "{{uuid}}");
        assert_eq!(steps[5]["emit_with_ack"]["data"]["entityId"], "{{uuid}}");
        assert_eq!(steps[7]["emit_with_ack"]["data"]["entityId"], "{{uuid:1}}");
        // The simulator's variables make them per client and distinct.
        let v = |client| crate::simulate::scenario::Variables {
            client,
            ..Default::default()
        };
        let a = v(0).substitute("{{uuid}}");
        assert_eq!(a, v(0).substitute("{{uuid}}"));
        assert_ne!(a, v(1).substitute("{{uuid}}"));
        assert_ne!(a, v(0).substitute("{{uuid:1}}"));
        assert!(uuid::Uuid::parse_str(&a).is_ok(), "{a}");
        assert_eq!(v(3).substitute("{{pick:x,y}}"), "y");
        let seq: Vary = "a.b=seq".parse().expect("seq");
        let mut data = json!({"a": {"b": 5}});
        vary(&mut data, &[seq], &mut Slots::default());
        assert_eq!(v(9).apply(&data), json!({"a": {"b": "9"}}));
    }

    #[test]
    fn several_sockets_become_a_sockets_list_the_simulator_cycles() {
        let mut records = recording();
        let other = event(9, 50, Direction::C2s, "ping", json!([{"n": 1}]), false)
            .socket("s2")
            .namespace("/")
            .tenant(None)
            .user(None)
            .build();
        records.push(other);
        let opts = FromOptions {
            name: "two".into(),
            clients: Some(5),
            ..FromOptions::default()
        };
        let s = generate(&records, &opts).expect("generate");
        assert_eq!(s["clients"], 10);
        let sockets = s["sockets"].as_array().expect("sockets");
        assert_eq!(sockets.len(), 2);
        assert_eq!(sockets[1]["namespace"], "/");
        assert!(sockets[1].get("auth").is_none(), "s2 was anonymous");
        let parsed = crate::simulate::scenario::parse(&s.to_string(), "two.json").expect("parses");
        let variants = parsed.variants();
        assert_eq!(variants.len(), 2);
        assert_eq!(variants[0].namespace, "/dashboard");
        assert_eq!(variants[1].setup.len(), 1, "{:?}", variants[1].setup);
        // --socket picks one.
        let one = generate(
            &records,
            &FromOptions {
                socket: Some("s2".into()),
                ..FromOptions::default()
            },
        )
        .expect("one");
        assert!(one.get("sockets").is_none());
        assert_eq!(one["namespace"], "/");
    }

    #[test]
    fn a_client_connection_recording_uses_its_source_and_auth_keys() {
        let records: Vec<EventRecord> = recording()
            .into_iter()
            .map(|mut r| {
                r.socket_id = None;
                r.tenant = None;
                r.user = None;
                r.source = "connection:3".into();
                r
            })
            .collect();
        let opts = FromOptions {
            auth_keys: vec!["token".into(), "tenantId".into()],
            ..FromOptions::default()
        };
        let s = generate(&records, &opts).expect("generate");
        assert_eq!(
            s["auth"],
            json!({"token": "{{token}}", "tenantId": "{{tenant}}"})
        );
        assert_eq!(s["setup"].as_array().map(Vec::len), Some(10));
        assert_eq!(socket_ids(&records), ["connection:3"]);
    }

    #[test]
    fn bad_vary_and_empty_recordings_are_refused() {
        for bad in [
            "entityId",
            "=uuid",
            "a..b=uuid",
            "x=rand",
            "x=pick:",
            "x=pick:a,,b",
        ] {
            assert!(bad.parse::<Vary>().is_err(), "{bad}");
        }
        let only_server = vec![rec(1, 0, Direction::S2c, "tick", json!([]), false)];
        assert!(generate(&only_server, &FromOptions::default()).is_err());
        let e = generate(
            &recording(),
            &FromOptions {
                socket: Some("nope".into()),
                ..FromOptions::default()
            },
        )
        .expect_err("unknown socket");
        assert!(e.contains("nope"), "{e}");
    }
}
