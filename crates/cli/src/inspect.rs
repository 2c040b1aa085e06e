//! `sockscope inspect`: who is connected to a running gateway, as a tree of
//! namespaces -> tenants -> rooms -> sockets, or the raw JSON. A clustered gateway
//! answers for every node; each socket then names its node.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Args;
use sockscope_protocol::InspectSnapshot;

use crate::error::Result;
use crate::http;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The gateway to inspect.
    #[arg(long, default_value = "http://127.0.0.1:3069")]
    url: String,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    token: http::ApiTokenArgs,
}

pub async fn run(a: InspectArgs) -> Result<()> {
    let url = format!("{}/inspect", a.url.trim_end_matches('/'));
    let token = a.token.for_url(&a.url);
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
