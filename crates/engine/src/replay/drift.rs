//! The drift report: how a target's answers to a replay differ from the answers the
//! source session got.
//!
//! A replay against staging is a regression check: "does staging say what production
//! said to the same client traffic?". The comparison is deliberately simple and
//! explainable:
//!
//! - **Counts** of server-to-client events per name, source session vs replay. The
//!   expected count is the source's count times the loop count. Connection
//!   lifecycle pseudo-events (`connect`, `disconnect`, `connect_error`) are not
//!   counted. With `only`/`skip` filters the source's counts still cover the whole
//!   session, so filtered replays can show fewer events than expected; that is the
//!   filter's doing and the report says it as it is.
//! - **Missing** names: received in the source, never in the replay; **unexpected**
//!   names: the other way round.
//! - **Ack payloads**, send by send: the source's reply (with the literal rewrite
//!   rules applied, because the replay's world is the rewritten one) against the
//!   replay's reply, compared structurally as JSON after dropping every object key
//!   listed in `ignore` at any depth (timestamps, request ids). A send whose ack
//!   never came is a mismatch with a null reply and the reason. Both replies are
//!   redacted (`crate::redact`) before they are compared, so a live secret never
//!   reaches the report and a redacted recording still compares equal.
//! - **Latency** of each acked send where both sides know it. Our client records an
//!   ack as `{"reply": R, "latency_ms": L}`; other sources (the embedded gateway,
//!   imports) record the plain reply and no latency.

use std::collections::BTreeMap;

use serde_json::Value;
use sockscope_protocol::{
    AckDrift, Direction, DriftReport, EventCountDrift, EventRecord, LatencyDrift,
};

/// Events a connection reports about itself rather than receives from the server.
pub fn is_lifecycle(event: &str) -> bool {
    matches!(event, "connect" | "disconnect" | "connect_error")
}

/// A recorded ack reply and, when our client recorded it, its latency.
pub fn original_ack(rec: &EventRecord) -> Option<(Value, Option<f64>)> {
    let reply = rec.ack.as_ref()?.reply.as_ref()?;
    if let Value::Object(map) = reply {
        if map.len() == 2 && map.contains_key("reply") {
            if let Some(latency) = map.get("latency_ms").and_then(Value::as_f64) {
                return Some((map["reply"].clone(), Some(latency)));
            }
        }
    }
    Some((reply.clone(), None))
}

/// What became of one send's ack.
#[derive(Debug, Clone, PartialEq)]
pub enum AckOutcome {
    /// The source event had no ack, so none was asked for.
    NotAsked,
    Reply {
        value: Value,
        latency_ms: f64,
    },
    Failed(String),
}

/// One re-sent event, as the drift comparison needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOutcome {
    pub event: String,
    /// The source's ack reply (literal rewrites applied), when it had one.
    pub expected: Option<Value>,
    pub original_latency_ms: Option<f64>,
    pub outcome: AckOutcome,
}

/// Removes every object key named in `ignore`, at any depth.
pub fn strip_keys(v: &mut Value, ignore: &[String]) {
    if ignore.is_empty() {
        return;
    }
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !ignore.iter().any(|i| i == k));
            map.values_mut().for_each(|x| strip_keys(x, ignore));
        }
        Value::Array(items) => items.iter_mut().for_each(|x| strip_keys(x, ignore)),
        _ => {}
    }
}

fn s2c_counts(records: &[EventRecord]) -> BTreeMap<&str, u64> {
    let mut counts = BTreeMap::new();
    for r in records {
        if r.direction == Direction::S2c && !is_lifecycle(&r.event) {
            *counts.entry(r.event.as_str()).or_insert(0) += 1;
        }
    }
    counts
}

