//! The allowed range of every number a user can type: CLI flags, desktop panel
//! fields and scenario files all go through these, so a value out of range is a
//! one-line error that names the range instead of an overflow, a panic, a hang or
//! an allocation of the machine's whole memory further in.
//!
//! The maxima are far above any real use (a month-long recording, 100,000 virtual
//! clients in one process) and far below what breaks (`Instant + Duration`
//! overflow, a `Vec` of every planned send, `1 / rate` rounding to zero).

use std::time::Duration;

/// Longest duration any flag takes (`--duration`, timeouts, gaps, delays): 30 days.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Most virtual clients in one simulation.
pub const MAX_CLIENTS: usize = 100_000;

/// Most entities per tenant in a simulation.
pub const MAX_ENTITIES: usize = 1_000_000;

/// Most passes of one replay (`--loop`).
pub const MAX_LOOPS: u32 = 100_000;

/// Most sends one replay plans (events x loops), so a plan fits in memory.
pub const MAX_PLANNED_SENDS: u64 = 1_000_000;

/// `--speed` range (a factor on the recorded gaps).
pub const MIN_SPEED: f64 = 0.001;
pub const MAX_SPEED: f64 = 1_000_000.0;

/// Scenario `rate` / `--rate` range, iterations per second per client.
pub const MIN_RATE: f64 = 0.001;
pub const MAX_RATE: f64 = 1_000.0;

/// Longest milliseconds value in a scenario (`think`, `timeout_ms`) and longest
/// `--tick-ms` / `--reconnect-delay`: one day.
pub const MAX_MS: u64 = 24 * 3600 * 1000;

/// Most steps one pass of a scenario's `setup` or `steps` may run, loops expanded
/// (each loop iteration counts as a step, so empty nested loops are bounded too).
pub const MAX_SCENARIO_STEPS: u64 = 1_000_000;

/// Default and largest `--max-line`: the longest line (JSON Lines) or file (HAR) an
/// import reads.
pub const DEFAULT_MAX_LINE: u64 = 64 * 1024 * 1024;

/// Longest HAR file an import reads, whatever `--max-line` says per line.
pub const MAX_HAR_BYTES: u64 = 1024 * 1024 * 1024;

/// Longest quote of user input inside an error message, in characters.
pub const QUOTE_CHARS: usize = 200;

/// `s` as it appears in an error: at most [`QUOTE_CHARS`] characters, with the
/// length of the rest said instead of echoed.
pub fn quote(s: &str) -> String {
    let mut chars = s.char_indices();
    match chars.nth(QUOTE_CHARS) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}... ({} more bytes)", &s[..cut], s.len() - cut),
    }
}

/// A message cut in the middle when long: for errors that embed input (serde errors
/// quote the offending string whole, then say where it is). Keeps the first
/// [`QUOTE_CHARS`] characters and the last 100.
pub fn clip_message(message: &str) -> String {
    const TAIL: usize = 100;
    let chars = message.chars().count();
    if chars <= QUOTE_CHARS + TAIL {
        return message.to_owned();
    }
    let head: String = message.chars().take(QUOTE_CHARS).collect();
    let tail: String = message.chars().skip(chars - TAIL).collect();
    format!(
        "{head}... ({} characters left out) ...{tail}",
        chars - QUOTE_CHARS - TAIL
    )
}

/// A float as a person reads it: `1e308`, not 309 digits.
pub fn number(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e7).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// `d` as a person writes it (`30days`, `500ms`).
pub fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Checks `v` is within `min..=max` for `what` (a flag or field name).
pub fn check_range<T: PartialOrd + std::fmt::Display>(
    what: &str,
    v: T,
    min: T,
    max: T,
) -> Result<T, String> {
    if v >= min && v <= max {
        Ok(v)
    } else {
        Err(format!("{what} must be between {min} and {max}, got {v}"))
    }
}

/// Checks a float is finite and within `min..=max`.
pub fn check_f64(what: &str, v: f64, min: f64, max: f64) -> Result<f64, String> {
    if v.is_finite() && v >= min && v <= max {
        Ok(v)
    } else {
        Err(format!(
            "{what} must be between {} and {}, got {}",
            number(min),
            number(max),
            number(v)
        ))
    }
}

