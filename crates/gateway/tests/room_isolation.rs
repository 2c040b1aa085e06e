//! The room rule of `gateway/rooms.rs` as a property: whatever name a client sends,
//! in any profile, the rooms it can join are never another tenant's rooms and never a
//! room the gateway keeps for another user.

use proptest::prelude::*;
use sockscope_gateway::auth::Principal;
use sockscope_gateway::profiles::{client_rooms, personal_rooms};
use sockscope_protocol::Profile;

fn profile() -> impl Strategy<Value = Profile> {
    proptest::sample::select(Profile::ALL.to_vec())
}

/// Tenants valid in every profile (steedos spaces are `[A-Za-z0-9_]+`), or none.
fn tenant() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[ab_]{1,2}")
}

/// Users are whatever a verified claim says: any text, separators included.
fn user() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        "[ab]{1,2}",
        ".{0,8}",
        Just("alice".to_owned()),
        Just("bob".to_owned()),
    ])
}

fn principal() -> impl Strategy<Value = Principal> {
    (tenant(), user()).prop_map(|(tenant, user)| Principal {
        anonymous: user.is_none(),
        verified: true,
        user,
        tenant,
        data: Default::default(),
    })
}

/// Room names a hostile client would try: free text and forgeries of every shape
/// the gateway builds.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        // A tiny alphabet, so that names, parts, users and tenants collide often.
        "[ab:@\\-]{0,6}",
        (tenant(), user(), ".{0,6}").prop_map(|(t, u, x)| {
            let t = t.unwrap_or_default();
            let u = u.unwrap_or_default();
            [
                format!("user:{u}"),
                format!("tenant:{t}:user:{u}"),
                format!("tenant:{t}:room:{x}"),
                format!("{x}-{u}"),
                format!("{t}-{x}@{u}"),
                format!("{x}@{u}"),
                format!("public:user:{u}"),
            ]
            .join("")
        }),
        Just("notification-change-alice".to_owned()),
        Just("user:bob".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn no_client_named_room_crosses_tenants_or_users(
        profile in profile(),
        a in principal(),
        b in principal(),
        name_a in name(),
        name_b in name(),
        part in prop_oneof!["[ab\\-]{0,3}", name()],
    ) {
        // What a's client sends: an arbitrary name, and forgeries aimed at b.
        let ub = b.user.clone().unwrap_or_default();
        let tb = b.tenant.clone().unwrap_or_default();
        let tries = [
            name_a.clone(),
            format!("{part}-{ub}"),
            format!("{part}@{ub}"),
            format!("user:{ub}"),
            format!("tenant:{tb}:user:{ub}"),
            format!("tenant:{tb}:room:{name_b}"),
            format!("{tb}-{name_b}"),
        ];
        let rooms_a: Vec<String> = tries
            .iter()
            .flat_map(|n| client_rooms(profile, &a, n))
            .collect();
        // Another tenant's rooms are never reachable, whatever either side names.
        if a.tenant != b.tenant {
            let rooms_b = client_rooms(profile, &b, &name_b);
            for r in &rooms_a {
                prop_assert!(!rooms_b.contains(r), "{profile}: {r:?} shared by tenants {:?} and {:?}", a.tenant, b.tenant);
            }
        }
        // Another user's personal rooms are never reachable, in any tenant.
        if a.user != b.user || a.tenant != b.tenant {
            let personal = personal_rooms(profile, &b, &part);
            for r in &rooms_a {
                prop_assert!(!personal.contains(r), "{profile}: {:?} reaches {:?}'s room {r:?}", a.user, b.user);
            }
        }
        // Nor one's own user room by naming it: those are the gateway's.
        let own = personal_rooms(profile, &a, &part);
        if let Some(user_room) = own.first() {
            prop_assert!(!rooms_a.contains(user_room), "{profile}: named its way into {user_room:?}");
        }
    }
}

/// Positive control: the property would see a collision if one existed. The same
/// principal naming the same room gets the same room, and the holes of the first
/// version are exactly the kind of equality the property looks for.
#[test]
fn the_property_can_see_a_shared_room() {
    let p = Principal {
        user: Some("u".into()),
        tenant: Some("acme".into()),
        anonymous: false,
        verified: true,
        data: Default::default(),
    };
    for profile in Profile::ALL {
        let a = client_rooms(profile, &p, "orders");
        let b = client_rooms(profile, &p, "orders");
        assert!(!a.is_empty(), "{profile} gives no room for a plain name");
        assert_eq!(a, b);
    }
    // A second socket of the same tenant shares the client room: rooms are per
    // tenant, not per socket.
    let q = Principal {
        user: Some("v".into()),
        ..p.clone()
    };
    assert_eq!(
        client_rooms(Profile::Generic, &p, "orders"),
        client_rooms(Profile::Generic, &q, "orders")
    );
}
