//! Room names, and the rule that keeps them unforgeable.
//!
//! Clients name rooms freely (`subscribe {room: "orders"}`, a jet-admin `runId`, a gxp
//! channel), but what they name must never turn out to be a room the gateway keeps for
//! one user, a room of another tenant, or a room the gateway uses internally. Every
//! room of the Socket.IO profiles is therefore built here, as
//!
//! ```text
//! {scope}:{kind}:{name}      scope = "tenant:{tenantId}" | "public"
//! ```
//!
//! - the **scope** comes from the socket's principal, never from the client's words,
//!   and a tenant id may not contain `:`, so the scope ends at a known place;
//! - the **kind** is one of [`Kind`]'s fixed words, chosen by the handler, never by
//!   the client: a client-named room is always [`Kind::Room`] (or another kind a
//!   handler picks for a client-supplied id), while a user's personal room is
//!   [`Kind::User`], which no handler builds from a client-supplied name;
//! - only the **name** comes from the client; it is last, so whatever it contains
//!   (colons included) cannot change the scope or the kind before it.
//!
//! Two names are equal only if scope, kind and name are all equal; the property test
//! in `tests/room_isolation.rs` checks this over arbitrary names.
//!
//! The steedos profile keeps the seed's own shapes (`{space}-{part}` shared,
//! `{space}-{part}@{user}` individual); its rule is in `profiles/steedos.rs`.

use crate::{Error, Result};

/// Prefix of the scope of rooms that belong to a tenant: `tenant:{id}`.
const TENANT_PREFIX: &str = "tenant:";
/// Scope of rooms of sockets without a tenant.
const PUBLIC_SCOPE: &str = "public";

/// What a room is for. The word is fixed by the handler that builds the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A room a client named (`subscribe {room}`, `POST /emit {room, tenant}`).
    Room,
    /// One user's personal room (`POST /notify-users`). Never client-named.
    User,
    /// A gxp channel (`subscribe {channel}`, template sends).
    Channel,
    /// gxp: sockets that subscribed to no channel and so receive every one.
    AllChannels,
    /// analytics: one entity's metric stream.
    Entity,
    /// analytics: every socket of a tenant on the dashboard-updates namespace.
    Dashboards,
    /// jet-admin: a workflow run's log.
    Run,
    /// jet-admin: a widget's workflow.
    Widget,
    /// jet-admin: an AI chat room.
    Chat,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Room,
        Kind::User,
        Kind::Channel,
        Kind::AllChannels,
        Kind::Entity,
        Kind::Dashboards,
        Kind::Run,
        Kind::Widget,
        Kind::Chat,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Kind::Room => "room",
            Kind::User => "user",
            Kind::Channel => "channel",
            Kind::AllChannels => "all-channels",
            Kind::Entity => "entity",
            Kind::Dashboards => "dashboards",
            Kind::Run => "run",
            Kind::Widget => "widget",
            Kind::Chat => "chat",
        }
    }

    fn from_word(word: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.word() == word)
    }
}

/// Rejects tenant ids that could forge another tenant's room name.
pub fn check_tenant(tenant: &str) -> Result<()> {
    if tenant.is_empty() || tenant.contains(':') {
        return Err(Error::BadTenant(tenant.to_owned()));
    }
    Ok(())
}

/// The real name of room `name` of `kind` in `tenant`'s scope (public without one).
pub fn named(tenant: Option<&str>, kind: Kind, name: &str) -> String {
    let kind = kind.word();
    match tenant {
        Some(t) => format!("{TENANT_PREFIX}{t}:{kind}:{name}"),
        None => format!("{PUBLIC_SCOPE}:{kind}:{name}"),
    }
}

/// The real name of a room a client asked for by name.
pub fn client_room(tenant: Option<&str>, name: &str) -> String {
    named(tenant, Kind::Room, name)
}

/// The room every socket of `user` joins on connect, for user-targeted notifications.
pub fn user_room(tenant: Option<&str>, user: &str) -> String {
    named(tenant, Kind::User, user)
}

