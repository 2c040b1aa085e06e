//! Opening Sockscope's own Engine.IO/Socket.IO client over one WebSocket: what
//! rust_socketio cannot speak. The simulator's virtual clients
//! (`sockscope_engine::simulate::client`) and the native connection backend
//! ([`super::native`]) both open through this module, and read and write through
//! the framing it re-exports from the codec crate ([`sockscope_codec::wire`]).

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use sockscope_protocol::Parser;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use sockscope_codec::wire::*;
use sockscope_codec::Kind;

/// The WebSocket the client speaks over.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A gateway address split for a WebSocket URL: the `ws`/`wss` scheme it maps to,
/// its authority (`host[:port]`), and everything after `scheme://`.
pub struct WsOrigin<'a> {
    pub ws: &'static str,
    pub authority: &'a str,
    pub rest: &'a str,
}

/// Reads a gateway given as `http(s)://host[:port]...` or `ws(s)://...`: what every
/// WebSocket URL the engine builds (Socket.IO's, the plain WebSocket simulator's)
/// starts from. A missing or unknown scheme or an empty host is a `BadTarget`.
pub fn ws_origin(target: &str) -> Result<WsOrigin<'_>, crate::Error> {
    let bad = |why: &str| crate::Error::BadTarget(format!("{target}: {why}"));
    let (scheme, rest) = target
        .split_once("://")
        .ok_or_else(|| bad("expected http://host:port"))?;
    let ws = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        _ => return Err(bad("the scheme must be http, https, ws or wss")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    Ok(WsOrigin {
        ws,
        authority,
        rest,
    })
}

/// The WebSocket URL of a gateway given as `http(s)://host[:port][/path]` or
/// `ws(s)://...`, on Socket.IO's default `/socket.io/` path, with `query`.
pub fn websocket_url(
    target: &str,
    eio: Eio,
    query: &[(String, String)],
) -> Result<String, crate::Error> {
    let WsOrigin {
        ws,
        authority,
        rest,
    } = ws_origin(target)?;
    let mut url = format!(
        "{ws}://{authority}/socket.io/?EIO={}&transport=websocket",
        eio.number()
    );
    // The target's own query (`?token=...`) goes along too.
    if let Some((_, q)) = rest.split_once('?') {
        let q = q.split('#').next().unwrap_or_default();
        if !q.is_empty() {
            url.push('&');
            url.push_str(q);
        }
    }
    for (k, v) in query {
        url.push('&');
        url.push_str(&encode_component(k));
        url.push('=');
        url.push_str(&encode_component(v));
    }
    Ok(url)
}

fn encode_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Why opening failed, as a kind (the simulator's report counts by it) and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFailure {
    /// `unreachable`, `http_refused`, `connect_error`, `protocol`.
    pub kind: &'static str,
    pub message: String,
}

pub fn failure(kind: &'static str, message: impl Into<String>) -> OpenFailure {
    OpenFailure {
        kind,
        message: message.into(),
    }
}

/// What the caller asks of an open.
#[derive(Clone, Default)]
pub struct OpenRequest<'a> {
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub ns: &'a str,
    pub auth: Option<&'a Value>,
    pub eio: Eio,
    pub parser: Parser,
    pub config: Option<WebSocketConfig>,
    /// `wss://` trust: extra roots, no checks or a client certificate (`None`: the
    /// system's roots).
    pub tls: Option<tokio_tungstenite::Connector>,
}

/// A socket whose namespace is joined.
pub struct Opened {
    pub socket: Socket,
    pub wire: Wire,
    pub handshake: Handshake,
}

/// Opens the WebSocket, reads the open packet, joins the namespace. A server that
/// answers a v4 request with a v3 open packet is [`OpenOutcome::SpeaksV3`] (the
/// caller reopens with `EIO=3`, which changes the query).
pub enum OpenOutcome {
    Joined(Box<Opened>),
    SpeaksV3,
}

