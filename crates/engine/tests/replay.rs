//! Client-side replay end to end over loopback: a session imported into a store is
//! replayed against the embedded gateway (generic profile, which acks every event);
//! the gateway sees the rewritten events in order, the replay is recorded as a new
//! session, and the drift report finds exactly the ack that differs. Every wait is
//! bounded.

use std::time::Duration;

use serde_json::{json, Value};
use sockscope_engine::connection::{ConnectOptions, Transport};
use sockscope_engine::replay::{self, ReplayOptions, Rewrites};
use sockscope_engine::store::Store;
use sockscope_engine::{Bus, Error, Gateway};
use sockscope_protocol::{AckInfo, Direction, EventRecord, GatewaySettings};
use sockscope_test_support::{ack, Event};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

fn line(
    seq: u64,
    ms: i64,
    direction: Direction,
    event: &str,
    args: Value,
    ack: Option<AckInfo>,
) -> String {
    let r = Event::new(event, args)
        .seq(seq)
        .ts(1_700_000_000_000_000i64 + ms * 1000)
        .source("connection:1")
        .direction(direction)
        .ack(ack)
        .build();
    serde_json::to_string(&r).expect("json")
}

/// A store holding one imported session; returns it and the session id.
fn source_store(name: &str, tick_reply_ok: bool) -> (Store, i64) {
    let dir = sockscope_test_support::scratch("replay-it", name);
    let store = Store::open(dir.join("r.db")).expect("store");
    let jsonl = [
        line(1, -10, Direction::S2c, "connect", json!([]), None),
        line(
            2,
            0,
            Direction::C2s,
            "tick",
            json!([{"tenantID": "t1", "where": "tenant-a"}]),
            Some(ack(
                1,
                json!({"reply": {"ok": tick_reply_ok, "seq": 41}, "latency_ms": 3.0}),
            )),
        ),
        line(
            3,
            100,
            Direction::C2s,
            "note",
            json!(["from tenant-a"]),
            None,
        ),
        line(4, 150, Direction::S2c, "disconnect", json!([]), None),
    ]
    .join("\n");
    let (id, n) = store
        .import_jsonl("prod", jsonl.as_bytes())
        .expect("import");
    assert_eq!(n, 4);
    (store, id)
}

async fn gateway() -> (Gateway, tokio::sync::broadcast::Receiver<EventRecord>) {
    let bus = Bus::new();
    let rx = bus.subscribe();
    let settings = GatewaySettings {
        port: 0,
        ..GatewaySettings::default()
    };
    let gw = Gateway::start(&settings, bus).await.expect("gateway");
    (gw, rx)
}

fn options(source: i64, url: String) -> ReplayOptions {
    let mut o = ReplayOptions::new(
        source,
        ConnectOptions {
            url,
            namespace: "/".into(),
            transport: Transport::Websocket,
            ..ConnectOptions::default()
        },
    );
    o.settle = Duration::from_millis(200);
    o
}

#[tokio::test]
async fn replay_sends_rewritten_events_in_order_and_records_a_new_session() {
    let (store, source) = source_store("clean", true);
    let (gw, mut gw_rx) = gateway().await;
    let mut o = options(source, gw.url());
    o.rewrites =
        Rewrites::parse(&["tenant-a=>tenant-b".into()], &["$.tenantID=t2".into()]).expect("rules");
    o.ignore = vec!["seq".into()];
    let progress = std::sync::Mutex::new(Vec::new());
    let outcome = timeout(
        WAIT,
        replay::run(&store, o, |p| {
            if let Ok(mut v) = progress.lock() {
                v.push((p.sent, p.total));
            }
        }),
    )
    .await
    .expect("replay within the deadline")
    .expect("replay");
    let r = &outcome.report;
    assert_eq!(r.sent, 2);
    assert!(r.is_clean(), "{r:?}");
    assert_eq!(r.latency.len(), 1);
    assert_eq!(outcome.schedule_errors_us.len(), 2);
    assert_eq!(*progress.lock().expect("progress"), vec![(1, 2), (2, 2)]);

    // What the gateway received: rewritten, in order.
    let mut got = Vec::new();
    while let Ok(rec) = gw_rx.try_recv() {
        if rec.direction == Direction::C2s && rec.event != "connect" && rec.event != "disconnect" {
            got.push((rec.event, rec.args));
        }
    }
    assert_eq!(
        got,
        vec![
            (
                "tick".to_owned(),
                json!([{"tenantID": "t2", "where": "tenant-b"}])
            ),
            ("note".to_owned(), json!(["from tenant-b"])),
        ]
    );

    // The new session: kind replay, metadata naming the source, events as sent.
    let session = store.session(r.replay_session).expect("replay session");
    assert_eq!(session.kind, "replay");
    assert_eq!(session.meta["source_session"], json!(source));
    let events = store.events(r.replay_session).expect("events");
    let tick = events
        .iter()
        .find(|e| e.event == "tick")
        .expect("tick recorded");
    assert_eq!(tick.args, json!([{"tenantID": "t2", "where": "tenant-b"}]));
    let reply = tick
        .ack
        .as_ref()
        .and_then(|a| a.reply.as_ref())
        .expect("ack reply");
    assert_eq!(reply["reply"]["ok"], json!(true));
    assert!(events.iter().any(|e| e.event == "note"));
    gw.stop().await;
}

#[tokio::test]
async fn drift_names_the_ack_that_differs_and_failures_leave_no_session() {
    let (store, source) = source_store("drift", false);
    let (gw, _rx) = gateway().await;
    let mut o = options(source, gw.url());
    o.ignore = vec!["seq".into()];
    o.timing.as_fast_as_possible = true;
    let outcome = timeout(WAIT, replay::run(&store, o.clone(), |_| {}))
        .await
        .expect("replay within the deadline")
        .expect("replay");
    let m = &outcome.report.ack_mismatches;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!((m[0].event.as_str(), m[0].index), ("tick", 0));
    assert_eq!(m[0].expected, json!({"ok": false}));
    assert_eq!(m[0].received, json!({"ok": true}));

    let before = store.sessions().expect("sessions").len();
    let mut nothing = o.clone();
    nothing.filter.only = vec!["nope".into()];
    let e = replay::run(&store, nothing, |_| {}).await.unwrap_err();
    assert!(matches!(e, Error::NothingToReplay(_)), "{e}");
    let mut unreachable = o;
    unreachable.target.url = "http://127.0.0.1:1".into();
    unreachable.connect_timeout = Duration::from_secs(3);
    let e = replay::run(&store, unreachable, |_| {}).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Client(sockscope_client::Error::Unreachable { .. })
        ),
        "{e}"
    );
    assert_eq!(store.sessions().expect("sessions").len(), before);
    gw.stop().await;
}
