//! Fault rules: what the proxy does to traffic on purpose, so an operator can see
//! how their app behaves when the network or the gateway misbehaves.
//!
//! A rule is one line, the action then `key=value` settings (the same text on the
//! command line, `--rule`, and in the desktop's Proxy panel):
//!
//! - `delay by=200ms [jitter=50ms]`: hold matching events (and, as on a real link,
//!   everything behind them on that client's connection) for the time;
//! - `drop`: matching events never reach the other side;
//! - `rewrite path=/0/price value=0`: set a field of the event's arguments (a JSON
//!   pointer into the argument array) to a JSON value;
//! - `close`: close the client's transport when a matching event crosses (the event
//!   is not delivered); `close after=5s`: that long after the handshake;
//! - `no-upgrade`: refuse the polling→websocket upgrade, so the client stays on
//!   long-polling;
//! - `throttle bps=2000`: at most that many bytes per second per client and
//!   direction.
//!
//! Event rules match with `event=NAME` (default: every event), `dir=c2s|s2c`
//! (default: both) and `ns=/name` (default: every namespace); `count=N` applies a
//! rule to its first N matches only. Lifecycle packets (connect, disconnect, acks)
//! are never matched by event rules.
//!
//! Parsing is strict: an unknown action or setting, a bad duration, JSON or pointer
//! is an error naming the rule, never a rule that silently does nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use sockscope_protocol::Direction;

use crate::error::RuleError;

/// Longest delay or `close after` a rule may ask for.
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// What a rule does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Delay { by: Duration, jitter: Duration },
    Drop,
    Rewrite { pointer: String, value: Value },
    Close { after: Option<Duration> },
    NoUpgrade,
    Throttle { bytes_per_sec: u64 },
}

/// Which events a rule applies to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    pub event: Option<String>,
    pub direction: Option<Direction>,
    pub namespace: Option<String>,
}

impl Filter {
    pub fn matches(&self, direction: Direction, namespace: &str, event: &str) -> bool {
        self.event.as_deref().is_none_or(|e| e == event)
            && self.direction.is_none_or(|d| d == direction)
            && self.namespace.as_deref().is_none_or(|n| n == namespace)
    }
}

/// One parsed `--rule`.
#[derive(Debug)]
pub struct Rule {
    /// 1-based, as the operator numbered them.
    pub number: usize,
    /// The rule as written, for fault descriptions.
    pub text: String,
    pub action: Action,
    pub filter: Filter,
    /// Apply to the first N matches only.
    pub count: Option<u64>,
    matched: AtomicU64,
}

impl Rule {
    /// Parses rule number `number` (1-based).
    pub fn parse(number: usize, text: &str) -> Result<Self, RuleError> {
        let bad = |why: String| RuleError {
            rule: text.trim().chars().take(120).collect(),
            why,
        };
        let mut words = text.split_whitespace();
        let verb = words.next().ok_or_else(|| bad("empty rule".into()))?;
        let mut settings = Vec::new();
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| bad(format!("{w:?} is not key=value")))?;
            if settings.iter().any(|(seen, _)| *seen == k) {
                return Err(bad(format!("{k} is given twice")));
            }
            settings.push((k, v));
        }
        let mut filter = Filter::default();
        let mut count = None;
        let mut by = None;
        let mut jitter = Duration::ZERO;
        let mut pointer = None;
        let mut value = None;
        let mut after = None;
        let mut bps = None;
        let duration = |k: &str, v: &str| -> Result<Duration, RuleError> {
            let d = humantime::parse_duration(v)
                .map_err(|e| bad(format!("{k}={v}: {e} (e.g. 200ms, 2s)")))?;
            if d > MAX_DELAY {
                return Err(bad(format!("{k}={v} is over an hour")));
            }
            Ok(d)
        };
        for (k, v) in settings {
            match k {
                "event" if !v.is_empty() => filter.event = Some(v.to_owned()),
                "dir" => {
                    filter.direction = Some(match v {
                        "c2s" => Direction::C2s,
                        "s2c" => Direction::S2c,
                        _ => return Err(bad(format!("dir={v}: c2s or s2c"))),
                    })
                }
                "ns" if v.starts_with('/') => filter.namespace = Some(v.to_owned()),
                "ns" => return Err(bad(format!("ns={v}: a namespace starts with /"))),
                "count" => {
                    count = Some(
                        v.parse::<u64>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| bad(format!("count={v}: a positive number")))?,
                    )
                }
                "by" if verb == "delay" => by = Some(duration(k, v)?),
                "jitter" if verb == "delay" => jitter = duration(k, v)?,
                "path" if verb == "rewrite" => {
                    if !v.starts_with('/') {
                        return Err(bad(format!(
                            "path={v}: a JSON pointer into the arguments, e.g. /0/price"
                        )));
                    }
                    pointer = Some(v.to_owned());
                }
                "value" if verb == "rewrite" => {
                    value = Some(
                        serde_json::from_str::<Value>(v)
                            .map_err(|e| bad(format!("value={v}: not JSON ({e})")))?,
                    )
                }
                "after" if verb == "close" => after = Some(duration(k, v)?),
                "bps" if verb == "throttle" => {
                    bps = Some(
                        v.parse::<u64>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| bad(format!("bps={v}: bytes per second, > 0")))?,
                    )
                }
                _ => return Err(bad(format!("{verb} takes no {k}=..."))),
            }
        }
        let action = match verb {
            "delay" => {
                let by = by.ok_or_else(|| bad("delay needs by=DURATION".into()))?;
                if jitter > by {
                    return Err(bad("jitter cannot be larger than by".into()));
                }
                Action::Delay { by, jitter }
            }
            "drop" => Action::Drop,
            "rewrite" => Action::Rewrite {
                pointer: pointer.ok_or_else(|| bad("rewrite needs path=/POINTER".into()))?,
                value: value.ok_or_else(|| bad("rewrite needs value=JSON".into()))?,
            },
            "close" => Action::Close { after },
            "no-upgrade" => Action::NoUpgrade,
            "throttle" => Action::Throttle {
                bytes_per_sec: bps.ok_or_else(|| bad("throttle needs bps=N".into()))?,
            },
            other => {
                return Err(bad(format!(
                    "unknown action {other:?}: delay, drop, rewrite, close, no-upgrade or throttle"
                )))
            }
        };
        let connection_wide = matches!(action, Action::NoUpgrade | Action::Throttle { .. })
            || matches!(action, Action::Close { after: Some(_) });
        if connection_wide && (filter.event.is_some() || filter.namespace.is_some()) {
            return Err(bad(format!(
                "{verb} applies to a whole connection: no event= or ns="
            )));
        }
        Ok(Self {
            number,
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            action,
            filter,
            count,
            matched: AtomicU64::new(0),
        })
    }

    /// Does this rule act on this event, counting the match against `count`?
    fn take(&self, direction: Direction, namespace: &str, event: &str) -> bool {
        if !self.filter.matches(direction, namespace, event) {
            return false;
        }
        let n = self.matched.fetch_add(1, Ordering::Relaxed);
        self.count.is_none_or(|c| n < c)
    }

    /// `rule 2 (drop event=tick)`.
    pub fn label(&self) -> String {
        format!("rule {} ({})", self.number, self.text)
    }
}

