//! Renders a release into the objects the controller applies: the new version's
//! Deployment (a copy of the base with the new image and version), the DestinationRule
//! subsets for both versions, and the VirtualService routes of the strategy, with the
//! readiness rule applied. Pure: the same inputs always give the same objects, so the
//! controller can compare and the YAML preview shows exactly what will be applied.

use serde_json::{Value, json};

use super::rules::to_match;
use super::weights::{Held, Split, effective, requested};
use super::{ReleaseSpec, Strategy};

pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "sluice");
/// Names the job an object belongs to.
pub const RELEASE_LABEL: &str = "sluice.dev/release";

/// What the controller applies for one job, and what it decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub deployment: Value,
    pub destination_rule: Value,
    pub virtual_service: Value,
    /// The split of ordinary traffic actually configured.
    pub split: Split,
    /// Why it differs from the request, if it does.
    pub held: Option<Held>,
}

/// Server-owned metadata a copy must not carry over.
const STRIP_META: [&str; 7] = [
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "ownerReferences",
    "selfLink",
];
const STRIP_ANNOTATIONS: [&str; 2] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
];

/// The new version's Deployment, copied from the base.
pub fn new_deployment(spec: &ReleaseSpec, job: &str, base: &Value) -> Value {
    let mut d = base.clone();
    if let Some(o) = d.as_object_mut() {
        o.remove("status");
    }
    if let Some(meta) = d["metadata"].as_object_mut() {
        for k in STRIP_META {
            meta.remove(k);
        }
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for k in STRIP_ANNOTATIONS {
                a.remove(k);
            }
        }
    }
    d["apiVersion"] = json!("apps/v1");
    d["kind"] = json!("Deployment");
    d["metadata"]["name"] = json!(spec.new_workload());
    let set_version = |labels: &mut Value| {
        if !labels.is_object() {
            *labels = json!({});
        }
        labels["version"] = json!(spec.new_version);
        if labels.get("app.kubernetes.io/version").is_some() {
            labels["app.kubernetes.io/version"] = json!(spec.new_version);
        }
    };
    set_version(&mut d["metadata"]["labels"]);
    d["metadata"]["labels"][MANAGED_BY.0] = json!(MANAGED_BY.1);
    d["metadata"]["labels"][RELEASE_LABEL] = json!(job);
    set_version(&mut d["spec"]["selector"]["matchLabels"]);
    set_version(&mut d["spec"]["template"]["metadata"]["labels"]);
    d["spec"]["replicas"] = json!(spec.replicas);
    if let Some(containers) = d["spec"]["template"]["spec"]["containers"].as_array_mut()
        && let Some(main) = containers.iter_mut().find(|c| c["name"] != "istio-proxy")
    {
        main["image"] = json!(spec.image);
    }
    d
}

fn meta(spec: &ReleaseSpec, job: &str, namespace: &str) -> Value {
    json!({
        "name": spec.component,
        "namespace": namespace,
        "labels": {MANAGED_BY.0: MANAGED_BY.1, RELEASE_LABEL: job},
    })
}

pub fn destination_rule(spec: &ReleaseSpec, job: &str, namespace: &str) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": meta(spec, job, namespace),
        "spec": {
            "host": spec.component,
            "subsets": [
                {"name": spec.base_version, "labels": {"version": spec.base_version}},
                {"name": spec.new_version, "labels": {"version": spec.new_version}},
            ],
        },
    })
}

fn dest(spec: &ReleaseSpec, subset: &str) -> Value {
    json!({"host": spec.component, "subset": subset})
}

fn weighted(spec: &ReleaseSpec, split: Split) -> Value {
    json!([
        {"destination": dest(spec, &spec.base_version), "weight": split.base},
        {"destination": dest(spec, &spec.new_version), "weight": split.new},
    ])
}

