//! Benchmark fixture for big traces: 1,000, 10,000 and 50,000-span traces generated
//! realistically (a tree 6–10 deep over seven services, ~6 tags per span, logs on some
//! spans), deterministic (fixed seed), so runs are comparable.
//!
//! - Without arguments: prints native timings of each step the console takes for a trace
//!   (the typed parse `parse_jaeger_v1_bytes`, compared with `parse_jaeger_v1` over a JSON tree, `TraceView::of`, `critical_path`, `visible_rows`
//!   with nothing collapsed and with a filter, `window`) and the JSON size of the
//!   `TraceView` the browser receives. Medians of a few rounds; not a test (the machines
//!   are shared and noisy).
//! - `--serve ADDR` (e.g. `127.0.0.1:9392`): serves them as a Jaeger v1 query API for the
//!   browser benchmark (start Sluice with `--jaeger-url http://ADDR --jaeger-api v1`):
//!   `/api/services`, `/api/services/{s}/operations`, `/api/operations?service=`,
//!   `/api/traces?service=&limit=` (every trace with a span of that service, largest
//!   first; other filters are ignored) and `/api/traces/{id}`.
//!
//! Trace IDs name their size in decimal digits: `00000000000000000000000000001000` (1,000
//! spans), `00000000000000000000000000010000` (10,000) and
//! `00000000000000000000000000050000` (50,000); leading zeros may be left out. The root
//! service is `bench`.
//!
//! Run: cargo run --release -p sluice-server --example bench_traces [-- --serve ADDR]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use sluice_app::domain::traces::{
    SpanFilter, TraceView, critical_path, parse_jaeger_v1, parse_jaeger_v1_bytes, visible_rows,
    window,
};

const SIZES: [usize; 3] = [1_000, 10_000, 50_000];
const SERVICES: [&str; 7] = [
    "bench",
    "bench-gateway",
    "bench-auth",
    "bench-cart",
    "bench-search",
    "bench-db",
    "bench-cache",
];
const MAX_DEPTH: usize = 9; // depth 0..=9: ten levels

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn trace_id(spans: usize) -> String {
    format!("{spans:032}")
}

/// One trace in Jaeger's v1 UI model (the element of `data`).
fn generate(spans: usize, seed: u64) -> Value {
    let mut rng = Rng(seed.max(1));
    let tid = trace_id(spans);
    let base_us: i64 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z
    struct S {
        start: i64,
        dur: i64,
        depth: usize,
        service: usize,
        /// Where the next child may start (children of a span run mostly in sequence).
        cursor: i64,
    }
    let mut made: Vec<S> = Vec::with_capacity(spans);
    // The latest span at each depth: new spans hang under one of them, so the tree grows
    // like real request fan-out (deep chains, wide levels).
    let mut latest: Vec<Option<usize>> = vec![None; MAX_DEPTH + 1];
    let mut out = Vec::with_capacity(spans);
    for i in 0..spans {
        let (parent, depth, start, dur, service) = if i == 0 {
            (None, 0, base_us, 2_000_000 + rng.below(1_000_000) as i64, 0)
        } else {
            // Prefer going deeper (up to 6–10 levels) with some shallow siblings.
            let deepest = latest.iter().rposition(Option::is_some).unwrap_or(0);
            let want = if rng.below(10) < 6 {
                (deepest + 1).min(MAX_DEPTH)
            } else {
                1 + rng.below(deepest.max(1) as u64) as usize
            };
            let pdepth = want.saturating_sub(1);
            let p = latest[..=pdepth]
                .iter()
                .rposition(Option::is_some)
                .and_then(|d| latest[d])
                .unwrap_or(0);
            let par = &made[p];
            let end = par.start + par.dur;
            let start = (par.cursor + rng.below(200) as i64).min(end);
            let room = (end - start).max(1);
            let dur = (room as f64 * (0.05 + rng.below(60) as f64 / 100.0)) as i64;
            let service = if rng.below(10) < 4 {
                1 + rng.below(SERVICES.len() as u64 - 1) as usize
            } else {
                par.service
            };
            (Some(p), par.depth + 1, start, dur.max(1), service)
        };
        if let Some(p) = parent {
            // The next sibling starts after this one ends most of the time.
            made[p].cursor = if rng.below(4) == 0 {
                made[p].cursor
            } else {
                start + dur / 2
            };
        }
        made.push(S {
            start,
            dur,
            depth,
            service,
            cursor: start,
        });
        for d in &mut latest[depth + 1..] {
            *d = None;
        }
        latest[depth] = Some(i);

        let status = if rng.below(100) == 0 { 503 } else { 200 };
        let svc = SERVICES[service];
        let mut tags = vec![
            json!({"key": "span.kind", "type": "string", "value": if depth % 2 == 0 { "server" } else { "client" }}),
            json!({"key": "component", "type": "string", "value": "proxy"}),
            json!({"key": "http.method", "type": "string", "value": if rng.below(5) == 0 { "POST" } else { "GET" }}),
            json!({"key": "http.url", "type": "string", "value": format!("http://{svc}:8080/api/v1/items/{}", rng.below(500))}),
            json!({"key": "http.status_code", "type": "string", "value": status.to_string()}),
            json!({"key": "node_id", "type": "string", "value": format!("sidecar~10.244.0.{}~{svc}-v1-6c9f8d7b5-{:05x}.bench~bench.svc.cluster.local", 10 + service, service * 7919)}),
        ];
        if status >= 500 {
            tags.push(json!({"key": "error", "type": "bool", "value": true}));
        }
        let logs: Vec<Value> = if rng.below(10) == 0 {
            (0..1 + rng.below(3))
                .map(|k| {
                    json!({"timestamp": start + k as i64 * 10, "fields": [
                        {"key": "event", "type": "string", "value": "retry"},
                        {"key": "message", "type": "string", "value": format!("attempt {k} to reach upstream")},
                    ]})
                })
                .collect()
        } else {
            Vec::new()
        };
        let references: Vec<Value> = parent
            .map(|p| json!({"refType": "CHILD_OF", "traceID": tid, "spanID": format!("{:016x}", p + 1)}))
            .into_iter()
            .collect();
        out.push(json!({
            "traceID": tid,
            "spanID": format!("{:016x}", i + 1),
            "operationName": format!("{svc}.bench.svc.cluster.local:8080/api/v1/op{}", rng.below(12)),
            "references": references,
            "startTime": start,
            "duration": dur,
            "tags": tags,
            "logs": logs,
            "processID": format!("p{}", service + 1),
            "warnings": null,
        }));
    }
    let processes: serde_json::Map<String, Value> = SERVICES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                format!("p{}", i + 1),
                json!({"serviceName": s, "tags": [
                    {"key": "hostname", "type": "string", "value": format!("{s}-v1-6c9f8d7b5-{:05x}", i * 7919)},
                    {"key": "ip", "type": "string", "value": format!("10.244.0.{}", 10 + i)},
                ]}),
            )
        })
        .collect();
    json!({"traceID": tid, "spans": out, "processes": processes, "warnings": null})
}

