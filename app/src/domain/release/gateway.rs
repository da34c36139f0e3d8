//! A release on Gateway API: an HTTPRoute attached to the component's Service (GAMMA,
//! Gateway API's mesh support: `parentRefs` names the Service), whose rules send traffic to
//! one Service per version (`reviews-v1`, `reviews-v2`: the component's ports and selector
//! plus the `version` label) with weighted `backendRefs`. Request content becomes an
//! `HTTPRouteMatch`, mirroring the `RequestMirror` filter with a percentage. Istio reports
//! the traffic under the per-version Services' names, which is why
//! [`super::ReleaseSpec::metric_services`] names them. Pure, like [`super::render`].

use serde_json::{Map, Value, json};

use super::ReleaseSpec;
use super::render::{MANAGED_BY, Plan, RELEASE_LABEL, plan};
use super::rules::{ContentRule, MatchOp, RuleKind, cookie_regex, escape_regex, user_agent_regex};
use super::weights::Held;

pub const API_VERSION: &str = "gateway.networking.k8s.io/v1";
/// On a per-version Service: the component it is a version of.
pub const VERSION_OF_LABEL: &str = "sluice.dev/version-of";

/// The Service port the route attaches to and sends to: the component's first port.
pub fn route_port(service: &Value) -> Option<u64> {
    service["spec"]["ports"][0]["port"].as_u64()
}

fn labels(job: &str) -> Map<String, Value> {
    let mut l = Map::new();
    l.insert(MANAGED_BY.0.into(), json!(MANAGED_BY.1));
    l.insert(RELEASE_LABEL.into(), json!(job));
    l
}

/// The Service of one version: the component's ports, its selector plus `version`.
pub fn version_service(
    spec: &ReleaseSpec,
    version: &str,
    job: &str,
    namespace: &str,
    service: &Value,
) -> Value {
    let mut selector = service["spec"]["selector"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    selector.insert("version".into(), json!(version));
    let mut labels = labels(job);
    if let Some(app) = service["metadata"]["labels"]["app"].as_str() {
        labels.insert("app".into(), json!(app));
    }
    labels.insert("version".into(), json!(version));
    labels.insert(VERSION_OF_LABEL.into(), json!(spec.component));
    let ports: Vec<Value> = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let mut out = Map::new();
            for k in ["name", "port", "targetPort", "protocol", "appProtocol"] {
                if let Some(v) = p.get(k).filter(|v| !v.is_null()) {
                    out.insert(k.into(), v.clone());
                }
            }
            Value::Object(out)
        })
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.version_service(version), "namespace": namespace, "labels": labels},
        "spec": {"selector": selector, "ports": ports},
    })
}

fn backend(spec: &ReleaseSpec, version: &str, port: Option<u64>) -> Value {
    let mut b = json!({"name": spec.version_service(version)});
    if let Some(p) = port {
        b["port"] = json!(p);
    }
    b
}

fn weighted(spec: &ReleaseSpec, shares: &[u8], port: Option<u64>) -> Value {
    spec.versions()
        .into_iter()
        .zip(shares)
        .map(|(version, weight)| {
            let mut b = backend(spec, version, port);
            b["weight"] = json!(weight);
            b
        })
        .collect()
}

fn route_object(
    spec: &ReleaseSpec,
    job: &str,
    namespace: &str,
    port: Option<u64>,
    rules: Value,
) -> Value {
    let mut parent = json!({"group": "", "kind": "Service", "name": spec.component});
    if let Some(p) = port {
        parent["port"] = json!(p);
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": "HTTPRoute",
        "metadata": {"name": spec.route_name(), "namespace": namespace, "labels": labels(job)},
        "spec": {"parentRefs": [parent], "rules": rules},
    })
}

/// The HTTPRoute for the strategy, given the pods ready on each version (card order), with
/// every version's share.
pub fn http_route(
    spec: &ReleaseSpec,
    job: &str,
    namespace: &str,
    service: &Value,
    ready: &[i32],
) -> (Value, Vec<u8>, Option<Held>) {
    let (plan, shares, held) = plan(spec, ready);
    let split = &shares;
    let port = route_port(service);
    let rules = match plan {
        Plan::MatchedToNew(rules) => json!([
            {"name": "matched-to-new", "matches": [to_route_match(rules)],
             "backendRefs": [backend(spec, &spec.new_version, port)]},
            {"name": "everyone-else", "backendRefs": weighted(spec, split, port)},
        ]),
        Plan::Mirror(percent) => json!([{
            "backendRefs": weighted(spec, split, port),
            "filters": [{"type": "RequestMirror", "requestMirror": {
                "backendRef": backend(spec, &spec.new_version, port),
                "percent": percent,
            }}],
        }]),
        Plan::Weighted => json!([{"backendRefs": weighted(spec, split, port)}]),
    };
    (
        route_object(spec, job, namespace, port, rules),
        shares,
        held,
    )
}

