//! A plain WebSocket client connection (tokio-tungstenite), for gateways that speak
//! JSON over a bare WebSocket instead of Socket.IO — Jac Cloud's `/websocket` is the
//! one the seeds name.
//!
//! It mirrors [`super::socketio::Connection`] (`open`, `send`, `close`) and publishes
//! the same way, with source `connection:<id>` and the URL path as the namespace:
//! - every message received is an `s2c` record whose event is the message's string
//!   `type` field, or `message` when it is not a JSON object with one; the whole
//!   message is the one argument (binary frames as `{"_binary": "<base64>"}`);
//! - every message sent is a `c2s` record, published just before it goes out so a
//!   reply can never be seen before its request;
//! - the handshake is an `s2c` `connect` record, a close `disconnect` (`s2c` with the
//!   close code and reason when the server closed, `c2s` when we did), and transport
//!   errors an `s2c` `error` record.
//!
//! Secrets: headers (`Authorization: Bearer ...`) and query parameters (`channel_id`,
//! tokens) go to the server only; [`WsOptions::describe`] keeps their names. Message
//! payloads are redacted by key like every record (Jac's `change_user {token}`).
//! There is no reconnection: a Jac client re-sends its state itself. When the server
//! closes, the transport fails or a message is over `max_payload` (which ends the
//! connection: tungstenite refuses it), the connection is over:
//! [`WsConnection::ended`] says why and [`WsConnection::losses`] counts it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sockscope_protocol::Direction;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::health::{self, ConnectionLosses, Health, DEFAULT_MAX_PAYLOAD};
use super::socketio::NEXT_ID;
use crate::{Error, Result};
use sockscope_bus::redact;
use sockscope_bus::{self as bus, Bus};
use sockscope_codec::binary::BINARY_MARKER;

/// How long `close` waits for the server to answer the close handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Everything needed to open a plain WebSocket, as the user typed it.
#[derive(Debug, Clone, Default)]
pub struct WsOptions {
    /// `ws://` or `wss://` URL, e.g. `ws://localhost:8000/websocket`.
    pub url: String,
    /// Sent with the upgrade request (e.g. `Authorization: Bearer ...`).
    pub headers: Vec<(String, String)>,
    /// Appended to the URL (e.g. `channel_id`).
    pub query: Vec<(String, String)>,
    /// JSON messages sent right after the connection opens, in order.
    pub on_connect: Vec<Value>,
    /// Largest message accepted, in bytes (0: [`DEFAULT_MAX_PAYLOAD`]); a bigger one
    /// ends the connection.
    pub max_payload: usize,
    /// Extra roots, no checks, or a client certificate for `wss://` targets.
    pub tls: super::tls::TlsOptions,
}

impl WsOptions {
    /// The options minus secrets, for a session's metadata.
    pub fn describe(&self) -> Value {
        json!({
            "protocol": "websocket",
            "url": self.url,
            "headers": self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "query": self.query.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "on_connect": self.on_connect.iter().map(|m| event_of(m).to_owned()).collect::<Vec<_>>(),
            "tls": self.tls.describe(),
        })
    }

