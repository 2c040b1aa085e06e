//! The batched writer behind every recording.
//!
//! A recording is a small pipeline, one thread per stage, so the network path only
//! ever pays for a non-blocking send:
//!
//! 1. [`Recorder::record`] puts the record on a queue of at most [`QUEUE`] records and
//!    about [`QUEUE_BYTES`] bytes; a full queue drops it and counts the drop (cause
//!    "queue full"). The queue's memory follows its backlog (an idle recording holds
//!    none).
//! 2. The encoder drains up to [`BATCH`] records, serializes their JSON columns and
//!    copies every text column into one buffer (an [`Encoded`] batch), and frees the
//!    records, so the writer binds plain text slices and allocates nothing per row.
//! 3. The writer inserts through cached multi-row `INSERT`s of [`ROWS_PER_INSERT`]
//!    rows (plus a one-row statement for the rest): SQLite runs one statement per
//!    [`ROWS_PER_INSERT`] rows instead of one per row. A transaction takes one batch,
//!    or more while a checkpoint runs (see [`Writer::write`]). Its connection has
//!    `foreign_keys` off: the session's existence is checked once per transaction
//!    instead of once per row (SQLite has one writer at a time, so the session cannot
//!    go away inside the transaction and no orphan row is committed). `finish` ends
//!    the session in the last transaction.
//! 4. The checkpointer copies the WAL back into the database on its own connection,
//!    so checkpoint I/O overlaps the inserts instead of stalling them; the writer's
//!    own auto-checkpoint is off and it asks for a checkpoint every
//!    [`CHECKPOINT_BYTES`]. While checkpoints overlap commits the WAL never starts
//!    over, so once it holds [`WAL_CAP_FRAMES`] the writer lets one checkpoint finish
//!    before its next transaction, which then restarts it: the WAL file stays bounded.
//!
//! Memory stays bounded: [`QUEUE`] records of about [`QUEUE_BYTES`] in all, plus the
//! batches of the open transaction (at most [`MAX_TRANSACTION_ROWS`] rows and about
//! [`MAX_TRANSACTION_BYTES`]) and `2 * IN_FLIGHT + 2` more. WAL mode and
//! `synchronous = NORMAL` are the store's (`Store::connect`) on every connection.
//!
//! Another program writing the same database (the desktop app and the CLI share it;
//! `sessions import`; anything holding a lock) delays the recording and never ends
//! it: the writer takes the write lock up front (`BEGIN IMMEDIATE`, with a
//! `busy_timeout`) and retries with backoff for as long as the lock is held, keeping
//! the open transaction's batches so a lock lost mid-transaction is retried whole.
//! Meanwhile records wait in the queue; only a full queue drops, and says so. Once
//! `finish` is asked, the writer waits at most [`FINISH_PATIENCE`] more for a lock.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Statement};
use sockscope_protocol::EventRecord;

use crate::{is_busy, live, Store};
use crate::{Error, Result};
use sockscope_bus::now_micros;

/// Records the queue holds before it starts dropping (and counting) new ones
/// (public so the benchmark can size a run that overflows it).
pub const QUEUE: usize = 262_144;
/// Estimated bytes (see [`approx_size`]) the queue holds before it starts dropping.
const QUEUE_BYTES: usize = 256 << 20;
/// Text bytes in one transaction at most (its batches are kept until it commits).
const MAX_TRANSACTION_BYTES: usize = 32 << 20;
/// How long the writer's `BEGIN IMMEDIATE` waits inside SQLite before the writer
/// checks whether to keep waiting, and the bounds of its backoff between attempts.
const LOCK_WAIT: Duration = Duration::from_millis(250);
const RETRY_MIN: Duration = Duration::from_millis(10);
const RETRY_MAX: Duration = Duration::from_millis(500);
/// After `finish`, how long the writer still waits for another program's lock before
/// it gives up (and `finish` reports the database as locked).
const FINISH_PATIENCE: Duration = Duration::from_secs(30);
/// Rows per encoded batch at most.
const BATCH: usize = 8_192;
/// Rows per transaction at most (a transaction takes batches while a checkpoint runs).
const MAX_TRANSACTION_ROWS: usize = 8 * BATCH;
/// Text bytes per batch at most (a batch closes early when its payloads are large).
const BATCH_BYTES: usize = 8 << 20;
/// Encoded batches queued between the encoder and the writer.
const IN_FLIGHT: usize = 1;
/// Rows bound into one multi-row `INSERT`.
pub(crate) const ROWS_PER_INSERT: usize = 16;
/// Committed bytes (text plus a per-row allowance) between two checkpoint requests;
/// about SQLite's default auto-checkpoint of 1,000 pages.
const CHECKPOINT_BYTES: usize = 4 << 20;
/// WAL frames (pages) after which the writer lets a checkpoint finish before its next
/// transaction, so that transaction restarts the WAL from its beginning: 64 MiB with
/// 4 KiB pages.
const WAL_CAP_FRAMES: u64 = 16_384;
/// What a row costs in the WAL beyond its text: integers, record header, index entry.
const ROW_OVERHEAD: usize = 48;

