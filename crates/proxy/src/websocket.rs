//! WebSocket transports through the proxy: a websocket-only session, or the upgrade
//! of a polling session (`sid` in the query) halfway through its life.
//!
//! The upstream socket is opened first, with the app's headers (cookies, auth,
//! origin, subprotocols), so an upstream that refuses (unknown session, auth) gives
//! the app the upstream's own status; only then does the app get its `101`. Each
//! message is forwarded as the same message (text stays text, bytes stay the same
//! bytes); WebSocket-level pings are answered on each side by the socket library and
//! not forwarded, and no compression extension is negotiated on either side.
//!
//! Backpressure is end to end: a direction reads its next message only after the
//! previous one was written, so a slow reader slows its sender through TCP instead
//! of filling a buffer. Messages are capped at [`MAX_MESSAGE`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use sockscope_protocol::Direction;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::client::{Client, Seen};
use crate::exchange::{
    bad_gateway, end_to_end, handshake_view, pace, unknown_session, EngineQuery,
};
use crate::payload::Frame;
use crate::Inner;

/// Largest WebSocket message either side may send.
pub const MAX_MESSAGE: usize = 16 << 20;
/// How long the upstream has to accept the socket, and to send its open packet.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Headers the proxy sets itself on each side of a WebSocket handshake.
const OWN_HEADERS: &[&str] = &[
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-accept",
];

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

type Upstream = WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the upstream socket for `req` and answers the app's handshake.
async fn open(
    inner: &Inner,
    req: &mut Request,
) -> Result<(Upstream, Option<HeaderValue>, String), Response> {
    let url = inner.upstream_url(req.uri(), true);
    let mut up_req = url
        .as_str()
        .into_client_request()
        .map_err(|e| bad_gateway(&format!("bad upstream URL {url}: {e}")))?;
    for (k, v) in end_to_end(req.headers()).iter() {
        if OWN_HEADERS.contains(&k.as_str()) {
            continue;
        }
        up_req.headers_mut().insert(k.clone(), v.clone());
    }
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return Err((StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key\n").into_response());
    };
    let connecting = tokio_tungstenite::connect_async_tls_with_config(
        up_req,
        Some(config()),
        true,
        inner.ws_connector.clone(),
    );
    let (upstream, resp) = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => {
            return Err(bad_gateway(
                "the upstream did not accept the websocket in 10 s",
            ))
        }
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(refused))) => {
            // The upstream's refusal, passed on as it was.
            let (parts, body) = refused.into_parts();
            let mut r = Response::new(axum::body::Body::from(body.unwrap_or_default()));
            *r.status_mut() = parts.status;
            *r.headers_mut() = end_to_end(&parts.headers);
            return Err(r);
        }
        Ok(Err(e)) => return Err(bad_gateway(&e.to_string())),
        Ok(Ok(pair)) => pair,
    };
    let protocol = resp.headers().get("sec-websocket-protocol").cloned();
    let accept = derive_accept_key(key.as_bytes());
    Ok((upstream, protocol, accept))
}

fn switching(accept: &str, protocol: Option<HeaderValue>) -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert("connection", HeaderValue::from_static("upgrade"));
    h.insert("upgrade", HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(accept) {
        h.insert("sec-websocket-accept", v);
    }
    if let Some(p) = protocol {
        h.insert("sec-websocket-protocol", p);
    }
    r
}

/// An Engine.IO websocket: inspected.
pub async fn upgrade(
    inner: Arc<Inner>,
    mut req: Request,
    q: EngineQuery,
    peer: std::net::SocketAddr,
) -> Response {
    let known = q.sid.as_deref().and_then(|sid| inner.client(sid));
    if let (Some(c), Some(rule)) = (&known, crate::rules::no_upgrade(&inner.rules)) {
        c.note_fault(format!("websocket upgrade refused by {}", rule.label()));
        return (
            StatusCode::BAD_REQUEST,
            "{\"code\":3,\"message\":\"Bad request\"}",
        )
            .into_response();
    }
    if known.as_ref().is_some_and(|c| c.is_killed()) {
        return unknown_session();
    }
    let handshake = handshake_view(req.method(), req.uri(), req.headers(), peer);
    let (mut upstream, protocol, accept) = match open(&inner, &mut req).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    // A websocket-only session starts with the upstream's open packet.
    let (client, opening) = match (&q.sid, known) {
        (Some(_), Some(c)) => (Some(c), None),
        (Some(_), None) => (None, None),
        (None, _) => {
            let first = tokio::time::timeout(CONNECT_TIMEOUT, upstream.next()).await;
            let Ok(Some(Ok(msg))) = first else {
                return bad_gateway("the upstream sent no Engine.IO open packet");
            };
            let frame = to_frame(&msg);
            let client = frame.as_ref().and_then(|f| {
                inner.open_client(q.eio, "websocket", std::slice::from_ref(f), handshake)
            });
            if let (Some(c), Some(f)) = (&client, &frame) {
                if let Err(e) = c.inspect(Direction::S2c, f, &inner.rules) {
                    return bad_gateway(&format!("bad open packet: {e}"));
                }
            }
            (client, Some(msg))
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let ws_only = q.sid.is_none();
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(error) => {
                tracing::debug!(%error, "proxy: the app's websocket upgrade failed");
                return;
            }
        };
        let app =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config()))
                .await;
        relay(inner, client, app, upstream, opening, ws_only).await;
    });
    switching(&accept, protocol)
}

/// A websocket that is not Engine.IO (the app's own): relayed, not inspected.
pub async fn tunnel(inner: Arc<Inner>, mut req: Request) -> Response {
    let (upstream, protocol, accept) = match open(&inner, &mut req).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let app =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config()))
                .await;
        relay(inner, None, app, upstream, None, false).await;
    });
    switching(&accept, protocol)
}

