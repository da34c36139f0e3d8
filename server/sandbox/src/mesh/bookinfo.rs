//! What the Bookinfo services do when a request reaches them, and how long it takes.
//!
//! The sandbox runs no containers, so each pod's behaviour is decided from its image and
//! labels:
//!
//! - **Role**: the image repository name (`examples-bookinfo-reviews-v2`, from any
//!   registry: Istio's, Docker Hub's `istio/`, KubeSphere's `kubesphere/`) decides whether
//!   the pod is productpage, details, reviews or ratings; without a Bookinfo image the
//!   `app` label decides; anything else is a generic service answering 200.
//! - **Stars** (reviews only): the image wins — `...-reviews-v1` shows no stars and never
//!   calls ratings, `-v2` calls ratings and shows black stars, `-v3` red stars — because
//!   the image is the code that runs (a pod labelled `version: v4` running the v2 image
//!   shows black stars, as it would on a real cluster). Without a recognisable image the
//!   `version` label decides (`v2` black, `v3` red, anything else none).
//! - **Version in telemetry and on the page marker**: the `version` label (Istio's
//!   canonical revision), since that is what DestinationRule subsets select and what the
//!   console calls the version.
//!
//! Latency and errors: each (app, version) has a [`LatencyProfile`] — a lognormal-ish
//! service time around a mean, and an error rate. Defaults are in
//! [`Profiles::default`] and can be overridden in `MeshConfig`. A deliberately bad canary
//! is deployed with ordinary Kubernetes means, so users can watch it and roll it back:
//!
//! - env var `SLUICE_FAULT_ERROR_RATE=0.5` — that share of requests answers 500
//!   (`SLUICE_FAULT_STATUS=503` picks another 5xx);
//! - env var `SLUICE_FAULT_DELAY_MS=800` — that much extra mean latency;
//! - or an image whose name or tag contains `faulty` (error rate 0.5) or `slow`
//!   (+800 ms), e.g. `kubesphere/examples-bookinfo-reviews-v2:1.13.0-faulty`.
//!   Environment variables win over the image convention.
//!
//! Callers react the way Bookinfo does: productpage still answers 200 when details or
//! reviews fail and says "Sorry, product reviews are currently unavailable for this
//! book."; reviews v2/v3 show "Ratings service is currently unavailable" when ratings
//! fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rand::{Rng, RngExt};

use super::routing::Headers;
use super::snapshot::Pod;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    ProductPage,
    Details,
    Reviews,
    Ratings,
    /// Not Bookinfo: answers 200 with a short text body.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stars {
    None,
    Black,
    Red,
}

impl Stars {
    pub fn as_str(self) -> &'static str {
        match self {
            Stars::None => "none",
            Stars::Black => "black",
            Stars::Red => "red",
        }
    }
}

/// Service time and failure behaviour of one (app, version).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyProfile {
    /// Mean of the service's own processing time, without downstream calls.
    pub mean_ms: f64,
    /// Spread of the lognormal (σ of the underlying normal); 0 = constant.
    pub sigma: f64,
    /// Share of requests answered with `error_status` (0..=1).
    pub error_rate: f64,
    pub error_status: u16,
}

impl LatencyProfile {
    pub const fn new(mean_ms: f64) -> LatencyProfile {
        LatencyProfile {
            mean_ms,
            sigma: 0.35,
            error_rate: 0.0,
            error_status: 500,
        }
    }

    /// One service time in ms: lognormal with the configured mean (μ = ln mean − σ²/2),
    /// capped at 60 s so one unlucky draw cannot stall the simulation.
    pub fn sample_ms<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let mean = self.mean_ms.max(0.0);
        if mean == 0.0 || self.sigma <= 0.0 {
            return mean.min(60_000.0);
        }
        let s = self.sigma.min(3.0);
        // Box–Muller; u1 in (0, 1] so ln is finite.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let mu = mean.ln() - s * s / 2.0;
        (mu + s * z).exp().min(60_000.0)
    }
}

