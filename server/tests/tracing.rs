//! The Jaeger client against the sandbox's Jaeger query API over real HTTP, through both
//! APIs (v1 and v3) and auto-detection, with Bookinfo traffic traced by the mesh; then
//! the Tracing server functions through the router, as the page calls them.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use leptos::config::LeptosOptions;
use reqwest::Url;
use serde_json::Value;
use sluice_app::domain::backends::BackendStatus;
use sluice_app::domain::traces::{Trace, TraceQuery, TraceSummary, TraceView};
use sluice_app::error::AppError;
use sluice_server::backends::{HttpBackend, Jaeger, JaegerApi, Prometheus};
use sluice_server::context::AppState;
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::router::router;
use tower::ServiceExt;

#[path = "support/bookinfo.rs"]
mod support;

use support::{Env, NS, bookinfo};

/// Sends `n` product page requests through the ingress, waiting for the pods first.
async fn visit(env: &Env, n: usize) {
    // Every workload ready first: a request made while a reviews pod is still starting
    // fails at productpage's sidecar (503), and its trace would then match the searches
    // for failed requests below, which expect none.
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::namespaced(env.client.clone(), NS);
    let mut ready = false;
    for _ in 0..300 {
        let list = deployments.list(&Default::default()).await.unwrap().items;
        ready = !list.is_empty()
            && list.iter().all(|d| {
                let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                d.status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0)
                    >= want
            });
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "Bookinfo's workloads did not become ready");
    let http = reqwest::Client::new();
    let url = format!("http://{}/productpage?u=normal", env.sandbox.ingress_addr());
    let mut ok = 0;
    for _ in 0..400 {
        let res = http
            .get(&url)
            .header("host", "bookinfo.demo-project.localhost")
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            ok += 1;
            if ok == n {
                return;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("Bookinfo did not serve {n} product pages");
}

fn jaeger(env: &Env, api: JaegerApi) -> Jaeger {
    let url = Url::parse(&format!("http://{}", env.sandbox.jaeger_addr())).unwrap();
    Jaeger(HttpBackend::jaeger(Some(url), reqwest::Client::new()).api(api))
}

fn productpage() -> String {
    format!("productpage.{NS}")
}

fn services_in(t: &Trace) -> Vec<&str> {
    let mut s: Vec<&str> = t.spans.iter().map(|s| s.service.as_str()).collect();
    s.sort();
    s.dedup();
    s
}

/// What the Tracing page needs, through one API.
async fn exercise(j: &Jaeger, api: &str) {
    use sluice_app::ports::TracesPort;
    assert!(
        matches!(j.status().await, BackendStatus::Ready { .. }),
        "{api}"
    );
    let services = j.services().await.unwrap();
    // Bookinfo as deployed runs reviews v1 only, which does not call ratings.
    for s in ["productpage", "details", "reviews"] {
        assert!(
            services.contains(&format!("{s}.{NS}")),
            "{api}: {services:?}"
        );
    }
    let ops = j.operations(&productpage()).await.unwrap();
    assert!(
        ops.iter().any(|o| o.starts_with("productpage.")),
        "{api}: {ops:?}"
    );

    let query = TraceQuery {
        service: productpage(),
        limit: 5,
        ..TraceQuery::default()
    };
    let found = j.search(&query).await.unwrap();
    assert_eq!(found.len(), 5, "{api}: the limit holds");
    // Requests made while a reviews pod was still starting failed at productpage's
    // sidecar (503, no reviews span): the complete ones call both.
    let complete: Vec<&Trace> = found
        .iter()
        .filter(|t| t.spans.iter().all(|s| !s.error))
        .collect();
    assert!(!complete.is_empty(), "{api}: no trace without errors");
    for t in complete {
        let services = services_in(t);
        assert!(
            services.contains(&format!("details.{NS}").as_str())
                && services.contains(&format!("reviews.{NS}").as_str()),
            "{api}: {services:?}"
        );
        assert!(t.spans.iter().all(|s| s.pod().is_some()), "{api}");
    }

    // The same trace by ID, whole: every parent is in the trace.
    let id = &found[0].trace_id;
    let t = j.trace(id).await.unwrap();
    assert_eq!(&t.trace_id, id, "{api}");
    assert_eq!(t.spans.len(), found[0].spans.len(), "{api}");
    let view = TraceView::of(&t);
    assert_eq!(
        view.spans.iter().filter(|r| r.parent.is_none()).count(),
        1,
        "{api}: one root, the ingress gateway's span"
    );
    assert!(
        view.str(view.spans[0].service)
            .starts_with("istio-ingressgateway"),
        "{api}"
    );
    // Leading zeros do not matter, and the second fetch comes from the cache.
    let short = id.trim_start_matches('0');
    assert_eq!(j.trace(short).await.unwrap(), t, "{api}");

    // Tags: every product page succeeded, none failed.
    let ok = TraceQuery {
        tags: vec![("http.status_code".into(), "200".into())],
        ..query.clone()
    };
    let with_200 = j.search(&ok).await.unwrap();
    assert_eq!(with_200.len(), 5, "{api}");
    assert!(with_200.iter().all(|t| ok.tags_match(t)), "{api}");
    let failed = TraceQuery {
        tags: vec![("http.status_code".into(), "503".into())],
        ..query.clone()
    };
    assert!(j.search(&failed).await.unwrap().is_empty(), "{api}");
    // An operation and a duration filter that nothing meets.
    let slow = TraceQuery {
        min_duration_ms: Some(3_600_000),
        ..query.clone()
    };
    assert!(j.search(&slow).await.unwrap().is_empty(), "{api}");
    // A time range before the traffic finds nothing.
    let past = TraceQuery {
        start_us: Some(1_000_000),
        end_us: Some(2_000_000),
        ..query.clone()
    };
    assert!(j.search(&past).await.unwrap().is_empty(), "{api}");

    let missing = j.trace("0123456789abcdef0123456789abcdef").await;
    assert!(
        matches!(&missing, Err(AppError::NotFound(m)) if m.contains("no trace")),
        "{api}: {missing:?}"
    );
}

#[tokio::test]
async fn the_client_reads_bookinfo_traces_through_v1_v3_and_auto_detection() {
    let env = bookinfo().await;
    visit(&env, 8).await;
    exercise(&jaeger(&env, JaegerApi::V1), "v1").await;
    exercise(&jaeger(&env, JaegerApi::V3), "v3").await;
    exercise(&jaeger(&env, JaegerApi::Auto), "auto").await;

    // Both APIs give the same model of the same trace.
    use sluice_app::ports::TracesPort;
    let v1 = jaeger(&env, JaegerApi::V1);
    let v3 = jaeger(&env, JaegerApi::V3);
    let q = TraceQuery {
        service: productpage(),
        limit: 1,
        ..TraceQuery::default()
    };
    let id = v1.search(&q).await.unwrap()[0].trace_id.clone();
    let (a, b) = (v1.trace(&id).await.unwrap(), v3.trace(&id).await.unwrap());
    let key = |t: &Trace| {
        let mut k: Vec<_> = t
            .spans
            .iter()
            .map(|s| {
                (
                    s.span_id.clone(),
                    s.parent_id.clone(),
                    s.service.clone(),
                    s.operation.clone(),
                    s.start_us,
                    s.duration_us,
                    s.tag("node_id").map(str::to_string),
                    s.tag("http.status_code").map(str::to_string),
                    s.error,
                )
            })
            .collect();
        k.sort();
        k
    };
    assert_eq!(key(&a), key(&b));
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn jaeger_missing_or_down_says_what_was_tried_and_which_flag_fixes_it() {
    use sluice_app::ports::TracesPort;
    let none = Jaeger(HttpBackend::jaeger(None, reqwest::Client::new()));
    let err = none.services().await.unwrap_err();
    assert!(
        matches!(&err, AppError::Unavailable(m) if m.contains("--jaeger-url")),
        "{err:?}"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    for api in [JaegerApi::V1, JaegerApi::V3, JaegerApi::Auto] {
        let down = Jaeger(HttpBackend::jaeger(Some(url.clone()), reqwest::Client::new()).api(api));
        let err = down.trace("abc").await.unwrap_err();
        let AppError::Unavailable(m) = &err else {
            panic!("{err:?}")
        };
        assert!(
            m.contains(&format!("127.0.0.1:{port}")) && m.contains("--jaeger-url"),
            "{m}"
        );
        assert!(matches!(
            down.status().await,
            BackendStatus::Unreachable { .. }
        ));
    }
}

async fn state(env: &Env, api: JaegerApi) -> AppState {
    let http = reqwest::Client::new();
    let url = Url::parse(&format!("http://{}", env.sandbox.jaeger_addr())).unwrap();
    let cluster = from_kubeconfig_file(env.sandbox.kubeconfig_path(), None, true).await;
    AppState::new(
        LeptosOptions::builder()
            .output_name("sluice")
            .site_root(env._dir.path().to_string_lossy().to_string())
            .build(),
        cluster,
        Prometheus(HttpBackend::prometheus(None, http.clone())),
        Jaeger(HttpBackend::jaeger(Some(url), http).api(api)),
        None,
    )
}

async fn call(state: &AppState, uri: &str) -> (StatusCode, Value) {
    let req = Request::get(uri)
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::ACCEPT, "application/json")
        .body(Body::empty())
        .unwrap();
    let res = router(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = to_bytes(res.into_body(), 64 << 20).await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The server functions' GET URL for a query, encoded the way the browser's client does.
fn search_url(q: &TraceQuery) -> String {
    #[derive(serde::Serialize)]
    struct Args<'a> {
        query: &'a TraceQuery,
    }
    format!(
        "/api/search_traces?{}",
        serde_qs::to_string(&Args { query: q }).unwrap()
    )
}

#[tokio::test]
async fn the_tracing_server_functions_over_the_router() {
    let env = bookinfo().await;
    visit(&env, 4).await;
    for api in [JaegerApi::V1, JaegerApi::V3] {
        let st = state(&env, api).await;
        let (status, services) = call(&st, &format!("/api/list_trace_services?project={NS}")).await;
        assert_eq!(status, StatusCode::OK, "{services}");
        let services: Vec<String> = serde_json::from_value(services).unwrap();
        assert!(services.contains(&productpage()), "{services:?}");
        assert!(
            services.iter().all(|s| s.ends_with(&format!(".{NS}"))),
            "only the project's services: {services:?}"
        );
        let (status, ops) = call(
            &st,
            &format!("/api/list_trace_operations?service={}", productpage()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{ops}");
        assert!(!ops.as_array().unwrap().is_empty());

        let q = TraceQuery {
            service: productpage(),
            tags: vec![("http.method".into(), "GET".into())],
            limit: 3,
            ..TraceQuery::default()
        };
        let (status, found) = call(&st, &search_url(&q)).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let found: Vec<TraceSummary> = serde_json::from_value(found).unwrap();
        assert_eq!(found.len(), 3);
        assert!(
            found.windows(2).all(|w| w[0].start_us >= w[1].start_us),
            "newest first"
        );
        assert!(found[0].root_service.starts_with("istio-ingressgateway"));
        assert!(found[0].services.iter().any(|(s, _)| s == &productpage()));

        let id = &found[0].trace_id;
        let (status, view) = call(&st, &format!("/api/get_trace_view?trace_id={id}")).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        let view: TraceView = serde_json::from_value(view).unwrap();
        assert_eq!(view.spans.len(), found[0].span_count);

        // The product page's inbound span: its pod, and a link to Bookinfo's page.
        let row = view
            .spans
            .iter()
            .find(|r| view.str(r.service) == productpage())
            .unwrap();
        let (status, detail) = call(
            &st,
            &format!("/api/get_span_detail?trace_id={id}&span_id={}", row.span_id),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        assert!(
            detail["pod"]["pod"]
                .as_str()
                .unwrap()
                .starts_with("productpage-v1-"),
            "{detail}"
        );
        assert_eq!(
            detail["workload_link"],
            format!(
                "/applications/{}?project={NS}",
                sluice_app::domain::sample_app::APP_NAME
            )
        );

        // Bad input is refused before Jaeger is asked.
        let (status, err) = call(&st, "/api/get_trace_view?trace_id=not-hex").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err["Invalid"].as_str().unwrap().contains("hexadecimal"));
        let (status, err) = call(
            &st,
            "/api/get_trace_view?trace_id=0123456789abcdef0123456789abcdef",
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
        let bad = TraceQuery {
            limit: 0,
            ..q.clone()
        };
        let (status, err) = call(&st, &search_url(&bad)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        let (status, err) = call(
            &st,
            &format!("/api/get_span_detail?trace_id={id}&span_id=00000000000000ff"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    }
    env.sandbox.shutdown().await;
}
