//! The release controller against the sandbox over HTTP, following the KubeSphere
//! tutorial: canary v2 of reviews at 50/50, the product page shows black stars in about
//! half the refreshes, Take Over, Job Offline. Plus the promises users rely on: a version
//! that never becomes ready gets no traffic and the job says why; the console can restart
//! mid-release and converge.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use sluice_app::domain::release::{ReleaseSpec, Strategy};
use sluice_sandbox::Sandbox;
use sluice_server::kube::releases::{Phase, ReleaseJob, ReleaseJobSpec};

#[path = "support/bookinfo.rs"]
mod support;

use support::{NS, bookinfo as env, controller};

fn job(name: &str, component: &str, base: &str, image: &str, strategy: Strategy) -> ReleaseJob {
    ReleaseJob::new(
        name,
        ReleaseJobSpec {
            release: ReleaseSpec {
                component: component.into(),
                base_workload: base.into(),
                base_version: "v1".into(),
                new_version: "v2".into(),
                image: image.into(),
                replicas: 1,
                strategy,
                taken_over_by: None,
                creator: Some("e2e".into()),
                analysis: None,
                routing: Default::default(),
                also_serving: Vec::new(),
                http_route: None,
            },
            offline_keep: None,
        },
    )
}

/// Polls `check` (bounded) until it returns Some.
async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..150 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn status_of(jobs: &Api<ReleaseJob>, name: &str) -> Option<(Phase, Vec<u8>, String)> {
    let j = jobs.get_opt(name).await.ok()??;
    let s = j.status?;
    Some((
        s.phase?,
        s.versions.iter().map(|v| v.weight).collect(),
        s.message.unwrap_or_default(),
    ))
}

async fn vs_weights(client: &kube::Client, name: &str) -> Option<Vec<u64>> {
    let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        "VirtualService",
    ));
    let vs = Api::<DynamicObject>::namespaced_with(client.clone(), NS, &ar)
        .get_opt(name)
        .await
        .ok()??;
    let v = serde_json::to_value(vs).ok()?;
    Some(
        v["spec"]["http"][0]["route"]
            .as_array()?
            .iter()
            .map(|r| r["weight"].as_u64().unwrap_or(100))
            .collect(),
    )
}

/// Fetches the product page `n` times and counts pages served by reviews v2.
async fn v2_share(sandbox: &Sandbox, n: usize) -> f64 {
    let http = reqwest::Client::new();
    let url = format!("http://{}/productpage?u=normal", sandbox.ingress_addr());
    let mut v2 = 0;
    for _ in 0..n {
        let body = http
            .get(&url)
            .header("host", "bookinfo.demo-project.localhost")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(body.contains("data-reviews-version"), "{body}");
        if body.contains(r#"data-reviews-version="v2""#) {
            // The tutorial's image shows black stars.
            assert!(
                body.contains("stars black") || body.contains("black"),
                "{body}"
            );
            v2 += 1;
        }
    }
    v2 as f64 / n as f64
}

