//! The embedded gateway driven by a real Socket.IO client (rust_socketio) over
//! loopback: auth, subscribe, tenant isolation, HTTP emit and the event bus. Every
//! wait is bounded by a timeout.

use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload};
use serde_json::{json, Value};
use sockscope_engine::gateway::Error as GatewayError;
use sockscope_engine::{Bus, Engine, Error, Gateway};
use sockscope_protocol::{AuthMode, Direction, EventRecord, GatewaySettings};
use tokio::sync::mpsc;
use tokio::time::timeout;

const SECRET: &str = "test-secret";
const WAIT: Duration = Duration::from_secs(10);
/// How long we listen for something that must not arrive.
const QUIET: Duration = Duration::from_millis(600);

fn settings(auth: AuthMode) -> GatewaySettings {
    GatewaySettings {
        port: 0,
        auth,
        namespaces: vec!["/dashboard".into()],
        api_token: Some(API_TOKEN.into()),
        ..GatewaySettings::default()
    }
}

/// The HTTP API's token: with a key set, the API refuses requests without it.
const API_TOKEN: &str = "test-api-token";

fn hs256() -> AuthMode {
    AuthMode::Hs256 {
        secret: SECRET.into(),
    }
}

fn token(secret: &str, claims: Value) -> String {
    sockscope_test_support::hs256_token(secret, &claims)
}

/// What a test client saw: `("open", [])`, `("error", [msg])` or `(event, args)`.
type Inbox = mpsc::UnboundedReceiver<(String, Vec<Value>)>;

fn texts(p: Payload) -> Vec<Value> {
    match p {
        Payload::Text(v) => v,
        #[allow(deprecated)]
        Payload::String(s) => vec![Value::String(s)],
        Payload::Binary(_) => vec![json!("<binary>")],
    }
}

async fn client(url: &str, ns: &str, auth: Option<Value>) -> (Client, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (open, err, any) = (tx.clone(), tx.clone(), tx);
    let mut b = ClientBuilder::new(url)
        .namespace(ns)
        .reconnect(false)
        .on("open", move |_, _| {
            let _ = open.send(("open".into(), vec![]));
            async {}.boxed()
        })
        .on("error", move |p, _| {
            let _ = err.send(("error".into(), texts(p)));
            async {}.boxed()
        })
        .on_any(move |ev, p, _| {
            if let Event::Custom(name) = ev {
                let _ = any.send((name, texts(p)));
            }
            async {}.boxed()
        });
    if let Some(a) = auth {
        b = b.auth(a);
    }
    let c = timeout(WAIT, b.connect())
        .await
        .expect("connect timed out")
        .expect("connect");
    (c, rx)
}

