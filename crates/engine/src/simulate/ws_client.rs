//! The simulator's plain WebSocket client (`"transport": "ws"` scenarios): the same
//! steps as the Socket.IO client, over JSON messages the way Jac Cloud's
//! `/websocket` endpoint speaks them.
//!
//! Why a second client and not a mode of [`super::client`]: there is no Engine.IO
//! or Socket.IO framing at all, no namespace join and no ack ids, so the two share
//! only the receive/wait bookkeeping ([`super::client::Arrivals`] and
//! [`super::client::Waits`]). What the steps mean here:
//!
//! - connect: the WebSocket upgrade to `ws(s)://host/PATH` (the scenario's `path`,
//!   default `/websocket`) with the scenario's `query` (variables substituted); the
//!   auth's `token`, when there is one, goes as `Authorization: Bearer`;
//! - `emit {event, data}`: sends `data` as one JSON message, with `"type": event`
//!   added when `data` is an object without a `type` (`{"emit": {"event":
//!   "channel", "data": {"channel_ids": [...], "data": {...}}}}`);
//! - `emit_with_ack`: the same, then waits for the next server message of the same
//!   `type` (a walker call with `response: true` is answered by a `walker`
//!   message): that wait is the ack latency;
//! - `wait_for {event}`: the next server message whose `type` is `event`;
//! - every server message counts as received under its `type` (`message` when it
//!   has none); a `timestamp` in it (epoch milliseconds or ISO 8601) is a delivery
//!   latency sample, as with Socket.IO events.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::client::{Arrivals, ConnectFailure, Outcome, Waits};
use super::report::{Latency, Stats};
use crate::connection::wire::{ws_origin, WsOrigin};
use crate::{Error, Result};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Sink = SplitSink<Socket, Message>;

/// The default endpoint path (Jac Cloud's).
pub const DEFAULT_PATH: &str = "/websocket";

/// The WebSocket URL of `path` on a gateway given as `http(s)://host[:port]` or
/// `ws(s)://...`.
pub fn websocket_url(target: &str, path: &str) -> Result<String> {
    let WsOrigin { ws, authority, .. } = ws_origin(target)?;
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Ok(format!("{ws}://{authority}{path}"))
}

/// A message's `type`, else `message`.
fn kind_of(msg: &Value) -> &str {
    msg.get("type").and_then(Value::as_str).unwrap_or("message")
}

/// The message an `emit` of `event` with `data` sends.
pub fn message(event: &str, data: &Value) -> Value {
    match data {
        Value::Object(o) if !o.contains_key("type") => {
            let mut o = o.clone();
            o.insert("type".to_owned(), Value::String(event.to_owned()));
            Value::Object(o)
        }
        Value::Null => serde_json::json!({ "type": event }),
        other => other.clone(),
    }
}

struct Inbox {
    arrivals: Arrivals,
    /// The `client_id` of the server's `connection` message (Jac), for
    /// `{{client_id}}` in what this client sends.
    client_id: Mutex<Option<String>>,
}

/// A connected plain WebSocket virtual client.
pub struct WsClient {
    index: usize,
    inbox: Arc<Inbox>,
    sink: Arc<tokio::sync::Mutex<Sink>>,
    reader: JoinHandle<()>,
    waits: Waits,
}

