//! The printing side of a capture in `connect`, `record` and `serve`: [`Printer`],
//! which writes event lines on its own thread, and the final counts' line. The
//! recording itself is the engine's use case (`usecase::capture::Capture`), reading
//! its own bus subscription. A slow terminal makes the printer skip lines (it says
//! how many) but never blocks the runtime or makes the recording lose events; only
//! the recording's own lag counts as lost.

use std::io::Write;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use sockscope_engine::store::RecorderStats;
use sockscope_protocol::EventRecord;

use crate::error::{CliError, Result};
use crate::output;

/// Lines the printer's thread may have waiting before the printer skips.
const PRINT_QUEUE: usize = 8_192;
/// At most one "printer skipped" note this often.
const SKIP_NOTE_EVERY: Duration = Duration::from_secs(1);

/// Writes event lines to stdout on a thread of its own, so a slow terminal never
/// blocks the async runtime: when the thread falls [`PRINT_QUEUE`] lines behind,
/// lines are skipped and counted, and stderr says so (at most once a second).
pub struct Printer {
    tx: Option<SyncSender<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    json: bool,
    skipped: u64,
    unreported: u64,
    noted: Option<Instant>,
    /// Said after "printer skipped N lines", e.g. that the recording keeps them.
    note: &'static str,
}

impl Printer {
    /// Starts the printing thread; with `bar`, lines are printed around it.
    pub fn start(
        json: bool,
        bar: Option<indicatif::ProgressBar>,
        note: &'static str,
    ) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(PRINT_QUEUE);
        let thread = std::thread::Builder::new()
            .name("printer".into())
            .spawn(move || print_loop(&rx, bar.as_ref()))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            json,
            skipped: 0,
            unreported: 0,
            noted: None,
            note,
        })
    }

    /// Queues `rec`'s line; skips it (counted) when the thread is too far behind.
    pub fn print(&mut self, rec: &EventRecord) -> Result<()> {
        let mut line = Vec::with_capacity(128);
        output::event_line(&mut line, rec, self.json)?;
        let Some(tx) = &self.tx else { return Ok(()) };
        match tx.try_send(line) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.skip(1);
                Ok(())
            }
            // The thread stopped on a write error (stdout closed): report it.
            Err(TrySendError::Disconnected(_)) => {
                self.tx = None;
                self.join()
            }
        }
    }

    /// Counts `n` lines skipped (the printer's bus subscription lagged, or its
    /// thread was behind), with a note on stderr at most once a second.
    pub fn skip(&mut self, n: u64) {
        self.skipped += n;
        self.unreported += n;
        if self.noted.is_none_or(|t| t.elapsed() >= SKIP_NOTE_EVERY) {
            self.noted = Some(Instant::now());
            eprintln!("printer skipped {} lines{}", self.unreported, self.note);
            self.unreported = 0;
        }
    }

    /// Prints what is queued, stops the thread, and returns how many lines were
    /// skipped in all.
    pub fn finish(mut self) -> Result<u64> {
        self.tx = None;
        self.join()?;
        Ok(self.skipped)
    }

    fn join(&mut self) -> Result<()> {
        match self.thread.take().map(std::thread::JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(CliError::Io(e)),
            Some(Err(_)) => Err(CliError::Io(std::io::Error::other(
                "the printing thread panicked",
            ))),
        }
    }
}

/// The printing thread: writes lines as they come, flushing when none is waiting.
fn print_loop(rx: &Receiver<Vec<u8>>, bar: Option<&indicatif::ProgressBar>) -> std::io::Result<()> {
    let write = |line: &[u8]| -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(line)?;
        out.flush()
    };
    while let Ok(line) = rx.recv() {
        match bar {
            Some(bar) => bar.suspend(|| write(&line))?,
            None => write(&line)?,
        }
    }
    Ok(())
}

/// The final counts of a recording, by cause, as one line's middle part:
/// `N events written, D dropped, L lost (bus lag a, queue full b, connection lost c, oversized d)`.
pub fn summary(stats: &RecorderStats, connection_lost: u64, oversized: u64) -> String {
    let lost = stats.dropped + connection_lost + oversized;
    format!(
        "{} events written, {} dropped, {} lost (bus lag {}, queue full {}, connection lost {}, oversized {})",
        stats.written,
        stats.dropped,
        lost,
        stats.bus_lag,
        stats.queue_full + stats.failed,
        connection_lost,
        oversized
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_every_cause() {
        let stats = RecorderStats {
            session_id: 1,
            written: 10,
            dropped: 3,
            bus_lag: 1,
            queue_full: 2,
            ..Default::default()
        };
        assert_eq!(
            summary(&stats, 1, 2),
            "10 events written, 3 dropped, 6 lost (bus lag 1, queue full 2, connection lost 1, oversized 2)"
        );
    }
}
