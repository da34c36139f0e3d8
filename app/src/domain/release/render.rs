//! Renders a release into the objects the controller applies: the new version's
//! Deployment (a copy of the base with the new image and version), and the routing of the
//! job's [`Routing`]: DestinationRule subsets and the strategy's VirtualService routes, or
//! per-version Services and an HTTPRoute ([`super::gateway`]), with the readiness rule
//! applied. Pure: the same inputs always give the same objects, so the controller can
//! compare and the YAML preview shows exactly what will be applied.

use serde_json::{Value, json};

use super::rules::{ContentRule, to_match};
use super::weights::{Held, Split, effective_n, requested};
use super::{ReleaseSpec, Routing, Strategy, gateway};

pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "sluice");
/// Names the job an object belongs to.
pub const RELEASE_LABEL: &str = "sluice.dev/release";

/// What the controller applies for one job, and what it decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub deployment: Value,
    /// The routing objects, in the order they are applied (what is referred to first:
    /// subsets before the routes naming them, Services before the route to them).
    pub routing: Vec<Value>,
    /// The split of ordinary traffic actually configured (base and new).
    pub split: Split,
    /// The other versions' shares (`spec.also_serving`'s order).
    pub others: Vec<u8>,
    /// Why it differs from the request, if it does.
    pub held: Option<Held>,
}

/// What the routing does now, whichever objects say it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plan<'a> {
    /// Ordinary traffic by the split, nothing else.
    Weighted,
    /// Requests matching every rule to the new version; the rest by the split.
    MatchedToNew(&'a [ContentRule]),
    /// The split, and this percentage copied to the new version.
    Mirror(u8),
}

/// Every version's share of ordinary traffic the job asks for, in card order (base, new,
/// then the others): the strategy's split, the others' shares taken from the base's (a
/// Take Over gives them none).
pub fn requested_shares(spec: &ReleaseSpec) -> Vec<u8> {
    let split = requested(&spec.strategy, spec.taken_over_by);
    let mut w = vec![split.base, split.new];
    let others_apply =
        spec.taken_over_by.is_none() && matches!(spec.strategy, Strategy::TrafficRatio { .. });
    for o in &spec.also_serving {
        let p = if others_apply { o.percent.min(w[0]) } else { 0 };
        w[0] -= p;
        w.push(p);
    }
    w
}

/// The plan for a job given the pods ready on each version (card order; a version not
/// given counts as ready): the shares it asks for, held where a version has no ready
/// pod, and no matched or mirrored traffic to a new version that cannot answer. The
/// shares are in card order and sum to 100.
pub fn plan<'a>(spec: &'a ReleaseSpec, ready: &[i32]) -> (Plan<'a>, Vec<u8>, Option<Held>) {
    let asked = requested_shares(spec);
    let ready: Vec<i32> = (0..asked.len())
        .map(|i| ready.get(i).copied().unwrap_or(1))
        .collect();
    let (shares, held) = effective_n(&asked, &ready);
    let new_is_ready = ready[1] > 0;
    let plan = match (&spec.strategy, spec.taken_over_by) {
        (Strategy::RequestContent { rules }, None) if new_is_ready => Plan::MatchedToNew(rules),
        (Strategy::Mirroring { percent }, None) if new_is_ready => {
            Plan::Mirror((*percent).min(100))
        }
        _ => Plan::Weighted,
    };
    let held = match (&spec.strategy, spec.taken_over_by) {
        (Strategy::RequestContent { .. } | Strategy::Mirroring { .. }, None) if !new_is_ready => {
            Some(Held::NewNotReady)
        }
        _ => held,
    };
    (plan, shares, held)
}

/// The base's and the new version's shares.
pub fn split_of(shares: &[u8]) -> Split {
    Split {
        base: shares.first().copied().unwrap_or(100),
        new: shares.get(1).copied().unwrap_or(0),
    }
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
            "subsets": spec
                .versions()
                .into_iter()
                .map(|v| json!({"name": v, "labels": {"version": v}}))
                .collect::<Vec<_>>(),
        },
    })
}

fn dest(spec: &ReleaseSpec, subset: &str) -> Value {
    json!({"host": spec.component, "subset": subset})
}

fn weighted(spec: &ReleaseSpec, shares: &[u8]) -> Value {
    spec.versions()
        .into_iter()
        .zip(shares)
        .map(|(v, w)| json!({"destination": dest(spec, v), "weight": w}))
        .collect()
}