/// The writer's `INSERT`. `OR ROLLBACK`: a constraint failure ends the transaction,
/// which is what an error does to a batch anyway, and it spares SQLite the statement
/// journal a multi-row `INSERT` would otherwise keep.
const INSERT: &str = "INSERT OR ROLLBACK INTO events (session_id, seq, ts, source, direction, namespace, event, args, ack, socket_id, rooms, tenant, user, fault, size) VALUES ";
/// Parameters bound per row: every column but `session_id` (`?1`, once per
/// statement) and `seq` (`?2` plus the row's index in the statement).
const ROW_PARAMS: usize = 13;

/// The text columns of a row as they sit in an [`Encoded`] buffer.
const SOURCE: usize = 0;
const NAMESPACE: usize = 1;
const EVENT: usize = 2;
const ARGS: usize = 3;
const ACK: usize = 4;
const SOCKET_ID: usize = 5;
const ROOMS: usize = 6;
const TENANT: usize = 7;
const USER: usize = 8;
const FAULT: usize = 9;
const TEXT_COLUMNS: usize = 10;

/// What a finished recording wrote and dropped. `dropped` is the total of the
/// causes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecorderStats {
    pub session_id: i64,
    pub written: u64,
    pub dropped: u64,
    /// Lost before they reached the recorder: its bus subscription fell behind.
    pub bus_lag: u64,
    /// Dropped because the queue was full (records or bytes).
    pub queue_full: u64,
    /// Given after the writer had stopped on an error (which `finish` reports).
    pub failed: u64,
    /// How many times the writer found the database locked by another program and
    /// waited (nothing is lost by waiting).
    pub lock_waits: u64,
}

/// The recorder's counters, shared with its threads.
#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    bus_lag: AtomicU64,
    queue_full: AtomicU64,
    failed: AtomicU64,
    lock_waits: AtomicU64,
}

/// A record on its way to the encoder, with the estimate its bytes count as.
struct Queued {
    rec: EventRecord,
    size: usize,
}

/// Feeds one session; cheap to call from the network path.
pub struct Recorder {
    session_id: i64,
    tx: Option<Sender<Queued>>,
    /// Records (and estimated bytes) sent on `tx` that the encoder has not taken yet:
    /// the queue's bounds.
    queued: Arc<AtomicUsize>,
    queued_bytes: Arc<AtomicUsize>,
    counters: Arc<Counters>,
    encoder: Option<JoinHandle<rusqlite::Result<()>>>,
    writer: Option<JoinHandle<rusqlite::Result<()>>>,
    /// Keeps the checkpointer running until the writer's connection is closed, so its
    /// connection is the one that closes last and tidies the WAL once.
    checkpoint: Option<SyncSender<Checkpoint>>,
    /// Set by `finish`: the writer ends the session once it has committed everything.
    end: Arc<AtomicBool>,
    checkpointer: Option<JoinHandle<()>>,
    store: Store,
}

