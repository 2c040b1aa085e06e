//! Every request the app sends to the proxy: Engine.IO long-polling requests are
//! read packet by packet on their way through; websocket upgrades go to
//! [`crate::websocket`]; anything else (the app's REST calls on the same origin,
//! static files) is forwarded untouched.
//!
//! Forwarding keeps the request's method, path, query, headers and body, minus the
//! hop-by-hop headers (RFC 9110 §7.6.1) that describe one connection rather than the
//! message; the upstream's answer comes back the same way. Bodies are read whole
//! and capped ([`MAX_BODY`]): a client or upstream that sends more gets 413/502, not
//! an unbounded buffer.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sockscope_protocol::Direction;

use crate::client::{Client, Seen};
use crate::exchange::{
    bad_gateway, end_to_end, handshake_view, pace, unknown_session, EngineQuery,
};
use crate::payload::{self, Frame, Framing};
use crate::Inner;

/// Largest body read from either side (Engine.IO's own default limit is 1 MB; a
/// batched polling body may hold several packets).
pub const MAX_BODY: usize = 16 << 20;

/// The one axum handler.
pub async fn handle(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    req: Request,
) -> Response {
    let query = EngineQuery::of(req.uri().query());
    let upgrade = req
        .headers()
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    match query {
        Some(q) if upgrade => crate::websocket::upgrade(inner, req, q, peer).await,
        Some(q) if q.transport == "polling" => polling(inner, req, q, peer).await,
        _ => {
            inner
                .passthrough
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if upgrade {
                return crate::websocket::tunnel(inner, req).await;
            }
            let (parts, body) = req.into_parts();
            let body = match to_bytes(body, MAX_BODY).await {
                Ok(b) => b,
                Err(_) => return too_large(),
            };
            match forward(&inner, &parts.method, &parts.uri, &parts.headers, body).await {
                Ok(r) => r.into_response(),
                Err(e) => bad_gateway(&e),
            }
        }
    }
}

/// The upstream's answer, read whole.
pub struct Upstream {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl IntoResponse for Upstream {
    fn into_response(self) -> Response {
        let mut r = Response::new(Body::from(self.body));
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers;
        r
    }
}

/// Forwards one request upstream and reads the answer (at most [`MAX_BODY`]).
pub async fn forward(
    inner: &Inner,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: bytes::Bytes,
) -> Result<Upstream, String> {
    let url = inner.upstream_url(uri, false);
    let mut rb = inner
        .http
        .request(method.clone(), url)
        .headers(end_to_end(headers));
    if !body.is_empty() || *method == Method::POST || *method == Method::PUT {
        rb = rb.body(body);
    }
    let mut resp = rb.send().await.map_err(|e| describe(&e))?;
    let status = resp.status();
    let headers = end_to_end(resp.headers());
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(format!("the upstream's answer is over {MAX_BODY} bytes"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Upstream {
        status,
        headers,
        body: buf.into(),
    })
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    sockscope_bus::limits::clip_message(&s)
}

fn too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("sockscope proxy: the body is over {MAX_BODY} bytes\n"),
    )
        .into_response()
}

/// What a direction's frames came to after the rules.
#[derive(Default)]
pub struct Filtered {
    pub frames: Vec<Frame>,
    /// A rule dropped or rewrote something: the body must be rebuilt.
    pub changed: bool,
    pub delay: Duration,
    /// A rule closed the transport (the fault line).
    pub close: Option<String>,
    /// A frame did not decode.
    pub error: Option<String>,
}

/// Runs every frame of a body through the client's decoder and the rules.
pub fn filter(
    inner: &Inner,
    client: &Client,
    direction: Direction,
    frames: Vec<Frame>,
) -> Filtered {
    let mut f = Filtered::default();
    let mut held: Vec<Frame> = Vec::new();
    for frame in frames {
        match client.inspect(direction, &frame, &inner.rules) {
            Ok(Seen::Pass) => {
                f.frames.append(&mut held);
                f.frames.push(frame);
            }
            Ok(Seen::Incomplete) => held.push(frame),
            Ok(Seen::Fault {
                verdict,
                replacement,
            }) => {
                held.push(frame);
                f.delay += verdict.delay;
                if verdict.close {
                    f.close = Some(verdict.faults.join("; "));
                    f.changed = true;
                    return f;
                }
                if verdict.drop {
                    held.clear();
                    f.changed = true;
                } else if let Some(r) = replacement {
                    held.clear();
                    f.frames.extend(r);
                    f.changed = true;
                } else {
                    f.frames.append(&mut held);
                }
            }
            Err(e) => {
                f.error = Some(e);
                return f;
            }
        }
    }
    // Attachments that continue in the next body: forward what came.
    f.frames.append(&mut held);
    f
}

