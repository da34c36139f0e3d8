//! The load generator and the HTTP ingress: synthetic users reach the product page over
//! a real socket, the generator starts, reports and stops, and stays within its bounds.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use sluice_sandbox::mesh::testing::{objects_from_yaml, with_ready_pods};
use sluice_sandbox::mesh::{
    IngressRequest, LoadConfig, LoadError, LoadTarget, Mesh, MeshConfig, MeshSnapshot,
};

fn bookinfo_mesh(realtime: bool) -> Mesh {
    let read = |rel: &str| -> Vec<Value> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(rel);
        objects_from_yaml(&std::fs::read_to_string(path).expect("fixture"))
    };
    let mut objs = read("istio/bookinfo/platform/kube/bookinfo.yaml");
    objs.extend(read("istio/bookinfo/networking/destination-rule-all.yaml"));
    objs.extend(read("istio/bookinfo/networking/bookinfo-gateway.yaml"));
    objs.extend(read(
        "istio/bookinfo/networking/virtual-service-reviews-test-v2.yaml",
    ));
    let mesh = Mesh::new(MeshConfig {
        seed: Some(99),
        realtime,
        ..MeshConfig::default()
    });
    mesh.update(MeshSnapshot::from_objects(with_ready_pods(
        objs,
        "demo-project",
    )));
    mesh
}

async fn serve_ingress(mesh: &Mesh) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = mesh.ingress_router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

fn requests_total(mesh: &Mesh, filters: &[&str]) -> f64 {
    mesh.metrics_text()
        .lines()
        .filter(|l| l.starts_with("istio_requests_total{") && filters.iter().all(|f| l.contains(f)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn http_ingress_serves_the_product_page() {
    let mesh = bookinfo_mesh(true);
    let addr = serve_ingress(&mesh).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(
        b"GET /productpage?u=normal HTTP/1.0\r\nHost: bookinfo.local\r\nend-user: jason\r\n\r\n",
    )
    .await
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    let lower = text.to_ascii_lowercase();
    assert!(lower.contains("content-type: text/html"));
    assert!(lower.contains("server: istio-envoy"));
    assert!(lower.contains("x-sluice-trace-id: "));
    assert!(text.contains("The Comedy of Errors") && text.contains("data-reviews-version=\"v2\""));
}

#[tokio::test]
async fn in_process_load_runs_reports_and_stops() {
    let mesh = bookinfo_mesh(false);
    let status = mesh
        .start_load(LoadConfig {
            rps: 50.0,
            ..LoadConfig::default()
        })
        .expect("start");
    assert!(status.running);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let st = mesh.load_status();
    assert!(
        st.sent >= 20 && st.sent <= 70,
        "about 50 rps for ~1.2 s: {st:?}"
    );
    assert_eq!(st.succeeded, st.sent, "{st:?}");
    // The traffic is visible in the metrics; ~20% of users are jason, who gets v2.
    let pages = requests_total(
        &mesh,
        &[
            "reporter=\"source\"",
            "source_workload=\"istio-ingressgateway\"",
        ],
    );
    assert_eq!(pages, st.sent as f64);
    let v2 = requests_total(&mesh, &["destination_workload=\"reviews-v2\""]);
    assert!(v2 > 0.0, "some synthetic users are logged in");
    let stopped = mesh.stop_load();
    assert!(!stopped.running);
    let after = mesh.load_status().sent;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(mesh.load_status().sent, after, "no requests after stop");
}

#[tokio::test]
async fn http_load_goes_through_the_socket_and_stays_bounded() {
    let mesh = bookinfo_mesh(true);
    let addr = serve_ingress(&mesh).await;
    mesh.start_load(LoadConfig {
        rps: 20.0,
        burst: 2,
        target: LoadTarget::Http(addr),
        ..LoadConfig::default()
    })
    .expect("start");
    let mut max_in_flight = 0;
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        max_in_flight = max_in_flight.max(mesh.load_status().in_flight);
    }
    let st = mesh.stop_load();
    assert!(st.sent >= 10, "{st:?}");
    assert!(max_in_flight <= 22, "in flight {max_in_flight}");
    // Let in-flight requests land, then everything sent was answered with 200.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let st = mesh.load_status();
    assert_eq!(st.succeeded + st.failed, st.sent, "{st:?}");
    assert_eq!(st.failed, 0, "{st:?}");
    assert_eq!(
        requests_total(
            &mesh,
            &[
                "reporter=\"source\"",
                "source_workload=\"istio-ingressgateway\""
            ]
        ),
        st.sent as f64
    );
}

#[tokio::test]
async fn invalid_load_config_is_refused() {
    let mesh = bookinfo_mesh(false);
    let err = mesh
        .start_load(LoadConfig {
            rps: 0.0,
            ..LoadConfig::default()
        })
        .expect_err("rps 0");
    assert!(matches!(err, LoadError::Invalid(_)));
    assert!(!mesh.load_status().running);
}

#[test]
fn load_needs_a_runtime() {
    let mesh = bookinfo_mesh(false);
    assert_eq!(
        mesh.start_load(LoadConfig::default()),
        Err(LoadError::NoRuntime)
    );
    // The mesh itself works without one.
    assert_eq!(
        mesh.handle_ingress(IngressRequest::get("h", "/productpage"))
            .status,
        200
    );
}
