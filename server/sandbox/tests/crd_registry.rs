//! CRDs written at the same moment are all served afterwards, as on kube-apiserver: a
//! console installing two CRDs at once (its jobs and their history) found one of them
//! missing, because the registry could apply an older listing last.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;

#[path = "support/sandbox.rs"]
mod support;

fn crd(plural: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.race.example.com")},
        "spec": {
            "group": "race.example.com",
            "names": {"kind": format!("K{plural}"), "plural": plural},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crds_created_at_once_are_all_served() {
    let t = support::start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(t.client.clone());
    for round in 0..5 {
        let plurals: Vec<String> = (0..8).map(|i| format!("r{round}k{i}s")).collect();
        let creates = plurals.iter().map(|p| {
            let crds = crds.clone();
            let c = crd(p);
            async move { crds.create(&PostParams::default(), &c).await.unwrap() }
        });
        futures_util::future::join_all(creates).await;
        for p in &plurals {
            let ar = ApiResource {
                group: "race.example.com".into(),
                version: "v1".into(),
                api_version: "race.example.com/v1".into(),
                kind: format!("K{p}"),
                plural: p.clone(),
            };
            let api: Api<DynamicObject> = Api::namespaced_with(t.client.clone(), "default", &ar);
            api.list(&ListParams::default())
                .await
                .unwrap_or_else(|e| panic!("{p} is not served after the concurrent creates: {e}"));
        }
    }
}