impl WsClient {
    /// Opens the WebSocket within `timeout`. `url` already carries the query.
    pub async fn connect(
        index: usize,
        url: &str,
        token: Option<&str>,
        timeout: Duration,
        stats: Arc<Stats>,
        tls: Option<tokio_tungstenite::Connector>,
    ) -> std::result::Result<Self, ConnectFailure> {
        let fail = |kind: &'static str, message: String| ConnectFailure { kind, message };
        let mut request = url
            .into_client_request()
            .map_err(|e| fail("unreachable", e.to_string()))?;
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            let v = HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|e| fail("protocol", format!("bad token header: {e}")))?;
            request.headers_mut().insert("authorization", v);
        }
        // The metrics' namespace label of a plain WebSocket client is its path.
        let path = request.uri().path().to_owned();
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let connecting =
            tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, tls);
        let (socket, _) = match tokio::time::timeout(timeout, connecting).await {
            Err(_) => {
                return Err(fail(
                    "connect_timeout",
                    format!("not connected within {timeout:?}"),
                ))
            }
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
                return Err(fail("http_refused", format!("HTTP {}", resp.status())))
            }
            Ok(Err(e)) => {
                return Err(fail(
                    "unreachable",
                    crate::connection::tls::explain(&e.to_string()),
                ))
            }
            Ok(Ok(pair)) => pair,
        };
        let (sink, stream) = socket.split();
        let inbox = Arc::new(Inbox {
            arrivals: Arrivals::new(stats, &path),
            client_id: Mutex::new(None),
        });
        let reader = tokio::spawn(read_loop(stream, inbox.clone(), index));
        Ok(Self {
            index,
            inbox,
            sink: Arc::new(tokio::sync::Mutex::new(sink)),
            reader,
            waits: Waits::default(),
        })
    }

    /// Sends one message; with `reply_timeout`, waits for the next server message of
    /// the same type and records the wait as ack latency.
    pub async fn emit(
        &mut self,
        event: &str,
        data: &Value,
        reply_timeout: Option<Duration>,
    ) -> Result<Outcome> {
        let msg = message(event, data);
        let kind = kind_of(&msg).to_owned();
        let mut text = msg.to_string();
        if text.contains("{{client_id}}") {
            let id = self.inbox.client_id.lock().ok().and_then(|c| c.clone());
            if let Some(id) = id {
                // Jac client ids are `digits:hex`: nothing to escape in JSON.
                text = text.replace("{{client_id}}", &id);
            }
        }
        let arrivals = &self.inbox.arrivals;
        let before = arrivals.seen(&kind).map_or(0, |s| s.count);
        let sent_at = Instant::now();
        let sent = self.sink.lock().await.send(Message::text(text)).await;
        if let Err(e) = sent {
            arrivals.stats.error("send_failed");
            tracing::debug!(client = self.index, event, error = %e, "simulated ws send failed");
            return Err(Error::Emit(e.to_string()));
        }
        arrivals.stats.sent(&arrivals.ns, &kind);
        self.waits.emitted(sent_at);
        let Some(timeout) = reply_timeout else {
            return Ok(Outcome::Ok);
        };
        let reply = arrivals
            .wait_until(timeout, |a| a.seen(&kind).filter(|s| s.count > before))
            .await;
        match reply {
            Ok(seen) => {
                // The reply is consumed: a later wait_for of this type skips it.
                self.waits.consume(&kind, seen.count);
                arrivals.stats.acks_ok.fetch_add(1, Ordering::Relaxed);
                arrivals.stats.latency(
                    Latency::Ack,
                    seen.last_at.saturating_duration_since(sent_at),
                );
                Ok(Outcome::Ok)
            }
            Err(Outcome::TimedOut) => {
                arrivals
                    .stats
                    .acks_timed_out
                    .fetch_add(1, Ordering::Relaxed);
                arrivals.stats.error("ack_timeout");
                Ok(Outcome::TimedOut)
            }
            Err(other) => Ok(other),
        }
    }

    /// Waits for the next unconsumed message of type `event`.
    pub async fn wait_for(&mut self, event: &str, timeout: Duration) -> Outcome {
        self.waits
            .wait_for(&self.inbox.arrivals, event, timeout)
            .await
    }

    pub fn is_gone(&self) -> bool {
        self.inbox.arrivals.is_gone()
    }

    /// Leaves with a WebSocket close.
    pub async fn close(self) {
        self.inbox.arrivals.closing.store(true, Ordering::SeqCst);
        let _ = self.sink.lock().await.send(Message::Close(None)).await;
        let mut reader = self.reader;
        if tokio::time::timeout(Duration::from_secs(1), &mut reader)
            .await
            .is_err()
        {
            reader.abort();
        }
    }
}

/// Counts every server message until the connection ends.
async fn read_loop(mut stream: SplitStream<Socket>, inbox: Arc<Inbox>, index: usize) {
    let ended = loop {
        let msg: Value = match stream.next().await {
            Some(Ok(Message::Text(t))) => {
                serde_json::from_str(t.as_str()).unwrap_or(Value::String(t.to_string()))
            }
            Some(Ok(Message::Binary(_))) => Value::Null,
            Some(Ok(Message::Close(_))) | None => break "server_disconnect",
            Some(Err(_)) => break "disconnected",
            Some(Ok(_)) => continue,
        };
        let kind = kind_of(&msg).to_owned();
        if kind == "connection" {
            if let Some(id) = msg.pointer("/data/client_id").and_then(Value::as_str) {
                if let Ok(mut c) = inbox.client_id.lock() {
                    *c = Some(id.to_owned());
                }
            }
        }
        inbox.arrivals.arrived(kind, &msg);
    };
    let arrivals = &inbox.arrivals;
    arrivals.gone.store(true, Ordering::SeqCst);
    if !arrivals.closing.load(Ordering::SeqCst) {
        arrivals.stats.error(ended);
        tracing::debug!(
            client = index,
            how = ended,
            "simulated ws client lost its connection"
        );
    }
    arrivals.wake.notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls_and_messages() {
        assert_eq!(
            websocket_url("http://127.0.0.1:8000", "/websocket").unwrap(),
            "ws://127.0.0.1:8000/websocket"
        );
        assert_eq!(websocket_url("https://h/x", "ws").unwrap(), "wss://h/ws");
        assert!(websocket_url("h:1", "/").is_err());
        assert_eq!(
            message("channel", &json!({"channel_ids": ["a"]})),
            json!({"type": "channel", "channel_ids": ["a"]})
        );
        assert_eq!(
            message("walker", &json!({"type": "walker", "walker": "w"})),
            json!({"type": "walker", "walker": "w"})
        );
        assert_eq!(
            message("connection", &Value::Null),
            json!({"type": "connection"})
        );
    }
}