async fn polling(
    inner: Arc<Inner>,
    req: Request,
    q: EngineQuery,
    peer: std::net::SocketAddr,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let client = q.sid.as_deref().and_then(|sid| inner.client(sid));
    if let Some(c) = &client {
        if c.is_killed() {
            return unknown_session();
        }
        c.touch();
    }
    let mut body_out = body.clone();
    if parts.method == Method::POST {
        if let Some(c) = &client {
            match payload::decode(q.eio, &body) {
                Ok((framing, frames)) => {
                    let is_close = frames.iter().any(|f| *f == Frame::Text("1".into()));
                    let f = filter(&inner, c, Direction::C2s, frames);
                    if let Some(e) = f.error {
                        return hostile(&inner, c, Direction::C2s, &e).await;
                    }
                    if let Some(line) = f.close {
                        return close_by_rule(&inner, c, line).await;
                    }
                    pace(&inner, c, Direction::C2s, f.delay, body.len()).await;
                    if f.changed {
                        body_out = rebuilt(framing, &f.frames).into();
                    }
                    if is_close {
                        c.end(
                            Direction::C2s,
                            "transport close: the client closed the session",
                            None,
                        );
                    }
                }
                Err(e) => return hostile(&inner, c, Direction::C2s, &e.to_string()).await,
            }
        }
    }
    let up = match forward(&inner, &parts.method, &parts.uri, &parts.headers, body_out).await {
        Ok(u) => u,
        Err(e) => return bad_gateway(&e),
    };
    if parts.method != Method::GET || !up.status.is_success() {
        if let (Some(c), true) = (&client, up.status == StatusCode::BAD_REQUEST) {
            c.end(
                Direction::S2c,
                "transport close: the server no longer knows the session",
                None,
            );
        }
        return up.into_response();
    }
    let (framing, frames) = match payload::decode(q.eio, &up.body) {
        Ok(d) => d,
        Err(e) => {
            return match &client {
                Some(c) => hostile(&inner, c, Direction::S2c, &e.to_string()).await,
                None => bad_gateway(&format!("the handshake answer is not Engine.IO: {e}")),
            }
        }
    };
    let client = match client {
        Some(c) => c,
        None if q.sid.is_none() => {
            match inner.open_client(
                q.eio,
                "polling",
                &frames,
                handshake_view(&parts.method, &parts.uri, &parts.headers, peer),
            ) {
                Some(c) => c,
                None => return up.into_response(),
            }
        }
        // A session that started before the proxy: forwarded, not inspected.
        None => return up.into_response(),
    };
    let is_close = frames.iter().any(|f| *f == Frame::Text("1".into()));
    let f = filter(&inner, &client, Direction::S2c, frames);
    if let Some(e) = f.error {
        return hostile(&inner, &client, Direction::S2c, &e).await;
    }
    if let Some(line) = f.close {
        return close_by_rule(&inner, &client, line).await;
    }
    pace(&inner, &client, Direction::S2c, f.delay, up.body.len()).await;
    if is_close {
        client.end(
            Direction::S2c,
            "transport close: the server closed the session",
            None,
        );
    }
    if !f.changed {
        return up.into_response();
    }
    let body = rebuilt(framing, &f.frames);
    Upstream {
        status: up.status,
        headers: up.headers,
        body: body.into(),
    }
    .into_response()
}

/// A body whose packets all went: Engine.IO's no-op keeps the poll valid.
fn rebuilt(framing: Framing, frames: &[Frame]) -> Vec<u8> {
    if frames.is_empty() {
        payload::encode(framing, &[Frame::Text("6".into())])
    } else {
        payload::encode(framing, frames)
    }
}

/// A rule closed a polling client: the session ends on both sides.
async fn close_by_rule(inner: &Inner, client: &Client, line: String) -> Response {
    client.kill(
        Direction::S2c,
        "transport close: closed by the proxy",
        Some(line),
    );
    end_upstream_session(inner, client).await;
    unknown_session()
}

/// A frame that does not decode: the client is ended with the reason recorded.
async fn hostile(inner: &Inner, client: &Client, from: Direction, why: &str) -> Response {
    let who = match from {
        Direction::C2s => "the client",
        Direction::S2c => "the server",
    };
    let reason =
        format!("proxy closed the session: {who} sent a packet that does not decode ({why})");
    tracing::warn!(client = client.n, reason, "proxy: hostile frame");
    client.kill(from, &reason, None);
    end_upstream_session(inner, client).await;
    (StatusCode::BAD_GATEWAY, format!("sockscope {reason}\n")).into_response()
}

/// Tells the upstream the session is over (an Engine.IO close packet), so it frees
/// it at once rather than at its ping timeout.
async fn end_upstream_session(inner: &Inner, client: &Client) {
    let eio = client.eio.number();
    let sid: String = url::form_urlencoded::byte_serialize(client.sid.as_bytes()).collect();
    let Ok(uri) =
        format!("{}?EIO={eio}&transport=polling&sid={sid}", client.path).parse::<axum::http::Uri>()
    else {
        return;
    };
    let body = payload::encode(
        if eio == 3 {
            Framing::V3Text
        } else {
            Framing::V4
        },
        &[Frame::Text("1".into())],
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    if let Err(e) = forward(inner, &Method::POST, &uri, &headers, body.into()).await {
        tracing::debug!(error = e, "proxy: could not end the upstream session");
    }
}
