//! Benchmark: how long from releasing the traffic slider (the console's change, applied with
//! the job's resourceVersion) until the component's VirtualService carries the new weights,
//! on the embedded sandbox with the real controller. Prints p50/p99/max; not a test (the
//! machines are shared and noisy).
//!
//! Run: cargo run --release -p sluice-server --example bench_slider [-- ROUNDS]

use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use sluice_app::domain::release::jobs::JobChange;
use sluice_app::domain::release::{ReleaseSpec, Strategy};
use sluice_app::ports::ReleasesPort;

#[path = "../tests/support/bookinfo.rs"]
mod support;

use support::NS;

async fn new_weight(vs: &Api<DynamicObject>) -> Option<u64> {
    let v = serde_json::to_value(vs.get_opt("reviews").await.ok()??).ok()?;
    v["spec"]["http"][0]["route"][1]["weight"].as_u64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let support::Env {
        sandbox,
        cluster,
        client,
        _dir,
    } = support::bookinfo().await;
    let (stop, controller) = support::controller(&client);
    cluster
        .create_job(
            NS,
            "canary-release",
            ReleaseSpec {
                component: "reviews".into(),
                base_workload: "reviews-v1".into(),
                base_version: "v1".into(),
                new_version: "v2".into(),
                image: "kubesphere/examples-bookinfo-reviews-v2:1.13.0".into(),
                replicas: 1,
                strategy: Strategy::TrafficRatio { new_percent: 0 },
                taken_over_by: None,
                creator: Some("bench".into()),
                analysis: None,
                routing: Default::default(),
                also_serving: Vec::new(),
                http_route: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let vs_ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        "VirtualService",
    ));
    let vs: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &vs_ar);
    // Live: both versions ready, routes written.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = cluster
            .get_job(NS, "canary-release")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if job.phase.as_deref() == Some("Live") && new_weight(&vs).await.is_some() {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the job never went live");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let target = ((i * 37 + 11) % 99 + 1) as u8; // varied, never the previous value
        let job = cluster
            .get_job(NS, "canary-release")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let t0 = Instant::now();
        cluster
            .change_job(
                NS,
                "canary-release",
                job.generation,
                JobChange::NewPercent(target),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        loop {
            if new_weight(&vs).await == Some(u64::from(target)) {
                break;
            }
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(30),
                "round {i}: never applied"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(t0.elapsed());
    }
    samples.sort();
    println!(
        "slider release → VirtualService updated, {rounds} rounds on the sandbox: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0),
    );
    stop.send_replace(true);
    let _ = controller.await;
    sandbox.shutdown().await;
    Ok(())
}
