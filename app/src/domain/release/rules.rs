//! "Forward by request content": the rules a person writes, and the Istio
//! `HTTPMatchRequest` they become. Envoy matches regexes with RE2 (no look-around), so
//! OS and browser choices become plain alternations over the `user-agent` header, and
//! cookies a regex over the `cookie` header, as Istio's own docs do.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum MatchOp {
    Exact,
    Prefix,
    Regex,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "camelCase")]
pub enum RuleKind {
    /// A request header, e.g. `end-user`.
    Header { name: String },
    /// A cookie by name.
    Cookie { name: String },
    /// The request path.
    Uri,
    /// A query parameter.
    Query { name: String },
    /// Operating systems (any of them), from the User-Agent.
    Os { values: Vec<Os> },
    /// Browsers (any of them), from the User-Agent.
    Browser { values: Vec<Browser> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Os {
    Android,
    Ios,
    Windows,
    MacOs,
    Linux,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Browser {
    Chrome,
    Firefox,
    Safari,
    Edge,
}

impl Os {
    pub const ALL: [Os; 5] = [Os::Android, Os::Ios, Os::Windows, Os::MacOs, Os::Linux];
    pub fn label(self) -> &'static str {
        match self {
            Os::Android => "Android",
            Os::Ios => "iOS",
            Os::Windows => "Windows",
            Os::MacOs => "macOS",
            Os::Linux => "Linux",
        }
    }
    /// What the User-Agent contains. Android UAs also say "Linux", so Linux means
    /// desktop Linux: an X11 marker.
    fn pattern(self) -> &'static str {
        match self {
            Os::Android => "Android",
            Os::Ios => "iPhone|iPad|iPod",
            Os::Windows => "Windows",
            Os::MacOs => "Macintosh",
            Os::Linux => "X11; Linux",
        }
    }
}

impl Browser {
    pub const ALL: [Browser; 4] = [
        Browser::Chrome,
        Browser::Firefox,
        Browser::Safari,
        Browser::Edge,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Browser::Chrome => "Chrome",
            Browser::Firefox => "Firefox",
            Browser::Safari => "Safari",
            Browser::Edge => "Edge",
        }
    }
    /// Chrome and Edge UAs also say "Safari", and Edge says "Chrome", so each browser is
    /// recognised by the token only it has: Safari by "Version/…", Edge by "Edg/".
    fn pattern(self) -> &'static str {
        match self {
            Browser::Chrome => "Chrome/[0-9.]+ (Mobile )?Safari/[0-9.]+$",
            Browser::Firefox => "Firefox/",
            Browser::Safari => "Version/[0-9.]+ (Mobile/[0-9A-Za-z]+ )?Safari/",
            Browser::Edge => "Edg/",
        }
    }
}

/// One condition on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentRule {
    #[serde(flatten)]
    pub kind: RuleKind,
    /// Ignored for OS and browser rules.
    #[serde(default = "exact")]
    pub op: MatchOp,
    /// Ignored for OS and browser rules.
    #[serde(default)]
    pub value: String,
}

fn exact() -> MatchOp {
    MatchOp::Exact
}

/// One flat object (the serde shape): Kubernetes' structural schemas cannot express an
/// internally tagged enum whose variants each pin the tag to a different value.
#[cfg(feature = "ssr")]
impl schemars::JsonSchema for ContentRule {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ContentRule".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let values: Vec<String> = Os::ALL
            .iter()
            .map(|o| format!("{o:?}"))
            .chain(Browser::ALL.iter().map(|b| format!("{b:?}")))
            .collect();
        schemars::json_schema!({
            "description": "One condition on a request; a request must meet every rule of the job.",
            "type": "object",
            "required": ["on"],
            "properties": {
                "on": {"type": "string", "enum": ["header", "cookie", "uri", "query", "os", "browser"]},
                "name": {"type": "string", "maxLength": MAX_VALUE_LEN,
                         "description": "Header, cookie or query parameter name."},
                "values": {"type": "array", "maxItems": values.len(),
                           "items": {"type": "string", "enum": values},
                           "description": "Operating systems or browsers (any of them)."},
                "op": {"type": "string", "enum": ["Exact", "Prefix", "Regex"]},
                "value": {"type": "string", "maxLength": MAX_VALUE_LEN,
                          "description": "Exact text, a prefix, or an RE2 regular expression (as Envoy matches it)."}
            }
        })
    }
}

