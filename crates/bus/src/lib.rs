//! The event bus: every event Sockscope observes, whichever part saw it, is published
//! here once as an [`EventRecord`], so the CLI, the desktop UI and (later) the recorder
//! all read one ordered stream instead of hooking into each part. It is also the one
//! choke point where records are redacted before anyone sees them.
//!
//! This crate sits under every other layer (store, gateway, client, engine): besides
//! the bus it holds what they all apply the same way, the one redaction policy
//! ([`redact`]), the allowed ranges of user-typed numbers ([`limits`]) and blocking
//! work off the runtime ([`offload`]).

pub mod limits;
pub mod offload;
pub mod redact;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sockscope_protocol::{Direction, EventRecord};
use tokio::sync::broadcast;

/// How many records a slow subscriber may fall behind before it starts losing them
/// (it is told how many through `RecvError::Lagged`).
const CAPACITY: usize = 65_536;

/// A cheap, clonable handle on the engine's event stream.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    tx: broadcast::Sender<EventRecord>,
    /// Held while a sequence number is assigned and the record sent, so subscribers
    /// always see records in `seq` order.
    order: Mutex<()>,
    next_seq: AtomicU64,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(CAPACITY);
        Self {
            inner: Arc::new(Inner {
                tx,
                order: Mutex::new(()),
                next_seq: AtomicU64::new(1),
            }),
        }
    }

    /// Publishes a record, giving it the next sequence number and, when unset, the
    /// current time. Returns the sequence number.
    ///
    /// This is where a value leaves the network path: the record is redacted
    /// ([`crate::redact`]: args, ack reply, identifiers) before any subscriber (the
    /// CLI's output, the desktop UI, a recorder) can see it.
    pub fn publish(&self, mut record: EventRecord) -> u64 {
        if record.ts == 0 {
            record.ts = now_micros();
        }
        crate::redact::record(&mut record);
        // A poisoned lock only means another publisher panicked mid-send; ordering
        // is still intact, so carry on.
        let _guard = self
            .inner
            .order
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seq = self.inner.next_seq.fetch_add(1, Ordering::Relaxed);
        record.seq = seq;
        // No subscriber is not an error: the event is simply not observed.
        let _ = self.inner.tx.send(record);
        seq
    }

    /// A new receiver that sees every record published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<EventRecord> {
        self.inner.tx.subscribe()
    }

    /// How many records have been published since the bus was made.
    pub fn published(&self) -> u64 {
        self.inner.next_seq.load(Ordering::Relaxed) - 1
    }
}

/// Unix time in microseconds.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What a secret's value becomes in a record (see [`crate::redact`]).
pub use crate::redact::REDACTED;

/// Redacts an event payload in place by the one policy ([`crate::redact`]).
pub fn redact(v: &mut Value) {
    crate::redact::value(v);
}

/// A record with the fields every source fills; the rest default to empty.
pub fn record(
    source: &str,
    direction: Direction,
    namespace: &str,
    event: &str,
    args: Value,
) -> EventRecord {
    EventRecord {
        seq: 0,
        ts: 0,
        source: source.to_owned(),
        direction,
        namespace: namespace.to_owned(),
        event: event.to_owned(),
        args,
        ack: None,
        socket_id: None,
        rooms: Vec::new(),
        tenant: None,
        user: None,
        fault: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut v = serde_json::json!([{"type": "change_user", "token": "Bearer abc",
            "nested": {"Authorization": "x", "keep": 1}, "list": [{"password": "p"}], "none": null}]);
        redact(&mut v);
        let s = v.to_string();
        assert!(!s.contains("abc") && !s.contains("\"p\""), "{s}");
        assert_eq!(v[0]["nested"]["keep"], 1);
        assert_eq!(v[0]["token"], REDACTED);
    }

    #[tokio::test]
    async fn subscribers_only_ever_see_redacted_records() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        let mut r = record(
            "connection:1",
            Direction::C2s,
            "/",
            "login",
            serde_json::json!([{"jwt": "t", "user": "ann"}]),
        );
        r.ack = Some(sockscope_protocol::AckInfo {
            id: Some(1),
            reply: Some(serde_json::json!({"accessToken": "a-1", "ok": true})),
            latency_us: None,
        });
        bus.publish(r);
        let got = rx.recv().await.unwrap();
        assert_eq!(got.args[0]["jwt"], REDACTED);
        assert_eq!(got.args[0]["user"], "ann");
        let reply = got.ack.and_then(|a| a.reply).unwrap();
        assert_eq!(
            reply,
            serde_json::json!({"accessToken": REDACTED, "ok": true})
        );
    }

    #[tokio::test]
    async fn subscribers_see_records_in_seq_order_with_timestamps() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        for i in 0..3 {
            bus.publish(record(
                "gateway",
                Direction::C2s,
                "/",
                "e",
                serde_json::json!([i]),
            ));
        }
        let mut seqs = Vec::new();
        for _ in 0..3 {
            let r = rx.recv().await.unwrap();
            assert!(r.ts > 0);
            seqs.push(r.seq);
        }
        assert_eq!(seqs, vec![1, 2, 3]);
        assert_eq!(bus.published(), 3);
    }
}
