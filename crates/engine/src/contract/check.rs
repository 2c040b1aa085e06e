//! Checking recorded events against a contract: every event that is unknown, went
//! the wrong way, or whose payload (or ack reply) does not match its schema becomes a
//! [`Violation`] carrying the event's seq and a JSON pointer to the offending field.

use std::collections::BTreeMap;

use serde_json::Value;
use sockscope_protocol::{Direction, EventRecord};

use super::document::direction;
use super::infer::Arguments;
use super::ContractError;

/// One compiled payload schema and how recorded arguments map onto it.
struct Payload {
    validator: jsonschema::Validator,
    arguments: Arguments,
}

struct Operation {
    payload: Payload,
    reply: Option<Payload>,
}

/// A contract ready to check events against.
pub struct Contract {
    /// (namespace, event) -> direction -> operation.
    ops: BTreeMap<(String, String), BTreeMap<&'static str, Operation>>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("events", &self.ops.len())
            .finish()
    }
}

/// One event that breaks the contract (a protocol type: the app and the UI show it).
pub use sockscope_protocol::Violation;

/// Follows a local `$ref` (`#/channels/...`) in `doc`.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> Result<&'a Value, ContractError> {
    match v.get("$ref").and_then(Value::as_str) {
        None => Ok(v),
        Some(r) => {
            let pointer = r.strip_prefix('#').ok_or_else(|| {
                ContractError::Shape(format!("only local references are followed: {r}"))
            })?;
            doc.pointer(pointer)
                .ok_or_else(|| ContractError::Shape(format!("dangling reference {r}")))
        }
    }
}

/// One operation of a document, with what it refers to resolved.
#[derive(Debug)]
pub struct OperationView<'a> {
    pub id: &'a str,
    pub action: &'a str,
    pub namespace: String,
    pub event: String,
    pub payload: &'a Value,
    pub arguments: Arguments,
    pub reply: Option<(&'a Value, Arguments)>,
}

fn arguments_of(m: &Value) -> Arguments {
    m.get("x-sockscope-arguments")
        .and_then(Value::as_str)
        .and_then(Arguments::parse)
        .unwrap_or(Arguments::Single)
}

static EMPTY: Value = Value::Null;

/// Every operation of an AsyncAPI 3 document, resolved.
pub fn operations(doc: &Value) -> Result<Vec<OperationView<'_>>, ContractError> {
    let version = doc.get("asyncapi").and_then(Value::as_str).unwrap_or("");
    if !version.starts_with("3.") {
        return Err(ContractError::Shape(format!(
            "asyncapi version {version:?}, expected 3.x"
        )));
    }
    let Some(ops) = doc.get("operations").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (id, op) in ops {
        let action = op.get("action").and_then(Value::as_str).unwrap_or("");
        let channel = resolve(doc, op.get("channel").unwrap_or(&EMPTY))?;
        let namespace = channel
            .get("address")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .to_owned();
        let message = op
            .get("messages")
            .and_then(Value::as_array)
            .and_then(|m| m.first())
            .ok_or_else(|| ContractError::Shape(format!("operation {id} has no message")))?;
        let message = resolve(doc, message)?;
        let event = message
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_owned();
        let payload = message.get("payload").unwrap_or(&EMPTY);
        let reply = match op
            .get("reply")
            .and_then(|r| r.get("messages"))
            .and_then(Value::as_array)
            .and_then(|m| m.first())
        {
            Some(m) => {
                let m = resolve(doc, m)?;
                Some((m.get("payload").unwrap_or(&EMPTY), arguments_of(m)))
            }
            None => None,
        };
        out.push(OperationView {
            id,
            action,
            namespace,
            event,
            payload,
            arguments: arguments_of(message),
            reply,
        });
    }
    Ok(out)
}

fn compile(schema: &Value, what: &str) -> Result<jsonschema::Validator, ContractError> {
    // A payload that says nothing accepts anything.
    let schema = if schema.is_null() {
        &Value::Bool(true)
    } else {
        schema
    };
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| ContractError::Schema {
            what: what.to_owned(),
            reason: e.to_string(),
        })
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

