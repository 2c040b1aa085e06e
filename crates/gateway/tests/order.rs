//! One socket's events reach the bus in the order the client sent them, on the
//! multi-threaded runtime where socketioxide runs each handler as its own task.
//! Every wait is bounded by a timeout.

use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::asynchronous::ClientBuilder;
use serde_json::json;
use sockscope_bus::Bus;
use sockscope_gateway::Gateway;
use sockscope_protocol::{Direction, EmitRequest, EventRecord, GatewaySettings};
use tokio::time::timeout;

const N: u64 = 20_000;
const WAIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_thousand_events_of_one_socket_reach_the_bus_in_emit_order() {
    let bus = Bus::new();
    let mut records = bus.subscribe();
    let settings = GatewaySettings {
        port: 0,
        ..GatewaySettings::default()
    };
    let gw = Gateway::start(&settings, bus.clone())
        .await
        .expect("start gateway");
    let (open_tx, mut open_rx) = tokio::sync::mpsc::unbounded_channel();
    let c = timeout(
        Duration::from_secs(10),
        ClientBuilder::new(format!("http://{}", gw.addr()))
            .reconnect(false)
            .on("open", move |_, _| {
                let _ = open_tx.send(());
                async {}.boxed()
            })
            .connect(),
    )
    .await
    .expect("connect timed out")
    .expect("connect");
    timeout(Duration::from_secs(10), open_rx.recv())
        .await
        .expect("no open in time");

    // Mostly the catch-all handler, with a `subscribe` (its own handler, which joins
    // a room) every 1,000 events: both kinds must keep their place.
    for i in 0..N {
        let sent = if i % 1_000 == 999 {
            c.emit("subscribe", json!({ "room": format!("r{i}") }))
                .await
        } else {
            c.emit("n", json!(i)).await
        };
        sent.expect("emit");
    }
    c.disconnect().await.expect("disconnect");

    let mut seen: Vec<EventRecord> = Vec::new();
    timeout(WAIT, async {
        while !seen.iter().any(|r| r.event == "disconnect") {
            seen.push(records.recv().await.expect("bus"));
        }
    })
    .await
    .expect("every record within time");
    gw.stop().await;

    assert_eq!(seen.first().map(|r| r.event.as_str()), Some("connect"));
    assert_eq!(seen.last().map(|r| r.event.as_str()), Some("disconnect"));
    let order: Vec<u64> = seen
        .iter()
        .filter_map(|r| match r.event.as_str() {
            "n" => r.args[0].as_u64(),
            "subscribe" => r.args[0]["room"]
                .as_str()
                .and_then(|room| room.trim_start_matches('r').parse().ok()),
            _ => None,
        })
        .collect();
    let inversions = order.windows(2).filter(|w| w[1] < w[0]).count();
    assert_eq!(inversions, 0, "adjacent inversions in the bus order");
    assert_eq!(order, (0..N).collect::<Vec<_>>(), "every event, once");
    // The room a `subscribe` joined is on its own record (the handler built it).
    let sub = seen
        .iter()
        .find(|r| r.event == "subscribe")
        .expect("a subscribe record");
    assert!(
        sub.rooms.iter().any(|r| r.ends_with("r999")),
        "{:?}",
        sub.rooms
    );
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
    // Stamped when read, so one socket's timestamps follow its order too.
    assert!(
        seen.windows(2).all(|w| w[0].ts <= w[1].ts),
        "ts goes backwards"
    );
    assert_eq!(seen.len() as u64, N + 2);
}

/// Broadcasts sent from several tasks at once are recorded in the order the client
/// receives them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_broadcasts_are_recorded_in_the_order_they_were_sent() {
    const PER_TASK: u64 = 1_000;
    const TASKS: u64 = 4;
    let bus = Bus::new();
    let mut records = bus.subscribe();
    let settings = GatewaySettings {
        port: 0,
        ..GatewaySettings::default()
    };
    let gw = Gateway::start(&settings, bus.clone())
        .await
        .expect("start gateway");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let open = tx.clone();
    let c = timeout(
        Duration::from_secs(10),
        ClientBuilder::new(format!("http://{}", gw.addr()))
            .reconnect(false)
            .on("open", move |_, _| {
                let _ = open.send(None);
                async {}.boxed()
            })
            .on("b", move |p, _| {
                let v = match p {
                    rust_socketio::Payload::Text(v) => v.first().cloned(),
                    _ => None,
                };
                let _ = tx.send(v);
                async {}.boxed()
            })
            .connect(),
    )
    .await
    .expect("connect timed out")
    .expect("connect");
    timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no open in time");

    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let h = gw.handle().clone();
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let req = EmitRequest {
                        namespace: None,
                        event: "b".into(),
                        data: json!({ "t": t, "i": i }),
                        room: None,
                        tenant: None,
                        channel: None,
                    };
                    // A full socket buffer refuses the emit (and records nothing):
                    // wait for it to drain and send again, a bounded number of times.
                    let mut tries = 0;
                    while let Err(e) = h.emit(&req).await {
                        tries += 1;
                        assert!(tries < 2_000, "emit kept failing: {e}");
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("emitter");
    }
    let received: Vec<serde_json::Value> = timeout(WAIT, async {
        let mut got = Vec::new();
        while (got.len() as u64) < TASKS * PER_TASK {
            if let Some(Some(v)) = rx.recv().await {
                got.push(v);
            }
        }
        got
    })
    .await
    .expect("every broadcast received");
    let mut recorded = Vec::new();
    while let Ok(r) = records.try_recv() {
        if r.event == "b" && r.direction == Direction::S2c {
            recorded.push(r.args[0].clone());
        }
    }
    c.disconnect().await.ok();
    gw.stop().await;
    // Control: each task's own emits are in its order on both sides.
    for t in 0..TASKS {
        let mine: Vec<u64> = received
            .iter()
            .filter(|v| v["t"] == t)
            .filter_map(|v| v["i"].as_u64())
            .collect();
        assert_eq!(mine, (0..PER_TASK).collect::<Vec<_>>());
    }
    assert_eq!(recorded.len(), received.len());
    assert!(
        recorded == received,
        "the recording interleaves the tasks differently from the wire"
    );
}
