//! Cross-site protection: no other web page may drive the console.
//!
//! A browser happily sends requests from any page to `http://127.0.0.1:3000`: a plain HTML
//! form posts urlencoded or `text/plain` bodies without a CORS preflight, and DNS
//! rebinding turns a foreign name into "same origin" for reads. So, before routing:
//!
//! 1. the `Host` header must be one of the console's own names (the loopback names on the
//!    listening port, `--public-url`'s host, `--allowed-host`s): 421 otherwise;
//! 2. every request that may change state (any method but GET/HEAD/OPTIONS) must come from
//!    the console's own origin: `Sec-Fetch-Site: same-origin`, or an `Origin` equal to one
//!    of the console's: 403 otherwise, with a message saying why;
//! 3. every response carries a Content-Security-Policy (inline scripts only with the
//!    page's nonce, `frame-ancestors 'none'`; see `sluice_app::domain::csp`), `X-Frame-Options: DENY`,
//!    `X-Content-Type-Options: nosniff` and a `Referrer-Policy`.
//!
//! The decisions are pure functions of the request's headers ([`Policy::check`]), unit
//! tested here and over HTTP in `server/tests/security.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use reqwest::Url;
use sluice_app::domain::csp::NON_PAGE_POLICY;

/// Paths a probe (kubelet, a load balancer) asks for under whatever `Host` it likes.
/// They answer without details when the Host is foreign (see [`crate::router`]).
pub const PROBE_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// The console's own names and origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `host[:port]` values accepted in `Host`, lowercase.
    hosts: BTreeSet<String>,
    /// `scheme://host[:port]` values accepted in `Origin`, lowercase.
    origins: BTreeSet<String>,
    /// The origin named in messages (the public URL's, or the first loopback one).
    primary_origin: String,
    /// True when the console is reached over TLS (the public URL is https): cookies get
    /// `Secure`.
    pub tls: bool,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 421: the `Host` is not one of the console's names (DNS rebinding, a wrong URL).
    ForeignHost(String),
    /// 403: a state-changing request from another site, or with no proof of its origin.
    CrossSite(String),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::ForeignHost(_) => StatusCode::MISDIRECTED_REQUEST,
            Refusal::CrossSite(_) => StatusCode::FORBIDDEN,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Refusal::ForeignHost(m) | Refusal::CrossSite(m) => m,
        }
    }
}

/// The loopback names a browser may use for a console listening on `port`.
fn loopback_hosts(port: u16) -> [String; 3] {
    [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ]
}