impl Contract {
    /// Compiles every operation's payload schemas.
    pub fn from_document(doc: &Value) -> Result<Self, ContractError> {
        let mut ops: BTreeMap<(String, String), BTreeMap<&'static str, Operation>> =
            BTreeMap::new();
        for op in operations(doc)? {
            let Some(dir) = direction(op.action) else {
                return Err(ContractError::Shape(format!(
                    "operation {} has action {:?} (send or receive)",
                    op.id, op.action
                )));
            };
            let payload = Payload {
                validator: compile(op.payload, op.id)?,
                arguments: op.arguments,
            };
            let reply = match op.reply {
                Some((schema, arguments)) => Some(Payload {
                    validator: compile(schema, &format!("{} reply", op.id))?,
                    arguments,
                }),
                None => None,
            };
            ops.entry((op.namespace, op.event))
                .or_default()
                .insert(dir.as_str(), Operation { payload, reply });
        }
        Ok(Self { ops })
    }

    /// The violations of one recorded event (none when it honours the contract).
    pub fn check(&self, r: &EventRecord) -> Vec<Violation> {
        if super::document::is_reserved(&r.event) {
            return Vec::new();
        }
        let ns = if r.namespace.is_empty() {
            "/"
        } else {
            r.namespace.as_str()
        };
        let violation = |kind: &str, pointer: String, message: String| Violation {
            seq: r.seq,
            namespace: ns.to_owned(),
            event: r.event.clone(),
            direction: r.direction.as_str().to_owned(),
            kind: kind.to_owned(),
            pointer,
            message,
        };
        let Some(by_dir) = self.ops.get(&(ns.to_owned(), r.event.clone())) else {
            return vec![violation(
                "unknown_event",
                String::new(),
                format!("event {:?} on {ns} is not in the contract", r.event),
            )];
        };
        let Some(op) = by_dir.get(r.direction.as_str()) else {
            let expected = if r.direction == Direction::C2s {
                "server-to-client only"
            } else {
                "client-to-server only"
            };
            return vec![violation(
                "unexpected_direction",
                String::new(),
                format!(
                    "event {:?} went {}, the contract has it {expected}",
                    r.event,
                    r.direction.as_str()
                ),
            )];
        };
        let mut out = Vec::new();
        validate(&op.payload, &r.args, "", &mut |k, p, m| {
            out.push(violation(k, p, m))
        });
        if let (Some(reply), Some(value)) =
            (&op.reply, r.ack.as_ref().and_then(|a| a.reply.as_ref()))
        {
            validate(reply, value, "/ack", &mut |k, p, m| {
                out.push(violation(k, p, m))
            });
        }
        out
    }
}

