//! The checks a release job must pass before anything is written for it. One set, used
//! by the console's port before it creates a job and by the controller before it
//! reconciles one, however the job was made (the wizard, kubectl, GitOps): a job names
//! a base Deployment whose pod template, service account and secrets the new version
//! copies, and a component whose routing it rewrites, so a job that names the wrong ones
//! can do real harm. Pure: the callers read the cluster and hand in what they found.

use std::collections::BTreeMap;

use super::analysis::{
    Analysis, MAX_FAILURE_LIMIT, MAX_INTERVAL_SECONDS, MAX_MIN_REQUESTS, MAX_P99_LIMIT_MS,
    MAX_STEPS, MIN_INTERVAL_SECONDS,
};
use super::rules::validate as validate_rules;
use super::{ReleaseSpec, Routing, RuleKind, Strategy};
use crate::domain::dataplane::{
    ProjectDataPlane, gateway_refusal, http_route_refusal, release_refusal,
};
use crate::domain::names::{check_dns_label, check_dns_subdomain};

/// Replicas of a new version: a canary, not a fleet.
pub const MAX_REPLICAS: i32 = 20;
/// The longest image reference accepted.
pub const MAX_IMAGE_LEN: usize = 512;
/// The longest creator name kept.
pub const MAX_CREATOR_LEN: usize = 256;
/// Namespaces that belong to the cluster and the mesh, never to a release.
pub const SYSTEM_NAMESPACES: [&str; 4] = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "istio-system",
];

/// The label that names a workload's version, and the DestinationRule subset.
pub const VERSION_LABEL: &str = "version";

/// Refuses the cluster's and the mesh's own namespaces.
pub fn check_namespace(namespace: &str) -> Result<(), String> {
    if SYSTEM_NAMESPACES.contains(&namespace) {
        return Err(format!(
            "{namespace} is a system namespace: Sluice does not run releases there (the \
             workloads in it keep the cluster and the mesh running). Release in a project \
             namespace."
        ));
    }
    Ok(())
}

/// Whether every name the spec uses is a valid name, so the cluster can be asked about
/// them (and the answers mean something).
pub fn names_are_valid(spec: &ReleaseSpec) -> bool {
    [
        &spec.component,
        &spec.base_workload,
        &spec.base_version,
        &spec.new_version,
        &spec.new_workload(),
    ]
    .iter()
    .all(|n| check_dns_label("", n).is_ok())
}

/// Everything wrong with a job on its own, without the cluster: names, image, replicas,
/// percentages, rules (with RE2 regexes; `check_regex` compiles what RE2 accepts as a
/// second opinion), and the namespace.
pub fn check_spec(
    name: &str,
    namespace: &str,
    spec: &ReleaseSpec,
    check_regex: &dyn Fn(&str) -> Result<(), String>,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = check_namespace(namespace) {
        problems.push(e);
    }
    if let Err(e) = check_dns_label("Job name", name) {
        problems.push(e);
    }
    if spec.component.is_empty() {
        problems.push("Choose the component (Service) to release.".into());
    } else if let Err(e) = check_dns_label("Component", &spec.component) {
        problems.push(e);
    }
    if let Err(e) = check_dns_label("Base workload", &spec.base_workload) {
        problems.push(e);
    }
    if let Err(e) = check_dns_label("Base version", &spec.base_version) {
        problems.push(e);
    }
    if let Err(e) = check_dns_label("Version", &spec.new_version) {
        problems.push(e);
    } else if spec.new_version == spec.base_version {
        problems.push(format!(
            "Version {} is already used by {}: choose a new version number.",
            spec.new_version, spec.component
        ));
    } else if check_dns_label("", &spec.base_workload).is_ok()
        && let Err(e) = check_dns_label("The new version's workload name", &spec.new_workload())
    {
        problems.push(e);
    }
    if spec.image.len() > MAX_IMAGE_LEN {
        problems.push(format!(
            "The image reference is {} characters long: at most {MAX_IMAGE_LEN} are allowed.",
            spec.image.len()
        ));
    } else if let Err(e) = super::jobs::check_image(&spec.image) {
        problems.push(e);
    }
    if !(1..=MAX_REPLICAS).contains(&spec.replicas) {
        problems.push(format!(
            "Replicas must be between 1 and {MAX_REPLICAS}, not {}.",
            spec.replicas
        ));
    }
    match &spec.strategy {
        Strategy::TrafficRatio { new_percent }
        | Strategy::Mirroring {
            percent: new_percent,
        } if *new_percent > 100 => {
            problems.push(format!("{new_percent}% is out of range: choose 0 to 100."))
        }
        Strategy::RequestContent { rules } => problems.extend(validate_rules(rules, check_regex)),
        _ => {}
    }
    if let Some(plan) = &spec.analysis {
        problems.extend(check_analysis(plan, &spec.strategy));
    }
    if spec.routing == Routing::HttpRoute {
        problems.extend(check_gateway_names(spec));
    }
    if !spec.also_serving.is_empty() {
        problems.extend(check_other_versions(spec));
    }
    if let Some(c) = &spec.creator
        && c.len() > MAX_CREATOR_LEN
    {
        problems.push(format!(
            "The creator is {} characters long: at most {MAX_CREATOR_LEN} are allowed.",
            c.len()
        ));
    }
    problems
}

