//! What a release job may touch, against the sandbox over HTTP. A job applied with
//! kubectl or by GitOps never passes through the console's wizard, so the controller
//! checks every job itself before writing anything; the CRD's schema refuses what a
//! schema can say; one job per component holds even for concurrent creates; and Job
//! Offline and cleanup delete only what is the job's.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::{CustomResourceExt, ResourceExt};
use serde_json::{Value, json};
use sluice_app::domain::release::render::RELEASE_LABEL;
use sluice_app::domain::release::rules::{ContentRule, MatchOp, RuleKind};
use sluice_app::domain::release::{ReleaseSpec, Strategy};
use sluice_app::error::AppError;
use sluice_app::ports::ReleasesPort;
use sluice_server::kube::releases::{Phase, ReleaseJob, ReleaseJobSpec, claim_name};

#[path = "support/bookinfo.rs"]
mod support;

use support::{Env, NS, bookinfo, controller};

fn spec(component: &str, base: &str, new_version: &str, image: &str) -> ReleaseSpec {
    ReleaseSpec {
        component: component.into(),
        base_workload: base.into(),
        base_version: "v1".into(),
        new_version: new_version.into(),
        image: image.into(),
        replicas: 1,
        strategy: Strategy::TrafficRatio { new_percent: 50 },
        taken_over_by: None,
        creator: None,
        analysis: None,
        routing: Default::default(),
        also_serving: Vec::new(),
        http_route: None,
    }
}

fn job(name: &str, spec: ReleaseSpec) -> ReleaseJob {
    let mut j = ReleaseJob::new(
        name,
        ReleaseJobSpec {
            release: spec,
            offline_keep: None,
        },
    );
    j.metadata.namespace = Some(NS.into());
    j
}

/// Polls `check` (bounded, 15 s) until it returns Some.
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

/// Waits for the job to be Failed and returns its message.
async fn failed(jobs: &Api<ReleaseJob>, name: &str) -> String {
    until(&format!("{name} to fail"), || async {
        let s = jobs.get_opt(name).await.ok()??.status?;
        (s.phase? == Phase::Failed).then(|| s.message.unwrap_or_default())
    })
    .await
}

fn vs_api(client: &kube::Client) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        "VirtualService",
    ));
    Api::namespaced_with(client.clone(), NS, &ar)
}

/// The job named on the component's VirtualService, if there is one.
async fn vs_owner(client: &kube::Client, component: &str) -> Option<String> {
    let vs = vs_api(client).get_opt(component).await.ok()??;
    vs.labels().get(RELEASE_LABEL).cloned()
}

/// Deployments any release job wrote, in `ns`.
async fn job_deployments(client: &kube::Client, ns: &str) -> Vec<String> {
    Api::<Deployment>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(RELEASE_LABEL))
        .await
        .unwrap()
        .items
        .iter()
        .map(|d| d.name_any())
        .collect()
}

/// The CRD as an older console installed it: the same shape without any of the schema's
/// constraints, so the API server stores jobs the current schema would refuse.
async fn install_unconstrained_crd(client: &kube::Client) {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in [
                    "pattern",
                    "maxLength",
                    "minLength",
                    "maximum",
                    "minimum",
                    "maxItems",
                ] {
                    m.remove(k);
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut crd = serde_json::to_value(ReleaseJob::crd()).unwrap();
    strip(&mut crd["spec"]);
    let mut crd: CustomResourceDefinition = serde_json::from_value(crd).unwrap();
    let current = api.get("releasejobs.sluice.dev").await.unwrap();
    crd.metadata.resource_version = current.metadata.resource_version;
    api.replace("releasejobs.sluice.dev", &PostParams::default(), &crd)
        .await
        .unwrap();
}

async fn warning_reasons(client: &kube::Client, ns: &str, job: &str) -> Vec<String> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.name.as_deref() == Some(job) && e.type_.as_deref() == Some("Warning")
        })
        .filter_map(|e| e.reason)
        .collect()
}