impl Recorder {
    /// Starts the encoder, writer and checkpointer threads for session `session_id`
    /// of `store`.
    pub fn start(store: &Store, session_id: i64) -> Result<Self> {
        let conn = store.connect()?;
        // The checkpointer does this connection's checkpoints, and the session is
        // checked once per transaction (see the module docs).
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA foreign_keys = OFF;")
            .map_err(|e| crate::db_error(store.path(), e))?;
        if !live::holds(store.path(), session_id) {
            // A session recorded again (created by `create_session`, the lock is
            // held already): it is `recording` once more, under this process's lock.
            live::hold(store.path(), session_id).map_err(|e| Error::Lock {
                path: store.path().display().to_string(),
                session: session_id,
                source: e,
            })?;
            let reopened = conn.execute(
                "UPDATE sessions SET state = 'recording' WHERE id = ?1",
                [session_id],
            );
            if let Err(e) = reopened {
                live::release(store.path(), session_id);
                return Err(crate::db_error(store.path(), e));
            }
        }
        conn.busy_timeout(LOCK_WAIT)
            .map_err(|e| crate::db_error(store.path(), e))?;
        let ckpt_conn = store.connect()?;

        let (tx, rx) = mpsc::channel();
        let (batch_tx, batch_rx) = mpsc::sync_channel(IN_FLIGHT);
        let (spare_tx, spare_rx) = mpsc::sync_channel(IN_FLIGHT + 1);
        let (ckpt_tx, ckpt_rx) = mpsc::sync_channel(1);
        let queued = Arc::new(AtomicUsize::new(0));
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let counters = Arc::new(Counters::default());
        let end = Arc::new(AtomicBool::new(false));
        let wal_frames = Arc::new(AtomicU64::new(0));

        let spawn = |stage: &str| {
            std::thread::Builder::new().name(format!("recorder-{session_id}-{stage}"))
        };
        let frames = wal_frames.clone();
        let checkpointer = spawn("checkpoint")
            .spawn(move || checkpoint_loop(ckpt_conn, session_id, ckpt_rx, &frames))
            .map_err(Error::Io)?;
        let writer = Writer {
            conn,
            session_id,
            checkpoint: ckpt_tx.clone(),
            wal_frames,
            counters: counters.clone(),
            end: end.clone(),
            open: Vec::new(),
            open_rows: 0,
            open_bytes: 0,
            seq: 0,
            pending: None,
            since_checkpoint: 0,
        };
        let writer = spawn("writer")
            .spawn(move || writer.run(batch_rx, spare_tx))
            .map_err(Error::Io)?;
        let (q, qb) = (queued.clone(), queued_bytes.clone());
        let encoder = spawn("encoder")
            .spawn(move || encode_loop(rx, &q, &qb, batch_tx, spare_rx))
            .map_err(Error::Io)?;
        Ok(Self {
            session_id,
            tx: Some(tx),
            queued,
            queued_bytes,
            counters,
            encoder: Some(encoder),
            writer: Some(writer),
            checkpoint: Some(ckpt_tx),
            end,
            checkpointer: Some(checkpointer),
            store: store.clone(),
        })
    }

    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// Queues a record without blocking; a full queue (records or bytes) drops it
    /// and counts the drop.
    pub fn record(&self, rec: EventRecord) {
        let Some(tx) = &self.tx else { return };
        let size = approx_size(&rec);
        // Take a place first, so the queue never holds more than its bounds.
        let places = self.queued.fetch_add(1, Ordering::Relaxed);
        let bytes = self.queued_bytes.fetch_add(size, Ordering::Relaxed);
        if places >= QUEUE || bytes.saturating_add(size) > QUEUE_BYTES {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
        } else if tx.send(Queued { rec, size }).is_err() {
            // The pipeline stopped on an error (reported by `finish`).
            self.queued.fetch_sub(1, Ordering::Relaxed);
            self.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts `n` events lost before they reached the recorder (a lagging bus reader).
    pub fn note_dropped(&self, n: u64) {
        self.counters.bus_lag.fetch_add(n, Ordering::Relaxed);
    }

    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Everything dropped so far, whatever the cause.
    pub fn dropped(&self) -> u64 {
        let s = self.stats();
        s.dropped
    }

    /// The counts so far.
    pub fn stats(&self) -> RecorderStats {
        let c = &self.counters;
        let bus_lag = c.bus_lag.load(Ordering::Relaxed);
        let queue_full = c.queue_full.load(Ordering::Relaxed);
        let failed = c.failed.load(Ordering::Relaxed);
        RecorderStats {
            session_id: self.session_id,
            written: c.written.load(Ordering::Relaxed),
            dropped: bus_lag + queue_full + failed,
            bus_lag,
            queue_full,
            failed,
            lock_waits: c.lock_waits.load(Ordering::Relaxed),
        }
    }

    /// Flushes what is queued, ends the session (`complete`) and reports the counts.
    pub fn finish(mut self) -> Result<RecorderStats> {
        self.end.store(true, Ordering::Release);
        let ended = self.drain();
        self.stop_checkpointer();
        live::release(self.store.path(), self.session_id);
        ended?;
        let stats = self.stats();
        if stats.dropped > 0 {
            tracing::warn!(
                session = self.session_id,
                dropped = stats.dropped,
                bus_lag = stats.bus_lag,
                queue_full = stats.queue_full,
                "recording dropped events under overload"
            );
        }
        Ok(stats)
    }

    /// Closes the queue and waits for the encoder and the writer to commit what it
    /// held. The writer's error comes first: the encoder only fails after it.
    fn drain(&mut self) -> Result<()> {
        self.tx.take();
        let encoder = self.encoder.take();
        let writer = self.writer.take();
        let encoded = self.join(encoder, "encoder");
        self.join(writer, "writer").and(encoded)
    }

    fn join(&self, stage: Option<JoinHandle<rusqlite::Result<()>>>, name: &str) -> Result<()> {
        match stage.map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(crate::db_error(self.store.path(), e)),
            Some(Err(_)) => Err(Error::RecorderPanicked {
                path: self.store.path().display().to_string(),
                thread: name.to_string(),
            }),
        }
    }

    fn stop_checkpointer(&mut self) {
        self.checkpoint.take();
        if let Some(h) = self.checkpointer.take() {
            if h.join().is_err() {
                tracing::warn!(
                    session = self.session_id,
                    "the recorder's checkpoint thread panicked"
                );
            }
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.drain() {
            tracing::warn!(session = self.session_id, error = %e, "recording stopped with an error");
        }
        self.stop_checkpointer();
        // Not finished: the session stays `recording` with nobody holding it, so the
        // next open of the store marks it interrupted.
        live::release(self.store.path(), self.session_id);
    }
}

/// About how many bytes `r` takes once encoded, without encoding it: its text plus a
/// few bytes per JSON value. Cheap enough for the network path.
fn approx_size(r: &EventRecord) -> usize {
    fn value(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::String(s) => s.len() + 2,
            serde_json::Value::Array(a) => a.iter().map(value).sum::<usize>() + 2,
            serde_json::Value::Object(o) => {
                o.iter().map(|(k, v)| k.len() + 4 + value(v)).sum::<usize>() + 2
            }
            _ => 8,
        }
    }
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    ROW_OVERHEAD
        + r.source.len()
        + r.namespace.len()
        + r.event.len()
        + value(&r.args)
        + r.ack
            .as_ref()
            .map_or(0, |a| 16 + a.reply.as_ref().map_or(0, value))
        + text(&r.socket_id)
        + text(&r.tenant)
        + text(&r.user)
        + r.rooms.iter().map(|room| room.len() + 3).sum::<usize>()
}

/// One batch of rows ready to bind. Every text column of every row lives in one
/// buffer, so a batch costs a couple of allocations however many rows it holds, and
/// the buffers are reused from batch to batch.
#[derive(Debug, Default)]
pub(crate) struct Encoded {
    text: String,
    rows: Vec<Row>,
}

/// A row of an [`Encoded`] batch: its integers, and where its text columns end in the
/// batch's buffer (each starts where the previous one ends, the first at `start`).
#[derive(Debug, Clone, Copy)]
struct Row {
    ts: i64,
    direction: &'static str,
    start: usize,
    ends: [usize; TEXT_COLUMNS],
    /// Bit `c` set: text column `c` is NULL.
    nulls: u16,
}

/// Builds an [`Encoded`] batch; the text is bytes until [`Builder::seal`] checks it
/// once, as a whole.
#[derive(Debug, Default)]
struct Builder {
    buf: Vec<u8>,
    rows: Vec<Row>,
}

impl Builder {
    fn reuse(spare: Encoded) -> Self {
        let mut buf = spare.text.into_bytes();
        buf.clear();
        let mut rows = spare.rows;
        rows.clear();
        Self { buf, rows }
    }