/// Latency/error profiles by app and version, plus network and proxy costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    /// Keyed by `app` (e.g. `reviews`) or `app:version` (e.g. `reviews:v3`); the more
    /// specific key wins.
    pub overrides: BTreeMap<String, LatencyProfile>,
    /// For apps with no entry.
    pub fallback: LatencyProfile,
    /// One-way network time between two pods.
    pub network_ms: f64,
    /// Time one proxy adds to a request passing through it.
    pub proxy_ms: f64,
}

impl Default for Profiles {
    /// Loosely after Bookinfo on a laptop cluster: the Java reviews service is the slow
    /// one, and the versions that call ratings are slower than v1.
    fn default() -> Self {
        let overrides = [
            ("productpage", LatencyProfile::new(9.0)),
            ("details", LatencyProfile::new(1.5)),
            ("reviews:v1", LatencyProfile::new(4.0)),
            ("reviews:v2", LatencyProfile::new(6.0)),
            ("reviews:v3", LatencyProfile::new(6.5)),
            ("reviews", LatencyProfile::new(5.0)),
            ("ratings", LatencyProfile::new(1.2)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Profiles {
            overrides,
            fallback: LatencyProfile::new(3.0),
            network_ms: 0.15,
            proxy_ms: 0.25,
        }
    }
}

impl Profiles {
    pub fn lookup(&self, app: &str, version: &str) -> LatencyProfile {
        self.overrides
            .get(&format!("{app}:{version}"))
            .or_else(|| self.overrides.get(app))
            .copied()
            .unwrap_or(self.fallback)
    }
}

/// What a pod does, decided once per snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Behaviour {
    pub role: Role,
    pub stars: Stars,
    /// The `version` label (`unknown` when absent), for the page marker.
    pub version: String,
    pub profile: LatencyProfile,
}

impl Behaviour {
    pub fn of_pod(pod: &Pod, profiles: &Profiles) -> Behaviour {
        let labels = &pod.meta.labels;
        let app = labels.get("app").map(String::as_str).unwrap_or_default();
        let version = labels
            .get("version")
            .cloned()
            .unwrap_or_else(|| "unknown".into());
        let image = pod.images.iter().find_map(|i| bookinfo_image(i));
        let role = match image.as_ref().map(|(r, _)| *r).unwrap_or(app) {
            "productpage" => Role::ProductPage,
            "details" => Role::Details,
            "reviews" => Role::Reviews,
            "ratings" => Role::Ratings,
            _ => Role::Other,
        };
        let stars_from = image
            .as_ref()
            .filter(|(r, _)| *r == "reviews")
            .map_or(version.as_str(), |(_, v)| *v);
        let stars = match (role, stars_from) {
            (Role::Reviews, "v2") => Stars::Black,
            (Role::Reviews, "v3") => Stars::Red,
            _ => Stars::None,
        };
        let profile_app = match role {
            Role::ProductPage => "productpage",
            Role::Details => "details",
            Role::Reviews => "reviews",
            Role::Ratings => "ratings",
            Role::Other => app,
        };
        let mut profile = profiles.lookup(profile_app, &version);
        // Faults: the image convention first, then env vars override it.
        let tails: Vec<&str> = pod
            .images
            .iter()
            .map(|i| i.rsplit('/').next().unwrap_or(i))
            .collect();
        if tails.iter().any(|t| t.contains("faulty")) {
            profile.error_rate = profile.error_rate.max(0.5);
        }
        if tails.iter().any(|t| t.contains("slow")) {
            profile.mean_ms += 800.0;
        }
        let env_num = |k: &str| {
            pod.env
                .get(k)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        if let Some(rate) = env_num("SLUICE_FAULT_ERROR_RATE") {
            profile.error_rate = rate.clamp(0.0, 1.0);
        }
        if let Some(ms) = env_num("SLUICE_FAULT_DELAY_MS") {
            profile.mean_ms += ms.clamp(0.0, 60_000.0);
        }
        if let Some(s) = env_num("SLUICE_FAULT_STATUS").filter(|s| (400.0..=599.0).contains(s)) {
            profile.error_status = s as u16;
        }
        Behaviour {
            role,
            stars,
            version,
            profile,
        }
    }
}

/// `(role, version)` from a Bookinfo image reference such as
/// `registry.istio.io/release/examples-bookinfo-reviews-v2:1.20.3`.
fn bookinfo_image(image: &str) -> Option<(&str, &str)> {
    let tail = image.rsplit('/').next()?;
    let repo = tail.split([':', '@']).next()?;
    let rest = repo.strip_prefix("examples-bookinfo-")?;
    let (role, version) = rest.split_once('-')?;
    matches!(role, "productpage" | "details" | "reviews" | "ratings").then_some((role, version))
}

// ---------------------------------------------------------------------------------------
// Application behaviour.

/// A request as the application sees it.
#[derive(Debug, Clone)]
pub struct AppRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a Headers,
    pub body: &'a str,
}

/// Structured results passed between simulated services (instead of parsing JSON).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    None,
    Details,
    Reviews(ReviewsPayload),
    Ratings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviewsPayload {
    /// The serving pod's `version` label.
    pub version: String,
    pub pod: String,
    pub stars: Stars,
    /// `None`: ratings not called (v1); `Some(false)`: ratings failed.
    pub ratings_ok: Option<bool>,
}

/// An outgoing call an application makes.
#[derive(Debug, Clone)]
pub struct OutCall {
    pub authority: String,
    pub method: &'static str,
    pub path: String,
    pub headers: Headers,
}

/// What came back from an outgoing call.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// HTTP status; 0 when the connection could not be made.
    pub status: u16,
    pub payload: Payload,
    pub body_len: u64,
    /// As observed by the caller.
    pub duration_us: u64,
}

