//! The recordings store as the front ends see it: everything of [`sockscope_store`]
//! under its old path (`sockscope_engine::store`), and [`write_atomically`] with the
//! engine's error, so a front end's closure can fail with any engine error.

use std::io::Write;
use std::path::Path;

pub use sockscope_store::*;

/// [`sockscope_store::write_atomically`] with the engine's error type.
///
/// # Errors
/// What `write` returns, or a file error when the file cannot be written.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> crate::Result<T>,
) -> crate::Result<T> {
    sockscope_store::write_atomically(path, write)
}
