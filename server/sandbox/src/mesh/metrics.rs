//! Istio's standard HTTP metrics, kept the way Envoy keeps them and exposed in the
//! Prometheus text format (0.0.4) for a real Prometheus to scrape.
//!
//! Every hop is reported up to twice, as with sidecars: `reporter="source"` by the
//! caller's proxy (the ingress gateway counts as a source) and `reporter="destination"`
//! by the callee's sidecar — each only when that side has a proxy. Labels are Istio's
//! standard set (see shared/reference/istio-docs/istio-standard-metrics.yaml); unknown
//! peers are `unknown`, as in Istio. mTLS is assumed between two proxies (Istio's default
//! PERMISSIVE mode upgrades proxy-to-proxy traffic), so principals are filled and the
//! destination reports `connection_security_policy="mutual_tls"`; a caller without a
//! sidecar is `unknown` to the destination and the policy is `none`.
//!
//! Series:
//! - `istio_requests_total` (counter);
//! - `istio_request_duration_milliseconds` (histogram, Envoy's default buckets
//!   0.5 … 3600000 ms);
//! - `istio_request_bytes`, `istio_response_bytes` (histograms; buckets 1, 10, … 10^7
//!   bytes — our choice, decades cover Bookinfo's bodies without many series);
//! - `sluice_mesh_dropped_samples_total` (counter): samples not recorded because the
//!   cardinality bound was hit.
//!
//! Bound: at most `max_series` distinct label sets (default 1000). Cardinality in the
//! sandbox is workloads × response codes × flags, a few dozen for Bookinfo; the bound
//! only protects against a runaway configuration. Series owned by a workload that no
//! longer exists are dropped when the snapshot changes, as they would vanish with the
//! pod's Envoy on a real cluster (series in the caller's proxy stay).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use super::peer::{CLUSTER_NAME, Peer};
use super::routing::ClusterRef;

/// Envoy's default histogram buckets, in ms for `istio_request_duration_milliseconds`.
pub const DURATION_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Buckets for the request/response size histograms (bytes).
pub const BYTES_BUCKETS: [f64; 8] = [
    1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0, 10000000.0,
];

/// Label names in output order.
pub const LABELS: [&str; 25] = [
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_cluster",
    "source_canonical_service",
    "source_canonical_revision",
    "destination_workload",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_cluster",
    "destination_canonical_service",
    "destination_canonical_revision",
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    "connection_security_policy",
];

const LABEL_COUNT: usize = LABELS.len();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    Source,
    Destination,
}

/// One proxy's view of one request: the input to the registry.
#[derive(Debug, Clone)]
pub struct Sample {
    pub reporter: Reporter,
    /// `None` when the reporter cannot know the caller.
    pub source: Option<Arc<Peer>>,
    /// `None` when no endpoint was reached (NR, UH, NC, fault abort).
    pub destination: Option<Arc<Peer>>,
    /// The service (cluster) the request was for, when known.
    pub service: Option<ClusterRef>,
    pub mtls: bool,
    pub status: u16,
    pub flags: &'static str,
    pub duration_ms: f64,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

#[derive(Debug, Clone)]
struct Histogram {
    /// Non-cumulative counts per bucket, the last one for +Inf.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    fn new(n: usize) -> Histogram {
        Histogram {
            counts: vec![0; n + 1],
            sum: 0.0,
        }
    }

    fn observe(&mut self, bounds: &[f64], v: f64) {
        let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
        let i = bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len());
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += v;
    }
}

/// Picks one of a series' histograms.
type HistogramOf = fn(&Series) -> &Histogram;

#[derive(Debug, Clone)]
struct Series {
    /// (namespace, workload) of the reporting proxy; `None` for gateways, which the
    /// sandbox keeps forever.
    owner: Option<(String, String)>,
    requests: u64,
    duration: Histogram,
    request_bytes: Histogram,
    response_bytes: Histogram,
}

/// The metric store. Not thread-safe by itself; the mesh keeps it behind a mutex.
#[derive(Debug)]
pub struct MetricsRegistry {
    series: HashMap<Box<[String]>, Series>,
    max_series: usize,
    dropped: u64,
}