/// The VirtualService for the strategy, given the pods ready on each side.
pub fn virtual_service(
    spec: &ReleaseSpec,
    job: &str,
    namespace: &str,
    base_ready: i32,
    new_ready: i32,
) -> (Value, Split, Option<Held>) {
    let (split, held) = effective(
        requested(&spec.strategy, spec.taken_over_by),
        base_ready,
        new_ready,
    );
    let new_is_ready = new_ready > 0;
    let http = match (&spec.strategy, spec.taken_over_by) {
        (Strategy::RequestContent { rules }, None) if new_is_ready => json!([
            {"name": "matched-to-new", "match": [to_match(rules)], "route": [{"destination": dest(spec, &spec.new_version)}]},
            {"name": "everyone-else", "route": weighted(spec, split)},
        ]),
        (Strategy::Mirroring { percent }, None) if new_is_ready => json!([{
            "route": weighted(spec, split),
            "mirror": dest(spec, &spec.new_version),
            "mirrorPercentage": {"value": f64::from((*percent).min(100))},
        }]),
        _ => json!([{"route": weighted(spec, split)}]),
    };
    let held = match (&spec.strategy, spec.taken_over_by) {
        (Strategy::RequestContent { .. } | Strategy::Mirroring { .. }, None) if !new_is_ready => {
            Some(Held::NewNotReady)
        }
        _ => held,
    };
    let vs = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": meta(spec, job, namespace),
        "spec": {"hosts": [spec.component], "http": http},
    });
    (vs, split, held)
}

/// Everything for one job.
pub fn render(
    spec: &ReleaseSpec,
    job: &str,
    namespace: &str,
    base_deployment: &Value,
    base_ready: i32,
    new_ready: i32,
) -> Rendered {
    let (virtual_service, split, held) =
        virtual_service(spec, job, namespace, base_ready, new_ready);
    Rendered {
        deployment: new_deployment(spec, job, base_deployment),
        destination_rule: destination_rule(spec, job, namespace),
        virtual_service,
        split,
        held,
    }
}