/// The next message named `name`, skipping others; panics after `WAIT`.
async fn next_named(rx: &mut Inbox, name: &str) -> Vec<Value> {
    timeout(WAIT, async {
        loop {
            match rx.recv().await {
                Some((n, args)) if n == name => return args,
                Some(_) => continue,
                None => panic!("client closed before {name}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {name} within {WAIT:?}"))
}

async fn open_client(url: &str, ns: &str, claims: Value) -> (Client, Inbox) {
    let (c, mut rx) = client(url, ns, Some(json!({ "token": token(SECRET, claims) }))).await;
    next_named(&mut rx, "open").await;
    (c, rx)
}

async fn emit_ack(c: &Client, event: &str, data: Value) -> Value {
    let (tx, mut rx) = mpsc::unbounded_channel();
    c.emit_with_ack(event, data, WAIT, move |p, _| {
        let _ = tx.send(texts(p));
        async {}.boxed()
    })
    .await
    .expect("emit");
    let reply = timeout(WAIT, rx.recv())
        .await
        .expect("no ack in time")
        .expect("ack channel closed");
    // rust_socketio wraps ack replies in one more array level.
    let first = reply.into_iter().next().unwrap_or(Value::Null);
    match first {
        Value::Array(mut v) if v.len() == 1 => v.remove(0),
        other => other,
    }
}

async fn start(auth: AuthMode) -> (Gateway, Bus, String) {
    let bus = Bus::new();
    let gw = Gateway::start(&settings(auth), bus.clone())
        .await
        .expect("start gateway");
    let url = format!("http://{}", gw.addr());
    (gw, bus, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_accepts_a_valid_token_and_names_the_reason_for_a_bad_one() {
    let (gw, _bus, url) = start(hs256()).await;
    assert!(gw.addr().ip().is_loopback());

    let (ok, _rx) = open_client(&url, "/", json!({"sub": "ann", "tenantId": "acme"})).await;

    let cases = [
        (None, "missing token"),
        (
            Some(json!({ "token": token("wrong", json!({"sub": "x"})) })),
            "bad signature",
        ),
        (
            Some(json!({ "token": token(SECRET, json!({"sub": "x", "exp": 1_000})) })),
            "token expired",
        ),
        (Some(json!({ "token": "not-a-jwt" })), "invalid token"),
    ];
    for (auth, reason) in cases {
        let (_c, mut rx) = client(&url, "/", auth).await;
        let msg = next_named(&mut rx, "error").await;
        let text = msg
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        assert!(text.contains(reason), "expected {reason:?} in {text:?}");
    }
    ok.disconnect().await.ok();
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_emit_reaches_the_tenant_room_only() {
    let (gw, _bus, url) = start(hs256()).await;
    let (a, mut a_rx) = open_client(
        &url,
        "/dashboard",
        json!({"sub": "ann", "tenantId": "acme"}),
    )
    .await;
    let (b, mut b_rx) = open_client(
        &url,
        "/dashboard",
        json!({"sub": "bob", "tenantId": "globex"}),
    )
    .await;
    let (c, mut c_rx) = open_client(
        &url,
        "/dashboard",
        json!({"sub": "cid", "tenantId": "acme"}),
    )
    .await;

    for cl in [&a, &b] {
        let reply = emit_ack(cl, "subscribe", json!({"room": "orders"})).await;
        assert_eq!(reply, json!({"ok": true, "room": "orders"}));
    }
    // A room name crafted to look like another tenant's is still scoped to the caller.
    let reply = emit_ack(&c, "subscribe", json!({"room": "globex:orders"})).await;
    assert_eq!(reply["ok"], true);

    let http = reqwest::Client::new();
    let post = |body: Value| {
        let http = http.clone();
        let url = format!("{url}/emit");
        async move {
            let r = http
                .post(url)
                .bearer_auth(API_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("POST /emit");
            let status = r.status();
            (status, r.json::<Value>().await.expect("json body"))
        }
    };
    let (status, body) = post(json!({
        "namespace": "/dashboard", "event": "order", "data": {"id": 1},
        "room": "orders", "tenant": "acme"
    }))
    .await;
    assert!(status.is_success());
    assert_eq!(body, json!({"delivered": 1}));
    assert_eq!(next_named(&mut a_rx, "order").await, vec![json!({"id": 1})]);

    let (_, body) = post(json!({
        "namespace": "/dashboard", "event": "order", "data": {"id": 2},
        "room": "orders", "tenant": "globex"
    }))
    .await;
    assert_eq!(body, json!({"delivered": 1}));
    assert_eq!(next_named(&mut b_rx, "order").await, vec![json!({"id": 2})]);

    // Nobody got the other tenant's event.
    for rx in [&mut a_rx, &mut b_rx, &mut c_rx] {
        let extra = timeout(QUIET, async {
            loop {
                match rx.recv().await {
                    Some((n, args)) if n == "order" => return args,
                    Some(_) => continue,
                    None => std::future::pending::<()>().await,
                }
            }
        })
        .await;
        assert!(extra.is_err(), "cross-tenant delivery: {extra:?}");
    }

    // Bad JSON is a 400 with a message.
    let r = http
        .post(format!("{url}/emit"))
        .bearer_auth(API_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], "bad_json");
    assert!(!body["error"].as_str().unwrap_or_default().is_empty());

    // Inspection shows each socket's tenant and the scoped rooms.
    let snap: Value = http
        .get(format!("{url}/inspect"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .expect("GET /inspect")
        .json()
        .await
        .expect("json");
    let dash = snap["namespaces"]
        .as_array()
        .and_then(|v| v.iter().find(|n| n["name"] == "/dashboard"))
        .expect("dashboard namespace")
        .clone();
    assert_eq!(dash["sockets"].as_array().map(Vec::len), Some(3));
    let room_names: Vec<&str> = dash["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(
        room_names.contains(&"tenant:acme:room:orders"),
        "{room_names:?}"
    );
    assert!(
        room_names.contains(&"tenant:globex:room:orders"),
        "{room_names:?}"
    );
    assert!(
        room_names.contains(&"tenant:acme:room:globex:orders"),
        "{room_names:?}"
    );

    for cl in [a, b, c] {
        cl.disconnect().await.ok();
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_the_bus_acked_and_without_the_token() {
    let (gw, bus, url) = start(hs256()).await;
    let mut records = bus.subscribe();
    let tok = token(SECRET, json!({"sub": "ann", "tenantId": "acme"}));
    let (c, mut rx) = client(
        &url,
        "/",
        Some(json!({ "token": tok.clone(), "firebase_id": "f1" })),
    )
    .await;
    next_named(&mut rx, "open").await;

    let reply = emit_ack(&c, "ping", json!({"n": 1})).await;
    assert_eq!(reply["ok"], true);
    c.emit("fire", json!(["a", 2])).await.expect("emit");
    c.disconnect().await.ok();

    let mut seen: Vec<EventRecord> = Vec::new();
    timeout(WAIT, async {
        while !seen.iter().any(|r| r.event == "disconnect") {
            seen.push(records.recv().await.expect("bus"));
        }
    })
    .await
    .expect("records within time");
    let names: Vec<&str> = seen.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(names, vec!["connect", "ping", "fire", "disconnect"]);
    let ping = &seen[1];
    assert_eq!(ping.direction, Direction::C2s);
    assert_eq!(ping.args, json!([{"n": 1}]));
    assert_eq!(ping.tenant.as_deref(), Some("acme"));
    assert_eq!(ping.user.as_deref(), Some("ann"));
    assert_eq!(
        ping.ack.as_ref().and_then(|a| a.reply.clone()),
        Some(reply.clone())
    );
    assert_eq!(reply["seq"], json!(ping.seq));
    assert_eq!(seen[2].args, json!([["a", 2]]));
    assert!(seen[2].ack.is_none());
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
    let all = serde_json::to_string(&seen).expect("serialize");
    assert!(!all.contains(&tok), "a token leaked into a record");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_port_is_a_clear_error_and_the_engine_reports_status() {
    let engine = Engine::new();
    let status = engine
        .start_gateway(&settings(AuthMode::None))
        .await
        .expect("start");
    assert!(status.running);
    let addr = status.addr.clone().expect("addr");
    let port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");

    let again = engine.start_gateway(&settings(AuthMode::None)).await;
    assert!(matches!(again, Err(Error::AlreadyRunning(_))));

    let busy = Gateway::start(
        &GatewaySettings {
            port,
            ..GatewaySettings::default()
        },
        Bus::new(),
    )
    .await;
    match busy {
        Err(e @ GatewayError::Bind { .. }) => assert!(e.to_string().contains(&addr), "{e}"),
        Err(other) => panic!("expected a bind error, got {other}"),
        Ok(_) => panic!("bound a busy port"),
    }

    let url = format!("http://{addr}");
    let (c, mut rx) = client(&url, "/", None).await;
    next_named(&mut rx, "open").await;
    // The connect record is published by the server's handler, which may run just
    // after the client saw its connect packet: poll, bounded.
    let status = timeout(WAIT, async {
        loop {
            let s = engine.gateway_status().await;
            if s.events >= 1 {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("connect record within time");
    assert_eq!(status.sockets, 1);
    c.disconnect().await.ok();
    let stopped = engine.stop_gateway().await;
    assert!(!stopped.running);
    assert!(matches!(engine.inspect().await, Err(Error::NotRunning)));
}

/// A key pair made for these tests only (tests/fixtures); it protects nothing.
const RSA_PRIVATE: &str = include_str!("fixtures/test-rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("fixtures/test-rsa-public.pem");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_are_checked_against_the_public_key() {
    let bus = Bus::new();
    let gw = Gateway::start(
        &settings(AuthMode::Rs256 {
            public_key_pem: RSA_PUBLIC.into(),
        }),
        bus,
    )
    .await
    .expect("start");
    let url = format!("http://{}", gw.addr());
    let signed = sockscope_test_support::rs256_token(
        RSA_PRIVATE,
        &json!({"sub": "ann", "tenantId": "acme"}),
    );
    let (ok, mut rx) = client(&url, "/", Some(json!({ "token": signed }))).await;
    next_named(&mut rx, "open").await;
    ok.disconnect().await.ok();

    // An HS256 token (e.g. signed with the public key text as a secret) is refused.
    let forged = token(RSA_PUBLIC, json!({"sub": "mallory", "tenantId": "acme"}));
    let (_c, mut rx) = client(&url, "/", Some(json!({ "token": forged }))).await;
    let msg = next_named(&mut rx, "error").await;
    let text = msg
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    assert!(text.contains("invalid token"), "{text}");
    gw.stop().await;

    let bad = Gateway::start(
        &settings(AuthMode::Rs256 {
            public_key_pem: "not a key".into(),
        }),
        Bus::new(),
    )
    .await;
    assert!(matches!(bad, Err(GatewayError::BadKey(_))));
}
