//! `--ca-cert`, `--insecure`, `--client-cert` / `--client-key`: the TLS flags of every
//! command that connects to a gateway (connect, record, replay, simulate, admin), one
//! struct flattened into each so they read and behave the same everywhere. The
//! engine's `connection::TlsOptions` does the work; this turns flags into it, checks
//! the files before anything connects (a bad PEM is one line naming the file) and
//! says on every start that `--insecure` checks nothing.

use std::path::PathBuf;

use clap::Args;
use sockscope_engine::connection::{tls::INSECURE_WARNING, TlsOptions};

use crate::error::Result;

#[derive(Debug, Args, Clone, Default)]
pub struct TlsArgs {
    /// Also trust the root certificate(s) in this PEM file (e.g. a development CA
    /// or the gateway's self-signed certificate).
    #[arg(long, value_name = "PEM", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// Do not check TLS certificates or host names at all (says so at every start).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Client certificate (PEM) for mutual TLS; needs --client-key.
    #[arg(long, value_name = "PEM", requires = "client_key", global = true)]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PKCS#8 PEM, BEGIN PRIVATE KEY).
    #[arg(long, value_name = "PEM", requires = "client_cert", global = true)]
    pub client_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The engine's options, files checked (call [`TlsArgs::announce`] once per run).
    pub fn options(&self) -> Result<TlsOptions> {
        let opts = TlsOptions {
            ca_cert: self.ca_cert.clone(),
            insecure: self.insecure,
            client_cert: self.client_cert.clone(),
            client_key: self.client_key.clone(),
        };
        if !opts.is_default() {
            // Reads and parses the files now: a bad one fails before connecting.
            opts.connector()?;
        }
        Ok(opts)
    }

    /// Says on stderr, at the start of every run, that `--insecure` checks nothing.
    pub fn announce(&self) {
        if self.insecure {
            eprintln!("sockscope: {INSECURE_WARNING}");
        }
    }
}
