//! The AsyncAPI 3.0 document inferred from recorded events.
//!
//! The document describes the **gateway**: an event the server emits (`s2c`) is an
//! operation with `action: send`, an event clients emit (`c2s`) one with
//! `action: receive`. One channel per namespace (its `address` is the namespace), one
//! operation and one message per event and direction, the ack payload as the
//! operation's `reply`. Rooms and tenants the events were seen with are noted as
//! `x-sockscope-rooms` / `x-sockscope-tenants` on the message. Every map is a
//! `BTreeMap` (serde_json without `preserve_order`), so the same recordings give the
//! same bytes and the file diffs well in review.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use sockscope_protocol::{Direction, EventRecord};

use super::infer::Payloads;

/// Socket.IO's own lifecycle events, recorded by the gateway but not part of an
/// application's contract: inference leaves them out and checks let them pass.
pub const RESERVED: [&str; 4] = ["connect", "connect_error", "disconnect", "disconnecting"];

/// Is `event` one of Socket.IO's lifecycle events ([`RESERVED`])?
pub fn is_reserved(event: &str) -> bool {
    RESERVED.contains(&event)
}

/// Most rooms or tenants listed on one message; more are summarised by a count.
pub const MAX_LISTED: usize = 32;

/// The AsyncAPI action of a direction, from the gateway's point of view.
pub fn action(d: Direction) -> &'static str {
    match d {
        Direction::S2c => "send",
        Direction::C2s => "receive",
    }
}

/// The direction of an AsyncAPI action (see [`action`]).
pub fn direction(action: &str) -> Option<Direction> {
    match action {
        "send" => Some(Direction::S2c),
        "receive" => Some(Direction::C2s),
        _ => None,
    }
}

#[derive(Debug, Default)]
struct Message {
    payloads: Payloads,
    replies: Payloads,
    rooms: BTreeSet<String>,
    tenants: BTreeSet<String>,
}

/// Folds recorded events into a contract.
#[derive(Debug, Default)]
pub struct Inference {
    /// namespace -> (event, direction) -> what was seen.
    namespaces: BTreeMap<String, BTreeMap<(String, &'static str), Message>>,
    events: u64,
    sessions: Vec<i64>,
}

impl Inference {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that the events that follow come from session `id` (for the description).
    pub fn session(&mut self, id: i64) {
        self.sessions.push(id);
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    /// Folds one recorded event in (lifecycle events are skipped).
    pub fn add(&mut self, r: &EventRecord) {
        if is_reserved(&r.event) {
            return;
        }
        self.events += 1;
        let ns = if r.namespace.is_empty() {
            "/".to_owned()
        } else {
            r.namespace.clone()
        };
        let m = self
            .namespaces
            .entry(ns)
            .or_default()
            .entry((r.event.clone(), action(r.direction)))
            .or_default();
        let mut args = r.args.clone();
        crate::redact::value(&mut args);
        m.payloads.add(&args);
        if let Some(reply) = r.ack.as_ref().and_then(|a| a.reply.as_ref()) {
            let mut reply = reply.clone();
            crate::redact::value(&mut reply);
            m.replies.add(&reply);
        }
        m.rooms.extend(r.rooms.iter().cloned());
        if let Some(t) = &r.tenant {
            m.tenants.insert(t.clone());
        }
    }

    /// The AsyncAPI 3.0 document.
    pub fn document(&self) -> Value {
        let mut channels = Map::new();
        let mut operations = Map::new();
        let mut channel_ids = Ids::default();
        for (ns, messages) in &self.namespaces {
            let channel_id = channel_ids.take(if ns == "/" { "root" } else { ns });
            let channel_ref = format!("#/channels/{channel_id}");
            let mut channel_messages = Map::new();
            let mut message_ids = Ids::default();
            for ((event, act), m) in messages {
                let op_id = message_ids.take(&format!("{act}_{event}"));
                channel_messages.insert(op_id.clone(), message(event, &m.payloads, Some(m)));
                let mut op = Map::new();
                op.insert("action".into(), json!(act));
                op.insert("channel".into(), json!({ "$ref": channel_ref }));
                op.insert(
                    "summary".into(),
                    json!(format!(
                        "{} `{event}` on {ns}",
                        if *act == "send" {
                            "The gateway emits"
                        } else {
                            "Clients emit"
                        }
                    )),
                );
                op.insert(
                    "messages".into(),
                    json!([{ "$ref": format!("{channel_ref}/messages/{op_id}") }]),
                );
                if m.replies.count() > 0 {
                    let reply_id = message_ids.take(&format!("{op_id}_reply"));
                    channel_messages.insert(reply_id.clone(), message(event, &m.replies, None));
                    op.insert(
                        "reply".into(),
                        json!({
                            "channel": { "$ref": channel_ref },
                            "messages": [{ "$ref": format!("{channel_ref}/messages/{reply_id}") }],
                        }),
                    );
                }
                operations.insert(op_id, Value::Object(op));
            }
            channels.insert(
                channel_id,
                json!({
                    "address": ns,
                    "title": format!("Namespace {ns}"),
                    "messages": channel_messages,
                }),
            );
        }
        let sessions: Vec<String> = self.sessions.iter().map(|s| s.to_string()).collect();
        json!({
            "asyncapi": "3.0.0",
            "info": {
                "title": "Socket.IO gateway contract",
                "version": "1.0.0",
                "description": format!(
                    "Inferred by sockscope from recorded session(s) {} ({} events). \
                     The document describes the gateway: `send` operations are events the \
                     server emits, `receive` operations events clients emit; a reply is the \
                     ack payload.",
                    sessions.join(", "),
                    self.events
                ),
            },
            "defaultContentType": "application/json",
            "channels": channels,
            "operations": operations,
        })
    }
}

fn message(event: &str, payloads: &Payloads, seen: Option<&Message>) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(event));
    m.insert("payload".into(), payloads.schema());
    m.insert(
        "x-sockscope-arguments".into(),
        json!(payloads.arguments().as_str()),
    );
    if let Some(example) = payloads.example() {
        m.insert("examples".into(), json!([{ "payload": example }]));
    }
    if let Some(seen) = seen {
        if !seen.rooms.is_empty() {
            m.insert("x-sockscope-rooms".into(), listed(&seen.rooms));
        }
        if !seen.tenants.is_empty() {
            m.insert("x-sockscope-tenants".into(), listed(&seen.tenants));
        }
    }
    Value::Object(m)
}

fn listed(set: &BTreeSet<String>) -> Value {
    if set.len() <= MAX_LISTED {
        json!(set)
    } else {
        let mut v: Vec<Value> = set.iter().take(MAX_LISTED).map(|s| json!(s)).collect();
        v.push(json!(format!("... {} more", set.len() - MAX_LISTED)));
        Value::Array(v)
    }
}

/// AsyncAPI keys (channel, message and operation ids) are `[A-Za-z0-9_-]+`: other
/// characters become `_`, and a key already taken gets a numeric suffix.
#[derive(Debug, Default)]
struct Ids(BTreeSet<String>);

impl Ids {
    fn take(&mut self, raw: &str) -> String {
        let mut base: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        base = base.trim_matches('_').to_owned();
        if base.is_empty() {
            base = "x".to_owned();
        }
        let mut id = base.clone();
        let mut n = 2;
        while self.0.contains(&id) {
            id = format!("{base}_{n}");
            n += 1;
        }
        self.0.insert(id.clone());
        id
    }
}
