//! Reads for the Applications section: Services, Deployments and their Pods, mapped to the
//! app's [`ServiceInfo`] / [`WorkloadInfo`]. The mapping functions are pure and tested on
//! objects shaped like the API's; grouping into applications is the app's domain logic.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use sluice_app::domain::applications::{ServiceInfo, WorkloadInfo, selects};

/// Container waiting reasons that mean the pod will not run without a change.
const FAILING_REASONS: [&str; 6] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// The container Istio's injector adds; native sidecars appear as an init container.
pub const SIDECAR_CONTAINER: &str = "istio-proxy";

pub fn service_info(svc: &Service) -> ServiceInfo {
    let spec = svc.spec.clone().unwrap_or_default();
    ServiceInfo {
        name: svc.metadata.name.clone().unwrap_or_default(),
        labels: svc.metadata.labels.clone().unwrap_or_default(),
        selector: spec.selector.unwrap_or_default(),
        ports: spec
            .ports
            .unwrap_or_default()
            .iter()
            .map(|p| format!("{}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP")))
            .collect(),
    }
}

pub fn has_sidecar(pod: &Pod) -> bool {
    pod.spec.as_ref().is_some_and(|s| {
        s.containers.iter().any(|c| c.name == SIDECAR_CONTAINER)
            || s.init_containers
                .iter()
                .flatten()
                .any(|c| c.name == SIDECAR_CONTAINER)
    })
}

/// Why a pod cannot run, e.g. `ImagePullBackOff: Back-off pulling image "x"`.
pub fn pod_failure(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find_map(|cs| {
        let waiting = cs.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.as_deref()?;
        FAILING_REASONS
            .contains(&reason)
            .then(|| match &waiting.message {
                Some(m) if !m.is_empty() => format!("{reason}: {m}"),
                _ => reason.to_string(),
            })
    })
}

pub fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).sum())
        .unwrap_or(0)
}

/// A Deployment with the pods its selector matches (pods of every ReplicaSet, so a
/// rollout in progress counts both old and new).
pub fn workload_info(
    deploy: &Deployment,
    pods: &[Pod],
    now: k8s_openapi::jiff::Timestamp,
) -> WorkloadInfo {
    let spec = deploy.spec.clone().unwrap_or_default();
    let status = deploy.status.clone().unwrap_or_default();
    let selector: BTreeMap<String, String> = spec.selector.match_labels.unwrap_or_default();
    let template = spec.template;
    let pod_labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let images = template
        .spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .filter(|c| c.name != SIDECAR_CONTAINER)
                .filter_map(|c| c.image.clone())
                .collect()
        })
        .unwrap_or_default();
    let own: Vec<&Pod> = pods
        .iter()
        .filter(|p| {
            selects(
                &selector,
                p.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()),
            )
        })
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    WorkloadInfo {
        name: deploy.metadata.name.clone().unwrap_or_default(),
        pod_labels,
        images,
        desired: spec.replicas.unwrap_or(1),
        ready: status.ready_replicas.unwrap_or(0),
        updated: status.updated_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
        restarts: own.iter().map(|p| restarts(p)).sum(),
        failure: own.iter().find_map(|p| pod_failure(p)),
        pods_with_sidecar: own.iter().filter(|p| has_sidecar(p)).count() as i32,
        pods: own.len() as i32,
        created: deploy
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string()),
        age_seconds: deploy
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| now.as_second() - t.0.as_second()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> k8s_openapi::jiff::Timestamp {
        "2026-11-22T10:05:00Z".parse().unwrap()
    }

    fn deployment(ready: i32) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "reviews-v1", "creationTimestamp": "2026-11-22T10:00:00Z"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "reviews", "version": "v1"}},
                "template": {
                    "metadata": {"labels": {"app": "reviews", "version": "v1"}},
                    "spec": {"containers": [{"name": "reviews", "image": "istio/examples-bookinfo-reviews-v1:1.20.3"}]}
                }
            },
            "status": {"replicas": 2, "readyReplicas": ready, "updatedReplicas": 2, "availableReplicas": ready}
        }))
        .unwrap()
    }

    fn pod(name: &str, sidecar: bool, waiting: Option<&str>, restarts: i32) -> Pod {
        let mut containers = vec![json!({"name": "reviews", "image": "x"})];
        if sidecar {
            containers.push(json!({"name": "istio-proxy", "image": "proxyv2"}));
        }
        let state = match waiting {
            Some(r) => json!({"waiting": {"reason": r, "message": "Back-off pulling image \"x\""}}),
            None => json!({"running": {"startedAt": "2026-11-22T10:00:05Z"}}),
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "reviews", "version": "v1", "pod-template-hash": "abc"}},
            "spec": {"containers": containers},
            "status": {"containerStatuses": [{
                "name": "reviews", "image": "x", "imageID": "", "ready": waiting.is_none(),
                "restartCount": restarts, "state": state
            }]}
        }))
        .unwrap()
    }

    #[test]
    fn a_healthy_workload_counts_its_pods_and_sidecars() {
        let pods = [pod("a", true, None, 1), pod("b", false, None, 2)];
        let w = workload_info(&deployment(2), &pods, now());
        assert_eq!(w.name, "reviews-v1");
        assert_eq!((w.desired, w.ready), (2, 2));
        assert_eq!(w.images, ["istio/examples-bookinfo-reviews-v1:1.20.3"]);
        assert_eq!(w.restarts, 3);
        assert_eq!((w.pods_with_sidecar, w.pods), (1, 2));
        assert!(w.missing_sidecar());
        assert_eq!(w.version(), Some("v1"));
        assert_eq!(w.created.as_deref(), Some("2026-11-22T10:00:00Z"));
        assert_eq!(w.age_seconds, Some(300));
    }

    #[test]
    fn an_unpullable_image_is_a_failure_with_the_reason() {
        let pods = [pod("a", true, Some("ImagePullBackOff"), 0)];
        let w = workload_info(&deployment(0), &pods, now());
        assert_eq!(
            w.failure.as_deref(),
            Some("ImagePullBackOff: Back-off pulling image \"x\"")
        );
        assert_eq!(w.status().label(), "Failed");
    }

    #[test]
    fn pods_of_other_workloads_are_not_counted() {
        let mut other = pod("z", true, Some("CrashLoopBackOff"), 9);
        other.metadata.labels = Some(BTreeMap::from([("app".into(), "ratings".into())]));
        let w = workload_info(&deployment(2), &[other], now());
        assert_eq!((w.pods, w.restarts), (0, 0));
        assert!(w.failure.is_none());
    }

    #[test]
    fn services_keep_selector_and_ports() {
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "reviews", "labels": {"app": "reviews"}},
            "spec": {"selector": {"app": "reviews"}, "ports": [{"port": 9080, "name": "http"}]}
        }))
        .unwrap();
        let s = service_info(&svc);
        assert_eq!(s.ports, ["9080/TCP"]);
        assert_eq!(s.selector.get("app").map(String::as_str), Some("reviews"));
    }
}
