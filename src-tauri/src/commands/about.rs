//! About: which build this window is, so a bug report can name the exact commit.

use sockscope_protocol::AboutInfo;

/// The version and git revision compiled into this binary.
pub fn info() -> AboutInfo {
    AboutInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        revision: env!("SOCKSCOPE_GIT_REV").to_owned(),
    }
}

#[tauri::command]
pub fn cmd_about() -> AboutInfo {
    info()
}
