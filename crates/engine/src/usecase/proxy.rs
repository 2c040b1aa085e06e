//! Start the capture proxy: the one place the CLI's `sockscope proxy` flags and the
//! desktop Proxy panel's form become a proxy configuration, so both accept and
//! refuse the same things (a non-loopback listen address included).

use sockscope_client::connection::tls::TlsOptions;
use sockscope_protocol::ProxyRequest;
use sockscope_proxy::ProxyConfig;

use crate::{Error, Result};

/// The proxy's default listen address: loopback, next to the gateway's 3069.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3070";

/// Checks a request and turns it into the proxy's configuration.
pub fn config(req: &ProxyRequest) -> Result<ProxyConfig> {
    let listen = if req.listen.trim().is_empty() {
        DEFAULT_LISTEN
    } else {
        req.listen.as_str()
    };
    let listen = ProxyConfig::listen(listen)?;
    if !listen.ip().is_loopback() {
        tracing::warn!(%listen, "the capture proxy listens beyond this machine: anyone who reaches it reaches the upstream through it");
    }
    let upstream = ProxyConfig::upstream(&req.upstream)?;
    let tls = TlsOptions::from_target(&req.tls);
    if !tls.is_default() {
        // Bad PEM files fail now, naming the file, not at the first request.
        tls.connector().map_err(Error::Client)?;
    }
    // Rules are checked now too, so the form or the command line says which is bad.
    sockscope_proxy::rules::parse_all(&req.rules).map_err(sockscope_proxy::Error::from)?;
    Ok(ProxyConfig {
        listen,
        upstream,
        tls,
        listen_tls: req.listen_tls.clone(),
        parser: req.parser,
        rules: req.rules.clone(),
    })
}
