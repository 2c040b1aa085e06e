//! Capture a bus into a recording: the one loop behind the app's Record button
//! ([`crate::recording`]), `sockscope connect/record`, `serve --record` and
//! `admin record`. Before it, each of them drained its own bus subscription into a
//! [`Recorder`] with its own idea of limits, stopping and lag.
//!
//! A task drains its own subscription into the recorder; it never blocks the bus (a
//! reader that falls behind loses records, and the loss is counted as dropped). The
//! caller chooses what is kept ([`CaptureOptions::source`]), how many
//! ([`CaptureOptions::limit`]), and may watch each record as it is kept
//! ([`CaptureOptions::on_record`], e.g. to print it). Stopping keeps what reached the
//! bus before the stop, flushes and ends the session.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockscope_protocol::EventRecord;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use crate::store::{Recorder, RecorderStats, Store};
use crate::{Error, Result};

/// Called with each record before it is kept; an error ends the capture, and
/// [`Capture::stop`] returns it once the session is closed.
pub type OnRecord = Box<dyn FnMut(&EventRecord) -> std::io::Result<()> + Send>;

/// The session a capture creates.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub name: String,
    /// `connection`, `gateway`, `admin`...
    pub kind: String,
    pub target: String,
    pub meta: serde_json::Value,
}

/// What a capture keeps and who watches it.
#[derive(Default)]
pub struct CaptureOptions {
    /// Only records of this bus source (`gateway`, `connection:<id>`...).
    pub source: Option<String>,
    /// Stop after this many records.
    pub limit: Option<u64>,
    pub on_record: Option<OnRecord>,
}

/// Why [`Capture::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The limit was reached.
    Full,
    /// The duration passed.
    Elapsed,
    /// The caller's stop future resolved (Ctrl-C...).
    Stopped,
}

/// A recording in progress.
pub struct Capture {
    recorder: Arc<Recorder>,
    /// Records given to the recorder so far.
    seen: Arc<AtomicU64>,
    /// True once `limit` records were kept (or the watcher failed).
    full: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Drain>,
    limit: Option<u64>,
    source: Option<String>,
    /// The first error of `on_record`.
    failed: Arc<Mutex<Option<std::io::Error>>>,
}

/// What the task hands back for the final drain.
struct Drain {
    rx: broadcast::Receiver<EventRecord>,
    on_record: Option<OnRecord>,
}

impl Capture {
    /// Creates the session in `store` and starts capturing `rx` into it.
    pub fn into_session(
        store: &Store,
        session: &NewSession,
        rx: broadcast::Receiver<EventRecord>,
        opts: CaptureOptions,
    ) -> Result<Self> {
        let id = store.create_session(
            &session.name,
            &session.kind,
            &session.target,
            session.meta.clone(),
        )?;
        let recorder = Recorder::start(store, id)?;
        tracing::info!(session = id, name = %session.name, kind = %session.kind, "capture started");
        Ok(Self::start(recorder, rx, opts))
    }

    /// Starts capturing what `rx` receives into `recorder`'s session.
    pub fn start(
        recorder: Recorder,
        mut rx: broadcast::Receiver<EventRecord>,
        opts: CaptureOptions,
    ) -> Self {
        let CaptureOptions {
            source,
            limit,
            mut on_record,
        } = opts;
        let recorder = Arc::new(recorder);
        let seen = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(Mutex::new(None));
        let (full_tx, full) = watch::channel(limit == Some(0));
        let (stop, mut stop_rx) = oneshot::channel();
        let (sink, count, filter, fail) = (
            recorder.clone(),
            seen.clone(),
            source.clone(),
            failed.clone(),
        );
        let task = tokio::spawn(async move {
            if limit == Some(0) {
                return Drain { rx, on_record };
            }
            loop {
                tokio::select! {
                    biased;
                    _ = &mut stop_rx => break,
                    next = rx.recv() => match next {
                        Ok(rec) => {
                            if !wanted(filter.as_deref(), &rec) {
                                continue;
                            }
                            if let Err(e) = watch_one(&mut on_record, &rec) {
                                set_failed(&fail, e);
                                let _ = full_tx.send(true);
                                break;
                            }
                            sink.record(rec);
                            let n = count.fetch_add(1, Ordering::Relaxed) + 1;
                            if limit.is_some_and(|l| n >= l) {
                                let _ = full_tx.send(true);
                                break;
                            }
                        }
                        Err(RecvError::Lagged(n)) => sink.note_dropped(n),
                        Err(RecvError::Closed) => break,
                    },
                }
            }
            Drain { rx, on_record }
        });
        Self {
            recorder,
            seen,
            full,
            stop: Some(stop),
            task,
            limit,
            source,
            failed,
        }
    }

