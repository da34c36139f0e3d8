//! Istio's standard metrics from the simulated mesh: the exposition text follows the
//! Prometheus text format (checked by a strict parser written here, and by `promtool`
//! when installed), the counts match the traffic, and a real Prometheus scraping the
//! sandbox answers the per-version request-rate query with the configured split.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_sandbox::mesh::testing::{objects_from_yaml, with_ready_pods};
use sluice_sandbox::mesh::{IngressRequest, Mesh, MeshConfig, MeshSnapshot};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NS: &str = "demo-project";

fn fixture(rel: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    objects_from_yaml(&text)
}

fn bookinfo_mesh(weights: &[(&str, u32)], seed: u64) -> Mesh {
    let mut objs = fixture("istio/bookinfo/platform/kube/bookinfo.yaml");
    objs.extend(fixture(
        "istio/bookinfo/networking/destination-rule-all.yaml",
    ));
    objs.extend(fixture("istio/bookinfo/networking/bookinfo-gateway.yaml"));
    if !weights.is_empty() {
        let route: Vec<Value> = weights
            .iter()
            .map(|(v, w)| json!({"destination": {"host": "reviews", "subset": v}, "weight": w}))
            .collect();
        objs.push(json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews"}, "spec": {"hosts": ["reviews"], "http": [{"route": route}]}}));
    }
    let mesh = Mesh::new(MeshConfig {
        seed: Some(seed),
        ..MeshConfig::default()
    });
    mesh.update(MeshSnapshot::from_objects(with_ready_pods(objs, NS)));
    mesh
}

fn page() -> IngressRequest {
    IngressRequest::get("bookinfo.local", "/productpage?u=normal")
}

// ---------------------------------------------------------------------------------------
// A strict parser for the text exposition format 0.0.4.

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .ok_or(format!("label without =\" in {s}"))?;
        if !valid_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("unterminated label value in {s}")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    other => return Err(format!("bad escape {other:?} in {s}")),
                },
                Some((_, '\n')) => return Err("raw newline in label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if out.insert(name.to_string(), value).is_some() {
            return Err(format!("duplicate label {name}"));
        }
        rest = &after[end + 1..];
        rest = match rest.strip_prefix(',') {
            Some(r) => r,
            None if rest.is_empty() => rest,
            None => return Err(format!("expected , between labels in {s}")),
        };
    }
    Ok(out)
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad value {s:?}")),
    }
}

/// Parse and check: HELP/TYPE syntax, TYPE before a family's samples and at most once,
/// sample names belonging to the declared family, histogram buckets cumulative with
/// `+Inf == _count`, no duplicate series.
fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    if !text.ends_with('\n') {
        return Err("exposition must end with a newline".into());
    }
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), Some(_)) if valid_metric_name(name) => {}
                (Some("TYPE"), Some(name), Some(t)) if valid_metric_name(name) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&t) {
                        return Err(format!("bad type {t}"));
                    }
                    if types.insert(name.to_string(), t.to_string()).is_some() {
                        return Err(format!("TYPE twice for {name}"));
                    }
                    if samples
                        .iter()
                        .any(|s: &Sample| family(&s.name, &types) == name)
                    {
                        return Err(format!("TYPE for {name} after its samples"));
                    }
                }
                _ => return Err(format!("bad comment line {line:?}")),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or(format!("no value in {line:?}"))?;
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (
                n,
                parse_labels(l.strip_suffix('}').ok_or(format!("no }} in {line:?}"))?)?,
            ),
            None => (series, BTreeMap::new()),
        };
        if !valid_metric_name(name) {
            return Err(format!("bad metric name {name:?}"));
        }
        let fam = family(name, &types);
        let t = types
            .get(fam)
            .ok_or(format!("sample {name} before its TYPE"))?;
        if t == "histogram"
            && !(name.ends_with("_bucket") || name.ends_with("_sum") || name.ends_with("_count"))
        {
            return Err(format!(
                "histogram sample {name} is not _bucket/_sum/_count"
            ));
        }
        if name.ends_with("_bucket") && !labels.contains_key("le") {
            return Err(format!("bucket without le: {line}"));
        }
        if !seen.insert((name.to_string(), labels.clone())) {
            return Err(format!("duplicate series {line}"));
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value: parse_value(value)?,
        });
    }
    // Histogram consistency.
    let mut buckets: BTreeMap<SeriesKey, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<SeriesKey, f64> = BTreeMap::new();
    for s in &samples {
        let key_labels: Vec<(String, String)> = s
            .labels
            .iter()
            .filter(|(k, _)| *k != "le")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(base) = s.name.strip_suffix("_bucket") {
            let le = parse_value(&s.labels["le"])?;
            buckets
                .entry((base.to_string(), key_labels))
                .or_default()
                .push((le, s.value));
        } else if let Some(base) = s.name.strip_suffix("_count") {
            counts.insert((base.to_string(), key_labels), s.value);
        }
    }
    for (key, mut bs) in buckets {
        bs.sort_by(|a, b| a.0.total_cmp(&b.0));
        if bs.windows(2).any(|w| w[1].1 < w[0].1) {
            return Err(format!("buckets not cumulative for {key:?}"));
        }
        let last = bs.last().ok_or("empty histogram")?;
        if last.0 != f64::INFINITY {
            return Err(format!("no +Inf bucket for {key:?}"));
        }
        if counts.get(&key) != Some(&last.1) {
            return Err(format!("+Inf bucket != _count for {key:?}"));
        }
    }
    Ok(samples)
}