impl CallResult {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The network as an application sees it: make a call starting at `at_us`.
pub trait Network {
    fn call(&mut self, at_us: u64, call: OutCall) -> CallResult;
}

/// The per-request facts the simulator draws before the app runs.
#[derive(Debug, Clone)]
pub struct AppCtx<'a> {
    pub behaviour: &'a Behaviour,
    pub pod_name: &'a str,
    /// This request's own processing time.
    pub self_ms: f64,
    /// `Some(status)` when this request fails in the application.
    pub fail: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct AppReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub payload: Payload,
    /// Total time in the application, downstream calls included.
    pub elapsed_us: u64,
}

/// Headers Bookinfo's services forward to the services they call (tracing context is
/// carried by the simulator itself).
const PROPAGATED: &[&str] = &[
    "x-request-id",
    "user-agent",
    "cookie",
    "end-user",
    "authorization",
];

fn forward_headers(h: &Headers) -> Headers {
    Headers::from_pairs(
        h.iter()
            .filter(|(k, _)| PROPAGATED.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

/// The logged-in user: the `end-user` header, else the `user` cookie set by `/login`.
pub fn current_user(h: &Headers) -> Option<String> {
    h.get("end-user")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .or_else(|| h.cookie("user").filter(|v| !v.is_empty()))
}

fn us(ms: f64) -> u64 {
    (ms.max(0.0) * 1000.0).round() as u64
}

/// Run one request through the application.
pub fn serve(
    ctx: &AppCtx<'_>,
    req: &AppRequest<'_>,
    start_us: u64,
    net: &mut dyn Network,
) -> AppReply {
    let self_us = us(ctx.self_ms);
    if let Some(status) = ctx.fail {
        // A failing request gives up about halfway through its usual work.
        return reply(
            status,
            "text/plain; charset=utf-8",
            error_text(status),
            Payload::None,
            self_us / 2,
        );
    }
    let b = ctx.behaviour;
    match b.role {
        Role::ProductPage => productpage(req, start_us, self_us, net),
        Role::Details => match id_after(req.path, "/details/") {
            Some(id) => reply(200, JSON, details_json(id), Payload::Details, self_us),
            None => not_found(self_us),
        },
        Role::Reviews => match id_after(req.path, "/reviews/") {
            Some(id) => reviews(ctx, req, id, start_us, self_us, net),
            None => not_found(self_us),
        },
        Role::Ratings => match id_after(req.path, "/ratings/") {
            Some(id) => reply(200, JSON, ratings_json(id), Payload::Ratings, self_us),
            None => not_found(self_us),
        },
        Role::Other => reply(
            200,
            "text/plain; charset=utf-8",
            format!("ok from {}\n", ctx.pod_name),
            Payload::None,
            self_us,
        ),
    }
}

const JSON: &str = "application/json";
const HTML: &str = "text/html; charset=utf-8";

fn reply(
    status: u16,
    content_type: &'static str,
    body: String,
    payload: Payload,
    elapsed_us: u64,
) -> AppReply {
    AppReply {
        status,
        content_type,
        body,
        headers: Vec::new(),
        payload,
        elapsed_us,
    }
}

fn not_found(self_us: u64) -> AppReply {
    reply(
        404,
        "text/plain; charset=utf-8",
        "Not Found\n".into(),
        Payload::None,
        self_us,
    )
}

fn error_text(status: u16) -> String {
    match status {
        500 => "Internal Server Error\n".into(),
        503 => "Service Unavailable\n".into(),
        s => format!("error {s}\n"),
    }
}

/// `0` from `/details/0` (any non-negative integer).
fn id_after(path: &str, prefix: &str) -> Option<u32> {
    path.strip_prefix(prefix)?
        .trim_end_matches('/')
        .parse()
        .ok()
}

fn productpage(
    req: &AppRequest<'_>,
    start_us: u64,
    self_us: u64,
    net: &mut dyn Network,
) -> AppReply {
    let user = current_user(req.headers);
    let mut fwd = forward_headers(req.headers);
    if let Some(u) = &user {
        fwd.set("end-user", u.clone());
    }
    let call = |path: String, svc: &str| OutCall {
        authority: format!("{svc}:9080"),
        method: "GET",
        path,
        headers: fwd.clone(),
    };
    let path = req.path;
    match path {
        "/productpage" => {
            // Own work split around the two sequential calls, as the Flask app does.
            let mut t = start_us + self_us * 2 / 5;
            let details = net.call(t, call("/details/0".into(), "details"));
            t += details.duration_us;
            let reviews = net.call(t, call("/reviews/0".into(), "reviews"));
            t += reviews.duration_us;
            let reviews_view = match (&reviews.payload, reviews.ok()) {
                (Payload::Reviews(r), true) => Some(r.clone()),
                _ => None,
            };
            let html = product_page_html(user.as_deref(), details.ok(), reviews_view.as_ref());
            let elapsed = t - start_us + self_us * 3 / 5;
            reply(200, HTML, html, Payload::None, elapsed)
        }
        "/" | "/index.html" => reply(200, HTML, index_html(), Payload::None, self_us),
        "/health" => reply(
            200,
            JSON,
            r#"{"status": "Product page is healthy"}"#.into(),
            Payload::None,
            self_us,
        ),
        "/login" => {
            let name = form_urlencoded::parse(req.body.as_bytes())
                .chain(form_urlencoded::parse(req.query.as_bytes()))
                .find(|(k, _)| k == "username")
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| {
                    !v.is_empty()
                        && v.len() <= 64
                        && v.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
                });
            let mut r = reply(302, HTML, String::new(), Payload::None, self_us);
            r.headers.push(("location".into(), "/productpage".into()));
            if let Some(n) = name {
                r.headers
                    .push(("set-cookie".into(), format!("user={n}; Path=/")));
            }
            r
        }
        "/logout" => {
            let mut r = reply(302, HTML, String::new(), Payload::None, self_us);
            r.headers.push(("location".into(), "/productpage".into()));
            r.headers
                .push(("set-cookie".into(), "user=; Path=/; Max-Age=0".into()));
            r
        }
        p if p.starts_with("/static/") => reply(
            200,
            "text/css",
            "/* bookinfo static asset */\n".into(),
            Payload::None,
            self_us,
        ),
        "/api/v1/products" => reply(200, JSON, products_json(), Payload::None, self_us),
        p => {
            let Some(rest) = p.strip_prefix("/api/v1/products/") else {
                return not_found(self_us);
            };
            let (id, what) = rest.split_once('/').unwrap_or((rest, ""));
            let Ok(id) = id.parse::<u32>() else {
                return not_found(self_us);
            };
            let (svc, sub) = match what {
                "" => ("details", "details"),
                "reviews" => ("reviews", "reviews"),
                "ratings" => ("ratings", "ratings"),
                _ => return not_found(self_us),
            };
            let t = start_us + self_us / 2;
            let r = net.call(t, call(format!("/{sub}/{id}"), svc));
            let elapsed = self_us + r.duration_us;
            if r.ok() {
                let body = match svc {
                    "details" => details_json(id),
                    "ratings" => ratings_json(id),
                    _ => match &r.payload {
                        Payload::Reviews(p) => reviews_json(id, p),
                        _ => "{}".into(),
                    },
                };
                reply(200, JSON, body, Payload::None, elapsed)
            } else {
                let status = if r.status == 0 { 503 } else { r.status };
                reply(
                    status,
                    JSON,
                    format!(
                        r#"{{"error": "Sorry, product {svc} are currently unavailable for this book."}}"#
                    ),
                    Payload::None,
                    elapsed,
                )
            }
        }
    }
}

fn reviews(
    ctx: &AppCtx<'_>,
    req: &AppRequest<'_>,
    id: u32,
    start_us: u64,
    self_us: u64,
    net: &mut dyn Network,
) -> AppReply {
    let b = ctx.behaviour;
    let mut elapsed = self_us;
    let ratings_ok = if b.stars == Stars::None {
        None
    } else {
        let r = net.call(
            start_us + self_us / 2,
            OutCall {
                authority: "ratings:9080".into(),
                method: "GET",
                path: format!("/ratings/{id}"),
                headers: forward_headers(req.headers),
            },
        );
        elapsed += r.duration_us;
        Some(r.ok())
    };
    let payload = ReviewsPayload {
        version: b.version.clone(),
        pod: ctx.pod_name.to_string(),
        stars: b.stars,
        ratings_ok,
    };
    let body = reviews_json(id, &payload);
    reply(200, JSON, body, Payload::Reviews(payload), elapsed)
}

// ---------------------------------------------------------------------------------------
// Bodies. Texts follow Istio's Bookinfo sample (Apache-2.0), so the page reads the same.

const TITLE: &str = "The Comedy of Errors";
const SUMMARY: &str = "The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his \
shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and \
mistaken identity, in addition to puns and word play.";
const REVIEWS: [(&str, &str, u8); 2] = [
    (
        "Reviewer1",
        "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
        5,
    ),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
        4,
    ),
];

pub fn details_json(id: u32) -> String {
    serde_json::json!({
        "id": id, "author": "William Shakespeare", "year": 1595, "type": "paperback",
        "pages": 200, "publisher": "PublisherA", "language": "English",
        "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"
    })
    .to_string()
}

pub fn ratings_json(id: u32) -> String {
    serde_json::json!({"id": id, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}).to_string()
}

pub fn reviews_json(id: u32, p: &ReviewsPayload) -> String {
    let reviews: Vec<serde_json::Value> = REVIEWS
        .iter()
        .map(|(who, text, stars)| {
            let mut r = serde_json::json!({"reviewer": who, "text": text});
            match (p.ratings_ok, p.stars) {
                (Some(true), s) => {
                    r["rating"] = serde_json::json!({"stars": stars, "color": s.as_str()})
                }
                (Some(false), _) => {
                    r["rating"] =
                        serde_json::json!({"error": "Ratings service is currently unavailable"})
                }
                (None, _) => {}
            }
            r
        })
        .collect();
    serde_json::json!({"id": id.to_string(), "podname": p.pod, "clustername": "null", "reviews": reviews}).to_string()
}

fn products_json() -> String {
    serde_json::json!([{"id": 0, "title": TITLE, "descriptionHtml": SUMMARY}]).to_string()
}

/// Minimal HTML escaping for text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;margin:0;color:#333}\
nav{background:#222;color:#9d9d9d;padding:12px 24px;display:flex;justify-content:space-between;align-items:center}\
nav .brand{color:#fff;font-size:18px;text-decoration:none}nav form{display:inline;margin:0}\
nav input{margin-left:4px}.container{padding:0 24px}.title{text-align:center;font-size:24px;margin:20px 0}\
.summary{max-width:70em;margin:0 auto 20px}.row{display:flex;gap:40px;flex-wrap:wrap}.col{flex:1;min-width:280px}\
h4{color:#337ab7}dl dt{font-weight:bold;float:left;clear:left;width:8em}dl dd{margin-left:9em}\
blockquote{border-left:5px solid #eee;margin:0 0 20px;padding:10px 20px}blockquote small{color:#777;display:block}\
.stars{font-size:20px}.stars.black{color:#000}.stars.red{color:#c00}.served{color:#777;font-size:12px}";

fn page(user: Option<&str>, content: &str) -> String {
    let nav = match user {
        Some(u) => format!(
            "<span class=\"user\">{u}</span> <form method=\"post\" action=\"/logout\"><button type=\"submit\">sign out</button></form>",
            u = escape_html(u)
        ),
        None => "<form method=\"post\" action=\"/login\"><input type=\"text\" name=\"username\" placeholder=\"User Name\" aria-label=\"User Name\">\
<input type=\"password\" name=\"passwd\" placeholder=\"Password\" aria-label=\"Password\"><button type=\"submit\">Sign in</button></form>"
            .to_string(),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Simple Bookstore App</title>\
<style>{STYLE}</style></head>\n<body><nav><a class=\"brand\" href=\"/productpage\">BookInfo Sample</a><div>{nav}</div></nav>\n\
<div class=\"container\">{content}</div></body></html>\n"
    )
}

/// The product page. `reviews` is `None` when the reviews call failed.
pub fn product_page_html(
    user: Option<&str>,
    details_ok: bool,
    reviews: Option<&ReviewsPayload>,
) -> String {
    let mut c = String::new();
    let _ = write!(
        c,
        "<h3 class=\"title\">{TITLE}</h3>\n<p class=\"summary\">Summary: {SUMMARY}</p>\n<div class=\"row\">"
    );
    c.push_str("<div class=\"col details\">");
    if details_ok {
        c.push_str(
            "<h4>Book Details</h4><dl><dt>Type:</dt><dd>paperback</dd><dt>Pages:</dt><dd>200</dd>\
<dt>Publisher:</dt><dd>PublisherA</dd><dt>Language:</dt><dd>English</dd><dt>ISBN-10:</dt><dd>1234567890</dd>\
<dt>ISBN-13:</dt><dd>123-1234567890</dd></dl>",
        );
    } else {
        c.push_str(
            "<h4>Error fetching product details!</h4><p>Sorry, product details are currently unavailable for this book.</p>",
        );
    }
    c.push_str("</div>\n");
    match reviews {
        Some(r) => {
            let _ = write!(
                c,
                "<div class=\"col reviews\" data-reviews-version=\"{}\" data-reviews-pod=\"{}\" data-stars=\"{}\"><h4>Book Reviews</h4>",
                escape_html(&r.version),
                escape_html(&r.pod),
                r.stars.as_str()
            );
            for (who, text, stars) in REVIEWS {
                let _ = write!(c, "<blockquote><p>{text}</p><small>{who}</small>");
                match r.ratings_ok {
                    Some(true) => {
                        let filled = "\u{2605}".repeat(usize::from(stars));
                        let empty = "\u{2606}".repeat(usize::from(5 - stars));
                        let _ = write!(
                            c,
                            "<span class=\"stars {}\" title=\"{stars} stars\">{filled}{empty}</span>",
                            r.stars.as_str()
                        );
                    }
                    Some(false) => c.push_str("<p><i>Ratings service is currently unavailable</i></p>"),
                    None => {}
                }
                c.push_str("</blockquote>");
            }
            let _ = write!(c, "<p class=\"served\">Reviews served by: {}</p></div>", escape_html(&r.pod));
        }
        None => c.push_str(
            "<div class=\"col reviews\" data-reviews-version=\"unavailable\"><h4>Error fetching product reviews!</h4>\
<p>Sorry, product reviews are currently unavailable for this book.</p></div>",
        ),
    }
    c.push_str("</div>");
    page(user, &c)
}

fn index_html() -> String {
    page(
        None,
        "<h3 class=\"title\">Hello! This is a simple bookstore application consisting of three services as shown below</h3>\
<p class=\"summary\">productpage calls details and reviews; reviews calls ratings.</p>\
<p class=\"summary\">Click on one of the links below to auto generate a request to the backend as a real user or a tester</p>\
<p class=\"summary\"><a href=\"/productpage?u=normal\">Normal user</a> &middot; <a href=\"/productpage?u=test\">Test user</a></p>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::snapshot::{Meta, Pod};
    use rand::SeedableRng;

    fn pod(labels: &[(&str, &str)], image: &str, env: &[(&str, &str)]) -> Pod {
        Pod {
            meta: Meta {
                name: "p".into(),
                namespace: "demo".into(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Meta::default()
            },
            ip: "10.0.0.1".into(),
            node: "n".into(),
            ready: true,
            sidecar: true,
            images: vec![image.into()],
            containers: vec!["c".into()],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            service_account: "default".into(),
            workload: "w".into(),
        }
    }

    #[test]
    fn image_decides_stars_label_decides_version() {
        let p = Profiles::default();
        let b = Behaviour::of_pod(
            &pod(
                &[("app", "reviews"), ("version", "v4")],
                "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
                &[],
            ),
            &p,
        );
        assert_eq!(
            (b.role, b.stars, b.version.as_str()),
            (Role::Reviews, Stars::Black, "v4")
        );
        let b = Behaviour::of_pod(
            &pod(
                &[("app", "reviews"), ("version", "v3")],
                "my/reviews:1",
                &[],
            ),
            &p,
        );
        assert_eq!((b.role, b.stars), (Role::Reviews, Stars::Red));
        let b = Behaviour::of_pod(
            &pod(
                &[("app", "x")],
                "registry.istio.io/release/examples-bookinfo-ratings-v1:1.20.3",
                &[],
            ),
            &p,
        );
        assert_eq!(b.role, Role::Ratings);
        let b = Behaviour::of_pod(&pod(&[("app", "httpbin")], "kennethreitz/httpbin", &[]), &p);
        assert_eq!(b.role, Role::Other);
    }

    #[test]
    fn fault_conventions() {
        let p = Profiles::default();
        let b = Behaviour::of_pod(
            &pod(
                &[("app", "reviews"), ("version", "v2")],
                "x/examples-bookinfo-reviews-v2:1.20.3-faulty",
                &[],
            ),
            &p,
        );
        assert_eq!(b.profile.error_rate, 0.5);
        let b = Behaviour::of_pod(
            &pod(
                &[("app", "reviews"), ("version", "v2")],
                "x/examples-bookinfo-reviews-v2:1.20.3-slow",
                &[
                    ("SLUICE_FAULT_ERROR_RATE", "0.25"),
                    ("SLUICE_FAULT_STATUS", "503"),
                ],
            ),
            &p,
        );
        assert_eq!((b.profile.error_rate, b.profile.error_status), (0.25, 503));
        assert!(b.profile.mean_ms > 800.0);
    }

    #[test]
    fn lognormal_mean_is_about_right() {
        let prof = LatencyProfile::new(10.0);
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let n = 20_000;
        let mean = (0..n).map(|_| prof.sample_ms(&mut rng)).sum::<f64>() / f64::from(n);
        assert!((mean - 10.0).abs() < 0.3, "{mean}");
    }

    #[test]
    fn page_shows_reviews_or_the_bookinfo_apology() {
        let r = ReviewsPayload {
            version: "v3".into(),
            pod: "reviews-v3-abc".into(),
            stars: Stars::Red,
            ratings_ok: Some(true),
        };
        let html = product_page_html(Some("jason"), true, Some(&r));
        assert!(
            html.contains("The Comedy of Errors")
                && html.contains("Reviewer1")
                && html.contains("Reviewer2")
        );
        assert!(html.contains("data-reviews-version=\"v3\"") && html.contains("stars red"));
        assert!(html.contains("jason"));
        let html = product_page_html(None, false, None);
        assert!(html.contains("Sorry, product reviews are currently unavailable for this book."));
        assert!(html.contains("Sorry, product details are currently unavailable for this book."));
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
