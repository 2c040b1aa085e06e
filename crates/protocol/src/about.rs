//! Which build a window is, so a bug report can name the exact commit.

use serde::{Deserialize, Serialize};

/// What the app's About line shows: the build it is, down to the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AboutInfo {
    /// The workspace version (`Cargo.toml`), the same as `sockscope --version`'s.
    pub version: String,
    /// The git revision the binary was built from, or `unknown`.
    pub revision: String,
}
