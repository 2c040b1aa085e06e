//! Recordings in one SQLite file: sessions and their events.
//!
//! Writes go through one [`Recorder`] per session: a thread that drains a bounded
//! queue and commits one transaction per batch with a cached statement, so the
//! network path only ever does a non-blocking `try_send`. Under overload the queue
//! drops and counts what it could not take (the count is reported, never hidden).
//! Readers open their own connections; WAL lets them read while a recorder writes.

mod har;
mod recorder;
mod targets;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use sockscope_protocol::{Direction, EventRecord, SessionInfo};

use crate::bus::{now_micros, redact};
use crate::{Error, Result};

pub use recorder::{Recorder, RecorderStats, QUEUE as RECORDER_QUEUE};

const MIGRATIONS: &[(&str, &str)] = &[
    ("001_init", include_str!("migrations/001_init.sql")),
    ("002_targets", include_str!("migrations/002_targets.sql")),
];
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The recordings database.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

/// `rusqlite` errors with the database named, and "locked" said plainly.
fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    let locked = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    if locked {
        Error::DbLocked(path.display().to_string())
    } else {
        Error::Db {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to
    /// date, one transaction per migration.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Db {
                path: path.display().to_string(),
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let store = Self { path };
        let mut conn = store.connect()?;
        store.migrate(&mut conn)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_error(&self.path, e)
    }

    /// A connection with the store's settings (WAL, NORMAL sync, busy timeout).
    pub(crate) fn connect(&self) -> Result<Connection> {
        let conn = Connection::open(&self.path).map_err(|e| self.err(e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| self.err(e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| self.err(e))?;
        Ok(conn)
    }

    fn migrate(&self, conn: &mut Connection) -> Result<()> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .map_err(|e| self.err(e))?;
        for (name, sql) in MIGRATIONS {
            let done: Option<String> = conn
                .query_row(
                    "SELECT name FROM schema_migrations WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            if done.is_some() {
                continue;
            }
            let tx = conn.transaction().map_err(|e| self.err(e))?;
            tx.execute_batch(sql).map_err(|e| self.err(e))?;
            tx.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)",
                params![name, now_micros()],
            )
            .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
            tracing::info!(migration = name, db = %self.path.display(), "migration applied");
        }
        Ok(())
    }

    /// Starts a session; `meta` is redacted before it is stored.
    pub fn create_session(
        &self,
        name: &str,
        kind: &str,
        target: &str,
        mut meta: Value,
    ) -> Result<i64> {
        redact(&mut meta);
        let conn = self.connect()?;
        conn.execute(
            "INSERT INTO sessions (name, kind, target, started_at, meta) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, kind, target, now_micros(), meta.to_string()],
        )
        .map_err(|e| self.err(e))?;
        Ok(conn.last_insert_rowid())
    }

    pub fn end_session(&self, id: i64) -> Result<()> {
        self.connect()?
            .execute(
                "UPDATE sessions SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
                params![id, now_micros()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn sessions(&self) -> Result<Vec<SessionInfo>> {
        let conn = self.connect()?;
        let mut st = conn
            .prepare(
                "SELECT s.id, s.name, s.kind, s.target, s.started_at, s.ended_at, s.meta,
                        (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id)
                 FROM sessions s ORDER BY s.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], session_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    pub fn session(&self, id: i64) -> Result<SessionInfo> {
        self.sessions()?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or(Error::UnknownSession(id))
    }

    /// A session's events in recorded order.
    pub fn events(&self, id: i64) -> Result<Vec<EventRecord>> {
        self.session(id)?;
        let conn = self.connect()?;
        let mut st = conn
            .prepare(
                "SELECT seq, ts, source, direction, namespace, event, args, ack, socket_id, rooms, tenant, user
                 FROM events WHERE session_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([id], event_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Calls `each` with session `id`'s events in recorded order, one row at a time:
    /// exports and replays never hold a whole session in memory. Stops at the first
    /// error `each` returns. Returns how many events were passed on.
    pub fn for_each_event(
        &self,
        id: i64,
        mut each: impl FnMut(EventRecord) -> Result<()>,
    ) -> Result<usize> {
        self.session(id)?;
        let conn = self.connect()?;
        let mut st = conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ?1 ORDER BY seq"
            ))
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([id]).map_err(|e| self.err(e))?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            each(event_row(row).map_err(|e| self.err(e))?)?;
            n += 1;
        }
        Ok(n)
    }

    /// At most `limit` of session `id`'s events in recorded order, skipping the first
    /// `offset`: one page of the Recordings panel.
    pub fn events_page(&self, id: i64, offset: u64, limit: u64) -> Result<Vec<EventRecord>> {
        self.session(id)?;
        let conn = self.connect()?;
        let mut st = conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3"
            ))
            .map_err(|e| self.err(e))?;
        // SQLite integers are i64; a larger offset or limit means "all of them".
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let rows = st
            .query_map(params![id, clamp(limit), clamp(offset)], event_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    pub fn delete_session(&self, id: i64) -> Result<()> {
        let n = self
            .connect()?
            .execute("DELETE FROM sessions WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(Error::UnknownSession(id));
        }
        Ok(())
    }

    /// Writes a session as JSON Lines, one [`EventRecord`] a line, row by row.
    /// Returns the count.
    pub fn export_jsonl(&self, id: i64, out: &mut impl Write) -> Result<usize> {
        self.for_each_event(id, |e| {
            serde_json::to_writer(&mut *out, &e).map_err(|e| Error::Io(e.into()))?;
            out.write_all(b"\n")?;
            Ok(())
        })
    }

    /// Reads JSON Lines into a new `import` session. A bad line is an error naming its
    /// line number, and nothing is imported.
    pub fn import_jsonl(&self, name: &str, input: impl BufRead) -> Result<(i64, usize)> {
        let mut records = Vec::new();
        for (i, line) in input.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let mut rec: EventRecord =
                serde_json::from_str(&line).map_err(|e| Error::BadImport {
                    line: i + 1,
                    message: e.to_string(),
                })?;
            redact(&mut rec.args);
            records.push(rec);
        }
        let id =
            self.create_session(name, "import", "", serde_json::json!({ "format": "jsonl" }))?;
        let n = records.len();
        let mut conn = self.connect()?;
        recorder::insert_batch(&mut conn, id, &records).map_err(|e| self.err(e))?;
        self.end_session(id)?;
        Ok((id, n))
    }

    /// Reads a Chrome DevTools HAR file's WebSocket messages (Engine.IO/Socket.IO
    /// frames, or plain WebSocket messages) into a new `import` session (decoding
    /// rules: the `har` module). A file that is not a HAR, or holds
    /// no WebSocket messages, is an error naming it, and nothing is imported.
    pub fn import_har(&self, name: &str, path: &Path) -> Result<(i64, usize)> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::BadHar {
            file: file.clone(),
            message: e.to_string(),
        })?;
        let decoded = har::decode(&text).map_err(|message| Error::BadHar {
            file: file.clone(),
            message,
        })?;
        if decoded.skipped > 0 {
            tracing::warn!(file = %file, skipped = decoded.skipped, "HAR frames that could not be decoded were skipped");
        }
        let id = self.create_session(name, "import", &decoded.target, decoded.meta)?;
        let n = decoded.records.len();
        let mut conn = self.connect()?;
        recorder::insert_batch(&mut conn, id, &decoded.records).map_err(|e| self.err(e))?;
        self.end_session(id)?;
        tracing::info!(file = %file, session = id, events = n, "HAR imported");
        Ok((id, n))
    }

    /// Writes a session as a HAR 1.2 document with one WebSocket entry whose frames
    /// re-encode its events as Socket.IO packets. Returns the event count.
    /// The frames are written row by row: one pass finds the first timestamp and the
    /// highest ack id, a second encodes.
    pub fn export_har(&self, id: i64, out: &mut impl Write) -> Result<usize> {
        let session = self.session(id)?;
        let mut first_ts = None;
        let mut max_ack_id = None;
        self.for_each_event(id, |e| {
            first_ts.get_or_insert(e.ts);
            if let Some(a) = e.ack.as_ref().and_then(|a| a.id) {
                max_ack_id = max_ack_id.max(Some(a));
            }
            Ok(())
        })?;
        let mut writer = har::Writer::start(&mut *out, &session, first_ts, max_ack_id)?;
        let n = self.for_each_event(id, |e| writer.event(&e))?;
        writer.finish()?;
        Ok(n)
    }
}

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionInfo> {
    let meta: String = r.get(6)?;
    Ok(SessionInfo {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        target: r.get(3)?,
        started_at: r.get(4)?,
        ended_at: r.get(5)?,
        meta: serde_json::from_str(&meta).unwrap_or(Value::Null),
        events: r.get::<_, i64>(7)?.max(0) as u64,
    })
}

fn json_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Value>> {
    let text: Option<String> = r.get(i)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// The columns [`event_row`] reads, in its order.
const EVENT_COLUMNS: &str =
    "seq, ts, source, direction, namespace, event, args, ack, socket_id, rooms, tenant, user";

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRecord> {
    let direction: String = r.get(3)?;
    Ok(EventRecord {
        seq: r.get::<_, i64>(0)?.max(0) as u64,
        ts: r.get(1)?,
        source: r.get(2)?,
        direction: if direction == "s2c" {
            Direction::S2c
        } else {
            Direction::C2s
        },
        namespace: r.get(4)?,
        event: r.get(5)?,
        args: json_col(r, 6)?.unwrap_or(Value::Array(vec![])),
        ack: json_col(r, 7)?.and_then(|v| serde_json::from_value(v).ok()),
        socket_id: r.get(8)?,
        rooms: json_col(r, 9)?
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        tenant: r.get(10)?,
        user: r.get(11)?,
    })
}

/// The platform data dir's database (`directories`, identifier dev.sockscope.console).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "sockscope", "console")
        .map(|d| d.data_dir().join("sockscope.db"))
}