/// Escapes RE2 metacharacters so a literal value can sit inside a regex.
pub fn escape_regex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn string_match(op: MatchOp, value: &str) -> Value {
    match op {
        MatchOp::Exact => json!({"exact": value}),
        MatchOp::Prefix => json!({"prefix": value}),
        MatchOp::Regex => json!({"regex": value}),
    }
}

/// A regex over the `cookie` header matching cookie `name` whose value satisfies `op`.
pub fn cookie_regex(name: &str, op: MatchOp, value: &str) -> String {
    let value = match op {
        MatchOp::Exact => format!("{}(;.*)?", escape_regex(value)),
        MatchOp::Prefix => format!("{}[^;]*(;.*)?", escape_regex(value)),
        // The user's regex matches the cookie value only.
        MatchOp::Regex => format!("({value})(;.*)?"),
    };
    format!("^(.*;\\s*)?{}={value}$", escape_regex(name))
}

/// A regex over `user-agent` for any of the OSes and any of the browsers (both when
/// both are given: RE2 has no look-ahead, so both orders are spelled out).
pub fn user_agent_regex(oses: &[Os], browsers: &[Browser]) -> Option<String> {
    let alt = |parts: Vec<&str>| format!("({})", parts.join("|"));
    let os = (!oses.is_empty()).then(|| alt(oses.iter().map(|o| o.pattern()).collect()));
    let br = (!browsers.is_empty()).then(|| alt(browsers.iter().map(|b| b.pattern()).collect()));
    match (os, br) {
        (None, None) => None,
        (Some(o), None) => Some(format!(".*{o}.*")),
        (None, Some(b)) => Some(format!(".*{b}.*")),
        (Some(o), Some(b)) => Some(format!(".*{o}.*{b}.*|.*{b}.*{o}.*")),
    }
}

/// The single `HTTPMatchRequest` (all rules must hold) for a rule set.
pub fn to_match(rules: &[ContentRule]) -> Value {
    let mut m = Map::new();
    let mut headers = Map::new();
    let mut query = Map::new();
    let (mut oses, mut browsers) = (Vec::new(), Vec::new());
    for r in rules {
        match &r.kind {
            RuleKind::Header { name } => {
                headers.insert(name.to_ascii_lowercase(), string_match(r.op, &r.value));
            }
            RuleKind::Cookie { name } => {
                headers.insert(
                    "cookie".into(),
                    json!({"regex": cookie_regex(name, r.op, &r.value)}),
                );
            }
            RuleKind::Uri => {
                m.insert("uri".into(), string_match(r.op, &r.value));
            }
            RuleKind::Query { name } => {
                query.insert(name.clone(), string_match(r.op, &r.value));
            }
            RuleKind::Os { values } => oses.extend(values.iter().copied()),
            RuleKind::Browser { values } => browsers.extend(values.iter().copied()),
        }
    }
    if let Some(ua) = user_agent_regex(&oses, &browsers) {
        headers.insert("user-agent".into(), json!({"regex": ua}));
    }
    if !headers.is_empty() {
        m.insert("headers".into(), Value::Object(headers));
    }
    if !query.is_empty() {
        m.insert("queryParams".into(), Value::Object(query));
    }
    Value::Object(m)
}

/// At most this many rules per job: they become one `HTTPMatchRequest`, and a person
/// reviewing the job should be able to read them.
pub const MAX_RULES: usize = 16;
/// The longest name or value a rule may hold (Istio allows 1,024 for a regex).
pub const MAX_VALUE_LEN: usize = 256;

/// How a rule is named in messages: `Rule 2 (header end-user)`.
pub fn rule_label(n: usize, rule: &ContentRule) -> String {
    let what = match &rule.kind {
        RuleKind::Header { name } => format!("header {name}"),
        RuleKind::Cookie { name } => format!("cookie {name}"),
        RuleKind::Query { name } => format!("query {name}"),
        RuleKind::Uri => "URI".into(),
        RuleKind::Os { .. } => "OS".into(),
        RuleKind::Browser { .. } => "browser".into(),
    };
    format!("Rule {n} ({})", what.trim_end())
}

