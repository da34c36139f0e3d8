//! The sandbox over real HTTP, driven by kube-rs the way the console drives a cluster: typed
//! APIs for built-in kinds, dynamic APIs for Istio kinds.

#[path = "support/sandbox.rs"]
mod support;

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{ConfigMap, Endpoints, Event, Namespace, Pod, Service},
};
use kube::{
    Api, Resource, ResourceExt,
    api::{
        ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
        PostParams, WatchEvent, WatchParams,
    },
    runtime::{WatchStreamExt, watcher},
};
use serde_json::{Value, json};
use support::{api_error, eventually};

const WAIT: Duration = Duration::from_secs(15);

fn virtual_service_resource(version: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("networking.istio.io", version, "VirtualService"),
        "virtualservices",
    )
}

fn virtual_service(name: &str, weight: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": name},
        "spec": {
            "hosts": ["reviews"],
            "http": [{"route": [
                {"destination": {"host": "reviews", "subset": "v1"}, "weight": weight},
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10}
            ]}]
        }
    }))
    .expect("valid DynamicObject")
}

fn deployment(name: &str, image: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image,
                                         "ports": [{"containerPort": 9080}]}]}
            }
        }
    }))
    .expect("valid Deployment")
}

fn config_map(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "data": {"key": "value"}
    }))
    .expect("valid ConfigMap")
}