/// Plain routing to the one version left after "Job Offline": all traffic to `version`,
/// so the VirtualService keeps working (and stays the console's) without the other.
pub fn survivor_routes(
    component: &str,
    version: &str,
    job: &str,
    namespace: &str,
) -> (Value, Value) {
    let metadata = json!({
        "name": component, "namespace": namespace,
        "labels": {MANAGED_BY.0: MANAGED_BY.1, RELEASE_LABEL: job},
    });
    (
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": metadata,
            "spec": {"host": component, "subsets": [{"name": version, "labels": {"version": version}}]},
        }),
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": metadata,
            "spec": {"hosts": [component], "http": [{"route": [
                {"destination": {"host": component, "subset": version}, "weight": 100}
            ]}]},
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::rules::{ContentRule, MatchOp, RuleKind};
    use super::super::{ReleaseSpec, Side, Strategy};
    use super::*;

    fn spec(strategy: Strategy) -> ReleaseSpec {
        ReleaseSpec {
            component: "reviews".into(),
            base_workload: "reviews-v1".into(),
            base_version: "v1".into(),
            new_version: "v2".into(),
            image: "kubesphere/examples-bookinfo-reviews-v2:1.13.0".into(),
            replicas: 2,
            strategy,
            taken_over_by: None,
            creator: None,
            analysis: None,
        }
    }

    fn base() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "reviews-v1", "namespace": "demo", "uid": "u", "resourceVersion": "7",
                         "labels": {"app": "reviews", "version": "v1", "app.kubernetes.io/version": "v1"},
                         "annotations": {"deployment.kubernetes.io/revision": "3", "keep": "me"}},
            "spec": {"replicas": 1,
                     "selector": {"matchLabels": {"app": "reviews", "version": "v1"}},
                     "template": {"metadata": {"labels": {"app": "reviews", "version": "v1"}},
                                  "spec": {"containers": [
                                      {"name": "reviews", "image": "istio/examples-bookinfo-reviews-v1:1.20.3"},
                                      {"name": "istio-proxy", "image": "proxyv2"}]}}},
            "status": {"readyReplicas": 1}
        })
    }

    #[test]
    fn the_new_deployment_is_a_clean_copy_with_the_new_version_and_image() {
        let d = new_deployment(
            &spec(Strategy::TrafficRatio { new_percent: 50 }),
            "canary-release",
            &base(),
        );
        assert_eq!(d["metadata"]["name"], "reviews-v2");
        assert!(d["metadata"].get("uid").is_none() && d.get("status").is_none());
        assert!(d["metadata"].get("resourceVersion").is_none());
        assert_eq!(d["metadata"]["annotations"], json!({"keep": "me"}));
        assert_eq!(d["metadata"]["labels"]["version"], "v2");
        assert_eq!(d["metadata"]["labels"]["app.kubernetes.io/version"], "v2");
        assert_eq!(d["metadata"]["labels"][RELEASE_LABEL], "canary-release");
        assert_eq!(d["spec"]["selector"]["matchLabels"]["version"], "v2");
        assert_eq!(d["spec"]["template"]["metadata"]["labels"]["version"], "v2");
        assert_eq!(d["spec"]["replicas"], 2);
        let containers = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            containers[0]["image"],
            "kubesphere/examples-bookinfo-reviews-v2:1.13.0"
        );
        assert_eq!(
            containers[1]["image"], "proxyv2",
            "the sidecar is left alone"
        );
    }

    #[test]
    fn traffic_ratio_routes_by_weight_once_the_new_version_is_ready() {
        let s = spec(Strategy::TrafficRatio { new_percent: 30 });
        let (vs, split, held) = virtual_service(&s, "j", "demo", 1, 1);
        assert_eq!((split.base, split.new, held), (70, 30, None));
        assert_eq!(
            vs["spec"]["http"][0]["route"],
            json!([
                {"destination": {"host": "reviews", "subset": "v1"}, "weight": 70},
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 30},
            ])
        );
        // Not ready yet: everything stays on v1, and the job can say why.
        let (vs, split, held) = virtual_service(&s, "j", "demo", 1, 0);
        assert_eq!((split.base, split.new), (100, 0));
        assert_eq!(held, Some(Held::NewNotReady));
        assert_eq!(vs["spec"]["http"][0]["route"][1]["weight"], 0);
    }

    #[test]
    fn request_content_sends_matches_to_the_new_version() {
        let s = spec(Strategy::RequestContent {
            rules: vec![ContentRule {
                kind: RuleKind::Header {
                    name: "end-user".into(),
                },
                op: MatchOp::Exact,
                value: "jason".into(),
            }],
        });
        let (vs, _, held) = virtual_service(&s, "j", "demo", 1, 1);
        assert_eq!(held, None);
        let http = &vs["spec"]["http"];
        assert_eq!(
            http[0]["match"],
            json!([{"headers": {"end-user": {"exact": "jason"}}}])
        );
        assert_eq!(
            http[0]["route"],
            json!([{"destination": {"host": "reviews", "subset": "v2"}}])
        );
        assert_eq!(http[1]["route"][0]["weight"], 100);
        // Until v2 is ready, nobody is matched to it.
        let (vs, _, held) = virtual_service(&s, "j", "demo", 1, 0);
        assert_eq!(held, Some(Held::NewNotReady));
        assert_eq!(vs["spec"]["http"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn mirroring_copies_a_percentage_to_the_new_version() {
        let (vs, split, _) = virtual_service(
            &spec(Strategy::Mirroring { percent: 40 }),
            "j",
            "demo",
            1,
            1,
        );
        assert_eq!(split, Split::ALL_BASE);
        assert_eq!(
            vs["spec"]["http"][0]["mirror"],
            json!({"host": "reviews", "subset": "v2"})
        );
        assert_eq!(
            vs["spec"]["http"][0]["mirrorPercentage"],
            json!({"value": 40.0})
        );
    }

    #[test]
    fn take_over_and_blue_green_send_everything_to_one_side() {
        let mut s = spec(Strategy::TrafficRatio { new_percent: 30 });
        s.taken_over_by = Some(Side::New);
        let (_, split, _) = virtual_service(&s, "j", "demo", 1, 1);
        assert_eq!(split, Split::ALL_NEW);
        let (_, split, _) = virtual_service(
            &spec(Strategy::BlueGreen { serving: Side::New }),
            "j",
            "demo",
            1,
            1,
        );
        assert_eq!(split, Split::ALL_NEW);
    }

    #[test]
    fn destination_rule_has_a_subset_per_version() {
        let dr = destination_rule(
            &spec(Strategy::TrafficRatio { new_percent: 0 }),
            "j",
            "demo",
        );
        assert_eq!(
            dr["spec"]["subsets"],
            json!([{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}}])
        );
        assert_eq!(dr["metadata"]["labels"][MANAGED_BY.0], "sluice");
    }
}
