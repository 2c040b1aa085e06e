//! Raw Engine.IO handshakes: `GET {path}?EIO=N&transport=polling` over HTTP and the
//! WebSocket upgrade on `transport=websocket`, each read into what a person needs to
//! know (an open packet and its revision, the server's refusal in its own words, a
//! timeout, a connection failure). Raw requests rather than a client library: a
//! library hides exactly the answers the doctor reports (the 400 saying "Transport
//! unknown", the v3 open packet, the missing CORS header).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::{self, Message};

use super::target::Target;

/// How long one probe waits for an answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(4);

/// The most of a response body read.
const MAX_BODY: usize = 64 * 1024;

/// What a server said to one Engine.IO handshake.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineAnswer {
    /// An open packet: the revision it speaks (v3 has no `maxPayload`), its session
    /// id, and what else came in the same answer (a v3 server's `40`).
    Open {
        eio: u8,
        sid: String,
        rest: Vec<String>,
    },
    /// An HTTP error status and the server's message (engine.io's JSON `message`,
    /// else the start of the body).
    Refused { status: u16, message: String },
    /// Nothing within [`PROBE_TIMEOUT`].
    NoAnswer,
    /// The connection or TLS failed (words from the library).
    Failed(String),
    /// An answer that is not an Engine.IO handshake.
    NotEngineIo(String),
}

impl EngineAnswer {
    pub fn open_eio(&self) -> Option<u8> {
        match self {
            EngineAnswer::Open { eio, .. } => Some(*eio),
            _ => None,
        }
    }

    /// An answer that says nothing speaks Engine.IO at this path: a 404, silence, a
    /// connection closed mid-handshake (engine.io ends upgrades on other paths), an
    /// answer that is not Engine.IO. Any open packet or other refusal (a 400 saying
    /// "Transport unknown") means Engine.IO is there.
    pub fn nothing_here(&self) -> bool {
        matches!(
            self,
            EngineAnswer::Refused { status: 404, .. }
                | EngineAnswer::NoAnswer
                | EngineAnswer::NotEngineIo(_)
                | EngineAnswer::Failed(_)
        )
    }
}

/// A polling handshake's answer and the CORS header that came with it.
#[derive(Debug, Clone)]
pub struct PollAnswer {
    pub answer: EngineAnswer,
    pub allow_origin: Option<String>,
}

/// `GET {path}?EIO={eio}&transport=polling` with `headers` and `extra` query pairs.
pub async fn polling(
    http: &reqwest::Client,
    target: &Target,
    eio: u8,
    headers: &[(String, String)],
    extra: &[(String, String)],
) -> PollAnswer {
    let mut extra = extra.to_vec();
    if eio == 3 {
        // Text payloads even from a server that could send binary ones.
        extra.push(("b64".to_owned(), "1".to_owned()));
    }
    let url = format!(
        "{}{}?{}",
        target.http_base(),
        target.path,
        target.engine_query(eio, "polling", &extra)
    );
    let mut request = http.get(&url).timeout(PROBE_TIMEOUT);
    for (k, v) in headers {
        request = request.header(k.as_str(), v.as_str());
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            return PollAnswer {
                answer: from_reqwest(&e),
                allow_origin: None,
            }
        }
    };
    let status = response.status().as_u16();
    let allow_origin = response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match read_body(response).await {
        Ok(b) => b,
        Err(e) => {
            return PollAnswer {
                answer: from_reqwest(&e),
                allow_origin,
            }
        }
    };
    let answer = if status == 200 {
        read_open(&body)
    } else {
        EngineAnswer::Refused {
            status,
            message: server_message(&body),
        }
    };
    PollAnswer {
        answer,
        allow_origin,
    }
}

/// The body, at most [`MAX_BODY`] bytes of it, as text.
pub async fn read_body(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The WebSocket upgrade on `transport=websocket` and the first frame after it.
pub async fn websocket(
    target: &Target,
    eio: u8,
    tls: Option<tokio_tungstenite::Connector>,
    headers: &[(String, String)],
    extra: &[(String, String)],
) -> EngineAnswer {
    let url = format!(
        "{}{}?{}",
        target.ws_base(),
        target.path,
        target.engine_query(eio, "websocket", extra)
    );
    let attempt = async {
        let mut socket = match ws_connect(&url, tls, headers).await {
            Ok(s) => s,
            Err(answer) => return answer,
        };
        let first = loop {
            match socket.next().await {
                Some(Ok(Message::Text(t))) => break t.as_str().to_owned(),
                Some(Ok(Message::Binary(b))) => {
                    break String::from_utf8_lossy(&b).into_owned();
                }
                Some(Ok(Message::Close(_))) | None => {
                    return EngineAnswer::NotEngineIo(
                        "the WebSocket opened and closed without an Engine.IO open packet"
                            .to_owned(),
                    )
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return EngineAnswer::Failed(one_line(&e.to_string())),
            }
        };
        let _ = socket.close(None).await;
        read_open(&first)
    };
    tokio::time::timeout(PROBE_TIMEOUT, attempt)
        .await
        .unwrap_or(EngineAnswer::NoAnswer)
}

/// Opens a WebSocket, or the answer that says why not.
pub async fn ws_connect(
    url: &str,
    tls: Option<tokio_tungstenite::Connector>,
    headers: &[(String, String)],
) -> Result<sockscope_client::connection::wire::Socket, EngineAnswer> {
    use tungstenite::client::IntoClientRequest;
    let mut request = url
        .into_client_request()
        .map_err(|e| EngineAnswer::Failed(one_line(&e.to_string())))?;
    for (k, v) in headers {
        let (Ok(name), Ok(value)) = (
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()),
            tungstenite::http::HeaderValue::from_str(v),
        ) else {
            return Err(EngineAnswer::Failed(format!("bad header {k}")));
        };
        request.headers_mut().append(name, value);
    }
    match tokio_tungstenite::connect_async_tls_with_config(request, None, true, tls).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(MAX_BODY)]).into_owned())
                .unwrap_or_default();
            Err(EngineAnswer::Refused {
                status,
                message: server_message(&body),
            })
        }
        Err(tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::HandshakeIncomplete,
        )) => Err(EngineAnswer::Failed(
            "the server closed the connection during the WebSocket handshake".to_owned(),
        )),
        Err(e) => Err(EngineAnswer::Failed(
            sockscope_client::connection::tls::explain(&e.to_string()),
        )),
    }
}

