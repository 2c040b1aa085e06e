//! Our Socket.IO client against a real Node socket.io 4.8 server
//! (`tests/interop/staging-server.mjs`; `cargo xtask test` installs its npm packages
//! first): emit with ack, the ack reply and latency on the bus, a refused handshake.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use sockscope_bus::Bus;
use sockscope_client::connection::{ConnectOptions, Connection, Transport};
use sockscope_client::Error;
use sockscope_protocol::Direction;

const SECRET: &str = "staging-secret";
const WAIT: Duration = Duration::from_secs(10);

struct Staging(Child, String);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn staging() -> Staging {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/interop/staging-server.mjs"
    );
    let mut child = Command::new("node")
        .args([script, "0", SECRET])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node (cargo xtask test installs what it needs)");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("listening line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening on URL")
        .to_owned();
    Staging(child, url)
}

fn token(secret: &str) -> String {
    sockscope_test_support::hs256_token(secret, &json!({"sub": "ann", "tenantId": "acme"}))
}

fn options(url: &str, secret: &str) -> ConnectOptions {
    ConnectOptions {
        url: url.to_owned(),
        namespace: "/dashboard".into(),
        auth: Some(json!({ "token": token(secret) })),
        transport: Transport::Websocket,
        ..ConnectOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_with_ack_against_node_captures_reply_and_latency() {
    let server = staging();
    let bus = Bus::new();
    let mut rx = bus.subscribe();
    let conn = Connection::open(options(&server.1, SECRET), bus.clone(), WAIT)
        .await
        .expect("connect");
    let (reply, latency) = conn
        .emit_with_ack("echo", json!([1, "two"]), WAIT)
        .await
        .expect("ack");
    assert_eq!(reply, json!({ "echo": [1, "two"], "tenant": "acme" }));
    assert!(latency > Duration::ZERO);
    let rec = tokio::time::timeout(WAIT, async {
        loop {
            let r = rx.recv().await.expect("bus");
            if r.event == "echo" {
                return r;
            }
        }
    })
    .await
    .expect("echo record");
    assert_eq!(rec.direction, Direction::C2s);
    assert_eq!(rec.args, json!([1, "two"]));
    let ack = rec.ack.and_then(|a| a.reply).expect("ack on the record");
    assert_eq!(ack["reply"], reply);
    assert!(ack["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    assert!(rec.source.starts_with("connection:"));
    conn.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_handshake_is_an_error_with_the_servers_message() {
    let server = staging();
    match Connection::open(options(&server.1, "wrong"), Bus::new(), WAIT).await {
        Err(Error::Refused { message, .. }) => assert_eq!(message, "bad signature"),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("connected with a bad token"),
    }
}
