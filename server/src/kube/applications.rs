//! Reads for the Applications section: Services, Deployments and their Pods, mapped to the
//! app's [`ServiceInfo`] / [`WorkloadInfo`]. The mapping functions are pure and tested on
//! objects shaped like the API's; grouping into applications is the app's domain logic.

use std::collections::BTreeMap;

use ::kube::Client;
use ::kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use serde_json::Value;
use sluice_app::domain::applications::{
    AppRoute, ApplicationView, EventInfo, IngressEndpoint, MAX_EVENTS, PodInfo, ProjectInventory,
    RoutingObject, ServiceInfo, WorkloadInfo, application_of, selects, visit_url,
};

use super::cluster::project_of;

/// Reads a project's Services, Deployments, Pods and ingress VirtualServices.
pub async fn inventory(
    client: &Client,
    project: &str,
    ingress: Option<&IngressEndpoint>,
) -> Result<ProjectInventory, ::kube::Error> {
    let namespace = Api::<Namespace>::all(client.clone()).get(project).await?;
    let lp = ListParams::default();
    let (services_api, deployments_api, pods_api) = (
        Api::<Service>::namespaced(client.clone(), project),
        Api::<Deployment>::namespaced(client.clone(), project),
        Api::<Pod>::namespaced(client.clone(), project),
    );
    let (services, deployments, pods) = futures::try_join!(
        services_api.list(&lp),
        deployments_api.list(&lp),
        pods_api.list(&lp),
    )?;
    let now = k8s_openapi::jiff::Timestamp::now();
    let services: Vec<ServiceInfo> = services.items.iter().map(service_info).collect();
    let workloads = deployments
        .items
        .iter()
        .map(|d| workload_info(d, &pods.items, now))
        .collect();
    let virtual_services = list_virtual_services(client, project).await?;
    let routes = ingress_routes(&virtual_services, &services, ingress);
    let telemetries =
        list_dynamic(client, project, "telemetry.istio.io", "v1", "Telemetry").await?;
    Ok(ProjectInventory {
        project: project_of(namespace),
        services,
        workloads,
        routes,
        trace_sampling: telemetries.iter().find_map(namespace_sampling),
    })
}

/// VirtualServices of a project; none when Istio's CRDs are not installed (a cluster
/// without Istio has no routes to show, which is not an error).
async fn list_virtual_services(
    client: &Client,
    project: &str,
) -> Result<Vec<Value>, ::kube::Error> {
    list_dynamic(
        client,
        project,
        "networking.istio.io",
        "v1",
        "VirtualService",
    )
    .await
}

/// The sampling percentage of a namespace-wide Telemetry (no selector).
pub fn namespace_sampling(telemetry: &Value) -> Option<u8> {
    let spec = &telemetry["spec"];
    if !spec["selector"].is_null() || !spec["targetRefs"].is_null() {
        return None;
    }
    spec["tracing"]
        .as_array()?
        .iter()
        .find_map(|t| t["randomSamplingPercentage"].as_f64())
        .map(|p| p.clamp(0.0, 100.0).round() as u8)
}

/// Objects of a CRD kind in a project; empty when the CRD is not installed.
pub(crate) async fn list_dynamic(
    client: &Client,
    project: &str,
    group: &str,
    version: &str,
    kind: &str,
) -> Result<Vec<Value>, ::kube::Error> {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), project, &ar);
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(list
            .items
            .into_iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect()),
        Err(::kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Pods, recent events and routing objects of an application.
pub async fn extras(
    client: &Client,
    project: &str,
    view: &ApplicationView,
) -> Result<(Vec<PodInfo>, Vec<EventInfo>, Vec<RoutingObject>), ::kube::Error> {
    let lp = ListParams::default();
    let (pods_api, events_api) = (
        Api::<Pod>::namespaced(client.clone(), project),
        Api::<Event>::namespaced(client.clone(), project),
    );
    let (pods, events) = futures::try_join!(pods_api.list(&lp), events_api.list(&lp))?;
    let now = k8s_openapi::jiff::Timestamp::now();
    let pods: Vec<PodInfo> = pods
        .items
        .iter()
        .filter(|p| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            view.app
                .components
                .iter()
                .any(|c| selects(&c.service.selector, &labels))
        })
        .map(|p| pod_info(p, view, now))
        .collect();
    let events = app_events(&events.items, view, &pods, now);
    let mut routing = Vec::new();
    for (group, version, kind) in [
        ("networking.istio.io", "v1", "VirtualService"),
        ("networking.istio.io", "v1", "DestinationRule"),
        ("networking.istio.io", "v1", "Gateway"),
        ("gateway.networking.k8s.io", "v1", "HTTPRoute"),
    ] {
        for obj in list_dynamic(client, project, group, version, kind).await? {
            routing.push((kind, obj));
        }
    }
    Ok((pods, events, routing_objects(&routing, view)))
}