/// An N-way split: other versions only with Forward by traffic ratio and without automatic
/// steps (they move the new version against the base), named once each, and every share
/// together at most 100 (the base takes the rest).
fn check_other_versions(spec: &ReleaseSpec) -> Vec<String> {
    let mut problems = Vec::new();
    let Strategy::TrafficRatio { new_percent } = &spec.strategy else {
        problems.push(format!(
            "Other versions keep a share only in a Canary Release by traffic ratio, not in {}: \
             remove alsoServing, or choose Forward by traffic ratio.",
            spec.strategy.label()
        ));
        return problems;
    };
    if spec.analysis.is_some() {
        problems.push(
            "Automatic steps move the new version against the base only: remove the other \
             versions (alsoServing), or the automatic steps."
                .into(),
        );
    }
    if spec.also_serving.len() > super::MAX_OTHER_VERSIONS {
        problems.push(format!(
            "At most {} other versions can share the traffic, not {}.",
            super::MAX_OTHER_VERSIONS,
            spec.also_serving.len()
        ));
    }
    let mut seen: Vec<&str> = vec![&spec.base_version, &spec.new_version];
    for o in &spec.also_serving {
        if let Err(e) = check_dns_label("Other version", &o.version) {
            problems.push(e);
        } else if seen.contains(&o.version.as_str()) {
            problems.push(format!(
                "Version {} is named twice: each version gets one share.",
                o.version
            ));
        }
        seen.push(&o.version);
        if let Err(e) = check_dns_label("Other version's workload", &o.workload) {
            problems.push(e);
        }
        if o.percent > 100 {
            problems.push(format!(
                "{}% for {} is out of range: choose 0 to 100.",
                o.percent, o.version
            ));
        }
    }
    let total: u32 = u32::from(*new_percent)
        + spec
            .also_serving
            .iter()
            .map(|o| u32::from(o.percent))
            .sum::<u32>();
    if total > 100 {
        problems.push(format!(
            "The shares add up to {total}%: {} {new_percent}%{}. Lower them to 100% in all \
             ({} takes what is left).",
            spec.new_version,
            spec.also_serving
                .iter()
                .map(|o| format!(", {} {}%", o.version, o.percent))
                .collect::<String>(),
            spec.base_version
        ));
    }
    problems
}

/// What an HTTPRoute release names beyond a VirtualService one: a Service per version
/// (`<component>-<version>`, a DNS label too), and header and query parameter names as
/// Gateway API's CRD accepts them.
fn check_gateway_names(spec: &ReleaseSpec) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(route) = &spec.http_route
        && let Err(e) = check_dns_subdomain("The HTTPRoute", route)
    {
        problems.push(e);
    }
    if check_dns_label("", &spec.component).is_ok() {
        for v in [&spec.base_version, &spec.new_version] {
            if check_dns_label("", v).is_ok()
                && let Err(e) = check_dns_label(
                    "The version's Service name (an HTTPRoute release routes to one Service per version)",
                    &spec.version_service(v),
                )
            {
                problems.push(e);
            }
        }
    }
    if let Strategy::RequestContent { rules } = &spec.strategy {
        for (i, r) in rules.iter().enumerate() {
            let name = match &r.kind {
                RuleKind::Header { name } | RuleKind::Query { name } => name,
                _ => continue,
            };
            if !name.is_empty() && !super::gateway::match_name_ok(name) {
                problems.push(format!(
                    "{}: Gateway API matches names of letters, digits and !#$%&'*+-.^_`|~ only. \
                     Rename it, or choose Istio VirtualService routing.",
                    super::rules::rule_label(i + 1, r)
                ));
            }
        }
    }
    problems
}

