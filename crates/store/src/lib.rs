//! Recordings in one SQLite file: sessions and their events. This crate is the
//! store layer: the gateway and clients publish on the bus, and whoever records
//! (the engine's use cases, the CLI) writes through it.
//!
//! Writes go through one [`Recorder`] per session: a thread that drains a bounded
//! queue and commits one transaction per batch with a cached statement, so the
//! network path only ever does a non-blocking `try_send`. Under overload the queue
//! drops and counts what it could not take (the count is reported, never hidden).
//! Readers open their own connections; WAL lets them read while a recorder writes.
//!
//! Every session has a state (`recording`, `complete`, `interrupted`); a session
//! left `recording` by a process that died is marked `interrupted` the next time any
//! process opens the store (see the `live` module for how "died" is known).

mod admin_targets;
pub mod error;
mod files;
mod har;
mod live;
mod named;
mod recorder;
mod targets;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use sockscope_protocol::{Direction, EventRecord, SessionInfo, SessionState};

pub use error::{Error, Result};
use sockscope_bus::now_micros;
use sockscope_bus::redact;

pub use files::write_atomically;
pub use recorder::{
    insert_sql as recorder_insert_sql, Recorder, RecorderStats, QUEUE as RECORDER_QUEUE,
};

/// Whether a SQLite error means another connection holds the lock.
pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

const MIGRATIONS: &[(&str, &str)] = &[
    ("001_init", include_str!("migrations/001_init.sql")),
    ("002_targets", include_str!("migrations/002_targets.sql")),
    (
        "003_session_state",
        include_str!("migrations/003_session_state.sql"),
    ),
    (
        "004_admin_targets",
        include_str!("migrations/004_admin_targets.sql"),
    ),
    (
        "005_event_fault",
        include_str!("migrations/005_event_fault.sql"),
    ),
];
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The recordings database.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

