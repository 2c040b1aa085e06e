//! TLS settings every client path shares (connect, record, replay, simulate, admin):
//! an extra trusted root (`--ca-cert`), no checks at all (`--insecure`) and a client
//! certificate for mutual TLS (`--client-cert` / `--client-key`).
//!
//! Why one type: the Socket.IO client (rust_socketio) takes a `native_tls`
//! connector and the plain WebSocket clients (tokio-tungstenite) a `Connector`
//! wrapping the same thing, so [`TlsOptions::connector`] builds it once, the same way
//! for every path, and a bad PEM file is the same one-line error everywhere, naming
//! the file and the flag. The system's roots stay trusted; `--ca-cert` adds to them
//! (a development CA, the gxp seed's self-signed certificate).
//!
//! Files are read with a size bound: a PEM bundle is kilobytes, and `--ca-cert
//! /dev/zero` must not allocate without limit. Key material is never logged or put in
//! an error; errors name the path only.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::{Error, Result};

/// What `--insecure` makes every front end say at every start.
pub const INSECURE_WARNING: &str = "warning: --insecure: TLS certificates and host names are NOT checked; anyone on the network path can read and change this traffic";

/// Largest PEM file read (a CA bundle of a few hundred certificates fits).
const MAX_PEM_BYTES: u64 = 4 << 20;

/// TLS choices for outgoing connections. The default trusts the system's roots only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// A PEM file of extra trusted root certificates.
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate and host name.
    pub insecure: bool,
    /// A PEM certificate (chain) presented to the server, with [`TlsOptions::client_key`].
    pub client_cert: Option<PathBuf>,
    /// The PEM (PKCS#8) private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

impl TlsOptions {
    /// The options of a saved target / GUI form (blank paths are unset).
    pub fn from_target(t: &sockscope_protocol::TargetTls) -> Self {
        let path = |p: &Option<String>| {
            p.as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        };
        Self {
            ca_cert: path(&t.ca_cert),
            insecure: t.insecure,
            client_cert: path(&t.client_cert),
            client_key: path(&t.client_key),
        }
    }

    /// Nothing beyond the system defaults was asked for.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The options for a session's metadata: file names and the insecure flag only.
    pub fn describe(&self) -> Value {
        json!({
            "ca_cert": self.ca_cert.as_ref().map(|p| p.display().to_string()),
            "insecure": self.insecure,
            "client_cert": self.client_cert.as_ref().map(|p| p.display().to_string()),
        })
    }

    /// Reads the files and builds the connector; a missing, unreadable or bad PEM
    /// file, or a certificate without its key, is [`Error::Tls`] naming the file.
    pub fn connector(&self) -> Result<native_tls::TlsConnector> {
        self.builder()?
            .build()
            .map_err(|e| Error::Tls(format!("TLS setup: {}", one_line(&e.to_string()))))
    }