fn envelope(data: &str) -> String {
    format!(r#"{{"data":{data},"total":0,"limit":0,"offset":0,"errors":null}}"#)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:8.2} ms", d.as_secs_f64() * 1000.0)
}

fn time<T>(rounds: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(rounds);
    let mut last = None;
    for _ in 0..rounds {
        let t = Instant::now();
        last = Some(std::hint::black_box(f()));
        times.push(t.elapsed());
    }
    (median(times), last.expect("at least one round"))
}

fn bench() {
    println!(
        "{:>7} | {:>11} | {:>11} | {:>11} | {:>11} | {:>11} | {:>11} | {:>11} | {:>9} | {:>5}",
        "spans",
        "parse",
        "view",
        "crit.path",
        "rows",
        "rows+filter",
        "window",
        "view JSON",
        "JSON size",
        "depth"
    );
    for n in SIZES {
        let body = envelope(&format!("[{}]", generate(n, n as u64)));
        let rounds = if n > 10_000 { 5 } else { 11 };
        // What the console does: the typed parse straight from the bytes.
        let (parse, traces) = time(rounds, || {
            parse_jaeger_v1_bytes(body.as_bytes())
                .expect("a data[] answer")
                .expect("a v1 answer")
        });
        // The reference parser over a serde_json::Value tree, for comparison.
        let (reference, reference_traces) = time(rounds, || {
            let v: Value = serde_json::from_str(&body).expect("valid JSON");
            parse_jaeger_v1(&v).expect("a v1 answer")
        });
        assert_eq!(traces, reference_traces, "both parsers agree");
        eprintln!(
            "  ({n} spans: reference parse via serde_json::Value {})",
            ms(reference).trim()
        );
        let trace = &traces[0];
        assert_eq!(trace.spans.len(), n);
        // How much of "parse" is serde_json building the Value tree.
        let (json_only, _) = time(rounds, || {
            serde_json::from_str::<Value>(&body).expect("valid JSON")
        });
        eprintln!(
            "  ({n} spans: serde_json::Value alone {})",
            ms(json_only).trim()
        );
        let (view_t, view) = time(rounds, || TraceView::of(trace));
        let (cp_t, cp) = time(rounds, || critical_path(&view));
        let none = HashSet::new();
        let (rows_t, rows) = time(rounds, || {
            visible_rows(&view, &none, &SpanFilter::default())
        });
        let filter = SpanFilter {
            service: Some("bench-db".into()),
            min_duration_us: Some(100),
            ..SpanFilter::default()
        };
        // Collapse a sprinkling of spans below the root (collapsing the root hides all).
        let collapsed: HashSet<u32> = (1..view.spans.len() as u32)
            .filter(|i| view.spans[*i as usize].depth >= 4)
            .step_by(97)
            .collect();
        let (filt_t, filtered) = time(rounds, || visible_rows(&view, &collapsed, &filter));
        let (win_t, _) = time(rounds, || window(123_456.0, 900.0, 24.0, rows.len(), 20));
        let (json_t, json) = time(rounds, || {
            serde_json::to_string(&view).expect("serializable")
        });
        let depth = view.spans.iter().map(|r| r.depth).max().unwrap_or(0);
        println!(
            "{n:>7} | {} | {} | {} | {} | {} | {} | {} | {:>6} KB | {depth:>5}",
            ms(parse),
            ms(view_t),
            ms(cp_t),
            ms(rows_t),
            ms(filt_t),
            ms(win_t),
            ms(json_t),
            json.len() / 1024,
        );
        eprintln!(
            "  ({n} spans: {} on the critical path, {} rows, {} after filter+collapse, Jaeger JSON {} KB)",
            cp.iter().filter(|x| **x).count(),
            rows.len(),
            filtered.len(),
            body.len() / 1024
        );
    }
}

struct Fixture {
    /// (id without leading zeros, spans, v1 trace object as JSON text)
    traces: Vec<(String, usize, String)>,
    operations: Vec<String>,
}

type Shared = Arc<Fixture>;

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn services() -> Response {
    let names: Vec<&str> = SERVICES.to_vec();
    json_response(
        StatusCode::OK,
        envelope(&serde_json::to_string(&names).expect("strings")),
    )
}

async fn service_operations(State(f): State<Shared>, Path(_s): Path<String>) -> Response {
    json_response(
        StatusCode::OK,
        envelope(&serde_json::to_string(&f.operations).expect("strings")),
    )
}

async fn operations(State(f): State<Shared>) -> Response {
    let ops: Vec<Value> = f
        .operations
        .iter()
        .map(|o| json!({"name": o, "spanKind": "server"}))
        .collect();
    json_response(StatusCode::OK, envelope(&Value::Array(ops).to_string()))
}

async fn search(
    State(f): State<Shared>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    // Every generated trace has spans of every service.
    if !q
        .get("service")
        .is_some_and(|s| SERVICES.contains(&s.as_str()))
    {
        return json_response(StatusCode::OK, envelope("[]"));
    }
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let mut data = String::from("[");
    for (i, (_, _, t)) in f.traces.iter().rev().take(limit).enumerate() {
        if i > 0 {
            data.push(',');
        }
        data.push_str(t);
    }
    data.push(']');
    json_response(StatusCode::OK, envelope(&data))
}

async fn trace_by_id(State(f): State<Shared>, Path(id): Path<String>) -> Response {
    let key = id.trim_start_matches('0');
    match f.traces.iter().find(|(k, _, _)| k == key) {
        Some((_, _, t)) => json_response(StatusCode::OK, envelope(&format!("[{t}]"))),
        None => json_response(
            StatusCode::NOT_FOUND,
            r#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}"#
                .into(),
        ),
    }
}

async fn serve(addr: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let traces: Vec<(String, usize, String)> = SIZES
        .iter()
        .map(|&n| (n.to_string(), n, generate(n, n as u64).to_string()))
        .collect();
    let ops: Vec<String> = (0..12)
        .map(|i| format!("bench.bench.svc.cluster.local:8080/api/v1/op{i}"))
        .collect();
    let fixture = Arc::new(Fixture {
        traces,
        operations: ops,
    });
    for (_, n, t) in &fixture.traces {
        println!(
            "trace {} : {n} spans, {} KB of v1 JSON",
            trace_id(*n),
            t.len() / 1024
        );
    }
    let app = Router::new()
        .route("/api/services", get(services))
        .route(
            "/api/services/{service}/operations",
            get(service_operations),
        )
        .route("/api/operations", get(operations))
        .route("/api/traces", get(search))
        .route("/api/traces/{id}", get(trace_by_id))
        .with_state(fixture);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "Jaeger v1 query API on http://{} (generated in {:.1} s); Ctrl-C stops it",
        listener.local_addr()?,
        started.elapsed().as_secs_f64()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {
            bench();
            Ok(())
        }
        [flag, addr] if flag == "--serve" => serve(addr).await,
        _ => {
            eprintln!("usage: bench_traces [--serve ADDR]");
            std::process::exit(2);
        }
    }
}