/// Checks a duration is at most [`MAX_DURATION`].
pub fn check_duration(what: &str, d: Duration) -> Result<Duration, String> {
    if d <= MAX_DURATION {
        Ok(d)
    } else {
        Err(format!(
            "{what} must be at most {}, got {}",
            human(MAX_DURATION),
            human(d)
        ))
    }
}

/// Parses a duration: `10s`, `500ms`, `2m`, `1h 30m`, `2days` (humantime), a
/// decimal with a unit (`1.5s`, `0.5h`), or bare seconds (`3`); at most
/// [`MAX_DURATION`]. Never panics: a number too large is an error naming the range.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let too_long = || format!("allowed range is 0 to {}", human(MAX_DURATION));
    let d = match humantime::parse_duration(s) {
        Ok(d) => d,
        Err(humantime::DurationError::NumberOverflow) => return Err(too_long()),
        Err(_) => decimal_duration(s, &too_long)?,
    };
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// `1.5s`, `3` (seconds), `0.25h`: what humantime does not read.
fn decimal_duration(s: &str, too_long: &dyn Fn() -> String) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {} (use 10s, 500ms, 2m, 1h)", quote(s)))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "bad duration unit in {} (ms, s, m, h, days)",
                quote(s)
            ))
        }
    };
    if !(secs.is_finite() && secs >= 0.0) || secs > MAX_DURATION.as_secs_f64() {
        return Err(too_long());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| too_long())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_parse_or_say_why() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30days"), Ok(MAX_DURATION));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1e300s").is_err());
        for huge in [
            "99999999999999999999",
            "4000000000000000h",
            "31days",
            "18446744073709551615s",
            "99999999999999999999999999ms",
        ] {
            let e = parse_duration(huge).expect_err(huge);
            assert!(e.contains("30days"), "{huge}: {e}");
        }
    }

    #[test]
    fn quotes_are_bounded() {
        assert_eq!(quote("short"), "short");
        let long = "é".repeat(10_000);
        let q = quote(&long);
        assert!(q.chars().count() < QUOTE_CHARS + 30, "{}", q.len());
        assert!(q.ends_with("(19600 more bytes)"), "{q}");
    }

    #[test]
    fn long_messages_keep_their_ends() {
        let m = format!(
            "unknown variant `{}`, expected c2s at line 1 column 9",
            "x".repeat(20_000_000)
        );
        let c = clip_message(&m);
        assert!(c.len() < 450, "{}", c.len());
        assert!(c.starts_with("unknown variant `xxx"), "{c}");
        assert!(c.ends_with("expected c2s at line 1 column 9"), "{c}");
        assert_eq!(clip_message("short"), "short");
        assert_eq!(number(1e308), "1e308");
        assert_eq!(number(1e-300), "1e-300");
        assert_eq!(number(0.5), "0.5");
    }

    #[test]
    fn ranges_name_the_bounds() {
        assert_eq!(check_range("--clients", 5usize, 1, 10), Ok(5));
        let e = check_range("--clients", 99usize, 1, 10).unwrap_err();
        assert_eq!(e, "--clients must be between 1 and 10, got 99");
        assert!(check_f64("--speed", f64::NAN, 0.1, 1.0).is_err());
        assert!(check_f64("--speed", 1e-300, MIN_SPEED, MAX_SPEED).is_err());
    }

    proptest! {
        #[test]
        fn parse_duration_never_panics(s in any::<String>()) {
            let _ = parse_duration(&s);
        }

        #[test]
        fn numeric_durations_are_in_range_or_refused(n in any::<u64>(), unit in "(ns|us|ms|s|m|h|d|days|w|y)?", frac in proptest::option::of(0u32..1000)) {
            let s = match frac { Some(f) => format!("{n}.{f}{unit}"), None => format!("{n}{unit}") };
            match parse_duration(&s) {
                Ok(d) => prop_assert!(d <= MAX_DURATION),
                Err(e) => prop_assert!(!e.is_empty() && e.len() < 400),
            }
        }

        #[test]
        fn float_checks_never_accept_out_of_range(v in any::<f64>()) {
            if let Ok(x) = check_f64("--speed", v, MIN_SPEED, MAX_SPEED) {
                prop_assert!((MIN_SPEED..=MAX_SPEED).contains(&x));
            }
        }
    }
}