/// Parses every `--rule`, numbering them from 1.
pub fn parse_all(texts: &[String]) -> Result<Vec<Rule>, RuleError> {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| Rule::parse(i + 1, t))
        .collect()
}

/// What the rules decided for one event.
#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    pub delay: Duration,
    pub drop: bool,
    pub close: bool,
    /// The new arguments when a rewrite applied.
    pub rewritten: Option<Value>,
    /// One line per fault, for the record and the client's list.
    pub faults: Vec<String>,
}

impl Verdict {
    /// Does the packet leave unchanged?
    pub fn untouched(&self) -> bool {
        self.faults.is_empty()
    }
}

/// Applies the event rules to one event crossing in `direction`.
pub fn judge(
    rules: &[Rule],
    direction: Direction,
    namespace: &str,
    event: &str,
    args: &Value,
) -> Verdict {
    let mut v = Verdict::default();
    for r in rules {
        let event_rule = match &r.action {
            Action::Delay { .. } | Action::Drop | Action::Rewrite { .. } => true,
            Action::Close { after } => after.is_none(),
            Action::NoUpgrade | Action::Throttle { .. } => false,
        };
        if !event_rule || !r.take(direction, namespace, event) {
            continue;
        }
        match &r.action {
            Action::Delay { by, jitter } => {
                let d = jittered(*by, *jitter);
                v.delay += d;
                v.faults
                    .push(format!("delayed {} ms by {}", d.as_millis(), r.label()));
            }
            Action::Drop => {
                v.drop = true;
                v.faults.push(format!("dropped by {}", r.label()));
            }
            Action::Rewrite { pointer, value } => {
                let mut new = v.rewritten.take().unwrap_or_else(|| args.clone());
                match new.pointer_mut(pointer) {
                    Some(slot) => {
                        let was = std::mem::replace(slot, value.clone());
                        v.faults.push(format!(
                            "rewrote {pointer} from {} by {}",
                            clip(&was.to_string()),
                            r.label()
                        ));
                        v.rewritten = Some(new);
                    }
                    None => v.rewritten = Some(new),
                }
            }
            Action::Close { .. } => {
                v.close = true;
                v.faults.push(format!("transport closed by {}", r.label()));
            }
            Action::NoUpgrade | Action::Throttle { .. } => {}
        }
    }
    // A rewrite whose pointer matched nothing changed nothing.
    if v.rewritten.as_ref() == Some(args) {
        v.rewritten = None;
    }
    v
}

/// The first `no-upgrade` rule.
pub fn no_upgrade(rules: &[Rule]) -> Option<&Rule> {
    rules.iter().find(|r| r.action == Action::NoUpgrade)
}

