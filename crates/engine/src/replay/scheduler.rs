//! When each replayed event is sent.
//!
//! A replay is only useful against a staging gateway if it keeps the original
//! rhythm (or a known multiple of it): bursts, pauses and ordering are what expose
//! races. This module turns recorded timestamps into offsets from the replay's start
//! (speed factor, a cap on any one gap, or no waiting at all) and waits for each with
//! `sleep_until` on an absolute deadline, so a late wake-up never shifts the events
//! after it. Every wait reports its scheduling error (actual minus planned) so the
//! benchmark can measure how well the plan is kept.

use std::time::Duration;

use tokio::time::Instant;

use crate::{limits, Error, Result};

/// How recorded gaps become replay gaps.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// 1.0 = original timing, 2.0 = twice as fast, 0.5 = half speed.
    pub speed: f64,
    /// No gap between consecutive events is longer than this (after `speed`).
    pub max_gap: Option<Duration>,
    /// Send every event as soon as the one before it went out.
    pub as_fast_as_possible: bool,
    /// How many times the whole sequence is sent (at least 1); loops run back to back.
    pub loops: u32,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            speed: 1.0,
            max_gap: None,
            as_fast_as_possible: false,
            loops: 1,
        }
    }
}

impl Timing {
    /// Rejects a speed, loop count or gap cap outside its range
    /// ([`crate::limits`]), with the range in the message.
    pub fn validate(&self) -> Result<()> {
        limits::check_f64("--speed", self.speed, limits::MIN_SPEED, limits::MAX_SPEED)
            .map_err(Error::BadReplay)?;
        limits::check_range("--loop", self.loops, 1, limits::MAX_LOOPS)
            .map_err(Error::BadReplay)?;
        if let Some(gap) = self.max_gap {
            limits::check_duration("--max-gap", gap).map_err(Error::BadReplay)?;
        }
        Ok(())
    }

    /// Rejects a plan of `events` per pass whose passes together exceed
    /// [`limits::MAX_PLANNED_SENDS`].
    pub fn check_plan_size(&self, events: usize) -> Result<()> {
        let total = (events as u64).saturating_mul(u64::from(self.loops.max(1)));
        if total > limits::MAX_PLANNED_SENDS {
            return Err(Error::BadReplay(format!(
                "{events} events x --loop {} = {total} sends; at most {} per replay",
                self.loops,
                limits::MAX_PLANNED_SENDS
            )));
        }
        Ok(())
    }
}

/// Offsets from the replay's start, one per event of one pass, for events recorded at
/// `ts` (unix microseconds, in send order). The first event goes at zero; a
/// timestamp earlier than its predecessor's counts as a zero gap.
pub fn offsets(ts: &[i64], timing: &Timing) -> Vec<Duration> {
    let mut out = Vec::with_capacity(ts.len());
    let mut at = Duration::ZERO;
    for (i, &t) in ts.iter().enumerate() {
        if i > 0 && !timing.as_fast_as_possible {
            let raw_us = t.saturating_sub(ts[i - 1]).max(0) as f64;
            // Total for any speed: an unvalidated one (0, NaN, 1e-300) saturates.
            let mut gap = Duration::try_from_secs_f64(raw_us / 1e6 / timing.speed)
                .unwrap_or(limits::MAX_DURATION)
                .min(limits::MAX_DURATION);
            if let Some(cap) = timing.max_gap {
                gap = gap.min(cap);
            }
            at = at.saturating_add(gap);
        }
        out.push(at);
    }
    out
}

/// Offsets for every loop: pass `k` starts where pass `k - 1` ended.
pub fn plan(ts: &[i64], timing: &Timing) -> Vec<Duration> {
    let one = offsets(ts, timing);
    let span = one.last().copied().unwrap_or_default();
    // Bounded by `Timing::check_plan_size` where plans come from input; capped here too.
    let loops = u64::from(timing.loops.max(1))
        .min(limits::MAX_PLANNED_SENDS / (one.len() as u64).max(1))
        .max(1);
    let mut out = Vec::with_capacity(one.len().saturating_mul(loops as usize));
    for k in 0..loops {
        let base = span.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
        out.extend(one.iter().map(|o| o.saturating_add(base)));
    }
    out
}