    /// The URL to dial: `http(s)://` becomes `ws(s)://`, the query is appended.
    fn full_url(&self) -> String {
        let url = if let Some(rest) = self.url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if let Some(rest) = self.url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            self.url.clone()
        };
        if self.query.is_empty() {
            return url;
        }
        let q: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
            .collect();
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{}", q.join("&"))
    }

    /// The URL's path: the namespace of this connection's records.
    fn path(&self) -> String {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        path.split(['?', '#']).next().unwrap_or("/").to_owned()
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a query
/// component): also what the simulator's scenario queries use.
pub fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A message's event name: its string `type`, else `message`.
fn event_of(msg: &Value) -> &str {
    msg.get("type").and_then(Value::as_str).unwrap_or("message")
}

/// Who publishes this connection's records.
#[derive(Clone)]
struct Publisher {
    bus: Bus,
    source: String,
    namespace: String,
}

impl Publisher {
    fn publish(&self, direction: Direction, event: &str, args: Value) {
        self.bus.publish(bus::record(
            &self.source,
            direction,
            &self.namespace,
            event,
            args,
        ));
    }

    fn message(&self, direction: Direction, msg: Value) {
        let event = event_of(&msg).to_owned();
        self.publish(direction, &event, json!([msg]));
    }
}

/// A live plain WebSocket connection.
pub struct WsConnection {
    id: u64,
    url: String,
    sink: Mutex<SplitSink<Socket, Message>>,
    reader: JoinHandle<()>,
    closing: Arc<AtomicBool>,
    out: Publisher,
    health: Arc<Health>,
}

impl WsConnection {
    /// Opens the WebSocket (waiting up to `timeout` for the handshake), then sends
    /// the `on_connect` messages. A refused upgrade (401, 403, 404...) is
    /// [`Error::Refused`] with the status; no answer is [`Error::Unreachable`].
    pub async fn open(opts: WsOptions, bus: Bus, timeout: Duration) -> Result<Self> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let out = Publisher {
            bus,
            source: format!("connection:{id}"),
            namespace: opts.path(),
        };
        // Errors and logs name the URL as the redaction policy shows it.
        let shown_url = redact::url(&opts.url);
        let unreachable = |reason: String| Error::Unreachable {
            url: shown_url.clone(),
            reason: redact::text(&reason),
        };
        let mut request = opts
            .full_url()
            .into_client_request()
            .map_err(|e| unreachable(e.to_string()))?;
        for (k, v) in &opts.headers {
            let name =
                HeaderName::from_bytes(k.as_bytes()).map_err(|_| Error::BadHeader(k.clone()))?;
            let value = HeaderValue::from_str(v).map_err(|_| Error::BadHeader(k.clone()))?;
            request.headers_mut().append(name, value);
        }
        let max_payload = match opts.max_payload {
            0 => DEFAULT_MAX_PAYLOAD,
            n => n,
        };
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(max_payload))
            .max_frame_size(Some(max_payload));
        let connector = opts.tls.ws_connector()?;
        let connecting = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            false,
            connector,
        );
        let (socket, response) = match tokio::time::timeout(timeout, connecting).await {
            Err(_) => return Err(unreachable(format!("no answer within {timeout:?}"))),
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
                let body = resp
                    .body()
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .map(|b| b.trim().chars().take(200).collect::<String>())
                    .filter(|b| !b.is_empty());
                let mut message = format!("HTTP {}", resp.status());
                if let Some(b) = body {
                    message.push_str(&format!(": {b}"));
                }
                out.publish(Direction::S2c, "connect_error", json!([message]));
                return Err(Error::Refused {
                    url: shown_url.clone(),
                    message: redact::text(&message),
                });
            }
            Ok(Err(e)) => return Err(unreachable(super::tls::explain(&e.to_string()))),
            Ok(Ok(pair)) => pair,
        };
        tracing::info!(connection = id, url = %shown_url, status = %response.status(), "websocket connected");
        out.publish(Direction::S2c, "connect", json!([]));
        let health = Arc::new(Health::new(out.bus.clone(), &out.source, &out.namespace));
        health.connected();
        let (sink, stream) = socket.split();
        let closing = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_loop(
            stream,
            out.clone(),
            closing.clone(),
            id,
            health.clone(),
        ));
        let conn = Self {
            id,
            url: shown_url.clone(),
            sink: Mutex::new(sink),
            reader,
            closing,
            out,
            health,
        };
        for msg in opts.on_connect {
            conn.send(msg).await?;
        }
        Ok(conn)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Resolves with the reason once the server closed or the connection failed.
    pub async fn ended(&self) -> String {
        self.health.ended().await
    }

    /// What the connection lost so far, by cause.
    pub fn losses(&self) -> ConnectionLosses {
        self.health.losses()
    }

    /// Sends one JSON message (a JSON string goes as that text, unquoted).
    pub async fn send(&self, msg: Value) -> Result<()> {
        let text = match &msg {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.out.message(Direction::C2s, msg);
        let sent = self.sink.lock().await.send(Message::text(text)).await;
        if let Err(e) = sent {
            let reason = e.to_string();
            tracing::warn!(connection = self.id, url = %self.url, error = %reason, "websocket send failed");
            self.out
                .publish(Direction::S2c, "error", json!([{ "message": reason }]));
            return Err(Error::Emit(reason));
        }
        Ok(())
    }

    /// Closes the connection, waiting briefly for the server's close frame.
    pub async fn close(mut self) {
        self.closing.store(true, Ordering::SeqCst);
        let closed = self.sink.lock().await.send(Message::Close(None)).await;
        self.out.publish(Direction::C2s, "disconnect", json!([]));
        if let Err(error) = closed {
            tracing::debug!(connection = self.id, %error, "close frame not sent");
        }
        if tokio::time::timeout(CLOSE_WAIT, &mut self.reader)
            .await
            .is_err()
        {
            self.reader.abort();
        }
    }
}

