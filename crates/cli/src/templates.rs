//! `sockscope templates list|send`: the gxdev-style event templates, listed from a
//! folder (or the shipped ones) and sent through a running gateway's HTTP API.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use sockscope_engine::templates;
use sockscope_protocol::{EmitRequest, TemplateSet};

use crate::error::Result;
use crate::http;

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// List the templates and any file that failed to load.
    List(ListArgs),
    /// Send a template's event on its channel through a running gateway.
    Send(SendArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Templates folder; ./socket-events when it exists, else the shipped examples.
    #[arg(long, value_name = "DIR")]
    dir: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The template's event name.
    #[arg(long)]
    event: String,
    /// Replaces the channel's last segment (private.CheckIn.kiosk_lobby -> private.CheckIn.ID).
    #[arg(long)]
    identifier: Option<String>,
    /// The gateway to send through.
    #[arg(long, default_value = "http://127.0.0.1:3069")]
    url: String,
    /// Namespace to emit on.
    #[arg(long, default_value = "/")]
    namespace: String,
    #[arg(long, value_name = "DIR")]
    dir: Option<String>,
    #[arg(long)]
    json: bool,
    /// Send to this tenant's sockets (gxp channels are scoped by tenant).
    #[arg(long)]
    tenant: Option<String>,
    #[command(flatten)]
    token: http::ApiTokenArgs,
}

/// `--dir`, else `./socket-events` if present, else the shipped templates.
fn load(dir: Option<&str>) -> Result<TemplateSet> {
    let local = std::path::Path::new("socket-events");
    let dir = dir
        .map(str::to_owned)
        .or_else(|| local.is_dir().then(|| "socket-events".to_owned()));
    let set = templates::load(dir.as_deref())?;
    for p in &set.problems {
        eprintln!(
            "sockscope: warning: {}:{}:{}: {}",
            p.file, p.line, p.column, p.message
        );
    }
    Ok(set)
}

pub async fn run(cmd: TemplatesCommand) -> Result<()> {
    match cmd {
        TemplatesCommand::List(a) => list(a),
        TemplatesCommand::Send(a) => send(a).await,
    }
}

fn list(a: ListArgs) -> Result<()> {
    let set = load(a.dir.as_deref())?;
    let mut out = std::io::stdout().lock();
    if a.json {
        crate::output::pretty_json(&mut out, &set)?;
        return Ok(());
    }
    for t in &set.templates {
        writeln!(
            out,
            "{}\n   Event: {}\n   Channel: {}\n",
            t.event, t.event, t.channel
        )?;
    }
    writeln!(
        out,
        "{} templates, {} problems",
        set.templates.len(),
        set.problems.len()
    )?;
    Ok(())
}

async fn send(a: SendArgs) -> Result<()> {
    let set = load(a.dir.as_deref())?;
    let t = templates::find(&set, &a.event)?;
    let channel = match &a.identifier {
        Some(id) => templates::with_identifier(&t.channel, id),
        None => t.channel.clone(),
    };
    let req = EmitRequest {
        namespace: Some(a.namespace.clone()),
        event: t.event.clone(),
        data: t.data.clone(),
        room: None,
        tenant: a.tenant.clone(),
        channel: Some(channel.clone()),
    };
    let url = format!("{}/emit", a.url.trim_end_matches('/'));
    let token = a.token.for_url(&a.url);
    let answer: Value = http::post(&url, &req, token.as_deref()).await?;
    let delivered = answer["delivered"].as_u64().unwrap_or(0);
    if a.json {
        println!(
            "{}",
            json!({ "event": t.event, "channel": channel, "delivered": delivered })
        );
    } else {
        println!("sent {} on {} to {} sockets", t.event, channel, delivered);
    }
    Ok(())
}
