//! Synthetic users, so the topology, charts and traces have traffic to show — the
//! tutorial's `watch -n 0.5 curl .../productpage?u=normal`, built in.
//!
//! Users are a mix of browsers and systems (Chrome/Windows, Safari/macOS, Firefox/Linux,
//! Chrome/Android, Safari/iOS) so "canary by OS / browser" rules have something to
//! match; a configurable share (default 20%) is logged in as `jason`, sending both the
//! `end-user: jason` header and the `user=jason` cookie, so header and cookie rules do
//! too.
//!
//! Requests go through the ingress either in-process ([`LoadTarget::InProcess`], the
//! default: exactly the path the HTTP ingress takes, minus the socket) or over loopback
//! HTTP to the ingress address ([`LoadTarget::Http`]). The generator is bounded: ticks
//! that fall behind are skipped rather than bunched, and at most `ceil(rps) + burst`
//! requests are in flight; a tick that finds no free slot is counted as skipped. It runs
//! as a tokio task holding only a weak reference to the mesh, so it stops when the mesh
//! is dropped, and `stop_load` aborts it at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::{IngressRequest, Inner, Mesh};

/// Highest accepted request rate; the sandbox is for watching, not benchmarking.
pub const MAX_RPS: f64 = 200.0;

pub const USER_AGENTS: [(&str, &str); 5] = [
    (
        "Chrome/Windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    ),
    (
        "Safari/macOS",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    ),
    (
        "Firefox/Linux",
        "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    ),
    (
        "Chrome/Android",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    ),
    (
        "Safari/iOS",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ),
];

/// Where generated requests go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LoadTarget {
    /// Straight into [`Mesh::handle_ingress`].
    InProcess,
    /// Over HTTP/1.1 to the ingress listening here (normally loopback).
    Http(SocketAddr),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadConfig {
    /// Requests per second, `0 < rps <= MAX_RPS`. Default 2.
    pub rps: f64,
    /// Path and query. Default `/productpage?u=normal`.
    pub path: String,
    /// `Host` header; `None` picks a host the current Gateways accept.
    pub host: Option<String>,
    /// Share of requests from the logged-in user `jason` (0..=1). Default 0.2.
    pub logged_in_share: f64,
    /// Extra in-flight requests allowed beyond `ceil(rps)`. Default 5.
    pub burst: u32,
    pub target: LoadTarget,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            rps: 2.0,
            path: "/productpage?u=normal".into(),
            host: None,
            logged_in_share: 0.2,
            burst: 5,
            target: LoadTarget::InProcess,
        }
    }
}

impl LoadConfig {
    fn validate(&self) -> Result<(), LoadError> {
        if !(self.rps.is_finite() && self.rps > 0.0 && self.rps <= MAX_RPS) {
            return Err(LoadError::Invalid(format!(
                "rps must be in (0, {MAX_RPS}], got {}",
                self.rps
            )));
        }
        if !(0.0..=1.0).contains(&self.logged_in_share) {
            return Err(LoadError::Invalid(
                "logged_in_share must be within 0..=1".into(),
            ));
        }
        if !self.path.starts_with('/')
            || self.path.len() > 2048
            || self.path.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err(LoadError::Invalid(
                "path must start with / and contain no spaces".into(),
            ));
        }
        if self.burst > 1000 {
            return Err(LoadError::Invalid("burst must be at most 1000".into()));
        }
        Ok(())
    }

    fn max_in_flight(&self) -> usize {
        self.rps.ceil() as usize + self.burst as usize
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LoadError {
    #[error("invalid load configuration: {0}")]
    Invalid(String),
    #[error("the load generator needs a tokio runtime")]
    NoRuntime,
}

/// A snapshot of the generator's state and counters (since the last start).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadStatus {
    pub running: bool,
    pub config: Option<LoadConfig>,
    pub sent: u64,
    /// 2xx and 3xx answers.
    pub succeeded: u64,
    /// 4xx/5xx answers and transport errors.
    pub failed: u64,
    /// Ticks skipped because `max in flight` requests were outstanding.
    pub skipped: u64,
    pub in_flight: u32,
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    sent: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
    in_flight: AtomicU32,
    last_error: Mutex<Option<String>>,
}

impl Counters {
    fn outcome(&self, status: Result<u16, String>) {
        match status {
            Ok(s) if (200..400).contains(&s) => {
                self.succeeded.fetch_add(1, Ordering::Relaxed);
            }
            Ok(s) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.set_error(format!("HTTP {s}"));
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                self.set_error(e);
            }
        }
    }

    fn set_error(&self, e: String) {
        let mut g = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        *g = Some(e);
    }
}

/// The generator slot inside the mesh.
#[derive(Debug, Default)]
pub(super) struct LoadSlot {
    task: Option<tokio::task::JoinHandle<()>>,
    config: Option<LoadConfig>,
    counters: Arc<Counters>,
}

