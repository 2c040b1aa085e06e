//! HAR import/export on a real SQLite file, with the capture of real socket.io traffic
//! in tests/interop/fixtures/dashboard.har: events land in order, secrets of the
//! capture (CONNECT auth, Authorization header, cookie, query token) are nowhere in
//! the database, and export -> import is identical.

use std::path::{Path, PathBuf};

use sockscope_store::Error;
use sockscope_store::Store;

const SECRETS: [&str; 5] = [
    "SECRET-AUTH-TOKEN-5f1c2e",
    "SECRET-BEARER-9a7d41",
    "SECRET-COOKIE-77be03",
    "SECRET-QUERY-TOKEN-c0ffee",
    "Bearer",
];

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/fixtures/dashboard.har")
}

fn temp_dir(name: &str) -> PathBuf {
    sockscope_test_support::temp_dir("har", name)
}

#[test]
fn the_capture_imports_without_secrets_and_round_trips() {
    let dir = temp_dir("roundtrip");
    let db = dir.join("t.db");
    let store = Store::open(&db).expect("open");
    let text = std::fs::read_to_string(fixture()).expect("fixture");
    for s in SECRETS {
        assert!(text.contains(s), "the fixture should hold {s}");
    }

    let (id, n) = store.import_har("capture", &fixture()).expect("import");
    let events = store.events(id).expect("events");
    assert_eq!(n, events.len());
    let names: Vec<_> = events
        .iter()
        .map(|e| format!("{} {}", e.direction.as_str(), e.event))
        .collect();
    assert_eq!(
        names,
        [
            "c2s connect",
            "s2c connect",
            "s2c dashboard:initial",
            "c2s subscribe",
            "s2c metric:update",
            "s2c metric:update",
            "c2s upload",
            "s2c snapshot",
            "c2s unsubscribe",
            "c2s disconnect"
        ]
    );
    assert!(events.iter().all(|e| e.namespace == "/dashboard"));
    assert!(events.windows(2).all(|w| w[0].ts <= w[1].ts));
    let session = store.session(id).expect("session");
    assert_eq!(session.kind, "import");
    assert!(!session.target.contains('?'), "{}", session.target);

    for f in ["t.db", "t.db-wal", "t.db-shm"] {
        let Ok(bytes) = std::fs::read(dir.join(f)) else {
            continue;
        };
        for s in SECRETS {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} found in {f}"
            );
        }
    }

    let mut har = Vec::new();
    assert_eq!(store.export_har(id, &mut har).expect("export"), n);
    let out = dir.join("export.har");
    std::fs::write(&out, &har).expect("write");
    let (copy, m) = store.import_har("copy", &out).expect("re-import");
    assert_eq!(m, n);
    let strip = |mut v: Vec<sockscope_protocol::EventRecord>| {
        v.iter_mut().for_each(|e| e.seq = 0);
        v
    };
    assert_eq!(strip(store.events(copy).expect("events")), strip(events));
}

#[test]
fn a_file_that_is_not_a_har_is_named_in_the_error() {
    let dir = temp_dir("bad");
    let store = Store::open(dir.join("t.db")).expect("open");
    let bad = dir.join("x.har");
    std::fs::write(&bad, "[1, 2, 3]").expect("write");
    let err = store.import_har("x", &bad).expect_err("not a HAR");
    assert!(matches!(err, Error::BadHar { .. }), "{err:?}");
    let line = err.to_string();
    assert!(
        line.contains(&bad.display().to_string()) && !line.contains('\n'),
        "{line}"
    );
    assert!(store.sessions().expect("sessions").is_empty());
}
