//! Releases on Gateway API (`routing: HTTPRoute`) against the sandbox, its mesh and a real
//! Prometheus, each scenario in a namespace of its own, side by side:
//! - the tutorial's canary made through the console's port as the wizard makes it: the
//!   YAML review, an HTTPRoute attached to Service reviews with weighted backends to
//!   `reviews-v1`/`reviews-v2` (checked with the real kubectl), the product page's share of
//!   v2 following the slider, Take Over, Job Offline leaving plain routing to v2 and only
//!   v2's Service; a VirtualService release of the component is then refused, pointing to
//!   HTTPRoute routing;
//! - request content: the logged-in user jason (an `end-user` header match) is served by v2,
//!   everyone else by v1; deleting the job removes the HTTPRoute and both Services;
//! - automatic steps: the checks read Istio's metrics under the per-version Services'
//!   names, so a healthy v2 walks its steps and takes over;
//! - someone's own HTTPRoute attached to reviews is the route released, once they let
//!   Sluice manage it (a 409 first, never silently);
//! - north-south: a Gateway's route to reviews is rewritten in place (its rule to reviews
//!   splits, its other rules stay), through Take Over and Job Offline.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::Value;
use sluice_app::domain::release::analysis::Verdict;
use sluice_app::domain::release::jobs::JobChange;
use sluice_app::domain::release::rules::{ContentRule, MatchOp, RuleKind};
use sluice_app::domain::release::{ReleaseSpec, Routing, Side, Strategy};
use sluice_app::error::AppError;
use sluice_app::ports::ReleasesPort;
use sluice_sandbox::mesh::IngressRequest;
use sluice_server::kube::cluster::KubeCluster;
use sluice_server::kube::connect::from_kubeconfig_file;
use sluice_server::kube::releases::{Phase, ReleaseJob};

#[path = "support/progressive.rs"]
mod support;

use support::{
    Env, assert_share, controller, host, load, plan, reviews_job, state, v2_share, within,
};

const IMAGE: &str = "kubesphere/examples-bookinfo-reviews-v2:1.13.0";

fn spec(strategy: Strategy) -> ReleaseSpec {
    ReleaseSpec {
        component: "reviews".into(),
        base_workload: "reviews-v1".into(),
        base_version: "v1".into(),
        new_version: "v2".into(),
        image: IMAGE.into(),
        replicas: 1,
        strategy,
        taken_over_by: None,
        creator: None,
        analysis: None,
        routing: Routing::HttpRoute,
        also_serving: Vec::new(),
        http_route: None,
    }
}

/// `kubectl … -o json` against the sandbox, as a person checks what was written.
fn kubectl_json(kubeconfig: &Path, args: &[&str]) -> Option<Value> {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("kubectl runs");
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

fn http_routes(client: &kube::Client, ns: &str) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1",
        "HTTPRoute",
    ));
    Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar)
}

async fn http_route_named(client: &kube::Client, ns: &str, name: &str) -> Option<Value> {
    let r = http_routes(client, ns).get_opt(name).await.ok()??;
    serde_json::to_value(r).ok()
}

async fn http_route(client: &kube::Client, ns: &str) -> Option<Value> {
    http_route_named(client, ns, "reviews").await
}

/// (backend Service, weight) of the route's last rule: its ordinary traffic.
fn backends(route: &Value) -> Vec<(String, u64)> {
    route["spec"]["rules"]
        .as_array()
        .and_then(|r| r.last())
        .and_then(|r| r["backendRefs"].as_array())
        .into_iter()
        .flatten()
        .map(|b| {
            (
                b["name"].as_str().unwrap_or_default().to_string(),
                b["weight"].as_u64().unwrap_or(1),
            )
        })
        .collect()
}

fn pair(v1: u64, v2: u64) -> Vec<(String, u64)> {
    vec![("reviews-v1".into(), v1), ("reviews-v2".into(), v2)]
}

async fn route_weights(client: &kube::Client, ns: &str) -> Option<Vec<(String, u64)>> {
    http_route(client, ns).await.map(|r| backends(&r))
}

