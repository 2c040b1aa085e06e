//! What both transports share: the Engine.IO query that marks a request as a
//! client's, the headers that cross (hop-by-hop ones do not), the answers the proxy
//! gives itself (the upstream did not answer, an unknown session), the handshake as
//! the Inspector shows it, and the pacing of delay and throttle rules.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sockscope_codec::wire::Eio;
use sockscope_protocol::Direction;

use crate::client::Client;
use crate::Inner;

/// Headers that belong to one connection, not to the message.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// The Engine.IO query of a request (`EIO`, `transport`, `sid`), if it is one.
pub struct EngineQuery {
    pub eio: Eio,
    pub transport: String,
    pub sid: Option<String>,
}

impl EngineQuery {
    pub fn of(query: Option<&str>) -> Option<Self> {
        let pairs: HashMap<String, String> = url::form_urlencoded::parse(query?.as_bytes())
            .into_owned()
            .collect();
        let eio = match pairs.get("EIO")?.as_str() {
            "3" => Eio::V3,
            "4" => Eio::V4,
            _ => return None,
        };
        let transport = pairs.get("transport")?.clone();
        // JSONP polling (`j=`) is forwarded untouched: it is for browsers without
        // XHR2, and its bodies are script, not payloads.
        if pairs.contains_key("j") {
            return None;
        }
        Some(Self {
            eio,
            transport,
            sid: pairs.get("sid").cloned(),
        })
    }
}

/// `headers` without the hop-by-hop ones (and those `Connection` names).
pub fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::new();
    for (k, v) in headers {
        let name = k.as_str();
        if HOP_BY_HOP.contains(&name) || named.iter().any(|n| n == name) {
            continue;
        }
        out.append(k.clone(), v.clone());
    }
    out
}

pub fn bad_gateway(why: &str) -> Response {
    tracing::warn!(why, "proxy: upstream request failed");
    (
        StatusCode::BAD_GATEWAY,
        format!("sockscope proxy: the upstream did not answer: {why}\n"),
    )
        .into_response()
}

/// What Engine.IO servers answer for a session they do not know.
pub fn unknown_session() -> Response {
    let mut r = (
        StatusCode::BAD_REQUEST,
        json!({"code": 1, "message": "Session ID unknown"}).to_string(),
    )
        .into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// The handshake as the Inspector shows it: secrets in the query and headers
/// redacted.
pub fn handshake_view(
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    peer: std::net::SocketAddr,
) -> serde_json::Value {
    let mut h = serde_json::Map::new();
    for (k, v) in headers {
        if let Ok(v) = v.to_str() {
            h.insert(k.as_str().to_owned(), json!(v));
        }
    }
    let headers = sockscope_bus::redact::redact_headers(&serde_json::Value::Object(h));
    json!({
        "method": method.as_str(),
        "url": handshake_url(uri),
        "headers": headers,
        "remote": peer.to_string(),
    })
}

/// Delay and throttle for one body or message of `bytes` bytes.
pub async fn pace(
    inner: &Inner,
    client: &Client,
    direction: Direction,
    delay: Duration,
    bytes: usize,
) {
    let mut wait = delay;
    if let Some(bps) = crate::rules::throttle(&inner.rules, direction) {
        let t = Duration::from_secs_f64(bytes as f64 / bps as f64);
        if !t.is_zero() {
            client.note_throttle(direction, t);
        }
        wait += t;
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

/// The request's path and query with the secrets out: the Engine.IO session id and
/// every value whose key names a secret (`token`, `auth`...) or that looks like one
/// (a JWT) become `[redacted]`; `EIO`, `transport` and the like stay readable.
pub fn handshake_url(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_owned();
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let secret = k == "sid" || sockscope_bus::redact::is_secret_key(&k);
        let shown = if secret {
            sockscope_bus::redact::REDACTED.to_owned()
        } else {
            sockscope_bus::redact::text(&v)
        };
        out.append_pair(&k, &shown);
    }
    format!("{}?{}", uri.path(), out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_url_keeps_the_protocol_and_hides_the_secrets() {
        let uri: axum::http::Uri = "/socket.io/?EIO=4&transport=polling&sid=abc&token=s3cr3t&t=P1"
            .parse()
            .unwrap();
        let shown = handshake_url(&uri);
        assert!(
            shown.starts_with(
                "/socket.io/?EIO=4&transport=polling&sid=%5Bredacted%5D&token=%5Bredacted%5D&t=P1"
            ),
            "{shown}"
        );
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("abc"),
            "{shown}"
        );
    }
}