pub async fn open(req: OpenRequest<'_>) -> Result<OpenOutcome, OpenFailure> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = req
        .url
        .into_client_request()
        .map_err(|e| failure("unreachable", e.to_string()))?;
    for (k, v) in req.headers {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| failure("unreachable", format!("bad header name {k:?}")))?;
        let value = tokio_tungstenite::tungstenite::http::HeaderValue::from_str(v)
            .map_err(|_| failure("unreachable", format!("bad value for header {k}")))?;
        request.headers_mut().append(name, value);
    }
    let (mut socket, _) =
        tokio_tungstenite::connect_async_tls_with_config(request, req.config, true, req.tls)
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(resp) => {
                    failure("http_refused", format!("HTTP {}", resp.status()))
                }
                other => failure(
                    "unreachable",
                    crate::connection::tls::explain(&other.to_string()),
                ),
            })?;
    let mut wire = Wire::new(req.eio, req.parser);
    let bad = |e: WireError| failure("protocol", format!("bad frame: {e}"));
    let handshake = match next(&mut socket).await {
        Some(msg) => match wire.read(&msg).map_err(bad)? {
            Incoming::Open(h) => h,
            _ => {
                return Err(failure(
                    "protocol",
                    format!("expected an Engine.IO open packet, got {}", describe(&msg)),
                ))
            }
        },
        None => {
            return Err(failure(
                "unreachable",
                "closed before the Engine.IO open packet",
            ))
        }
    };
    if req.eio == Eio::V4 && handshake.eio == Eio::V3 {
        let _ = socket.close(None).await;
        return Ok(OpenOutcome::SpeaksV3);
    }
    // A v3 server joins `/` by itself; other namespaces are asked for.
    if req.eio == Eio::V4 || req.ns != "/" {
        for m in wire.connect(req.ns, req.auth) {
            socket
                .send(m)
                .await
                .map_err(|e| failure("unreachable", e.to_string()))?;
        }
    }
    loop {
        let Some(msg) = next(&mut socket).await else {
            return Err(failure(
                "unreachable",
                "closed before the namespace was joined",
            ));
        };
        let packet = match wire.read(&msg).map_err(bad)? {
            Incoming::Ping => {
                socket
                    .send(pong())
                    .await
                    .map_err(|e| failure("unreachable", e.to_string()))?;
                continue;
            }
            Incoming::Close => {
                return Err(failure(
                    "unreachable",
                    "closed before the namespace was joined",
                ))
            }
            Incoming::Packet(p) => p,
            _ => continue,
        };
        match packet.kind {
            Kind::Connect if packet.nsp == req.ns => break,
            Kind::ConnectError if packet.nsp == req.ns => {
                return Err(failure(
                    "connect_error",
                    connect_error_message(packet.data.as_ref()),
                ))
            }
            _ => {}
        }
    }
    Ok(OpenOutcome::Joined(Box::new(Opened {
        socket,
        wire,
        handshake,
    })))
}

fn describe(msg: &Message) -> String {
    match msg {
        Message::Text(t) => format!("{:?}", sockscope_codec::preview(t.as_str())),
        Message::Binary(b) => format!("{} binary bytes", b.len()),
        _ => "a control frame".to_owned(),
    }
}

/// The next data message, or None when the socket closed or failed.
async fn next(socket: &mut Socket) -> Option<Message> {
    while let Some(msg) = socket.next().await {
        match msg {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => return Some(m),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_revision_and_query() {
        assert_eq!(
            websocket_url(
                "http://h:1/x?token=t",
                Eio::V3,
                &[("a b".into(), "c&d".into())]
            )
            .unwrap(),
            "ws://h:1/socket.io/?EIO=3&transport=websocket&token=t&a+b=c%26d"
        );
        assert!(websocket_url("ftp://x", Eio::V4, &[]).is_err());
    }
}
