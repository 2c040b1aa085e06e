//! Rewrite rules applied to a recorded event's arguments before it is re-sent.
//!
//! A production recording names production things (tenant ids, entity ids, URLs,
//! tokens that were redacted); a staging gateway needs its own. Two kinds of rule,
//! applied in this order to each event's argument list:
//!
//! 1. **Literal** `FROM=>TO`: every occurrence of `FROM` inside every JSON *string
//!    value* of every argument (any depth) becomes `TO`. Object keys, numbers and
//!    the event name are left alone. Rules run in the order given, each on the result
//!    of the one before. `FROM` must not be empty.
//! 2. **Set** `PATH=VALUE`: `PATH` is `$` followed by an optional argument selector
//!    `[N]` (default `[0]`, the first argument) and then steps `.key` or `[index]`,
//!    e.g. `$.tenantID`, `$.filter.entityId`, `$[1].x`, `$.tiles[0].id`. The value at
//!    the path is replaced, and only when it already exists: a rule rewrites the
//!    events that carry the field and leaves the others alone (it never adds a
//!    `tenantID` to an event that had none). When the selected argument or any step
//!    of the path is missing (a key not in the object, an index past the end, a step
//!    into something that is not an object or array), the rule does not apply to
//!    that event (it is skipped, not an error). `VALUE` is JSON when it parses as
//!    JSON (`42`, `true`, `null`, `{"a":1}`, `"quoted"`), else a plain string (`t2`);
//!    a value that starts like JSON (`{`, `[` or `"`) but does not parse is an
//!    error, not a string.
//!
//! Literal rules also apply to the expected ack replies the drift report compares
//! with (the replay's world is the rewritten one); set rules do not.

use serde_json::Value;

use crate::{Error, Result};

/// One step of a set rule's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `PATH=VALUE`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct SetRule {
    /// Which argument (0 = the first).
    pub arg: usize,
    pub path: Vec<Step>,
    pub value: Value,
    /// The rule as written, for errors.
    pub text: String,
}

/// Every rewrite of a replay.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rewrites {
    pub literal: Vec<(String, String)>,
    pub set: Vec<SetRule>,
}

fn bad(rule: &str, reason: impl Into<String>) -> Error {
    Error::BadRewrite {
        rule: crate::limits::quote(rule),
        reason: reason.into(),
    }
}

/// Parses `FROM=>TO`.
pub fn parse_literal(rule: &str) -> Result<(String, String)> {
    let (from, to) = rule
        .split_once("=>")
        .ok_or_else(|| bad(rule, "expected FROM=>TO"))?;
    if from.is_empty() {
        return Err(bad(rule, "FROM is empty"));
    }
    Ok((from.to_owned(), to.to_owned()))
}

