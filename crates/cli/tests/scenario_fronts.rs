//! The app's and the CLI's "scenario from session" agree: the same recorded session,
//! in a real SQLite file whose metadata names a gateway profile and the handshake
//! auth's shape, becomes the same scenario file through `sockscope scenario from`
//! (this crate's binary) and through `usecase::scenario::scenario_file`, the engine
//! function the app's `cmd_scenario_from_session` runs (its Tauri wrapper only trims
//! the path and maps errors). Before the use case, the app's copy dropped the
//! profile and the auth shape.

use std::process::Command;

use serde_json::{json, Value};
use sockscope_engine::store::{Recorder, Store};
use sockscope_engine::usecase;
use sockscope_protocol::{Direction, EventRecord};
use sockscope_test_support::{ack, Event};

fn rec(seq: u64, ms: i64, direction: Direction, event: &str, args: Value) -> EventRecord {
    Event::new(event, args)
        .seq(seq)
        .ts(1_000_000_000 + ms * 1000)
        .direction(direction)
        .namespace("/dashboard")
        .ack((direction == Direction::C2s).then(|| ack(seq, json!({"ok": true}))))
        .socket("s1")
        .tenant("acme")
        .user("ann")
        .build()
}

/// A session recorded from the embedded gateway's analytics profile, whose client
/// authenticated with `token` and `tenantId`.
fn session(store: &Store) -> i64 {
    let meta = json!({"profile": "analytics", "auth_keys": ["token", "tenantId"], "port": 3069});
    let id = store
        .create_session("dash", "gateway", "http://127.0.0.1:3069", meta)
        .expect("session");
    let recorder = Recorder::start(store, id).expect("recorder");
    for r in [
        rec(
            1,
            0,
            Direction::C2s,
            "subscribe",
            json!([{"entityId": "e1"}]),
        ),
        rec(
            2,
            120,
            Direction::S2c,
            "dashboard:initial",
            json!([{"entityId": "e1"}]),
        ),
        rec(
            3,
            900,
            Direction::C2s,
            "unsubscribe",
            json!([{"entityId": "e1"}]),
        ),
    ] {
        recorder.record(r);
    }
    let stats = recorder.finish().expect("finish");
    assert_eq!(stats.written, 3);
    id
}

#[test]
fn the_app_and_the_cli_make_the_same_scenario_from_a_session() {
    let dir = sockscope_test_support::temp_dir("fronts", "scenario");
    let db = dir.join("sockscope.db");
    let store = Store::open(db.clone()).expect("store");
    let id = session(&store);

    // The app: a relative path lands next to the database.
    let app_path = usecase::scenario::scenario_file(&store, id, std::path::Path::new("app.json"))
        .expect("the app's scenario");
    assert_eq!(app_path, dir.join("app.json"));

    let cli_path = dir.join("cli.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args(["scenario", "from", &id.to_string(), "--db"])
        .arg(&db)
        .arg("--output")
        .arg(&cli_path)
        .output()
        .expect("run sockscope");
    assert!(
        out.status.success(),
        "sockscope scenario from: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let app = std::fs::read_to_string(&app_path).expect("app file");
    let cli = std::fs::read_to_string(&cli_path).expect("cli file");
    let parsed: Value = serde_json::from_str(&app).expect("app JSON");
    // The session's metadata reached the scenario on both paths.
    assert_eq!(parsed["profile"], "analytics", "{app}");
    assert_eq!(
        parsed["auth"],
        json!({"token": "{{token}}", "tenantId": "{{tenant}}"}),
        "{app}"
    );
    assert_eq!(app, cli, "the app's and the CLI's scenario differ");
    let _ = std::fs::remove_dir_all(&dir);
}