    fn full(&self) -> bool {
        self.rows.len() >= BATCH || self.buf.len() >= BATCH_BYTES
    }

    /// Appends `r` as the batch's next row.
    fn push(&mut self, r: &EventRecord) {
        let buf = &mut self.buf;
        let start = buf.len();
        let mut row = Row {
            ts: r.ts,
            direction: r.direction.as_str(),
            start,
            ends: [start; TEXT_COLUMNS],
            nulls: 0,
        };
        row.text(SOURCE, buf, Some(&r.source));
        row.text(NAMESPACE, buf, Some(&r.namespace));
        row.text(EVENT, buf, Some(&r.event));
        row.json(ARGS, buf, Some(&r.args));
        row.json(ACK, buf, r.ack.as_ref());
        row.text(SOCKET_ID, buf, r.socket_id.as_deref());
        row.json(ROOMS, buf, Some(&r.rooms).filter(|rooms| !rooms.is_empty()));
        row.text(TENANT, buf, r.tenant.as_deref());
        row.text(USER, buf, r.user.as_deref());
        row.text(FAULT, buf, r.fault.as_deref());
        self.rows.push(row);
    }

    /// Checks the text once for the whole batch (it is UTF-8 by construction).
    fn seal(self) -> rusqlite::Result<Encoded> {
        let text =
            String::from_utf8(self.buf).map_err(|e| rusqlite::Error::Utf8Error(e.utf8_error()))?;
        Ok(Encoded {
            text,
            rows: self.rows,
        })
    }
}

impl Row {
    /// Appends text column `c` (`None`: NULL).
    fn text(&mut self, c: usize, buf: &mut Vec<u8>, value: Option<&str>) {
        match value {
            Some(s) => buf.extend_from_slice(s.as_bytes()),
            None => self.nulls |= 1 << c,
        }
        self.ends[c] = buf.len();
    }

