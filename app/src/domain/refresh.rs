//! Auto-refresh intervals for live views, kept in the URL (`?refresh=10s`).

/// The query parameter.
pub const REFRESH_PARAM: &str = "refresh";

/// The choices offered, as they appear in the URL and the selector.
pub const CHOICES: [&str; 5] = ["off", "5s", "10s", "30s", "1m"];

/// The default for live views: often enough to watch pods become ready.
pub const DEFAULT: &str = "5s";

/// Milliseconds between refreshes, `None` for "off". Unknown values fall back to the
/// default rather than failing: a hand-edited URL should still show the page.
pub fn interval_ms(choice: Option<&str>) -> Option<u32> {
    match choice.unwrap_or(DEFAULT) {
        "off" => None,
        "5s" => Some(5_000),
        "10s" => Some(10_000),
        "30s" => Some(30_000),
        "1m" => Some(60_000),
        _ => interval_ms(Some(DEFAULT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_choices_and_falls_back_to_the_default() {
        assert_eq!(interval_ms(None), Some(5_000));
        assert_eq!(interval_ms(Some("off")), None);
        assert_eq!(interval_ms(Some("1m")), Some(60_000));
        assert_eq!(interval_ms(Some("banana")), Some(5_000));
    }
}
