//! The OS keychain round trip for saved targets' tokens (on Linux the kernel key
//! store), and the saved target in SQLite that must not hold the token.

use sockscope_client::keychain;
use sockscope_protocol::TargetProfile;
use sockscope_store::Store;

#[test]
fn a_token_round_trips_through_the_keychain_and_never_reaches_the_database() {
    let name = format!("sockscope-test-{}", std::process::id());
    let secret = format!("eyJ.keychain-secret-{}.sig", std::process::id());
    keychain::save_token(&name, &secret).expect("keychain available");
    assert_eq!(
        keychain::token(&name).expect("read").as_deref(),
        Some(secret.as_str())
    );

    let dir = sockscope_test_support::scratch("keychain", "target");
    let store = Store::open(dir.join("t.db")).expect("store");
    store
        .save_target(&TargetProfile {
            name: name.clone(),
            url: "http://localhost:4004".into(),
            auth: serde_json::json!({ "token": secret, "firebase_id": "fb-9" }),
            headers: vec![("Authorization".into(), format!("Bearer {secret}"))],
            has_token: true,
            ..TargetProfile::default()
        })
        .expect("save");
    let saved = store.targets().expect("targets");
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].auth, serde_json::json!({ "firebase_id": "fb-9" }));
    assert!(saved[0].headers.is_empty());
    for file in ["t.db", "t.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.join(file)) {
            let hay = String::from_utf8_lossy(&bytes);
            assert!(!hay.contains(&secret), "the token is in {file}");
        }
    }

    keychain::delete_token(&name).expect("delete");
    assert_eq!(keychain::token(&name).expect("read again"), None);
    keychain::delete_token(&name).expect("deleting twice is fine");
    std::fs::remove_dir_all(&dir).ok();
}