/// The tightest `throttle` in `direction`, bytes per second.
pub fn throttle(rules: &[Rule], direction: Direction) -> Option<u64> {
    rules
        .iter()
        .filter(|r| r.filter.direction.is_none_or(|d| d == direction))
        .filter_map(|r| match r.action {
            Action::Throttle { bytes_per_sec } => Some(bytes_per_sec),
            _ => None,
        })
        .min()
}

/// The first `close after=` rule.
pub fn close_after(rules: &[Rule]) -> Option<(&Rule, Duration)> {
    rules.iter().find_map(|r| match r.action {
        Action::Close { after: Some(d) } => Some((r, d)),
        _ => None,
    })
}

fn jittered(by: Duration, jitter: Duration) -> Duration {
    if jitter.is_zero() {
        return by;
    }
    let j = jitter.as_micros() as u64;
    let offset = fastrand::u64(0..=2 * j) as i128 - j as i128;
    let us = (by.as_micros() as i128 + offset).max(0) as u64;
    Duration::from_micros(us)
}

fn clip(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(40).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(texts: &[&str]) -> Vec<Rule> {
        parse_all(&texts.iter().map(|t| t.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn every_action_parses_with_its_settings() {
        let r = rules(&[
            "delay by=200ms jitter=50ms event=tick dir=s2c",
            "drop event=chat ns=/room count=2",
            "rewrite path=/0/price value=0",
            "close event=bye",
            "close after=5s",
            "no-upgrade",
            "throttle bps=1000",
        ]);
        assert_eq!(
            r[0].action,
            Action::Delay {
                by: Duration::from_millis(200),
                jitter: Duration::from_millis(50)
            }
        );
        assert_eq!(r[0].filter.direction, Some(Direction::S2c));
        assert_eq!(r[1].count, Some(2));
        assert_eq!(r[1].filter.namespace.as_deref(), Some("/room"));
        assert_eq!(
            r[2].action,
            Action::Rewrite {
                pointer: "/0/price".into(),
                value: json!(0)
            }
        );
        assert_eq!(
            r[4].action,
            Action::Close {
                after: Some(Duration::from_secs(5))
            }
        );
        assert!(no_upgrade(&r).is_some());
        assert_eq!(throttle(&r, Direction::C2s), Some(1000));
    }

    #[test]
    fn bad_rules_are_errors_naming_the_problem() {
        for (text, says) in [
            ("", "empty rule"),
            ("explode", "unknown action"),
            ("delay", "needs by="),
            ("delay by=fast", "by=fast"),
            ("delay by=2h", "over an hour"),
            ("delay by=10ms jitter=20ms", "jitter"),
            ("drop dir=up", "c2s or s2c"),
            ("drop ns=room", "starts with /"),
            ("drop by=2s", "takes no by"),
            ("drop event=a event=b", "twice"),
            ("rewrite path=price value=1", "JSON pointer"),
            ("rewrite path=/0 value={", "not JSON"),
            ("throttle bps=0", "> 0"),
            ("no-upgrade event=x", "whole connection"),
            ("drop count=0", "positive"),
            ("drop tick", "not key=value"),
        ] {
            let err = Rule::parse(1, text).unwrap_err().to_string();
            assert!(err.contains(says), "{text:?} gave {err:?}, wanted {says:?}");
        }
    }

    #[test]
    fn filters_and_counts_decide_which_events_a_rule_takes() {
        let r = rules(&["drop event=tick dir=s2c count=2"]);
        let args = json!([1]);
        assert!(!judge(&r, Direction::C2s, "/", "tick", &args).drop);
        assert!(!judge(&r, Direction::S2c, "/", "tock", &args).drop);
        assert!(judge(&r, Direction::S2c, "/", "tick", &args).drop);
        assert!(judge(&r, Direction::S2c, "/", "tick", &args).drop);
        // The third match is past count=2.
        let third = judge(&r, Direction::S2c, "/", "tick", &args);
        assert!(third.untouched(), "{third:?}");
    }

    #[test]
    fn rewrite_sets_the_field_and_says_what_it_was() {
        let r = rules(&["rewrite path=/0/price value=0 event=quote"]);
        let v = judge(
            &r,
            Direction::S2c,
            "/",
            "quote",
            &json!([{"price": 12.5, "sym": "X"}]),
        );
        assert_eq!(v.rewritten, Some(json!([{"price": 0, "sym": "X"}])));
        assert!(
            v.faults[0].contains("rewrote /0/price from 12.5 by rule 1"),
            "{v:?}"
        );
        // A pointer that matches nothing leaves the event untouched.
        let v = judge(&r, Direction::S2c, "/", "quote", &json!(["flat"]));
        assert!(v.untouched() && v.rewritten.is_none(), "{v:?}");
    }

    #[test]
    fn jitter_stays_within_its_bounds() {
        let r = rules(&["delay by=100ms jitter=30ms"]);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let d = judge(&r, Direction::C2s, "/", "e", &json!([])).delay;
            assert!(
                d >= Duration::from_millis(70) && d <= Duration::from_millis(130),
                "{d:?}"
            );
            seen.insert(d.as_millis());
        }
        assert!(seen.len() > 10, "jitter varies: {seen:?}");
    }
}
