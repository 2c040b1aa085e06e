//! `--redact-key KEY` (repeatable) on every command that records, prints, imports or
//! exports events: extra secret key names for the engine's one redaction policy
//! (`sockscope_engine::redact`), which already knows `token`, `password`, `apiKey`,
//! `authorization`, `cookie`, ... and JWT- and Bearer-shaped values. The
//! `SOCKSCOPE_REDACT_KEYS` environment variable (comma-separated) adds keys to every
//! command at once (`main` reads it).

use clap::Args;

#[derive(Debug, Args, Clone, Default)]
pub struct RedactArgs {
    /// Also treat values under this key as secrets, at any depth (repeatable).
    /// Matched like the built-in names: any case, ignoring - _ . and spaces, and
    /// as a suffix (KEY=sig also redacts tenantSig).
    #[arg(long = "redact-key", value_name = "KEY")]
    pub redact_keys: Vec<String>,
}

impl RedactArgs {
    /// Adds the keys to the process-wide policy; call before anything is published.
    pub fn apply(&self) {
        if !self.redact_keys.is_empty() {
            sockscope_engine::redact::add_keys(&self.redact_keys);
        }
    }
}