/// Everything wrong with an automatic-steps plan for `strategy`: steps ascending within
/// 1–100 (traffic ratio only), an interval the metrics can measure, thresholds in range.
pub fn check_analysis(plan: &Analysis, strategy: &Strategy) -> Vec<String> {
    let mut problems = Vec::new();
    match strategy {
        Strategy::BlueGreen { .. } => problems.push(
            "Automatic steps do not apply to a blue-green deployment: it switches all traffic \
             in one step. Use a canary by traffic ratio for steps gated by metrics."
                .into(),
        ),
        Strategy::TrafficRatio { .. } => {
            if plan.steps.is_empty() {
                problems.push("Give at least one step, e.g. 10, 25, 50, 100.".into());
            } else if plan.steps.len() > MAX_STEPS {
                problems.push(format!(
                    "{} steps are too many: at most {MAX_STEPS}.",
                    plan.steps.len()
                ));
            }
            if let Some(bad) = plan.steps.iter().find(|p| !(1..=100).contains(*p)) {
                problems.push(format!(
                    "Step {bad}% is out of range: every step is 1 to 100%."
                ));
            }
            if let Some(w) = plan.steps.windows(2).find(|w| w[1] <= w[0]) {
                problems.push(format!(
                    "Steps must go up: {}% is followed by {}%.",
                    w[0], w[1]
                ));
            }
            if let Some(skip) = plan.skip_to_step
                && skip as usize >= plan.steps.len().max(1)
            {
                problems.push(format!(
                    "skipToStep {skip} is beyond the last step ({}).",
                    plan.steps.len().saturating_sub(1)
                ));
            }
        }
        Strategy::RequestContent { .. } | Strategy::Mirroring { .. } => {
            if !plan.steps.is_empty() {
                problems.push(format!(
                    "Steps apply to a canary by traffic ratio only: a {} job is checked as \
                     configured, in one step. Leave the steps out.",
                    strategy.label()
                ));
            }
            if let Strategy::Mirroring { percent: 0 } = strategy {
                problems.push(
                    "Mirroring 0% sends the new version no requests, so its checks could never \
                     judge: mirror a share of the requests, or turn automatic checks off."
                        .into(),
                );
            }
        }
    }
    if !(MIN_INTERVAL_SECONDS..=MAX_INTERVAL_SECONDS).contains(&plan.interval_seconds) {
        problems.push(format!(
            "An interval of {} s is out of range: choose {MIN_INTERVAL_SECONDS} s (Prometheus \
             needs a few scrapes to measure a step) to {MAX_INTERVAL_SECONDS} s.",
            plan.interval_seconds
        ));
    }
    let g = &plan.gates;
    if let Some(p) = g.min_success_percent
        && !(p.is_finite() && p > 0.0 && p <= 100.0)
    {
        problems.push(format!(
            "A minimum success rate of {p}% is out of range: choose more than 0 and at most 100."
        ));
    }
    if let Some(ms) = g.max_p99_ms
        && !(1..=MAX_P99_LIMIT_MS).contains(&ms)
    {
        problems.push(format!(
            "A p99 limit of {ms} ms is out of range: choose 1 to {MAX_P99_LIMIT_MS} ms."
        ));
    }
    if let Some(m) = g.max_error_increase_percent
        && !(m.is_finite() && (0.0..=100.0).contains(&m))
    {
        problems.push(format!(
            "An error-rate margin of {m} points is out of range: choose 0 to 100."
        ));
    }
    if !(1..=MAX_MIN_REQUESTS).contains(&plan.min_requests) {
        problems.push(format!(
            "A minimum of {} requests is out of range: choose 1 to {MAX_MIN_REQUESTS}.",
            plan.min_requests
        ));
    }
    if !(1..=MAX_FAILURE_LIMIT).contains(&plan.failure_limit) {
        problems.push(format!(
            "{} failed checks before rollback is out of range: choose 1 to {MAX_FAILURE_LIMIT}.",
            plan.failure_limit
        ));
    }
    problems
}

