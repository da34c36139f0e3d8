//! A real Prometheus (Debian's package, installed by deploy/test) started the way sandbox
//! mode starts it, scraping a small exporter, and answering a PromQL query.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sluice_server::backends::prometheus_process::PrometheusProcess;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn started_prometheus_scrapes_and_answers_queries() {
    let exporter = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let exporter_addr = exporter.local_addr().unwrap();
    let app = Router::new().route(
        "/metrics",
        get(|| async {
            "# TYPE istio_requests_total counter\n\
             istio_requests_total{destination_version=\"v1\"} 7\n\
             istio_requests_total{destination_version=\"v2\"} 3\n"
        }),
    );
    tokio::spawn(async move { axum::serve(exporter, app).await });

    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let prom = PrometheusProcess::start("prometheus", dir.path(), listen, &[exporter_addr], &http)
        .await
        .expect("Prometheus starts (deploy/test installs Debian's prometheus package)");

    // Prometheus scrapes every 5 s; allow a few rounds.
    let query = format!(
        "{}/api/v1/query?query=sum%20by%20(destination_version)(istio_requests_total)",
        prom.url()
    );
    let mut seen = serde_json::Value::Null;
    for _ in 0..60 {
        seen = http.get(&query).send().await.unwrap().json().await.unwrap();
        if seen["data"]["result"]
            .as_array()
            .is_some_and(|r| r.len() == 2)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut values: Vec<(String, String)> = seen["data"]["result"]
        .as_array()
        .unwrap_or_else(|| panic!("no result: {seen}"))
        .iter()
        .map(|s| {
            (
                s["metric"]["destination_version"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    values.sort();
    assert_eq!(
        values,
        [
            ("v1".to_string(), "7".to_string()),
            ("v2".to_string(), "3".to_string())
        ],
        "{seen}"
    );
    prom.stop().await;
}