    /// Appends column `c` as JSON (`None`: NULL). A value that cannot be serialized
    /// (serde_json's own values always can) is stored as `null` rather than failing
    /// the recording.
    fn json(&mut self, c: usize, buf: &mut Vec<u8>, value: Option<&impl serde::Serialize>) {
        match value {
            Some(v) => {
                let mark = buf.len();
                if let Err(e) = serde_json::to_writer(&mut *buf, v) {
                    tracing::warn!(column = c, error = %e, "a recorded value could not be serialized; stored as null");
                    buf.truncate(mark);
                    buf.extend_from_slice(b"null");
                }
            }
            None => self.nulls |= 1 << c,
        }
        self.ends[c] = buf.len();
    }
}

impl Encoded {
    /// Encodes `records` in order.
    fn from_records(records: &[EventRecord]) -> rusqlite::Result<Self> {
        let mut b = Builder::default();
        for r in records {
            b.push(r);
        }
        b.seal()
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    /// Column `c` of `row`, `None` for NULL.
    fn column(&self, row: &Row, c: usize) -> rusqlite::Result<Option<&str>> {
        if row.nulls & (1 << c) != 0 {
            return Ok(None);
        }
        let from = if c == 0 { row.start } else { row.ends[c - 1] };
        self.text
            .get(from..row.ends[c])
            .map(Some)
            .ok_or_else(|| rusqlite::Error::InvalidColumnIndex(c))
    }

    /// Binds `row` as row `i` of a statement from [`insert_sql`]. A text column
    /// whose value is already bound in its place (the same column of the row bound
    /// there by the statement's last execution: source, namespace, event, tenant
    /// are usually the same from row to row) is not bound again; `args` always is.
    fn bind(
        &self,
        st: &mut Statement<'_>,
        bound: &mut Bound,
        i: usize,
        row: &Row,
    ) -> rusqlite::Result<()> {
        let first = 3 + i * ROW_PARAMS;
        st.raw_bind_parameter(first, row.ts)?;
        bound.text(st, first + 1, self.column(row, SOURCE)?)?;
        bound.text(st, first + 2, Some(row.direction))?;
        for c in NAMESPACE..TEXT_COLUMNS {
            let param = first + 2 + c;
            let value = self.column(row, c)?;
            if c == ARGS {
                // Different in every row: comparing would only cost a copy.
                st.raw_bind_parameter(param, value)?;
                bound.forget(param);
            } else {
                bound.text(st, param, value)?;
            }
        }
        let size = row.ends[ARGS] - row.ends[ARGS - 1];
        st.raw_bind_parameter(first + 12, size as i64)
    }
}

/// What each text parameter of a statement holds. Bindings outlive an execution,
/// so a value (or NULL) already in place is not bound again; a statement fresh from
/// the cache has every parameter NULL (the cache clears them).
struct Bound(Vec<Slot>);

#[derive(Clone)]
enum Slot {
    Null,
    Text(String),
    /// Bound without being tracked (`args`).
    Unknown,
}

impl Bound {
    fn all_null() -> Self {
        Self(vec![Slot::Null; 3 + ROWS_PER_INSERT * ROW_PARAMS])
    }

    /// Binds `value` (`None`: NULL) at `param` unless it is there already.
    fn text(
        &mut self,
        st: &mut Statement<'_>,
        param: usize,
        value: Option<&str>,
    ) -> rusqlite::Result<()> {
        let Some(slot) = self.0.get_mut(param) else {
            return st.raw_bind_parameter(param, value);
        };
        match (slot, value) {
            (Slot::Null, None) => Ok(()),
            (Slot::Text(held), Some(v)) if held == v => Ok(()),
            (Slot::Text(held), Some(v)) => {
                st.raw_bind_parameter(param, v)?;
                held.clear();
                held.push_str(v);
                Ok(())
            }
            (slot, Some(v)) => {
                st.raw_bind_parameter(param, v)?;
                *slot = Slot::Text(v.to_owned());
                Ok(())
            }
            (slot, None) => {
                st.raw_bind_parameter(param, rusqlite::types::Null)?;
                *slot = Slot::Null;
                Ok(())
            }
        }
    }