#[tokio::test]
async fn a_fresh_sandbox_lists_its_namespaces() {
    let t = support::start().await;
    let namespaces: Api<Namespace> = Api::all(t.client.clone());
    let list = namespaces.list(&ListParams::default()).await.expect("list");
    let mut names: Vec<String> = list.items.iter().map(|n| n.name_any()).collect();
    names.sort();
    assert_eq!(
        names,
        ["default", "demo-project", "istio-system", "kube-system"]
    );
    for ns in &list.items {
        assert_eq!(
            ns.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Active")
        );
        assert!(ns.metadata.uid.is_some() && ns.metadata.creation_timestamp.is_some());
    }
    let demo = namespaces.get("demo-project").await.expect("get");
    assert_eq!(
        demo.labels()
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("demo-project")
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn create_get_update_patch_delete_round_trip() {
    let t = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(t.client.clone(), "demo-project");
    let created = cms
        .create(
            &PostParams::default(),
            &config_map("settings", json!({"app": "x"})),
        )
        .await
        .expect("create");
    let uid = created.uid().expect("uid");
    assert_eq!(created.metadata.generation, Some(1));

    let err = api_error(
        cms.create(&PostParams::default(), &config_map("settings", json!({})))
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(err.message, "configmaps \"settings\" already exists");

    let mut fetched = cms.get("settings").await.expect("get");
    assert_eq!(fetched.uid().as_deref(), Some(uid.as_str()));
    fetched
        .data
        .get_or_insert_default()
        .insert("key".into(), "changed".into());
    let replaced = cms
        .replace("settings", &PostParams::default(), &fetched)
        .await
        .expect("replace");
    assert_ne!(replaced.resource_version(), created.resource_version());

    let merged = cms
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"extra": "1"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        merged
            .data
            .as_ref()
            .and_then(|d| d.get("extra"))
            .map(String::as_str),
        Some("1")
    );
    let json_patched = cms
        .patch(
            "settings",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([
                    {"op": "replace", "path": "/data/key", "value": "by-json-patch"}
                ]))
                .expect("patch"),
            ),
        )
        .await
        .expect("json patch");
    assert_eq!(
        json_patched
            .data
            .as_ref()
            .and_then(|d| d.get("key"))
            .map(String::as_str),
        Some("by-json-patch")
    );

    let missing = api_error(cms.get("nope").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));

    cms.delete("settings", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(api_error(cms.get("settings").await).code, 404);

    let generated = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"generateName": "gen-"}})).expect("cm"),
        )
        .await
        .expect("generateName");
    assert!(generated.name_any().starts_with("gen-") && generated.name_any().len() == 9);

    let dry = cms
        .create(
            &PostParams {
                dry_run: true,
                ..PostParams::default()
            },
            &config_map("dry", json!({})),
        )
        .await
        .expect("dry run");
    assert_eq!(dry.name_any(), "dry");
    assert_eq!(
        api_error(cms.get("dry").await).code,
        404,
        "dry runs are not stored"
    );

    let deleted = cms
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect("deletecollection");
    let deleted = deleted.left().expect("the deleted objects");
    assert_eq!(deleted.items.len(), 1);
    assert!(
        cms.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .is_empty()
    );

    let in_missing_ns: Api<ConfigMap> = Api::namespaced(t.client.clone(), "no-such-ns");
    let err = api_error(
        in_missing_ns
            .create(&PostParams::default(), &config_map("x", json!({})))
            .await,
    );
    assert_eq!(err.code, 404);
    assert_eq!(err.message, "namespaces \"no-such-ns\" not found");

    let bad_name = api_error(
        cms.create(&PostParams::default(), &config_map("Bad_Name", json!({})))
            .await,
    );
    assert_eq!((bad_name.code, bad_name.reason.as_str()), (422, "Invalid"));
    assert!(
        bad_name
            .message
            .contains("metadata.name: Invalid value: \"Bad_Name\"")
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_stale_update_is_a_409_conflict() {
    let t = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(t.client.clone(), "default");
    let original = cms
        .create(&PostParams::default(), &config_map("weights", json!({})))
        .await
        .expect("create");
    let mut first = original.clone();
    first.data = Some([("v1".to_string(), "90".to_string())].into());
    cms.replace("weights", &PostParams::default(), &first)
        .await
        .expect("first writer wins");
    let mut second = original;
    second.data = Some([("v1".to_string(), "10".to_string())].into());
    let err = api_error(
        cms.replace("weights", &PostParams::default(), &second)
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        err.message,
        "Operation cannot be fulfilled on configmaps \"weights\": the object has been modified; \
         please apply your changes to the latest version and try again"
    );
    let stored = cms.get("weights").await.expect("get");
    assert_eq!(
        stored.data.and_then(|d| d.get("v1").cloned()).as_deref(),
        Some("90")
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let t = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(t.client.clone(), "demo-project");
    for (name, labels) in [
        ("a", json!({"app": "reviews", "version": "v1"})),
        ("b", json!({"app": "reviews", "version": "v2"})),
        ("c", json!({"app": "ratings"})),
    ] {
        cms.create(&PostParams::default(), &config_map(name, labels))
            .await
            .expect("create");
    }
    let names = |list: kube::core::ObjectList<ConfigMap>| {
        let mut n: Vec<String> = list.items.iter().map(|c| c.name_any()).collect();
        n.sort();
        n
    };
    for (selector, expected) in [
        ("app=reviews", vec!["a", "b"]),
        ("app==reviews,version!=v1", vec!["b"]),
        ("version in (v1,v3)", vec!["a"]),
        ("version notin (v1)", vec!["b", "c"]),
        ("version", vec!["a", "b"]),
        ("!version", vec!["c"]),
    ] {
        let list = cms
            .list(&ListParams::default().labels(selector))
            .await
            .expect("list");
        assert_eq!(names(list), expected, "{selector}");
    }
    let by_name = cms
        .list(&ListParams::default().fields("metadata.name=c"))
        .await
        .expect("list");
    assert_eq!(names(by_name), ["c"]);
    let all: Api<ConfigMap> = Api::all(t.client.clone());
    let elsewhere = all
        .list(&ListParams::default().fields("metadata.namespace!=demo-project"))
        .await
        .expect("list");
    assert!(elsewhere.items.is_empty());
    let err = api_error(cms.list(&ListParams::default().labels("a b")).await);
    assert_eq!(err.code, 400);
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn watches_resume_from_a_resource_version() {
    let t = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(t.client.clone(), "demo-project");
    let first = cms
        .create(
            &PostParams::default(),
            &config_map("first", json!({"w": "yes"})),
        )
        .await
        .expect("create");
    let from = first.resource_version().expect("rv");
    cms.create(
        &PostParams::default(),
        &config_map("second", json!({"w": "yes"})),
    )
    .await
    .expect("create");
    cms.patch(
        "first",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"n": "2"}})),
    )
    .await
    .expect("patch");
    cms.create(&PostParams::default(), &config_map("unlabelled", json!({})))
        .await
        .expect("create");
    cms.delete("second", &DeleteParams::default())
        .await
        .expect("delete");

    let stream = cms
        .watch(&WatchParams::default().labels("w=yes").timeout(5), &from)
        .await
        .expect("watch");
    let events: Vec<WatchEvent<ConfigMap>> = stream.take(3).try_collect().await.expect("events");
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(o) => ("ADDED".into(), o.name_any()),
            WatchEvent::Modified(o) => ("MODIFIED".into(), o.name_any()),
            WatchEvent::Deleted(o) => ("DELETED".into(), o.name_any()),
            other => (format!("{other:?}"), String::new()),
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ADDED".to_string(), "second".to_string()),
            ("MODIFIED".to_string(), "first".to_string()),
            ("DELETED".to_string(), "second".to_string()),
        ]
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_watch_from_before_the_history_gets_410_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, client) = support::start_in(dir.path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let old = cms
        .create(&PostParams::default(), &config_map("old", json!({})))
        .await
        .expect("create");
    let old_rv = old.resource_version().expect("rv");
    sandbox.shutdown().await;

    // A restart starts a new watch history, as a restarted kube-apiserver's watch cache does.
    let (sandbox, client) = support::start_in(dir.path()).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &config_map("new", json!({})))
        .await
        .expect("create");
    let before: u64 = old_rv.parse::<u64>().expect("numeric") - 1;
    let mut stream = cms
        .watch(&WatchParams::default().timeout(5), &before.to_string())
        .await
        .expect("watch")
        .boxed();
    match stream.next().await {
        Some(Ok(WatchEvent::Error(status))) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
            assert!(
                status.message.starts_with("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    // kube-rs' watcher relists on 410 and carries on.
    let names: Vec<String> = watcher(cms.clone(), watcher::Config::default())
        .applied_objects()
        .take(2)
        .map_ok(|cm| cm.name_any())
        .try_collect()
        .await
        .expect("watcher");
    let mut names = names;
    names.sort();
    assert_eq!(names, ["new", "old"]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_invalid_virtual_service_is_422_naming_the_field() {
    let t = support::start().await;
    let vs: Api<DynamicObject> = Api::namespaced_with(
        t.client.clone(),
        "demo-project",
        &virtual_service_resource("v1"),
    );
    let err = api_error(
        vs.create(
            &PostParams::default(),
            &virtual_service("reviews", json!("ninety")),
        )
        .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.starts_with("VirtualService.networking.istio.io \"reviews\" is invalid: spec.http[0].route[0].weight"),
        "{}",
        err.message
    );
    let details = err.details.expect("details");
    assert_eq!(details.kind, "VirtualService");
    assert!(
        details
            .causes
            .iter()
            .any(|c| c.field == "spec.http[0].route[0].weight"),
        "{:?}",
        details.causes
    );

    // Unknown fields are pruned by default (kube-rs sends no fieldValidation) ...
    let mut typo = virtual_service("typo", json!(90));
    typo.data["spec"]["htttp"] = json!([]);
    vs.create(&PostParams::default(), &typo)
        .await
        .expect("accepted, unknown field pruned");
    let stored = vs.get("typo").await.expect("stored");
    assert!(stored.data["spec"].get("htttp").is_none());
    // ... and refused under fieldValidation=Strict (what kubectl sends).
    let strict = api_error(
        vs.patch(
            "typo",
            &PatchParams::default().validation_strict(),
            &Patch::Merge(json!({"spec": {"htttp": []}})),
        )
        .await,
    );
    assert_eq!((strict.code, strict.reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        strict.message,
        "VirtualService in version \"v1\" cannot be handled as a VirtualService: \
         strict decoding error: unknown field \"spec.htttp\""
    );

    // A valid one is stored and served in every Istio version.
    vs.create(
        &PostParams::default(),
        &virtual_service("reviews", json!(90)),
    )
    .await
    .expect("valid");
    let alpha: Api<DynamicObject> = Api::namespaced_with(
        t.client.clone(),
        "demo-project",
        &virtual_service_resource("v1alpha3"),
    );
    let as_alpha = alpha.get("reviews").await.expect("v1alpha3");
    assert_eq!(
        as_alpha.types.as_ref().map(|t| t.api_version.as_str()),
        Some("networking.istio.io/v1alpha3")
    );
    assert_eq!(as_alpha.data["spec"]["http"][0]["route"][0]["weight"], 90);
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn status_is_a_subresource_for_istio_objects() {
    let t = support::start().await;
    let vs: Api<DynamicObject> = Api::namespaced_with(
        t.client.clone(),
        "demo-project",
        &virtual_service_resource("v1"),
    );
    vs.create(
        &PostParams::default(),
        &virtual_service("reviews", json!(90)),
    )
    .await
    .expect("create");
    let with_status = vs
        .patch_status(
            "reviews",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 1}})),
        )
        .await
        .expect("status patch");
    assert_eq!(with_status.data["status"]["observedGeneration"], 1);
    let main = vs
        .patch(
            "reviews",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 7},
                                 "spec": {"hosts": ["reviews", "reviews.demo"]}})),
        )
        .await
        .expect("main patch");
    assert_eq!(
        main.data["status"]["observedGeneration"], 1,
        "status ignored on the main resource"
    );
    assert_eq!(
        main.metadata.generation,
        Some(2),
        "spec change bumps generation"
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_deployment_becomes_available_with_ready_pods_and_endpoints() {
    let t = support::start().await;
    let ns = "demo-project";
    let deploys: Api<Deployment> = Api::namespaced(t.client.clone(), ns);
    let services: Api<Service> = Api::namespaced(t.client.clone(), ns);
    deploys
        .create(
            &PostParams::default(),
            &deployment("reviews", "istio/reviews:1.0", 2),
        )
        .await
        .expect("create");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "reviews"},
        "spec": {"selector": {"app": "reviews"}, "ports": [{"port": 9080, "name": "http"}]}
    }))
    .expect("svc");
    let svc = services
        .create(&PostParams::default(), &svc)
        .await
        .expect("service");
    assert!(
        svc.spec
            .as_ref()
            .and_then(|s| s.cluster_ip.as_deref())
            .is_some_and(|ip| ip.starts_with("10.96."))
    );

    let available = eventually("reviews to be Available", WAIT, || {
        let deploys = deploys.clone();
        async move {
            let d = deploys.get("reviews").await.ok()?;
            let status = d.status?;
            let available = status
                .conditions?
                .into_iter()
                .find(|c| c.type_ == "Available" && c.status == "True")?;
            (status.ready_replicas == Some(2)).then_some(available)
        }
    })
    .await;
    assert_eq!(
        available.reason.as_deref(),
        Some("MinimumReplicasAvailable")
    );

    let pods: Api<Pod> = Api::namespaced(t.client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels("app=reviews"))
        .await
        .expect("pods");
    assert_eq!(list.items.len(), 2);
    let rs: Api<ReplicaSet> = Api::namespaced(t.client.clone(), ns);
    let rs_list = rs.list(&ListParams::default()).await.expect("rs");
    assert_eq!(rs_list.items.len(), 1);
    let rs_name = rs_list.items[0].name_any();
    assert!(rs_name.starts_with("reviews-") && rs_name.len() == "reviews-".len() + 10);
    for pod in &list.items {
        assert!(pod.name_any().starts_with(&format!("{rs_name}-")));
        let status = pod.status.as_ref().expect("status");
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert!(
            status
                .pod_ip
                .as_deref()
                .is_some_and(|ip| ip.starts_with("10.244."))
        );
        let cs = &status
            .container_statuses
            .as_ref()
            .expect("container statuses")[0];
        assert!(cs.ready && cs.started == Some(true));
        assert!(cs.image_id.contains("@sha256:"));
        assert!(
            pod.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| n.starts_with("sandbox-node-"))
        );
        assert_eq!(
            pod.owner_references()[0].name,
            rs_name,
            "pods are owned by the ReplicaSet"
        );
    }
    let endpoints: Api<Endpoints> = Api::namespaced(t.client.clone(), ns);
    let ep = eventually("endpoints with two addresses", WAIT, || {
        let endpoints = endpoints.clone();
        async move {
            let ep = endpoints.get("reviews").await.ok()?;
            let n = ep.subsets.as_ref()?.first()?.addresses.as_ref()?.len();
            (n == 2).then_some(ep)
        }
    })
    .await;
    assert_eq!(
        ep.subsets.expect("subsets")[0]
            .ports
            .as_ref()
            .expect("ports")[0]
            .port,
        9080
    );

    // Scale down, then change the image: a new ReplicaSet takes over.
    deploys
        .patch(
            "reviews",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .expect("scale");
    eventually("one pod", WAIT, || {
        let pods = pods.clone();
        async move {
            let n = pods
                .list(&ListParams::default().labels("app=reviews"))
                .await
                .ok()?
                .items
                .len();
            (n == 1).then_some(())
        }
    })
    .await;
    deploys
        .patch(
            "reviews",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {
                "containers": [{"name": "app", "image": "istio/reviews:2.0"}]}}}})),
        )
        .await
        .expect("new image");
    let pod = eventually("the new pod to replace the old one", WAIT, || {
        let pods = pods.clone();
        async move {
            let list = pods
                .list(&ListParams::default().labels("app=reviews"))
                .await
                .ok()?;
            match list.items.as_slice() {
                [only]
                    if only.spec.as_ref()?.containers.first()?.image.as_deref()
                        == Some("istio/reviews:2.0")
                        && only.status.as_ref()?.phase.as_deref() == Some("Running") =>
                {
                    Some(only.clone())
                }
                _ => None,
            }
        }
    })
    .await;
    let ports = pod.spec.expect("spec").containers[0].ports.clone();
    assert_eq!(
        ports.expect("ports kept by strategic merge")[0].container_port,
        9080
    );
    let rs_list = rs.list(&ListParams::default()).await.expect("rs");
    assert_eq!(
        rs_list.items.len(),
        2,
        "the old ReplicaSet is kept, scaled to 0"
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn an_unpullable_image_ends_in_image_pull_back_off_with_events() {
    let t = support::start().await;
    let ns = "demo-project";
    let deploys: Api<Deployment> = Api::namespaced(t.client.clone(), ns);
    deploys
        .create(
            &PostParams::default(),
            &deployment("broken", "istio/reviews:does-not-exist", 1),
        )
        .await
        .expect("create");
    let pods: Api<Pod> = Api::namespaced(t.client.clone(), ns);
    let pod = eventually("ImagePullBackOff", WAIT, || {
        let pods = pods.clone();
        async move {
            let list = pods
                .list(&ListParams::default().labels("app=broken"))
                .await
                .ok()?;
            let pod = list.items.into_iter().next()?;
            let reason = pod
                .status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()?
                .state
                .as_ref()?
                .waiting
                .as_ref()?
                .reason
                .clone()?;
            (reason == "ImagePullBackOff").then_some(pod)
        }
    })
    .await;
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );
    let events: Api<Event> = Api::namespaced(t.client.clone(), ns);
    let about_pod = events
        .list(&ListParams::default().fields(&format!("involvedObject.name={}", pod.name_any())))
        .await
        .expect("events");
    let reasons: Vec<String> = about_pod
        .items
        .iter()
        .filter_map(|e| e.reason.clone())
        .collect();
    for reason in ["Scheduled", "Pulling", "Failed", "BackOff"] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "{reason} in {reasons:?}"
        );
    }
    assert!(
        about_pod
            .items
            .iter()
            .any(|e| e.message.as_deref().is_some_and(
                |m| m.contains("Failed to pull image \"istio/reviews:does-not-exist\"")
            )),
        "a Failed event names the image"
    );
    let d = deploys.get("broken").await.expect("get");
    let available = d
        .status
        .and_then(|s| s.conditions)
        .and_then(|c| c.into_iter().find(|c| c.type_ == "Available"))
        .expect("Available condition");
    assert_eq!(available.status, "False");
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn deleting_a_deployment_deletes_its_replica_sets_and_pods() {
    let t = support::start().await;
    let ns = "demo-project";
    let deploys: Api<Deployment> = Api::namespaced(t.client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(t.client.clone(), ns);
    let rs: Api<ReplicaSet> = Api::namespaced(t.client.clone(), ns);
    deploys
        .create(
            &PostParams::default(),
            &deployment("details", "istio/details:1", 2),
        )
        .await
        .expect("create");
    eventually("two pods", WAIT, || {
        let pods = pods.clone();
        async move {
            let n = pods.list(&ListParams::default()).await.ok()?.items.len();
            (n == 2).then_some(())
        }
    })
    .await;
    deploys
        .delete("details", &DeleteParams::background())
        .await
        .expect("delete");
    eventually("replica sets and pods gone", WAIT, || {
        let (pods, rs) = (pods.clone(), rs.clone());
        async move {
            let p = pods.list(&ListParams::default()).await.ok()?.items.len();
            let r = rs.list(&ListParams::default()).await.ok()?.items.len();
            (p == 0 && r == 0).then_some(())
        }
    })
    .await;

    // Orphan keeps the dependents.
    deploys
        .create(
            &PostParams::default(),
            &deployment("keep", "istio/details:1", 1),
        )
        .await
        .expect("create");
    eventually("a replica set", WAIT, || {
        let rs = rs.clone();
        async move { (!rs.list(&ListParams::default()).await.ok()?.items.is_empty()).then_some(()) }
    })
    .await;
    deploys
        .delete("keep", &DeleteParams::orphan())
        .await
        .expect("delete");
    let left = rs.list(&ListParams::default()).await.expect("rs");
    assert_eq!(left.items.len(), 1);
    assert!(left.items[0].owner_references().is_empty());
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let t = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(t.client.clone(), "default");
    let mut cm = config_map("held", json!({}));
    cm.metadata.finalizers = Some(vec!["sluice.dev/cleanup".into()]);
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    cms.delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let held = cms.get("held").await.expect("still there");
    assert!(held.metadata.deletion_timestamp.is_some());
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Json::<()>(
            serde_json::from_value(json!([{"op": "remove", "path": "/metadata/finalizers"}]))
                .expect("patch"),
        ),
    )
    .await
    .expect("remove finalizer");
    assert_eq!(api_error(cms.get("held").await).code, 404);
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_contents() {
    let t = support::start().await;
    let namespaces: Api<Namespace> = Api::all(t.client.clone());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "scratch"}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create");
    let cms: Api<ConfigMap> = Api::namespaced(t.client.clone(), "scratch");
    cms.create(&PostParams::default(), &config_map("c", json!({})))
        .await
        .expect("create");
    namespaces
        .delete("scratch", &DeleteParams::default())
        .await
        .expect("delete");
    let terminating = namespaces.get("scratch").await.expect("still listed");
    assert_eq!(
        terminating.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let err = api_error(
        cms.create(&PostParams::default(), &config_map("late", json!({})))
            .await,
    );
    assert_eq!(err.code, 403);
    eventually("the namespace to disappear", WAIT, || {
        let namespaces = namespaces.clone();
        async move {
            matches!(namespaces.get("scratch").await, Err(kube::Error::Api(s)) if s.code == 404)
                .then_some(())
        }
    })
    .await;
    let all: Api<ConfigMap> = Api::all(t.client.clone());
    let left = all
        .list(&ListParams::default().fields("metadata.namespace=scratch"))
        .await
        .expect("list");
    assert!(left.items.is_empty());
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_crd_created_through_the_api_is_served() {
    let t = support::start().await;
    let crds: Api<DynamicObject> = Api::all_with(
        t.client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let crd: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "releases.sluice.dev"},
        "spec": {
            "group": "sluice.dev",
            "names": {"kind": "Release", "plural": "releases", "shortNames": ["rel"]},
            "scope": "Namespaced",
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                          "subresources": {"status": {}},
                          "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                              "spec": {"type": "object", "properties": {
                                  "weight": {"type": "integer", "maximum": 100}}},
                              "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                          }}}}]
        }
    }))
    .expect("crd");
    let created = crds
        .create(&PostParams::default(), &crd)
        .await
        .expect("create CRD");
    assert!(
        created.data["status"]["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    );
    let release = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("sluice.dev", "v1alpha1", "Release"),
        "releases",
    );
    let releases: Api<DynamicObject> =
        Api::namespaced_with(t.client.clone(), "demo-project", &release);
    let obj: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
        "metadata": {"name": "reviews-v2"}, "spec": {"weight": 10}
    }))
    .expect("release");
    releases
        .create(&PostParams::default(), &obj)
        .await
        .expect("create release");
    let mut too_big = obj.clone();
    too_big.metadata.name = Some("too-big".into());
    too_big.data["spec"]["weight"] = json!(150);
    let err = api_error(releases.create(&PostParams::default(), &too_big).await);
    assert_eq!(err.code, 422);
    assert!(err.message.contains("spec.weight"), "{}", err.message);

    let discovery = kube::Discovery::new(t.client.clone())
        .run()
        .await
        .expect("discovery");
    assert!(discovery.has_group("sluice.dev"));
    assert!(discovery.has_group("networking.istio.io"));

    crds.delete("releases.sluice.dev", &DeleteParams::default())
        .await
        .expect("delete CRD");
    assert_eq!(
        api_error(releases.list(&ListParams::default()).await).code,
        404
    );
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn events_written_as_events_k8s_io_are_read_as_core_events() {
    let t = support::start().await;
    let deploys: Api<Deployment> = Api::namespaced(t.client.clone(), "default");
    let d = deploys
        .create(&PostParams::default(), &deployment("web", "nginx:1", 0))
        .await
        .expect("create");
    let recorder = kube::runtime::events::Recorder::new(
        t.client.clone(),
        kube::runtime::events::Reporter {
            controller: "sluice-test".into(),
            instance: None,
        },
    );
    recorder
        .publish(
            &kube::runtime::events::Event {
                type_: kube::runtime::events::EventType::Normal,
                reason: "TrafficShifted".into(),
                note: Some("90/10".into()),
                action: "Shift".into(),
                secondary: None,
            },
            &d.object_ref(&()),
        )
        .await
        .expect("publish");
    let core: Api<Event> = Api::namespaced(t.client.clone(), "default");
    let list = core
        .list(&ListParams::default().fields("involvedObject.name=web,reason=TrafficShifted"))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].message.as_deref(), Some("90/10"));
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn unsupported_patch_types_are_415_with_a_message() {
    let t = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(t.client.clone(), "default");
    cms.create(&PostParams::default(), &config_map("c", json!({})))
        .await
        .expect("create");
    let err = api_error(
        cms.patch(
            "c",
            &PatchParams::apply("test"),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}})),
        )
        .await,
    );
    assert_eq!(
        (err.code, err.reason.as_str()),
        (415, "UnsupportedMediaType")
    );
    assert!(err.message.contains("server-side apply"), "{}", err.message);
    let vs: Api<DynamicObject> =
        Api::namespaced_with(t.client.clone(), "default", &virtual_service_resource("v1"));
    vs.create(&PostParams::default(), &virtual_service("r", json!(90)))
        .await
        .expect("create");
    let err = api_error(
        vs.patch(
            "r",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"hosts": ["x"]}})),
        )
        .await,
    );
    assert_eq!(err.code, 415);
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn metadata_only_and_table_representations() {
    let t = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(t.client.clone(), "default");
    cms.create(&PostParams::default(), &config_map("c", json!({"a": "b"})))
        .await
        .expect("create");
    let meta = cms
        .list_metadata(&ListParams::default())
        .await
        .expect("metadata list");
    assert_eq!(meta.items.len(), 1);
    assert_eq!(
        meta.items[0].labels().get("a").map(String::as_str),
        Some("b")
    );

    let request = http::Request::get("/api/v1/namespaces?limit=500")
        .header(
            "Accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Vec::new())
        .expect("request");
    let table: Value = t.client.request(request).await.expect("table");
    assert_eq!(table["kind"], "Table");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(columns, ["Name", "Status", "Age"]);
    assert_eq!(table["rows"].as_array().expect("rows").len(), 4);
    t.sandbox.shutdown().await;
}

#[tokio::test]
async fn kube_rs_watchers_work_with_lists_and_streaming_lists() {
    let t = support::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(t.client.clone(), "demo-project");
    cms.create(&PostParams::default(), &config_map("before", json!({})))
        .await
        .expect("create");
    for config in [
        watcher::Config::default(),
        watcher::Config::default().streaming_lists(),
    ] {
        let mut stream = watcher(cms.clone(), config).applied_objects().boxed();
        // The initial objects (in name order) include the one created before the watch.
        loop {
            let initial = tokio::time::timeout(WAIT, stream.next())
                .await
                .expect("initial objects in time")
                .expect("stream open")
                .expect("no error");
            if initial.name_any() == "before" {
                break;
            }
        }
        let name = format!("after-{}", rand_suffix());
        cms.create(&PostParams::default(), &config_map(&name, json!({})))
            .await
            .expect("create");
        let next = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("change in time")
            .expect("stream open")
            .expect("no error");
        assert_eq!(next.name_any(), name);
    }
    t.sandbox.shutdown().await;
}

fn rand_suffix() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
}