/// `host[:port]` of a URL as a browser sends it in `Host` (default ports left out).
fn host_of(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

impl Policy {
    /// The policy for a console listening on `listen_port`, reached at `public_url` (when
    /// set) and under the `extra_hosts` names (`host[:port]`, e.g. a Service's DNS name).
    pub fn new(listen_port: u16, public_url: Option<&Url>, extra_hosts: &[String]) -> Policy {
        let mut hosts = BTreeSet::new();
        let mut origins = BTreeSet::new();
        for h in loopback_hosts(listen_port) {
            origins.insert(format!("http://{h}"));
            hosts.insert(h);
        }
        let mut primary_origin = format!("http://127.0.0.1:{listen_port}");
        let mut tls = false;
        if let Some(url) = public_url
            && let Some(host) = host_of(url)
        {
            let origin = format!("{}://{host}", url.scheme());
            hosts.insert(host);
            origins.insert(origin.clone());
            primary_origin = origin;
            tls = url.scheme() == "https";
        }
        for h in extra_hosts {
            let h = h.trim().to_ascii_lowercase();
            if h.is_empty() {
                continue;
            }
            origins.insert(format!("http://{h}"));
            origins.insert(format!("https://{h}"));
            hosts.insert(h);
        }
        Policy {
            hosts,
            origins,
            primary_origin,
            tls,
        }
    }

    /// The origin the console calls its own in messages and redirects.
    pub fn origin(&self) -> &str {
        &self.primary_origin
    }

    /// True when `host` (a `Host` header value) is one of the console's names.
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        host.is_some_and(|h| self.hosts.contains(&h.trim().to_ascii_lowercase()))
    }

    /// The whole decision for one request, from its method, path and headers.
    pub fn check(&self, method: &Method, path: &str, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        if !self.host_allowed(host) && !PROBE_PATHS.contains(&path) {
            return Err(Refusal::ForeignHost(format!(
                "This is the Sluice console, but it is not known here as {}. Open it at {} \
                 (or start it with --public-url / --allowed-host naming the address you use). \
                 Requests under other names are refused so that no other web page can reach \
                 the console through DNS tricks.",
                host.map(|h| format!("\"{h}\""))
                    .unwrap_or_else(|| "a request without a Host header".into()),
                self.primary_origin
            )));
        }
        if is_safe(method) {
            return Ok(());
        }
        let fetch_site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase());
        match (fetch_site.as_deref(), origin.as_deref()) {
            // The browser's own word: only the console's pages are same-origin.
            (Some("same-origin"), _) => Ok(()),
            (Some(site), _) if site != "none" => Err(Refusal::CrossSite(format!(
                "Refused: this {method} request came from another web page (Sec-Fetch-Site: \
                 {site}). Changes can only be made from the console's own pages at {}.",
                self.primary_origin
            ))),
            (_, Some(o)) if self.origins.contains(o) => Ok(()),
            (_, Some(o)) => Err(Refusal::CrossSite(format!(
                "Refused: this {method} request came from {o}, not from the console ({}). \
                 Changes can only be made from the console's own pages.",
                self.primary_origin
            ))),
            (_, None) => Err(Refusal::CrossSite(format!(
                "Refused: this {method} request does not say where it comes from (no Origin \
                 or Sec-Fetch-Site header). Browsers send them; a script calling the console \
                 must send \"Origin: {}\".",
                self.primary_origin
            ))),
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware: refuses foreign hosts and cross-site changes, and adds the security
/// headers to every response (refusals included).
pub async fn guard(State(policy): State<Arc<Policy>>, req: Request, next: Next) -> Response {
    let mut res = match policy.check(req.method(), req.uri().path(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            tracing::warn!(
                method = %req.method(),
                path = req.uri().path(),
                "refused: {}",
                refusal.message()
            );
            refusal_response(&refusal)
        }
    };
    add_headers(res.headers_mut());
    res
}

fn refusal_response(refusal: &Refusal) -> Response {
    let mut res = (refusal.status(), format!("{}\n", refusal.message())).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

fn add_headers(h: &mut HeaderMap) {
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(NON_PAGE_POLICY),
        );
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn loopback() -> Policy {
        Policy::new(3000, None, &[])
    }

    #[test]
    fn loopback_names_on_the_listening_port_are_the_only_hosts() {
        let p = loopback();
        for ok in [
            "127.0.0.1:3000",
            "localhost:3000",
            "[::1]:3000",
            "LOCALHOST:3000",
        ] {
            assert!(p.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            "127.0.0.1:3001",
            "localhost",
            "evil.example:3000",
            "127.0.0.1.nip.io:3000",
            "",
        ] {
            assert!(!p.host_allowed(Some(bad)), "{bad}");
        }
        assert!(!p.host_allowed(None));
    }

    #[test]
    fn a_rebound_name_is_refused_with_421_and_told_where_the_console_is() {
        let err = loopback()
            .check(
                &Method::GET,
                "/api/list_projects",
                &headers(&[("host", "attacker.example:3000")]),
            )
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::MISDIRECTED_REQUEST);
        assert!(
            err.message().contains("\"attacker.example:3000\""),
            "{err:?}"
        );
        assert!(err.message().contains("http://127.0.0.1:3000"), "{err:?}");
    }

    #[test]
    fn probes_answer_under_any_host() {
        let p = loopback();
        for path in PROBE_PATHS {
            assert!(
                p.check(&Method::GET, path, &headers(&[("host", "10.1.2.3:3000")]))
                    .is_ok()
            );
        }
    }

    #[test]
    fn the_public_url_adds_its_host_and_origin() {
        let url = Url::parse("https://sluice.example.com/").unwrap();
        let p = Policy::new(3000, Some(&url), &[]);
        assert!(p.tls);
        assert_eq!(p.origin(), "https://sluice.example.com");
        assert!(p.host_allowed(Some("sluice.example.com")));
        let post = headers(&[
            ("host", "sluice.example.com"),
            ("origin", "https://sluice.example.com"),
        ]);
        assert!(p.check(&Method::POST, "/api/x", &post).is_ok());
        // http on the same name is another origin.
        let post = headers(&[
            ("host", "sluice.example.com"),
            ("origin", "http://sluice.example.com"),
        ]);
        assert!(p.check(&Method::POST, "/api/x", &post).is_err());
        let url = Url::parse("http://console.lab:8080").unwrap();
        let p = Policy::new(3000, Some(&url), &[]);
        assert!(p.host_allowed(Some("console.lab:8080")));
        assert!(!p.tls);
    }

    #[test]
    fn changes_need_same_origin_proof() {
        let p = loopback();
        let host = ("host", "127.0.0.1:3000");
        for ok in [
            headers(&[host, ("sec-fetch-site", "same-origin")]),
            headers(&[host, ("origin", "http://127.0.0.1:3000")]),
            headers(&[host, ("origin", "http://localhost:3000")]),
            headers(&[
                host,
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:3000"),
            ]),
        ] {
            assert!(
                p.check(&Method::POST, "/api/create_release_job", &ok)
                    .is_ok(),
                "{ok:?}"
            );
        }
        for (bad, why) in [
            (
                headers(&[host, ("sec-fetch-site", "cross-site")]),
                "Sec-Fetch-Site: cross-site",
            ),
            // Another port on loopback is same-site, never same-origin.
            (
                headers(&[
                    host,
                    ("sec-fetch-site", "same-site"),
                    ("origin", "http://127.0.0.1:8080"),
                ]),
                "Sec-Fetch-Site: same-site",
            ),
            (
                headers(&[host, ("origin", "http://evil.example")]),
                "came from http://evil.example",
            ),
            (headers(&[host, ("origin", "null")]), "came from null"),
            (headers(&[host]), "does not say where it comes from"),
        ] {
            let err = p.check(&Method::POST, "/api/x", &bad).unwrap_err();
            assert_eq!(err.status(), StatusCode::FORBIDDEN);
            assert!(err.message().contains(why), "{why}: {err:?}");
        }
        // Every unsafe method is a change.
        for m in [Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(p.check(&m, "/x", &headers(&[host])).is_err());
        }
        // Reads need nothing but the Host.
        assert!(p.check(&Method::GET, "/", &headers(&[host])).is_ok());
    }

    #[test]
    fn extra_hosts_are_accepted_with_either_scheme() {
        let p = Policy::new(3000, None, &["sluice.sluice-system.svc:3000".into()]);
        assert!(p.host_allowed(Some("sluice.sluice-system.svc:3000")));
        let h = headers(&[
            ("host", "sluice.sluice-system.svc:3000"),
            ("origin", "https://sluice.sluice-system.svc:3000"),
        ]);
        assert!(p.check(&Method::POST, "/", &h).is_ok());
    }
}
