//! View state lives in the URL so a link can be shared: these helpers build the links
//! that carry it from page to page.

/// The query parameter that holds the selected project (namespace).
pub const PROJECT_PARAM: &str = "project";

/// `path` with the selected project kept in the query string.
pub fn href_with_project(path: &str, project: Option<&str>) -> String {
    match project.filter(|p| !p.is_empty()) {
        Some(p) => format!("{path}?{PROJECT_PARAM}={}", encode_query_value(p)),
        None => path.to_string(),
    }
}

/// Percent-encodes a query value. Namespace names are DNS labels, but a URL can be typed
/// by hand, so anything outside the unreserved set is escaped rather than trusted.
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `path` with the query `pairs`, where `key` is set to `value` (or removed when `None`),
/// other parameters kept in their order.
pub fn with_param(
    path: &str,
    pairs: &[(String, String)],
    key: &str,
    value: Option<&str>,
) -> String {
    let mut out: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != key).cloned().collect();
    if let Some(v) = value {
        out.push((key.to_string(), v.to_string()));
    }
    if out.is_empty() {
        return path.to_string();
    }
    let query: Vec<String> = out
        .iter()
        .map(|(k, v)| format!("{}={}", encode_query_value(k), encode_query_value(v)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn with_param_replaces_one_parameter_and_keeps_the_rest() {
        let pairs = vec![
            ("project".to_string(), "demo".to_string()),
            ("refresh".to_string(), "5s".to_string()),
        ];
        assert_eq!(
            with_param("/applications", &pairs, "refresh", Some("off")),
            "/applications?project=demo&refresh=off"
        );
        assert_eq!(
            with_param("/applications", &pairs, "refresh", None),
            "/applications?project=demo"
        );
        assert_eq!(with_param("/a", &[], "x", None), "/a");
    }

    use super::*;

    #[test]
    fn keeps_the_project_in_links() {
        assert_eq!(
            href_with_project("/tracing", Some("demo-project")),
            "/tracing?project=demo-project"
        );
        assert_eq!(href_with_project("/tracing", None), "/tracing");
        assert_eq!(href_with_project("/tracing", Some("")), "/tracing");
    }

    #[test]
    fn escapes_hand_typed_values() {
        assert_eq!(
            href_with_project("/applications", Some("a&b c")),
            "/applications?project=a%26b%20c"
        );
    }
}
