//! One run split over several processes (machines, Kubernetes pods): shard `I/N`
//! runs its share of the run's clients, with the same global client indexes (so the
//! same tenants, users, entities and ramp slots) a single process would give them,
//! from a start time every shard shares. Merging the shards' reports ([`super::merge`])
//! then gives the counts one process running every client would have reported.

use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Most shards one run may be split into.
pub const MAX_SHARDS: usize = 10_000;
/// How far ahead a shared start time may be.
pub const MAX_START_AHEAD: Duration = Duration::from_secs(24 * 3600);

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Default for Shard {
    /// The whole run in one process.
    fn default() -> Self {
        Self { index: 0, count: 1 }
    }
}

impl Shard {
    /// `I/N` with `I < N`, `N` at most [`MAX_SHARDS`].
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("--shard {s:?}: expected I/N with 0 <= I < N (e.g. 0/3)");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        if count > MAX_SHARDS {
            return Err(format!(
                "--shard {s:?}: at most {MAX_SHARDS} shards per run"
            ));
        }
        Ok(Self { index, count })
    }

    /// The global indexes of this shard's clients out of `clients`: contiguous
    /// slices whose sizes differ by at most one.
    pub fn clients(&self, clients: usize) -> Range<usize> {
        let at = |i: usize| {
            usize::try_from(clients as u128 * i as u128 / self.count.max(1) as u128)
                .unwrap_or(clients)
        };
        at(self.index)..at(self.index + 1)
    }

    /// Whether this is the whole run (`0/1`).
    pub fn is_whole(&self) -> bool {
        self.count == 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A shared start time: Unix seconds, with an optional fraction (`1765000000`,
/// `1765000000.250`), not more than [`MAX_START_AHEAD`] from now.
pub fn parse_start_at(s: &str) -> std::result::Result<SystemTime, String> {
    let bad =
        || format!("--start-at {s:?}: expected Unix seconds, e.g. 1765000000 or 1765000000.5");
    let secs: f64 = s.trim().parse().map_err(|_| bad())?;
    if !(0.0..=1e11).contains(&secs) {
        return Err(bad());
    }
    let at = UNIX_EPOCH + Duration::from_secs_f64(secs);
    if at
        .duration_since(SystemTime::now())
        .is_ok_and(|ahead| ahead > MAX_START_AHEAD)
    {
        return Err(format!(
            "--start-at {s}: more than {} h from now",
            MAX_START_AHEAD.as_secs() / 3600
        ));
    }
    Ok(at)
}

/// Where a run's clock starts: `start_at` as a monotonic instant, and how late this
/// process is for it (zero when it is early and waits). A start time whose run
/// (`start_at + duration`) is already over is an error: the shard would measure
/// nothing.
pub fn start_instant(
    start_at: Option<SystemTime>,
    duration: Duration,
) -> Result<(tokio::time::Instant, Duration)> {
    let now = tokio::time::Instant::now();
    let Some(at) = start_at else {
        return Ok((now, Duration::ZERO));
    };
    match at.duration_since(SystemTime::now()) {
        Ok(ahead) => Ok((now + ahead, Duration::ZERO)),
        Err(e) => {
            let late = e.duration();
            if late >= duration {
                return Err(Error::BadSimulation(format!(
                    "--start-at was {:.1} s ago: the run ({} s) is already over",
                    late.as_secs_f64(),
                    duration.as_secs()
                )));
            }
            let start = now.checked_sub(late).unwrap_or(now);
            Ok((start, late))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_client_once() {
        for clients in [1, 7, 60, 61, 1000] {
            for count in [1, 2, 3, 7] {
                let mut seen = Vec::new();
                for index in 0..count {
                    seen.extend(Shard { index, count }.clients(clients));
                }
                assert_eq!(seen, (0..clients).collect::<Vec<_>>(), "{clients}/{count}");
            }
        }
        assert_eq!(Shard { index: 1, count: 3 }.clients(60), 20..40);
    }

    #[test]
    fn shard_and_start_flags_are_checked() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "0/0", "1", "a/3", "-1/3", "1/100001", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        assert!(parse_start_at(&format!("{:.3}", now + 5.0)).is_ok());
        for bad in ["x", "-1", "NaN", "inf", &format!("{}", now + 90_000.0)] {
            assert!(parse_start_at(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_past_start_is_late_and_an_over_run_is_refused() {
        let ago = SystemTime::now() - Duration::from_secs(2);
        let (_, late) = start_instant(Some(ago), Duration::from_secs(10)).expect("late start");
        assert!(late >= Duration::from_secs(2), "{late:?}");
        let e = start_instant(Some(ago), Duration::from_secs(1)).expect_err("over");
        assert_eq!(e.code(), "bad_simulation");
        let (start, late) = start_instant(
            Some(SystemTime::now() + Duration::from_secs(3)),
            Duration::from_secs(1),
        )
        .expect("ahead");
        assert_eq!(late, Duration::ZERO);
        assert!(start > tokio::time::Instant::now() + Duration::from_secs(2));
    }
}