/// `rusqlite` errors with the database named, and "locked" said plainly.
pub(crate) fn db_error(path: &Path, e: rusqlite::Error) -> Error {
    if is_busy(&e) {
        Error::DbLocked(path.display().to_string())
    } else {
        Error::Db {
            path: path.display().to_string(),
            source: e,
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to
    /// date, one transaction per migration.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::CreateDir {
                path: path.display().to_string(),
                dir: dir.display().to_string(),
                source: e,
            })?;
        }
        let store = Self { path };
        let mut conn = store.connect()?;
        store.migrate(&mut conn)?;
        store.mark_interrupted(&conn);
        Ok(store)
    }

    /// Marks every session still `recording` that no process writes any more as
    /// `interrupted`, ended at its last event (or its start, when it has none).
    /// Best effort: a failure (a locked database) is logged and the check runs again
    /// at the next open.
    fn mark_interrupted(&self, conn: &Connection) {
        let open: rusqlite::Result<Vec<i64>> = conn
            .prepare("SELECT id FROM sessions WHERE state = 'recording'")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect());
        let open = match open {
            Ok(ids) => ids,
            Err(error) => {
                tracing::warn!(db = %self.path.display(), %error, "cannot check for interrupted sessions");
                return;
            }
        };
        for id in open {
            if !live::abandoned(&self.path, id) {
                continue;
            }
            let marked = conn.execute(
                "UPDATE sessions SET state = 'interrupted',
                     ended_at = COALESCE((SELECT MAX(ts) FROM events WHERE session_id = ?1), started_at)
                 WHERE id = ?1 AND state = 'recording'",
                [id],
            );
            match marked {
                Ok(n) if n > 0 => {
                    tracing::warn!(session = id, db = %self.path.display(), "session found interrupted: its recorder stopped without finishing");
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(session = id, %error, "cannot mark an interrupted session");
                }
            }
        }
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

    /// Starts a session in state `recording`. Name, target and `meta` are redacted
    /// before they are stored (`crate::redact`: a URL keeps host, path and query keys
    /// only). This process holds the session's lock (see the `live` module) until
    /// [`Store::end_session`] or its [`Recorder`] finishes it.
    pub fn create_session(
        &self,
        name: &str,
        kind: &str,
        target: &str,
        mut meta: Value,
    ) -> Result<i64> {
        let policy = redact::policy();
        let name = policy.text(name);
        let target = policy.url(target);
        policy.meta(&mut meta);
        let mut conn = self.connect()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        tx.execute(
            "INSERT INTO sessions (name, kind, target, started_at, meta, state) VALUES (?1, ?2, ?3, ?4, ?5, 'recording')",
            params![name.as_ref(), kind, target, now_micros(), meta.to_string()],
        )
        .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        // Locked before the row is visible to anyone else.
        live::hold(&self.path, id).map_err(|e| Error::Lock {
            path: self.path.display().to_string(),
            session: id,
            source: e,
        })?;
        if let Err(e) = tx.commit() {
            live::release(&self.path, id);
            return Err(self.err(e));
        }
        Ok(id)
    }

    /// Ends a session: `complete`, ended now. Releases its lock.
    pub fn end_session(&self, id: i64) -> Result<()> {
        let ended = self.connect().and_then(|conn| {
            conn.execute(
                "UPDATE sessions SET ended_at = ?2, state = 'complete' WHERE id = ?1 AND state = 'recording'",
                params![id, now_micros()],
            )
            .map_err(|e| self.err(e))
        });
        live::release(&self.path, id);
        ended.map(drop)
    }

    /// Every session, redacted on the way out (a database written by an older
    /// version may hold what today's policy removes).
    pub fn sessions(&self) -> Result<Vec<SessionInfo>> {
        let conn = self.connect()?;
        let mut st = conn
            .prepare(
                "SELECT s.id, s.name, s.kind, s.target, s.started_at, s.ended_at, s.meta,
                        (SELECT COUNT(*) FROM events e WHERE e.session_id = s.id), s.state
                 FROM sessions s ORDER BY s.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], session_row)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        let mut rows = rows;
        rows.iter_mut().for_each(redact::session);
        Ok(rows)
    }

    pub fn session(&self, id: i64) -> Result<SessionInfo> {
        self.sessions()?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or(Error::UnknownSession(id))
    }

    /// A session's events in recorded order, redacted on the way out as sessions are.
    pub fn events(&self, id: i64) -> Result<Vec<EventRecord>> {
        self.events_page(id, 0, u64::MAX)
    }

    /// Calls `each` with session `id`'s events in recorded order, one row at a time:
    /// exports and replays never hold a whole session in memory. Stops at the first
    /// error `each` returns. Returns how many events were passed on. Each event is
    /// redacted on the way out, as [`Store::events`] does.
    pub fn for_each_event(
        &self,
        id: i64,
        each: impl FnMut(EventRecord) -> Result<()>,
    ) -> Result<usize> {
        self.walk_events(id, 0, u64::MAX, each)
    }

    /// At most `limit` of session `id`'s events in recorded order, skipping the first
    /// `offset`: one page of the Recordings panel, redacted as [`Store::events`] is.
    pub fn events_page(&self, id: i64, offset: u64, limit: u64) -> Result<Vec<EventRecord>> {
        let mut page = Vec::new();
        self.walk_events(id, offset, limit, |rec| {
            page.push(rec);
            Ok(())
        })?;
        Ok(page)
    }

    /// The one event query behind [`Store::events`], [`Store::for_each_event`] and
    /// [`Store::events_page`]: rows in `seq` order, each redacted, passed to `each`.
    fn walk_events(
        &self,
        id: i64,
        offset: u64,
        limit: u64,
        mut each: impl FnMut(EventRecord) -> Result<()>,
    ) -> Result<usize> {
        self.session(id)?;
        let conn = self.connect()?;
        let mut st = conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ?1 ORDER BY seq LIMIT ?2 OFFSET ?3"
            ))
            .map_err(|e| self.err(e))?;
        // SQLite integers are i64; a larger offset or limit means "all of them".
        let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let mut rows = st
            .query(params![id, clamp(limit), clamp(offset)])
            .map_err(|e| self.err(e))?;
        let policy = redact::policy();
        let mut n = 0;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let mut rec = event_row(row).map_err(|e| self.err(e))?;
            policy.record(&mut rec);
            each(rec)?;
            n += 1;
        }
        Ok(n)
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
    /// line number, and nothing is imported. Lines are at most
    /// [`sockscope_bus::limits::DEFAULT_MAX_LINE`] bytes ([`Store::import_jsonl_limited`]).
    pub fn import_jsonl(&self, name: &str, input: impl BufRead) -> Result<(i64, usize)> {
        self.import_jsonl_limited(name, input, sockscope_bus::limits::DEFAULT_MAX_LINE)
    }

    /// [`Store::import_jsonl`] with lines of at most `max_line` bytes: a longer one is
    /// an error after reading `max_line + 1` bytes of it (so `/dev/zero` is refused,
    /// not read until memory runs out).
    pub fn import_jsonl_limited(
        &self,
        name: &str,
        mut input: impl BufRead,
        max_line: u64,
    ) -> Result<(i64, usize)> {
        let mut records = Vec::new();
        let mut buf = Vec::new();
        let mut line = 0;
        while files::read_line(&mut input, &mut buf, max_line, line + 1)?.is_some() {
            line += 1;
            let text = files::utf8(&buf, line)?;
            if text.trim().is_empty() {
                continue;
            }
            let mut rec: EventRecord =
                serde_json::from_str(text).map_err(|e| Error::BadImport {
                    line,
                    // serde quotes a bad string whole: a 20 MB one must not be echoed.
                    message: sockscope_bus::limits::clip_message(&e.to_string()),
                })?;
            // An import skips the bus: the same policy applies here.
            redact::record(&mut rec);
            records.push(rec);
        }
        let id =
            self.create_session(name, "import", "", serde_json::json!({ "format": "jsonl" }))?;
        let n = records.len();
        self.fill_import(id, &records)?;
        Ok((id, n))
    }

    /// Reads a Chrome DevTools HAR file's WebSocket messages (Engine.IO/Socket.IO
    /// frames, or plain WebSocket messages) into a new `import` session (decoding
    /// rules: the `har` module). A file that is not a HAR, or holds
    /// no WebSocket messages, is an error naming it, and nothing is imported.
    pub fn import_har(&self, name: &str, path: &Path) -> Result<(i64, usize)> {
        self.import_har_limited(name, path, sockscope_bus::limits::DEFAULT_MAX_LINE)
    }

    /// [`Store::import_har`] with lines of at most `max_line` bytes (DevTools writes
    /// HAR files indented, one field a line) and at most
    /// [`sockscope_bus::limits::MAX_HAR_BYTES`] in all.
    pub fn import_har_limited(
        &self,
        name: &str,
        path: &Path,
        max_line: u64,
    ) -> Result<(i64, usize)> {
        let file = path.display().to_string();
        let bad = |message: String| Error::BadHar {
            file: file.clone(),
            message: sockscope_bus::limits::clip_message(&message),
        };
        let input = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let text = files::read_text(
            &mut std::io::BufReader::new(input),
            max_line,
            sockscope_bus::limits::MAX_HAR_BYTES,
        )
        .map_err(|e| bad(e.to_string()))?;
        let decoded = har::decode(&text).map_err(bad)?;
        if decoded.skipped > 0 {
            tracing::warn!(file = %file, skipped = decoded.skipped, "HAR frames that could not be decoded were skipped");
        }
        // `decoded` is already redacted; name, target and meta are again on creation.
        let id = self.create_session(name, "import", &decoded.target, decoded.meta)?;
        let n = decoded.records.len();
        self.fill_import(id, &decoded.records)?;
        tracing::info!(file = %file, session = id, events = n, "HAR imported");
        Ok((id, n))
    }

    /// Writes an import's records into its new session and ends it; on failure the
    /// session is removed, so a failed import leaves nothing behind.
    fn fill_import(&self, id: i64, records: &[EventRecord]) -> Result<()> {
        let filled = self.connect().and_then(|mut conn| {
            recorder::insert_batch(&mut conn, id, records).map_err(|e| self.err(e))
        });
        if let Err(e) = filled {
            live::release(&self.path, id);
            let _ = self.delete_session(id);
            return Err(e);
        }
        self.end_session(id)
    }

    /// Writes a session as a HAR 1.2 document with one WebSocket entry per connection
    /// (the events' `source`) whose frames re-encode its events as Socket.IO packets.
    /// Returns the event count. The frames are written row by row: one pass finds the
    /// highest ack id, a query lists the connections in order of their first event,
    /// then one pass per connection encodes its events. An import reads each entry as
    /// one connection and matches acks within it, so a connection's stand-alone ack
    /// never meets another connection's ask.
    pub fn export_har(&self, id: i64, out: &mut impl Write) -> Result<usize> {
        let session = self.session(id)?;
        let mut max_ack_id = None;
        self.for_each_event(id, |e| {
            if let Some(a) = e.ack.as_ref().and_then(|a| a.id) {
                max_ack_id = max_ack_id.max(Some(a));
            }
            Ok(())
        })?;
        let conn = self.connect()?;
        let sources = conn
            .prepare(
                "SELECT source, MIN(seq) AS first FROM events WHERE session_id = ?1
                 GROUP BY source ORDER BY first",
            )
            .and_then(|mut st| {
                st.query_map([id], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(|e| self.err(e))?;
        let mut st = conn
            .prepare(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE session_id = ?1 AND source = ?2 ORDER BY seq"
            ))
            .map_err(|e| self.err(e))?;
        let policy = redact::policy();
        let mut writer = har::Writer::start(&mut *out, &session, max_ack_id)?;
        let mut n = 0;
        for source in &sources {
            writer.next_connection()?;
            let mut rows = st.query(params![id, source]).map_err(|e| self.err(e))?;
            while let Some(row) = rows.next().map_err(|e| self.err(e))? {
                let mut rec = event_row(row).map_err(|e| self.err(e))?;
                policy.record(&mut rec);
                writer.event(&rec)?;
                n += 1;
            }
        }
        writer.finish()?;
        Ok(n)
    }
}

/// A HAR document's events, as an import would store them (for fuzzing and tools;
/// the import itself is [`Store::import_har`]). The error says why it is refused.
pub fn decode_har(text: &str) -> std::result::Result<Vec<EventRecord>, String> {
    har::decode(text).map(|d| d.records)
}

/// The HAR document an export of `events` as `session` writes.
pub fn encode_har(session: &SessionInfo, events: &[EventRecord]) -> Value {
    har::encode(session, events)
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
        state: SessionState::from_name(&r.get::<_, String>(8)?),
    })
}

fn json_col(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Value>> {
    let text: Option<String> = r.get(i)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// The columns [`event_row`] reads, in its order.
const EVENT_COLUMNS: &str =
    "seq, ts, source, direction, namespace, event, args, ack, socket_id, rooms, tenant, user, fault";

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
        fault: r.get(12)?,
    })
}

/// The platform data dir's database (`directories`, identifier dev.sockscope.console).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "sockscope", "console")
        .map(|d| d.data_dir().join("sockscope.db"))
}