/// Reads a handshake answer: a v4 `0{...}` (packets split by `\x1e`) or a v3
/// length-prefixed payload `96:0{...}2:40`.
pub fn read_open(body: &str) -> EngineAnswer {
    let packets = match split_payload(body) {
        Some(p) => p,
        None => return EngineAnswer::NotEngineIo(preview(body)),
    };
    let mut packets = packets.into_iter();
    let Some(open) = packets.next() else {
        return EngineAnswer::NotEngineIo(preview(body));
    };
    let Some(json) = open.strip_prefix('0') else {
        return EngineAnswer::NotEngineIo(preview(body));
    };
    let Ok(v) = serde_json::from_str::<Value>(json) else {
        return EngineAnswer::NotEngineIo(preview(body));
    };
    let Some(sid) = v.get("sid").and_then(Value::as_str) else {
        return EngineAnswer::NotEngineIo(preview(body));
    };
    EngineAnswer::Open {
        eio: if v.get("maxPayload").is_some() { 4 } else { 3 },
        sid: sid.to_owned(),
        rest: packets.collect(),
    }
}

/// The packets of a polling payload, v3 (`len:packet...`) or v4 (`\x1e`-separated);
/// `None` when a v3 length does not fit.
pub fn split_payload(body: &str) -> Option<Vec<String>> {
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || body.as_bytes().get(digits) != Some(&b':') {
        return Some(
            body.split('\u{1e}')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (len, after) = rest.split_once(':')?;
        let n: usize = len.parse().ok()?;
        // engine.io 3 counts characters (UTF-16 units; equal for what it sends here).
        let end = after.char_indices().nth(n).map_or(after.len(), |(i, _)| i);
        if after[..end].chars().count() != n {
            return None;
        }
        out.push(after[..end].to_owned());
        rest = &after[end..];
    }
    Some(out)
}

/// engine.io's `{"code":N,"message":"..."}` (also inside a chunked body, as a
/// refused WebSocket upgrade's arrives raw), else the body's first words.
pub fn server_message(body: &str) -> String {
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if a < b => &body[a..=b],
        _ => body,
    };
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| preview(body))
}

fn preview(body: &str) -> String {
    let t = one_line(body);
    if t.chars().count() > 80 {
        format!("{}…", t.chars().take(80).collect::<String>())
    } else {
        t
    }
}

pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A reqwest failure in words: the whole source chain, certificate problems explained.
pub fn from_reqwest(e: &reqwest::Error) -> EngineAnswer {
    if e.is_timeout() {
        return EngineAnswer::NoAnswer;
    }
    let mut words = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        words.push_str(": ");
        words.push_str(&s.to_string());
        source = s.source();
    }
    EngineAnswer::Failed(sockscope_client::connection::tls::explain(&words))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_and_v4_payloads_are_read() {
        let v4 = read_open(
            r#"0{"sid":"a","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#,
        );
        assert_eq!(v4.open_eio(), Some(4));
        let body = r#"0{"sid":"b","upgrades":[],"pingInterval":25000,"pingTimeout":5000}"#;
        let v3 = read_open(&format!("{}:{body}2:40", body.len()));
        assert_eq!(
            v3,
            EngineAnswer::Open {
                eio: 3,
                sid: "b".into(),
                rest: vec!["40".into()]
            }
        );
        assert!(matches!(read_open("<html>"), EngineAnswer::NotEngineIo(_)));
        assert!(matches!(read_open("99:0{}"), EngineAnswer::NotEngineIo(_)));
        assert_eq!(
            server_message(r#"{"code":0,"message":"Transport unknown"}"#),
            "Transport unknown"
        );
        assert_eq!(
            server_message("28\r\n{\"code\":0,\"message\":\"Transport unknown\"}\r\n0\r\n"),
            "Transport unknown"
        );
        assert_eq!(server_message("Bad request"), "Bad request");
        assert_eq!(
            split_payload("40\u{1e}b3gA"),
            Some(vec!["40".to_owned(), "b3gA".to_owned()])
        );
    }
}
