//! `jac` profile (seed 003): Jac Cloud's plain WebSocket endpoint at `/websocket`.
//!
//! - Connect to `ws://HOST:PORT/websocket[?channel_id=X]`, optionally with
//!   `Authorization: Bearer TOKEN`. The client first receives
//!   `{type: "connection", data: {client_id, root_id, channel_id}}`; `client_id` is
//!   `{unix seconds}:{32 hex}`, `channel_id` the query's or a random one, `root_id`
//!   `n::{sub}` for a token whose claims have `sub` (verified when a key is set), a
//!   stable hashed id for an opaque token, and the public root
//!   `n::000000000000000000000001` without a token.
//! - Client messages (JSON): `walker {walker, response, context}` (with `response:
//!   true` the client gets `{type: "walker", walker, response: {status: 200, reports:
//!   [...]}}`; the emulator reports the walker name and context, as the seed leaves the
//!   walker's work to the app); `user {root_ids, data}`, `channel {channel_ids, data}`,
//!   `client {client_ids, data}` deliver `data` as the message to every client of those
//!   roots / channels / ids; `change_user {token?}` re-authenticates (public without a
//!   token) and re-sends the connection info; `connection` re-sends it. Anything else
//!   gets `{type: "error", data: {message}}`.
//! - Every message both ways is published on the bus with namespace `/websocket`,
//!   event = the message's `type`, socket id = client id, user = root id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use sockscope_protocol::Direction;
use tokio::sync::mpsc;

use crate::auth::{opaque_user_id, strip_bearer};
use crate::{GatewayHandle, Shared, SOURCE};
use sockscope_bus::{self as bus, now_micros};

pub const PATH: &str = "/websocket";
const PUBLIC_ROOT: &str = "n::000000000000000000000001";

/// One connected plain-WebSocket client.
struct Client {
    connected_at: i64,
    root_id: String,
    channel_id: String,
    tx: mpsc::UnboundedSender<String>,
}

/// The connected clients, by client id.
#[derive(Default)]
pub struct Clients(Mutex<HashMap<String, Client>>);

