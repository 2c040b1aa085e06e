//! Server-side replay through the `Engine` API the desktop app uses: a session
//! imported into a store is re-emitted by the running embedded gateway; what the
//! gateway publishes on the bus shows the rooms and tenants (rewritten), and the
//! controls (pause, seek, resume, stop) and status behave as the GUI needs. Every
//! wait is bounded.

use std::time::Duration;

use serde_json::{json, Value};
use sockscope_engine::store::Store;
use sockscope_engine::{Engine, Error};
use sockscope_protocol::{
    Direction, EventRecord, GatewaySettings, ReplayPlan, ServerReplayPhase, ServerReplayRequest,
};
use sockscope_test_support::Event;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(20);

fn line(
    seq: u64,
    ms: i64,
    event: &str,
    args: Value,
    rooms: &[&str],
    tenant: Option<&str>,
) -> String {
    let r = Event::new(event, args)
        .seq(seq)
        .ts(1_700_000_000_000_000i64 + ms * 1000)
        .direction(Direction::S2c)
        .rooms(rooms.iter().copied())
        .tenant(tenant)
        .build();
    serde_json::to_string(&r).expect("json")
}

/// An engine with a store holding one session of 4 server events 100 ms apart, and
/// the gateway running on a free port.
async fn engine(name: &str) -> (Engine, i64) {
    let dir = sockscope_test_support::scratch("replay-server-it", name);
    let store = Store::open(dir.join("s.db")).expect("store");
    let lines = [
        line(
            1,
            0,
            "order",
            json!([{"id": 1, "t": "acme"}]),
            &["tenant:acme:orders"],
            Some("acme"),
        ),
        line(
            2,
            100,
            "order",
            json!([{"id": 2}]),
            &["tenant:globex:orders"],
            Some("globex"),
        ),
        line(3, 200, "announce", json!([{"text": "hi"}]), &[], None),
        line(
            4,
            300,
            "order",
            json!([{"id": 3}, "two"]),
            &["tenant:acme:orders"],
            Some("acme"),
        ),
    ]
    .join("\n");
    let (id, n) = store
        .import_jsonl("prod", lines.as_bytes())
        .expect("import");
    assert_eq!(n, 4);
    let engine = Engine::with_store(store);
    engine
        .start_gateway(&GatewaySettings {
            port: 0,
            ..GatewaySettings::default()
        })
        .await
        .expect("gateway");
    (engine, id)
}

async fn published(
    rx: &mut tokio::sync::broadcast::Receiver<EventRecord>,
    n: usize,
) -> Vec<EventRecord> {
    let mut out = Vec::new();
    while out.len() < n {
        let rec = timeout(WAIT, rx.recv())
            .await
            .expect("a published record in time")
            .expect("the bus is open");
        if rec.direction == Direction::S2c {
            out.push(rec);
        }
    }
    out
}

#[tokio::test]
async fn replays_through_the_gateway_with_rooms_and_tenants_rewritten() {
    let (engine, id) = engine("rooms").await;
    assert_eq!(
        engine.replay_server_status().await.phase,
        ServerReplayPhase::Idle
    );
    let mut rx = engine.bus().subscribe();
    let status = engine
        .replay_server_start(&ServerReplayRequest {
            session: id,
            plan: ReplayPlan {
                as_fast_as_possible: true,
                rewrites: vec!["acme=>globex".into()],
                ..ReplayPlan::default()
            },
            ..ServerReplayRequest::default()
        })
        .await
        .unwrap();
    assert_eq!((status.session, status.total), (id, 4));
    let recs = published(&mut rx, 4).await;
    let got: Vec<(&str, Vec<String>, Option<&str>, &Value)> = recs
        .iter()
        .map(|r| {
            (
                r.event.as_str(),
                r.rooms.clone(),
                r.tenant.as_deref(),
                &r.args,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "order",
                vec!["tenant:globex:orders".to_owned()],
                Some("globex"),
                &json!([{"id": 1, "t": "globex"}])
            ),
            (
                "order",
                vec!["tenant:globex:orders".to_owned()],
                Some("globex"),
                &json!([{"id": 2}])
            ),
            ("announce", vec![], None, &json!([{"text": "hi"}])),
            (
                "order",
                vec!["tenant:globex:orders".to_owned()],
                Some("globex"),
                &json!([{"id": 3}, "two"])
            ),
        ]
    );
    let handle = engine.replay_server().await.unwrap();
    let last = timeout(WAIT, handle.wait()).await.unwrap().unwrap();
    assert_eq!(last.phase, ServerReplayPhase::Finished);
    assert_eq!((last.sent, last.index, last.delivered), (4, 4, 0));
    // Controls on a finished replay say so.
    assert!(matches!(
        engine.replay_server_pause().await,
        Err(Error::ReplayNotRunning)
    ));
    engine.stop_gateway().await;
}