/// The VirtualService for the strategy, given the pods ready on each version (card order),
/// with every version's share.
pub fn virtual_service(
    spec: &ReleaseSpec,
    job: &str,
    namespace: &str,
    ready: &[i32],
) -> (Value, Vec<u8>, Option<Held>) {
    let (plan, shares, held) = plan(spec, ready);
    let split = &shares;
    let http = match plan {
        Plan::MatchedToNew(rules) => json!([
            {"name": "matched-to-new", "match": [to_match(rules)], "route": [{"destination": dest(spec, &spec.new_version)}]},
            {"name": "everyone-else", "route": weighted(spec, split)},
        ]),
        Plan::Mirror(percent) => json!([{
            "route": weighted(spec, split),
            "mirror": dest(spec, &spec.new_version),
            "mirrorPercentage": {"value": f64::from(percent)},
        }]),
        Plan::Weighted => json!([{"route": weighted(spec, split)}]),
    };
    let vs = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": meta(spec, job, namespace),
        "spec": {"hosts": [spec.component], "http": http},
    });
    (vs, shares, held)
}

/// Everything for one job. `service` is the component's Service as the API returns it
/// (an HTTPRoute release copies its ports and selector into the per-version Services),
/// `route` the job's HTTPRoute as the cluster holds it (`null` when none);
/// `ready` the ready pods of each version, in card order.
pub fn render(
    spec: &ReleaseSpec,
    job: &str,
    namespace: &str,
    base_deployment: &Value,
    service: &Value,
    route: &Value,
    ready: &[i32],
) -> Rendered {
    let (routing, shares, held) = match spec.routing {
        Routing::VirtualService => {
            let (vs, shares, held) = virtual_service(spec, job, namespace, ready);
            (
                vec![destination_rule(spec, job, namespace), vs],
                shares,
                held,
            )
        }
        Routing::HttpRoute => {
            let (route, shares, held) =
                gateway::http_route(spec, job, namespace, service, route, ready);
            let mut objects: Vec<Value> = spec
                .versions()
                .into_iter()
                .map(|v| gateway::version_service(spec, v, job, namespace, service))
                .collect();
            objects.push(route);
            (objects, shares, held)
        }
    };
    Rendered {
        deployment: new_deployment(spec, job, base_deployment),
        routing,
        split: split_of(&shares),
        others: shares.get(2..).unwrap_or_default().to_vec(),
        held,
    }
}

/// Plain routing to the one version left after "Job Offline": all traffic to `version`,
/// so the routing keeps working (and stays the console's) without the other, in the order
/// it is applied.
pub fn survivor_routes(
    spec: &ReleaseSpec,
    version: &str,
    job: &str,
    namespace: &str,
    service: &Value,
    route: &Value,
) -> Vec<Value> {
    let component = spec.component.as_str();
    match spec.routing {
        Routing::HttpRoute => vec![
            gateway::version_service(spec, version, job, namespace, service),
            gateway::survivor_route(spec, version, job, namespace, service, route),
        ],
        Routing::VirtualService => {
            let metadata = json!({
                "name": component, "namespace": namespace,
                "labels": {MANAGED_BY.0: MANAGED_BY.1, RELEASE_LABEL: job},
            });
            vec![
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
            ]
        }
    }
}

/// (kind, name) of every routing object a job of this spec may write, in the order they
/// are applied; deleted in reverse.
pub fn routing_objects(spec: &ReleaseSpec) -> Vec<(&'static str, String)> {
    match spec.routing {
        Routing::VirtualService => vec![
            ("DestinationRule", spec.component.clone()),
            ("VirtualService", spec.component.clone()),
        ],
        Routing::HttpRoute => spec
            .versions()
            .into_iter()
            .map(|v| ("Service", spec.version_service(v)))
            .chain([("HTTPRoute", spec.route_name().to_string())])
            .collect(),
    }
}

/// On every routing object the controller writes: a digest of the spec it wrote last, so
/// it can tell its own change (a digest that differs) from fields the API server added.
pub const APPLIED_ANNOTATION: &str = "sluice.dev/applied-spec";

