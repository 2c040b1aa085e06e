//! Where recordings live: `--db FILE`, or the platform data dir.

use std::path::PathBuf;

use clap::Args;
use sockscope_engine::store::{self, Store};

use crate::error::{CliError, Result};

#[derive(Debug, Args, Clone)]
pub struct DbArgs {
    /// SQLite file for recordings (default: the platform data dir's sockscope.db).
    #[arg(long, value_name = "FILE", env = "SOCKSCOPE_DB")]
    pub db: Option<PathBuf>,
}

impl DbArgs {
    pub fn open(&self) -> Result<Store> {
        let path = match &self.db {
            Some(p) => p.clone(),
            None => store::default_path().ok_or_else(|| {
                CliError::Usage("no data dir on this system: pass --db FILE".into())
            })?,
        };
        Ok(Store::open(path)?)
    }
}
