//! Talking to a running gateway's HTTP API (`templates send`, `inspect`), with
//! one-line errors for an unreachable target or a refusal.

use clap::Args;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{CliError, Result};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

fn unreachable(url: &str, e: &reqwest::Error) -> CliError {
    // reqwest's Display hides the cause ("error sending request"); the source says it.
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    CliError::Unreachable {
        url: url.to_owned(),
        reason,
    }
}

async fn answer<T: DeserializeOwned>(url: &str, r: reqwest::Response) -> Result<T> {
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| unreachable(url, &e))?;
    if !status.is_success() {
        return Err(CliError::Http {
            url: url.to_owned(),
            status: status.as_u16(),
            message: body["error"].as_str().unwrap_or("no message").to_owned(),
        });
    }
    serde_json::from_value(body).map_err(|e| CliError::Http {
        url: url.to_owned(),
        status: status.as_u16(),
        message: format!("unexpected answer: {e}"),
    })
}

/// The gateway's API token: `--api-token` / `SOCKSCOPE_API_TOKEN`, else the token
/// file a local `sockscope serve` on that port wrote (loopback URLs only, so the token
/// is never sent to another machine by accident).
#[derive(Debug, Args, Clone)]
pub struct ApiTokenArgs {
    /// Bearer token for the gateway's HTTP API (when it needs one).
    #[arg(
        long,
        env = "SOCKSCOPE_API_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    api_token: Option<String>,
}

impl ApiTokenArgs {
    /// The token the operator gave, if any.
    pub fn given(&self) -> Option<&str> {
        self.api_token.as_deref().filter(|t| !t.is_empty())
    }

    pub fn for_url(&self, base: &str) -> Option<String> {
        if let Some(t) = self.given() {
            return Some(t.to_owned());
        }
        let url = reqwest::Url::parse(base).ok()?;
        let local = match url.host()? {
            url::Host::Domain(d) => d == "localhost",
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        if !local {
            return None;
        }
        sockscope_engine::gateway::api_access::read_token_file(url.port_or_known_default()?)
    }
}

fn with_bearer(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

pub async fn get<T: DeserializeOwned>(url: &str, token: Option<&str>) -> Result<T> {
    let r = with_bearer(client().get(url), token)
        .send()
        .await
        .map_err(|e| unreachable(url, &e))?;
    answer(url, r).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(
    url: &str,
    body: &B,
    token: Option<&str>,
) -> Result<T> {
    let r = with_bearer(client().post(url), token)
        .json(body)
        .send()
        .await
        .map_err(|e| unreachable(url, &e))?;
    answer(url, r).await
}
