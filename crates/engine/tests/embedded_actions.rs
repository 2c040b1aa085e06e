//! The Inspector's actions on the embedded gateway (`Engine::admin_action`), with
//! real rust_socketio clients: an emit reaches the socket it names and not the other
//! (the positive and negative control in one), join shows in the room list, a
//! disconnect removes that socket only, every action is on the bus, and a missing
//! field, a socket that is not connected or an unserved namespace is refused.

use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload};
use serde_json::{json, Value};
use sockscope_engine::Engine;
use sockscope_protocol::{AdminActionKind, AdminActionRequest, AuthMode, GatewaySettings};
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(600);

type Inbox = mpsc::UnboundedReceiver<(String, Vec<Value>)>;

async fn client(url: &str) -> (Client, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let c = ClientBuilder::new(url)
        .reconnect(false)
        .on_any(move |ev, p, _| {
            if let (Event::Custom(name), Payload::Text(args)) = (ev, p) {
                let _ = tx.send((name, args));
            }
            async {}.boxed()
        })
        .connect();
    let c = timeout(WAIT, c)
        .await
        .expect("connect timed out")
        .expect("connect");
    (c, rx)
}

/// The ids of the sockets of `/`, once there are `n`.
async fn socket_ids(engine: &Engine, n: usize) -> Vec<String> {
    timeout(WAIT, async {
        loop {
            let snap = engine.inspect().await.expect("inspect");
            let ids: Vec<String> = snap
                .namespaces
                .iter()
                .filter(|ns| ns.name == "/")
                .flat_map(|ns| ns.sockets.iter().map(|s| s.id.clone()))
                .collect();
            if ids.len() == n {
                return ids;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never {n} sockets on /"))
}

fn request(action: AdminActionKind, socket: Option<&str>) -> AdminActionRequest {
    AdminActionRequest {
        action,
        namespace: "/".into(),
        socket: socket.map(str::to_owned),
        room: None,
        event: None,
        args: Value::Null,
    }
}

#[tokio::test]
async fn inspector_actions_reach_the_named_socket_only_and_go_on_the_bus() {
    let engine = Engine::new();
    let refused = engine
        .admin_action(&request(AdminActionKind::Disconnect, Some("x")))
        .await
        .expect_err("no gateway yet");
    assert_eq!(refused.code(), "not_running");

    let status = engine
        .start_gateway(&GatewaySettings {
            port: 0,
            auth: AuthMode::None,
            ..GatewaySettings::default()
        })
        .await
        .expect("start");
    let url = status.url.expect("url");
    let mut bus = engine.bus().subscribe();
    let (a, mut a_in) = client(&url).await;
    let (b, mut b_in) = client(&url).await;
    let ids = socket_ids(&engine, 2).await;

    // Refusals: one line each, nothing done.
    let missing = engine
        .admin_action(&request(AdminActionKind::Disconnect, None))
        .await
        .expect_err("no socket");
    assert_eq!(missing.code(), "admin_action");
    assert!(
        missing.to_string().contains("the socket is missing"),
        "{missing}"
    );
    let gone = engine
        .admin_action(&request(AdminActionKind::Disconnect, Some("notasocket")))
        .await
        .expect_err("unknown socket");
    assert!(gone.to_string().contains("no socket notasocket"), "{gone}");
    let mut elsewhere = request(AdminActionKind::Disconnect, Some(&ids[0]));
    elsewhere.namespace = "/nowhere".into();
    let unserved = engine.admin_action(&elsewhere).await.expect_err("unserved");
    assert_eq!(unserved.code(), "unknown_namespace");
    assert_eq!(socket_ids(&engine, 2).await.len(), 2);

    // Emit to the first id: exactly one of the two clients gets it.
    let mut emit = request(AdminActionKind::Emit, Some(&ids[0]));
    emit.event = Some("notice".into());
    emit.args = json!([{"text": "hi"}]);
    let reply = engine.admin_action(&emit).await.expect("emit");
    assert!(reply.message.contains("addressed to 1 socket"), "{reply:?}");
    let got = |rx: &mut Inbox| {
        let mut n = Vec::new();
        while let Ok(m) = rx.try_recv() {
            n.push(m);
        }
        n
    };
    tokio::time::sleep(QUIET).await;
    let (ga, gb) = (got(&mut a_in), got(&mut b_in));
    assert_eq!(ga.len() + gb.len(), 1, "a: {ga:?} b: {gb:?}");
    let (name, args) = ga.into_iter().chain(gb).next().expect("one notice");
    assert_eq!(name, "notice");
    assert_eq!(args, vec![json!({"text": "hi"})]);

    // Join, then disconnect the other socket.
    let mut join = request(AdminActionKind::Join, Some(&ids[0]));
    join.room = Some("vip".into());
    engine.admin_action(&join).await.expect("join");
    engine
        .admin_action(&request(AdminActionKind::Disconnect, Some(&ids[1])))
        .await
        .expect("disconnect");
    let left = socket_ids(&engine, 1).await;
    assert_eq!(left, vec![ids[0].clone()], "the wrong socket went");
    let snap = engine.inspect().await.expect("inspect");
    let rooms = &snap
        .namespaces
        .iter()
        .find(|n| n.name == "/")
        .expect("/")
        .sockets[0]
        .rooms;
    assert!(rooms.contains(&"vip".to_owned()), "{rooms:?}");

    // On the bus: the emit as the event sent, the others as inspector records.
    let mut seen = Vec::new();
    let _ = timeout(WAIT, async {
        while let Ok(rec) = bus.recv().await {
            seen.push((rec.source.clone(), rec.event.clone(), rec.socket_id.clone()));
            if rec.source == "inspector" && rec.event == "_disconnect" {
                break;
            }
        }
    })
    .await;
    assert!(
        seen.iter()
            .any(|(_, e, s)| e == "notice" && s.as_ref() == Some(&ids[0])),
        "{seen:?}"
    );
    assert!(
        seen.contains(&("inspector".into(), "join".into(), Some(ids[0].clone()))),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(
            "inspector".into(),
            "_disconnect".into(),
            Some(ids[1].clone())
        )),
        "{seen:?}"
    );
    let _ = (a.disconnect().await, b.disconnect().await);
    engine.stop_gateway().await;
}
