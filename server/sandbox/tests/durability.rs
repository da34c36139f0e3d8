//! State survives restarts, and a crash in the middle of a log write loses nothing that was
//! acknowledged. Also the start-up checks a user can run into.

#[path = "support/sandbox.rs"]
mod support;

use std::{fs::OpenOptions, io::Write, net::SocketAddr, time::Duration};

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Namespace, Pod},
};
use kube::{
    Api, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams},
};
use serde_json::json;
use sluice_sandbox::{Sandbox, SandboxConfig, SandboxError, store::wal::Wal};
use support::{api_error, eventually};

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": name}}))
        .expect("ConfigMap")
}

#[tokio::test]
async fn objects_survive_a_restart_with_the_same_uid_and_resource_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, client) = support::start_in(dir.path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "demo-project");
    let cm = cms
        .create(&PostParams::default(), &config_map("kept"))
        .await
        .expect("create");
    let vs_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("networking.istio.io", "v1", "VirtualService"),
        "virtualservices",
    );
    let vss: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "demo-project", &vs_resource);
    let vs: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "reviews"},
        "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}
    }))
    .expect("vs");
    let vs = vss.create(&PostParams::default(), &vs).await.expect("vs");
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "demo-project");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}}
    }))
    .expect("deployment");
    deploys
        .create(&PostParams::default(), &d)
        .await
        .expect("deploy");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "demo-project");
    let pod = eventually("a running pod", Duration::from_secs(15), || {
        let pods = pods.clone();
        async move {
            let p = pods
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .into_iter()
                .next()?;
            (p.status.as_ref()?.phase.as_deref() == Some("Running")).then_some(p)
        }
    })
    .await;
    // A deleted seed namespace must stay deleted: seeding happens only once.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete("istio-system", &DeleteParams::default())
        .await
        .expect("delete");
    eventually("istio-system gone", Duration::from_secs(15), || {
        let namespaces = namespaces.clone();
        async move { namespaces.get("istio-system").await.is_err().then_some(()) }
    })
    .await;
    sandbox.shutdown().await;

    let (sandbox, client) = support::start_in(dir.path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "demo-project");
    let again = cms.get("kept").await.expect("still there");
    assert_eq!(again.uid(), cm.uid());
    assert_eq!(again.resource_version(), cm.resource_version());
    assert_eq!(again.data, cm.data);
    let vss: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "demo-project", &vs_resource);
    let vs_again = vss.get("reviews").await.expect("vs still there");
    assert_eq!(vs_again.uid(), vs.uid());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "demo-project");
    let pod_again = pods.get(&pod.name_any()).await.expect("pod still there");
    assert_eq!(pod_again.uid(), pod.uid());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert_eq!(api_error(namespaces.get("istio-system").await).code, 404);
    // New writes continue the resourceVersion sequence.
    let newer = cms
        .create(&PostParams::default(), &config_map("newer"))
        .await
        .expect("create");
    let rv = |o: &ConfigMap| {
        o.resource_version()
            .expect("rv")
            .parse::<u64>()
            .expect("numeric")
    };
    assert!(rv(&newer) > rv(&again));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_torn_last_log_record_is_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, client) = support::start_in(dir.path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &config_map("a"))
        .await
        .expect("a");
    cms.create(&PostParams::default(), &config_map("b"))
        .await
        .expect("b");
    sandbox.shutdown().await;

    // Simulate a crash half-way through writing b's record: cut the log inside it.
    let log = Wal::log_path(&dir.path().join("sandbox"));
    let len = std::fs::metadata(&log).expect("log").len();
    let file = OpenOptions::new().write(true).open(&log).expect("open log");
    file.set_len(len - 20).expect("truncate");
    drop(file);

    let (sandbox, client) = support::start_in(dir.path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    assert!(cms.get("a").await.is_ok(), "complete records survive");
    assert_eq!(
        api_error(cms.get("b").await).code,
        404,
        "the torn record is dropped"
    );
    cms.create(&PostParams::default(), &config_map("b"))
        .await
        .expect("b can be written again");
    sandbox.shutdown().await;

    // Garbage after the last record (a write that never completed) is ignored too.
    let mut file = OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open log");
    file.write_all(&[0xff, 0x00, 0x13, 0x37, 1, 2, 3])
        .expect("garbage");
    drop(file);
    let (sandbox, client) = support::start_in(dir.path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut names: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .iter()
        .map(|c| c.name_any())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn only_loopback_addresses_are_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = SandboxConfig::new(dir.path());
    cfg.api_addr = SocketAddr::from(([0, 0, 0, 0], 0));
    match Sandbox::start(cfg).await {
        Err(err @ SandboxError::NotLoopback(_)) => {
            assert!(err.to_string().contains("loopback"), "{err}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a sandbox must not listen on 0.0.0.0"),
    }
}

#[tokio::test]
async fn a_second_sandbox_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, _) = support::start_in(dir.path()).await;
    match Sandbox::start(SandboxConfig::new(dir.path())).await {
        Err(SandboxError::Locked(_)) => {}
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("two sandboxes must not share a directory"),
    }
    first.shutdown().await;
    // Released at shutdown.
    let (again, _) = support::start_in(dir.path()).await;
    again.shutdown().await;
}

#[tokio::test]
async fn the_kubeconfig_names_the_sandbox_and_its_url() {
    let t = support::start().await;
    let text = std::fs::read_to_string(t.sandbox.kubeconfig_path()).expect("kubeconfig");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    assert_eq!(doc["current-context"].as_str(), Some("sluice-sandbox"));
    assert_eq!(doc["clusters"][0]["name"].as_str(), Some("sluice-sandbox"));
    assert_eq!(
        doc["clusters"][0]["cluster"]["server"].as_str(),
        Some(t.sandbox.api_url())
    );
    assert!(t.sandbox.api_url().starts_with("https://127.0.0.1:"));
    assert_eq!(
        t.sandbox.kubeconfig_path(),
        t.dir.path().join("sandbox").join("kubeconfig")
    );
    t.sandbox.shutdown().await;
}