/// How long before a deadline the clock stops sleeping on tokio's timer and sleeps
/// the rest precisely instead (a little over the timer's 1 ms tick).
const PRECISE: Duration = Duration::from_micros(1_500);

/// Waits for planned offsets measured from one fixed start.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock whose offset zero is now.
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// A clock on which `offset` is now: what a paused replay resumes with, and what
    /// a seek restarts from, so the events after it keep their planned gaps.
    pub fn resumed_at(offset: Duration) -> Self {
        let now = Instant::now();
        Self {
            start: now.checked_sub(offset).unwrap_or(now),
        }
    }

    /// The offset that is now.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Sleeps until `offset` after the start; returns the scheduling error (actual
    /// wake-up minus planned time) in microseconds. A deadline already past returns
    /// at once with a positive error.
    pub async fn wait(&self, offset: Duration) -> i64 {
        let deadline = self
            .start
            .checked_add(offset)
            .unwrap_or_else(|| self.start + limits::MAX_DURATION);
        // tokio's timer ticks in whole milliseconds and rounds a deadline up to the
        // next tick, which alone costs up to 1 ms of lateness per event. So sleep on
        // the timer only until shortly before the deadline, then sleep the rest on a
        // blocking-pool thread (`nanosleep`, tens of microseconds late at most): the
        // runtime's workers stay free and no core is burnt yielding until the
        // deadline, which a busy wait did (a whole core at 5,000 events/s, and on a
        // loaded machine the spinning task itself got preempted).
        if let Some(early) = deadline.checked_sub(PRECISE) {
            if early > Instant::now() {
                tokio::time::sleep_until(early).await;
            }
        }
        let rest = deadline.saturating_duration_since(Instant::now());
        if !rest.is_zero() {
            let slept = tokio::task::spawn_blocking(move || std::thread::sleep(rest)).await;
            // Under a paused test clock tokio time does not move while a thread
            // sleeps, and a blocking pool may be gone at shutdown: the timer then.
            if slept.is_err() || Instant::now() < deadline {
                tokio::time::sleep_until(deadline).await;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            i64::try_from((now - deadline).as_micros()).unwrap_or(i64::MAX)
        } else {
            -i64::try_from((deadline - now).as_micros()).unwrap_or(i64::MAX)
        }
    }
}

/// Mean and worst scheduling error over a run. With `as_fast_as_possible` every
/// planned offset is zero, so there the error is how long the sends before it took.
pub fn summarize(errors_us: &[i64]) -> sockscope_protocol::ScheduleSummary {
    let sends = errors_us.len() as u64;
    let mean = if errors_us.is_empty() {
        0.0
    } else {
        errors_us.iter().map(|e| *e as f64).sum::<f64>() / errors_us.len() as f64
    };
    sockscope_protocol::ScheduleSummary {
        sends,
        mean_error_us: mean,
        max_error_us: errors_us.iter().copied().max().unwrap_or(0),
    }
}

/// [`summarize`] kept up to date one error at a time, for a status published after
/// every send: summarizing the whole list each time cost O(n) per event, O(n^2) per
/// replay, and put a 100,000-event replay seconds behind its plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunningSummary {
    sends: u64,
    sum_us: f64,
    max_us: Option<i64>,
}

impl RunningSummary {
    pub fn push(&mut self, error_us: i64) {
        self.sends += 1;
        self.sum_us += error_us as f64;
        self.max_us = Some(self.max_us.map_or(error_us, |m| m.max(error_us)));
    }