/// A Deployment, as the checks see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workload {
    pub name: String,
    /// The labels of its pod template (what a Service selects).
    pub pod_labels: BTreeMap<String, String>,
    /// The release job that created it (its `sluice.dev/release` label), if any.
    pub job: Option<String>,
}

impl Workload {
    fn version(&self) -> Option<&str> {
        self.pod_labels.get(VERSION_LABEL).map(String::as_str)
    }

    /// Whether the Service with `selector` sends traffic to its pods.
    pub fn serves(&self, selector: &BTreeMap<String, String>) -> bool {
        !selector.is_empty()
            && selector
                .iter()
                .all(|(k, v)| self.pod_labels.get(k) == Some(v))
    }
}

/// What the job's namespace holds that the spec names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterFacts {
    /// The component's Service: `None` when there is none, else its selector.
    pub service_selector: Option<BTreeMap<String, String>>,
    /// Every Deployment in the namespace.
    pub workloads: Vec<Workload>,
    /// The component Service's labels (`istio.io/use-waypoint`).
    pub service_labels: BTreeMap<String, String>,
    /// Sidecars or ambient mode, from the namespace's labels.
    pub dataplane: ProjectDataPlane,
    /// HTTPRoutes attached to the component Service.
    pub http_routes: Vec<String>,
    /// VirtualServices whose hosts name the component.
    pub virtual_services: Vec<String>,
    /// Gateways' HTTPRoutes (north-south) that send traffic to the component.
    pub gateway_routes: Vec<String>,
    /// Every HTTPRoute of the namespace as the API serves it (the one a job writes is
    /// checked as it is).
    pub http_route_objects: Vec<serde_json::Value>,
    /// The cluster does not serve Gateway API's HTTPRoute.
    pub gateway_api_missing: bool,
}