/// All traffic to `version`'s Service, after Job Offline.
pub fn survivor_route(
    spec: &ReleaseSpec,
    version: &str,
    job: &str,
    namespace: &str,
    service: &Value,
) -> Value {
    let port = route_port(service);
    let mut b = backend(spec, version, port);
    b["weight"] = json!(100);
    route_object(spec, job, namespace, port, json!([{"backendRefs": [b]}]))
}

fn value_match(op: MatchOp, name: &str, value: &str) -> Value {
    match op {
        MatchOp::Exact => json!({"type": "Exact", "name": name, "value": value}),
        MatchOp::Prefix => {
            json!({"type": "RegularExpression", "name": name, "value": format!("{}.*", escape_regex(value))})
        }
        MatchOp::Regex => json!({"type": "RegularExpression", "name": name, "value": value}),
    }
}

/// A path Gateway API accepts as `Exact` (its CRD refuses `//`, `/./`, `/../`, `%2f`, `#`
/// and paths not starting with `/`); anything else is matched as the equivalent regex.
fn plain_path(p: &str) -> bool {
    let lower = p.to_ascii_lowercase();
    p.starts_with('/')
        && !["//", "/./", "/../", "%2f", "%2e", "#"]
            .iter()
            .any(|bad| lower.contains(bad))
        && !p.ends_with("/..")
        && !p.ends_with("/.")
}

/// The single `HTTPRouteMatch` (all rules must hold) for a rule set: the same requests as
/// the VirtualService's [`super::rules::to_match`]. Regexes are RE2, matched against the
/// whole value (as Istio configures Envoy).
pub fn to_route_match(rules: &[ContentRule]) -> Value {
    let mut m = Map::new();
    let mut headers = Vec::new();
    let mut query = Vec::new();
    let (mut oses, mut browsers) = (Vec::new(), Vec::new());
    for r in rules {
        match &r.kind {
            RuleKind::Header { name } => {
                headers.push(value_match(r.op, &name.to_ascii_lowercase(), &r.value));
            }
            RuleKind::Cookie { name } => headers.push(json!({
                "type": "RegularExpression", "name": "cookie",
                "value": cookie_regex(name, r.op, &r.value),
            })),
            RuleKind::Uri => {
                let path = match r.op {
                    MatchOp::Exact if plain_path(&r.value) => {
                        json!({"type": "Exact", "value": r.value})
                    }
                    MatchOp::Exact => {
                        json!({"type": "RegularExpression", "value": escape_regex(&r.value)})
                    }
                    MatchOp::Prefix => json!({"type": "RegularExpression",
                                              "value": format!("{}.*", escape_regex(&r.value))}),
                    MatchOp::Regex => json!({"type": "RegularExpression", "value": r.value}),
                };
                m.insert("path".into(), path);
            }
            RuleKind::Query { name } => query.push(value_match(r.op, name, &r.value)),
            RuleKind::Os { values } => oses.extend(values.iter().copied()),
            RuleKind::Browser { values } => browsers.extend(values.iter().copied()),
        }
    }
    if let Some(ua) = user_agent_regex(&oses, &browsers) {
        headers.push(json!({"type": "RegularExpression", "name": "user-agent", "value": ua}));
    }
    if !headers.is_empty() {
        m.insert("headers".into(), Value::Array(headers));
    }
    if !query.is_empty() {
        m.insert("queryParams".into(), Value::Array(query));
    }
    Value::Object(m)
}

/// An HTTPRoute release of a component one HTTPRoute is attached to already writes that
/// route (made the console's with a label first), rather than a second one Gateway API
/// would merge with it. Jobs that name their route keep it.
pub fn adopt_attached_route(spec: &mut ReleaseSpec, attached: &[String]) {
    if spec.routing == super::Routing::HttpRoute
        && spec.http_route.is_none()
        && let [only] = attached
    {
        spec.http_route = Some(only.clone());
    }
}