    /// The same figures [`summarize`] gives for the errors pushed so far.
    pub fn summary(&self) -> sockscope_protocol::ScheduleSummary {
        sockscope_protocol::ScheduleSummary {
            sends: self.sends,
            mean_error_us: if self.sends == 0 {
                0.0
            } else {
                self.sum_us / self.sends as f64
            },
            max_error_us: self.max_us.unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1000;

    #[test]
    fn running_summary_matches_summarize() {
        let errors = [-3, 10, 250, 0, 7];
        let mut running = RunningSummary::default();
        assert_eq!(running.summary(), summarize(&[]));
        for e in errors {
            running.push(e);
        }
        assert_eq!(running.summary(), summarize(&errors));
    }

    fn ms(v: &[Duration]) -> Vec<u128> {
        v.iter().map(Duration::as_millis).collect()
    }

    #[test]
    fn original_timing_keeps_gaps_relative_to_the_first_event() {
        let ts = [10_000 * MS, 10_300 * MS, 10_900 * MS];
        assert_eq!(ms(&offsets(&ts, &Timing::default())), vec![0, 300, 900]);
    }

    #[test]
    fn speed_divides_every_gap() {
        let ts = [0, 300 * MS, 900 * MS];
        let t = Timing {
            speed: 4.0,
            ..Timing::default()
        };
        assert_eq!(ms(&offsets(&ts, &t)), vec![0, 75, 225]);
        let slow = Timing {
            speed: 0.5,
            ..Timing::default()
        };
        assert_eq!(ms(&offsets(&ts, &slow)), vec![0, 600, 1800]);
    }

    #[test]
    fn max_gap_caps_each_gap_after_speed() {
        let ts = [0, 100 * MS, 10_100 * MS, 10_200 * MS];
        let t = Timing {
            speed: 2.0,
            max_gap: Some(Duration::from_millis(1000)),
            ..Timing::default()
        };
        // 50 ms, then 5000 ms capped to 1000, then 50 ms.
        assert_eq!(ms(&offsets(&ts, &t)), vec![0, 50, 1050, 1100]);
    }

    #[test]
    fn as_fast_as_possible_and_out_of_order_timestamps_give_zero_gaps() {
        let ts = [0, 300 * MS, 600 * MS];
        let t = Timing {
            as_fast_as_possible: true,
            ..Timing::default()
        };
        assert_eq!(ms(&offsets(&ts, &t)), vec![0, 0, 0]);
        assert_eq!(
            ms(&offsets(
                &[500 * MS, 100 * MS, 200 * MS],
                &Timing::default()
            )),
            vec![0, 0, 100]
        );
        assert!(offsets(&[], &Timing::default()).is_empty());
    }

    #[test]
    fn loops_run_back_to_back() {
        let ts = [0, 300 * MS, 600 * MS];
        let t = Timing {
            loops: 3,
            ..Timing::default()
        };
        assert_eq!(
            ms(&plan(&ts, &t)),
            vec![0, 300, 600, 600, 900, 1200, 1200, 1500, 1800]
        );
    }

    #[test]
    fn bad_speed_and_zero_loops_are_rejected() {
        for speed in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 1e300] {
            let t = Timing {
                speed,
                ..Timing::default()
            };
            assert!(matches!(t.validate(), Err(Error::BadReplay(_))), "{speed}");
        }
        let t = Timing {
            loops: 0,
            ..Timing::default()
        };
        assert!(t.validate().is_err());
        let t = Timing {
            loops: u32::MAX,
            ..Timing::default()
        };
        let e = t.validate().unwrap_err().to_string();
        assert!(e.contains("--loop must be between 1 and 100000"), "{e}");
        assert!(Timing::default().validate().is_ok());
        let t = Timing {
            loops: 100_000,
            ..Timing::default()
        };
        assert!(t.check_plan_size(10).is_ok());
        assert!(t.check_plan_size(11).is_err());
    }

    #[test]
    fn plans_stay_total_for_unchecked_timings() {
        let ts = [0, i64::MAX / 2, i64::MAX];
        for speed in [1e-300, 0.0, f64::NAN] {
            let t = Timing {
                speed,
                loops: 3,
                ..Timing::default()
            };
            assert_eq!(plan(&ts, &t).len(), 9);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_use_absolute_deadlines_so_errors_do_not_accumulate() {
        let clock = Clock::start();
        let planned = [0u64, 100, 200, 300];
        let mut errors = Vec::new();
        for p in planned {
            // Work that takes longer than one gap would push a relative sleep later
            // and later; an absolute deadline absorbs it.
            tokio::time::sleep(Duration::from_millis(30)).await;
            errors.push(clock.wait(Duration::from_millis(p)).await);
        }
        // The first wait comes 30 ms late (its deadline had passed); the rest are on time.
        assert_eq!(errors[0], 30_000);
        assert!(errors[1..].iter().all(|e| *e == 0), "{errors:?}");
        let s = summarize(&errors);
        assert_eq!(s.sends, 4);
        assert_eq!(s.max_error_us, 30_000);
        assert!((s.mean_error_us - 7_500.0).abs() < 1e-9);
    }
}
