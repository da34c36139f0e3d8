//! Istio's sidecar injector, as the sandbox's stand-in for its mutating webhook: a pod
//! created in a namespace labelled `istio-injection=enabled`, or itself labelled or
//! annotated `sidecar.istio.io/inject: "true"`, gets an `istio-proxy` container and the
//! labels Istio adds, unless it opts out with `sidecar.istio.io/inject: "false"`. Pods
//! only get a sidecar when they are created, exactly as on a cluster: turning injection
//! on does not change running pods.

use serde_json::{Value, json};

/// The proxy image Istio 1.30 injects.
pub const PROXY_IMAGE: &str = "docker.io/istio/proxyv2:1.30.3";
pub const PROXY_CONTAINER: &str = "istio-proxy";
const INJECT: &str = "sidecar.istio.io/inject";

/// Whether Istio would inject this pod in this namespace.
pub fn wants_sidecar(pod: &Value, namespace: &Value) -> bool {
    let ns_name = namespace["metadata"]["name"].as_str().unwrap_or_default();
    if ns_name == "kube-system" || ns_name == "istio-system" {
        return false;
    }
    let pod_says = pod["metadata"]["annotations"][INJECT]
        .as_str()
        .or_else(|| pod["metadata"]["labels"][INJECT].as_str());
    match pod_says {
        Some("false") => false,
        Some("true") => true,
        _ => {
            let labels = &namespace["metadata"]["labels"];
            labels["istio-injection"].as_str() == Some("enabled")
                || labels["istio.io/rev"].as_str().is_some()
        }
    }
}

/// Adds the sidecar when Istio would; returns whether it did.
pub fn inject_sidecar(pod: &mut Value, namespace: &Value) -> bool {
    if !wants_sidecar(pod, namespace) {
        return false;
    }
    let Some(containers) = pod
        .pointer_mut("/spec/containers")
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    if containers.iter().any(|c| c["name"] == PROXY_CONTAINER) {
        return false;
    }
    containers.push(json!({
        "name": PROXY_CONTAINER,
        "image": PROXY_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"],
        "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "10m", "memory": "40Mi"}},
    }));
    let labels = &pod["metadata"]["labels"];
    let app = labels["app.kubernetes.io/name"]
        .as_str()
        .or_else(|| labels["app"].as_str())
        .unwrap_or_default()
        .to_string();
    let app = labels["app"].as_str().map(str::to_string).unwrap_or(app);
    let version = labels["version"].as_str().unwrap_or("latest").to_string();
    let meta = pod["metadata"].as_object_mut();
    if let Some(meta) = meta {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        labels["security.istio.io/tlsMode"] = json!("istio");
        labels["service.istio.io/canonical-name"] = json!(app);
        labels["service.istio.io/canonical-revision"] = json!(version);
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        annotations["sidecar.istio.io/status"] =
            json!(r#"{"containers":["istio-proxy"],"revision":"default"}"#);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(labels: Value) -> Value {
        json!({"metadata": {"name": "demo-project", "labels": labels}})
    }

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "labels": {"app": "reviews", "version": "v2"}},
               "spec": {"containers": [{"name": "reviews", "image": "r"}]}})
    }

    #[test]
    fn injects_in_labelled_namespaces_with_istio_labels() {
        let mut p = pod();
        assert!(inject_sidecar(
            &mut p,
            &ns(json!({"istio-injection": "enabled"}))
        ));
        let names: Vec<&str> = p["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["reviews", "istio-proxy"]);
        assert_eq!(
            p["metadata"]["labels"]["service.istio.io/canonical-name"],
            "reviews"
        );
        assert_eq!(
            p["metadata"]["labels"]["service.istio.io/canonical-revision"],
            "v2"
        );
        // Never twice.
        assert!(!inject_sidecar(
            &mut p,
            &ns(json!({"istio-injection": "enabled"}))
        ));
    }

    #[test]
    fn respects_opt_in_and_opt_out() {
        assert!(!wants_sidecar(&pod(), &ns(json!({}))));
        let mut opt_out = pod();
        opt_out["metadata"]["annotations"] = json!({INJECT: "false"});
        assert!(!wants_sidecar(
            &opt_out,
            &ns(json!({"istio-injection": "enabled"}))
        ));
        let mut opt_in = pod();
        opt_in["metadata"]["labels"][INJECT] = json!("true");
        assert!(wants_sidecar(&opt_in, &ns(json!({}))));
        let system =
            json!({"metadata": {"name": "kube-system", "labels": {"istio-injection": "enabled"}}});
        assert!(!wants_sidecar(&pod(), &system));
    }
}
