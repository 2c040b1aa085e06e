//! Tenant-scoped room names.
//!
//! Clients name rooms freely (`subscribe {room: "orders"}`), but two tenants asking
//! for "orders" must never share it. Every room a client touches is therefore
//! rewritten here into a name that carries the tenant, and a tenant id may not contain
//! the separator, so no client-chosen name can collide with another tenant's room.

use crate::{Error, Result};

/// Prefix of rooms that belong to a tenant: `tenant:{id}:{room}`.
const TENANT_PREFIX: &str = "tenant:";
/// Prefix of rooms used by sockets without a tenant: `public:{room}`.
const PUBLIC_PREFIX: &str = "public:";

/// Rejects tenant ids that could forge another tenant's room name.
pub fn check_tenant(tenant: &str) -> Result<()> {
    if tenant.is_empty() || tenant.contains(':') {
        return Err(Error::BadTenant(tenant.to_owned()));
    }
    Ok(())
}

/// The real room name for `room` as asked for by a socket of `tenant`.
pub fn scoped(tenant: Option<&str>, room: &str) -> String {
    match tenant {
        Some(t) => format!("{TENANT_PREFIX}{t}:{room}"),
        None => format!("{PUBLIC_PREFIX}{room}"),
    }
}

/// The room every socket of `user` joins on connect, for user-targeted notifications.
pub fn user_room(tenant: Option<&str>, user: &str) -> String {
    scoped(tenant, &format!("user:{user}"))
}

/// The room a client asked for, from a real room name, if that room is visible to
/// `tenant`.
pub fn unscoped<'a>(tenant: Option<&str>, real: &'a str) -> Option<&'a str> {
    match tenant {
        Some(t) => real
            .strip_prefix(TENANT_PREFIX)?
            .strip_prefix(t)?
            .strip_prefix(':'),
        None => real.strip_prefix(PUBLIC_PREFIX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_never_share_a_room() {
        assert_ne!(scoped(Some("a"), "orders"), scoped(Some("b"), "orders"));
        assert_ne!(scoped(None, "orders"), scoped(Some("a"), "orders"));
        // A public client cannot name its way into a tenant room.
        assert_ne!(scoped(None, "tenant:a:orders"), scoped(Some("a"), "orders"));
        // "a" + "b:x" would equal "a:b" + "x": that is why such tenant ids are refused.
        assert_eq!(scoped(Some("a"), "b:x"), scoped(Some("a:b"), "x"));
        assert!(check_tenant("a:b").is_err());
        assert!(check_tenant("").is_err());
        assert!(check_tenant("acme").is_ok());
    }

    #[test]
    fn unscoped_inverts_scoped_for_the_same_tenant_only() {
        let real = scoped(Some("a"), "orders");
        assert_eq!(unscoped(Some("a"), &real), Some("orders"));
        assert_eq!(unscoped(Some("b"), &real), None);
        assert_eq!(unscoped(None, &real), None);
        assert_eq!(unscoped(None, &scoped(None, "x")), Some("x"));
    }
}