impl MetricsRegistry {
    pub fn new(max_series: usize) -> MetricsRegistry {
        MetricsRegistry {
            series: HashMap::new(),
            max_series: max_series.max(1),
            dropped: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    pub fn record(&mut self, s: &Sample) {
        let key = label_values(s);
        let reporter = match s.reporter {
            Reporter::Source => s.source.as_ref(),
            Reporter::Destination => s.destination.as_ref(),
        };
        let owner = reporter
            .filter(|p| p.kind == super::peer::ProxyKind::Sidecar)
            .map(|p| (p.namespace.clone(), p.workload.clone()));
        if !self.series.contains_key(&key) && self.series.len() >= self.max_series {
            self.dropped += 1;
            return;
        }
        let series = self.series.entry(key).or_insert_with(|| Series {
            owner,
            requests: 0,
            duration: Histogram::new(DURATION_BUCKETS.len()),
            request_bytes: Histogram::new(BYTES_BUCKETS.len()),
            response_bytes: Histogram::new(BYTES_BUCKETS.len()),
        });
        series.requests += 1;
        series.duration.observe(&DURATION_BUCKETS, s.duration_ms);
        series
            .request_bytes
            .observe(&BYTES_BUCKETS, s.request_bytes as f64);
        series
            .response_bytes
            .observe(&BYTES_BUCKETS, s.response_bytes as f64);
    }

    /// Drop series reported by sidecars of workloads that no longer exist.
    pub fn retain_workloads(&mut self, live: &BTreeSet<(String, String)>) {
        self.series
            .retain(|_, s| s.owner.as_ref().is_none_or(|o| live.contains(o)));
    }

    /// The exposition text (format 0.0.4), series sorted for stable output.
    pub fn render(&self) -> String {
        let mut keys: Vec<&Box<[String]>> = self.series.keys().collect();
        keys.sort();
        let label_strs: Vec<String> = keys.iter().map(|k| render_labels(k)).collect();
        let mut out = String::with_capacity(256 + keys.len() * 6000);
        out.push_str("# HELP istio_requests_total Requests handled by an Istio proxy (sandbox).\n");
        out.push_str("# TYPE istio_requests_total counter\n");
        for (k, l) in keys.iter().zip(&label_strs) {
            if let Some(s) = self.series.get(*k) {
                let _ = writeln!(out, "istio_requests_total{{{l}}} {}", s.requests);
            }
        }
        let families: [(&str, &str, &[f64], HistogramOf); 3] = [
            (
                "istio_request_duration_milliseconds",
                "Request duration as seen by the reporting proxy, in milliseconds (sandbox).",
                &DURATION_BUCKETS,
                |s| &s.duration,
            ),
            (
                "istio_request_bytes",
                "HTTP request body size in bytes (sandbox).",
                &BYTES_BUCKETS,
                |s| &s.request_bytes,
            ),
            (
                "istio_response_bytes",
                "HTTP response body size in bytes (sandbox).",
                &BYTES_BUCKETS,
                |s| &s.response_bytes,
            ),
        ];
        for (name, help, bounds, get) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (k, l) in keys.iter().zip(&label_strs) {
                let Some(s) = self.series.get(*k) else {
                    continue;
                };
                let h = get(s);
                let mut cumulative = 0u64;
                for (i, b) in bounds.iter().enumerate() {
                    cumulative += h.counts.get(i).copied().unwrap_or(0);
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{{l},le=\"{}\"}} {cumulative}",
                        format_go_float(*b)
                    );
                }
                cumulative += h.counts.last().copied().unwrap_or(0);
                let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {cumulative}");
                let _ = writeln!(out, "{name}_sum{{{l}}} {}", format_sample(h.sum));
                let _ = writeln!(out, "{name}_count{{{l}}} {cumulative}");
            }
        }
        out.push_str("# HELP sluice_mesh_dropped_samples_total Samples not recorded because the series bound was reached.\n");
        out.push_str("# TYPE sluice_mesh_dropped_samples_total counter\n");
        let _ = writeln!(out, "sluice_mesh_dropped_samples_total {}", self.dropped);
        out
    }
}

fn label_values(s: &Sample) -> Box<[String]> {
    let unknown = || "unknown".to_string();
    let src = s.source.as_deref();
    let dst = s.destination.as_deref();
    let principal = |p: Option<&Peer>| match p {
        Some(p) if s.mtls => p.principal.clone(),
        _ => unknown(),
    };
    let field =
        |p: Option<&Peer>, f: fn(&Peer) -> &String| p.map_or_else(unknown, |p| f(p).clone());
    let cluster = |p: Option<&Peer>| p.map_or_else(unknown, |_| CLUSTER_NAME.to_string());
    let svc = s.service.as_ref();
    let v: [String; LABEL_COUNT] = [
        match s.reporter {
            Reporter::Source => "source".into(),
            Reporter::Destination => "destination".into(),
        },
        field(src, |p| &p.workload),
        field(src, |p| &p.namespace),
        principal(src),
        field(src, |p| &p.app),
        field(src, |p| &p.version),
        cluster(src),
        field(src, |p| &p.canonical_service),
        field(src, |p| &p.canonical_revision),
        field(dst, |p| &p.workload),
        field(dst, |p| &p.namespace),
        principal(dst),
        field(dst, |p| &p.app),
        field(dst, |p| &p.version),
        svc.map_or_else(unknown, |c| c.fqdn.clone()),
        svc.map_or_else(unknown, |c| c.service_name.clone()),
        svc.map_or_else(unknown, |c| c.service_namespace.clone()),
        cluster(dst),
        field(dst, |p| &p.canonical_service),
        field(dst, |p| &p.canonical_revision),
        "http".into(),
        s.status.to_string(),
        String::new(),
        s.flags.to_string(),
        match (s.reporter, s.mtls) {
            (Reporter::Source, _) => "unknown".into(),
            (Reporter::Destination, true) => "mutual_tls".into(),
            (Reporter::Destination, false) => "none".into(),
        },
    ];
    v.into_iter().collect()
}

fn render_labels(values: &[String]) -> String {
    let mut out = String::with_capacity(700);
    for (i, (name, value)) in LABELS.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(value, &mut out);
        out.push('"');
    }
    out
}