/// Compares a replay with its source. Fills counts, missing/unexpected names, ack
/// mismatches and latencies; the caller fills the identities and schedule.
pub fn compare(
    original: &[EventRecord],
    replayed: &[EventRecord],
    sends: &[SendOutcome],
    loops: u32,
    ignore: &[String],
) -> DriftReport {
    let want = s2c_counts(original);
    let got = s2c_counts(replayed);
    let mut names: Vec<&str> = want.keys().chain(got.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    let mut report = DriftReport {
        sent: sends.len() as u64,
        ..DriftReport::default()
    };
    for name in names {
        let expected = want.get(name).copied().unwrap_or(0) * u64::from(loops.max(1));
        let received = got.get(name).copied().unwrap_or(0);
        if expected > 0 && received == 0 {
            report.missing.push(name.to_owned());
        }
        if expected == 0 && received > 0 {
            report.unexpected.push(name.to_owned());
        }
        report.events.push(EventCountDrift {
            event: name.to_owned(),
            expected,
            received,
        });
    }
    // Both sides are compared (and shown) as the redaction policy leaves them: the
    // recorded reply was redacted when it was recorded, the live one is here, and a
    // rewrite may have put a secret back into the expected one.
    let policy = crate::redact::policy();
    for (index, send) in sends.iter().enumerate() {
        let Some(expected) = &send.expected else {
            continue;
        };
        let mut expected = expected.clone();
        policy.value(&mut expected);
        strip_keys(&mut expected, ignore);
        match &send.outcome {
            AckOutcome::NotAsked => {}
            AckOutcome::Failed(error) => report.ack_mismatches.push(AckDrift {
                event: send.event.clone(),
                index,
                expected,
                received: Value::Null,
                error: Some(policy.text(error).into_owned()),
            }),
            AckOutcome::Reply { value, latency_ms } => {
                let mut received = value.clone();
                policy.value(&mut received);
                strip_keys(&mut received, ignore);
                if received != expected {
                    report.ack_mismatches.push(AckDrift {
                        event: send.event.clone(),
                        index,
                        expected,
                        received,
                        error: None,
                    });
                }
                if let Some(original_ms) = send.original_latency_ms {
                    report.latency.push(LatencyDrift {
                        event: send.event.clone(),
                        index,
                        original_ms,
                        replay_ms: *latency_ms,
                        delta_ms: latency_ms - original_ms,
                    });
                }
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sockscope_protocol::AckInfo;
    use sockscope_test_support::{ack, Event};

    fn rec(direction: Direction, event: &str) -> EventRecord {
        Event::new(event, json!([]))
            .source("connection:1")
            .direction(direction)
            .build()
    }

    fn s2c(names: &[&str]) -> Vec<EventRecord> {
        names.iter().map(|n| rec(Direction::S2c, n)).collect()
    }

    fn send(event: &str, expected: Option<Value>, outcome: AckOutcome) -> SendOutcome {
        SendOutcome {
            event: event.into(),
            expected,
            original_latency_ms: None,
            outcome,
        }
    }

    #[test]
    fn counts_missing_and_unexpected_ignore_lifecycle_events() {
        let original = s2c(&["connect", "metric", "metric", "tile", "disconnect"]);
        let replayed = s2c(&["connect", "metric", "alert"]);
        let r = compare(&original, &replayed, &[], 1, &[]);
        assert_eq!(
            r.events,
            vec![
                EventCountDrift {
                    event: "alert".into(),
                    expected: 0,
                    received: 1
                },
                EventCountDrift {
                    event: "metric".into(),
                    expected: 2,
                    received: 1
                },
                EventCountDrift {
                    event: "tile".into(),
                    expected: 1,
                    received: 0
                },
            ]
        );
        assert_eq!(r.missing, vec!["tile"]);
        assert_eq!(r.unexpected, vec!["alert"]);
        assert!(!r.is_clean());
    }

    #[test]
    fn loops_multiply_expected_counts_and_c2s_is_not_counted() {
        let mut original = s2c(&["metric"]);
        original.push(rec(Direction::C2s, "subscribe"));
        let mut replayed = s2c(&["metric", "metric", "metric"]);
        replayed.push(rec(Direction::C2s, "subscribe"));
        let r = compare(&original, &replayed, &[], 3, &[]);
        assert_eq!(r.events.len(), 1);
        assert_eq!((r.events[0].expected, r.events[0].received), (3, 3));
        assert!(r.is_clean());
    }

    #[test]
    fn ack_payloads_compare_structurally_after_ignoring_keys() {
        let ignore = vec!["ts".to_owned()];
        let sends = vec![
            // Same up to key order and an ignored timestamp: no drift.
            send(
                "echo",
                Some(json!({"a": 1, "b": [1, 2], "ts": 1})),
                AckOutcome::Reply {
                    value: json!({"ts": 99, "b": [1, 2], "a": 1}),
                    latency_ms: 2.0,
                },
            ),
            // A different value: drift at index 1.
            send(
                "set_tenant",
                Some(json!({"ok": true, "meta": {"ts": 5, "tenant": "t2"}})),
                AckOutcome::Reply {
                    value: json!({"ok": false, "meta": {"ts": 6, "tenant": "t2"}}),
                    latency_ms: 2.0,
                },
            ),
            // No ack expected: nothing to compare.
            send("subscribe", None, AckOutcome::NotAsked),
            // The ack never came.
            send(
                "echo",
                Some(json!(1)),
                AckOutcome::Failed("no ack within 5s".into()),
            ),
        ];
        let r = compare(&[], &[], &sends, 1, &ignore);
        assert_eq!(r.sent, 4);
        assert_eq!(r.ack_mismatches.len(), 2, "{:?}", r.ack_mismatches);
        let m = &r.ack_mismatches[0];
        assert_eq!((m.event.as_str(), m.index), ("set_tenant", 1));
        assert_eq!(m.expected, json!({"ok": true, "meta": {"tenant": "t2"}}));
        assert_eq!(m.received, json!({"ok": false, "meta": {"tenant": "t2"}}));
        let f = &r.ack_mismatches[1];
        assert_eq!((f.index, &f.received), (3, &Value::Null));
        assert!(f.error.as_deref().unwrap_or("").contains("no ack"));
    }

    #[test]
    fn live_secrets_never_reach_the_report_and_redacted_recordings_still_match() {
        let sends = vec![
            // Recorded redacted, answered live with a fresh token: no drift.
            send(
                "login",
                Some(json!({"accessToken": crate::redact::REDACTED, "user": "ann"})),
                AckOutcome::Reply {
                    value: json!({"accessToken": "live-secret-1", "user": "ann"}),
                    latency_ms: 1.0,
                },
            ),
            send(
                "login",
                Some(json!({"user": "ann"})),
                AckOutcome::Reply {
                    value: json!({"user": "bob", "apiKey": "live-secret-2"}),
                    latency_ms: 1.0,
                },
            ),
        ];
        let r = compare(&[], &[], &sends, 1, &[]);
        assert_eq!(r.ack_mismatches.len(), 1, "{:?}", r.ack_mismatches);
        let text = serde_json::to_string(&r).unwrap_or_default();
        assert!(!text.contains("live-secret"), "{text}");
        assert!(text.contains("bob"), "{text}");
    }

    #[test]
    fn latency_deltas_only_where_both_sides_know_it() {
        let mut known = send(
            "echo",
            Some(json!(1)),
            AckOutcome::Reply {
                value: json!(1),
                latency_ms: 15.0,
            },
        );
        known.original_latency_ms = Some(10.0);
        let unknown = send(
            "echo",
            Some(json!(1)),
            AckOutcome::Reply {
                value: json!(1),
                latency_ms: 15.0,
            },
        );
        let r = compare(&[], &[], &[known, unknown], 1, &[]);
        assert_eq!(r.latency.len(), 1);
        assert_eq!(r.latency[0].index, 0);
        assert!((r.latency[0].delta_ms - 5.0).abs() < 1e-9);
        assert!(r.is_clean());
    }

    #[test]
    fn original_acks_unwrap_our_clients_format_and_keep_plain_replies() {
        let mut r = rec(Direction::C2s, "echo");
        r.ack = Some(ack(1, json!({"reply": {"ok": 1}, "latency_ms": 12.5})));
        assert_eq!(original_ack(&r), Some((json!({"ok": 1}), Some(12.5))));
        r.ack = Some(ack(1, json!({"ok": 1})));
        assert_eq!(original_ack(&r), Some((json!({"ok": 1}), None)));
        r.ack = Some(AckInfo {
            id: Some(1),
            reply: None,
            latency_us: None,
        });
        assert_eq!(original_ack(&r), None);
        r.ack = None;
        assert_eq!(original_ack(&r), None);
    }
}