/// Publishes everything the server sends until the connection ends.
async fn read_loop(
    mut stream: SplitStream<Socket>,
    out: Publisher,
    closing: Arc<AtomicBool>,
    id: u64,
    health: Arc<Health>,
) {
    let lost = |why: String| {
        if health.count_loss() {
            health.end(why);
        }
    };
    while let Some(next) = stream.next().await {
        match next {
            Ok(Message::Text(text)) => {
                let msg = serde_json::from_str::<Value>(text.as_str())
                    .unwrap_or_else(|_| Value::String(text.to_string()));
                out.message(Direction::S2c, msg);
            }
            Ok(Message::Binary(data)) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
                out.publish(Direction::S2c, "message", json!([{ BINARY_MARKER: b64 }]));
            }
            Ok(Message::Close(frame)) => {
                if !closing.load(Ordering::SeqCst) {
                    let args = frame.map_or_else(
                        || json!([]),
                        |f| json!([{ "code": u16::from(f.code), "reason": f.reason.as_str() }]),
                    );
                    out.publish(Direction::S2c, "disconnect", args.clone());
                    lost(format!("the server closed the connection {args}"));
                }
                tracing::info!(connection = id, "websocket closed");
                return;
            }
            Ok(_) => {} // ping/pong: answered by tungstenite
            Err(error) => {
                if closing.load(Ordering::SeqCst) {
                    // Servers that drop the socket instead of answering our close.
                    tracing::debug!(connection = id, %error, "websocket ended while closing");
                } else {
                    let message = error.to_string();
                    if health::is_too_long(&message) {
                        health.oversized(format!(
                            "a message over the limit (--max-payload) ended the connection: {message}"
                        ));
                    } else {
                        out.publish(Direction::S2c, "error", json!([{ "message": message }]));
                    }
                    out.publish(Direction::S2c, "disconnect", json!([]));
                    lost(format!("connection lost: {message}"));
                    tracing::warn!(connection = id, %error, "websocket read failed");
                }
                return;
            }
        }
    }
    if !closing.load(Ordering::SeqCst) {
        out.publish(Direction::S2c, "disconnect", json!([]));
        lost("connection lost: transport closed".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_paths_and_descriptions_keep_secrets_out() {
        let o = WsOptions {
            url: "ws://h:1/websocket".into(),
            headers: vec![("Authorization".into(), "Bearer SECRET".into())],
            query: vec![("channel_id".into(), "a b&c".into())],
            on_connect: vec![json!({"type": "change_user", "token": "T"})],
            ..Default::default()
        };
        assert_eq!(o.full_url(), "ws://h:1/websocket?channel_id=a%20b%26c");
        let https = WsOptions {
            url: "https://h/ws?x=1".into(),
            query: vec![("k".into(), "v".into())],
            ..Default::default()
        };
        assert_eq!(https.full_url(), "wss://h/ws?x=1&k=v");
        assert_eq!(o.path(), "/websocket");
        let d = o.describe().to_string();
        assert!(!d.contains("SECRET") && !d.contains("a b"), "{d}");
        assert!(d.contains("change_user"), "{d}");
        let bare = WsOptions {
            url: "ws://h:1".into(),
            ..Default::default()
        };
        assert_eq!(bare.path(), "/");
        assert_eq!(event_of(&json!("x")), "message");
        assert_eq!(event_of(&json!({"type": 3})), "message");
    }
}
