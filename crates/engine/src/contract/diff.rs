//! Comparing two contracts: which changes break the gateway's clients and which do not.
//!
//! Operations are matched by namespace, event name and action. Breaking: a removed
//! operation or reply; a removed field; a field that became required (or a new
//! required field); a type no longer allowed; an enum that lost values; a format
//! added. Non-breaking: the opposites (added operation, new optional field, field no
//! longer required, type widened, enum values added, format dropped). The rule is the
//! same both ways on purpose: a field renamed on either side is caught.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::check::operations;
use super::ContractError;

/// One difference between the old and the new document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub breaking: bool,
    /// `send event (namespace)` or `receive event (namespace)`, with a JSON pointer
    /// into the payload (`reply` for the ack payload).
    pub location: String,
    pub description: String,
}

/// Every change from `old` to `new`, breaking ones first, then by location.
pub fn diff(old: &Value, new: &Value) -> Result<Vec<Change>, ContractError> {
    let index = |doc| -> Result<BTreeMap<_, _>, ContractError> {
        Ok(operations(doc)?
            .into_iter()
            .map(|op| {
                (
                    (op.namespace.clone(), op.event.clone(), op.action.to_owned()),
                    (op.payload.clone(), op.reply.map(|(s, _)| s.clone())),
                )
            })
            .collect())
    };
    let (a, b) = (index(old)?, index(new)?);
    let mut out = Vec::new();
    let name = |(ns, ev, act): &(String, String, String)| format!("{act} {ev} ({ns})");
    for (key, (old_payload, old_reply)) in &a {
        let Some((new_payload, new_reply)) = b.get(key) else {
            out.push(change(true, name(key), "operation removed".into()));
            continue;
        };
        compare(old_payload, new_payload, &name(key), "", &mut out);
        match (old_reply, new_reply) {
            (Some(o), Some(n)) => compare(o, n, &format!("{} reply", name(key)), "", &mut out),
            (Some(_), None) => out.push(change(true, name(key), "ack reply removed".into())),
            (None, Some(_)) => out.push(change(false, name(key), "ack reply added".into())),
            (None, None) => {}
        }
    }
    for key in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push(change(false, name(key), "operation added".into()));
    }
    out.sort_by(|x, y| {
        y.breaking
            .cmp(&x.breaking)
            .then_with(|| x.location.cmp(&y.location))
            .then_with(|| x.description.cmp(&y.description))
    });
    Ok(out)
}

fn change(breaking: bool, location: String, description: String) -> Change {
    Change {
        breaking,
        location,
        description,
    }
}

/// The schema of each JSON type a schema allows (`anyOf` branches and type lists
/// split out; no `type` at all means anything).
fn by_type(schema: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        for s in any {
            out.extend(by_type(s));
        }
        return out;
    }
    match schema.get("type") {
        Some(Value::String(t)) => {
            out.insert(t.clone(), schema.clone());
        }
        Some(Value::Array(ts)) => {
            for t in ts.iter().filter_map(Value::as_str) {
                out.insert(t.to_owned(), schema.clone());
            }
        }
        _ => {
            out.insert("any".into(), schema.clone());
        }
    }
    out
}

fn allows(types: &BTreeMap<String, Value>, t: &str) -> bool {
    types.contains_key("any")
        || types.contains_key(t)
        || (t == "integer" && types.contains_key("number"))
}