fn to_frame(msg: &Message) -> Option<Frame> {
    match msg {
        Message::Text(t) => Some(Frame::Text(t.as_str().to_owned())),
        Message::Binary(b) => Some(Frame::Binary(b.to_vec())),
        _ => None,
    }
}

/// How one direction ended.
enum End {
    /// The sender closed or the socket broke.
    Closed(Direction),
    /// A rule closed the transport (its fault line).
    Rule(String),
    /// A frame did not decode.
    Hostile(Direction, String),
    /// The client was ended elsewhere (a rule on its other transport).
    Killed,
    /// The receiver is gone.
    WriteFailed(Direction),
}

async fn relay<S>(
    inner: Arc<Inner>,
    client: Option<Arc<Client>>,
    app: WebSocketStream<S>,
    upstream: Upstream,
    opening: Option<Message>,
    ws_only: bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut app_tx, app_rx) = app.split();
    let (up_tx, up_rx) = upstream.split();
    if let Some(open) = opening {
        if app_tx.send(open).await.is_err() {
            if let Some(c) = &client {
                c.end(
                    Direction::C2s,
                    "transport close: the client left during the handshake",
                    None,
                );
            }
            return;
        }
    }
    let upgraded = Arc::new(std::sync::atomic::AtomicBool::new(ws_only));
    if let Some(c) = &client {
        if ws_only {
            c.set_transport("websocket");
        }
    }
    let c2s = pump(
        &inner,
        client.clone(),
        Direction::C2s,
        app_rx,
        up_tx,
        upgraded.clone(),
    );
    let s2c = pump(
        &inner,
        client.clone(),
        Direction::S2c,
        up_rx,
        app_tx,
        upgraded.clone(),
    );
    let killed = async {
        match &client {
            Some(c) => {
                let notified = c.kill.notified();
                if !c.is_killed() {
                    notified.await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    };
    let end = tokio::select! {
        e = c2s => e,
        e = s2c => e,
        _ = killed => End::Killed,
    };
    let Some(c) = client else { return };
    // A probe that never completed the upgrade leaves the session on polling.
    if !upgraded.load(std::sync::atomic::Ordering::SeqCst)
        && !matches!(end, End::Rule(_) | End::Hostile(..))
    {
        return;
    }
    match end {
        End::Closed(Direction::C2s) | End::WriteFailed(Direction::S2c) => c.end(
            Direction::C2s,
            "transport close: the client closed the connection",
            None,
        ),
        End::Closed(Direction::S2c) | End::WriteFailed(Direction::C2s) => c.end(
            Direction::S2c,
            "transport close: the server closed the connection",
            None,
        ),
        End::Rule(line) => c.kill(
            Direction::S2c,
            "transport close: closed by the proxy",
            Some(line),
        ),
        End::Hostile(from, why) => {
            let who = if from == Direction::C2s {
                "the client"
            } else {
                "the server"
            };
            let reason = format!(
                "proxy closed the connection: {who} sent a frame that does not decode ({why})"
            );
            tracing::warn!(client = c.n, reason, "proxy: hostile frame");
            c.kill(from, &reason, None);
        }
        End::Killed => {}
    }
}

async fn pump<R, W>(
    inner: &Inner,
    client: Option<Arc<Client>>,
    direction: Direction,
    mut rx: R,
    mut tx: W,
    upgraded: Arc<std::sync::atomic::AtomicBool>,
) -> End
where
    R: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
    W: futures_util::Sink<Message> + Unpin,
{
    let mut held: Vec<Message> = Vec::new();
    loop {
        let msg = match rx.next().await {
            Some(Ok(m)) => m,
            Some(Err(error)) => {
                tracing::debug!(%error, ?direction, "proxy: websocket read ended");
                return End::Closed(direction);
            }
            None => return End::Closed(direction),
        };
        if let Message::Close(frame) = &msg {
            let _ = tx.send(Message::Close(frame.clone())).await;
            return End::Closed(direction);
        }
        let Some(frame) = to_frame(&msg) else {
            // Pings and pongs are answered by each side's socket.
            continue;
        };
        let Some(c) = &client else {
            if tx.send(msg).await.is_err() {
                return End::WriteFailed(direction);
            }
            continue;
        };
        if c.is_killed() {
            return End::Killed;
        }
        c.touch();
        if direction == Direction::C2s && frame == Frame::Text("5".into()) {
            upgraded.store(true, std::sync::atomic::Ordering::SeqCst);
            c.set_transport("websocket");
        }
        let len = match &frame {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
        };
        let mut out: Vec<Message> = Vec::new();
        let mut delay = Duration::ZERO;
        match c.inspect(direction, &frame, &inner.rules) {
            Ok(Seen::Pass) => {
                out.append(&mut held);
                out.push(msg);
            }
            Ok(Seen::Incomplete) => {
                held.push(msg);
                continue;
            }
            Ok(Seen::Fault {
                verdict,
                replacement,
            }) => {
                if verdict.close {
                    return End::Rule(verdict.faults.join("; "));
                }
                delay = verdict.delay;
                if verdict.drop {
                    held.clear();
                } else if let Some(r) = replacement {
                    held.clear();
                    out.extend(r.into_iter().map(|f| match f {
                        Frame::Text(t) => Message::text(t),
                        Frame::Binary(b) => Message::binary(b),
                    }));
                } else {
                    out.append(&mut held);
                    out.push(msg);
                }
            }
            Err(e) => return End::Hostile(direction, e),
        }
        pace(inner, c, direction, delay, len).await;
        for m in out {
            if tx.send(m).await.is_err() {
                return End::WriteFailed(direction);
            }
        }
    }
}
