//! Times and durations as people read them on the Tracing pages: span durations with a
//! unit that fits ("1.24 s", "12.3 ms", "450 µs") and timestamps in UTC, so the server's
//! and the browser's renderings of a page agree. Also RFC 3339, the form Kubernetes
//! status fields use, for the release analysis' times (written and read without a clock).

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

/// Unix seconds as RFC 3339 in UTC (`2026-11-23T00:14:37Z`), as Kubernetes writes times.
pub fn format_rfc3339(secs: i64) -> String {
    let t = format_utc_us(secs.saturating_mul(1_000_000));
    format!("{}T{}Z", &t[..10], &t[11..])
}

/// Reads an RFC 3339 time (`2026-11-23T00:14:37Z`, fractions and offsets allowed) as unix
/// seconds; `None` when it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(num_of);
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let part = |r: std::ops::Range<usize>| rest.get(r).and_then(num_of);
            sign * (part(1..3)? * 3600 + part(4..6)? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

fn num_of(s: &str) -> Option<i64> {
    s.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

/// (year, month, day) to days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

/// An RFC 3339 time as people read it in a table: `2026-12-06 06:50:12 UTC` (seconds,
/// no fraction). Anything else is shown as it is.
pub fn short(rfc3339: &str) -> String {
    let Some((date, time)) = rfc3339.split_once('T') else {
        return rfc3339.to_string();
    };
    let utc = time.ends_with('Z');
    let clock: String = time
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .collect();
    if date.len() != 10 || clock.len() != 8 {
        return rfc3339.to_string();
    }
    format!("{date} {clock}{}", if utc { " UTC" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_read_short() {
        assert_eq!(
            short("2026-12-06T06:50:12.123456Z"),
            "2026-12-06 06:50:12 UTC"
        );
        assert_eq!(short("2026-12-06T06:50:12+01:00"), "2026-12-06 06:50:12");
        assert_eq!(short("yesterday"), "yesterday");
    }

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

    #[test]
    fn rfc3339_round_trips_and_reads_what_kubernetes_writes() {
        for secs in [0, 951_782_400, 1_795_392_877, -1, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Some(secs), "{secs}");
        }
        assert_eq!(format_rfc3339(1_795_392_877), "2026-11-23T00:14:37Z");
        assert_eq!(
            parse_rfc3339("2026-11-23T00:14:37.123456Z"),
            Some(1_795_392_877)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T01:14:37+01:00"),
            Some(1_795_392_877)
        );
        for bad in [
            "",
            "2026-11-23",
            "2026-13-01T00:00:00Z",
            "2026-11-23T00:14:37",
            "x026-11-23T00:14:37Z",
            "2026-11-23T00:14:37.Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
