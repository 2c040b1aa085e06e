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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_705_314_600_123_000), "2024-01-15T10:30:00.123Z");
        assert_eq!(iso8601(951_782_400_000_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(-1_000), "1969-12-31T23:59:59.999Z");
        assert_eq!(civil_date(20_416), (2025, 11, 24));
    }
}