/// A name Gateway API accepts for a header or query parameter match.
pub fn match_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// (backend Service, weight) of the ordinary traffic: the last rule, the one without
/// matches. Weight 1 when absent, as Gateway API defaults it.
pub fn weights(route_spec: &Value) -> Option<Vec<(String, i64)>> {
    let last = route_spec["rules"].as_array()?.last()?;
    let refs = last["backendRefs"].as_array()?;
    let total: i64 = refs.iter().map(|b| b["weight"].as_i64().unwrap_or(1)).sum();
    Some(
        refs.iter()
            .map(|b| {
                let w = b["weight"].as_i64().unwrap_or(1);
                let pct = if total > 0 { w * 100 / total } else { 0 };
                (b["name"].as_str().unwrap_or_default().to_string(), pct)
            })
            .filter(|(_, w)| *w > 0)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::rules::{Browser, Os};
    use super::super::{Routing, Side, Strategy};
    use super::*;

    fn spec(strategy: Strategy) -> ReleaseSpec {
        ReleaseSpec {
            component: "reviews".into(),
            base_workload: "reviews-v1".into(),
            base_version: "v1".into(),
            new_version: "v2".into(),
            image: "kubesphere/examples-bookinfo-reviews-v2:1.13.0".into(),
            replicas: 1,
            strategy,
            taken_over_by: None,
            creator: None,
            analysis: None,
            routing: Routing::HttpRoute,
            also_serving: Vec::new(),
            http_route: None,
        }
    }

    /// Bookinfo's reviews Service, as the API server returns it.
    fn service() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "reviews", "namespace": "demo", "uid": "u",
                         "labels": {"app": "reviews", "service": "reviews"}},
            "spec": {"clusterIP": "10.0.0.7", "type": "ClusterIP",
                     "selector": {"app": "reviews"},
                     "ports": [{"name": "http", "port": 9080, "protocol": "TCP", "targetPort": 9080}]}
        })
    }

    #[test]
    fn each_version_gets_a_service_with_the_components_ports_and_its_version() {
        let s = version_service(
            &spec(Strategy::TrafficRatio { new_percent: 0 }),
            "v2",
            "job",
            "demo",
            &service(),
        );
        assert_eq!(s["metadata"]["name"], "reviews-v2");
        assert_eq!(
            s["spec"]["selector"],
            json!({"app": "reviews", "version": "v2"})
        );
        assert_eq!(
            s["spec"]["ports"],
            json!([{"name": "http", "port": 9080, "protocol": "TCP", "targetPort": 9080}])
        );
        assert!(
            s["spec"].get("clusterIP").is_none(),
            "the API server allocates its own"
        );
        assert_eq!(s["metadata"]["labels"][MANAGED_BY.0], "sluice");
        assert_eq!(s["metadata"]["labels"][RELEASE_LABEL], "job");
        assert_eq!(s["metadata"]["labels"][VERSION_OF_LABEL], "reviews");
    }

    #[test]
    fn traffic_ratio_weights_the_per_version_backends_once_the_new_version_is_ready() {
        let s = spec(Strategy::TrafficRatio { new_percent: 30 });
        let (route, split, held) = http_route(&s, "j", "demo", &service(), &[1, 1]);
        assert_eq!((split, held), (vec![70, 30], None));
        assert_eq!(
            route["spec"]["parentRefs"],
            json!([{"group": "", "kind": "Service", "name": "reviews", "port": 9080}])
        );
        assert_eq!(
            route["spec"]["rules"],
            json!([{"backendRefs": [
                {"name": "reviews-v1", "port": 9080, "weight": 70},
                {"name": "reviews-v2", "port": 9080, "weight": 30},
            ]}])
        );
        let (route, split, held) = http_route(&s, "j", "demo", &service(), &[1, 0]);
        assert_eq!((split, held), (vec![100, 0], Some(Held::NewNotReady)));
        assert_eq!(route["spec"]["rules"][0]["backendRefs"][1]["weight"], 0);
    }

    #[test]
    fn request_content_becomes_one_route_match_to_the_new_version() {
        let rule = |kind, op, value: &str| ContentRule {
            kind,
            op,
            value: value.into(),
        };
        let s = spec(Strategy::RequestContent {
            rules: vec![
                rule(
                    RuleKind::Header {
                        name: "End-User".into(),
                    },
                    MatchOp::Exact,
                    "jason",
                ),
                rule(
                    RuleKind::Cookie {
                        name: "group".into(),
                    },
                    MatchOp::Exact,
                    "beta",
                ),
                rule(RuleKind::Uri, MatchOp::Prefix, "/api/v1"),
                rule(
                    RuleKind::Query {
                        name: "canary".into(),
                    },
                    MatchOp::Regex,
                    "yes|true",
                ),
                rule(
                    RuleKind::Os {
                        values: vec![Os::Android],
                    },
                    MatchOp::Exact,
                    "",
                ),
                rule(
                    RuleKind::Browser {
                        values: vec![Browser::Firefox],
                    },
                    MatchOp::Exact,
                    "",
                ),
            ],
        });
        let (route, _, held) = http_route(&s, "j", "demo", &service(), &[1, 1]);
        assert_eq!(held, None);
        let rules = &route["spec"]["rules"];
        assert_eq!(
            rules[0]["backendRefs"],
            json!([{"name": "reviews-v2", "port": 9080}])
        );
        let m = &rules[0]["matches"][0];
        assert_eq!(
            m["headers"][0],
            json!({"type": "Exact", "name": "end-user", "value": "jason"})
        );
        assert_eq!(m["headers"][1]["name"], "cookie");
        assert_eq!(
            m["headers"][1]["value"],
            cookie_regex("group", MatchOp::Exact, "beta")
        );
        assert_eq!(m["headers"][2]["name"], "user-agent");
        assert_eq!(
            m["path"],
            json!({"type": "RegularExpression", "value": "/api/v1.*"})
        );
        assert_eq!(
            m["queryParams"],
            json!([{"type": "RegularExpression", "name": "canary", "value": "yes|true"}])
        );
        assert_eq!(rules[1]["backendRefs"][0]["weight"], 100);
        // Until v2 is ready nobody is matched to it.
        let (route, _, held) = http_route(&s, "j", "demo", &service(), &[1, 0]);
        assert_eq!(held, Some(Held::NewNotReady));
        assert_eq!(route["spec"]["rules"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn exact_paths_gateway_api_would_refuse_become_the_same_regex() {
        let rules = |v: &str| {
            vec![ContentRule {
                kind: RuleKind::Uri,
                op: MatchOp::Exact,
                value: v.into(),
            }]
        };
        assert_eq!(
            to_route_match(&rules("/productpage"))["path"],
            json!({"type": "Exact", "value": "/productpage"})
        );
        assert_eq!(
            to_route_match(&rules("/a//b.c"))["path"],
            json!({"type": "RegularExpression", "value": "/a//b\\.c"})
        );
    }

    #[test]
    fn mirroring_is_a_request_mirror_filter_with_the_percentage() {
        let (route, split, _) = http_route(
            &spec(Strategy::Mirroring { percent: 40 }),
            "j",
            "demo",
            &service(),
            &[1, 1],
        );
        assert_eq!(split, [100, 0]);
        assert_eq!(
            route["spec"]["rules"][0]["filters"],
            json!([{"type": "RequestMirror", "requestMirror": {
                "backendRef": {"name": "reviews-v2", "port": 9080}, "percent": 40}}])
        );
    }

    #[test]
    fn take_over_and_job_offline_send_everything_to_one_version() {
        let mut s = spec(Strategy::TrafficRatio { new_percent: 30 });
        s.taken_over_by = Some(Side::New);
        let (route, split, _) = http_route(&s, "j", "demo", &service(), &[1, 1]);
        assert_eq!(split, [0, 100]);
        assert_eq!(
            weights(&route["spec"]),
            Some(vec![("reviews-v2".to_string(), 100)])
        );
        let survivor = survivor_route(&s, "v2", "j", "demo", &service());
        assert_eq!(
            survivor["spec"]["rules"],
            json!([{"backendRefs": [{"name": "reviews-v2", "port": 9080, "weight": 100}]}])
        );
    }

    #[test]
    fn match_names_follow_gateway_apis_pattern() {
        assert!(match_name_ok("end-user") && match_name_ok("x_b.c"));
        assert!(!match_name_ok("a b") && !match_name_ok("") && !match_name_ok("a:b"));
    }

    #[test]
    fn the_route_attached_to_the_component_is_the_one_written() {
        let mut s = spec(Strategy::TrafficRatio { new_percent: 10 });
        adopt_attached_route(&mut s, &["reviews-split".into()]);
        assert_eq!(s.route_name(), "reviews-split");
        let (route, _, _) = http_route(&s, "j", "demo", &service(), &[1, 1]);
        assert_eq!(route["metadata"]["name"], "reviews-split");
        // Several attached: the checks refuse; none: the component's name.
        let mut s = spec(Strategy::TrafficRatio { new_percent: 10 });
        adopt_attached_route(&mut s, &["a".into(), "b".into()]);
        assert_eq!(s.route_name(), "reviews");
        adopt_attached_route(&mut s, &[]);
        assert_eq!(s.route_name(), "reviews");
    }
}
