//! Value parsers for every numeric flag, and clap's errors as one line.
//!
//! Each parser checks the range in `sockscope_engine::limits` and says it, so
//! `--clients 99999999999` is `invalid value '99999999999' for '--clients <N>':
//! allowed range is 1 to 100000` (clap names the flag) instead of a process that
//! grows to gigabytes, and no value reaches arithmetic that could overflow.

use std::time::Duration;

use sockscope_engine::limits;

/// A duration flag: `10s`, `500ms`, `1h 30m`, `1.5s`, `3` (seconds); at most 30 days.
pub fn duration(s: &str) -> Result<Duration, String> {
    limits::parse_duration(s)
}

/// A whole number within `min..=max`.
fn whole(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let range = format!("allowed range is {min} to {max}");
    let v: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a whole number; {range}"))?;
    if v < min || v > max {
        return Err(range);
    }
    Ok(v)
}

/// A decimal number within `min..=max`.
fn decimal(s: &str, min: f64, max: f64) -> Result<f64, String> {
    let range = format!("allowed range is {min} to {max}");
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a number; {range}"))?;
    if !(v.is_finite() && v >= min && v <= max) {
        return Err(range);
    }
    Ok(v)
}

/// `--clients`: 1 to 100,000 virtual clients.
pub fn clients(s: &str) -> Result<usize, String> {
    whole(s, 1, limits::MAX_CLIENTS as u64).map(|v| v as usize)
}

/// `--entities`: 1 to 1,000,000 per tenant.
pub fn entities(s: &str) -> Result<usize, String> {
    whole(s, 1, limits::MAX_ENTITIES as u64).map(|v| v as usize)
}

/// `--wait-clients`: 0 to 100,000.
pub fn wait_clients(s: &str) -> Result<usize, String> {
    whole(s, 0, limits::MAX_CLIENTS as u64).map(|v| v as usize)
}

/// `--loop`: 1 to 100,000 passes.
pub fn loops(s: &str) -> Result<u32, String> {
    whole(s, 1, u64::from(limits::MAX_LOOPS)).map(|v| v as u32)
}

/// Milliseconds flags (`--tick-ms`, `--reconnect-delay`): 0 to one day.
pub fn millis(s: &str) -> Result<u64, String> {
    whole(s, 0, limits::MAX_MS)
}

/// `--speed`: a factor on the recorded gaps.
pub fn speed(s: &str) -> Result<f64, String> {
    decimal(s, limits::MIN_SPEED, limits::MAX_SPEED)
}

/// `--rate`: scenario iterations per second per client.
pub fn rate(s: &str) -> Result<f64, String> {
    decimal(s, limits::MIN_RATE, limits::MAX_RATE)
}

/// `--max-line`: bytes, 1 to 1 GiB.
pub fn max_line(s: &str) -> Result<u64, String> {
    whole(s, 1, limits::MAX_HAR_BYTES)
}

/// Longest error line printed for a command-line mistake.
const MAX_LINE_CHARS: usize = 400;

/// A clap error as one line (without `error: `).
pub fn clap_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let rendered = e.render().to_string();
    let text = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let line = match (
        e.kind(),
        text(ContextKind::InvalidArg),
        text(ContextKind::InvalidValue),
    ) {
        (ErrorKind::ValueValidation, Some(arg), Some(value)) => {
            let why = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| "invalid".to_owned());
            format!(
                "invalid value '{}' for '{arg}': {why}",
                limits::quote(&value)
            )
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) if !value.is_empty() => {
            let valid = match e.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => format!(" (one of: {})", v.join(", ")),
                _ => String::new(),
            };
            format!(
                "invalid value '{}' for '{arg}'{valid}",
                limits::quote(&value)
            )
        }
        _ => rendered
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
            })
            .map(|l| l.strip_prefix("error: ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join(" "),
    };
    clip(&line)
}

/// The (sub)command named in `args` (`sockscope sessions import`), whose `--help` a
/// usage error points at.
pub fn command_path(root: &clap::Command, args: &[String]) -> String {
    let mut path = vec![root.get_name().to_owned()];
    let mut at = root;
    for a in args {
        match at.find_subcommand(a) {
            Some(sub) => {
                path.push(sub.get_name().to_owned());
                at = sub;
            }
            None => break,
        }
    }
    path.join(" ")
}

/// `line` cut to [`MAX_LINE_CHARS`], on one line.
pub fn clip(line: &str) -> String {
    let one: String = line
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    match one.char_indices().nth(MAX_LINE_CHARS) {
        None => one,
        Some((cut, _)) => format!("{}...", &one[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_are_checked_and_said() {
        assert_eq!(clients("10"), Ok(10));
        assert_eq!(
            clients("99999999999").unwrap_err(),
            "allowed range is 1 to 100000"
        );
        assert!(clients("0").is_err());
        assert!(clients("-1").unwrap_err().contains("1 to 100000"));
        assert_eq!(
            loops("4294967295").unwrap_err(),
            "allowed range is 1 to 100000"
        );
        assert_eq!(
            millis("4611686018427387904").unwrap_err(),
            "allowed range is 0 to 86400000"
        );
        assert!(speed("1e-300").unwrap_err().contains("0.001 to 1000000"));
        assert!(speed("NaN").is_err());
        assert!(speed("inf").is_err());
        assert_eq!(speed("2"), Ok(2.0));
        assert!(rate("1e308").is_err());
        assert!(duration("99999999999999999999").is_err());
        assert!(duration("4000000000000000h").is_err());
    }

    #[test]
    fn clip_keeps_one_short_line() {
        assert_eq!(clip("a\nb"), "a b");
        assert!(clip(&"x".repeat(20_000_000)).len() < 500);
    }

    proptest! {
        #[test]
        fn numeric_parsers_reject_and_never_panic(s in any::<String>()) {
            let _ = clients(&s);
            let _ = entities(&s);
            let _ = wait_clients(&s);
            let _ = loops(&s);
            let _ = millis(&s);
            let _ = speed(&s);
            let _ = rate(&s);
            let _ = max_line(&s);
            let _ = duration(&s);
        }

        #[test]
        fn numbers_out_of_range_are_refused(n in any::<u64>()) {
            let s = n.to_string();
            prop_assert_eq!(clients(&s).is_ok(), (1..=limits::MAX_CLIENTS as u64).contains(&n));
            prop_assert_eq!(loops(&s).is_ok(), (1..=u64::from(limits::MAX_LOOPS)).contains(&n));
            prop_assert_eq!(millis(&s).is_ok(), n <= limits::MAX_MS);
        }

        #[test]
        fn decimals_out_of_range_are_refused(v in any::<f64>()) {
            let ok = v.is_finite() && (limits::MIN_SPEED..=limits::MAX_SPEED).contains(&v);
            prop_assert_eq!(speed(&v.to_string()).is_ok(), ok);
        }
    }
}