/// Parses `$PATH=VALUE` (see the module docs).
pub fn parse_set(rule: &str) -> Result<SetRule> {
    let rest = rule
        .strip_prefix('$')
        .ok_or_else(|| bad(rule, "a path starts with '$', e.g. $.tenantID=t2"))?;
    let mut chars = rest.char_indices().peekable();
    let mut steps = Vec::new();
    let value_at = loop {
        match chars.next() {
            Some((i, '=')) => break i + 1,
            Some((_, '.')) => {
                let mut key = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c == '.' || c == '[' || c == '=' {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                if key.is_empty() {
                    return Err(bad(rule, "empty key after '.'"));
                }
                steps.push(Step::Key(key));
            }
            Some((_, '[')) => {
                let mut digits = String::new();
                loop {
                    match chars.next() {
                        Some((_, ']')) => break,
                        Some((_, c)) if c.is_ascii_digit() => digits.push(c),
                        _ => return Err(bad(rule, "expected [N] with N a number")),
                    }
                }
                let n = digits
                    .parse::<usize>()
                    .map_err(|_| bad(rule, "expected [N] with N a number"))?;
                steps.push(Step::Index(n));
            }
            Some((_, c)) => return Err(bad(rule, format!("unexpected {c:?} in the path"))),
            None => return Err(bad(rule, "expected PATH=VALUE")),
        }
    };
    let raw = &rest[value_at..];
    let value = parse_value(raw).map_err(|e| bad(rule, format!("bad JSON value: {e}")))?;
    // `$[N]` right after `$` selects the argument; `$.key` means the first one.
    let (arg, path) = match steps.first() {
        Some(Step::Index(n)) => (*n, steps[1..].to_vec()),
        _ => (0, steps),
    };
    Ok(SetRule {
        arg,
        path,
        value,
        text: rule.to_owned(),
    })
}

fn parse_value(raw: &str) -> std::result::Result<Value, serde_json::Error> {
    let looks_json = matches!(raw.trim_start().chars().next(), Some('{' | '[' | '"'));
    match serde_json::from_str::<Value>(raw) {
        Ok(v) => Ok(v),
        Err(e) if looks_json => Err(e),
        Err(_) => Ok(Value::String(raw.to_owned())),
    }
}

impl Rewrites {
    /// Parses `--rewrite` and `--set` rules; the first bad one is the error.
    pub fn parse(literal: &[String], set: &[String]) -> Result<Self> {
        Ok(Self {
            literal: literal
                .iter()
                .map(|r| parse_literal(r))
                .collect::<Result<_>>()?,
            set: set.iter().map(|r| parse_set(r)).collect::<Result<_>>()?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.literal.is_empty() && self.set.is_empty()
    }

    /// Checks that every set rule fits at least one of the replayed events' argument
    /// lists: a rule that can change nothing (`$[999].a=1`, a misspelt key) is an
    /// error naming it, not a silent no-op.
    pub fn check_sets_apply<'a>(
        &self,
        args: impl Iterator<Item = &'a Value> + Clone,
    ) -> Result<()> {
        for rule in &self.set {
            let fits = args.clone().any(|a| {
                let mut a = match a {
                    Value::Array(_) => a.clone(),
                    other => Value::Array(vec![other.clone()]),
                };
                apply_set(rule, &mut a)
            });
            if !fits {
                let what = match rule.path.is_empty() {
                    true => format!("argument {}", rule.arg.saturating_add(1)),
                    false => format!("that field in argument {}", rule.arg.saturating_add(1)),
                };
                return Err(bad(
                    &rule.text,
                    format!("no replayed event has {what}, so the rule would change nothing"),
                ));
            }
        }
        Ok(())
    }

    /// Applies every rule to an event's argument list (a JSON array).
    pub fn apply(&self, args: &mut Value) {
        self.apply_literal(args);
        for rule in &self.set {
            if !apply_set(rule, args) {
                tracing::debug!(arg = rule.arg, path = ?rule.path, "set rule does not apply to this event");
            }
        }
    }

    /// Applies only the literal rules (for expected ack replies).
    pub fn apply_literal(&self, v: &mut Value) {
        if self.literal.is_empty() {
            return;
        }
        match v {
            Value::String(s) => {
                for (from, to) in &self.literal {
                    if s.contains(from.as_str()) {
                        *s = s.replace(from.as_str(), to);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.apply_literal(i)),
            Value::Object(map) => map.values_mut().for_each(|i| self.apply_literal(i)),
            _ => {}
        }
    }
}

/// Sets `rule.value` at its path; false when the path does not fit this event.
fn apply_set(rule: &SetRule, args: &mut Value) -> bool {
    let Some(mut at) = args.as_array_mut().and_then(|a| a.get_mut(rule.arg)) else {
        return false;
    };
    for step in &rule.path {
        at = match (step, at) {
            (Step::Key(k), Value::Object(map)) => match map.get_mut(k) {
                Some(v) => v,
                None => return false,
            },
            (Step::Index(n), Value::Array(items)) => match items.get_mut(*n) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    *at = rule.value.clone();
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(literal: &[&str], set: &[&str]) -> Rewrites {
        let l: Vec<String> = literal.iter().map(|s| s.to_string()).collect();
        let s: Vec<String> = set.iter().map(|s| s.to_string()).collect();
        Rewrites::parse(&l, &s).unwrap()
    }

    #[test]
    fn literal_rules_touch_every_string_value_but_not_keys_or_numbers() {
        let r = rules(
            &["tenant-a=>tenant-b", "prod.example.com=>staging.local"],
            &[],
        );
        let mut args = json!([
            {"tenant-a": "tenant-a", "url": "https://prod.example.com/t/tenant-a/x", "n": 7,
             "list": ["tenant-a", {"deep": "x-tenant-a-y"}]},
            "tenant-a"
        ]);
        r.apply(&mut args);
        assert_eq!(
            args,
            json!([
                {"tenant-a": "tenant-b", "url": "https://staging.local/t/tenant-b/x", "n": 7,
                 "list": ["tenant-b", {"deep": "x-tenant-b-y"}]},
                "tenant-b"
            ])
        );
    }

    #[test]
    fn literal_rules_chain_in_order() {
        let r = rules(&["a=>b", "b=>c"], &[]);
        let mut args = json!(["a"]);
        r.apply(&mut args);
        assert_eq!(args, json!(["c"]));
    }

    #[test]
    fn set_rules_parse_paths_and_values() {
        assert_eq!(
            parse_set("$.tenantID=t2").unwrap(),
            SetRule {
                arg: 0,
                path: vec![Step::Key("tenantID".into())],
                value: json!("t2"),
                text: "$.tenantID=t2".into(),
            }
        );
        let r = parse_set("$[1].tiles[0].id=42").unwrap();
        assert_eq!(r.arg, 1);
        assert_eq!(
            r.path,
            vec![
                Step::Key("tiles".into()),
                Step::Index(0),
                Step::Key("id".into())
            ]
        );
        assert_eq!(r.value, json!(42));
        assert_eq!(
            parse_set("$.a={\"b\":[1]}").unwrap().value,
            json!({"b": [1]})
        );
        assert_eq!(parse_set("$.a=x=y").unwrap().value, json!("x=y"));
        assert_eq!(parse_set("$.a=").unwrap().value, json!(""));
        assert_eq!(parse_set("$[2]=null").unwrap().path, vec![]);
    }

    #[test]
    fn bad_rules_say_why() {
        for bad_rule in [
            "tenantID=t2",
            "$.a",
            "$..a=1",
            "$[x].a=1",
            "$.a={oops",
            "$.a=[1,",
        ] {
            let e = parse_set(bad_rule).unwrap_err();
            assert!(matches!(e, Error::BadRewrite { .. }), "{bad_rule}: {e}");
        }
        assert!(parse_set("$.a={oops")
            .unwrap_err()
            .to_string()
            .contains("bad JSON value"));
        assert!(parse_literal("no-arrow").is_err());
        assert!(parse_literal("=>x").is_err());
        assert_eq!(parse_literal("a=>").unwrap(), ("a".into(), "".into()));
    }

    #[test]
    fn set_rules_replace_existing_values_and_skip_the_rest() {
        let r = rules(
            &[],
            &[
                "$.tenantID=t2",
                "$.filter.entityId=e9",
                "$[1].x=true",
                "$.nope.x=1",
            ],
        );
        let mut args =
            json!([{"tenantID": "t1", "keep": 1, "filter": {"entityId": "e1"}}, {"x": false}]);
        r.apply(&mut args);
        assert_eq!(
            args,
            json!([{"tenantID": "t2", "keep": 1, "filter": {"entityId": "e9"}}, {"x": true}])
        );
        // Missing fields are not added.
        let mut args = json!([{"other": 1}]);
        r.apply(&mut args);
        assert_eq!(args, json!([{"other": 1}]));
        // No second argument, and a first argument that is not an object: skipped.
        let mut args = json!(["plain"]);
        r.apply(&mut args);
        assert_eq!(args, json!(["plain"]));
        // Array index out of range: skipped; in range: replaced.
        let r = rules(&[], &["$.tiles[3].id=1", "$.tiles[0].id=2"]);
        let mut args = json!([{"tiles": [{"id": 0}]}]);
        r.apply(&mut args);
        assert_eq!(args, json!([{"tiles": [{"id": 2}]}]));
        // A whole argument.
        let r = rules(&[], &["$[0]={\"fresh\":1}"]);
        let mut args = json!([{"old": 1}]);
        r.apply(&mut args);
        assert_eq!(args, json!([{"fresh": 1}]));
    }

    #[test]
    fn a_set_rule_that_fits_no_event_is_an_error() {
        let r = rules(&[], &["$[999].a=1"]);
        let events = [json!([{"a": 0}]), json!([{"a": 1}, {"b": 2}])];
        let e = r.check_sets_apply(events.iter()).unwrap_err().to_string();
        assert!(
            e.contains("$[999].a=1") && e.contains("argument 1000"),
            "{e}"
        );
        let r = rules(&[], &["$[1].b=3", "$.a=2"]);
        assert!(r.check_sets_apply(events.iter()).is_ok());
        // Positive control for the path: a key no event has.
        let r = rules(&[], &["$.nope=1"]);
        assert!(r.check_sets_apply(events.iter()).is_err());
        assert!(rules(&["x=>y"], &[]).check_sets_apply([].iter()).is_ok());
        // Found by `cargo xtask fuzz` (rules): the largest selector said as is.
        let r = rules(&[], &["$[18446744073709551615].id=42"]);
        let e = r.check_sets_apply(events.iter()).unwrap_err().to_string();
        assert!(e.contains("argument 18446744073709551615"), "{e}");
    }

    #[test]
    fn literal_runs_before_set() {
        let r = rules(&["t1=>t9"], &["$.b=t1"]);
        let mut args = json!([{"a": "t1", "b": "x"}]);
        r.apply(&mut args);
        assert_eq!(args, json!([{"a": "t9", "b": "t1"}]));
    }
}
