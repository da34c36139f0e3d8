//! Helpers for building snapshots by hand: in tests, and for anyone who wants to run the
//! mesh without the sandbox's controllers (e.g. from plain manifests).
//!
//! The real sandbox creates pods through its Deployment controller; these helpers do the
//! same job in miniature — one Ready pod per replica, shaped like the pods a ReplicaSet
//! creates (owner reference, `pod-template-hash`, IP, Ready condition) — so snapshots
//! built from Istio's own Bookinfo manifests behave like a running cluster.

use serde::Deserialize;
use serde_json::{Value, json};

use super::snapshot::MeshSnapshot;

/// Parse a multi-document YAML stream into JSON objects, skipping empty or invalid
/// documents.
pub fn objects_from_yaml(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .filter_map(|doc| Value::deserialize(doc).ok())
        .filter(|v| v.is_object())
        .collect()
}

/// Kubernetes' name-suffix alphabet (no vowels, no confusable characters).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn suffix(seed: &str, len: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = String::with_capacity(len);
    for i in 0..len {
        for b in seed.bytes().chain([i as u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        out.push(char::from(ALPHABET[(h % ALPHABET.len() as u64) as usize]));
    }
    out
}

/// Put namespaced objects without a namespace into `namespace`, add that namespace
/// (with `istio-injection=enabled`) if missing, and add `replicas` Ready pods for every
/// Deployment. Existing pods are kept.
pub fn with_ready_pods(objects: Vec<Value>, namespace: &str) -> Vec<Value> {
    let mut out = Vec::with_capacity(objects.len() * 2);
    let mut have_ns = false;
    let mut next_ip = 10u32;
    let mut pods = Vec::new();
    for mut obj in objects {
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if kind == "Namespace" {
            have_ns |= obj.pointer("/metadata/name").and_then(Value::as_str) == Some(namespace);
            out.push(obj);
            continue;
        }
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut)
            && !meta.contains_key("namespace")
        {
            meta.insert("namespace".into(), Value::String(namespace.to_string()));
        }
        if kind == "Deployment" {
            let ns = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(namespace)
                .to_string();
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let replicas = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .min(50);
            let template = obj
                .pointer("/spec/template")
                .cloned()
                .unwrap_or(Value::Null);
            let hash = suffix(&format!("{ns}/{name}"), 10);
            for i in 0..replicas {
                let mut labels = template
                    .pointer("/metadata/labels")
                    .cloned()
                    .unwrap_or_else(|| json!({}));
                if let Some(l) = labels.as_object_mut() {
                    l.insert("pod-template-hash".into(), Value::String(hash.clone()));
                }
                let ip = format!("10.244.{}.{}", next_ip / 250, next_ip % 250 + 2);
                next_ip += 1;
                pods.push(json!({
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": format!("{name}-{hash}-{}", suffix(&format!("{ns}/{name}/{i}"), 5)),
                        "namespace": ns,
                        "labels": labels,
                        "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or_else(|| json!({})),
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                             "name": format!("{name}-{hash}"), "controller": true}],
                    },
                    "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
                    "status": {
                        "phase": "Running",
                        "podIP": ip,
                        "conditions": [{"type": "Ready", "status": "True"}],
                    },
                }));
            }
        }
        out.push(obj);
    }
    if !have_ns {
        out.push(json!({"apiVersion": "v1", "kind": "Namespace",
                        "metadata": {"name": namespace, "labels": {"istio-injection": "enabled"}}}));
    }
    out.extend(pods);
    out
}

/// [`with_ready_pods`] and build the snapshot.
pub fn snapshot_with_ready_pods(objects: Vec<Value>, namespace: &str) -> MeshSnapshot {
    MeshSnapshot::from_objects(with_ready_pods(objects, namespace))
}

/// Bookinfo (Istio's manifests) in namespace `demo` plus the named files from
/// `tests/fixtures/istio/bookinfo/networking/` (DestinationRules are always included).
#[cfg(test)]
pub(crate) fn bookinfo_snapshot(networking: &[&str]) -> MeshSnapshot {
    let mut objs = objects_from_yaml(include_str!(
        "../../tests/fixtures/istio/bookinfo/platform/kube/bookinfo.yaml"
    ));
    objs.extend(objects_from_yaml(include_str!(
        "../../tests/fixtures/istio/bookinfo/networking/destination-rule-all.yaml"
    )));
    for name in networking {
        let text = match *name {
            "bookinfo-gateway.yaml" => {
                include_str!("../../tests/fixtures/istio/bookinfo/networking/bookinfo-gateway.yaml")
            }
            "virtual-service-reviews-test-v2.yaml" => {
                include_str!(
                    "../../tests/fixtures/istio/bookinfo/networking/virtual-service-reviews-test-v2.yaml"
                )
            }
            "virtual-service-reviews-80-20.yaml" => {
                include_str!(
                    "../../tests/fixtures/istio/bookinfo/networking/virtual-service-reviews-80-20.yaml"
                )
            }
            "virtual-service-all-v1.yaml" => {
                include_str!(
                    "../../tests/fixtures/istio/bookinfo/networking/virtual-service-all-v1.yaml"
                )
            }
            other => panic!("fixture {other} not wired into bookinfo_snapshot"),
        };
        objs.extend(objects_from_yaml(text));
    }
    snapshot_with_ready_pods(objs, "demo")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookinfo_pods_look_like_replicaset_pods() {
        let snap = bookinfo_snapshot(&[]);
        assert_eq!(snap.pods.len(), 6);
        assert!(snap.pods.iter().all(|p| p.ready && p.sidecar));
        let workloads: Vec<&str> = snap.pods.iter().map(|p| p.workload.as_str()).collect();
        for w in [
            "details-v1",
            "productpage-v1",
            "ratings-v1",
            "reviews-v1",
            "reviews-v2",
            "reviews-v3",
        ] {
            assert!(workloads.contains(&w), "{w} in {workloads:?}");
        }
        assert_eq!(snap.services.len(), 4);
    }
}
