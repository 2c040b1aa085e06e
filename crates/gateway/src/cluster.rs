//! Cluster mode: the embedded gateway as one node of several, joined through Redis.
//!
//! The joining is socketioxide's own Redis adapter (`socketioxide-redis`): a
//! broadcast on one node is published on Redis and every other node sends it to its
//! own sockets; `fetch_sockets` and `rooms` ask every node. This module only chooses
//! what the adapter talks to, through its [`Driver`] seam:
//!
//! - [`Backplane::Alone`] for a gateway that is not clustered: nothing to publish to,
//!   one server. Every broadcast is then also marked local (see
//!   [`crate::Shared::scope`]), so the adapter goes straight to its in-process rooms,
//!   as the default local adapter does.
//! - [`Backplane::Redis`] wraps the adapter's stock `RedisDriver`, with a bound on
//!   each publish so a Redis that stops answering cannot hold a broadcast forever.
//!
//! [`Link`] watches the connection: losing Redis is said once on the bus (event
//! `cluster:redis-lost` on namespace `/`) and in the log, the gateway status carries
//! it, and from then on broadcasts reach this node's sockets only.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use socketioxide_redis::drivers::redis::{RedisDriver, RedisError};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use sockscope_protocol::Direction;

use crate::{Error, Result};
use sockscope_bus::{self as bus, Bus};

/// How long joining the cluster may take before the start is given up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on one publish (a broadcast's hop to the other nodes).
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the link is checked, and how long one check may take.
const PING_EVERY: Duration = Duration::from_millis(500);
const PING_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a cross-node request (fetch sockets, rooms) waits for other nodes.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The bus event that says Redis is gone.
pub const REDIS_LOST_EVENT: &str = "cluster:redis-lost";

/// What the Redis adapter publishes to and subscribes on.
#[derive(Clone)]
pub enum Backplane {
    /// Not clustered: publishes go nowhere and this is the only server.
    Alone,
    /// socketioxide-redis's own driver for a standalone Redis.
    Redis(RedisDriver),
}

/// A failure of the backplane.
#[derive(Debug, thiserror::Error)]
pub enum BackplaneError {
    #[error(transparent)]
    Redis(#[from] RedisError),
    #[error("redis did not answer within {0:?}")]
    TimedOut(Duration),
}

impl Driver for Backplane {
    type Error = BackplaneError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        match self {
            Backplane::Alone => Ok(()),
            Backplane::Redis(d) => tokio::time::timeout(PUBLISH_TIMEOUT, d.publish(chan, val))
                .await
                .map_err(|_| BackplaneError::TimedOut(PUBLISH_TIMEOUT))?
                .map_err(BackplaneError::from),
        }
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, Self::Error> {
        match self {
            Backplane::Alone => Ok(MessageStream::new_empty()),
            Backplane::Redis(d) => tokio::time::timeout(CONNECT_TIMEOUT, d.subscribe(chan, size))
                .await
                .map_err(|_| BackplaneError::TimedOut(CONNECT_TIMEOUT))?
                .map_err(BackplaneError::from),
        }
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        match self {
            Backplane::Alone => Ok(()),
            Backplane::Redis(d) => tokio::time::timeout(PUBLISH_TIMEOUT, d.unsubscribe(chan))
                .await
                .map_err(|_| BackplaneError::TimedOut(PUBLISH_TIMEOUT))?
                .map_err(BackplaneError::from),
        }
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        match self {
            Backplane::Alone => Ok(1),
            Backplane::Redis(d) => tokio::time::timeout(PUBLISH_TIMEOUT, d.num_serv(chan))
                .await
                .map_err(|_| BackplaneError::TimedOut(PUBLISH_TIMEOUT))?
                .map_err(BackplaneError::from),
        }
    }
}

/// The URL as it may be shown: without a password.
pub fn display_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => raw.to_owned(),
    }
}

/// Checks a `redis://HOST:PORT[/DB]` URL and returns it with RESP3 asked for (the
/// adapter's driver needs RESP3 push messages, Redis 6 and later).
pub fn resp3_url(raw: &str) -> Result<String> {
    let bad = |reason: &str| Error::Cluster {
        url: display_url(raw),
        reason: reason.to_owned(),
    };
    let u = url::Url::parse(raw).map_err(|e| bad(&format!("not a URL ({e})")))?;
    if u.scheme() != "redis" {
        return Err(bad("expected redis://HOST:PORT[/DB]"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL names no host"));
    }
    let db = u.path().trim_start_matches('/');
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(bad("the path must be a database number"));
    }
    let mut u = u;
    let others: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "protocol")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(others)
        .append_pair("protocol", "resp3");
    Ok(u.to_string())
}