fn validate(p: &Payload, args: &Value, prefix: &str, report: &mut dyn FnMut(&str, String, String)) {
    let value = p.arguments.payload(args);
    for e in p.validator.iter_errors(&value) {
        let at = format!("{prefix}{}", e.instance_path());
        match e.kind() {
            jsonschema::error::ValidationErrorKind::Required { property } => {
                let name = property
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| property.to_string());
                report(
                    "missing_field",
                    format!("{at}/{}", escape(&name)),
                    format!("required field {name:?} is missing"),
                );
            }
            jsonschema::error::ValidationErrorKind::Type { .. } => {
                report("wrong_type", at, e.to_string());
            }
            _ => report("invalid_value", at, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Inference;
    use serde_json::json;
    use sockscope_test_support::{ack, Event};

    fn event(seq: u64, dir: Direction, event: &str, args: Value) -> Event {
        Event::new(event, args)
            .seq(seq)
            .direction(dir)
            .namespace("/dashboard")
            .rooms(["acme:e1"])
            .tenant("acme")
    }

    fn rec(seq: u64, dir: Direction, name: &str, args: Value) -> EventRecord {
        event(seq, dir, name, args).build()
    }

    fn contract() -> (Value, Contract) {
        let mut inf = Inference::new();
        inf.session(1);
        for i in 0..3 {
            inf.add(&rec(
                i,
                Direction::S2c,
                "metric:update",
                json!([{"userId": "u1", "value": i, "at": "2024-01-02T03:04:05Z"}]),
            ));
        }
        let sub = event(9, Direction::C2s, "subscribe", json!([{"entityId": "e1"}]))
            .ack(ack(1, json!([{"ok": true}])))
            .build();
        inf.add(&sub);
        let doc = inf.document();
        let c = Contract::from_document(&doc).expect("compiles");
        (doc, c)
    }

    #[test]
    fn document_has_one_channel_per_namespace_and_operations_per_direction() {
        let (doc, _) = contract();
        assert_eq!(doc["asyncapi"], "3.0.0");
        assert_eq!(doc["channels"]["dashboard"]["address"], "/dashboard");
        assert_eq!(doc["operations"]["send_metric_update"]["action"], "send");
        let sub = &doc["operations"]["receive_subscribe"];
        assert_eq!(sub["action"], "receive");
        assert_eq!(
            sub["reply"]["messages"][0]["$ref"],
            "#/channels/dashboard/messages/receive_subscribe_reply"
        );
        let m = &doc["channels"]["dashboard"]["messages"]["send_metric_update"];
        assert_eq!(m["payload"]["required"], json!(["at", "userId", "value"]));
        assert_eq!(m["payload"]["properties"]["at"]["format"], "date-time");
        assert_eq!(m["x-sockscope-tenants"], json!(["acme"]));
        assert_eq!(m["x-sockscope-rooms"], json!(["acme:e1"]));
        // Deterministic: the same events give the same text.
        let (again, _) = contract();
        assert_eq!(
            crate::contract::render(&doc, false).expect("yaml"),
            crate::contract::render(&again, false).expect("yaml")
        );
    }

    #[test]
    fn conforming_events_pass_and_each_violation_kind_is_reported() {
        let (_, c) = contract();
        let ok = rec(
            20,
            Direction::S2c,
            "metric:update",
            json!([{"userId": "u2", "value": 7, "at": "2025-01-02T03:04:05Z"}]),
        );
        assert!(c.check(&ok).is_empty());

        let renamed = rec(
            21,
            Direction::S2c,
            "metric:update",
            json!([{"user_id": "u2", "value": 7, "at": "2025-01-02T03:04:05Z"}]),
        );
        let v = c.check(&renamed);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            (v[0].seq, v[0].kind.as_str(), v[0].pointer.as_str()),
            (21, "missing_field", "/userId")
        );

        let typed = rec(
            22,
            Direction::S2c,
            "metric:update",
            json!([{"userId": "u", "value": "7", "at": "2025-01-02T03:04:05Z"}]),
        );
        let v = c.check(&typed);
        assert_eq!(
            (v[0].kind.as_str(), v[0].pointer.as_str()),
            ("wrong_type", "/value")
        );

        // Lifecycle events are not the application's contract.
        assert!(c
            .check(&rec(19, Direction::C2s, "disconnect", json!(["bye"])))
            .is_empty());
        let unknown = rec(23, Direction::S2c, "nope", json!([]));
        assert_eq!(c.check(&unknown)[0].kind, "unknown_event");
        let backwards = rec(24, Direction::C2s, "metric:update", json!([{}]));
        assert_eq!(c.check(&backwards)[0].kind, "unexpected_direction");

        let bad_ack = event(25, Direction::C2s, "subscribe", json!([{"entityId": "e2"}]))
            .ack(ack(2, json!([{"ok": "yes"}])))
            .build();
        let v = c.check(&bad_ack);
        assert_eq!(
            (v[0].kind.as_str(), v[0].pointer.as_str()),
            ("wrong_type", "/ack/ok")
        );
    }
}
