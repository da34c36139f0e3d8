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
/// every version's share. `existing` is the route as the cluster holds it (`null` when
/// there is none): a Gateway's route (north-south) is rewritten in place
/// ([`is_gateway_route`]), anything else is the job's own route attached to the Service.
pub fn http_route(
    spec: &ReleaseSpec,
    job: &str,
    namespace: &str,
    service: &Value,
    existing: &Value,
    ready: &[i32],
) -> (Value, Vec<u8>, Option<Held>) {
    let (plan, shares, held) = plan(spec, ready);
    let split = &shares;
    if is_gateway_route(existing) {
        let route = rewrite_gateway_route(spec, job, existing, service, |port| {
            (weighted(spec, split, port), plan)
        });
        return (route, shares, held);
    }
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

/// All traffic to `version`'s Service, after Job Offline (or when a job is deleted).
pub fn survivor_route(
    spec: &ReleaseSpec,
    version: &str,
    job: &str,
    namespace: &str,
    service: &Value,
    existing: &Value,
) -> Value {
    let only = |port: Option<u64>| {
        let mut b = backend(spec, version, port);
        b["weight"] = json!(100);
        json!([b])
    };
    if is_gateway_route(existing) {
        return rewrite_gateway_route(spec, job, existing, service, |port| {
            (only(port), Plan::Weighted)
        });
    }
    let port = route_port(service);
    route_object(
        spec,
        job,
        namespace,
        port,
        json!([{"backendRefs": only(port)}]),
    )
}

/// A Gateway's route: a `parentRefs` entry is a Gateway (the kind a parentRef has unless
/// it says otherwise).
pub fn is_gateway_route(route: &Value) -> bool {
    route["spec"]["parentRefs"]
        .as_array()
        .is_some_and(|parents| {
            parents.iter().any(|p| {
                p["group"].as_str().unwrap_or("gateway.networking.k8s.io")
                    == "gateway.networking.k8s.io"
                    && p["kind"].as_str().unwrap_or("Gateway") == "Gateway"
            })
        })
}

/// The prefix of the rules a release on a Gateway's route adds (request content).
const MATCHED_RULE: &str = "sluice-matched-to-new";

/// A backendRef to the component or to one of the job's per-version Services.
fn is_ours(spec: &ReleaseSpec, b: &Value) -> bool {
    let core = matches!(b["group"].as_str().unwrap_or(""), "" | "core")
        && b["kind"].as_str().unwrap_or("Service") == "Service";
    let name = b["name"].as_str().unwrap_or_default();
    core && b["namespace"].is_null()
        && (name == spec.component
            || spec
                .versions()
                .into_iter()
                .any(|v| spec.version_service(v) == name))
}

/// A Gateway's route with every rule that sends to the component (or already to its
/// versions) sending to the versions instead, as `backends(port)` says, and the plan's
/// mirror or matched rule added; the route's other rules, parents, hostnames and filters
/// stay as their owner wrote them. Idempotent: rules the release added before are
/// recognised (by name and by their backends) and replaced.
fn rewrite_gateway_route<'a>(
    spec: &'a ReleaseSpec,
    job: &str,
    existing: &Value,
    service: &Value,
    backends: impl Fn(Option<u64>) -> (Value, Plan<'a>),
) -> Value {
    let mut out_rules = Vec::new();
    let rules = existing["spec"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        if rule["name"]
            .as_str()
            .is_some_and(|n| n.starts_with(MATCHED_RULE))
        {
            continue;
        }
        let refs = rule["backendRefs"].as_array().cloned().unwrap_or_default();
        let Some(first) = refs.iter().find(|b| is_ours(spec, b)) else {
            out_rules.push(rule.clone());
            continue;
        };
        let port = first["port"].as_u64().or_else(|| route_port(service));
        let (weighted, plan) = backends(port);
        let mut r = rule.clone();
        // The release's own mirror goes; the owner's filters stay.
        let filters: Vec<Value> = rule["filters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| {
                !(f["type"] == "RequestMirror" && is_ours(spec, &f["requestMirror"]["backendRef"]))
            })
            .cloned()
            .collect();
        let set_filters = |r: &mut Value, f: Vec<Value>| {
            if f.is_empty() {
                if let Some(o) = r.as_object_mut() {
                    o.remove("filters");
                }
            } else {
                r["filters"] = Value::Array(f);
            }
        };
        set_filters(&mut r, filters.clone());
        r["backendRefs"] = weighted;
        match plan {
            Plan::MatchedToNew(content) => {
                let ours = to_route_match(content);
                let matches: Vec<Value> = match rule["matches"].as_array() {
                    Some(ms) if !ms.is_empty() => ms.iter().map(|m| and_match(m, &ours)).collect(),
                    _ => vec![ours],
                };
                let mut m = json!({
                    "name": format!("{MATCHED_RULE}-{i}"),
                    "matches": matches,
                    "backendRefs": [backend(spec, &spec.new_version, port)],
                });
                set_filters(&mut m, filters);
                out_rules.push(m);
            }
            Plan::Mirror(percent) => {
                let mut f = r["filters"].as_array().cloned().unwrap_or_default();
                f.push(json!({"type": "RequestMirror", "requestMirror": {
                    "backendRef": backend(spec, &spec.new_version, port),
                    "percent": percent,
                }}));
                r["filters"] = Value::Array(f);
            }
            Plan::Weighted => {}
        }
        out_rules.push(r);
    }
    let mut labels = existing["metadata"]["labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    labels.extend(self::labels(job));
    let mut route_spec = existing["spec"].clone();
    route_spec["rules"] = Value::Array(out_rules);
    let mut route = json!({
        "apiVersion": API_VERSION,
        "kind": "HTTPRoute",
        "metadata": {
            "name": existing["metadata"]["name"],
            "namespace": existing["metadata"]["namespace"],
            "labels": labels,
        },
        "spec": route_spec,
    });
    // The owner's annotations stay too.
    if let Some(a) = existing["metadata"]["annotations"].as_object() {
        route["metadata"]["annotations"] = Value::Object(a.clone());
    }
    route
}

/// A route match that holds when both do: headers and query parameters of both, the
/// method of the route's, the path of whichever has one (a route rule matching a path
/// and a URI rule cannot both hold in one match: [`gateway_route_problems`] says so).
fn and_match(theirs: &Value, ours: &Value) -> Value {
    let mut m = theirs.clone();
    for key in ["headers", "queryParams"] {
        let mut all = theirs[key].as_array().cloned().unwrap_or_default();
        all.extend(ours[key].as_array().cloned().unwrap_or_default());
        if !all.is_empty() {
            m[key] = Value::Array(all);
        }
    }
    if !ours["path"].is_null() && root_path(&theirs["path"]) {
        m["path"] = ours["path"].clone();
    }
    m
}

/// No path match, or `PathPrefix /` (every path).
fn root_path(path: &Value) -> bool {
    path.is_null()
        || (path["type"].as_str().unwrap_or("PathPrefix") == "PathPrefix"
            && path["value"].as_str().unwrap_or("/") == "/")
}

/// Why the job cannot be released on the Gateway's route `existing`: a rule that sends to
/// the component and to other Services too (the split of its weights would be
/// ambiguous), a URI rule for a rule that already matches a path, or no rule sending to
/// the component at all. Empty for other routes.
pub fn gateway_route_problems(spec: &ReleaseSpec, existing: &Value) -> Vec<String> {
    if !is_gateway_route(existing) {
        return Vec::new();
    }
    let name = existing["metadata"]["name"].as_str().unwrap_or_default();
    let component = &spec.component;
    let mut problems = Vec::new();
    let rules = existing["spec"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ours: Vec<&Value> = rules
        .iter()
        .filter(|r| {
            r["backendRefs"]
                .as_array()
                .is_some_and(|b| b.iter().any(|b| is_ours(spec, b)))
        })
        .collect();
    if ours.is_empty() {
        problems.push(format!(
            "HTTPRoute {name} sends no traffic to Service {component}: name a route with a rule \
             whose backendRefs is {component}."
        ));
    }
    for r in &ours {
        let refs = r["backendRefs"].as_array().cloned().unwrap_or_default();
        if refs.iter().any(|b| !is_ours(spec, b)) {
            problems.push(format!(
                "A rule of HTTPRoute {name} sends to {component} and to other Services too: a \
                 release splits {component}'s share only when the rule sends to {component} \
                 alone. Give {component} a rule of its own."
            ));
            break;
        }
    }
    let uri_rule = matches!(&spec.strategy, super::Strategy::RequestContent { rules }
        if rules.iter().any(|r| r.kind == RuleKind::Uri));
    if uri_rule
        && ours.iter().any(|r| {
            r["matches"]
                .as_array()
                .is_some_and(|ms| ms.iter().any(|m| !root_path(&m["path"])))
        })
    {
        problems.push(format!(
            "HTTPRoute {name} already matches a path for {component}, and a request matches \
             one path at a time: drop the URI rule (the route's path applies), or use a header, \
             cookie or query rule."
        ));
    }
    problems
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
/// would merge with it; with none attached, the one Gateway route that sends to the
/// component (north-south: the traffic users send through the Gateway). Jobs that name
/// their route keep it.
pub fn adopt_attached_route(
    spec: &mut ReleaseSpec,
    attached: &[String],
    gateway_routes: &[String],
) {
    if spec.routing != super::Routing::HttpRoute || spec.http_route.is_some() {
        return;
    }
    match (attached, gateway_routes) {
        ([only], _) | ([], [only]) => spec.http_route = Some(only.clone()),
        _ => {}
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

/// (backend Service, weight) of a release's ordinary traffic: the last rule sending to one
/// of its versions' Services (the one without the release's matches; in a Gateway's route,
/// the owner's rule for the component). Weight 1 when absent, as Gateway API defaults it.
pub fn weights(spec: &ReleaseSpec, route_spec: &Value) -> Option<Vec<(String, i64)>> {
    let services: Vec<String> = spec
        .versions()
        .into_iter()
        .map(|v| spec.version_service(v))
        .collect();
    let last = route_spec["rules"].as_array()?.iter().rev().find(|r| {
        r["backendRefs"].as_array().is_some_and(|b| {
            b.iter()
                .any(|b| services.iter().any(|s| b["name"] == s.as_str()))
        })
    })?;
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

    /// The tutorial's release, on an HTTPRoute.
    fn spec(strategy: Strategy) -> ReleaseSpec {
        ReleaseSpec {
            routing: Routing::HttpRoute,
            ..super::super::tutorial_spec(strategy)
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
        let (route, split, held) = http_route(&s, "j", "demo", &service(), &Value::Null, &[1, 1]);
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
        let (route, split, held) = http_route(&s, "j", "demo", &service(), &Value::Null, &[1, 0]);
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
        let (route, _, held) = http_route(&s, "j", "demo", &service(), &Value::Null, &[1, 1]);
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
        let (route, _, held) = http_route(&s, "j", "demo", &service(), &Value::Null, &[1, 0]);
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
            &Value::Null,
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
        let (route, split, _) = http_route(&s, "j", "demo", &service(), &Value::Null, &[1, 1]);
        assert_eq!(split, [0, 100]);
        assert_eq!(
            weights(&s, &route["spec"]),
            Some(vec![("reviews-v2".to_string(), 100)])
        );
        let survivor = survivor_route(&s, "v2", "j", "demo", &service(), &Value::Null);
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
        adopt_attached_route(&mut s, &["reviews-split".into()], &[]);
        assert_eq!(s.route_name(), "reviews-split");
        let (route, _, _) = http_route(&s, "j", "demo", &service(), &Value::Null, &[1, 1]);
        assert_eq!(route["metadata"]["name"], "reviews-split");
        // Several attached: the checks refuse; none: the component's name.
        let mut s = spec(Strategy::TrafficRatio { new_percent: 10 });
        adopt_attached_route(&mut s, &["a".into(), "b".into()], &[]);
        assert_eq!(s.route_name(), "reviews");
        adopt_attached_route(&mut s, &[], &[]);
        assert_eq!(s.route_name(), "reviews");
        adopt_attached_route(&mut s, &[], &["bookinfo".into()]);
        assert_eq!(s.route_name(), "bookinfo", "the Gateway's route to it");
    }

    /// A Gateway's route as its owner wrote it: the product page's paths to productpage,
    /// `/reviews` to reviews.
    fn gateway_route() -> Value {
        json!({
            "apiVersion": API_VERSION, "kind": "HTTPRoute",
            "metadata": {"name": "bookinfo", "namespace": "demo", "labels": {"team": "shop"},
                         "resourceVersion": "9"},
            "spec": {
                "parentRefs": [{"name": "bookinfo-gateway"}],
                "hostnames": ["bookinfo.example.com"],
                "rules": [
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/productpage"}}],
                     "backendRefs": [{"name": "productpage", "port": 9080}]},
                    {"matches": [{"path": {"type": "PathPrefix", "value": "/reviews"}}],
                     "filters": [{"type": "RequestHeaderModifier",
                                  "requestHeaderModifier": {"add": [{"name": "x-from", "value": "gw"}]}}],
                     "backendRefs": [{"name": "reviews", "port": 9080}]},
                ]
            }
        })
    }

    #[test]
    fn a_gateways_route_is_rewritten_in_place_and_only_where_it_sends_to_the_component() {
        let mut s = spec(Strategy::TrafficRatio { new_percent: 30 });
        s.http_route = Some("bookinfo".into());
        let existing = gateway_route();
        assert!(is_gateway_route(&existing) && gateway_route_problems(&s, &existing).is_empty());
        let (route, _, _) = http_route(&s, "j", "demo", &service(), &existing, &[1, 1]);
        let rules = &route["spec"]["rules"];
        assert_eq!(
            rules[0], existing["spec"]["rules"][0],
            "productpage's rule is untouched"
        );
        assert_eq!(
            rules[1]["backendRefs"],
            json!([{"name": "reviews-v1", "port": 9080, "weight": 70},
                   {"name": "reviews-v2", "port": 9080, "weight": 30}])
        );
        assert_eq!(rules[1]["filters"], existing["spec"]["rules"][1]["filters"]);
        assert_eq!(route["spec"]["parentRefs"], existing["spec"]["parentRefs"]);
        assert_eq!(route["spec"]["hostnames"], existing["spec"]["hostnames"]);
        assert_eq!(route["metadata"]["labels"]["team"], "shop");
        assert_eq!(route["metadata"]["labels"][RELEASE_LABEL], "j");
        assert!(route["metadata"].get("resourceVersion").is_none());
        // Rendering again from what was written changes nothing.
        let (again, _, _) = http_route(&s, "j", "demo", &service(), &route, &[1, 1]);
        assert_eq!(again, route);

        // Request content: a rule of its own, the route's path and the job's header.
        s.strategy = Strategy::RequestContent {
            rules: vec![ContentRule {
                kind: RuleKind::Header {
                    name: "end-user".into(),
                },
                op: MatchOp::Exact,
                value: "jason".into(),
            }],
        };
        let (content, _, _) = http_route(&s, "j", "demo", &service(), &route, &[1, 1]);
        let rules = content["spec"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[1]["name"], "sluice-matched-to-new-1");
        assert_eq!(
            rules[1]["matches"],
            json!([{"path": {"type": "PathPrefix", "value": "/reviews"},
                    "headers": [{"type": "Exact", "name": "end-user", "value": "jason"}]}])
        );
        assert_eq!(
            rules[1]["backendRefs"],
            json!([{"name": "reviews-v2", "port": 9080}])
        );
        // Back to a ratio: the added rule goes again.
        s.strategy = Strategy::TrafficRatio { new_percent: 30 };
        let (ratio, _, _) = http_route(&s, "j", "demo", &service(), &content, &[1, 1]);
        assert_eq!(ratio["spec"]["rules"], route["spec"]["rules"]);

        // Job Offline: plain routing to the kept version, the rest as the owner wrote it.
        let survivor = survivor_route(&s, "v2", "j", "demo", &service(), &ratio);
        assert_eq!(
            survivor["spec"]["rules"][1]["backendRefs"],
            json!([{"name": "reviews-v2", "port": 9080, "weight": 100}])
        );
        assert_eq!(survivor["spec"]["rules"][0], existing["spec"]["rules"][0]);
    }

    #[test]
    fn a_gateways_route_that_mixes_services_or_paths_is_refused() {
        let mut s = spec(Strategy::TrafficRatio { new_percent: 30 });
        let mut mixed = gateway_route();
        mixed["spec"]["rules"][1]["backendRefs"] =
            json!([{"name": "reviews", "port": 9080}, {"name": "ratings", "port": 9080}]);
        let p = gateway_route_problems(&s, &mixed);
        assert!(p[0].contains("to other Services too"), "{p:?}");
        s.strategy = Strategy::RequestContent {
            rules: vec![ContentRule {
                kind: RuleKind::Uri,
                op: MatchOp::Prefix,
                value: "/api".into(),
            }],
        };
        let p = gateway_route_problems(&s, &gateway_route());
        assert!(p[0].contains("already matches a path"), "{p:?}");
        s.component = "details".into();
        s.strategy = Strategy::TrafficRatio { new_percent: 30 };
        let p = gateway_route_problems(&s, &gateway_route());
        assert!(
            p[0].contains("sends no traffic to Service details"),
            "{p:?}"
        );
    }
}