/// A live link to the cluster's Redis.
pub(crate) struct Link {
    url: String,
    lost: Mutex<Option<String>>,
    /// For the few facts the nodes share besides the adapter's traffic (see
    /// [`Link::claim`]).
    conn: redis::aio::MultiplexedConnection,
}

impl Link {
    /// Connects to Redis (the adapter's driver and a second connection to watch
    /// the link) or fails with one line naming the URL.
    pub(crate) async fn connect(raw: &str) -> Result<(Arc<Link>, RedisDriver, WatchConn)> {
        let shown = display_url(raw);
        let failed = |reason: String| Error::Cluster {
            url: shown.clone(),
            reason,
        };
        let client = redis::Client::open(resp3_url(raw)?).map_err(|e| failed(e.to_string()))?;
        let driver = tokio::time::timeout(CONNECT_TIMEOUT, RedisDriver::new(&client))
            .await
            .map_err(|_| failed(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| failed(e.to_string()))?;
        let watch =
            tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
                .await
                .map_err(|_| failed(format!("no answer within {CONNECT_TIMEOUT:?}")))?
                .map_err(|e| failed(e.to_string()))?;
        let link = Arc::new(Link {
            url: shown,
            lost: Mutex::new(None),
            conn: watch.clone(),
        });
        Ok((link, driver, WatchConn(watch)))
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Sets `key` to `value` unless some node set it first; returns the value that
    /// holds (a first-come claim shared by every node, e.g. an entity's owner).
    pub(crate) async fn claim(&self, key: &str, value: &str) -> Result<String, String> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value).arg("NX").arg("GET");
        let before = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            cmd.query_async::<Option<String>>(&mut conn),
        )
        .await
        .map_err(|_| format!("no answer within {PUBLISH_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())?;
        Ok(before.unwrap_or_else(|| value.to_owned()))
    }

    /// Why Redis is gone, once it is.
    pub(crate) fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }

    /// Marks Redis as gone (the first time only): says so on the bus and in the log.
    pub(crate) fn mark_lost(&self, bus: &Bus, node: &str, why: &str) {
        let Ok(mut lost) = self.lost.lock() else {
            return;
        };
        if lost.is_some() {
            return;
        }
        *lost = Some(why.to_owned());
        drop(lost);
        tracing::error!(url = %self.url, node, reason = why, "redis lost: this node now serves only its own sockets");
        bus.publish(bus::record(
            crate::SOURCE,
            Direction::S2c,
            "/",
            REDIS_LOST_EVENT,
            json!([{ "url": self.url, "node": node, "reason": why }]),
        ));
    }

    /// Checks the link until it is lost (or the returned task is aborted).
    pub(crate) fn watch(
        self: &Arc<Self>,
        conn: WatchConn,
        bus: Bus,
        node: String,
    ) -> tokio::task::JoinHandle<()> {
        let link = self.clone();
        let WatchConn(mut conn) = conn;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PING_EVERY).await;
                let cmd = redis::cmd("PING");
                let ping = cmd.query_async::<String>(&mut conn);
                let why = match tokio::time::timeout(PING_TIMEOUT, ping).await {
                    Ok(Ok(_)) => continue,
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no answer to PING within {PING_TIMEOUT:?}"),
                };
                link.mark_lost(&bus, &node, &why);
                return;
            }
        })
    }
}

/// The connection that watches the link.
pub(crate) struct WatchConn(redis::aio::MultiplexedConnection);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_resp3_and_bad_ones_are_named() {
        assert_eq!(
            resp3_url("redis://127.0.0.1:6379").unwrap(),
            "redis://127.0.0.1:6379?protocol=resp3"
        );
        assert_eq!(
            resp3_url("redis://h:1/2?protocol=resp2").unwrap(),
            "redis://h:1/2?protocol=resp3"
        );
        for bad in ["http://h:1", "redis://h:1/x", "nope", "redis:///0"] {
            let e = resp3_url(bad).unwrap_err().to_string();
            assert!(e.contains("cannot join the cluster"), "{bad}: {e}");
        }
    }

    #[test]
    fn passwords_are_not_shown() {
        let shown = display_url("redis://:hunter2@h:1/0");
        assert!(!shown.contains("hunter2"), "{shown}");
        let e = resp3_url("http://:hunter2@h:1").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_naming_the_url() {
        // A port nobody listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let url = format!("redis://127.0.0.1:{port}");
        let e = Link::connect(&url).await.err().unwrap().to_string();
        assert!(e.contains(&url), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