/// A Deployment and its Service outside the project, like kube-system's CoreDNS.
async fn coredns_like(client: &kube::Client) {
    let labels = json!({"k8s-app": "kube-dns", "version": "v1"});
    let d = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"serviceAccountName": "coredns",
                                       "containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.11.1"}]}}}
    });
    Api::<Deployment>::namespaced(client.clone(), "kube-system")
        .create(&PostParams::default(), &serde_json::from_value(d).unwrap())
        .await
        .unwrap();
    let s = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system"},
        "spec": {"selector": {"k8s-app": "kube-dns"}, "ports": [{"name": "dns", "port": 53}]}
    });
    Api::<Service>::namespaced(client.clone(), "kube-system")
        .create(&PostParams::default(), &serde_json::from_value(s).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn jobs_applied_behind_the_consoles_back_fail_with_reasons_and_create_nothing() {
    let env = bookinfo().await;
    let (stop, task) = controller(&env.client);

    // A job in kube-system running its own image as CoreDNS's workload. The schema has
    // nothing against it (every name is a name); the controller refuses the namespace.
    coredns_like(&env.client).await;
    let system: Api<ReleaseJob> = Api::namespaced(env.client.clone(), "kube-system");
    let mut dns = job(
        "dns",
        spec("kube-dns", "coredns", "v2", "attacker.example/miner:1"),
    );
    dns.metadata.namespace = Some("kube-system".into());
    system.create(&PostParams::default(), &dns).await.unwrap();
    let m = failed(&system, "dns").await;
    assert!(m.contains("kube-system is a system namespace"), "{m}");

    // The rest are refused by the current CRD's schema (see the kubectl test below); an
    // older console installed a CRD without constraints, and jobs stored under it must
    // still be refused by the controller itself.
    install_unconstrained_crd(&env.client).await;
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    let mut huge = spec(
        "ratings",
        "ratings-v1",
        "v2",
        "docker.io/istio/examples-bookinfo-ratings-v2:1.20.3",
    );
    huge.replicas = 100_000;
    let cases: [(&str, ReleaseSpec, &[&str]); 4] = [
        (
            "bad-image",
            spec("details", "details-v1", "v2", "Not An Image!"),
            &["Image \"Not An Image!\" is not a valid image reference"],
        ),
        (
            "huge",
            huge,
            &["Replicas must be between 1 and 20, not 100000"],
        ),
        (
            "slash",
            spec("a/b", "reviews-v1", "v2", "nginx:1"),
            &["Component \"a/b\" contains '/'"],
        ),
        (
            "not-a-workload",
            spec(
                "reviews",
                "productpage-v1",
                "v2",
                "docker.io/istio/examples-bookinfo-productpage-v1:1.20.3",
            ),
            &["productpage-v1 is not a workload of reviews", "app=reviews"],
        ),
    ];
    for (name, s, _) in &cases {
        jobs.create(&PostParams::default(), &job(name, s.clone()))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for (name, _, reasons) in &cases {
        let m = failed(&jobs, name).await;
        for r in *reasons {
            assert!(m.contains(r), "{name}: {m}");
        }
        let j = jobs.get(name).await.unwrap();
        let cond = j
            .status
            .unwrap()
            .conditions
            .into_iter()
            .find(|c| c.type_ == "SpecValid")
            .unwrap();
        assert_eq!(
            (cond.status.as_str(), cond.reason.as_str()),
            ("False", "InvalidSpec"),
            "{name}"
        );
        assert!(
            j.metadata.finalizers.unwrap_or_default().is_empty(),
            "{name}: nothing written for it, not even a finalizer"
        );
        let reasons = until(&format!("a warning about {name}"), || async {
            let w = warning_reasons(&env.client, NS, name).await;
            (!w.is_empty()).then_some(w)
        })
        .await;
        assert_eq!(reasons, ["InvalidSpec"], "{name}");
    }

    // Nothing was created for any of them: no Deployment, no routing, no claim.
    assert_eq!(job_deployments(&env.client, NS).await, Vec::<String>::new());
    assert_eq!(
        job_deployments(&env.client, "kube-system").await,
        Vec::<String>::new()
    );
    assert!(vs_owner(&env.client, "reviews").await.is_none());
    assert!(
        vs_api(&env.client)
            .get_opt("reviews")
            .await
            .unwrap()
            .is_none()
    );
    let leases = Api::<Lease>::namespaced(env.client.clone(), NS)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(leases.items.is_empty(), "no claims: {:?}", leases.items);

    // And the controller waits for a change instead of retrying: the job stays as it is.
    let before = jobs.get("huge").await.unwrap().resource_version();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(jobs.get("huge").await.unwrap().resource_version(), before);
    assert_eq!(
        warning_reasons(&env.client, NS, "huge").await.len(),
        1,
        "one warning, not one per retry"
    );

    // A fixed spec proceeds.
    jobs.patch(
        "huge",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    until("the fixed job to go live", || async {
        let s = jobs.get_opt("huge").await.ok()??.status?;
        (s.phase? == Phase::Live).then_some(())
    })
    .await;
    assert_eq!(job_deployments(&env.client, NS).await, ["ratings-v2"]);

    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}

/// The controller's checks are the port's: callable on a job without running anything.
#[tokio::test]
async fn the_controllers_checks_name_every_problem_of_a_job() {
    let env = bookinfo().await;
    let mut s = spec("a/b", "Reviews", "v1", "Not An Image");
    s.replicas = 100_000;
    let problems = sluice_server::kube::release_controller::check_job(&env.client, &job("x", s))
        .await
        .unwrap();
    let all = problems.join("\n");
    for p in [
        "Component \"a/b\"",
        "Base workload \"Reviews\"",
        "not a valid image reference",
        "not 100000",
    ] {
        assert!(all.contains(p), "{p}: {all}");
    }
    let ok = sluice_server::kube::release_controller::check_job(
        &env.client,
        &job(
            "canary",
            spec(
                "reviews",
                "reviews-v1",
                "v2",
                "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
            ),
        ),
    )
    .await
    .unwrap();
    assert_eq!(ok, Vec::<String>::new());
    env.sandbox.shutdown().await;
}

fn kubectl_binary() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("kubectl"))
        .find(|p| p.is_file())
}

#[tokio::test]
async fn kubectl_apply_of_a_job_the_schema_forbids_is_refused_naming_each_field() {
    let Some(kubectl) = kubectl_binary() else {
        eprintln!("SKIPPED: no kubectl on PATH (install Debian's kubernetes-client)");
        return;
    };
    let env = bookinfo().await;
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("job.yaml");
    std::fs::write(
        &file,
        "apiVersion: sluice.dev/v1alpha1
kind: ReleaseJob
metadata:
  name: slash
spec:
  component: a/b
  baseWorkload: reviews-v1
  baseVersion: v1
  newVersion: v2
  image: nginx:1
  replicas: 100000
  strategy: {type: trafficRatio, newPercent: 50}
",
    )
    .unwrap();
    let out = tokio::process::Command::new(kubectl)
        .args(["apply", "-n", NS, "-f", file.to_str().unwrap()])
        .env("KUBECONFIG", env.sandbox.kubeconfig_path())
        .env("HOME", home.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("The ReleaseJob \"slash\" is invalid"),
        "{stderr}"
    );
    assert!(
        stderr.contains("spec.component: Invalid value: \"a/b\""),
        "{stderr}"
    );
    assert!(stderr.contains("spec.replicas"), "{stderr}");
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    assert!(jobs.get_opt("slash").await.unwrap().is_none());
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn ten_concurrent_creates_for_one_component_one_wins() {
    let Env {
        sandbox,
        cluster,
        client,
        ..
    } = bookinfo().await;
    let (stop, task) = controller(&client);
    let mut tasks = Vec::new();
    for i in 0..10 {
        let cluster = cluster.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("canary-{i}");
            let r = cluster
                .create_job(
                    NS,
                    &name,
                    spec(
                        "reviews",
                        "reviews-v1",
                        "v2",
                        "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
                    ),
                )
                .await;
            (name, r)
        }));
    }
    let mut winners = Vec::new();
    let mut refusals = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (name, Ok(_)) => winners.push(name),
            (_, Err(AppError::Conflict(m))) => refusals.push(m),
            (name, Err(e)) => panic!("{name}: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create succeeds: {winners:?}");
    let winner = &winners[0];
    assert_eq!(refusals.len(), 9);
    for m in &refusals {
        assert!(
            m.contains(&format!("reviews is being released by job {winner}")),
            "{m}"
        );
    }
    let jobs: Api<ReleaseJob> = Api::namespaced(client.clone(), NS);
    assert_eq!(
        jobs.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    let lease = Api::<Lease>::namespaced(client.clone(), NS)
        .get(&claim_name("reviews"))
        .await
        .unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some(winner.as_str())
    );
    assert_eq!(
        lease.metadata.owner_references.unwrap()[0].name,
        *winner,
        "the job owns its claim"
    );

    // Routing has one owner and keeps it: nobody fights over it. (The issue watched for
    // a minute; five seconds of 100 ms polls keep the test short and still span several
    // reconciles of every job.)
    until("the VirtualService", || async {
        vs_owner(&client, "reviews").await
    })
    .await;
    for _ in 0..50 {
        assert_eq!(
            vs_owner(&client, "reviews").await.as_deref(),
            Some(winner.as_str())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send_replace(true);
    let _ = task.await;
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_second_kubectl_job_for_a_claimed_component_fails_until_the_first_is_gone() {
    let env = bookinfo().await;
    let (stop, task) = controller(&env.client);
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job(
            "first",
            spec(
                "reviews",
                "reviews-v1",
                "v2",
                "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
            ),
        ),
    )
    .await
    .unwrap();
    until("first to go live", || async {
        let s = jobs.get_opt("first").await.ok()??.status?;
        (s.phase? == Phase::Live).then_some(())
    })
    .await;
    jobs.create(
        &PostParams::default(),
        &job(
            "second",
            spec(
                "reviews",
                "reviews-v1",
                "v3",
                "docker.io/istio/examples-bookinfo-reviews-v3:1.20.3",
            ),
        ),
    )
    .await
    .unwrap();
    let m = failed(&jobs, "second").await;
    assert!(m.contains("reviews is being released by job first"), "{m}");
    for _ in 0..20 {
        assert_eq!(
            vs_owner(&env.client, "reviews").await.as_deref(),
            Some("first")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job_deployments(&env.client, NS).await, ["reviews-v2"]);

    // The first job's cleanup releases the claim; the second then starts (nudged here,
    // rather than waiting for its slow re-check).
    jobs.delete("first", &DeleteParams::default())
        .await
        .unwrap();
    until("first to be gone", || async {
        jobs.get_opt("first").await.unwrap().is_none().then_some(())
    })
    .await;
    jobs.patch(
        "second",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"nudge": "1"}}})),
    )
    .await
    .unwrap();
    until("second to go live", || async {
        let s = jobs.get_opt("second").await.ok()??.status?;
        (s.phase? == Phase::Live).then_some(())
    })
    .await;
    assert_eq!(
        vs_owner(&env.client, "reviews").await.as_deref(),
        Some("second")
    );
    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_claim_left_by_a_console_that_stopped_may_be_taken_after_a_while() {
    let Env {
        sandbox,
        cluster,
        client,
        ..
    } = bookinfo().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);
    let ghost = |seconds_ago: i64| -> Lease {
        let t = k8s_openapi::jiff::Timestamp::now()
            - k8s_openapi::jiff::SignedDuration::from_secs(seconds_ago);
        serde_json::from_value(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": claim_name("details"), "namespace": NS},
            "spec": {"holderIdentity": "ghost", "acquireTime": t.to_string()}
        }))
        .unwrap()
    };
    let details = || {
        spec(
            "details",
            "details-v1",
            "v2",
            "docker.io/istio/examples-bookinfo-details-v2:1.20.3",
        )
    };
    // Just claimed by a console that is creating job "ghost" now: wait for it.
    leases
        .create(&PostParams::default(), &ghost(1))
        .await
        .unwrap();
    let Err(AppError::Conflict(m)) = cluster.create_job(NS, "canary", details()).await else {
        panic!("a fresh claim holds")
    };
    assert!(m.contains("details is being released by job ghost"), "{m}");
    // Claimed ten minutes ago and job "ghost" never appeared: the console stopped.
    let mut old = ghost(600);
    old.metadata.resource_version = leases
        .get(&claim_name("details"))
        .await
        .unwrap()
        .metadata
        .resource_version;
    leases
        .replace(&claim_name("details"), &PostParams::default(), &old)
        .await
        .unwrap();
    cluster.create_job(NS, "canary", details()).await.unwrap();
    let lease = leases.get(&claim_name("details")).await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("canary")
    );
    sandbox.shutdown().await;
}

