//! The plain WebSocket client against the embedded Jac emulation over loopback: the
//! header reaches the gateway, messages both ways become records with their `type` as
//! the event, and the bearer token appears in no record. Every wait is bounded.

use std::time::Duration;

use serde_json::json;
use sockscope_client::Error;
use sockscope_engine::connection::{WsConnection, WsOptions};
use sockscope_engine::{Bus, Gateway};
use sockscope_protocol::{Direction, EventRecord, GatewaySettings, Profile};
use tokio::sync::broadcast;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);
/// An opaque (non-JWT) token: the jac profile derives a stable root from it.
const TOKEN: &str = "opaque-SECRET-token-4711";

async fn next_where(
    rx: &mut broadcast::Receiver<EventRecord>,
    pred: impl Fn(&EventRecord) -> bool,
) -> EventRecord {
    timeout(WAIT, async {
        loop {
            let r = rx.recv().await.expect("bus open");
            if pred(&r) {
                return r;
            }
        }
    })
    .await
    .expect("record within the deadline")
}

#[tokio::test]
async fn messages_both_ways_are_records_and_the_header_token_is_not() {
    let gateway_bus = Bus::new();
    let settings = GatewaySettings {
        port: 0,
        profile: Profile::Jac,
        ..GatewaySettings::default()
    };
    let gw = Gateway::start(&settings, gateway_bus)
        .await
        .expect("gateway");
    let url = format!("{}/websocket", gw.url());

    let bus = Bus::new();
    let mut rx = bus.subscribe();
    let opts = WsOptions {
        url: url.clone(),
        headers: vec![("Authorization".into(), format!("Bearer {TOKEN}"))],
        query: vec![("channel_id".into(), "room-9".into())],
        on_connect: vec![json!({"type": "walker", "walker": "w", "response": true})],
        max_payload: 0,
        tls: Default::default(),
    };
    let conn = WsConnection::open(opts, bus.clone(), WAIT)
        .await
        .expect("open");
    let mine = format!("connection:{}", conn.id());

    let connect = next_where(&mut rx, |r| r.event == "connect").await;
    assert_eq!(
        (connect.direction, connect.namespace.as_str()),
        (Direction::S2c, "/websocket")
    );
    assert_eq!(connect.source, mine);
    let info = next_where(&mut rx, |r| r.event == "connection").await;
    assert_eq!(info.args[0]["data"]["channel_id"], "room-9");
    let root = info.args[0]["data"]["root_id"].as_str().unwrap_or_default();
    assert!(
        root.starts_with("n::") && root != "n::000000000000000000000001",
        "the bearer header did not reach the gateway: {root}"
    );
    let reply = next_where(&mut rx, |r| {
        r.event == "walker" && r.direction == Direction::S2c
    })
    .await;
    assert_eq!(reply.args[0]["response"]["status"], 200);

    conn.send(json!({"type": "change_user", "token": TOKEN}))
        .await
        .expect("send");
    let sent = next_where(&mut rx, |r| r.event == "change_user").await;
    assert_eq!(sent.direction, Direction::C2s);
    assert_eq!(sent.args[0]["token"], sockscope_engine::bus::REDACTED);
    conn.send(json!("plain text")).await.expect("send text");
    let error = next_where(&mut rx, |r| r.event == "error").await;
    assert!(error.args[0]["data"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("not JSON")));

    conn.close().await;
    let bye = next_where(&mut rx, |r| r.event == "disconnect").await;
    assert_eq!(bye.direction, Direction::C2s);

    // Nothing published carried the token.
    let mut all = Vec::new();
    while let Ok(r) = rx.try_recv() {
        all.push(r);
    }
    let text = serde_json::to_string(&(&connect, &info, &reply, &sent, &all)).expect("json");
    assert!(!text.contains(TOKEN), "{text}");

    let refused = WsConnection::open(
        WsOptions {
            url: format!("{}/nope", gw.url()),
            ..WsOptions::default()
        },
        Bus::new(),
        WAIT,
    )
    .await;
    assert!(
        matches!(&refused, Err(Error::Refused { message, .. }) if message.contains("404")),
        "{:?}",
        refused.err()
    );
    gw.stop().await;
}
