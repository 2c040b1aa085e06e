//! Filtered, paged inspection (`GET /inspect/sockets`, `GET /inspect/counts`): the
//! gateway selects and counts the sockets, so a client watching 100,000 sockets
//! receives one page and a few numbers instead of the whole snapshot.
//!
//! Pages follow the order (namespace, socket id); a cursor names the last socket of
//! the previous page, so a socket that connects or leaves between two pages does not
//! shift the others (each socket present throughout is listed exactly once).

use std::collections::BTreeMap;

use sockscope_protocol::{
    InspectCounts, InspectPage, InspectQuery, InspectSnapshot, PagedSocket, SocketInfo,
};

/// Sockets in a page when the query names no limit.
pub const DEFAULT_LIMIT: usize = 100;
/// The most sockets one page holds, whatever the query asks.
pub const MAX_LIMIT: usize = 1000;
/// Rooms listed per namespace in counts (the largest ones).
pub const MAX_ROOM_COUNTS: usize = 500;
/// The most `data.KEY` filters one query may hold.
const MAX_DATA_FILTERS: usize = 16;

/// A query parameter the gateway cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("unknown inspect parameter {0:?} (known: namespace, id, room, tenant, user, transport, data.KEY, limit, cursor, counts)")]
    UnknownParameter(String),
    #[error("parameter {0:?} is given twice")]
    Repeated(String),
    #[error("invalid limit {0:?}: expected a whole number from 0 to {MAX_LIMIT}")]
    BadLimit(String),
    #[error("invalid cursor {0:?}: pass the next_cursor of a previous page")]
    BadCursor(String),
    #[error("invalid counts {0:?}: expected true or false")]
    BadFlag(String),
    #[error("too many data filters (at most {MAX_DATA_FILTERS})")]
    TooManyDataFilters,
}

impl QueryError {
    pub fn code(&self) -> &'static str {
        match self {
            QueryError::UnknownParameter(_) => "unknown_parameter",
            QueryError::Repeated(_) => "repeated_parameter",
            QueryError::BadLimit(_) => "bad_limit",
            QueryError::BadCursor(_) => "bad_cursor",
            QueryError::BadFlag(_) => "bad_flag",
            QueryError::TooManyDataFilters => "too_many_filters",
        }
    }
}

/// The query that URL parameters `pairs` describe.
pub fn parse(pairs: &[(String, String)]) -> Result<InspectQuery, QueryError> {
    let mut q = InspectQuery::default();
    for (key, value) in pairs {
        let slot = match key.as_str() {
            "namespace" => &mut q.namespace,
            "id" => &mut q.id,
            "room" => &mut q.room,
            "tenant" => &mut q.tenant,
            "user" => &mut q.user,
            "transport" => &mut q.transport,
            "cursor" => {
                if cursor_key(value).is_none() {
                    return Err(QueryError::BadCursor(value.clone()));
                }
                &mut q.cursor
            }
            "limit" => {
                let limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|l| *l <= MAX_LIMIT)
                    .ok_or_else(|| QueryError::BadLimit(value.clone()))?;
                if q.limit.replace(limit).is_some() {
                    return Err(QueryError::Repeated(key.clone()));
                }
                continue;
            }
            "counts" => {
                q.counts = match value.as_str() {
                    "" | "1" | "true" => true,
                    "0" | "false" => false,
                    _ => return Err(QueryError::BadFlag(value.clone())),
                };
                continue;
            }
            other => match other.strip_prefix("data.") {
                Some(field) if !field.is_empty() => {
                    if q.data.insert(field.to_owned(), value.clone()).is_some() {
                        return Err(QueryError::Repeated(key.clone()));
                    }
                    if q.data.len() > MAX_DATA_FILTERS {
                        return Err(QueryError::TooManyDataFilters);
                    }
                    continue;
                }
                _ => return Err(QueryError::UnknownParameter(key.clone())),
            },
        };
        if slot.replace(value.clone()).is_some() {
            return Err(QueryError::Repeated(key.clone()));
        }
    }
    Ok(q)
}

