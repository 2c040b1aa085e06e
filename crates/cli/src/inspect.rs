//! `sockscope inspect`: who is connected to a running gateway, as a tree of
//! namespaces -> tenants -> rooms -> sockets, or the raw JSON. A clustered gateway
//! answers for every node; each socket then names its node.
//!
//! With a filter (`--namespace`, `--id`, `--room`, `--tenant`, `--user`,
//! `--transport`, `--data KEY=VALUE`), `--limit` or `--cursor` it asks the gateway
//! for one page of the matching sockets (`GET /inspect/sockets`); with `--counts`,
//! for the numbers alone (`GET /inspect/counts`). Both are computed by the gateway,
//! so inspecting a gateway of 100,000 sockets moves one page, not the snapshot.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Args;
use sockscope_protocol::{InspectCounts, InspectPage, InspectQuery, InspectSnapshot};

use crate::error::{CliError, Result};
use crate::http;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The gateway to inspect.
    #[arg(long, default_value = "http://127.0.0.1:3069")]
    url: String,
    #[arg(long)]
    json: bool,
    /// Only sockets of this namespace.
    #[arg(long)]
    namespace: Option<String>,
    /// Only sockets whose id starts with this.
    #[arg(long)]
    id: Option<String>,
    /// Only sockets in this room.
    #[arg(long)]
    room: Option<String>,
    /// Only sockets of this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Only sockets of this user.
    #[arg(long)]
    user: Option<String>,
    /// Only sockets on this transport (`websocket` or `polling`).
    #[arg(long)]
    transport: Option<String>,
    /// Only sockets whose `socket.data` has KEY=VALUE (repeatable; all must match).
    #[arg(long, value_name = "KEY=VALUE")]
    data: Vec<String>,
    /// At most this many sockets (the gateway caps a page at 1000; default 100).
    #[arg(long)]
    limit: Option<usize>,
    /// Continue after the page that printed this cursor.
    #[arg(long)]
    cursor: Option<String>,
    /// Print how many sockets match, per namespace, room and tenant, and no sockets.
    #[arg(long)]
    counts: bool,
    #[command(flatten)]
    token: http::ApiTokenArgs,
}

impl InspectArgs {
    /// The paged query the flags ask for, or `None` for the whole snapshot.
    fn query(&self) -> Result<Option<InspectQuery>> {
        let mut data = BTreeMap::new();
        for pair in &self.data {
            let (k, v) = pair
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "--data {pair:?}: expected KEY=VALUE, e.g. role=admin"
                    ))
                })?;
            data.insert(k.to_owned(), v.to_owned());
        }
        let q = InspectQuery {
            namespace: self.namespace.clone(),
            id: self.id.clone(),
            room: self.room.clone(),
            tenant: self.tenant.clone(),
            user: self.user.clone(),
            transport: self.transport.clone(),
            data,
            limit: self.limit,
            cursor: self.cursor.clone(),
            counts: false,
        };
        Ok((q != InspectQuery::default() || self.counts).then_some(q))
    }
}

pub async fn run(a: InspectArgs) -> Result<()> {
    let token = a.token.for_url(&a.url);
    if let Some(q) = a.query()? {
        return if a.counts {
            counts(&a, &q, token.as_deref()).await
        } else {
            page(&a, &q, token.as_deref()).await
        };
    }
    let url = format!("{}/inspect", a.url.trim_end_matches('/'));
    let snap: InspectSnapshot = http::get(&url, token.as_deref()).await?;
    let mut out = std::io::stdout().lock();
    if a.json {
        crate::output::pretty_json(&mut out, &snap)?;
        return Ok(());
    }
    if let Some(node) = &snap.node {
        writeln!(
            out,
            "cluster of {} nodes (answered by {node}): {}",
            snap.nodes.len(),
            snap.nodes.join(", ")
        )?;
    }
    for ns in &snap.namespaces {
        writeln!(out, "{} ({} sockets)", ns.name, ns.sockets.len())?;
        let mut by_tenant: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for s in &ns.sockets {
            by_tenant
                .entry(s.tenant.as_deref().unwrap_or("(no tenant)"))
                .or_default()
                .push(s);
        }
        for (tenant, sockets) in by_tenant {
            writeln!(out, "  tenant {tenant}")?;
            for s in sockets {
                let node = s
                    .node
                    .as_deref()
                    .map(|n| format!(" node={n}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "    socket {} user={} rooms=[{}]{node}",
                    s.id,
                    s.user.as_deref().unwrap_or("-"),
                    s.rooms.join(", ")
                )?;
            }
        }
    }
    Ok(())
}

/// `base/path?query` with the query's parameters encoded.
fn endpoint(base: &str, path: &str, q: &InspectQuery) -> Result<String> {
    let raw = format!("{}{path}", base.trim_end_matches('/'));
    let url = url::Url::parse_with_params(&raw, q.to_pairs())
        .map_err(|e| CliError::Usage(format!("invalid --url {base:?}: {e}")))?;
    Ok(url.into())
}

async fn page(a: &InspectArgs, q: &InspectQuery, token: Option<&str>) -> Result<()> {
    let url = endpoint(&a.url, "/inspect/sockets", q)?;
    let page: InspectPage = http::get(&url, token).await?;
    let mut out = std::io::stdout().lock();
    if a.json {
        crate::output::pretty_json(&mut out, &page)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} of {} matching sockets",
        page.sockets.len(),
        page.total
    )?;
    for p in &page.sockets {
        let s = &p.socket;
        let data: Vec<String> = s.data.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(
            out,
            "  {} socket {} tenant={} user={} transport={} rooms=[{}] data={{{}}}",
            p.namespace,
            s.id,
            s.tenant.as_deref().unwrap_or("-"),
            s.user.as_deref().unwrap_or("-"),
            if s.transport.is_empty() {
                "-"
            } else {
                &s.transport
            },
            s.rooms.join(", "),
            data.join(", ")
        )?;
    }
    if let Some(c) = &page.next_cursor {
        writeln!(out, "next page: --cursor '{c}'")?;
    }
    Ok(())
}

async fn counts(a: &InspectArgs, q: &InspectQuery, token: Option<&str>) -> Result<()> {
    let url = endpoint(&a.url, "/inspect/counts", q)?;
    let c: InspectCounts = http::get(&url, token).await?;
    let mut out = std::io::stdout().lock();
    if a.json {
        crate::output::pretty_json(&mut out, &c)?;
        return Ok(());
    }
    writeln!(out, "{} sockets", c.sockets)?;
    for (name, ns) in &c.namespaces {
        writeln!(out, "  namespace {name}: {} sockets", ns.sockets)?;
        for (room, n) in &ns.rooms {
            writeln!(out, "    room {room}: {n}")?;
        }
        if ns.rooms_total > ns.rooms.len() {
            writeln!(
                out,
                "    ({} smaller rooms not listed)",
                ns.rooms_total - ns.rooms.len()
            )?;
        }
    }
    for (tenant, n) in &c.tenants {
        writeln!(out, "  tenant {tenant}: {n}")?;
    }
    if c.no_tenant > 0 {
        writeln!(out, "  no tenant: {}", c.no_tenant)?;
    }
    Ok(())
}
