//! Times and durations as people read them on the Tracing pages: span durations with a
//! unit that fits ("1.24 s", "12.3 ms", "450 µs") and timestamps in UTC, so the server's
//! and the browser's renderings of a page agree.

/// A duration given in microseconds, with three significant digits at most.
pub fn format_duration_us(us: i64) -> String {
    let us = us.max(0) as f64;
    let (value, unit) = if us >= 60_000_000.0 {
        (us / 60_000_000.0, "min")
    } else if us >= 1_000_000.0 {
        (us / 1_000_000.0, "s")
    } else if us >= 1_000.0 {
        (us / 1_000.0, "ms")
    } else {
        return format!("{us} µs");
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

/// Unix microseconds as `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn format_utc_us(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Unix microseconds as `HH:MM:SS` in UTC: the short form for axes and lists of one day.
pub fn format_clock_us(us: i64) -> String {
    format_utc_us(us)[11..].to_string()
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_unit_and_three_digits() {
        assert_eq!(format_duration_us(0), "0 µs");
        assert_eq!(format_duration_us(450), "450 µs");
        assert_eq!(format_duration_us(1_234), "1.23 ms");
        assert_eq!(format_duration_us(12_345), "12.3 ms");
        assert_eq!(format_duration_us(123_456), "123 ms");
        assert_eq!(format_duration_us(1_240_000), "1.24 s");
        assert_eq!(format_duration_us(90_000_000), "1.50 min");
        assert_eq!(format_duration_us(-5), "0 µs");
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(format_utc_us(0), "1970-01-01 00:00:00");
        // 2026-11-23T00:14:37Z
        assert_eq!(format_utc_us(1_795_392_877_000_000), "2026-11-23 00:14:37");
        // A leap day and the end of a century year.
        assert_eq!(format_utc_us(951_782_400_000_000), "2000-02-29 00:00:00");
        assert_eq!(format_utc_us(-1_000_000), "1969-12-31 23:59:59");
        assert_eq!(format_clock_us(1_795_392_877_500_000), "00:14:37");
    }
}