    /// The session being written.
    pub fn session_id(&self) -> i64 {
        self.recorder.session_id()
    }

    /// Records given to the recorder so far.
    pub fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Records written to the store so far.
    pub fn written(&self) -> u64 {
        self.recorder.written()
    }

    /// Records lost so far (bus lag, queue full).
    pub fn dropped(&self) -> u64 {
        self.recorder.dropped()
    }

    /// Resolves once the limit is reached or the watcher failed (never otherwise).
    pub async fn full(&mut self) {
        if self.full.wait_for(|f| *f).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Captures until the limit, `duration` or `stop`, whichever comes first, then
    /// stops (see [`Capture::stop`]).
    pub async fn run(
        mut self,
        duration: Option<Duration>,
        stop: impl Future<Output = ()>,
    ) -> Result<(Ended, RecorderStats)> {
        let ended = {
            let elapsed = async {
                match duration {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.full() => Ended::Full,
                () = elapsed => Ended::Elapsed,
                () = stop => Ended::Stopped,
            }
        };
        Ok((ended, self.stop().await?))
    }

    /// Stops: keeps what reached the bus before the call (up to the limit), flushes
    /// everything, ends the session and reports the counts. An error of the
    /// `on_record` watcher is returned after the session is closed.
    pub async fn stop(mut self) -> Result<RecorderStats> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Drain {
                mut rx,
                mut on_record,
            }) if !has_failed(&self.failed) => loop {
                if self.limit.is_some_and(|l| self.seen() >= l) {
                    break;
                }
                match rx.try_recv() {
                    Ok(rec) => {
                        if !wanted(self.source.as_deref(), &rec) {
                            continue;
                        }
                        if let Err(e) = watch_one(&mut on_record, &rec) {
                            set_failed(&self.failed, e);
                            break;
                        }
                        self.recorder.record(rec);
                        self.seen.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TryRecvError::Lagged(n)) => self.recorder.note_dropped(n),
                    Err(_) => break,
                }
            },
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "capture task ended abnormally"),
        }
        let recorder = Arc::try_unwrap(self.recorder)
            .map_err(|_| Error::Io(std::io::Error::other("the recording task did not stop")))?;
        let stats = tokio::task::spawn_blocking(move || recorder.finish())
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))??;
        tracing::info!(
            session = stats.session_id,
            written = stats.written,
            dropped = stats.dropped,
            "capture stopped"
        );
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(e) = failed {
            return Err(Error::Io(e));
        }
        Ok(stats)
    }
}

fn wanted(source: Option<&str>, rec: &EventRecord) -> bool {
    source.is_none_or(|s| s == rec.source)
}

fn watch_one(on_record: &mut Option<OnRecord>, rec: &EventRecord) -> std::io::Result<()> {
    match on_record {
        Some(f) => f(rec),
        None => Ok(()),
    }
}

fn set_failed(slot: &Mutex<Option<std::io::Error>>, e: std::io::Error) {
    slot.lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert(e);
}

fn has_failed(slot: &Mutex<Option<std::io::Error>>) -> bool {
    slot.lock().unwrap_or_else(|p| p.into_inner()).is_some()
}