#[tokio::test]
async fn the_tutorial_canary_take_over_and_job_offline() {
    let env = env().await;
    let (stop, task) = controller(&env.client);
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job(
            "canary-release",
            "reviews",
            "reviews-v1",
            "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
            Strategy::TrafficRatio { new_percent: 50 },
        ),
    )
    .await
    .unwrap();

    let (phase, weights, _) = until("the job to go live", || async {
        status_of(&jobs, "canary-release")
            .await
            .filter(|(p, _, _)| *p == Phase::Live)
    })
    .await;
    assert_eq!((phase, weights), (Phase::Live, vec![50, 50]));
    let conditions = jobs
        .get("canary-release")
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions;
    let cond = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t)
            .map(|c| (c.status.clone(), c.reason.clone()))
    };
    assert_eq!(
        cond("NewVersionReady"),
        Some(("True".into(), "PodsReady".into()))
    );
    assert_eq!(
        cond("RoutesApplied"),
        Some(("True".into(), "AsRequested".into()))
    );
    assert_eq!(vs_weights(&env.client, "reviews").await, Some(vec![50, 50]));
    let v2: Deployment = Api::namespaced(env.client.clone(), NS)
        .get("reviews-v2")
        .await
        .unwrap();
    let image = v2.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone();
    assert_eq!(
        image.as_deref(),
        Some("kubesphere/examples-bookinfo-reviews-v2:1.13.0")
    );

    // About half the refreshes show black stars: within 5 binomial standard deviations.
    tokio::time::sleep(Duration::from_millis(500)).await;
    const N: usize = 200;
    let share = v2_share(&env.sandbox, N).await;
    let tol = 5.0 * (0.25f64 / N as f64).sqrt();
    assert!(
        (share - 0.5).abs() <= tol,
        "v2 share {share}, expected 0.5 ± {tol:.3}"
    );

    // Take Over by v2: all traffic to v2.
    jobs.patch(
        "canary-release",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"takenOverBy": "New"}})),
    )
    .await
    .unwrap();
    until("take over", || async {
        status_of(&jobs, "canary-release")
            .await
            .filter(|(p, w, _)| *p == Phase::TakenOver && w == &vec![0, 100])
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(v2_share(&env.sandbox, 30).await, 1.0);

    // Job Offline: reviews-v1 goes, the job goes, routing is plain to v2.
    jobs.patch(
        "canary-release",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"offlineKeep": "New"}})),
    )
    .await
    .unwrap();
    until("the job to be removed", || async {
        jobs.get_opt("canary-release")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), NS);
    until("reviews-v1 to be deleted", || async {
        deployments
            .get_opt("reviews-v1")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(deployments.get_opt("reviews-v2").await.unwrap().is_some());
    assert_eq!(vs_weights(&env.client, "reviews").await, Some(vec![100]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(v2_share(&env.sandbox, 20).await, 1.0);

    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_version_that_never_becomes_ready_gets_no_traffic_and_the_job_says_why() {
    let env = env().await;
    let (stop, task) = controller(&env.client);
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job(
            "broken",
            "ratings",
            "ratings-v1",
            "docker.io/istio/examples-bookinfo-ratings-v2:does-not-exist",
            Strategy::TrafficRatio { new_percent: 80 },
        ),
    )
    .await
    .unwrap();
    let (phase, weights, message) = until("the job to report the pull failure", || async {
        status_of(&jobs, "broken")
            .await
            .filter(|(_, _, m)| m.contains("ImagePull") || m.contains("ErrImagePull"))
    })
    .await;
    assert_eq!(phase, Phase::Progressing);
    assert_eq!(weights, vec![100, 0]);
    assert!(message.contains("Traffic stays on v1"), "{message}");
    let conditions = jobs.get("broken").await.unwrap().status.unwrap().conditions;
    let ready = conditions
        .iter()
        .find(|c| c.type_ == "NewVersionReady")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "PodsNotReady")
    );
    let routes = conditions
        .iter()
        .find(|c| c.type_ == "RoutesApplied")
        .unwrap();
    assert_eq!(routes.reason, "HeldOnBase");
    assert_eq!(vs_weights(&env.client, "ratings").await, Some(vec![100, 0]));

    // Deleting a job that never went live restores the original routing.
    jobs.delete("broken", &Default::default()).await.unwrap();
    until("the job to be gone", || async {
        jobs.get_opt("broken")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(
        vs_weights(&env.client, "ratings").await,
        None,
        "the job's VirtualService is removed"
    );
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), NS);
    until("ratings-v2 to be deleted", || async {
        deployments
            .get_opt("ratings-v2")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;

    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_console_can_restart_mid_release_and_converge() {
    let env = env().await;
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    let (stop, task) = controller(&env.client);
    jobs.create(
        &PostParams::default(),
        &job(
            "canary",
            "details",
            "details-v1",
            "docker.io/istio/examples-bookinfo-details-v2:1.20.3",
            Strategy::TrafficRatio { new_percent: 20 },
        ),
    )
    .await
    .unwrap();
    until("live at 80/20", || async {
        status_of(&jobs, "canary")
            .await
            .filter(|(p, w, _)| *p == Phase::Live && w == &vec![80, 20])
    })
    .await;

    // The console stops; someone changes the ratio meanwhile (kubectl, GitOps).
    stop.send_replace(true);
    let _ = task.await;
    jobs.patch(
        "canary",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"strategy": {"type": "trafficRatio", "newPercent": 70}}})),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        vs_weights(&env.client, "details").await,
        Some(vec![80, 20]),
        "nobody applied it yet"
    );

    // A new console process picks the job up from the cluster and converges.
    let (stop, task) = controller(&env.client);
    until("converged at 30/70", || async {
        status_of(&jobs, "canary")
            .await
            .filter(|(_, w, _)| w == &vec![30, 70])
    })
    .await;
    assert_eq!(vs_weights(&env.client, "details").await, Some(vec![30, 70]));
    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_hand_written_virtual_service_is_never_overwritten() {
    let env = env().await;
    let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        "VirtualService",
    ));
    let mine: Value = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": NS},
        "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}
    });
    Api::<DynamicObject>::namespaced_with(env.client.clone(), NS, &ar)
        .create(
            &PostParams::default(),
            &serde_json::from_value(mine).unwrap(),
        )
        .await
        .unwrap();
    let (stop, task) = controller(&env.client);
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job(
            "canary-release",
            "reviews",
            "reviews-v1",
            "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
            Strategy::TrafficRatio { new_percent: 50 },
        ),
    )
    .await
    .unwrap();
    let (phase, _, message) = until("the job to refuse", || async {
        status_of(&jobs, "canary-release")
            .await
            .filter(|(p, _, _)| *p == Phase::Failed)
    })
    .await;
    assert_eq!(phase, Phase::Failed);
    assert!(message.contains("not managed by Sluice"), "{message}");
    assert_eq!(
        vs_weights(&env.client, "reviews").await,
        Some(vec![100]),
        "untouched"
    );
    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn roll_back_then_job_offline_keeps_the_old_version() {
    let env = env().await;
    let (stop, task) = controller(&env.client);
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job(
            "rollback",
            "details",
            "details-v1",
            "docker.io/istio/examples-bookinfo-details-v2:1.20.3",
            Strategy::TrafficRatio { new_percent: 50 },
        ),
    )
    .await
    .unwrap();
    until("live", || async {
        status_of(&jobs, "rollback")
            .await
            .filter(|(p, _, _)| *p == Phase::Live)
    })
    .await;
    // Roll back: v1 takes over.
    jobs.patch(
        "rollback",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"takenOverBy": "Base"}})),
    )
    .await
    .unwrap();
    until("v1 takes over", || async {
        status_of(&jobs, "rollback")
            .await
            .filter(|(p, w, _)| *p == Phase::TakenOver && w == &vec![100, 0])
    })
    .await;
    jobs.patch(
        "rollback",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"offlineKeep": "Base"}})),
    )
    .await
    .unwrap();
    until("the job to be removed", || async {
        jobs.get_opt("rollback")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), NS);
    until("details-v2 to be deleted", || async {
        deployments
            .get_opt("details-v2")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        deployments.get_opt("details-v1").await.unwrap().is_some(),
        "the old version stays"
    );
    assert_eq!(vs_weights(&env.client, "details").await, Some(vec![100]));
    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}

