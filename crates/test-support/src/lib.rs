//! What Sockscope's Rust tests share, defined once: an [`EventRecord`] builder
//! ([`Event`]), fresh temporary folders and database paths ([`temp_dir`],
//! [`scratch`], [`temp_db`], [`unique_dir`]) and signed tokens ([`hs256_token`],
//! [`rs256_token`]).
//! A dev-dependency only: nothing here ships.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use sockscope_protocol::{AckInfo, Direction, EventRecord};

/// `sockscope-{prefix}-{pid}-{name}` under the system temp folder, removed if it was
/// left by an earlier run and not created (a test that checks the path is created
/// for it starts from here).
pub fn scratch(prefix: &str, name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("sockscope-{prefix}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// [`scratch`], created.
pub fn temp_dir(prefix: &str, name: &str) -> PathBuf {
    let dir = scratch(prefix, name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A fresh folder per call within one process (tests of a file run in parallel
/// threads): `sockscope-{prefix}-{pid}-{n}`, created.
pub fn unique_dir(prefix: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    temp_dir(prefix, &n.to_string())
}

/// A database path `test.db` in a [`scratch`] folder (the store creates it).
pub fn temp_db(prefix: &str, name: &str) -> PathBuf {
    scratch(prefix, name).join("test.db")
}

/// An HS256 JWT of `claims` signed with `secret`, as the gateways' `hs256` auth
/// expects.
pub fn hs256_token(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("encode token")
}

/// An RS256 JWT of `claims` signed with the PEM private key `private_pem`, as the
/// gateways' `rs256` auth expects.
pub fn rs256_token(private_pem: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("private key"),
    )
    .expect("encode token")
}

/// An acknowledgement with both an id and a reply, for [`Event::ack`].
pub fn ack(id: u64, reply: Value) -> AckInfo {
    AckInfo {
        id: Some(id),
        reply: Some(reply),
        latency_us: None,
    }
}

/// An [`EventRecord`] under construction: [`sockscope_bus::record`]'s record (source
/// `gateway`, c2s, `/`) with whatever a test sets on top.
#[derive(Debug, Clone)]
pub struct Event(EventRecord);

impl Event {
    /// Event `name` with arguments `args` (a JSON array).
    pub fn new(name: &str, args: Value) -> Self {
        Self(sockscope_bus::record(
            "gateway",
            Direction::C2s,
            "/",
            name,
            args,
        ))
    }

    pub fn source(mut self, source: &str) -> Self {
        self.0.source = source.to_owned();
        self
    }

    pub fn direction(mut self, direction: Direction) -> Self {
        self.0.direction = direction;
        self
    }

    pub fn namespace(mut self, namespace: &str) -> Self {
        self.0.namespace = namespace.to_owned();
        self
    }

    pub fn seq(mut self, seq: u64) -> Self {
        self.0.seq = seq;
        self
    }

    /// Unix microseconds.
    pub fn ts(mut self, ts: i64) -> Self {
        self.0.ts = ts;
        self
    }

    /// A tenant, or none (`Option<&str>` is taken too).
    pub fn tenant<'a>(mut self, tenant: impl Into<Option<&'a str>>) -> Self {
        self.0.tenant = tenant.into().map(str::to_owned);
        self
    }

    /// A user, or none (`Option<&str>` is taken too).
    pub fn user<'a>(mut self, user: impl Into<Option<&'a str>>) -> Self {
        self.0.user = user.into().map(str::to_owned);
        self
    }

    /// A socket id, or none (`Option<&str>` is taken too).
    pub fn socket<'a>(mut self, socket_id: impl Into<Option<&'a str>>) -> Self {
        self.0.socket_id = socket_id.into().map(str::to_owned);
        self
    }

    /// An acknowledgement, or none (`Option<AckInfo>` is taken too; [`ack`] makes
    /// the common one).
    pub fn ack(mut self, ack: impl Into<Option<AckInfo>>) -> Self {
        self.0.ack = ack.into();
        self
    }

    pub fn rooms<I: IntoIterator<Item = S>, S: Into<String>>(mut self, rooms: I) -> Self {
        self.0.rooms = rooms.into_iter().map(Into::into).collect();
        self
    }

    pub fn build(self) -> EventRecord {
        self.0
    }
}

impl From<Event> for EventRecord {
    fn from(e: Event) -> Self {
        e.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_sets_what_it_is_told_and_keeps_the_rest() {
        let r = Event::new("tick", serde_json::json!([1]))
            .source("connection:1")
            .direction(Direction::S2c)
            .namespace("/d")
            .seq(7)
            .ts(42)
            .tenant("acme")
            .build();
        assert_eq!(
            (
                r.source.as_str(),
                r.direction,
                r.namespace.as_str(),
                r.seq,
                r.ts
            ),
            ("connection:1", Direction::S2c, "/d", 7, 42)
        );
        assert_eq!(r.tenant.as_deref(), Some("acme"));
        assert_eq!(r.args, serde_json::json!([1]));
        assert!(r.user.is_none() && r.ack.is_none());
    }

    #[test]
    fn optional_fields_take_a_value_or_none() {
        let r = Event::new("e", serde_json::json!([]))
            .socket("s1")
            .user(Some("ann"))
            .tenant(None)
            .ack(ack(3, serde_json::json!({"ok": true})))
            .build();
        assert_eq!(r.socket_id.as_deref(), Some("s1"));
        assert_eq!(r.user.as_deref(), Some("ann"));
        assert!(r.tenant.is_none());
        let a = r.ack.expect("ack");
        assert_eq!(
            (a.id, a.reply),
            (Some(3), Some(serde_json::json!({"ok": true})))
        );
        let r = Event::new("e", serde_json::json!([]))
            .ack(ack(1, serde_json::json!(1)))
            .ack(None)
            .build();
        assert!(r.ack.is_none());
    }

    #[test]
    fn folders_are_fresh_and_tokens_verify() {
        let a = unique_dir("support");
        let b = unique_dir("support");
        assert!(a.is_dir() && b.is_dir() && a != b);
        assert!(!temp_db("support", "db").exists());
        let t = hs256_token("s", &serde_json::json!({"sub": "ann"}));
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.required_spec_claims.clear();
        let d =
            jsonwebtoken::decode::<Value>(&t, &jsonwebtoken::DecodingKey::from_secret(b"s"), &v)
                .expect("decode");
        assert_eq!(d.claims["sub"], "ann");
        let _ = std::fs::remove_dir_all(a);
        let _ = std::fs::remove_dir_all(b);
    }
}
