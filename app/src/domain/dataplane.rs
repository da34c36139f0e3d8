//! How Istio's data plane reaches a project's traffic: sidecars, or ambient mode (ztunnel
//! on each node, and L7 processing only in a waypoint proxy the traffic is enrolled in).
//!
//! A release is a VirtualService: a sidecar applies it, and in ambient mode only a
//! waypoint does (Istio calls VirtualService on waypoints Alpha). In an ambient project
//! with no waypoint for the component, nothing in the traffic path reads the routing, so
//! a release would silently split nothing. Mixing a VirtualService and an HTTPRoute for
//! one Service is not supported by Istio and its behaviour is undefined. These rules say
//! so before anything is written. Pure: labels and objects in, verdicts out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `istio.io/dataplane-mode` on a namespace (or pod): `ambient` enrols it in ambient mode.
pub const DATAPLANE_MODE_LABEL: &str = "istio.io/dataplane-mode";
/// `istio.io/use-waypoint` on a namespace or Service: the waypoint its traffic goes
/// through; `none` on a Service opts it out of the namespace's waypoint.
pub const USE_WAYPOINT_LABEL: &str = "istio.io/use-waypoint";

/// A project's data plane, from its namespace's labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectDataPlane {
    /// `istio.io/dataplane-mode=ambient`.
    pub ambient: bool,
    /// The namespace's `istio.io/use-waypoint`, when it names one.
    pub waypoint: Option<String>,
}

impl ProjectDataPlane {
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Self {
        ProjectDataPlane {
            ambient: labels.get(DATAPLANE_MODE_LABEL).map(String::as_str) == Some("ambient"),
            waypoint: named_waypoint(labels.get(USE_WAYPOINT_LABEL)),
        }
    }

    /// The waypoint a Service's traffic goes through: its own label wins over the
    /// namespace's, and `none` opts it out. `None` outside ambient mode too.
    pub fn waypoint_for(&self, service_labels: &BTreeMap<String, String>) -> Option<String> {
        if !self.ambient {
            return None;
        }
        match service_labels.get(USE_WAYPOINT_LABEL) {
            Some(v) => named_waypoint(Some(v)),
            None => self.waypoint.clone(),
        }
    }

    /// Ambient, and no waypoint for this Service: L7 routing does not reach it.
    pub fn lacks_waypoint(&self, service_labels: &BTreeMap<String, String>) -> bool {
        self.ambient && self.waypoint_for(service_labels).is_none()
    }
}

fn named_waypoint(v: Option<&String>) -> Option<String> {
    v.map(|s| s.trim())
        .filter(|s| !s.is_empty() && *s != "none")
        .map(str::to_string)
}

/// Why a release of `component` in `project` would not split traffic there, as the
/// wizard and the controller say it; `None` when routing it with a VirtualService works.
pub fn release_refusal(
    project: &str,
    component: &str,
    dataplane: &ProjectDataPlane,
    service_labels: &BTreeMap<String, String>,
) -> Option<String> {
    if !dataplane.lacks_waypoint(service_labels) {
        return None;
    }
    Some(format!(
        "Project {project} runs in Istio's ambient mode ({DATAPLANE_MODE_LABEL}=ambient): its \
         pods have no sidecar, and only a waypoint proxy applies routing, but no waypoint \
         serves {component}, so a release would silently split nothing. Deploy a waypoint \
         and enrol the project (istioctl waypoint apply -n {project} --enroll-namespace), \
         or only this Service (kubectl label service {component} -n {project} \
         {USE_WAYPOINT_LABEL}=waypoint), then create the job again. Alternatively switch \
         the project to sidecars (remove the label, enable sidecar injection, restart the \
         workloads)."
    ))
}

/// Why a component routed by HTTPRoutes cannot be released with a VirtualService.
pub fn http_route_refusal(project: &str, component: &str, routes: &[String]) -> Option<String> {
    if routes.is_empty() {
        return None;
    }
    let (noun, them) = if routes.len() == 1 {
        ("HTTPRoute", "it")
    } else {
        ("HTTPRoutes", "them")
    };
    let others: Vec<&String> = routes.iter().filter(|r| *r != component).collect();
    let gateway = if routes.len() == 1 {
        format!(
            "Release it on Gateway API instead: choose \"Gateway API HTTPRoute\" routing in \
             the wizard (routing: HTTPRoute in the job's spec), and the job writes HTTPRoute \
             {}",
            routes[0]
        )
    } else {
        let names: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
        format!(
            "To release it on Gateway API (\"Gateway API HTTPRoute\" routing, which writes \
             HTTPRoute {component}), {} must go first",
            names.join(", ")
        )
    };
    Some(format!(
        "Service {component} is routed by {noun} {} (Gateway API, attached to the Service). \
         A VirtualService release writes a VirtualService for {component}, and Istio does not \
         support a VirtualService and an HTTPRoute for the same Service: which one applies is \
         undefined. {gateway}; or delete {them} (kubectl delete httproute {} -n {project}) to \
         release with a VirtualService.",
        routes.join(", "),
        routes.join(" ")
    ))
}

