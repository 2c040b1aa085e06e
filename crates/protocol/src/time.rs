//! Calendar dates from unix timestamps, without a date crate: the wasm UI, the
//! gateway's payload timestamps and HAR export all need the same few formats, and
//! one implementation keeps them agreeing.

/// Year, month (1-12) and day (1-31) of the day `days` after 1970-01-01 in the
/// proleptic Gregorian calendar, by counting 400-year eras of 146,097 days from
/// 0000-03-01 (so the leap day ends a year).
pub fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of a unix time in microseconds.
pub fn iso8601(micros: i64) -> String {
    let ms = micros.div_euclid(1000);
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_date(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ms.rem_euclid(1000)
    )
}

/// Unix microseconds of a payload's `timestamp` field: an ISO 8601 UTC time
/// (`2026-11-24T10:30:00.123Z`, optional fraction, `Z` or `+00:00`) or a number of
/// epoch milliseconds. Anything else is not a timestamp.
pub fn payload_timestamp(payload: &serde_json::Value) -> Option<i64> {
    match payload.get("timestamp")? {
        serde_json::Value::Number(n) => {
            let ms = n.as_f64()?;
            // Plausible epoch milliseconds only (2001..2286), not counters.
            (1e12..1e13).contains(&ms).then_some((ms * 1000.0) as i64)
        }
        serde_json::Value::String(s) => parse_iso8601(s),
        _ => None,
    }
}

/// Unix microseconds of `YYYY-MM-DDTHH:MM:SS[.f+](Z|+00:00)`.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut rest = &s[19..];
    let mut micros = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut scaled = 0i64;
        for (i, c) in frac[..digits].bytes().take(6).enumerate() {
            scaled += i64::from(c - b'0') * 10i64.pow(5 - i as u32);
        }
        micros = scaled;
        rest = &frac[digits..];
    }
    if !matches!(rest, "Z" | "z" | "+00:00") {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + micros)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (inverse of
/// [`civil_date`]).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn iso_times_round_trip_with_the_gateways_format() {
        for micros in [
            0,
            1_705_314_600_123_000,
            951_782_400_000_000,
            1_795_000_000_456_000,
        ] {
            assert_eq!(parse_iso8601(&iso8601(micros)), Some(micros));
        }
        assert_eq!(
            parse_iso8601("2024-01-15T10:30:00Z"),
            Some(1_705_314_600_000_000)
        );
        assert_eq!(
            parse_iso8601("2024-01-15T10:30:00.5+00:00"),
            Some(1_705_314_600_500_000)
        );
        assert_eq!(parse_iso8601("2024-01-15T10:30:00+02:00"), None);
        assert_eq!(parse_iso8601("yesterday"), None);
    }

    #[test]
    fn payload_timestamps_are_iso_or_epoch_millis() {
        assert_eq!(
            payload_timestamp(&json!({"timestamp": "1970-01-01T00:00:01.000Z"})),
            Some(1_000_000)
        );
        assert_eq!(
            payload_timestamp(&json!({"timestamp": 1_705_314_600_123u64})),
            Some(1_705_314_600_123_000)
        );
        assert_eq!(payload_timestamp(&json!({"timestamp": 42})), None);
        assert_eq!(payload_timestamp(&json!({"value": 1})), None);
        assert_eq!(payload_timestamp(&json!("x")), None);
    }

    #[test]
    fn known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_705_314_600_123_000), "2024-01-15T10:30:00.123Z");
        assert_eq!(iso8601(951_782_400_000_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1_000), "1969-12-31T23:59:59.999Z");
        assert_eq!(civil_date(20_416), (2025, 11, 24));
    }
}
