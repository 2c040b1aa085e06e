//! What became of a client connection, as Sockscope saw it: the losses a recording
//! must own up to, and the moment a connection is gone for good.
//!
//! Client libraries do not always say when a connection ends (rust_socketio ends its
//! stream silently when the transport closes or a frame cannot be parsed), so the
//! connection types call [`Health::lose`] wherever they can tell, and it publishes a
//! `disconnect` record once per loss. A recording then shows every gap, and `connect`
//! / `record` can stop and say why when nothing will reconnect.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};
use sockscope_protocol::Direction;
use tokio::sync::watch;

use sockscope_bus::{self as bus, Bus};

/// The largest message the Socket.IO client accepts: its WebSocket transport's frame
/// limit (tungstenite's default), so also the default `--max-payload`.
pub const DEFAULT_MAX_PAYLOAD: usize = 16 << 20;

/// What a connection lost, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionLosses {
    /// Times the connection was lost (whatever was in flight then is gone).
    pub connection_lost: u64,
    /// Messages over the payload limit: dropped by us, or the reason the connection
    /// was lost.
    pub oversized: u64,
}

/// A connection's health, shared with its callbacks or reader task.
pub(crate) struct Health {
    bus: Bus,
    source: String,
    namespace: String,
    /// Joined and not lost since.
    up: AtomicBool,
    lost: AtomicU64,
    oversized: AtomicU64,
    /// The last error the client library reported since the last (re)connect: the
    /// reason for a loss it does not explain.
    last_error: Mutex<Option<String>>,
    /// Set once, with the reason, when the connection is gone and will not come back.
    ended: watch::Sender<Option<String>>,
}

impl Health {
    pub(crate) fn new(bus: Bus, source: &str, namespace: &str) -> Self {
        Self {
            bus,
            source: source.to_owned(),
            namespace: namespace.to_owned(),
            up: AtomicBool::new(false),
            lost: AtomicU64::new(0),
            oversized: AtomicU64::new(0),
            last_error: Mutex::new(None),
            ended: watch::channel(None).0,
        }
    }

    pub(crate) fn publish(&self, event: &str, args: Value) {
        self.bus.publish(bus::record(
            &self.source,
            Direction::S2c,
            &self.namespace,
            event,
            args,
        ));
    }

    /// The connection is up (again).
    pub(crate) fn connected(&self) {
        self.up.store(true, Ordering::SeqCst);
        self.take_error();
    }

    /// Remembers a client library error as the reason for a loss to come.
    pub(crate) fn note_error(&self, message: &str) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(message.to_owned());
    }

    fn take_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Publishes an `error` record for a message over the limit and counts it.
    pub(crate) fn oversized(&self, message: String) {
        self.oversized.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(source = %self.source, %message, "oversized message");
        self.publish("error", json!([message]));
    }

    /// The connection was lost: the first call after it was up publishes a
    /// `disconnect` record (`[reason]`, or `[reason, detail]` with the last error the
    /// library reported, when `"transport close"` becomes `"transport error"`) and
    /// counts the loss; later calls do nothing. Returns the reason as one line when
    /// this call counted the loss.
    pub(crate) fn lose(&self, reason: &str) -> Option<String> {
        if !self.up.swap(false, Ordering::SeqCst) {
            return None;
        }
        self.lost.fetch_add(1, Ordering::Relaxed);
        let detail = self.take_error();
        // socket.io-client's names: a transport that failed is a "transport error".
        let reason = match (&detail, reason) {
            (Some(_), "transport close") => "transport error",
            _ => reason,
        };
        let line = match &detail {
            Some(d) => format!("{reason}: {d}"),
            None => reason.to_owned(),
        };
        tracing::warn!(source = %self.source, reason = %line, "connection lost");
        match detail {
            Some(d) => self.publish("disconnect", json!([reason, d])),
            None => self.publish("disconnect", json!([reason])),
        }
        Some(line)
    }

    /// Counts a loss whose `disconnect` record the caller publishes itself (the
    /// plain WebSocket client knows the close code). False if already counted.
    pub(crate) fn count_loss(&self) -> bool {
        let was_up = self.up.swap(false, Ordering::SeqCst);
        if was_up {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
        was_up
    }

    /// The connection is gone for good, because of `why` (kept if already ended).
    pub(crate) fn end(&self, why: String) {
        self.ended.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(why);
                true
            } else {
                false
            }
        });
    }

    pub(crate) fn losses(&self) -> ConnectionLosses {
        ConnectionLosses {
            connection_lost: self.lost.load(Ordering::Relaxed),
            oversized: self.oversized.load(Ordering::Relaxed),
        }
    }

    /// Resolves with the reason once the connection is gone for good.
    pub(crate) async fn ended(&self) -> String {
        let mut rx = self.ended.subscribe();
        let why = match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or_default(),
            // The sender lives in `self`, so this cannot happen while `self` does.
            Err(_) => String::from("connection closed"),
        };
        why
    }
}

/// Whether a client library error says a message was over its size limit.
pub(crate) fn is_too_long(message: &str) -> bool {
    message.contains("Message too long")
        || message.contains("Space limit exceeded")
        || message.contains("too long")
}

/// A `std::io::Write` that only counts, to measure a payload without keeping it.
#[derive(Default)]
pub(crate) struct ByteCount(pub(crate) usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes of `args` as JSON.
pub(crate) fn json_size(args: &Value) -> usize {
    let mut n = ByteCount::default();
    let _ = serde_json::to_writer(&mut n, args);
    n.0
}