/// A stable digest of a JSON value (FNV-1a over its compact text; serde_json keeps object
/// keys sorted, so equal values give equal text).
pub fn digest(v: &Value) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in v.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Does `actual` say everything `desired` says? Every field of `desired` is in `actual`
/// with the same value (numbers by value, so `50` and `50.0` agree), arrays element by
/// element with the same length. Fields the API server adds (defaults, a Service's
/// cluster IP) do not count as a difference.
pub fn covers(actual: &Value, desired: &Value) -> bool {
    match (actual, desired) {
        (Value::Object(a), Value::Object(d)) => d
            .iter()
            .all(|(k, dv)| a.get(k).is_some_and(|av| covers(av, dv)) || dv.is_null()),
        (Value::Array(a), Value::Array(d)) => {
            a.len() == d.len() && a.iter().zip(d).all(|(av, dv)| covers(av, dv))
        }
        (Value::Number(a), Value::Number(d)) => a.as_f64() == d.as_f64(),
        _ => actual == desired,
    }
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
            routing: Default::default(),
            also_serving: Vec::new(),
            http_route: None,
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
        let (vs, shares, held) = virtual_service(&s, "j", "demo", &[1, 1]);
        assert_eq!((shares, held), (vec![70, 30], None));
        assert_eq!(
            vs["spec"]["http"][0]["route"],
            json!([
                {"destination": {"host": "reviews", "subset": "v1"}, "weight": 70},
                {"destination": {"host": "reviews", "subset": "v2"}, "weight": 30},
            ])
        );
        // Not ready yet: everything stays on v1, and the job can say why.
        let (vs, shares, held) = virtual_service(&s, "j", "demo", &[1, 0]);
        assert_eq!(shares, [100, 0]);
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
        let (vs, _, held) = virtual_service(&s, "j", "demo", &[1, 1]);
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
        let (vs, _, held) = virtual_service(&s, "j", "demo", &[1, 0]);
        assert_eq!(held, Some(Held::NewNotReady));
        assert_eq!(vs["spec"]["http"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn mirroring_copies_a_percentage_to_the_new_version() {
        let (vs, split, _) = virtual_service(
            &spec(Strategy::Mirroring { percent: 40 }),
            "j",
            "demo",
            &[1, 1],
        );
        assert_eq!(split_of(&split), Split::ALL_BASE);
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
        let (_, split, _) = virtual_service(&s, "j", "demo", &[1, 1]);
        assert_eq!(split_of(&split), Split::ALL_NEW);
        let (_, split, _) = virtual_service(
            &spec(Strategy::BlueGreen { serving: Side::New }),
            "j",
            "demo",
            &[1, 1],
        );
        assert_eq!(split_of(&split), Split::ALL_NEW);
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

    #[test]
    fn covers_ignores_what_the_api_server_adds_but_not_a_changed_value() {
        let desired = json!({"rules": [{"backendRefs": [{"name": "reviews-v1", "weight": 50}]}]});
        let defaulted = json!({"rules": [{"backendRefs": [
            {"group": "", "kind": "Service", "name": "reviews-v1", "weight": 50.0}],
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}]});
        assert!(covers(&defaulted, &desired));
        let edited = json!({"rules": [{"backendRefs": [{"name": "reviews-v1", "weight": 80}]}]});
        assert!(!covers(&edited, &desired));
        let more = json!({"rules": [{"backendRefs": [{"name": "reviews-v1", "weight": 50}]}, {}]});
        assert!(
            !covers(&more, &desired),
            "a rule added by hand is a difference"
        );
    }

    #[test]
    fn the_digest_tells_specs_apart_and_is_stable() {
        let a = json!({"hosts": ["reviews"], "http": [{"mirror": {"host": "reviews"}}]});
        let b = json!({"hosts": ["reviews"], "http": [{}]});
        assert_eq!(digest(&a), digest(&a.clone()));
        assert_ne!(digest(&a), digest(&b));
        // Pinned: a digest must not change between builds, or every object is rewritten.
        assert_eq!(digest(&json!({})), "08f44b07b5901a25");
    }

    #[test]
    fn an_n_way_split_routes_every_version_and_skips_one_without_ready_pods() {
        let mut s = spec(Strategy::TrafficRatio { new_percent: 20 });
        s.also_serving = vec![super::super::OtherVersion {
            version: "v3".into(),
            workload: "reviews-v3".into(),
            percent: 30,
        }];
        let (vs, shares, held) = virtual_service(&s, "j", "demo", &[1, 1, 1]);
        assert_eq!((shares, held), (vec![50, 20, 30], None));
        assert_eq!(
            vs["spec"]["http"][0]["route"][2],
            json!({"destination": {"host": "reviews", "subset": "v3"}, "weight": 30})
        );
        assert_eq!(
            destination_rule(&s, "j", "demo")["spec"]["subsets"][2]["name"],
            "v3"
        );
        let (_, shares, _) = virtual_service(&s, "j", "demo", &[1, 1, 0]);
        assert_eq!(
            shares,
            [80, 20, 0],
            "v3 has no ready pod: v1 serves its share"
        );
        // Take Over: the others get nothing.
        s.taken_over_by = Some(Side::New);
        let (_, shares, _) = virtual_service(&s, "j", "demo", &[1, 1, 1]);
        assert_eq!(shares, [0, 100, 0]);
        s.taken_over_by = None;
        s.routing = Routing::HttpRoute;
        assert_eq!(
            routing_objects(&s),
            [
                ("Service", "reviews-v1".to_string()),
                ("Service", "reviews-v2".to_string()),
                ("Service", "reviews-v3".to_string()),
                ("HTTPRoute", "reviews".to_string()),
            ]
        );
    }
}