#[tokio::test]
async fn pause_seek_resume_and_stop_through_the_engine() {
    let (engine, id) = engine("controls").await;
    let req = ServerReplayRequest {
        session: id,
        plan: ReplayPlan {
            speed: 0.5, // 200 ms apart
            ..ReplayPlan::default()
        },
        ..ServerReplayRequest::default()
    };
    engine.replay_server_start(&req).await.unwrap();
    // One at a time.
    assert!(
        matches!(engine.replay_server_start(&req).await, Err(Error::ReplayRunning(s)) if s == id)
    );
    engine.replay_server_pause().await.unwrap();
    let handle = engine.replay_server().await.unwrap();
    let mut watch = handle.subscribe();
    let paused = timeout(WAIT, watch.wait_for(|s| s.paused))
        .await
        .unwrap()
        .unwrap()
        .clone();
    assert_eq!(paused.phase, ServerReplayPhase::Paused);
    let sent_when_paused = paused.sent;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        engine.replay_server_status().await.sent,
        sent_when_paused,
        "nothing is sent while paused"
    );

    assert!(matches!(
        engine.replay_server_seek(5).await,
        Err(Error::BadSeek { index: 5, total: 4 })
    ));
    engine.replay_server_seek(3).await.unwrap();
    timeout(WAIT, watch.wait_for(|s| s.index == 3))
        .await
        .unwrap()
        .unwrap();
    engine.replay_server_resume().await.unwrap();
    let last = timeout(WAIT, handle.wait()).await.unwrap().unwrap();
    assert_eq!(last.phase, ServerReplayPhase::Finished);
    assert_eq!(
        last.sent,
        sent_when_paused + 1,
        "only the sought last event after the seek"
    );
    assert_eq!(last.event, "order");

    // A new one may start once the old one is done; stop ends it early.
    engine.replay_server_start(&req).await.unwrap();
    engine.replay_server_stop().await.unwrap();
    let handle = engine.replay_server().await.unwrap();
    let last = timeout(WAIT, handle.wait()).await.unwrap().unwrap();
    assert_eq!(last.phase, ServerReplayPhase::Stopped);
    assert!(last.sent < 4);
    engine.stop_gateway().await;
}

#[tokio::test]
async fn refuses_unserved_namespaces_and_reports_missing_clients() {
    let (engine, id) = engine("errors").await;
    let e = engine
        .replay_server_start(&ServerReplayRequest {
            session: id,
            plan: ReplayPlan {
                only: vec!["nope".into()],
                ..ReplayPlan::default()
            },
            ..ServerReplayRequest::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoServerEvents(s) if s == id), "{e}");
    assert_eq!(e.code(), "no_server_events");
    let e = engine
        .replay_server_start(&ServerReplayRequest {
            session: 999,
            ..ServerReplayRequest::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Store(sockscope_engine::store::Error::UnknownSession(999))
        ),
        "{e}"
    );

    engine
        .replay_server_start(&ServerReplayRequest {
            session: id,
            wait_clients: 1,
            wait_timeout_ms: Some(200),
            ..ServerReplayRequest::default()
        })
        .await
        .unwrap();
    let handle = engine.replay_server().await.unwrap();
    let e = timeout(WAIT, handle.wait()).await.unwrap().unwrap_err();
    assert!(
        matches!(
            e,
            Error::NoClients {
                wanted: 1,
                connected: 0,
                ..
            }
        ),
        "{e}"
    );
    let status = engine.replay_server_status().await;
    assert_eq!(status.phase, ServerReplayPhase::Failed);
    assert_eq!(
        status.error.as_deref(),
        Some("only 0 of 1 clients connected within 200 ms")
    );
    engine.stop_gateway().await;

    // A session recorded on a namespace the gateway does not serve.
    let store = engine.store().unwrap();
    let (other, _) = store
        .import_jsonl(
            "dash",
            line(1, 0, "tick", json!([1]), &[], None)
                .replace("\"/\"", "\"/dashboard\"")
                .as_bytes(),
        )
        .unwrap();
    engine
        .start_gateway(&GatewaySettings {
            port: 0,
            ..GatewaySettings::default()
        })
        .await
        .unwrap();
    let e = engine
        .replay_server_start(&ServerReplayRequest {
            session: other,
            ..ServerReplayRequest::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::NamespaceNotServed { namespace, served } if namespace == "/dashboard" && served == "/"),
        "{e}"
    );
    engine.stop_gateway().await;
}