/// A copy of `reviews-v1` named `reviews-v3` at version v3, made by hand: not any job's.
async fn hand_made_reviews_v3(client: &kube::Client) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let v1 = deployments.get("reviews-v1").await.unwrap();
    let mut v = serde_json::to_value(&v1).unwrap();
    v["metadata"] = json!({"name": "reviews-v3", "labels": {"app": "reviews", "version": "v3"}});
    v["spec"]["selector"]["matchLabels"]["version"] = json!("v3");
    v["spec"]["template"]["metadata"]["labels"]["version"] = json!("v3");
    v.as_object_mut().unwrap().remove("status");
    deployments
        .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_hand_made_deployment_survives_take_over_and_job_offline() {
    let env = bookinfo().await;
    hand_made_reviews_v3(&env.client).await;
    let (stop, task) = controller(&env.client);
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job(
            "v3",
            spec(
                "reviews",
                "reviews-v1",
                "v3",
                "docker.io/istio/examples-bookinfo-reviews-v3:1.20.3",
            ),
        ),
    )
    .await
    .unwrap();
    let m = failed(&jobs, "v3").await;
    assert!(
        m.contains("Deployment reviews-v3 already exists and is not part of this job"),
        "{m}"
    );
    // Roll back and bring the job offline, as the job page lets a person do.
    for change in [
        json!({"spec": {"takenOverBy": "Base"}}),
        json!({"spec": {"offlineKeep": "Base"}}),
    ] {
        jobs.patch("v3", &PatchParams::default(), &Patch::Merge(change))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), NS);
    for _ in 0..20 {
        assert!(
            deployments.get_opt("reviews-v3").await.unwrap().is_some(),
            "reviews-v3 is not the job's: never deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    jobs.delete("v3", &DeleteParams::default()).await.unwrap();
    until("the job to be gone", || async {
        jobs.get_opt("v3").await.unwrap().is_none().then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(deployments.get_opt("reviews-v3").await.unwrap().is_some());
    assert!(deployments.get_opt("reviews-v1").await.unwrap().is_some());
    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn job_offline_keeps_a_base_that_was_replaced_since_the_job_started() {
    let env = bookinfo().await;
    let (stop, task) = controller(&env.client);
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    jobs.create(
        &PostParams::default(),
        &job(
            "canary",
            spec(
                "details",
                "details-v1",
                "v2",
                "docker.io/istio/examples-bookinfo-details-v2:1.20.3",
            ),
        ),
    )
    .await
    .unwrap();
    let base_uid = until("live, with the base recorded", || async {
        let s = jobs.get_opt("canary").await.ok()??.status?;
        (s.phase? == Phase::Live).then_some(s.base_uid?)
    })
    .await;
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), NS);
    assert_eq!(
        deployments.get("details-v1").await.unwrap().metadata.uid,
        Some(base_uid)
    );
    // Someone (GitOps) deletes and recreates details-v1: another object with that name.
    let mut v1 = serde_json::to_value(deployments.get("details-v1").await.unwrap()).unwrap();
    deployments
        .delete("details-v1", &DeleteParams::default())
        .await
        .unwrap();
    until("details-v1 to be gone", || async {
        deployments
            .get_opt("details-v1")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    let labels: BTreeMap<String, String> =
        serde_json::from_value(v1["metadata"]["labels"].clone()).unwrap_or_default();
    v1["metadata"] = json!({"name": "details-v1", "labels": labels});
    v1.as_object_mut().unwrap().remove("status");
    deployments
        .create(&PostParams::default(), &serde_json::from_value(v1).unwrap())
        .await
        .unwrap();

    for change in [
        json!({"spec": {"takenOverBy": "New"}}),
        json!({"spec": {"offlineKeep": "New"}}),
    ] {
        jobs.patch("canary", &PatchParams::default(), &Patch::Merge(change))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    until("the job to be removed", || async {
        jobs.get_opt("canary")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        deployments.get_opt("details-v1").await.unwrap().is_some(),
        "not the Deployment the job started from: left in place"
    );
    assert!(
        warning_reasons(&env.client, NS, "canary")
            .await
            .contains(&"LeftInPlace".to_string())
    );
    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}

#[tokio::test]
async fn regexes_re2_refuses_are_refused_at_create_naming_the_rule() {
    let Env {
        sandbox, cluster, ..
    } = bookinfo().await;
    let with_rules = |rules: Vec<ContentRule>| {
        let mut s = spec(
            "reviews",
            "reviews-v1",
            "v2",
            "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
        );
        s.strategy = Strategy::RequestContent { rules };
        s
    };
    let header = |value: &str| ContentRule {
        kind: RuleKind::Header {
            name: "end-user".into(),
        },
        op: MatchOp::Regex,
        value: value.into(),
    };
    let uri = ContentRule {
        kind: RuleKind::Uri,
        op: MatchOp::Prefix,
        value: "/".into(),
    };
    for (rules, expected) in [
        (
            vec![header("[a-z&&[^x]]")],
            "Rule 1 (header end-user): RE2, which Envoy uses, does not support class \
             intersection `&&`",
        ),
        (
            vec![uri.clone(), header(r"\<jason")],
            "Rule 2 (header end-user): RE2, which Envoy uses, does not support the word-start \
             boundary `\\<`",
        ),
    ] {
        let Err(AppError::Invalid(m)) = cluster.create_job(NS, "content", with_rules(rules)).await
        else {
            panic!("{expected}")
        };
        assert!(m.contains(expected), "{m}");
        assert!(
            cluster.get_job(NS, "content").await.is_err(),
            "nothing created"
        );
    }
    // What RE2 takes goes through.
    cluster
        .create_job(NS, "content", with_rules(vec![header("ja(son|ck)")]))
        .await
        .unwrap();
    sandbox.shutdown().await;
}

/// Where a release's VirtualService would apply to nothing (an ambient project without a
/// waypoint for the component) or conflict (an HTTPRoute attached to the component), the
/// console refuses to create the job and the controller refuses a job applied behind its
/// back, saying why and what to do; once the cause is gone, the release goes through.
#[tokio::test]
async fn a_release_whose_routing_would_not_apply_is_refused_until_it_would() {
    let env = bookinfo().await;
    let (stop, task) = controller(&env.client);
    let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), NS);
    let reviews = || {
        spec(
            "reviews",
            "reviews-v1",
            "v2",
            "kubesphere/examples-bookinfo-reviews-v2:1.13.0",
        )
    };
    let refused = |r: Result<_, AppError>| match r {
        Err(AppError::Invalid(m)) => m,
        other => panic!("refused as invalid, got {other:?}"),
    };

    // Gateway API mesh routing on reviews: Istio's own sample route.
    let routes: Api<DynamicObject> = Api::namespaced_with(
        env.client.clone(),
        NS,
        &ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "gateway.networking.k8s.io",
            "v1",
            "HTTPRoute",
        )),
    );
    let route: DynamicObject = serde_yaml::from_str(include_str!(
        "../../app/testdata/istio/gateway-api-route-reviews-90-10.yaml"
    ))
    .unwrap();
    routes.create(&PostParams::default(), &route).await.unwrap();
    let m = refused(env.cluster.create_job(NS, "canary", reviews()).await);
    assert!(m.contains("routed by HTTPRoute reviews"), "{m}");
    assert!(
        m.contains("kubectl delete httproute reviews -n demo-project"),
        "{m}"
    );
    assert!(
        jobs.get_opt("canary").await.unwrap().is_none(),
        "nothing created"
    );
    routes
        .delete("reviews", &DeleteParams::default())
        .await
        .unwrap();

    // An ambient project with no waypoint: nothing would apply the VirtualService.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.client.clone());
    namespaces
        .patch(
            NS,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"istio.io/dataplane-mode": "ambient"}}})),
        )
        .await
        .unwrap();
    let m = refused(env.cluster.create_job(NS, "canary", reviews()).await);
    assert!(m.contains("ambient mode"), "{m}");
    assert!(m.contains("no waypoint serves reviews"), "{m}");
    assert!(
        m.contains("istioctl waypoint apply -n demo-project --enroll-namespace"),
        "{m}"
    );
    assert!(
        jobs.get_opt("canary").await.unwrap().is_none(),
        "nothing created"
    );

    // The same job applied with kubectl fails with the same reason and writes nothing.
    jobs.create(&PostParams::default(), &job("gitops", reviews()))
        .await
        .unwrap();
    let m = failed(&jobs, "gitops").await;
    assert!(m.contains("no waypoint serves reviews"), "{m}");
    assert!(job_deployments(&env.client, NS).await.is_empty());
    assert_eq!(vs_owner(&env.client, "reviews").await, None);

    // Enrolled in a waypoint, reviews is routed again: the job proceeds (its refusal is
    // re-checked every 30 s; touching the job re-checks it at once).
    Api::<Service>::namespaced(env.client.clone(), NS)
        .patch(
            "reviews",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"istio.io/use-waypoint": "waypoint"}}})),
        )
        .await
        .unwrap();
    jobs.patch(
        "gitops",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"touched": "1"}}})),
    )
    .await
    .unwrap();
    until(
        "the job to go live once a waypoint serves reviews",
        || async {
            let s = jobs.get_opt("gitops").await.ok()??.status?;
            (s.phase? == Phase::Live).then_some(())
        },
    )
    .await;
    assert_eq!(job_deployments(&env.client, NS).await, ["reviews-v2"]);

    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}
