//! Talking to a running gateway's HTTP API (`templates send`, `inspect`), with
//! one-line errors for an unreachable target or a refusal.

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

pub async fn get<T: DeserializeOwned>(url: &str) -> Result<T> {
    let r = client()
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(url, &e))?;
    answer(url, r).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T> {
    let r = client()
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|e| unreachable(url, &e))?;
    answer(url, r).await
}