    /// The connector's builder with these options applied, for a caller that adds to
    /// them (the connection doctor trusts a server's own certificate to look past a
    /// missing trust anchor). Fails like [`TlsOptions::connector`].
    pub fn builder(&self) -> Result<native_tls::TlsConnectorBuilder> {
        let mut b = native_tls::TlsConnector::builder();
        if let Some(path) = &self.ca_cert {
            let pem = read_pem(path, "--ca-cert")?;
            let certs = native_tls::Certificate::stack_from_pem(&pem)
                .map_err(|e| bad_pem(path, "--ca-cert", &e.to_string()))?;
            if certs.is_empty() || !contains(&pem, b"-----BEGIN CERTIFICATE-----") {
                return Err(bad_pem(path, "--ca-cert", "no PEM certificate in it"));
            }
            for cert in certs {
                b.add_root_certificate(cert);
            }
        }
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let cert_pem = read_pem(cert, "--client-cert")?;
                if !contains(&cert_pem, b"-----BEGIN CERTIFICATE-----") {
                    return Err(bad_pem(cert, "--client-cert", "no PEM certificate in it"));
                }
                let key_pem = read_pem(key, "--client-key")?;
                if !contains(&key_pem, b"PRIVATE KEY-----") {
                    return Err(bad_pem(key, "--client-key", "no PEM private key in it"));
                }
                let identity =
                    native_tls::Identity::from_pkcs8(&cert_pem, &key_pem).map_err(|e| {
                        Error::Tls(format!(
                            "--client-cert {} with --client-key {}: {} (the key must be PKCS#8 PEM, BEGIN PRIVATE KEY, and match the certificate)",
                            cert.display(),
                            key.display(),
                            one_line(&e.to_string())
                        ))
                    })?;
                b.identity(identity);
            }
            (Some(_), None) => {
                return Err(Error::Tls("--client-cert needs --client-key".to_owned()))
            }
            (None, Some(_)) => {
                return Err(Error::Tls("--client-key needs --client-cert".to_owned()))
            }
            (None, None) => {}
        }
        if self.insecure {
            b.danger_accept_invalid_certs(true);
            b.danger_accept_invalid_hostnames(true);
        }
        Ok(b)
    }

    /// The tokio-tungstenite connector, or `None` for the library's default (system
    /// roots) when nothing was asked for.
    pub fn ws_connector(&self) -> Result<Option<tokio_tungstenite::Connector>> {
        if self.is_default() {
            return Ok(None);
        }
        Ok(Some(tokio_tungstenite::Connector::NativeTls(
            self.connector()?,
        )))
    }

    /// The connector for rust_socketio, or `None` when nothing was asked for.
    pub fn socketio_connector(&self) -> Result<Option<native_tls::TlsConnector>> {
        if self.is_default() {
            return Ok(None);
        }
        self.connector().map(Some)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn bad_pem(path: &Path, flag: &str, why: &str) -> Error {
    Error::Tls(format!(
        "{flag} {}: not a usable PEM file ({})",
        path.display(),
        one_line(why)
    ))
}

fn read_pem(path: &Path, flag: &str) -> Result<Vec<u8>> {
    let failed = |e: std::io::Error| Error::Tls(format!("{flag} {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(failed)?;
    let mut pem = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(failed)?;
    if pem.len() as u64 > MAX_PEM_BYTES {
        return Err(bad_pem(
            path,
            flag,
            &format!("larger than {MAX_PEM_BYTES} bytes"),
        ));
    }
    Ok(pem)
}

/// A transport error's text with the certificate problem spelled out: OpenSSL's
/// `certificate verify failed` plus the reason it gives (self-signed, unknown
/// issuer, expired, wrong host), else the text as it is.
pub fn explain(error: &str) -> String {
    let e = one_line(error);
    let lower = e.to_ascii_lowercase();
    if lower.contains("certificate verify failed")
        || lower.contains("self-signed")
        || lower.contains("self signed")
        || lower.contains("unable to get local issuer")
    {
        // OpenSSL puts the reason last, in parentheses: `(self-signed certificate)`.
        let why = e
            .rfind('(')
            .and_then(|i| e[i + 1..].find(')').map(|j| &e[i + 1..i + 1 + j]))
            .filter(|w| w.to_ascii_lowercase().contains("cert") || w.contains("issuer"))
            .unwrap_or("certificate verify failed");
        return format!(
            "TLS certificate not trusted ({why}): pass --ca-cert PEM to trust its issuer, or --insecure to skip the check"
        );
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_builds_nothing_special_and_bad_files_name_themselves() {
        let o = TlsOptions::default();
        assert!(o.is_default());
        assert!(o.ws_connector().unwrap().is_none());
        let dir = sockscope_test_support::temp_dir("tls", "junk");
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "hello\n").unwrap();
        let e = TlsOptions {
            ca_cert: Some(junk.clone()),
            ..Default::default()
        }
        .connector()
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("--ca-cert") && e.contains("junk.pem") && !e.contains('\n'),
            "{e}"
        );
        let e = TlsOptions {
            ca_cert: Some(dir.join("missing.pem")),
            ..Default::default()
        }
        .connector()
        .unwrap_err()
        .to_string();
        assert!(e.contains("missing.pem"), "{e}");
        let e = TlsOptions {
            client_cert: Some(junk.clone()),
            ..Default::default()
        }
        .connector()
        .unwrap_err()
        .to_string();
        assert!(e.contains("needs --client-key"), "{e}");
        let insecure = TlsOptions {
            insecure: true,
            ..Default::default()
        };
        assert!(insecure.ws_connector().unwrap().is_some());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn certificate_failures_are_explained() {
        let m = explain("error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:ssl/statem/statem_clnt.c:2092: (self-signed certificate)");
        assert_eq!(m, "TLS certificate not trusted (self-signed certificate): pass --ca-cert PEM to trust its issuer, or --insecure to skip the check");
        assert_eq!(explain("connection refused"), "connection refused");
    }
}