impl LoadSlot {
    pub(super) fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub(super) fn status(&self) -> LoadStatus {
        let c = &self.counters;
        LoadStatus {
            running: self.task.as_ref().is_some_and(|t| !t.is_finished()),
            config: self.config.clone(),
            sent: c.sent.load(Ordering::Relaxed),
            succeeded: c.succeeded.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            skipped: c.skipped.load(Ordering::Relaxed),
            in_flight: c.in_flight.load(Ordering::Relaxed),
            last_error: c
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    pub(super) fn start(
        &mut self,
        inner: Weak<Inner>,
        config: LoadConfig,
        seed: u64,
    ) -> Result<(), LoadError> {
        config.validate()?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| LoadError::NoRuntime)?;
        self.stop();
        let counters = Arc::new(Counters::default());
        self.counters = counters.clone();
        self.config = Some(config.clone());
        self.task = Some(handle.spawn(run(inner, config, counters, seed)));
        Ok(())
    }
}

/// One synthetic user's request.
pub fn synthetic_request<R: rand::Rng + ?Sized>(
    config: &LoadConfig,
    host: &str,
    rng: &mut R,
) -> IngressRequest {
    let (_, ua) = USER_AGENTS[rng.random_range(0..USER_AGENTS.len())];
    let mut headers = vec![
        ("user-agent".to_string(), ua.to_string()),
        ("accept".to_string(), "text/html".to_string()),
    ];
    if rng.random::<f64>() < config.logged_in_share {
        headers.push(("end-user".into(), "jason".into()));
        headers.push(("cookie".into(), "user=jason".into()));
    }
    IngressRequest {
        method: "GET".into(),
        host: host.to_string(),
        path_and_query: config.path.clone(),
        headers,
        body: String::new(),
    }
}

async fn run(inner: Weak<Inner>, config: LoadConfig, counters: Arc<Counters>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let period = Duration::from_secs_f64(1.0 / config.rps);
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let slots = Arc::new(Semaphore::new(config.max_in_flight()));
    loop {
        ticker.tick().await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let mesh = Mesh { inner: strong };
        let host = config
            .host
            .clone()
            .unwrap_or_else(|| mesh.ingress_host_hint());
        let req = synthetic_request(&config, &host, &mut rng);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            counters.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        counters.sent.fetch_add(1, Ordering::Relaxed);
        match &config.target {
            LoadTarget::InProcess => {
                let resp = mesh.handle_ingress(req);
                counters.outcome(Ok(resp.status));
                drop(permit);
            }
            LoadTarget::Http(addr) => {
                // Only the socket work is spawned; it holds no reference to the mesh.
                drop(mesh);
                let (addr, counters) = (*addr, counters.clone());
                counters.in_flight.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let r = http_get(addr, &req, Duration::from_secs(10)).await;
                    counters.outcome(r);
                    counters.in_flight.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                });
            }
        }
    }
}

/// A minimal HTTP/1.1 request over a fresh connection (`Connection: close`), enough for
/// loopback load; returns the status code. The response is read up to 4 MiB and dropped.
pub async fn http_get(
    addr: SocketAddr,
    req: &IngressRequest,
    timeout: Duration,
) -> Result<u16, String> {
    let work = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n",
            req.method, req.path_and_query, req.host
        );
        for (k, v) in &req.headers {
            if k.eq_ignore_ascii_case("host")
                || k.eq_ignore_ascii_case("connection")
                || k.contains(['\r', '\n'])
                || v.contains(['\r', '\n'])
            {
                continue;
            }
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", req.body.len()));
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        stream
            .write_all(req.body.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::with_capacity(8192);
        let mut chunk = [0u8; 8192];
        loop {
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 || buf.len() >= 4 << 20 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        parse_status(&buf).ok_or_else(|| "malformed HTTP response".to_string())
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| "timed out".to_string())?
}

fn parse_status(buf: &[u8]) -> Option<u16> {
    let line_end = buf.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(&buf[..line_end]).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        assert!(LoadConfig::default().validate().is_ok());
        for rps in [0.0, -1.0, f64::NAN, 1e9] {
            let c = LoadConfig {
                rps,
                ..LoadConfig::default()
            };
            assert!(c.validate().is_err());
        }
        let c = LoadConfig {
            path: "no-slash".into(),
            ..LoadConfig::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn user_mix() {
        let mut rng = StdRng::seed_from_u64(1);
        let c = LoadConfig::default();
        let n = 5000;
        let mut logged = 0;
        let mut agents = std::collections::BTreeSet::new();
        for _ in 0..n {
            let r = synthetic_request(&c, "h", &mut rng);
            if r.headers
                .iter()
                .any(|(k, v)| k == "end-user" && v == "jason")
            {
                assert!(
                    r.headers
                        .iter()
                        .any(|(k, v)| k == "cookie" && v == "user=jason")
                );
                logged += 1;
            }
            agents.insert(r.headers[0].1.clone());
        }
        assert_eq!(agents.len(), USER_AGENTS.len());
        let share = f64::from(logged) / f64::from(n);
        assert!(
            (share - 0.2).abs() < 5.0 * (0.2f64 * 0.8 / f64::from(n)).sqrt(),
            "{share}"
        );
    }

    #[test]
    fn status_line() {
        assert_eq!(
            parse_status(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(parse_status(b"garbage"), None);
    }
}
