//! The batched writer behind every recording.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::{params, Connection};
use sockscope_protocol::EventRecord;

use super::Store;
use crate::{Error, Result};

/// Records the queue holds before it starts dropping (and counting) new ones.
const QUEUE: usize = 262_144;
/// Records per transaction at most.
const BATCH: usize = 8_192;

/// What a finished recording wrote and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecorderStats {
    pub session_id: i64,
    pub written: u64,
    pub dropped: u64,
}

/// Feeds one session; cheap to call from the network path.
pub struct Recorder {
    session_id: i64,
    tx: Option<SyncSender<EventRecord>>,
    written: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    writer: Option<JoinHandle<Result<()>>>,
    store: Store,
}

impl Recorder {
    /// Starts the writer thread for session `session_id` of `store`.
    pub fn start(store: &Store, session_id: i64) -> Result<Self> {
        let conn = store.connect()?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let w = written.clone();
        let path = store.path().to_owned();
        let writer = std::thread::Builder::new()
            .name(format!("recorder-{session_id}"))
            .spawn(move || {
                write_loop(conn, session_id, rx, w).map_err(|e| super::db_error(&path, e))
            })
            .map_err(Error::Io)?;
        Ok(Self {
            session_id,
            tx: Some(tx),
            written,
            dropped: Arc::new(AtomicU64::new(0)),
            writer: Some(writer),
            store: store.clone(),
        })
    }

    pub fn session_id(&self) -> i64 {
        self.session_id
    }

    /// Queues a record without blocking; a full queue drops it and counts the drop.
    pub fn record(&self, rec: EventRecord) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(rec) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Counts `n` events lost before they reached the recorder (a lagging bus reader).
    pub fn note_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Flushes what is queued, ends the session and reports the counts.
    pub fn finish(mut self) -> Result<RecorderStats> {
        self.tx.take();
        if let Some(w) = self.writer.take() {
            w.join().map_err(|_| Error::Db {
                path: self.store.path().display().to_string(),
                message: "the recorder thread panicked".into(),
            })??;
        }
        self.store.end_session(self.session_id)?;
        let dropped = self.dropped();
        if dropped > 0 {
            tracing::warn!(
                session = self.session_id,
                dropped,
                "recording dropped events under overload"
            );
        }
        Ok(RecorderStats {
            session_id: self.session_id,
            written: self.written(),
            dropped,
        })
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

fn write_loop(
    mut conn: Connection,
    session_id: i64,
    rx: Receiver<EventRecord>,
    written: Arc<AtomicU64>,
) -> rusqlite::Result<()> {
    let mut batch = Vec::with_capacity(BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        insert_batch(&mut conn, session_id, &batch)?;
        written.fetch_add(batch.len() as u64, Ordering::Relaxed);
        batch.clear();
    }
    Ok(())
}

/// Inserts `records` in one transaction with a cached statement; `seq` is the
/// record's position within the session (1-based, continuing after what is there).
pub(crate) fn insert_batch(
    conn: &mut Connection,
    session_id: i64,
    records: &[EventRecord],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let next: i64 = tx.query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE session_id = ?1",
            [session_id],
            |r| r.get(0),
        )?;
        let mut st = tx.prepare_cached(
            "INSERT INTO events (session_id, seq, ts, source, direction, namespace, event, args, ack, socket_id, rooms, tenant, user, size)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?;
        for (i, r) in records.iter().enumerate() {
            let args = r.args.to_string();
            let ack = r.ack.as_ref().and_then(|a| serde_json::to_string(a).ok());
            let rooms =
                (!r.rooms.is_empty()).then(|| serde_json::to_string(&r.rooms).unwrap_or_default());
            let size = args.len() as i64;
            st.execute(params![
                session_id,
                next + i as i64 + 1,
                r.ts,
                r.source,
                r.direction.as_str(),
                r.namespace,
                r.event,
                args,
                ack,
                r.socket_id,
                rooms,
                r.tenant,
                r.user,
                size,
            ])?;
        }
    }
    tx.commit()
}
