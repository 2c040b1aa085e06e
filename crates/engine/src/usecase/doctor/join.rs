//! Joining a namespace: the Socket.IO CONNECT with a parser (JSON or msgpack) and
//! the auth object, over a WebSocket or over HTTP long-polling, and the server's
//! answer in words. A server whose parser differs does not answer a CONNECT it
//! cannot read: it closes the connection, which is how the doctor tells a msgpack
//! server from a JSON one.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use sockscope_client::connection::wire::{self, Eio, Incoming, OpenOutcome, OpenRequest, Wire};
use sockscope_codec::Kind;
use sockscope_protocol::Parser;
use tokio_tungstenite::tungstenite::Message;

use super::probe::{self, EngineAnswer, PROBE_TIMEOUT};
use super::target::Target;

/// How long a join may take in all.
const JOIN_TIMEOUT: Duration = Duration::from_secs(6);

/// What a CONNECT came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    Yes,
    /// CONNECT_ERROR with the server's message.
    Refused(String),
    /// No answer the parser could read (closed, timed out, unreadable).
    No(String),
}

/// The parts of a join request.
pub struct JoinRequest<'a> {
    pub target: &'a Target,
    pub eio: u8,
    pub parser: Parser,
    pub namespace: &'a str,
    pub auth: Option<&'a Value>,
    /// Query pairs of the handshake (v3 auth travels here).
    pub query: &'a [(String, String)],
}

fn eio_of(n: u8) -> Eio {
    if n == 3 {
        Eio::V3
    } else {
        Eio::V4
    }
}

/// Joins over a WebSocket (`transport=websocket`).
pub async fn over_websocket(
    req: &JoinRequest<'_>,
    tls: Option<tokio_tungstenite::Connector>,
) -> Joined {
    let url = format!(
        "{}{}?{}",
        req.target.ws_base(),
        req.target.path,
        req.target.engine_query(req.eio, "websocket", req.query)
    );
    let open = wire::open(OpenRequest {
        url: &url,
        headers: &[],
        ns: req.namespace,
        auth: req.auth,
        eio: eio_of(req.eio),
        parser: req.parser,
        config: None,
        tls,
    });
    match tokio::time::timeout(JOIN_TIMEOUT, open).await {
        Err(_) => Joined::No(format!(
            "no answer to the CONNECT within {} s",
            JOIN_TIMEOUT.as_secs()
        )),
        Ok(Ok(OpenOutcome::Joined(mut opened))) => {
            let _ = opened.socket.close(None).await;
            Joined::Yes
        }
        Ok(Ok(OpenOutcome::SpeaksV3)) => Joined::No("the server speaks Engine.IO v3".to_owned()),
        Ok(Err(f)) if f.kind == "connect_error" => Joined::Refused(f.message),
        Ok(Err(f)) => Joined::No(f.message),
    }
}

/// Joins over HTTP long-polling: handshake, POST the CONNECT, GET the answer.
pub async fn over_polling(http: &reqwest::Client, req: &JoinRequest<'_>) -> Joined {
    match tokio::time::timeout(JOIN_TIMEOUT, polling_join(http, req)).await {
        Ok(j) => j,
        Err(_) => Joined::No(format!(
            "no answer to the CONNECT within {} s",
            JOIN_TIMEOUT.as_secs()
        )),
    }
}

async fn polling_join(http: &reqwest::Client, req: &JoinRequest<'_>) -> Joined {
    let target = req.target;
    let (sid, rest) = match probe::polling(http, target, req.eio, &[], req.query)
        .await
        .answer
    {
        EngineAnswer::Open { sid, rest, .. } => (sid, rest),
        other => return Joined::No(format!("the polling handshake failed: {other:?}")),
    };
    let eio = eio_of(req.eio);
    if eio == Eio::V3 && req.parser == Parser::Msgpack {
        return Joined::No("msgpack over Engine.IO v3 polling is not probed".to_owned());
    }
    let mut wire = Wire::new(eio, req.parser);
    let mut query = req.query.to_vec();
    query.push(("sid".to_owned(), sid));
    if eio == Eio::V3 {
        query.push(("b64".to_owned(), "1".to_owned()));
    }
    let url = format!(
        "{}{}?{}",
        target.http_base(),
        target.path,
        target.engine_query(req.eio, "polling", &query)
    );
    // A v3 server joins `/` by itself; everything else is asked for.
    let mut pending: Vec<String> = rest;
    if eio == Eio::V4 || req.namespace != "/" {
        let body = wire
            .connect(req.namespace, req.auth)
            .iter()
            .map(|m| match m {
                Message::Binary(b) => {
                    format!("b{}", base64::engine::general_purpose::STANDARD.encode(b))
                }
                Message::Text(t) => t.as_str().to_owned(),
                _ => String::new(),
            })
            .map(|p| match eio {
                Eio::V3 => format!("{}:{p}", p.chars().count()),
                Eio::V4 => p,
            })
            .collect::<Vec<_>>()
            .join(if eio == Eio::V4 { "\u{1e}" } else { "" });
        let sent = http
            .post(&url)
            .header("content-type", "text/plain;charset=UTF-8")
            .body(body)
            .timeout(PROBE_TIMEOUT)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                let status = r.status().as_u16();
                let body = probe::read_body(r).await.unwrap_or_default();
                return Joined::No(format!(
                    "the server refused the CONNECT (HTTP {status}: {})",
                    probe::server_message(&body)
                ));
            }
            Err(e) => return Joined::No(format!("{:?}", probe::from_reqwest(&e))),
        }
    }
    for _ in 0..4 {
        for frame in pending.drain(..) {
            let msg = match frame.strip_prefix('b') {
                Some(b64) if eio == Eio::V4 => {
                    match base64::engine::general_purpose::STANDARD.decode(b64) {
                        Ok(bytes) => Message::binary(bytes),
                        Err(_) => return Joined::No("an unreadable binary packet".to_owned()),
                    }
                }
                _ => Message::text(frame),
            };
            match wire.read(&msg) {
                Ok(Incoming::Packet(p)) if p.nsp == req.namespace => match p.kind {
                    Kind::Connect => return Joined::Yes,
                    Kind::ConnectError => {
                        return Joined::Refused(wire::connect_error_message(p.data.as_ref()))
                    }
                    _ => {}
                },
                Ok(Incoming::Close) => {
                    return Joined::No("the server closed the session".to_owned())
                }
                Ok(_) => {}
                Err(e) => return Joined::No(format!("an answer this parser cannot read ({e})")),
            }
        }
        let response = match http.get(&url).timeout(PROBE_TIMEOUT).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Joined::No("no answer to the CONNECT".to_owned()),
            Err(e) => return Joined::No(format!("{:?}", probe::from_reqwest(&e))),
        };
        let status = response.status().as_u16();
        let body = match probe::read_body(response).await {
            Ok(b) => b,
            Err(e) => return Joined::No(format!("{:?}", probe::from_reqwest(&e))),
        };
        if status != 200 {
            return Joined::No(format!(
                "the server ended the session (HTTP {status}: {})",
                probe::server_message(&body)
            ));
        }
        match probe::split_payload(&body) {
            Some(frames) => pending = frames,
            None => return Joined::No("an unreadable polling payload".to_owned()),
        }
    }
    Joined::No("no answer to the CONNECT".to_owned())
}