/// A header name as Istio accepts it in a match.
fn header_name_ok(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A cookie name: an HTTP token (RFC 6265), so it can be found in the Cookie header.
fn cookie_name_ok(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c))
}

/// Checks a rule set before anything is applied: a message per problem, naming the rule
/// (1-based) and how to fix it. Regexes are read with RE2's grammar ([`super::re2`]), as
/// Envoy and Istio read them; what RE2 accepts is then handed to `check_regex` in the
/// `regex` crate's spelling (the server compiles it; the browser may pass a lenient one).
pub fn validate(
    rules: &[ContentRule],
    check_regex: &dyn Fn(&str) -> Result<(), String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if rules.is_empty() {
        problems.push(
            "Add at least one rule: with none, no request would reach the new version.".into(),
        );
    }
    if rules.len() > MAX_RULES {
        problems.push(format!(
            "A job can have at most {MAX_RULES} rules, not {}: remove some.",
            rules.len()
        ));
    }
    let mut seen_headers: Vec<String> = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let n = i + 1;
        let label = rule_label(n, r);
        let named = |name: &str, what: &str, problems: &mut Vec<String>| {
            if name.trim().is_empty() {
                problems.push(format!("Rule {n}: enter the {what} name."));
            } else if name.len() > MAX_VALUE_LEN {
                problems.push(format!(
                    "Rule {n}: the {what} name is {} characters long: at most {MAX_VALUE_LEN} \
                     are allowed.",
                    name.len()
                ));
            }
        };
        match &r.kind {
            RuleKind::Header { name } => {
                named(name, "header", &mut problems);
                let lower = name.to_ascii_lowercase();
                if !name.is_empty() && !header_name_ok(name) {
                    problems.push(format!(
                        "{label}: a header name uses letters, digits, '-' and '_'."
                    ));
                }
                if lower == "cookie" || lower == "user-agent" {
                    problems.push(format!(
                        "Rule {n}: use the Cookie, OS or Browser rule instead of a raw {name} header."
                    ));
                }
                if seen_headers.contains(&lower) {
                    problems.push(format!(
                        "Rule {n}: header {name} appears twice; keep one rule per header."
                    ));
                }
                seen_headers.push(lower);
            }
            RuleKind::Cookie { name } => {
                named(name, "cookie", &mut problems);
                if !name.is_empty() && !cookie_name_ok(name) {
                    problems.push(format!(
                        "{label}: a cookie name has no spaces or separators such as ; = , \"."
                    ));
                }
            }
            RuleKind::Query { name } => {
                named(name, "query parameter", &mut problems);
                if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    problems.push(format!(
                        "{label}: a query parameter name has no spaces or control characters."
                    ));
                }
            }
            RuleKind::Uri => {
                if r.op != MatchOp::Regex && !r.value.starts_with('/') {
                    problems.push(format!(
                        "Rule {n}: a URI starts with '/', e.g. /api/v1/products."
                    ));
                }
            }
            RuleKind::Os { values } if values.is_empty() => {
                problems.push(format!("Rule {n}: choose at least one operating system."))
            }
            RuleKind::Browser { values } if values.is_empty() => {
                problems.push(format!("Rule {n}: choose at least one browser."))
            }
            RuleKind::Os { .. } | RuleKind::Browser { .. } => {}
        }
        let value_rule = !matches!(r.kind, RuleKind::Os { .. } | RuleKind::Browser { .. });
        if !value_rule {
            continue;
        }
        if r.value.is_empty() {
            problems.push(format!("Rule {n}: enter a value to match."));
            continue;
        }
        if r.value.len() > MAX_VALUE_LEN {
            problems.push(format!(
                "{label}: the value is {} characters long: at most {MAX_VALUE_LEN} are allowed.",
                r.value.len()
            ));
            continue;
        }
        if r.value.chars().any(char::is_control) {
            problems.push(format!(
                "{label}: the value contains a control character (a line break or tab): \
                 requests cannot carry one."
            ));
            continue;
        }
        if r.op == MatchOp::Regex {
            match super::re2::parse(&r.value) {
                Err(e) => problems.push(format!("{label}: {e}")),
                Ok(p) => {
                    if let Err(e) = check_regex(p.rust_syntax()) {
                        problems.push(format!("{label}: the regular expression is invalid: {e}"));
                    } else if let RuleKind::Cookie { name } = &r.kind
                        && let Err(e) = super::re2::check(&cookie_regex(name, r.op, &r.value))
                    {
                        // The value sits inside a group of the Cookie header's regex.
                        problems.push(format!(
                            "{label}: the value cannot stand inside the cookie's pattern: {e}"
                        ));
                    }
                }
            }
        }
    }
    if rules.iter().filter(|r| r.kind == RuleKind::Uri).count() > 1 {
        problems.push("Only one URI rule can apply to a request; remove the others.".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: RuleKind, op: MatchOp, value: &str) -> ContentRule {
        ContentRule {
            kind,
            op,
            value: value.into(),
        }
    }

    fn ok(_: &str) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn the_tutorial_header_rule() {
        let m = to_match(&[rule(
            RuleKind::Header {
                name: "end-user".into(),
            },
            MatchOp::Exact,
            "jason",
        )]);
        assert_eq!(m, json!({"headers": {"end-user": {"exact": "jason"}}}));
    }

    #[test]
    fn several_rules_must_all_hold() {
        let m = to_match(&[
            rule(RuleKind::Uri, MatchOp::Prefix, "/api"),
            rule(
                RuleKind::Query {
                    name: "beta".into(),
                },
                MatchOp::Exact,
                "1",
            ),
            rule(
                RuleKind::Cookie {
                    name: "user".into(),
                },
                MatchOp::Exact,
                "jason",
            ),
        ]);
        assert_eq!(m["uri"], json!({"prefix": "/api"}));
        assert_eq!(m["queryParams"], json!({"beta": {"exact": "1"}}));
        assert_eq!(
            m["headers"]["cookie"]["regex"],
            r"^(.*;\s*)?user=jason(;.*)?$"
        );
    }

    #[test]
    fn cookie_regexes_escape_literals() {
        assert_eq!(
            cookie_regex("a.b", MatchOp::Exact, "x+y"),
            r"^(.*;\s*)?a\.b=x\+y(;.*)?$"
        );
        assert_eq!(
            cookie_regex("u", MatchOp::Prefix, "ja"),
            r"^(.*;\s*)?u=ja[^;]*(;.*)?$"
        );
    }

    #[test]
    fn os_and_browser_become_user_agent_alternations() {
        assert_eq!(user_agent_regex(&[], &[]), None);
        assert_eq!(
            user_agent_regex(&[Os::Android, Os::Ios], &[]).unwrap(),
            ".*(Android|iPhone|iPad|iPod).*"
        );
        let both = user_agent_regex(&[Os::Windows], &[Browser::Firefox]).unwrap();
        assert_eq!(both, ".*(Windows).*(Firefox/).*|.*(Firefox/).*(Windows).*");
    }

    /// Envoy's safe_regex must match the whole header value.
    fn full_match(re: &str, text: &str) -> bool {
        regex::Regex::new(&format!("^(?:{re})$"))
            .unwrap()
            .is_match(text)
    }

    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const EDGE_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
    const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";
    const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36";
    const FIREFOX_LINUX: &str =
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

    #[test]
    fn user_agent_regexes_recognise_real_browsers() {
        let all = [
            CHROME_WIN,
            EDGE_WIN,
            SAFARI_MAC,
            SAFARI_IOS,
            CHROME_ANDROID,
            FIREFOX_LINUX,
        ];
        let which = |oses: &[Os], browsers: &[Browser]| -> Vec<&str> {
            let re = user_agent_regex(oses, browsers).unwrap();
            all.iter()
                .copied()
                .filter(|ua| full_match(&re, ua))
                .collect()
        };
        assert_eq!(which(&[], &[Browser::Chrome]), [CHROME_WIN, CHROME_ANDROID]);
        assert_eq!(which(&[], &[Browser::Edge]), [EDGE_WIN]);
        assert_eq!(which(&[], &[Browser::Safari]), [SAFARI_MAC, SAFARI_IOS]);
        assert_eq!(which(&[], &[Browser::Firefox]), [FIREFOX_LINUX]);
        assert_eq!(which(&[Os::Android], &[]), [CHROME_ANDROID]);
        assert_eq!(
            which(&[Os::Linux], &[]),
            [FIREFOX_LINUX],
            "Android is not desktop Linux"
        );
        assert_eq!(which(&[Os::Ios], &[]), [SAFARI_IOS]);
        assert_eq!(which(&[Os::Windows], &[Browser::Chrome]), [CHROME_WIN]);
        assert_eq!(
            which(&[Os::MacOs, Os::Ios], &[Browser::Safari]),
            [SAFARI_MAC, SAFARI_IOS]
        );
    }

    #[test]
    fn cookie_regexes_find_the_cookie_anywhere_in_the_header() {
        let re = cookie_regex("user", MatchOp::Exact, "jason");
        assert!(full_match(&re, "user=jason"));
        assert!(full_match(&re, "session=abc; user=jason"));
        assert!(full_match(&re, "user=jason; theme=dark"));
        assert!(!full_match(&re, "user=jasonx"));
        assert!(!full_match(&re, "otheruser=jason"));
        let re = cookie_regex("user", MatchOp::Regex, "j.*n");
        assert!(full_match(&re, "a=1; user=jason"));
    }

    #[test]
    fn validation_names_the_rule_and_the_fix() {
        let problems = validate(&[], &ok);
        assert!(problems[0].contains("at least one rule"));
        let bad = |_: &str| Err("unclosed group".to_string());
        let problems = validate(
            &[
                rule(RuleKind::Header { name: "".into() }, MatchOp::Exact, "x"),
                rule(RuleKind::Uri, MatchOp::Exact, "api"),
                rule(RuleKind::Query { name: "q".into() }, MatchOp::Regex, "a"),
                rule(RuleKind::Os { values: vec![] }, MatchOp::Exact, ""),
            ],
            &bad,
        );
        assert_eq!(
            problems,
            [
                "Rule 1: enter the header name.",
                "Rule 2: a URI starts with '/', e.g. /api/v1/products.",
                "Rule 3 (query q): the regular expression is invalid: unclosed group",
                "Rule 4: choose at least one operating system.",
            ]
        );
    }

    #[test]
    fn rules_are_bounded_and_regexes_read_as_re2() {
        let header = |name: &str, op: MatchOp, value: &str| {
            rule(RuleKind::Header { name: name.into() }, op, value)
        };
        let many: Vec<ContentRule> = (0..17)
            .map(|i| header(&format!("x-{i}"), MatchOp::Exact, "1"))
            .collect();
        assert_eq!(
            validate(&many, &ok),
            ["A job can have at most 16 rules, not 17: remove some."]
        );
        let problems = validate(
            &[
                header("end-user", MatchOp::Exact, &"j".repeat(257)),
                header("bad header", MatchOp::Exact, "x"),
                rule(RuleKind::Cookie { name: "a;b".into() }, MatchOp::Exact, "x"),
                header("x-line", MatchOp::Exact, "a\nb"),
                header("x-re", MatchOp::Regex, "\\bword\\>"),
            ],
            &ok,
        );
        assert_eq!(
            problems,
            [
                "Rule 1 (header end-user): the value is 257 characters long: at most 256 are allowed.",
                "Rule 2 (header bad header): a header name uses letters, digits, '-' and '_'.",
                "Rule 3 (cookie a;b): a cookie name has no spaces or separators such as ; = , \".",
                "Rule 4 (header x-line): the value contains a control character (a line break or tab): requests cannot carry one.",
                "Rule 5 (header x-re): RE2, which Envoy uses, does not support the word-end boundary `\\>` (RE2 reads it as the character `>`): write `\\b` for a word boundary, or the character alone",
            ]
        );
    }

    #[test]
    fn the_server_check_gets_the_crates_spelling_of_what_re2_accepted() {
        let seen = std::cell::RefCell::new(Vec::new());
        let record = |re: &str| {
            seen.borrow_mut().push(re.to_string());
            Ok(())
        };
        let r = rule(RuleKind::Uri, MatchOp::Regex, "\\Q/a.b\\E.*");
        assert!(validate(&[r], &record).is_empty());
        assert_eq!(*seen.borrow(), ["\\x{2F}a\\x{2E}b.*"]);
    }

    #[test]
    fn a_cookie_regex_must_stand_inside_the_cookie_pattern() {
        let r = rule(
            RuleKind::Cookie {
                name: "user".into(),
            },
            MatchOp::Regex,
            "\\Qjason",
        );
        let problems = validate(&[r], &ok);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("Rule 1 (cookie user): the value cannot stand inside"),
            "{problems:?}"
        );
    }
}
