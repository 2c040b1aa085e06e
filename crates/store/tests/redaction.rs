//! Reads redact too: a database holding unredacted rows (written by an older version,
//! here by a recorder fed directly, bypassing the bus) gives none of them back through
//! `events`, `events_page`, either export or `sessions`, while the file itself (the
//! positive control) does hold them.

use serde_json::json;
use sockscope_protocol::Direction;
use sockscope_store::{Recorder, Store};
use sockscope_test_support::{ack, Event};

const SECRETS: [&str; 4] = [
    "raw-SECRET-arg",
    "raw-SECRET-ack",
    "raw-SECRET-query",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.raw-SECRET-sig",
];

#[test]
fn rows_stored_unredacted_are_redacted_on_every_read() {
    let dir = sockscope_test_support::scratch("redaction", "old-rows");
    let path = dir.join("old.db");
    let store = Store::open(&path).expect("store");
    let id = store
        .create_session("old", "connection", "http://h:1", json!({}))
        .expect("session");
    // What an older version could have stored: a target with a query token.
    rusqlite::Connection::open(&path)
        .expect("raw connection")
        .execute(
            "UPDATE sessions SET target = ?1 WHERE id = ?2",
            rusqlite::params![format!("http://h:1/?token={}", SECRETS[2]), id],
        )
        .expect("raw update");
    let rec = Recorder::start(&store, id).expect("recorder");
    let r = Event::new(
        "login",
        json!([{ "password": SECRETS[0], "user": "PUBLIC-user", "note": SECRETS[3] }]),
    )
    .source("connection:1")
    .direction(Direction::C2s)
    .seq(1)
    .ts(1)
    .ack(ack(
        1,
        json!({ "accessToken": SECRETS[1], "ok": "PUBLIC-ok" }),
    ))
    .build();
    rec.record(r);
    rec.finish().expect("finish");

    let mut file = std::fs::read(&path).unwrap_or_default();
    file.extend(std::fs::read(dir.join("old.db-wal")).unwrap_or_default());
    let file = String::from_utf8_lossy(&file);
    assert!(
        file.contains(SECRETS[0]),
        "the control: the raw row is in the file"
    );

    let mut outputs = vec![
        serde_json::to_string(&store.events(id).expect("events")).unwrap_or_default(),
        serde_json::to_string(&store.events_page(id, 0, 10).expect("page")).unwrap_or_default(),
        serde_json::to_string(&store.sessions().expect("sessions")).unwrap_or_default(),
    ];
    for har in [false, true] {
        let mut out = Vec::new();
        let n = if har {
            store.export_har(id, &mut out)
        } else {
            store.export_jsonl(id, &mut out)
        };
        assert_eq!(n.expect("export"), 1);
        outputs.push(String::from_utf8_lossy(&out).into_owned());
    }
    for out in &outputs {
        for s in SECRETS {
            assert!(!out.contains(s), "{s} in {out}");
        }
    }
    assert!(outputs[0].contains("PUBLIC-user") && outputs[0].contains("PUBLIC-ok"));
    assert!(
        outputs[2].contains("http://h:1/?token=[redacted]"),
        "{}",
        outputs[2]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