/// A histogram family name and its labels without `le`.
type SeriesKey = (String, Vec<(String, String)>);

fn family<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).map(String::as_str) == Some("histogram")
        {
            return base;
        }
    }
    name
}

fn total(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && want
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

const STANDARD_LABELS: [&str; 25] = [
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

#[test]
fn the_parser_rejects_what_prometheus_rejects() {
    assert!(parse_exposition("x 1\n").is_err(), "sample before TYPE");
    assert!(parse_exposition("# TYPE x counter\nx{a=\"1} 1\n").is_err());
    assert!(parse_exposition("# TYPE x counter\nx{a=\"\\q\"} 1\n").is_err());
    assert!(
        parse_exposition(
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"
        )
        .is_err()
    );
    assert!(parse_exposition("# TYPE x counter\nx{a=\"q\\\"\\n\"} 1\n").is_ok());
}

#[test]
fn exposition_parses_and_counts_match_the_traffic() {
    let mesh = bookinfo_mesh(&[("v1", 50), ("v3", 50)], 100);
    let n = 300;
    for _ in 0..n {
        assert_eq!(mesh.handle_ingress(page()).status, 200);
    }
    let text = mesh.metrics_text();
    let samples = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let nf = f64::from(n);
    // Every istio_* series carries exactly Istio's standard label set.
    for s in samples.iter().filter(|s| s.name.starts_with("istio_")) {
        let mut names: Vec<&str> = s
            .labels
            .keys()
            .map(String::as_str)
            .filter(|k| *k != "le")
            .collect();
        names.sort_unstable();
        let mut want = STANDARD_LABELS.to_vec();
        want.sort_unstable();
        assert_eq!(names, want, "{}", s.name);
    }
    // Gateway → productpage, reported by the gateway (source) and productpage (destination).
    let gw = [
        ("reporter", "source"),
        ("source_workload", "istio-ingressgateway"),
        ("source_canonical_service", "istio-ingressgateway"),
        ("source_workload_namespace", "istio-system"),
        ("destination_workload", "productpage-v1"),
        (
            "destination_service",
            "productpage.demo-project.svc.cluster.local",
        ),
        ("response_code", "200"),
        ("response_flags", "-"),
        ("connection_security_policy", "unknown"),
    ];
    assert_eq!(total(&samples, "istio_requests_total", &gw), nf);
    let pp = [
        ("reporter", "destination"),
        ("destination_workload", "productpage-v1"),
        ("destination_app", "productpage"),
        ("destination_version", "v1"),
        ("destination_canonical_revision", "v1"),
        (
            "destination_principal",
            "spiffe://cluster.local/ns/demo-project/sa/bookinfo-productpage",
        ),
        (
            "source_principal",
            "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
        ),
        ("connection_security_policy", "mutual_tls"),
        ("destination_cluster", "Kubernetes"),
        ("request_protocol", "http"),
    ];
    assert_eq!(total(&samples, "istio_requests_total", &pp), nf);
    // productpage → details and → reviews: each once per page, from both sides.
    for (svc, reporter) in [
        ("details", "source"),
        ("details", "destination"),
        ("reviews", "source"),
        ("reviews", "destination"),
    ] {
        let want = [
            ("reporter", reporter),
            ("source_workload", "productpage-v1"),
            ("destination_service_name", svc),
        ];
        assert_eq!(
            total(&samples, "istio_requests_total", &want),
            nf,
            "{svc} {reporter}"
        );
    }
    // reviews → ratings only from v3 (v1 never calls ratings).
    let v3 = total(
        &samples,
        "istio_requests_total",
        &[
            ("reporter", "destination"),
            ("destination_workload", "reviews-v3"),
        ],
    );
    let ratings_from_v1 = total(
        &samples,
        "istio_requests_total",
        &[
            ("source_workload", "reviews-v1"),
            ("destination_service_name", "ratings"),
        ],
    );
    let ratings_from_v3 = total(
        &samples,
        "istio_requests_total",
        &[
            ("reporter", "source"),
            ("source_workload", "reviews-v3"),
            ("destination_service_name", "ratings"),
        ],
    );
    assert_eq!(ratings_from_v1, 0.0);
    assert_eq!(ratings_from_v3, v3);
    // Histograms: count equals the counter, durations are plausible (ms, caller ≥ callee).
    let count = total(&samples, "istio_request_duration_milliseconds_count", &pp);
    assert_eq!(count, nf);
    let pp_mean = total(&samples, "istio_request_duration_milliseconds_sum", &pp) / nf;
    let gw_mean = total(&samples, "istio_request_duration_milliseconds_sum", &gw) / nf;
    assert!(
        pp_mean > 5.0 && pp_mean < 200.0,
        "productpage mean {pp_mean} ms"
    );
    assert!(
        gw_mean > pp_mean,
        "the gateway sees at least what productpage spends"
    );
    let bytes = total(&samples, "istio_response_bytes_sum", &pp) / nf;
    assert!(bytes > 2000.0, "the product page is a few KB, got {bytes}");
    assert!(text.contains("le=\"1.8e+06\""), "Envoy-style le formatting");
}

#[test]
fn promtool_accepts_the_exposition() {
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool not installed: skipped (install Debian's prometheus package)");
        return;
    };
    let mesh = bookinfo_mesh(&[("v1", 80), ("v2", 20)], 5);
    for _ in 0..50 {
        mesh.handle_ingress(page());
    }
    let text = mesh.metrics_text();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("promtool ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // promtool lints too (e.g. metric naming); a parse error is what must never happen.
    assert!(
        !stderr.contains("error while linting") && !stdout.contains("error while linting"),
        "{stdout}\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// A real Prometheus scraping the sandbox.

/// Kills the child process this test started when dropped (also on panic).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn http_get_body(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_string()))
}

fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn prom_query(
    addr: std::net::SocketAddr,
    q: &str,
) -> Option<Vec<(BTreeMap<String, String>, f64)>> {
    let body = http_get_body(addr, &format!("/api/v1/query?query={}", url_encode(q))).await?;
    let v: Value = serde_json::from_str(&body).ok()?;
    let result = v.pointer("/data/result")?.as_array()?;
    Some(
        result
            .iter()
            .filter_map(|r| {
                let labels = r["metric"]
                    .as_object()?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                let value = r["value"][1].as_str()?.parse().ok()?;
                Some((labels, value))
            })
            .collect(),
    )
}

async fn wait_for<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_sees_the_configured_split() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("prometheus not installed: skipped (install Debian's prometheus package)");
        return;
    }
    let mesh = bookinfo_mesh(&[("v1", 70), ("v3", 30)], 77);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let metrics_addr = listener.local_addr().expect("addr");
    let router = mesh.metrics_router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let prom_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sluice-sandbox-mesh\n    static_configs:\n      - targets: ['{metrics_addr}']\n"
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).expect("config");
    let _prom = KillOnDrop(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    wait_for("prometheus ready", Duration::from_secs(30), || {
        http_get_body(prom_addr, "/-/ready")
    })
    .await;

    let reviews = |m: &str| {
        format!(
            "{m}(istio_requests_total{{reporter=\"destination\",destination_service_name=\"reviews\"}})"
        )
    };
    // Phase 1: make every series exist and let Prometheus record a baseline.
    let warmup = 100;
    for _ in 0..warmup {
        mesh.handle_ingress(page());
    }
    let q = reviews("sum");
    wait_for("baseline scrape", Duration::from_secs(30), || {
        let q = q.clone();
        async move {
            let r = prom_query(prom_addr, &q).await?;
            (r.first()?.1 == f64::from(warmup)).then_some(())
        }
    })
    .await;
    // Phase 2: N requests, then wait until Prometheus has scraped them all.
    let n = 2000;
    for _ in 0..n {
        mesh.handle_ingress(page());
    }
    wait_for("final scrape", Duration::from_secs(30), || {
        let q = q.clone();
        async move {
            let r = prom_query(prom_addr, &q).await?;
            (r.first()?.1 == f64::from(warmup + n)).then_some(())
        }
    })
    .await;
    // The console's per-version request-rate query.
    let rates = prom_query(
        prom_addr,
        "sum by (destination_version) (rate(istio_requests_total{reporter=\"destination\",destination_service_name=\"reviews\"}[1m]))",
    )
    .await
    .expect("rate query");
    let total: f64 = rates.iter().map(|(_, v)| v).sum();
    assert!(total > 0.0, "{rates:?}");
    for (version, p) in [("v1", 0.7), ("v3", 0.3)] {
        let got = rates
            .iter()
            .find(|(l, _)| l.get("destination_version").map(String::as_str) == Some(version))
            .map_or(0.0, |(_, v)| *v)
            / total;
        // The rate window spans the baseline and the final scrape, so its requests are
        // the N of phase 2.
        let tol = 5.0 * (p * (1.0 - p) / f64::from(n)).sqrt();
        assert!(
            (got - p).abs() <= tol,
            "{version}: {got:.4} vs {p} ±{tol:.4}; {rates:?}"
        );
    }
}
