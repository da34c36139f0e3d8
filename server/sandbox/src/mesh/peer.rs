//! The identity of a proxy (sidecar or gateway) as Istio's telemetry describes it.
//!
//! Metrics labels (`source_workload`, `destination_canonical_revision`, ...), span
//! processes (`reviews.demo`, `hostname`, `ip`) and the `node_id` tag all derive from the
//! same few facts about a pod. Computing them once per snapshot and sharing them behind
//! an `Arc` keeps every hop cheap and keeps stored traces meaningful after the pod is
//! gone (a trace remembers the pod that served it).

use super::snapshot::{MeshSnapshot, Pod};

/// Istio's default cluster name (`global.multiCluster.clusterName`).
pub const CLUSTER_NAME: &str = "Kubernetes";
/// Istio's default trust domain, also the default mesh id.
pub const TRUST_DOMAIN: &str = "cluster.local";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// A workload's sidecar (`sidecar~...` node ids).
    Sidecar,
    /// A gateway (`router~...` node ids).
    Router,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub workload: String,
    pub namespace: String,
    /// `app` label, `unknown` when absent.
    pub app: String,
    /// `version` label, `unknown` when absent.
    pub version: String,
    pub canonical_service: String,
    pub canonical_revision: String,
    /// SPIFFE identity from the service account.
    pub principal: String,
    pub pod_name: String,
    pub pod_ip: String,
    /// A proxy runs there (sidecar injected, or a gateway).
    pub has_proxy: bool,
    pub kind: ProxyKind,
}

impl Peer {
    /// Envoy's node id, which names the pod: `sidecar~10.1.2.3~pod.ns~ns.svc.cluster.local`.
    pub fn node_id(&self) -> String {
        let kind = match self.kind {
            ProxyKind::Sidecar => "sidecar",
            ProxyKind::Router => "router",
        };
        format!(
            "{kind}~{}~{}.{}~{}.svc.cluster.local",
            self.pod_ip, self.pod_name, self.namespace, self.namespace
        )
    }

    /// The Jaeger service name Istio's proxies report: `<canonical service>.<namespace>`.
    pub fn service_name(&self) -> String {
        format!("{}.{}", self.canonical_service, self.namespace)
    }

    pub fn from_pod(pod: &Pod) -> Peer {
        let l = &pod.meta.labels;
        let first = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| l.get(*k).filter(|v| !v.is_empty()))
                .cloned()
        };
        Peer {
            workload: pod.workload.clone(),
            namespace: pod.meta.namespace.clone(),
            app: first(&["app"]).unwrap_or_else(|| "unknown".into()),
            version: first(&["version"]).unwrap_or_else(|| "unknown".into()),
            canonical_service: first(&[
                "service.istio.io/canonical-name",
                "app.kubernetes.io/name",
                "app",
            ])
            .unwrap_or_else(|| pod.workload.clone()),
            canonical_revision: first(&[
                "service.istio.io/canonical-revision",
                "app.kubernetes.io/version",
                "version",
            ])
            .unwrap_or_else(|| "latest".into()),
            principal: principal(&pod.meta.namespace, &pod.service_account),
            pod_name: pod.meta.name.clone(),
            pod_ip: pod.ip.clone(),
            has_proxy: pod.sidecar,
            kind: if l.contains_key("istio")
                || l.contains_key("gateway.networking.k8s.io/gateway-name")
            {
                ProxyKind::Router
            } else {
                ProxyKind::Sidecar
            },
        }
    }

    /// The ingress gateway serving Istio `Gateway` objects: a pod labelled
    /// `istio=ingressgateway` when the snapshot has one, else the identity a default
    /// Istio install would give it (`istio-ingressgateway` in `istio-system`).
    pub fn istio_ingress(snap: &MeshSnapshot) -> Peer {
        if let Some(p) = snap
            .pods
            .iter()
            .find(|p| p.meta.labels.get("istio").map(String::as_str) == Some("ingressgateway"))
        {
            let mut peer = Peer::from_pod(p);
            peer.has_proxy = true;
            peer.kind = ProxyKind::Router;
            return peer;
        }
        synthetic_gateway(
            "istio-ingressgateway",
            "istio-system",
            "istio-ingressgateway-service-account",
            "10.244.0.2",
        )
    }

    /// The gateway deployment Istio creates for a Gateway API `Gateway` (`<name>-istio`).
    pub fn kube_gateway(snap: &MeshSnapshot, namespace: &str, name: &str) -> Peer {
        if let Some(p) = snap.pods.iter().find(|p| {
            p.meta.namespace == namespace
                && p.meta
                    .labels
                    .get("gateway.networking.k8s.io/gateway-name")
                    .map(String::as_str)
                    == Some(name)
        }) {
            let mut peer = Peer::from_pod(p);
            peer.has_proxy = true;
            peer.kind = ProxyKind::Router;
            return peer;
        }
        let workload = format!("{name}-istio");
        synthetic_gateway(&workload, namespace, &workload, "10.244.0.3")
    }
}

pub fn principal(namespace: &str, service_account: &str) -> String {
    format!("spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}")
}

fn synthetic_gateway(workload: &str, namespace: &str, sa: &str, ip: &str) -> Peer {
    Peer {
        workload: workload.to_string(),
        namespace: namespace.to_string(),
        app: workload.to_string(),
        version: "unknown".into(),
        canonical_service: workload.to_string(),
        canonical_revision: "latest".into(),
        principal: principal(namespace, sa),
        // A stable made-up pod name in the usual Deployment form.
        pod_name: format!("{workload}-5d8f7c9b6d-sbx01"),
        pod_ip: ip.to_string(),
        has_proxy: true,
        kind: ProxyKind::Router,
    }
}