/// A change made as the job page makes it: on top of the generation just read.
async fn change(cluster: &KubeCluster, ns: &str, job: &str, change: JobChange) {
    let seen = cluster.get_job(ns, job).await.unwrap();
    cluster
        .change_job(ns, job, seen.generation, change)
        .await
        .unwrap();
}

fn reviews_version(env: &Env, ns: &str, user: Option<&str>) -> Option<String> {
    let mut req = IngressRequest::get(&host(ns), "/productpage?u=normal");
    if let Some(u) = user {
        req = req.header("end-user", u);
    }
    let page = env.sandbox.mesh().handle_ingress(req);
    page.body
        .split("data-reviews-version=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(str::to_string)
}

const LIMIT: Duration = Duration::from_secs(30);

async fn canary_through_the_console(env: &Env) {
    let ns = "gw-canary";
    let cluster = from_kubeconfig_file(env.sandbox.kubeconfig_path(), None, true).await;
    let kubeconfig = env.sandbox.kubeconfig_path();
    let s = spec(Strategy::TrafficRatio { new_percent: 30 });

    // The wizard's review: exactly what will be written.
    let preview = cluster.preview_job(ns, "canary-release", &s).await.unwrap();
    let kinds: Vec<(&str, &str)> = preview
        .iter()
        .map(|o| (o.kind.as_str(), o.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Deployment", "reviews-v2"),
            ("Service", "reviews-v1"),
            ("Service", "reviews-v2"),
            ("HTTPRoute", "reviews"),
        ]
    );
    assert!(
        preview[3].yaml.contains("parentRefs") && preview[3].yaml.contains("weight: 30"),
        "{}",
        preview[3].yaml
    );

    cluster
        .create_job(ns, "canary-release", s.clone())
        .await
        .unwrap();
    within("the job to go live at 70/30", LIMIT, || async {
        let view = cluster.get_job(ns, "canary-release").await.ok()?;
        (view.phase.as_deref() == Some("Live")
            && view.versions.iter().map(|v| v.weight).eq([70, 30]))
        .then_some(())
    })
    .await;
    // What kubectl shows.
    let route = kubectl_json(kubeconfig, &["get", "httproute", "reviews", "-n", ns]).unwrap();
    assert_eq!(backends(&route), pair(70, 30), "{route}");
    assert_eq!(route["spec"]["parentRefs"][0]["kind"], "Service");
    assert_eq!(route["spec"]["parentRefs"][0]["name"], "reviews");
    assert_eq!(
        route["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "sluice"
    );
    let v2_svc = kubectl_json(kubeconfig, &["get", "service", "reviews-v2", "-n", ns]).unwrap();
    assert_eq!(v2_svc["spec"]["selector"]["version"], "v2", "{v2_svc}");
    assert_eq!(v2_svc["spec"]["ports"][0]["port"], 9080, "{v2_svc}");
    assert!(
        kubectl_json(kubeconfig, &["get", "virtualservice", "reviews", "-n", ns]).is_none(),
        "an HTTPRoute release writes no VirtualService"
    );

    // The mesh follows the route.
    tokio::time::sleep(Duration::from_millis(300)).await;
    const N: usize = 400;
    assert_share(
        v2_share(&env.sandbox, ns, N),
        0.3,
        N,
        "30% on the HTTPRoute",
    );

    // The slider.
    change(&cluster, ns, "canary-release", JobChange::NewPercent(80)).await;
    within("the route to follow the slider", LIMIT, || async {
        (route_weights(&env.client, ns).await == Some(pair(20, 80))).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_share(
        v2_share(&env.sandbox, ns, N),
        0.8,
        N,
        "80% after the slider",
    );

    // Take Over, then Job Offline.
    change(
        &cluster,
        ns,
        "canary-release",
        JobChange::TakeOver(Side::New),
    )
    .await;
    within("take over", LIMIT, || async {
        (route_weights(&env.client, ns).await == Some(pair(0, 100))).then_some(())
    })
    .await;
    change(&cluster, ns, "canary-release", JobChange::Offline).await;
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), ns);
    let services: Api<Service> = Api::namespaced(env.client.clone(), ns);
    within("Job Offline to finish", LIMIT, || async {
        let jobs: Api<ReleaseJob> = Api::namespaced(env.client.clone(), ns);
        (jobs.get_opt("canary-release").await.ok()?.is_none()
            && deployments.get_opt("reviews-v1").await.ok()?.is_none()
            && services.get_opt("reviews-v1").await.ok()?.is_none())
        .then_some(())
    })
    .await;
    assert!(deployments.get_opt("reviews-v2").await.unwrap().is_some());
    assert!(services.get_opt("reviews-v2").await.unwrap().is_some());
    assert_eq!(
        route_weights(&env.client, ns).await,
        Some(vec![("reviews-v2".into(), 100)])
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(v2_share(&env.sandbox, ns, 50), 1.0);

    // The component is routed by an HTTPRoute now: a VirtualService release says how to go on.
    let mut next = spec(Strategy::TrafficRatio { new_percent: 10 });
    next.routing = Routing::VirtualService;
    next.base_workload = "reviews-v2".into();
    next.base_version = "v2".into();
    next.new_version = "v3".into();
    next.image = "docker.io/istio/examples-bookinfo-reviews-v3:1.20.3".into();
    let Err(AppError::Invalid(m)) = cluster.create_job(ns, "next", next).await else {
        panic!("a VirtualService release on an HTTPRoute-routed Service was accepted");
    };
    assert!(
        m.contains("routed by HTTPRoute reviews") && m.contains("Gateway API HTTPRoute"),
        "{m}"
    );
}

async fn request_content_and_delete(env: &Env) {
    let ns = "gw-content";
    let cluster = from_kubeconfig_file(env.sandbox.kubeconfig_path(), None, true).await;
    let rule = ContentRule {
        kind: RuleKind::Header {
            name: "end-user".into(),
        },
        op: MatchOp::Exact,
        value: "jason".into(),
    };
    cluster
        .create_job(
            ns,
            "jason",
            spec(Strategy::RequestContent { rules: vec![rule] }),
        )
        .await
        .unwrap();
    within("jason to be matched to v2", LIMIT, || async {
        let r = http_route(&env.client, ns).await?;
        (r["spec"]["rules"].as_array()?.len() == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..20 {
        assert_eq!(
            reviews_version(env, ns, Some("jason")).as_deref(),
            Some("v2")
        );
        assert_eq!(reviews_version(env, ns, None).as_deref(), Some("v1"));
    }

    // Deleting the job undoes it: what it wrote goes, the base serves everyone.
    Api::<ReleaseJob>::namespaced(env.client.clone(), ns)
        .delete("jason", &DeleteParams::default())
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(env.client.clone(), ns);
    let deployments: Api<Deployment> = Api::namespaced(env.client.clone(), ns);
    within("the release to be undone", LIMIT, || async {
        (http_route(&env.client, ns).await.is_none()
            && services.get_opt("reviews-v1").await.ok()?.is_none()
            && services.get_opt("reviews-v2").await.ok()?.is_none()
            && deployments.get_opt("reviews-v2").await.ok()?.is_none())
        .then_some(())
    })
    .await;
    assert!(services.get_opt("reviews").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        reviews_version(env, ns, Some("jason")).as_deref(),
        Some("v1")
    );
}

async fn automatic_steps_read_the_version_services_metrics(env: &Env) {
    let ns = "gw-auto";
    let _users = Abort(load(&env.sandbox, ns, 30));
    let mut job = reviews_job(
        "canary",
        IMAGE,
        Strategy::TrafficRatio { new_percent: 20 },
        plan(&[20, 60], 10, 2),
    );
    job.spec.release.routing = Routing::HttpRoute;
    Api::<ReleaseJob>::namespaced(env.client.clone(), ns)
        .create(&PostParams::default(), &job)
        .await
        .unwrap();
    let (message, analysis) = within(
        "the checks to promote v2",
        Duration::from_secs(120),
        || async {
            match state(&env.client, ns, "canary").await {
                Some((Some(Phase::TakenOver), m, a)) => Some((m, a)),
                Some((Some(Phase::RolledBack | Phase::Failed), m, _)) => {
                    panic!("the release stopped: {m}")
                }
                _ => None,
            }
        },
    )
    .await;
    let a = analysis.unwrap();
    // Only checks that measured v2's requests (reported under Service reviews-v2) pass.
    let passed: Vec<u64> = a
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Passed)
        .map(|c| c.new_requests)
        .collect();
    assert!(
        !passed.is_empty() && passed.iter().all(|r| *r >= 10),
        "checks that passed, by v2's requests: {passed:?} ({message})"
    );
    assert_eq!(
        route_weights(&env.client, ns).await,
        Some(pair(0, 100)),
        "{message}"
    );
}

/// A component routed by someone's own HTTPRoute is released on that route, once they let
/// Sluice manage it (never silently).
async fn an_attached_route_is_the_one_released(env: &Env) {
    let ns = "gw-adopt";
    let cluster = from_kubeconfig_file(env.sandbox.kubeconfig_path(), None, true).await;
    let theirs: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "reviews-split", "namespace": ns},
        "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "reviews", "port": 9080}],
                 "rules": [{"backendRefs": [{"name": "reviews", "port": 9080}]}]}
    }))
    .unwrap();
    http_routes(&env.client, ns)
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    let s = spec(Strategy::TrafficRatio { new_percent: 40 });
    let preview = cluster.preview_job(ns, "adopt", &s).await.unwrap();
    assert!(
        preview
            .iter()
            .any(|o| o.kind == "HTTPRoute" && o.name == "reviews-split"),
        "the review shows the attached route: {:?}",
        preview.iter().map(|o| &o.name).collect::<Vec<_>>()
    );
    let Err(AppError::Conflict(m)) = cluster.create_job(ns, "adopt", s.clone()).await else {
        panic!("someone's HTTPRoute was taken without asking");
    };
    assert!(
        m.contains("HTTPRoute (reviews-split)") && m.contains("does not manage"),
        "{m}"
    );
    // "Let Sluice manage its routing", then Create again.
    cluster.adopt_routing(ns, "reviews").await.unwrap();
    let view = cluster.create_job(ns, "adopt", s).await.unwrap();
    assert_eq!(view.spec.http_route.as_deref(), Some("reviews-split"));
    within("their route to carry the split", LIMIT, || async {
        let r = http_route_named(&env.client, ns, "reviews-split").await?;
        (backends(&r) == pair(60, 40)).then_some(())
    })
    .await;
    assert!(
        http_route(&env.client, ns).await.is_none(),
        "no second route"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    const N: usize = 400;
    assert_share(v2_share(&env.sandbox, ns, N), 0.4, N, "40% on their route");
}

/// The reviews version that answered a request through the Gateway (its pod's name).
fn version_via_gateway(env: &Env, host: &str) -> String {
    let res = env
        .sandbox
        .mesh()
        .handle_ingress(IngressRequest::get(host, "/reviews/0"));
    let Ok(v) = serde_json::from_str::<Value>(&res.body) else {
        return format!("{} {}", res.status, res.body);
    };
    let pod = v["podname"].as_str().unwrap_or_default();
    ["v1", "v2", "v3"]
        .into_iter()
        .find(|ver| pod.starts_with(&format!("reviews-{ver}-")))
        .unwrap_or("none")
        .to_string()
}

/// North-south: reviews reached through a Gateway API Gateway by its owner's route is
/// released on that route, rewritten in place: the rule to reviews splits, the rest of
/// the route stays as written.
async fn a_gateways_route_is_the_one_released(env: &Env) {
    let ns = "gw-ingress";
    let host = format!("reviews.{ns}.localhost");
    let cluster = from_kubeconfig_file(env.sandbox.kubeconfig_path(), None, true).await;
    let gateways = Api::<DynamicObject>::namespaced_with(
        env.client.clone(),
        ns,
        &ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "gateway.networking.k8s.io",
            "v1",
            "Gateway",
        )),
    );
    let gateway: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "ingress", "namespace": ns},
        "spec": {"gatewayClassName": "istio",
                 "listeners": [{"name": "http", "port": 80, "protocol": "HTTP", "hostname": host}]}
    }))
    .unwrap();
    gateways
        .create(&PostParams::default(), &gateway)
        .await
        .unwrap();
    let theirs: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "shop", "namespace": ns},
        "spec": {"parentRefs": [{"name": "ingress"}],
                 "hostnames": [host],
                 "rules": [
                     {"matches": [{"path": {"type": "PathPrefix", "value": "/reviews"}}],
                      "backendRefs": [{"name": "reviews", "port": 9080}]},
                     {"matches": [{"path": {"type": "PathPrefix", "value": "/details"}}],
                      "backendRefs": [{"name": "details", "port": 9080}]}]}
    }))
    .unwrap();
    http_routes(&env.client, ns)
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    within("the Gateway to serve reviews", LIMIT, || async {
        (version_via_gateway(env, &host) == "v1").then_some(())
    })
    .await;

    let s = spec(Strategy::TrafficRatio { new_percent: 30 });
    let Err(AppError::Conflict(m)) = cluster.create_job(ns, "edge", s.clone()).await else {
        panic!("someone's Gateway route was taken without asking");
    };
    assert!(m.contains("HTTPRoute (shop)"), "{m}");
    cluster.adopt_routing(ns, "reviews").await.unwrap();
    let view = cluster.create_job(ns, "edge", s).await.unwrap();
    assert_eq!(view.spec.http_route.as_deref(), Some("shop"));
    let route = within("the Gateway's route to split reviews", LIMIT, || async {
        let r = http_route_named(&env.client, ns, "shop").await?;
        (r["spec"]["rules"][0]["backendRefs"][1]["weight"] == 30).then_some(r)
    })
    .await;
    let refs = |r: &Value, i: usize| -> Vec<(String, u64, u64)> {
        r["spec"]["rules"][i]["backendRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|b| {
                (
                    b["name"].as_str().unwrap_or_default().to_string(),
                    b["port"].as_u64().unwrap_or(0),
                    b["weight"].as_u64().unwrap_or(1),
                )
            })
            .collect()
    };
    assert_eq!(
        refs(&route, 0),
        [
            ("reviews-v1".into(), 9080, 70),
            ("reviews-v2".into(), 9080, 30)
        ],
        "{route}"
    );
    assert_eq!(
        refs(&route, 1),
        [("details".into(), 9080, 1)],
        "the details rule stays as its owner wrote it"
    );
    assert_eq!(route["spec"]["parentRefs"][0]["name"], "ingress");
    tokio::time::sleep(Duration::from_millis(300)).await;
    const N: usize = 400;
    let v2 = (0..N)
        .filter(|_| version_via_gateway(env, &host) == "v2")
        .count();
    assert_share(v2 as f64 / N as f64, 0.3, N, "30% through the Gateway");

    // Take Over and Job Offline: the owner's route now sends reviews to v2 alone.
    change(&cluster, ns, "edge", JobChange::TakeOver(Side::New)).await;
    let seen = within("take over", LIMIT, || async {
        let v = cluster.get_job(ns, "edge").await.ok()?;
        (v.phase.as_deref() == Some("TakenOver")).then_some(v)
    })
    .await;
    cluster
        .change_job(ns, "edge", seen.generation, JobChange::Offline)
        .await
        .unwrap();
    let route = within("Job Offline", LIMIT, || async {
        let r = http_route_named(&env.client, ns, "shop").await?;
        (refs(&r, 0) == [("reviews-v2".to_string(), 9080, 100)]).then_some(r)
    })
    .await;
    assert_eq!(route["spec"]["hostnames"][0], host.as_str());
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..20 {
        assert_eq!(version_via_gateway(env, &host), "v2");
    }
}

/// Stops a spawned task when dropped.
struct Abort(tokio::task::JoinHandle<()>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_on_gateway_api_split_match_and_take_over_in_the_mesh() {
    let env = support::start(&[
        "gw-canary",
        "gw-content",
        "gw-auto",
        "gw-adopt",
        "gw-ingress",
    ])
    .await;
    let (stop, task) = controller(&env.client, env.metrics());
    tokio::join!(
        canary_through_the_console(&env),
        request_content_and_delete(&env),
        automatic_steps_read_the_version_services_metrics(&env),
        an_attached_route_is_the_one_released(&env),
        a_gateways_route_is_the_one_released(&env),
    );
    stop.send_replace(true);
    let _ = task.await;
    env.sandbox.shutdown().await;
}
