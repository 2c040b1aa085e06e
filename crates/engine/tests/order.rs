//! One socket's events reach the bus in the order the client sent them, on the
//! multi-threaded runtime where socketioxide runs each handler as its own task.
//! Every wait is bounded by a timeout.

use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::asynchronous::ClientBuilder;
use serde_json::json;
use sockscope_engine::{Bus, Gateway};
use sockscope_protocol::{EventRecord, GatewaySettings};
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
    assert_eq!(seen.len() as u64, N + 2);
}