/// Label values escape `\`, `"` and newline (text format 0.0.4).
pub fn escape_label_value(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Sample values: integers without a fraction, others as Rust prints them (never
/// exponent notation, which Prometheus would also accept).
fn format_sample(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() {
        format!("{v}")
    } else {
        "NaN".into()
    }
}

/// Bucket bounds formatted like Go's `strconv.FormatFloat(v, 'g', -1, 64)`, which is
/// what Envoy's and the Go client's `le` labels look like (`0.5`, `600000`, `1.8e+06`),
/// so queries written against real Istio (`le="1.8e+06"`) work here too.
pub fn format_go_float(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let exp = v.abs().log10().floor() as i32;
    // Go switches to exponent form at 1e6 (and below 1e-4) for shortest formatting.
    if (-4..6).contains(&exp) {
        return format!("{v}");
    }
    // Shortest mantissa digits, Go style exponent (at least two digits, explicit sign).
    let sci = format!("{v:e}");
    let (mantissa, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let sign = if e < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", e.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::peer::ProxyKind;

    fn peer(workload: &str, ns: &str) -> Arc<Peer> {
        Arc::new(Peer {
            workload: workload.into(),
            namespace: ns.into(),
            app: "reviews".into(),
            version: "v1".into(),
            canonical_service: "reviews".into(),
            canonical_revision: "v1".into(),
            principal: format!("spiffe://cluster.local/ns/{ns}/sa/x"),
            pod_name: format!("{workload}-abc"),
            pod_ip: "10.0.0.1".into(),
            has_proxy: true,
            kind: ProxyKind::Sidecar,
        })
    }

    #[test]
    fn go_float_format() {
        let got: Vec<String> = DURATION_BUCKETS
            .iter()
            .map(|b| format_go_float(*b))
            .collect();
        assert_eq!(got[0], "0.5");
        assert_eq!(got[14], "60000");
        assert_eq!(got[15], "300000");
        assert_eq!(got[16], "600000");
        assert_eq!(got[17], "1.8e+06");
        assert_eq!(got[18], "3.6e+06");
        assert_eq!(format_go_float(1e7), "1e+07");
    }

    #[test]
    fn histogram_and_bound() {
        let mut r = MetricsRegistry::new(1);
        let s = Sample {
            reporter: Reporter::Destination,
            source: Some(peer("productpage-v1", "demo")),
            destination: Some(peer("reviews-v1", "demo")),
            service: None,
            mtls: true,
            status: 200,
            flags: "-",
            duration_ms: 7.0,
            request_bytes: 0,
            response_bytes: 300,
        };
        r.record(&s);
        r.record(&s);
        r.record(&Sample {
            status: 500,
            ..s.clone()
        });
        let text = r.render();
        assert!(text.contains("connection_security_policy=\"mutual_tls\"} 2"));
        assert!(text.contains("le=\"5\"} 0\n") && text.contains("le=\"10\"} 2\n"));
        assert!(text.contains("sluice_mesh_dropped_samples_total 1"));
        let live = BTreeSet::new();
        r.retain_workloads(&live);
        assert!(r.is_empty());
    }

    #[test]
    fn label_escaping() {
        let mut out = String::new();
        escape_label_value("a\"b\\c\nd", &mut out);
        assert_eq!(out, "a\\\"b\\\\c\\nd");
    }
}