/// Whether socket `s` of namespace `ns` passes every filter of `q`.
pub fn matches(q: &InspectQuery, ns: &str, s: &SocketInfo) -> bool {
    let is =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
    is(&q.namespace, Some(ns))
        && q.id.as_deref().is_none_or(|p| s.id.starts_with(p))
        && q.room
            .as_deref()
            .is_none_or(|r| s.rooms.iter().any(|x| x == r))
        && is(&q.tenant, s.tenant.as_deref())
        && is(&q.user, s.user.as_deref())
        && is(&q.transport, Some(s.transport.as_str()))
        && q.data.iter().all(|(k, v)| s.data.get(k) == Some(v))
}

/// The matching sockets of `snap` in page order, each with its namespace.
fn matching<'a>(
    snap: &'a InspectSnapshot,
    q: &'a InspectQuery,
) -> impl Iterator<Item = (&'a str, &'a SocketInfo)> + 'a {
    let mut namespaces: Vec<_> = snap.namespaces.iter().collect();
    namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    namespaces.into_iter().flat_map(move |ns| {
        let mut sockets: Vec<&SocketInfo> = ns
            .sockets
            .iter()
            .filter(|s| matches(q, &ns.name, s))
            .collect();
        sockets.sort_by(|a, b| a.id.cmp(&b.id));
        sockets.into_iter().map(move |s| (ns.name.as_str(), s))
    })
}

/// The cursor naming socket `id` of namespace `ns`. Namespaces hold no whitespace,
/// so a space separates the two.
fn cursor_of(ns: &str, id: &str) -> String {
    format!("{ns} {id}")
}

fn cursor_key(cursor: &str) -> Option<(&str, &str)> {
    cursor
        .split_once(' ')
        .filter(|(ns, id)| ns.starts_with('/') && !id.is_empty())
}