pub fn pod_info(pod: &Pod, view: &ApplicationView, now: k8s_openapi::jiff::Timestamp) -> PodInfo {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let workload = view
        .app
        .workloads()
        .find(|w| {
            !w.pod_labels.is_empty() && w.pod_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .map(|w| w.name.clone());
    let status = pod.status.clone().unwrap_or_default();
    let statuses = status.container_statuses.clone().unwrap_or_default();
    let containers = pod.spec.as_ref().map(|s| s.containers.len()).unwrap_or(0);
    PodInfo {
        name: pod.metadata.name.clone().unwrap_or_default(),
        workload,
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        ip: status.pod_ip.clone(),
        phase: status.phase.clone().unwrap_or_else(|| "Pending".into()),
        ready: format!(
            "{}/{}",
            statuses.iter().filter(|c| c.ready).count(),
            containers
        ),
        restarts: restarts(pod),
        sidecar: has_sidecar(pod),
        failure: pod_failure(pod),
        age_seconds: pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| now.as_second() - t.0.as_second()),
    }
}

/// Events about the application's Services, workloads, their ReplicaSets and pods,
/// newest first.
pub fn app_events(
    events: &[Event],
    view: &ApplicationView,
    pods: &[PodInfo],
    now: k8s_openapi::jiff::Timestamp,
) -> Vec<EventInfo> {
    let services: Vec<&str> = view
        .app
        .components
        .iter()
        .map(|c| c.service.name.as_str())
        .collect();
    let workloads: Vec<&str> = view.app.workloads().map(|w| w.name.as_str()).collect();
    let ours = |kind: &str, name: &str| match kind {
        "Service" => services.contains(&name),
        "Deployment" => workloads.contains(&name),
        // ReplicaSets are named <deployment>-<hash>.
        "ReplicaSet" => workloads.iter().any(|w| {
            name.strip_prefix(w)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|hash| !hash.contains('-'))
        }),
        "Pod" => pods.iter().any(|p| p.name == name),
        _ => false,
    };
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
            .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
    };
    let mut matching: Vec<&Event> = events
        .iter()
        .filter(|e| {
            ours(
                e.involved_object.kind.as_deref().unwrap_or_default(),
                e.involved_object.name.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    matching.sort_by_key(|e| std::cmp::Reverse(when(e)));
    matching
        .into_iter()
        .take(MAX_EVENTS)
        .map(|e| EventInfo {
            kind: e.type_.clone().unwrap_or_else(|| "Normal".into()),
            reason: e.reason.clone().unwrap_or_default(),
            object: format!(
                "{}/{}",
                e.involved_object.kind.as_deref().unwrap_or_default(),
                e.involved_object.name.as_deref().unwrap_or_default()
            ),
            message: e.message.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1),
            age_seconds: when(e).map(|t| now.as_second() - t.as_second()),
        })
        .collect()
}

/// The routing objects that mention one of the application's Services (hosts,
/// destinations, backendRefs), plus the Gateways those VirtualServices bind to; as YAML
/// without server-managed noise.
pub fn routing_objects(objects: &[(&str, Value)], view: &ApplicationView) -> Vec<RoutingObject> {
    let services: Vec<&str> = view
        .app
        .components
        .iter()
        .map(|c| c.service.name.as_str())
        .collect();
    let names_service = |host: &str| {
        let short = host.split('.').next().unwrap_or(host);
        services.contains(&short)
    };
    let mentions = |v: &Value| -> bool {
        let mut found = false;
        walk_strings(v, &mut |key, s| {
            if matches!(key, "host" | "hosts" | "name") && names_service(s) {
                found = true;
            }
        });
        found
    };
    let mut picked: Vec<(&str, &Value)> = Vec::new();
    for (kind, obj) in objects {
        let spec = &obj["spec"];
        let relevant = match *kind {
            "VirtualService" | "DestinationRule" => mentions(spec),
            "HTTPRoute" => mentions(&spec["rules"]) || mentions(&spec["parentRefs"]),
            _ => false,
        };
        if relevant {
            picked.push((kind, obj));
        }
    }
    let gateways: Vec<String> = picked
        .iter()
        .filter(|(k, _)| *k == "VirtualService")
        .flat_map(|(_, o)| {
            o["spec"]["gateways"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|g| {
            g.as_str()
                .map(|g| g.rsplit('/').next().unwrap_or(g).to_string())
        })
        .collect();
    for (kind, obj) in objects {
        if *kind == "Gateway"
            && obj["metadata"]["name"]
                .as_str()
                .is_some_and(|n| gateways.iter().any(|g| g == n))
        {
            picked.push((kind, obj));
        }
    }
    picked
        .into_iter()
        .map(|(kind, obj)| {
            let mut clean = obj.clone();
            if let Some(meta) = clean["metadata"].as_object_mut() {
                meta.remove("managedFields");
            }
            RoutingObject {
                kind: kind.to_string(),
                name: obj["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                yaml: serde_yaml::to_string(&clean).unwrap_or_default(),
            }
        })
        .collect()
}

/// Calls `f(key, value)` for every string in `v`, with the nearest object key (array
/// elements inherit their array's key).
fn walk_strings(v: &Value, f: &mut impl FnMut(&str, &str)) {
    fn go(v: &Value, key: &str, f: &mut impl FnMut(&str, &str)) {
        match v {
            Value::String(s) => f(key, s),
            Value::Array(items) => items.iter().for_each(|i| go(i, key, f)),
            Value::Object(map) => map.iter().for_each(|(k, v)| go(v, k, f)),
            _ => {}
        }
    }
    go(v, "", f)
}

/// Routes from VirtualServices bound to an ingress gateway: one per host.
pub fn ingress_routes(
    virtual_services: &[Value],
    services: &[ServiceInfo],
    ingress: Option<&IngressEndpoint>,
) -> Vec<AppRoute> {
    let mut routes = Vec::new();
    for vs in virtual_services {
        let spec = &vs["spec"];
        let gateways: Vec<&str> = spec["gateways"]
            .as_array()
            .map(|g| g.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if gateways.is_empty() || gateways.iter().all(|g| *g == "mesh") {
            continue;
        }
        let first_http = &spec["http"][0];
        let dest = first_http["route"][0]["destination"]["host"]
            .as_str()
            .unwrap_or_default();
        let dest_short = dest.split('.').next().unwrap_or(dest);
        let app = vs["metadata"]["labels"]["app.kubernetes.io/name"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                services
                    .iter()
                    .find(|s| s.name == dest_short)
                    .map(application_of)
            })
            .unwrap_or_else(|| dest_short.to_string());
        let uri = &first_http["match"][0]["uri"];
        let path = uri["exact"]
            .as_str()
            .or_else(|| uri["prefix"].as_str())
            .unwrap_or("/")
            .to_string();
        for host in spec["hosts"].as_array().into_iter().flatten() {
            let Some(host) = host.as_str() else { continue };
            routes.push(AppRoute {
                app: app.clone(),
                host: host.to_string(),
                path: path.clone(),
                url: ingress.map(|i| visit_url(host, &path, i)),
            });
        }
    }
    routes
}

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
    fn ingress_routes_come_from_gateway_bound_virtual_services() {
        let vss = [
            json!({"metadata": {"name": "bookinfo", "labels": {"app.kubernetes.io/name": "bookinfo"}},
                   "spec": {"hosts": ["bookinfo.demo.localhost"], "gateways": ["bookinfo-gateway"],
                            "http": [{"match": [{"uri": {"exact": "/productpage"}}],
                                      "route": [{"destination": {"host": "productpage", "port": {"number": 9080}}}]}]}}),
            // Mesh-internal routing is not a way in.
            json!({"metadata": {"name": "reviews"},
                   "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}}),
        ];
        let ingress = IngressEndpoint {
            scheme: "http".into(),
            address: "127.0.0.1".into(),
            port: 18080,
        };
        let routes = ingress_routes(&vss, &[], Some(&ingress));
        assert_eq!(routes.len(), 1);
        assert_eq!(routes[0].app, "bookinfo");
        assert_eq!(routes[0].path, "/productpage");
        assert_eq!(
            routes[0].url.as_deref(),
            Some("http://bookinfo.demo.localhost:18080/productpage")
        );
        assert_eq!(ingress_routes(&vss, &[], None)[0].url, None);
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