/// Why a release of `component` on an HTTPRoute would not split its traffic: the cluster
/// has no Gateway API, another HTTPRoute is attached to the Service too (Gateway API merges
/// the rules of every route attached to a parent, so the job's weights would not decide
/// alone), or a VirtualService routes the Service (Istio does not support both).
pub fn gateway_refusal(
    project: &str,
    component: &str,
    route: &str,
    gateway_api_missing: bool,
    http_routes: &[String],
    virtual_services: &[String],
) -> Vec<String> {
    let mut problems = Vec::new();
    if gateway_api_missing {
        problems.push(format!(
            "This cluster does not serve Gateway API's HTTPRoute (gateway.networking.k8s.io/v1), \
             so an HTTPRoute release of {component} cannot be written. Install the Gateway API \
             CRDs (kubectl apply -f standard-install.yaml from a Gateway API release, as \
             Istio's docs show), or choose Istio VirtualService routing."
        ));
    }
    let others: Vec<&str> = http_routes
        .iter()
        .map(String::as_str)
        .filter(|r| *r != route)
        .collect();
    if !others.is_empty() {
        let adopt = if others.len() == 1 {
            format!(
                ", or release on it instead (httpRoute: {} in the job; the wizard picks the \
                 route attached to a component by itself)",
                others[0]
            )
        } else {
            String::new()
        };
        problems.push(format!(
            "Service {component} is also routed by HTTPRoute {}: Gateway API merges the rules \
             of every route attached to a Service, so the job's HTTPRoute {route} would not \
             decide its traffic alone. Delete {} (kubectl delete httproute {} -n \
             {project}){adopt}.",
            others.join(", "),
            if others.len() == 1 { "it" } else { "them" },
            others.join(" ")
        ));
    }
    if !virtual_services.is_empty() {
        problems.push(format!(
            "VirtualService {} routes {component}, and Istio does not support a VirtualService \
             and an HTTPRoute for the same Service: which one applies is undefined. Delete it \
             (kubectl delete virtualservice {} -n {project}; routing an earlier job left \
             behind only sends everything to the version it kept), or choose Istio \
             VirtualService routing.",
            virtual_services.join(", "),
            virtual_services.join(" ")
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sidecar_projects_need_nothing_more() {
        let plane = ProjectDataPlane::from_labels(&labels(&[("istio-injection", "enabled")]));
        assert_eq!(plane, ProjectDataPlane::default());
        assert_eq!(
            release_refusal("demo-project", "reviews", &plane, &labels(&[])),
            None
        );
        // A waypoint label means nothing without ambient mode.
        let plane = ProjectDataPlane::from_labels(&labels(&[(USE_WAYPOINT_LABEL, "waypoint")]));
        assert!(!plane.lacks_waypoint(&labels(&[])));
    }

    #[test]
    fn an_ambient_project_without_a_waypoint_is_refused_with_how_to_add_one() {
        let plane = ProjectDataPlane::from_labels(&labels(&[(DATAPLANE_MODE_LABEL, "ambient")]));
        assert!(plane.ambient);
        let why = release_refusal("demo-project", "reviews", &plane, &labels(&[])).unwrap();
        assert!(why.contains("ambient mode"), "{why}");
        assert!(why.contains("no waypoint serves reviews"), "{why}");
        assert!(
            why.contains("istioctl waypoint apply -n demo-project --enroll-namespace"),
            "{why}"
        );
        assert!(
            why.contains("kubectl label service reviews -n demo-project istio.io/use-waypoint"),
            "{why}"
        );
    }

    #[test]
    fn a_waypoint_on_the_namespace_or_the_service_lets_a_release_through() {
        let enrolled = ProjectDataPlane::from_labels(&labels(&[
            (DATAPLANE_MODE_LABEL, "ambient"),
            (USE_WAYPOINT_LABEL, "waypoint"),
        ]));
        assert_eq!(
            enrolled.waypoint_for(&labels(&[])).as_deref(),
            Some("waypoint")
        );
        assert_eq!(
            release_refusal("p", "reviews", &enrolled, &labels(&[])),
            None
        );

        let bare = ProjectDataPlane::from_labels(&labels(&[(DATAPLANE_MODE_LABEL, "ambient")]));
        let svc = labels(&[(USE_WAYPOINT_LABEL, "reviews-waypoint")]);
        assert_eq!(bare.waypoint_for(&svc).as_deref(), Some("reviews-waypoint"));
        assert_eq!(release_refusal("p", "reviews", &bare, &svc), None);
    }

    #[test]
    fn a_service_that_opts_out_of_the_namespace_waypoint_is_refused() {
        let enrolled = ProjectDataPlane::from_labels(&labels(&[
            (DATAPLANE_MODE_LABEL, "ambient"),
            (USE_WAYPOINT_LABEL, "waypoint"),
        ]));
        let opted_out = labels(&[(USE_WAYPOINT_LABEL, "none")]);
        assert!(enrolled.lacks_waypoint(&opted_out));
        assert!(release_refusal("p", "reviews", &enrolled, &opted_out).is_some());
        // `none` on the namespace is no waypoint either.
        let none = ProjectDataPlane::from_labels(&labels(&[
            (DATAPLANE_MODE_LABEL, "ambient"),
            (USE_WAYPOINT_LABEL, "none"),
        ]));
        assert_eq!(none.waypoint, None);
        // Other dataplane modes are not ambient.
        let off = ProjectDataPlane::from_labels(&labels(&[(DATAPLANE_MODE_LABEL, "none")]));
        assert!(!off.ambient);
    }

    #[test]
    fn http_routes_on_the_component_are_named_with_the_command_to_remove_them() {
        assert_eq!(http_route_refusal("p", "reviews", &[]), None);
        let one = http_route_refusal("demo-project", "reviews", &["reviews".into()]).unwrap();
        assert!(one.contains("routed by HTTPRoute reviews "), "{one}");
        assert!(
            one.contains("kubectl delete httproute reviews -n demo-project"),
            "{one}"
        );
        let two = http_route_refusal("demo-project", "reviews", &["a".into(), "b".into()]).unwrap();
        assert!(two.contains("HTTPRoutes a, b"), "{two}");
        assert!(two.contains("httproute a b -n demo-project"), "{two}");
    }

    #[test]
    fn an_http_route_release_needs_gateway_api_and_the_service_to_itself() {
        assert!(
            gateway_refusal(
                "demo",
                "reviews",
                "reviews",
                false,
                &["reviews".into()],
                &[]
            )
            .is_empty()
        );
        let p = gateway_refusal("demo", "reviews", "reviews", true, &[], &[]);
        assert!(
            p[0].contains("does not serve Gateway API") && p[0].contains("VirtualService routing"),
            "{p:?}"
        );
        let p = gateway_refusal(
            "demo",
            "reviews",
            "reviews",
            false,
            &["reviews".into(), "canary".into()],
            &[],
        );
        assert_eq!(p.len(), 1);
        assert!(
            p[0].contains("also routed by HTTPRoute canary")
                && p[0].contains("kubectl delete httproute canary -n demo"),
            "{p:?}"
        );
        let p = gateway_refusal(
            "demo",
            "reviews",
            "reviews",
            false,
            &[],
            &["reviews".into()],
        );
        assert!(
            p[0].contains("kubectl delete virtualservice reviews -n demo"),
            "{p:?}"
        );
    }

    #[test]
    fn a_virtual_service_release_on_a_routed_service_points_to_gateway_api_routing() {
        let m = http_route_refusal("demo", "reviews", &["reviews".into()]).unwrap();
        assert!(
            m.contains("Gateway API HTTPRoute") && m.contains("routing: HTTPRoute"),
            "{m}"
        );
    }

    #[test]
    fn an_http_route_release_may_write_the_route_already_attached() {
        let attached = ["reviews-split".to_string()];
        assert!(
            gateway_refusal("demo", "reviews", "reviews-split", false, &attached, &[]).is_empty()
        );
        let p = gateway_refusal("demo", "reviews", "reviews", false, &attached, &[]);
        assert!(p[0].contains("httpRoute: reviews-split"), "{p:?}");
    }
}