/// A room name taken apart: `(tenant, kind, name)`, or `None` for a name this module
/// did not build.
pub fn parse(real: &str) -> Option<(Option<&str>, Kind, &str)> {
    let (tenant, rest) = match real.strip_prefix(TENANT_PREFIX) {
        Some(rest) => {
            let (t, rest) = rest.split_once(':')?;
            (Some(t), rest)
        }
        None => (None, real.strip_prefix(PUBLIC_SCOPE)?.strip_prefix(':')?),
    };
    let (kind, name) = rest.split_once(':')?;
    Some((tenant, Kind::from_word(kind)?, name))
}

/// A room name as recorded by an older Sockscope (before kinds: `tenant:{t}:{room}`,
/// `public:{room}`, `tenant:{t}:dashboards`), in today's form; any other name is
/// returned as it is. Server-side replay uses this so old recordings still reach
/// the rooms their events were meant for.
pub fn upgrade_recorded(room: &str) -> String {
    if parse(room).is_some() {
        return room.to_owned();
    }
    let (tenant, rest) = match room.strip_prefix(TENANT_PREFIX) {
        Some(rest) => match rest.split_once(':') {
            Some((t, rest)) => (Some(t), rest),
            None => return room.to_owned(),
        },
        None => match room
            .strip_prefix(PUBLIC_SCOPE)
            .and_then(|r| r.strip_prefix(':'))
        {
            Some(rest) => (None, rest),
            None => return room.to_owned(),
        },
    };
    match Kind::from_word(rest) {
        Some(kind) => named(tenant, kind, ""),
        None => client_room(tenant, rest),
    }
}

/// A user's individual room, `{space}-{part}@{user}`. The seed writes
/// `{part}-{userId}`, which a shared subscribe to `notification-change-alice` could
/// name; `@` is refused in client parts, so the first `@` of a room name always
/// separates a part from the user it belongs to, and no shared room has one.
pub fn individual_room(tenant: &str, part: &str, user: &str) -> String {
    format!("{tenant}-{part}@{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_never_share_a_room() {
        assert_ne!(client_room(Some("a"), "x"), client_room(Some("b"), "x"));
        assert_ne!(client_room(None, "x"), client_room(Some("a"), "x"));
        // A public client cannot name its way into a tenant room.
        assert_ne!(
            client_room(None, "tenant:a:room:x"),
            client_room(Some("a"), "x")
        );
        assert!(check_tenant("a:b").is_err());
        assert!(check_tenant("").is_err());
        assert!(check_tenant("acme").is_ok());
    }

    #[test]
    fn a_client_named_room_is_never_a_user_room() {
        // The hole of the first version: `subscribe {room: "user:bob"}`.
        assert_ne!(
            client_room(Some("t"), "user:bob"),
            user_room(Some("t"), "bob")
        );
        assert_ne!(client_room(None, "user:bob"), user_room(None, "bob"));
    }

    #[test]
    fn parse_inverts_named() {
        for kind in Kind::ALL {
            for tenant in [None, Some("acme")] {
                for name in ["", "x", "a:b:c", "tenant:z:user:q"] {
                    let real = named(tenant, kind, name);
                    assert_eq!(parse(&real), Some((tenant, kind, name)), "{real}");
                }
            }
        }
        assert_eq!(parse("acme-orders"), None);
        assert_eq!(parse("public:nope:x"), None);
    }

    #[test]
    fn older_recordings_upgrade_to_todays_names() {
        assert_eq!(
            upgrade_recorded("tenant:acme:orders"),
            "tenant:acme:room:orders"
        );
        assert_eq!(
            upgrade_recorded("tenant:a:globex:orders"),
            "tenant:a:room:globex:orders"
        );
        assert_eq!(upgrade_recorded("public:orders"), "public:room:orders");
        assert_eq!(
            upgrade_recorded("tenant:acme:dashboards"),
            "tenant:acme:dashboards:"
        );
        assert_eq!(
            upgrade_recorded("tenant:acme:entity:e1"),
            "tenant:acme:entity:e1"
        );
        assert_eq!(upgrade_recorded("tenant:acme:room:x"), "tenant:acme:room:x");
        assert_eq!(upgrade_recorded("acme-orders"), "acme-orders");
    }
}
