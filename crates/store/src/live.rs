//! Which sessions are still being written, across processes.
//!
//! A session is `recording` while the process writing it holds an OS file lock
//! (flock / LockFileEx, through `fs4`) on `<db>.live/<id>.lock`. The OS releases the
//! lock when that process ends, however it ends (`kill -9`, a crash, a power cut), so
//! the next [`super::Store::open`] that finds a `recording` session whose lock it can
//! take knows nobody writes it any more and marks it `interrupted`. A row flag alone
//! cannot tell a live recording in another process (the desktop app and the CLI share
//! the default database) from a dead one.
//!
//! The lock is taken before the session's row is committed, so no other process can
//! see a `recording` row whose lock is not held yet.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The locks this process holds, by database file and session id. Dropping a `File`
/// releases its lock.
fn held() -> MutexGuard<'static, HashMap<(PathBuf, i64), File>> {
    static HELD: OnceLock<Mutex<HashMap<(PathBuf, i64), File>>> = OnceLock::new();
    HELD.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `<db>.live/`, next to the database file.
fn dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_owned()).unwrap_or_default();
    name.push(".live");
    db.with_file_name(name)
}

fn lock_path(db: &Path, id: i64) -> PathBuf {
    dir(db).join(format!("{id}.lock"))
}

fn open(db: &Path, id: i64) -> std::io::Result<File> {
    std::fs::create_dir_all(dir(db))?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(db, id))
}

/// Takes session `id`'s lock for this process (a no-op if it already holds it).
/// Another process holding it is an error.
pub(crate) fn hold(db: &Path, id: i64) -> std::io::Result<()> {
    let mut held = held();
    let key = (db.to_owned(), id);
    if held.contains_key(&key) {
        return Ok(());
    }
    let file = open(db, id)?;
    fs4::FileExt::try_lock(&file).map_err(|e| match e {
        fs4::TryLockError::WouldBlock => {
            std::io::Error::other(format!("session {id} is being recorded by another program"))
        }
        fs4::TryLockError::Error(e) => e,
    })?;
    held.insert(key, file);
    Ok(())
}

/// Whether this process holds session `id`'s lock.
pub(crate) fn holds(db: &Path, id: i64) -> bool {
    held().contains_key(&(db.to_owned(), id))
}

/// Releases session `id`'s lock and removes its file.
pub(crate) fn release(db: &Path, id: i64) {
    if held().remove(&(db.to_owned(), id)).is_some() {
        let _ = std::fs::remove_file(lock_path(db, id));
    }
}

/// Whether session `id` has nobody writing it: no process holds its lock. A lock that
/// cannot be checked (an I/O error) counts as held, so a live recording is never
/// marked interrupted by mistake.
pub(crate) fn abandoned(db: &Path, id: i64) -> bool {
    if holds(db, id) {
        return false;
    }
    let file = match open(db, id) {
        Ok(f) => f,
        Err(error) => {
            tracing::warn!(session = id, %error, "cannot check whether a session is still recorded");
            return false;
        }
    };
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => {
            drop(file);
            let _ = std::fs::remove_file(lock_path(db, id));
            true
        }
        Err(_) => false,
    }
}
