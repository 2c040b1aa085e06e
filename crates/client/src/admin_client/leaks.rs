//! Watch an admin stream for payload leaks, and audit an admin-instrumented gateway's
//! tenants: `sockscope admin URL audit --listen`, `sockscope audit tenants --admin`
//! and the app's connected admin source all look at the events the gateway relays
//! (development mode) for one sent to a socket of one tenant whose payload names
//! another, through [`watch_payload_leaks`]. It lives with the admin client because
//! the app's admin source (`inspector`) runs it too; the engine's `usecase` module
//! re-exports it as the use case both front ends call.

use std::future::Future;

use sockscope_protocol::{Direction, EventRecord};
use tokio::sync::broadcast::{self, error::RecvError};

use super::tenants::{self, Finding, RoomPattern, TenantReport};
use super::AdminClient;

/// What the watcher tells its caller.
#[derive(Debug)]
pub enum LeakNote {
    /// A new finding (each is reported once).
    Leak(Finding),
    /// The watcher fell this many events behind the stream and skipped them.
    Lagged(u64),
}

/// The tenant of socket `id` of `ns`, as `client` last saw its `socket.data`.
pub fn socket_tenant(client: &AdminClient, ns: &str, id: &str, keys: &[String]) -> Option<String> {
    client
        .socket(ns, id)
        .and_then(|s| tenants::data_tenant(&s.data, keys))
}

/// Watches `events` (the bus an admin client relays to) until `until` resolves or
/// the bus closes. For every server-to-client event of an admin source, the
/// receiving socket's tenant comes from `tenant_of(namespace, socket)`; a payload
/// that names another tenant (under `keys`) is a finding, told once to `note`.
pub async fn watch_payload_leaks(
    mut events: broadcast::Receiver<EventRecord>,
    keys: &[String],
    tenant_of: impl Fn(&str, &str) -> Option<String>,
    until: impl Future<Output = ()>,
    mut note: impl FnMut(LeakNote),
) {
    let mut found: Vec<Finding> = Vec::new();
    tokio::pin!(until);
    loop {
        let rec = tokio::select! {
            () = &mut until => return,
            next = events.recv() => match next {
                Ok(rec) => rec,
                Err(RecvError::Lagged(n)) => {
                    note(LeakNote::Lagged(n));
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
        };
        if rec.direction != Direction::S2c || !rec.source.starts_with("admin:") {
            continue;
        }
        let Some(id) = rec.socket_id.as_deref() else {
            continue;
        };
        let Some(own) = tenant_of(&rec.namespace, id) else {
            continue;
        };
        if let Some(f) =
            tenants::payload_leak(&rec.namespace, id, &own, &rec.event, &rec.args, keys)
        {
            if !found.contains(&f) {
                tracing::warn!(finding = %f.line(), "tenant payload leak");
                found.push(f.clone());
                note(LeakNote::Leak(f));
            }
        }
    }
}

/// The tenant audit of what `client` sees now: sockets grouped by tenant (admin
/// sessions, ours included, belong to none), cross-tenant rooms, plus `leaks` found
/// by [`watch_payload_leaks`].
pub fn audit_admin(
    client: &AdminClient,
    keys: &[String],
    pattern: Option<&RoomPattern>,
    leaks: Vec<Finding>,
) -> TenantReport {
    let mut snap = client.snapshot();
    snap.sockets
        .retain(|s| s.namespace != client.admin_namespace());
    let mut report = tenants::audit(&snap, keys, pattern);
    report.findings.extend(leaks);
    report
}