fn required(s: &Value) -> BTreeSet<String> {
    s.get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn compare(old: &Value, new: &Value, op: &str, path: &str, out: &mut Vec<Change>) {
    let at = |p: &str| {
        if p.is_empty() {
            op.to_owned()
        } else {
            format!("{op} {p}")
        }
    };
    let (a, b) = (by_type(old), by_type(new));
    let names = |m: &BTreeMap<String, Value>| m.keys().cloned().collect::<Vec<_>>().join("|");
    let lost: Vec<&String> = a.keys().filter(|t| !allows(&b, t)).collect();
    let gained: Vec<&String> = b.keys().filter(|t| !allows(&a, t)).collect();
    if !lost.is_empty() {
        out.push(change(
            true,
            at(path),
            format!("type changed from {} to {}", names(&a), names(&b)),
        ));
    } else if !gained.is_empty() {
        out.push(change(
            false,
            at(path),
            format!("type widened from {} to {}", names(&a), names(&b)),
        ));
    }
    if let (Some(o), Some(n)) = (a.get("object"), b.get("object")) {
        let empty = serde_json::Map::new();
        let op_props = o
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let np_props = n
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let (or, nr) = (required(o), required(n));
        for (k, os) in op_props {
            let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
            match np_props.get(k) {
                None => out.push(change(true, at(&p), "field removed".into())),
                Some(ns) => {
                    if !or.contains(k) && nr.contains(k) {
                        out.push(change(true, at(&p), "field became required".into()));
                    } else if or.contains(k) && !nr.contains(k) {
                        out.push(change(false, at(&p), "field became optional".into()));
                    }
                    compare(os, ns, op, &p, out);
                }
            }
        }
        for k in np_props.keys().filter(|k| !op_props.contains_key(*k)) {
            let p = format!("{path}/{}", k.replace('~', "~0").replace('/', "~1"));
            if nr.contains(k) {
                out.push(change(true, at(&p), "new required field".into()));
            } else {
                out.push(change(false, at(&p), "new optional field".into()));
            }
        }
    }
    if let (Some(o), Some(n)) = (a.get("array"), b.get("array")) {
        if let (Some(oi), Some(ni)) = (o.get("items"), n.get("items")) {
            compare(oi, ni, op, &format!("{path}/[]"), out);
        }
    }
    if let (Some(o), Some(n)) = (a.get("string"), b.get("string")) {
        let values = |s: &Value| -> Option<BTreeSet<String>> {
            s.get("enum").and_then(Value::as_array).map(|e| {
                e.iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect()
            })
        };
        match (values(o), values(n)) {
            (None, Some(_)) => out.push(change(true, at(path), "enum introduced".into())),
            (Some(_), None) => out.push(change(false, at(path), "enum dropped".into())),
            (Some(ov), Some(nv)) => {
                let removed: Vec<&String> = ov.difference(&nv).collect();
                let added: Vec<&String> = nv.difference(&ov).collect();
                if !removed.is_empty() {
                    out.push(change(
                        true,
                        at(path),
                        format!("enum narrowed: {removed:?} removed"),
                    ));
                }
                if !added.is_empty() {
                    out.push(change(
                        false,
                        at(path),
                        format!("enum widened: {added:?} added"),
                    ));
                }
            }
            (None, None) => {}
        }
        match (o.get("format"), n.get("format")) {
            (None, Some(f)) => out.push(change(true, at(path), format!("format {f} added"))),
            (Some(f), None) => out.push(change(false, at(path), format!("format {f} dropped"))),
            (Some(x), Some(y)) if x != y => out.push(change(
                true,
                at(path),
                format!("format changed from {x} to {y}"),
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(payload: Value) -> Value {
        json!({
            "asyncapi": "3.0.0",
            "channels": {"root": {"address": "/", "messages": {
                "send_tick": {"name": "tick", "payload": payload}}}},
            "operations": {"send_tick": {
                "action": "send",
                "channel": {"$ref": "#/channels/root"},
                "messages": [{"$ref": "#/channels/root/messages/send_tick"}]}}
        })
    }

    fn obj(props: Value, required: Value) -> Value {
        json!({"type": "object", "properties": props, "required": required})
    }

    #[test]
    fn same_document_has_no_changes() {
        let d = doc(obj(json!({"a": {"type": "integer"}}), json!(["a"])));
        assert!(diff(&d, &d).expect("diff").is_empty());
    }

    #[test]
    fn renamed_field_is_breaking_both_ways() {
        let a = doc(obj(
            json!({"userId": {"type": "string"}}),
            json!(["userId"]),
        ));
        let b = doc(obj(
            json!({"user_id": {"type": "string"}}),
            json!(["user_id"]),
        ));
        let c = diff(&a, &b).expect("diff");
        assert!(c.iter().any(|c| c.breaking
            && c.location == "send tick (/) /userId"
            && c.description == "field removed"));
        assert!(c
            .iter()
            .any(|c| c.breaking && c.description == "new required field"));
    }

    #[test]
    fn optional_field_and_widened_type_are_not_breaking() {
        let a = doc(obj(json!({"n": {"type": "integer"}}), json!(["n"])));
        let b = doc(obj(
            json!({"n": {"type": "number"}, "extra": {"type": "string"}}),
            json!(["n"]),
        ));
        let c = diff(&a, &b).expect("diff");
        assert!(!c.is_empty());
        assert!(c.iter().all(|c| !c.breaking), "{c:?}");
        // ... and the way back narrows the type: breaking.
        let back = diff(&b, &a).expect("diff");
        assert!(back
            .iter()
            .any(|c| c.breaking && c.description.starts_with("type changed")));
    }

    #[test]
    fn enum_narrowing_and_removed_operation_are_breaking() {
        let a = doc(json!({"type": "string", "enum": ["a", "b"]}));
        let b = doc(json!({"type": "string", "enum": ["a"]}));
        assert!(diff(&a, &b).expect("diff")[0]
            .description
            .starts_with("enum narrowed"));
        assert!(diff(&b, &a).expect("diff").iter().all(|c| !c.breaking));
        let mut none = a.clone();
        none["operations"] = json!({});
        let c = diff(&a, &none).expect("diff");
        assert_eq!(c.len(), 1);
        assert!(c[0].breaking && c[0].description == "operation removed");
    }
}