/// Product pages served by each reviews version, out of `n` fetched now.
fn pages_by_version(sandbox: &Sandbox, n: usize) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..n {
        let page = sandbox
            .mesh()
            .handle_ingress(sluice_sandbox::mesh::IngressRequest::get(
                "bookinfo.demo-project.localhost",
                "/productpage?u=normal",
            ));
        let v = page
            .body
            .split("data-reviews-version=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("none")
            .to_string();
        *counts.entry(v).or_default() += 1;
    }
    counts
}

/// Kiali's traffic shifting: reviews v1, v2 (the release) and v3 (already there) share the
/// traffic 50/20/30, the product page follows, and the N-way control moves every share
/// at once while the total stays 100.
#[tokio::test]
async fn an_n_way_split_routes_every_version_its_share() {
    use sluice_app::domain::release::OtherVersion;
    use sluice_app::domain::release::jobs::JobChange;
    use sluice_app::ports::ReleasesPort;
    let env = env().await;
    let (stop, task) = controller(&env.client);
    // reviews-v3 beside v1, as in Istio's Bookinfo.
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), NS);
    let mut v3 = serde_json::to_value(deployments.get("reviews-v1").await.unwrap()).unwrap();
    v3["metadata"] = json!({"name": "reviews-v3", "labels": {"app": "reviews", "version": "v3"}});
    v3.as_object_mut().unwrap().remove("status");
    v3["spec"]["selector"]["matchLabels"]["version"] = json!("v3");
    v3["spec"]["template"]["metadata"]["labels"]["version"] = json!("v3");
    v3["spec"]["template"]["spec"]["containers"][0]["image"] =
        json!("docker.io/istio/examples-bookinfo-reviews-v3:1.20.3");
    deployments
        .create(&PostParams::default(), &serde_json::from_value(v3).unwrap())
        .await
        .unwrap();

    let mut spec = job(
        "three-way",
        "reviews",
        "reviews-v1",
        "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
        Strategy::TrafficRatio { new_percent: 20 },
    )
    .spec
    .release;
    spec.also_serving = vec![OtherVersion {
        version: "v3".into(),
        workload: "reviews-v3".into(),
        percent: 30,
    }];
    env.cluster.create_job(NS, "three-way", spec).await.unwrap();
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    let (_, weights, message) = until("three versions live", || async {
        status_of(&jobs, "three-way")
            .await
            .filter(|(p, w, _)| *p == Phase::Live && w.len() == 3)
    })
    .await;
    assert_eq!(weights, [50, 20, 30], "{message}");
    assert!(message.ends_with("v1 50% / v2 20% / v3 30%."), "{message}");
    assert_eq!(
        vs_weights(&env.client, "reviews").await,
        Some(vec![50, 20, 30])
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    const N: usize = 600;
    let counts = pages_by_version(&env.sandbox, N);
    for (v, p) in [("v1", 0.5), ("v2", 0.2), ("v3", 0.3)] {
        let share = counts.get(v).copied().unwrap_or(0) as f64 / N as f64;
        let tol = 5.0 * (p * (1.0 - p) / N as f64).sqrt();
        assert!(
            (share - p).abs() <= tol,
            "{v}: {share} of {counts:?}, expected {p} ± {tol:.3}"
        );
    }

    // The N-way control: v2 60%, v3 0%, v1 the rest.
    let seen = env.cluster.get_job(NS, "three-way").await.unwrap();
    env.cluster
        .change_job(
            NS,
            "three-way",
            seen.generation,
            JobChange::Shares {
                new_percent: 60,
                others: vec![0],
            },
        )
        .await
        .unwrap();
    until("the new shares", || async {
        (vs_weights(&env.client, "reviews").await == Some(vec![40, 60, 0])).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counts = pages_by_version(&env.sandbox, 100);
    assert_eq!(counts.get("v3"), None, "{counts:?}");

    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}