/// Everything wrong with a job given what the cluster holds: the component is a Service
/// with a selector, the base is one of its workloads at `baseVersion`, and the new
/// version's name and number are free (or already this job's). While a job goes offline
/// its base may already be gone, so only what it would still touch is checked.
pub fn check_against_cluster(
    job: &str,
    namespace: &str,
    spec: &ReleaseSpec,
    facts: &ClusterFacts,
    going_offline: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let component = &spec.component;
    let selector = match &facts.service_selector {
        None => {
            problems.push(format!(
                "There is no Service {component} in {namespace}: the component of a release \
                 is a Service whose traffic is split."
            ));
            None
        }
        Some(s) if s.is_empty() => {
            problems.push(format!(
                "Service {component} has no selector, so no workload serves it: there is \
                 nothing to release."
            ));
            None
        }
        Some(s) => Some(s),
    };
    // Where the routing would not apply: said before anything is written. A job going
    // offline only removes what it wrote, so it may always finish.
    if selector.is_some() && !going_offline {
        problems.extend(release_refusal(
            namespace,
            component,
            &facts.dataplane,
            &facts.service_labels,
        ));
        match spec.routing {
            Routing::VirtualService => {
                problems.extend(http_route_refusal(namespace, component, &facts.http_routes))
            }
            Routing::HttpRoute => {
                problems.extend(gateway_refusal(
                    namespace,
                    component,
                    spec.route_name(),
                    facts.gateway_api_missing,
                    &facts.http_routes,
                    &facts.virtual_services,
                ));
                if let Some(route) = facts
                    .http_route_objects
                    .iter()
                    .find(|r| r["metadata"]["name"] == spec.route_name())
                {
                    problems.extend(super::gateway::gateway_route_problems(spec, route));
                }
            }
        }
    }
    let by_name = |n: &str| facts.workloads.iter().find(|w| w.name == n);
    match by_name(&spec.base_workload) {
        None if !going_offline => problems.push(format!(
            "The base workload {} does not exist in {namespace}: the new version {} is a \
             copy of it. Choose an existing workload of {component}.",
            spec.base_workload, spec.new_version
        )),
        None => {}
        Some(base) => {
            if let Some(sel) = selector
                && !base.serves(sel)
            {
                let wanted: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
                problems.push(format!(
                    "Deployment {} is not a workload of {component}: its pods do not carry \
                     the Service's selector {}. Choose one of {component}'s workloads as the \
                     base.",
                    spec.base_workload,
                    wanted.join(",")
                ));
            }
            match base.version() {
                Some(v) if v == spec.base_version => {}
                Some(v) => problems.push(format!(
                    "Deployment {} is version {v}, not {}: set baseVersion to {v}.",
                    spec.base_workload, spec.base_version
                )),
                None => problems.push(format!(
                    "Deployment {} has no {VERSION_LABEL} label on its pods, so Istio cannot \
                     tell its traffic from the new version's: label it {VERSION_LABEL}={}.",
                    spec.base_workload, spec.base_version
                )),
            }
        }
    }
    // The other versions of an N-way split: existing workloads of the component, at the
    // version the job names.
    if !going_offline {
        for o in &spec.also_serving {
            match by_name(&o.workload) {
                None => problems.push(format!(
                    "Deployment {} does not exist in {namespace}: alsoServing names the \
                     workloads of other versions of {component} that keep a share.",
                    o.workload
                )),
                Some(w) => {
                    if let Some(sel) = selector
                        && !w.serves(sel)
                    {
                        problems.push(format!(
                            "Deployment {} is not a workload of {component}: its pods do not \
                             carry the Service's selector.",
                            o.workload
                        ));
                    }
                    if w.version() != Some(o.version.as_str()) {
                        problems.push(format!(
                            "Deployment {} is version {}, not {}: name it with its version.",
                            o.workload,
                            w.version().unwrap_or("(no version label)"),
                            o.version
                        ));
                    }
                }
            }
        }
    }
    let new_name = spec.new_workload();
    if spec.new_version == spec.base_version || new_name == spec.base_workload {
        // Reported by check_spec: the new version would be the base itself.
        return problems;
    }
    if let Some(w) = by_name(&new_name)
        && w.job.as_deref() != Some(job)
    {
        problems.push(format!(
            "Deployment {new_name} already exists and is not part of this job: choose \
             another version number."
        ));
    }
    if let Some(sel) = selector
        && let Some(other) = facts.workloads.iter().find(|w| {
            w.name != new_name
                && w.name != spec.base_workload
                && w.serves(sel)
                && w.version() == Some(spec.new_version.as_str())
                && w.job.as_deref() != Some(job)
        })
    {
        problems.push(format!(
            "Version {} is already used by {component} (Deployment {}): choose a new version \
             number.",
            spec.new_version, other.name
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::super::rules::{ContentRule, MatchOp, RuleKind};
    use super::*;

    fn ok(_: &str) -> Result<(), String> {
        Ok(())
    }

    fn spec() -> ReleaseSpec {
        ReleaseSpec {
            component: "reviews".into(),
            base_workload: "reviews-v1".into(),
            base_version: "v1".into(),
            new_version: "v2".into(),
            image: "kubesphere/examples-bookinfo-reviews-v2:1.13.0".into(),
            replicas: 1,
            strategy: Strategy::TrafficRatio { new_percent: 50 },
            taken_over_by: None,
            creator: None,
            analysis: None,
            routing: Default::default(),
            also_serving: Vec::new(),
            http_route: None,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn workload(name: &str, app: &str, version: &str, job: Option<&str>) -> Workload {
        Workload {
            name: name.into(),
            pod_labels: labels(&[("app", app), ("version", version)]),
            job: job.map(str::to_string),
        }
    }

    fn bookinfo() -> ClusterFacts {
        ClusterFacts {
            service_selector: Some(labels(&[("app", "reviews")])),
            workloads: vec![
                workload("reviews-v1", "reviews", "v1", None),
                workload("ratings-v1", "ratings", "v1", None),
            ],
            ..ClusterFacts::default()
        }
    }

    #[test]
    fn the_tutorial_job_passes() {
        assert!(check_spec("canary-release", "demo-project", &spec(), &ok).is_empty());
        assert!(
            check_against_cluster(
                "canary-release",
                "demo-project",
                &spec(),
                &bookinfo(),
                false
            )
            .is_empty()
        );
    }

    #[test]
    fn every_problem_of_a_spec_is_named() {
        let mut s = spec();
        s.component = "a/b".into();
        s.base_workload = "Reviews_V1".into();
        s.image = "Not An Image".into();
        s.replicas = 100_000;
        s.strategy = Strategy::Mirroring { percent: 150 };
        s.creator = Some("x".repeat(300));
        let problems = check_spec("canary", "kube-system", &s, &ok);
        let all = problems.join("\n");
        for expected in [
            "kube-system is a system namespace",
            "Component \"a/b\" contains '/'",
            "Base workload \"Reviews_V1\"",
            "not a valid image reference",
            "between 1 and 20, not 100000",
            "150% is out of range",
            "creator is 300 characters",
        ] {
            assert!(all.contains(expected), "{expected}: {all}");
        }
        assert_eq!(problems.len(), 7, "{all}");
        assert!(!names_are_valid(&s));
        assert!(names_are_valid(&spec()));
    }

    #[test]
    fn automatic_steps_are_checked_with_clear_messages() {
        use super::super::analysis::{Analysis, Gates};
        let ratio = Strategy::TrafficRatio { new_percent: 10 };
        assert!(check_analysis(&Analysis::recommended(), &ratio).is_empty());
        let mut s = spec();
        s.analysis = Some(Analysis {
            steps: vec![10, 50, 30, 0, 101],
            interval_seconds: 5,
            gates: Gates {
                min_success_percent: Some(120.0),
                max_p99_ms: Some(0),
                max_error_increase_percent: Some(f64::NAN),
            },
            min_requests: 0,
            failure_limit: 0,
            skip_to_step: Some(9),
            ..Analysis::recommended()
        });
        let problems = check_spec("canary", "demo-project", &s, &ok);
        let all = problems.join("\n");
        for expected in [
            "Step 0% is out of range",
            "Steps must go up: 50% is followed by 30%",
            "skipToStep 9 is beyond the last step (4)",
            "interval of 5 s is out of range: choose 10 s",
            "success rate of 120% is out of range",
            "p99 limit of 0 ms",
            "error-rate margin of NaN points",
            "minimum of 0 requests",
            "0 failed checks before rollback",
        ] {
            assert!(all.contains(expected), "{expected}: {all}");
        }
        assert_eq!(problems.len(), 9, "{all}");
        let empty = Analysis {
            steps: vec![],
            ..Analysis::recommended()
        };
        assert_eq!(
            check_analysis(&empty, &ratio),
            ["Give at least one step, e.g. 10, 25, 50, 100."]
        );
        let p = check_analysis(
            &Analysis::recommended(),
            &Strategy::BlueGreen {
                serving: super::super::Side::New,
            },
        );
        assert!(p[0].contains("do not apply to a blue-green"), "{p:?}");
        let p = check_analysis(
            &Analysis::recommended(),
            &Strategy::Mirroring { percent: 50 },
        );
        assert!(
            p[0].contains("Steps apply to a canary by traffic ratio only"),
            "{p:?}"
        );
        let gates_only = Analysis {
            steps: vec![],
            ..Analysis::recommended()
        };
        assert!(check_analysis(&gates_only, &Strategy::Mirroring { percent: 50 }).is_empty());
        let p = check_analysis(&gates_only, &Strategy::Mirroring { percent: 0 });
        assert!(p[0].contains("Mirroring 0%"), "{p:?}");
    }

    #[test]
    fn system_namespaces_are_refused() {
        for ns in SYSTEM_NAMESPACES {
            assert!(check_namespace(ns).is_err(), "{ns}");
        }
        assert_eq!(check_namespace("demo-project"), Ok(()));
    }

    #[test]
    fn a_new_workload_name_over_63_characters_is_refused() {
        let mut s = spec();
        s.base_workload = "r".repeat(62);
        let problems = check_spec("canary", "demo-project", &s, &ok);
        assert!(
            problems[0].starts_with("The new version's workload name"),
            "{problems:?}"
        );
    }

    #[test]
    fn rules_are_checked_with_re2() {
        let mut s = spec();
        s.strategy = Strategy::RequestContent {
            rules: vec![ContentRule {
                kind: RuleKind::Header {
                    name: "end-user".into(),
                },
                op: MatchOp::Regex,
                value: "[a-z&&[^x]]".into(),
            }],
        };
        let problems = check_spec("canary", "demo-project", &s, &ok);
        assert_eq!(
            problems,
            [
                "Rule 1 (header end-user): RE2, which Envoy uses, does not support class \
              intersection `&&`: RE2 would read the characters literally; escape them (`\\&`) \
              if that is what you mean"
            ]
        );
    }

    #[test]
    fn the_base_must_be_a_workload_of_the_component_at_the_base_version() {
        let mut s = spec();
        s.base_workload = "ratings-v1".into();
        let problems = check_against_cluster("canary", "demo-project", &s, &bookinfo(), false);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("ratings-v1 is not a workload of reviews")
                && problems[0].contains("app=reviews"),
            "{problems:?}"
        );

        let mut s = spec();
        s.base_version = "v9".into();
        let problems = check_against_cluster("canary", "demo-project", &s, &bookinfo(), false);
        assert!(
            problems[0].contains("is version v1, not v9"),
            "{problems:?}"
        );
    }

    #[test]
    fn the_component_must_be_a_service_with_a_selector() {
        let mut facts = bookinfo();
        facts.service_selector = None;
        let p = check_against_cluster("canary", "demo-project", &spec(), &facts, false);
        assert!(p[0].contains("There is no Service reviews"), "{p:?}");
        facts.service_selector = Some(BTreeMap::new());
        let p = check_against_cluster("canary", "demo-project", &spec(), &facts, false);
        assert!(p[0].contains("has no selector"), "{p:?}");
    }

    #[test]
    fn the_new_version_must_be_free_or_this_jobs() {
        let mut facts = bookinfo();
        facts
            .workloads
            .push(workload("reviews-v2", "reviews", "v2", None));
        let p = check_against_cluster("canary", "demo-project", &spec(), &facts, false);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("reviews-v2 already exists and is not part of this job"));

        facts.workloads[2].job = Some("canary".into());
        assert!(check_against_cluster("canary", "demo-project", &spec(), &facts, false).is_empty());

        let mut facts = bookinfo();
        facts
            .workloads
            .push(workload("reviews-next", "reviews", "v2", None));
        let p = check_against_cluster("canary", "demo-project", &spec(), &facts, false);
        assert!(
            p[0].contains("Version v2 is already used by reviews (Deployment reviews-next)"),
            "{p:?}"
        );
    }

    #[test]
    fn going_offline_does_not_need_the_base_any_more() {
        let mut facts = bookinfo();
        facts.workloads.remove(0);
        assert!(check_against_cluster("canary", "demo-project", &spec(), &facts, true).is_empty());
        let p = check_against_cluster("canary", "demo-project", &spec(), &facts, false);
        assert!(p[0].contains("does not exist"), "{p:?}");
    }

    #[test]
    fn a_release_where_its_routing_would_not_apply_is_refused_but_may_go_offline() {
        use crate::domain::dataplane::{DATAPLANE_MODE_LABEL, USE_WAYPOINT_LABEL};
        let mut facts = bookinfo();
        facts.dataplane = ProjectDataPlane {
            ambient: true,
            waypoint: None,
        };
        let p = check_against_cluster("canary", "demo-project", &spec(), &facts, false);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains(DATAPLANE_MODE_LABEL), "{p:?}");
        assert!(p[0].contains("no waypoint serves reviews"), "{p:?}");
        // Job Offline removes what the job wrote, whatever the project became since.
        assert!(check_against_cluster("canary", "demo-project", &spec(), &facts, true).is_empty());
        // The Service enrolled in a waypoint: the waypoint applies the VirtualService.
        facts.service_labels = labels(&[(USE_WAYPOINT_LABEL, "waypoint")]);
        assert!(check_against_cluster("canary", "demo-project", &spec(), &facts, false).is_empty());

        let mut facts = bookinfo();
        facts.http_routes = vec!["reviews".into()];
        let p = check_against_cluster("canary", "demo-project", &spec(), &facts, false);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("routed by HTTPRoute reviews"), "{p:?}");
        assert!(check_against_cluster("canary", "demo-project", &spec(), &facts, true).is_empty());
        // Without a Service, the missing Service is the problem, not its routes.
        facts.service_selector = None;
        let p = check_against_cluster("canary", "demo-project", &spec(), &facts, false);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("There is no Service reviews"), "{p:?}");
    }

    #[test]
    fn an_http_route_release_is_checked_for_what_gateway_api_needs() {
        let mut gw = spec();
        gw.routing = Routing::HttpRoute;
        let mut facts = bookinfo();
        // Its own HTTPRoute (a previous job's, or this job's) is what it writes.
        facts.http_routes = vec!["reviews".into()];
        assert!(check_against_cluster("canary", "demo-project", &gw, &facts, false).is_empty());
        facts.http_routes.push("reviews-split".into());
        facts.virtual_services = vec!["reviews".into()];
        facts.gateway_api_missing = true;
        let p = check_against_cluster("canary", "demo-project", &gw, &facts, false);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("does not serve Gateway API"), "{p:?}");
        assert!(
            p[1].contains("also routed by HTTPRoute reviews-split"),
            "{p:?}"
        );
        assert!(
            p[2].contains("VirtualService reviews routes reviews"),
            "{p:?}"
        );
        // Nothing stops a job from going offline.
        assert!(check_against_cluster("canary", "demo-project", &gw, &facts, true).is_empty());
        // Ambient without a waypoint: no HTTPRoute applies either.
        let mut facts = bookinfo();
        facts.dataplane = ProjectDataPlane {
            ambient: true,
            waypoint: None,
        };
        let p = check_against_cluster("canary", "demo-project", &gw, &facts, false);
        assert!(p[0].contains("no waypoint serves reviews"), "{p:?}");
    }

    #[test]
    fn an_http_route_release_needs_version_service_names_and_gateway_api_match_names() {
        let mut gw = spec();
        gw.routing = Routing::HttpRoute;
        gw.component = "c".repeat(61);
        let p = check_spec("canary", "demo-project", &gw, &|_| Ok(()));
        assert!(
            p.iter().any(|m| m.contains("The version's Service name")),
            "{p:?}"
        );
        gw.routing = Routing::VirtualService;
        let p = check_spec("canary", "demo-project", &gw, &|_| Ok(()));
        assert!(!p.iter().any(|m| m.contains("Service name")), "{p:?}");

        let mut gw = spec();
        gw.routing = Routing::HttpRoute;
        gw.strategy = Strategy::RequestContent {
            rules: vec![ContentRule {
                kind: RuleKind::Query { name: "a b".into() },
                op: MatchOp::Exact,
                value: "1".into(),
            }],
        };
        let p = check_spec("canary", "demo-project", &gw, &|_| Ok(()));
        assert!(
            p.iter()
                .any(|m| m.contains("Rule 1 (query a b): Gateway API")),
            "{p:?}"
        );
    }

    #[test]
    fn an_n_way_split_names_existing_versions_and_stays_within_100() {
        use super::super::OtherVersion;
        let three = |v3: u8| {
            let mut s = spec();
            s.strategy = Strategy::TrafficRatio { new_percent: 20 };
            s.also_serving = vec![OtherVersion {
                version: "v3".into(),
                workload: "reviews-v3".into(),
                percent: v3,
            }];
            s
        };
        assert!(check_spec("canary", "demo-project", &three(30), &|_| Ok(())).is_empty());
        let p = check_spec("canary", "demo-project", &three(90), &|_| Ok(()));
        assert!(
            p[0].contains("add up to 110%: v2 20%, v3 90%") && p[0].contains("v1 takes"),
            "{p:?}"
        );
        let mut twice = three(10);
        twice.also_serving[0].version = "v2".into();
        let p = check_spec("canary", "demo-project", &twice, &|_| Ok(()));
        assert!(p[0].contains("Version v2 is named twice"), "{p:?}");
        let mut mirror = three(10);
        mirror.strategy = Strategy::Mirroring { percent: 10 };
        let p = check_spec("canary", "demo-project", &mirror, &|_| Ok(()));
        assert!(
            p[0].contains("only in a Canary Release by traffic ratio"),
            "{p:?}"
        );

        // Against the cluster: reviews-v3 must exist, serve reviews and be v3.
        let mut facts = bookinfo();
        let p = check_against_cluster("canary", "demo-project", &three(30), &facts, false);
        assert!(
            p[0].contains("Deployment reviews-v3 does not exist"),
            "{p:?}"
        );
        facts.workloads.push(Workload {
            name: "reviews-v3".into(),
            pod_labels: labels(&[("app", "reviews"), ("version", "v3")]),
            job: None,
        });
        assert!(
            check_against_cluster("canary", "demo-project", &three(30), &facts, false).is_empty()
        );
        let mut wrong = three(30);
        wrong.also_serving[0].version = "v4".into();
        let p = check_against_cluster("canary", "demo-project", &wrong, &facts, false);
        assert!(p[0].contains("is version v3, not v4"), "{p:?}");
    }
}