impl Clients {
    pub fn len(&self) -> usize {
        self.0.lock().map(|c| c.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The clients as inspection entries (channel as their one room).
    pub fn snapshot(&self) -> sockscope_protocol::NamespaceInfo {
        let mut sockets: Vec<sockscope_protocol::SocketInfo> = self
            .0
            .lock()
            .map(|clients| {
                clients
                    .iter()
                    .map(|(id, c)| sockscope_protocol::SocketInfo {
                        id: id.clone(),
                        user: Some(c.root_id.clone()),
                        tenant: None,
                        rooms: vec![c.channel_id.clone()],
                        transport: "websocket".to_owned(),
                        connected_at: c.connected_at,
                        events_in: 0,
                        events_out: 0,
                        node: None,
                        data: Default::default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        sockets.sort_by(|a, b| a.id.cmp(&b.id));
        let mut rooms: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for s in &sockets {
            for r in &s.rooms {
                rooms.entry(r.clone()).or_default().push(s.id.clone());
            }
        }
        sockscope_protocol::NamespaceInfo {
            name: PATH.to_owned(),
            rooms: rooms
                .into_iter()
                .map(|(name, sockets)| sockscope_protocol::RoomInfo { name, sockets })
                .collect(),
            sockets,
        }
    }

    /// Sends `msg` (one JSON message) to every connected client, as server-side
    /// replay does for a session recorded over plain WebSocket; returns how many.
    pub fn broadcast(&self, msg: &Value) -> usize {
        let text = match msg {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.send_where(&text, |_, _| true)
    }

    /// Sends `text` to every client `pick` selects; returns how many.
    fn send_where(&self, text: &str, pick: impl Fn(&str, &Client) -> bool) -> usize {
        let Ok(clients) = self.0.lock() else { return 0 };
        clients
            .iter()
            .filter(|(id, c)| pick(id, c))
            .filter(|(_, c)| c.tx.send(text.to_owned()).is_ok())
            .count()
    }
}

pub fn routes(handle: GatewayHandle) -> Router {
    Router::new().route(PATH, get(upgrade)).with_state(handle)
}

fn random_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn stamp() -> i64 {
    now_micros() / 1_000_000
}

/// The root id for a bearer token, or the reason it is refused.
fn root_for(shared: &Shared, token: Option<&str>) -> Result<String, String> {
    let Some(token) = token.map(strip_bearer).filter(|t| !t.is_empty()) else {
        return Ok(PUBLIC_ROOT.to_owned());
    };
    match shared.auth.principal(token) {
        Ok(p) => Ok(format!(
            "n::{}",
            p.user.unwrap_or_else(|| opaque_user_id(token))
        )),
        Err(crate::Error::InvalidToken(_)) if !shared.auth.required() => {
            Ok(format!("n::{}", opaque_user_id(token)))
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn upgrade(
    ws: WebSocketUpgrade,
    State(g): State<GatewayHandle>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let channel = query
        .get("channel_id")
        .filter(|c| !c.is_empty())
        .cloned()
        .unwrap_or_else(|| format!("{}:{}", stamp(), random_hex()));
    let shared = g.shared.clone();
    ws.on_upgrade(move |socket| serve(socket, shared, auth, channel))
}

fn publish(shared: &Shared, direction: Direction, client: &str, root: &str, msg: &Value) {
    let kind = msg.get("type").and_then(Value::as_str).unwrap_or("message");
    let mut rec = bus::record(SOURCE, direction, PATH, kind, json!([msg]));
    rec.socket_id = Some(client.to_owned());
    rec.user = Some(root.to_owned());
    shared.bus.publish(rec);
}

fn connection_info(client: &str, root: &str, channel: &str) -> Value {
    json!({ "type": "connection", "data": { "client_id": client, "root_id": root, "channel_id": channel } })
}

async fn serve(mut socket: WebSocket, shared: Arc<Shared>, auth: Option<String>, channel: String) {
    let client_id = format!("{}:{}", stamp(), random_hex());
    let mut root = match root_for(&shared, auth.as_deref()) {
        Ok(r) => r,
        Err(message) => {
            let refusal = json!({ "type": "error", "data": { "message": message } });
            let _ = socket.send(Message::Text(refusal.to_string().into())).await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    if let Ok(mut clients) = shared.state.jac.0.lock() {
        clients.insert(
            client_id.clone(),
            Client {
                connected_at: now_micros(),
                root_id: root.clone(),
                channel_id: channel.clone(),
                tx: tx.clone(),
            },
        );
    }
    let hello = connection_info(&client_id, &root, &channel);
    publish(&shared, Direction::S2c, &client_id, &root, &hello);
    let _ = tx.send(hello.to_string());

    loop {
        tokio::select! {
            out = rx.recv() => {
                let Some(text) = out else { break };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                handle(&shared, &client_id, &mut root, &channel, &tx, &text);
            }
        }
    }
    if let Ok(mut clients) = shared.state.jac.0.lock() {
        clients.remove(&client_id);
    }
    publish(
        &shared,
        Direction::C2s,
        &client_id,
        &root,
        &json!({ "type": "disconnect" }),
    );
}

fn ids(msg: &Value, field: &str) -> Vec<String> {
    msg.get(field)
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Handles one client message; replies go through `tx`, deliveries through the
/// client table. Each outgoing message is published once.
fn handle(
    shared: &Shared,
    client_id: &str,
    root: &mut String,
    channel: &str,
    tx: &mpsc::UnboundedSender<String>,
    text: &str,
) {
    let reply = |root: &str, msg: Value| {
        publish(shared, Direction::S2c, client_id, root, &msg);
        let _ = tx.send(msg.to_string());
    };
    let msg: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            publish(
                shared,
                Direction::C2s,
                client_id,
                root,
                &json!({ "type": "invalid", "text": text }),
            );
            reply(
                root,
                json!({ "type": "error", "data": { "message": format!("not JSON: {e}") } }),
            );
            return;
        }
    };
    publish(shared, Direction::C2s, client_id, root, &msg);
    let data = msg.get("data").cloned().unwrap_or(Value::Null);
    let sender = root.clone();
    let deliver = |pick: &dyn Fn(&str, &Client) -> bool| {
        let n = shared.state.jac.send_where(&data.to_string(), pick);
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("notification");
        let mut rec = bus::record(SOURCE, Direction::S2c, PATH, kind, json!([data]));
        rec.user = Some(sender.clone());
        shared.bus.publish(rec);
        n
    };
    match msg.get("type").and_then(Value::as_str) {
        Some("walker") => {
            let name = msg
                .get("walker")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if msg.get("response").and_then(Value::as_bool) == Some(true) {
                reply(
                    root,
                    json!({
                        "type": "walker",
                        "walker": name,
                        "response": { "status": 200, "reports": [ { "walker": name, "context": msg.get("context").cloned().unwrap_or(json!({})) } ] }
                    }),
                );
            }
        }
        Some("user") => {
            let roots = ids(&msg, "root_ids");
            deliver(&|_, c| roots.contains(&c.root_id));
        }
        Some("channel") => {
            let channels = ids(&msg, "channel_ids");
            deliver(&|_, c| channels.contains(&c.channel_id));
        }
        Some("client") => {
            let clients = ids(&msg, "client_ids");
            deliver(&|id, _| clients.iter().any(|c| c == id));
        }
        Some("change_user") => {
            let token = msg.get("token").and_then(Value::as_str);
            match root_for(shared, token) {
                Ok(new_root) => {
                    *root = new_root;
                    if let Ok(mut clients) = shared.state.jac.0.lock() {
                        if let Some(c) = clients.get_mut(client_id) {
                            c.root_id = root.clone();
                        }
                    }
                    reply(root, connection_info(client_id, root, channel));
                }
                Err(message) => reply(
                    root,
                    json!({ "type": "error", "data": { "message": message } }),
                ),
            }
        }
        Some("connection") => reply(root, connection_info(client_id, root, channel)),
        other => reply(
            root,
            json!({ "type": "error", "data": { "message": format!("unknown message type {:?}", other.unwrap_or("")) } }),
        ),
    }
}