/// One page of the sockets of `snap` that match `q`, after `q.cursor`, with the
/// total and (when asked) the counts.
pub fn page(snap: &InspectSnapshot, q: &InspectQuery) -> Result<InspectPage, QueryError> {
    let after = match &q.cursor {
        Some(c) => Some(cursor_key(c).ok_or_else(|| QueryError::BadCursor(c.clone()))?),
        None => None,
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let mut total = 0;
    let mut sockets = Vec::new();
    let mut more = false;
    for (ns, s) in matching(snap, q) {
        total += 1;
        if after.is_some_and(|a| (ns, s.id.as_str()) <= a) {
            continue;
        }
        if sockets.len() < limit {
            sockets.push(PagedSocket {
                namespace: ns.to_owned(),
                socket: s.clone(),
            });
        } else {
            more = true;
        }
    }
    let next_cursor = match sockets.last() {
        Some(last) if more => Some(cursor_of(&last.namespace, &last.socket.id)),
        _ => None,
    };
    Ok(InspectPage {
        total,
        sockets,
        next_cursor,
        counts: q.counts.then(|| counts(snap, q)),
        node: snap.node.clone(),
    })
}

/// How many sockets of `snap` match `q` (its cursor and limit aside), per namespace,
/// room and tenant.
pub fn counts(snap: &InspectSnapshot, q: &InspectQuery) -> InspectCounts {
    let mut out = InspectCounts::default();
    let mut rooms: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (ns, s) in matching(snap, q) {
        out.sockets += 1;
        out.namespaces.entry(ns.to_owned()).or_default().sockets += 1;
        let per_room = rooms.entry(ns).or_default();
        for r in &s.rooms {
            *per_room.entry(r.as_str()).or_default() += 1;
        }
        match &s.tenant {
            Some(t) => *out.tenants.entry(t.clone()).or_default() += 1,
            None => out.no_tenant += 1,
        }
    }
    for (ns, per_room) in rooms {
        let Some(c) = out.namespaces.get_mut(ns) else {
            continue;
        };
        c.rooms_total = per_room.len();
        c.rooms = largest(per_room, MAX_ROOM_COUNTS);
    }
    out
}

/// The `n` largest entries of `counts` (ties by name).
fn largest(counts: BTreeMap<&str, usize>, n: usize) -> BTreeMap<String, usize> {
    if counts.len() <= n {
        return counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.truncate(n);
    v.into_iter().map(|(k, c)| (k.to_owned(), c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockscope_protocol::NamespaceInfo;
    use std::collections::BTreeSet;

    fn sock(
        id: &str,
        tenant: Option<&str>,
        user: &str,
        rooms: &[&str],
        transport: &str,
        role: &str,
    ) -> SocketInfo {
        SocketInfo {
            id: id.into(),
            user: Some(user.into()),
            tenant: tenant.map(Into::into),
            rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
            transport: transport.into(),
            connected_at: 0,
            events_in: 0,
            events_out: 0,
            node: None,
            data: [("role".to_owned(), role.to_owned())].into(),
        }
    }

    /// 250 sockets over two namespaces: tenants a/b/none, users u0..u9, rooms r0..r2,
    /// every fifth an admin, every third on polling.
    fn snapshot() -> InspectSnapshot {
        let mut namespaces = Vec::new();
        for (n, name) in ["/b", "/"].iter().enumerate() {
            let mut sockets = Vec::new();
            for i in 0..125 {
                let tenant = [Some("a"), Some("b"), None][i % 3];
                let room = format!("r{}", i % 3 + n);
                sockets.push(sock(
                    &format!("s{i:04}x{n}"),
                    tenant,
                    &format!("u{}", i % 10),
                    &[room.as_str()],
                    if i % 3 == 0 { "polling" } else { "websocket" },
                    if i % 5 == 0 { "admin" } else { "viewer" },
                ));
            }
            sockets.reverse();
            namespaces.push(NamespaceInfo {
                name: (*name).to_owned(),
                rooms: Vec::new(),
                sockets,
            });
        }
        InspectSnapshot {
            namespaces,
            ..InspectSnapshot::default()
        }
    }

    /// Which sockets (namespace, socket) a filter should keep.
    type Want = fn(&str, &SocketInfo) -> bool;

    fn q(pairs: &[(&str, &str)]) -> InspectQuery {
        let pairs: Vec<_> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        parse(&pairs).expect("valid query")
    }

    /// Every page of `query`, concatenated.
    fn all_pages(snap: &InspectSnapshot, mut query: InspectQuery) -> Vec<(String, String)> {
        let mut out = Vec::new();
        loop {
            let p = page(snap, &query).expect("page");
            assert!(p.sockets.len() <= query.limit.unwrap_or(DEFAULT_LIMIT));
            out.extend(p.sockets.into_iter().map(|s| (s.namespace, s.socket.id)));
            match p.next_cursor {
                Some(c) => query.cursor = Some(c),
                None => return out,
            }
        }
    }

    #[test]
    fn each_filter_selects_exactly_the_matching_sockets() {
        let snap = snapshot();
        let everyone = page(&snap, &q(&[("limit", "1000")])).unwrap();
        assert_eq!(everyone.total, 250);
        let cases: &[(&[(&str, &str)], Want)] = &[
            (&[("namespace", "/b")], |ns, _| ns == "/b"),
            (&[("id", "s001")], |_, s| s.id.starts_with("s001")),
            (&[("room", "r1")], |_, s| s.rooms.contains(&"r1".to_owned())),
            (&[("tenant", "a")], |_, s| s.tenant.as_deref() == Some("a")),
            (&[("user", "u3")], |_, s| s.user.as_deref() == Some("u3")),
            (&[("transport", "polling")], |_, s| s.transport == "polling"),
            (&[("data.role", "admin")], |_, s| s.data["role"] == "admin"),
            (
                &[("tenant", "b"), ("data.role", "admin"), ("namespace", "/")],
                |ns, s| ns == "/" && s.tenant.as_deref() == Some("b") && s.data["role"] == "admin",
            ),
        ];
        for (pairs, want) in cases {
            let mut query = q(pairs);
            query.limit = Some(1000);
            let got: BTreeSet<_> = page(&snap, &query)
                .unwrap()
                .sockets
                .into_iter()
                .map(|s| (s.namespace, s.socket.id))
                .collect();
            let expected: BTreeSet<_> = everyone
                .sockets
                .iter()
                .filter(|s| want(&s.namespace, &s.socket))
                .map(|s| (s.namespace.clone(), s.socket.id.clone()))
                .collect();
            // Control: the filter leaves some sockets out and keeps some.
            assert!(!expected.is_empty() && expected.len() < 250, "{pairs:?}");
            assert_eq!(got, expected, "{pairs:?}");
        }
        assert_eq!(page(&snap, &q(&[("user", "nobody")])).unwrap().total, 0);
    }

    #[test]
    fn pages_cover_every_socket_once_in_order() {
        let snap = snapshot();
        for limit in ["1", "7", "100", "250", "1000"] {
            let got = all_pages(&snap, q(&[("limit", limit)]));
            assert_eq!(got.len(), 250, "limit {limit}");
            let mut sorted = got.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(got, sorted, "limit {limit}: pages in order, no repeats");
        }
        let admins = all_pages(&snap, q(&[("data.role", "admin"), ("limit", "3")]));
        assert_eq!(admins.len(), 50);
        // limit 0 answers the total alone.
        let p = page(&snap, &q(&[("limit", "0")])).unwrap();
        assert_eq!((p.total, p.sockets.len()), (250, 0));
    }

    #[test]
    fn counts_are_the_real_numbers() {
        let snap = snapshot();
        let c = counts(&snap, &InspectQuery::default());
        assert_eq!(c.sockets, 250);
        assert_eq!(c.namespaces["/"].sockets, 125);
        assert_eq!(c.namespaces["/b"].sockets, 125);
        assert_eq!(c.namespaces["/"].rooms["r1"], 42);
        assert_eq!(c.namespaces["/b"].rooms["r0"], 42);
        assert_eq!(c.namespaces["/b"].rooms_total, 3);
        assert_eq!(c.tenants["a"] + c.tenants["b"] + c.no_tenant, 250);
        assert_eq!(c.tenants["a"], 84);
        let f = counts(&snap, &q(&[("tenant", "a")]));
        assert_eq!((f.sockets, f.no_tenant, f.tenants.len()), (84, 0, 1));
    }

    #[test]
    fn bad_parameters_are_refused() {
        let bad = |k: &str, v: &str| parse(&[(k.to_owned(), v.to_owned())]).unwrap_err();
        assert!(matches!(bad("limit", "-1"), QueryError::BadLimit(_)));
        assert!(matches!(bad("limit", "1001"), QueryError::BadLimit(_)));
        assert!(matches!(bad("cursor", "nope"), QueryError::BadCursor(_)));
        assert!(matches!(
            bad("colour", "red"),
            QueryError::UnknownParameter(_)
        ));
        assert!(matches!(bad("data.", "x"), QueryError::UnknownParameter(_)));
        let twice = [
            ("room".to_owned(), "a".to_owned()),
            ("room".to_owned(), "b".to_owned()),
        ];
        assert!(matches!(parse(&twice), Err(QueryError::Repeated(_))));
        // Control: the same values are accepted where they are valid.
        assert!(parse(&[
            ("limit".into(), "1000".into()),
            ("cursor".into(), "/ abc".into())
        ])
        .is_ok());
    }

    #[test]
    fn the_query_round_trips_through_its_pairs() {
        let query = q(&[
            ("tenant", "a"),
            ("data.role", "admin"),
            ("limit", "5"),
            ("counts", "true"),
        ]);
        assert_eq!(parse(&query.to_pairs()).unwrap(), query);
    }
}