    fn forget(&mut self, param: usize) {
        if let Some(slot) = self.0.get_mut(param) {
            *slot = Slot::Unknown;
        }
    }
}

/// `INSERT ... VALUES` for `rows` rows: row `i` is `(?1, ?2 + i, ` and its own
/// [`ROW_PARAMS`] numbered parameters `)`.
pub fn insert_sql(rows: usize) -> String {
    use std::fmt::Write as _;
    let mut sql = String::with_capacity(INSERT.len() + rows * 80);
    sql.push_str(INSERT);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        if i == 0 {
            sql.push_str("(?1, ?2");
        } else {
            let _ = write!(sql, "(?1, ?2 + {i}");
        }
        for p in 0..ROW_PARAMS {
            let _ = write!(sql, ", ?{}", 3 + i * ROW_PARAMS + p);
        }
        sql.push(')');
    }
    sql
}

/// The SQL the writer caches: one statement for [`ROWS_PER_INSERT`] rows, one for a
/// single row.
struct Sql {
    multi: String,
    single: String,
}

impl Sql {
    fn new() -> Self {
        Self {
            multi: insert_sql(ROWS_PER_INSERT),
            single: insert_sql(1),
        }
    }
}

/// Stage 2: records in, encoded batches out. Returns when the queue closes (after
/// handing over the last batch) or the writer has gone.
fn encode_loop(
    rx: Receiver<Queued>,
    queued: &AtomicUsize,
    queued_bytes: &AtomicUsize,
    out: SyncSender<Encoded>,
    spare: Receiver<Encoded>,
) -> rusqlite::Result<()> {
    let mut open = true;
    while open {
        let mut b = spare.try_recv().map(Builder::reuse).unwrap_or_default();
        let mut bytes = 0;
        match rx.recv() {
            Ok(first) => {
                bytes += first.size;
                b.push(&first.rec);
            }
            Err(_) => break,
        }
        while !b.full() {
            match rx.try_recv() {
                Ok(q) => {
                    bytes += q.size;
                    b.push(&q.rec);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        queued.fetch_sub(b.rows.len(), Ordering::Relaxed);
        queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        if out.send(b.seal()?).is_err() {
            // The writer stopped (its error is reported by `finish`); dropping the
            // queue makes `record` count what still comes as dropped.
            break;
        }
    }
    Ok(())
}

/// A checkpoint request, answered on `done` once the checkpoint has run.
struct Checkpoint {
    done: SyncSender<()>,
}

/// Stage 3: the writer's connection, what it shares with the other stages, and the
/// transaction it has open.
struct Writer {
    conn: Connection,
    session_id: i64,
    checkpoint: SyncSender<Checkpoint>,
    /// The WAL's size in frames, as the last checkpoint found it.
    wal_frames: Arc<AtomicU64>,
    counters: Arc<Counters>,
    end: Arc<AtomicBool>,
    /// The batches of the open transaction (empty: none open), kept until it
    /// commits so that a lock lost mid-transaction can retry it whole; their rows and
    /// text bytes; the last `seq` given.
    open: Vec<Encoded>,
    open_rows: usize,
    open_bytes: usize,
    seq: i64,
    /// The checkpoint asked for after the last commit, while it runs or until the
    /// writer learns it is done.
    pending: Option<Receiver<()>>,
    /// Bytes committed since the last checkpoint request.
    since_checkpoint: usize,
}

impl Writer {
    /// Writes until the encoder is done; then, if `finish` asked, ends the session in
    /// the last transaction (no extra connection, commit or checkpoint). On an error
    /// the open transaction is rolled back.
    fn run(
        mut self,
        batches: Receiver<Encoded>,
        spare: SyncSender<Encoded>,
    ) -> rusqlite::Result<()> {
        let written = self.write(&batches, &spare);
        if written.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        written
    }

    /// Batches go into the open transaction, which commits after each batch unless a
    /// checkpoint is running: then it keeps taking batches until the checkpoint is
    /// done, no batch is waiting, or it holds [`MAX_TRANSACTION_ROWS`] (or
    /// [`MAX_TRANSACTION_BYTES`]). A checkpoint that sees no commit while it runs
    /// copies the whole WAL and syncs the database file, so the file is flushed while
    /// the recording goes instead of all at its end, and the writer never waits for a
    /// checkpoint while it has rows to insert.
    fn write(
        &mut self,
        batches: &Receiver<Encoded>,
        spare: &SyncSender<Encoded>,
    ) -> rusqlite::Result<()> {
        let sql = Sql::new();
        loop {
            let next = if self.open.is_empty() {
                batches.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                batches.try_recv()
            };
            match next {
                Ok(batch) => {
                    if self.open.is_empty() {
                        self.begin()?;
                    }
                    self.insert(&sql, batch)?;
                    if self.checkpoint_done()
                        || self.open_rows >= MAX_TRANSACTION_ROWS
                        || self.open_bytes >= MAX_TRANSACTION_BYTES
                    {
                        self.commit(&sql, false, spare)?;
                    }
                }
                Err(TryRecvError::Empty) => self.commit(&sql, false, spare)?,
                Err(TryRecvError::Disconnected) => break,
            }
        }
        let end = self.end.load(Ordering::Acquire);
        if end && self.open.is_empty() {
            self.begin()?;
        }
        if !self.open.is_empty() || end {
            self.commit(&sql, end, spare)?;
        }
        Ok(())
    }

    /// Inserts `batch` into the open transaction and keeps it there until commit. A
    /// lock lost on the way restarts the transaction (see [`Writer::restart`]).
    fn insert(&mut self, sql: &Sql, batch: Encoded) -> rusqlite::Result<()> {
        loop {
            match insert_rows(&self.conn, sql, self.session_id, &mut self.seq, &batch) {
                Ok(()) => break,
                Err(e) if is_busy(&e) => self.restart(sql)?,
                Err(e) => return Err(e),
            }
        }
        self.open_rows += batch.len();
        self.open_bytes += batch.text.len();
        self.since_checkpoint += batch.text.len() + batch.len() * ROW_OVERHEAD;
        self.open.push(batch);
        Ok(())
    }

    /// Rolls the open transaction back, waits for the lock again and re-inserts the
    /// batches it held.
    fn restart(&mut self, sql: &Sql) -> rusqlite::Result<()> {
        tracing::debug!(
            session = self.session_id,
            rows = self.open_rows,
            "lock lost mid-transaction; retrying it"
        );
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        'retry: loop {
            self.begin()?;
            for batch in &self.open {
                match insert_rows(&self.conn, sql, self.session_id, &mut self.seq, batch) {
                    Ok(()) => {}
                    Err(e) if is_busy(&e) => {
                        let _ = self.conn.execute_batch("ROLLBACK");
                        continue 'retry;
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        }
    }

    /// Opens a write transaction, waiting for as long as another program holds the
    /// lock (with [`LOCK_WAIT`] inside SQLite and a backoff between attempts); once
    /// `finish` has asked, for at most [`FINISH_PATIENCE`] more.
    fn begin(&mut self) -> rusqlite::Result<()> {
        if self.wal_frames.load(Ordering::Relaxed) >= WAL_CAP_FRAMES {
            // A checkpoint that started after the last commit, done before this
            // transaction begins: this transaction writes the WAL from its start.
            wait(self.pending.take());
            wait(self.request_checkpoint());
            self.wal_frames.store(0, Ordering::Relaxed);
            tracing::debug!(session = self.session_id, "recording WAL restarted");
        }
        let mut backoff = RETRY_MIN;
        let mut locked_since: Option<Instant> = None;
        let mut finishing_since: Option<Instant> = None;
        loop {
            match self.conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => break,
                Err(e) if is_busy(&e) => {
                    let since = *locked_since.get_or_insert_with(|| {
                        self.counters.lock_waits.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            session = self.session_id,
                            "database locked by another program; events wait in the queue"
                        );
                        Instant::now()
                    });
                    if self.end.load(Ordering::Acquire) {
                        let finishing = *finishing_since.get_or_insert_with(Instant::now);
                        if finishing.elapsed() >= FINISH_PATIENCE {
                            tracing::error!(
                                session = self.session_id,
                                waited_ms = since.elapsed().as_millis() as u64,
                                "database still locked; giving up"
                            );
                            return Err(e);
                        }
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(since) = locked_since {
            tracing::warn!(
                session = self.session_id,
                waited_ms = since.elapsed().as_millis() as u64,
                "database lock cleared; writing resumed"
            );
        }
        self.seq = last_seq(&self.conn, self.session_id)?;
        Ok(())
    }

    /// Commits the open transaction, ending the session in it if `end` (the last
    /// commit, which lets a running checkpoint finish first so it covers all but this
    /// transaction). Asks for the next checkpoint once the last one is done and
    /// [`CHECKPOINT_BYTES`] more are committed. The transaction's batches go back to
    /// the encoder to be reused.
    fn commit(
        &mut self,
        sql: &Sql,
        end: bool,
        spare: &SyncSender<Encoded>,
    ) -> rusqlite::Result<()> {
        if end {
            wait(self.pending.take());
        }
        loop {
            let committed = if end {
                self.conn
                    .execute(
                        "UPDATE sessions SET ended_at = ?2, state = 'complete' WHERE id = ?1",
                        params![self.session_id, now_micros()],
                    )
                    .and_then(|_| self.conn.execute_batch("COMMIT"))
            } else {
                self.conn.execute_batch("COMMIT")
            };
            match committed {
                Ok(()) => break,
                Err(e) if is_busy(&e) => self.restart(sql)?,
                Err(e) => return Err(e),
            }
        }
        self.counters
            .written
            .fetch_add(self.open_rows as u64, Ordering::Relaxed);
        self.open_rows = 0;
        self.open_bytes = 0;
        for batch in self.open.drain(..) {
            let _ = spare.try_send(batch);
        }
        if !end && self.since_checkpoint >= CHECKPOINT_BYTES && self.checkpoint_done() {
            self.pending = self.request_checkpoint();
            self.since_checkpoint = 0;
        }
        Ok(())
    }

    /// Whether the pending checkpoint (if any) is done, without waiting.
    fn checkpoint_done(&mut self) -> bool {
        let done = match &self.pending {
            None => true,
            Some(p) => !matches!(p.try_recv(), Err(TryRecvError::Empty)),
        };
        if done {
            self.pending = None;
        }
        done
    }

    /// Asks for a checkpoint; `None` if the checkpointer is gone.
    fn request_checkpoint(&self) -> Option<Receiver<()>> {
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        self.checkpoint
            .send(Checkpoint { done: done_tx })
            .ok()
            .map(|()| done_rx)
    }
}

/// Waits for a requested checkpoint to finish (or its thread to be gone).
fn wait(checkpoint: Option<Receiver<()>>) {
    if let Some(done) = checkpoint {
        let _ = done.recv();
    }
}

/// Stage 4: checkpoints on request on its own connection. A failed checkpoint loses
/// nothing (the WAL still has the rows); it is logged. The connection closes when the
/// recorder is done; if it is the database's last one, SQLite checkpoints what is
/// left and removes the WAL then.
fn checkpoint_loop(
    conn: Connection,
    session_id: i64,
    requests: Receiver<Checkpoint>,
    frames: &AtomicU64,
) {
    let run = || match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    }) {
        Ok((busy, wal_frames, checkpointed)) => {
            frames.store(wal_frames.max(0) as u64, Ordering::Relaxed);
            tracing::trace!(
                session = session_id,
                busy,
                wal_frames,
                checkpointed,
                "recording checkpoint"
            );
        }
        Err(e) => tracing::warn!(session = session_id, error = %e, "recording checkpoint failed"),
    };
    while let Ok(request) = requests.recv() {
        run();
        let _ = request.done.send(());
    }
}

/// Inserts `records` in one transaction with cached multi-row statements; `seq` is the
/// record's position within the session (1-based, continuing after what is there).
pub(crate) fn insert_batch(
    conn: &mut Connection,
    session_id: i64,
    records: &[EventRecord],
) -> rusqlite::Result<()> {
    let sql = Sql::new();
    // IMMEDIATE: the write lock first (waiting out `busy_timeout`), so a recorder
    // committing between this transaction's read and its first write cannot make it
    // fail at once with a stale snapshot.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut seq = last_seq(&tx, session_id)?;
    for chunk in records.chunks(BATCH) {
        insert_rows(
            &tx,
            &sql,
            session_id,
            &mut seq,
            &Encoded::from_records(chunk)?,
        )?;
    }
    tx.commit()
}

/// The session's last `seq` (0 when empty), inside a transaction. Also checks the
/// session exists: the writer's connection leaves foreign keys to this check, once
/// per transaction, rather than once per row.
fn last_seq(conn: &Connection, session_id: i64) -> rusqlite::Result<i64> {
    let (seq, session): (i64, bool) = conn.query_row(
        "SELECT (SELECT COALESCE(MAX(seq), 0) FROM events WHERE session_id = ?1),
                EXISTS (SELECT 1 FROM sessions WHERE id = ?1)",
        [session_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if !session {
        // What the per-row foreign key check would have said.
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            Some(format!(
                "FOREIGN KEY constraint failed: no session {session_id}"
            )),
        ));
    }
    Ok(seq)
}

/// Inserts `batch` after `seq` (which it advances) with the cached statements, in the
/// transaction open on `conn`.
fn insert_rows(
    conn: &Connection,
    sql: &Sql,
    session_id: i64,
    seq: &mut i64,
    batch: &Encoded,
) -> rusqlite::Result<()> {
    let mut groups = batch.rows.chunks_exact(ROWS_PER_INSERT);
    let mut multi = conn.prepare_cached(&sql.multi)?;
    let mut bound = Bound::all_null();
    multi.raw_bind_parameter(1, session_id)?;
    for group in &mut groups {
        multi.raw_bind_parameter(2, *seq + 1)?;
        for (i, row) in group.iter().enumerate() {
            batch.bind(&mut multi, &mut bound, i, row)?;
        }
        multi.raw_execute()?;
        *seq += group.len() as i64;
    }
    if !groups.remainder().is_empty() {
        let mut single = conn.prepare_cached(&sql.single)?;
        let mut bound = Bound::all_null();
        single.raw_bind_parameter(1, session_id)?;
        for row in groups.remainder() {
            *seq += 1;
            single.raw_bind_parameter(2, *seq)?;
            batch.bind(&mut single, &mut bound, 0, row)?;
            single.raw_execute()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;
    use sockscope_protocol::Direction;
    use sockscope_test_support::{ack, Event};

    fn record(i: usize) -> EventRecord {
        let socket = i.is_multiple_of(2).then(|| format!("sock-{i}"));
        let rooms = if i.is_multiple_of(3) {
            vec![format!("room-{i}"), "all".into()]
        } else {
            vec![]
        };
        Event::new(
            &format!("e{}", i % 5),
            json!([{ "i": i, "text": "é \"quoted\" ✓" }]),
        )
        .ts(1_000 + i as i64)
        .source(&format!("connection:{}", i % 3))
        .direction(if i.is_multiple_of(2) {
            Direction::S2c
        } else {
            Direction::C2s
        })
        .namespace("/ns")
        .ack(
            i.is_multiple_of(7)
                .then(|| ack(i as u64, json!({ "ok": i }))),
        )
        .socket(socket.as_deref())
        .rooms(rooms)
        .tenant(i.is_multiple_of(4).then_some("acme"))
        .user(i.is_multiple_of(5).then_some(""))
        .build()
    }

    #[test]
    fn multi_row_batches_write_every_record_in_order() {
        let dir = sockscope_test_support::scratch("recorder", "batches");
        let store = Store::open(dir.join("t.db")).unwrap();
        let id = store.create_session("t", "import", "", json!({})).unwrap();
        let mut conn = store.connect().unwrap();
        // Not multiples of ROWS_PER_INSERT: whole groups, a remainder, only a remainder.
        let sizes = [
            ROWS_PER_INSERT * 3 + 5,
            ROWS_PER_INSERT - 1,
            1,
            ROWS_PER_INSERT,
        ];
        let mut all = Vec::new();
        for n in sizes {
            let records: Vec<EventRecord> = (all.len()..all.len() + n).map(record).collect();
            insert_batch(&mut conn, id, &records).unwrap();
            all.extend(records);
        }
        let got = store.events(id).unwrap();
        assert_eq!(got.len(), all.len());
        for (i, (got, want)) in got.iter().zip(&all).enumerate() {
            assert_eq!(got.seq, i as u64 + 1);
            assert_eq!(
                EventRecord {
                    seq: 0,
                    ..got.clone()
                },
                *want,
                "record {i} differs"
            );
        }
        let sizes: Vec<i64> = conn
            .prepare("SELECT size FROM events WHERE session_id = ?1 ORDER BY seq")
            .unwrap()
            .query_map([id], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for (size, want) in sizes.iter().zip(&all) {
            assert_eq!(*size as usize, want.args.to_string().len());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
