//! The few fields of Istio's and the Gateway API's routing objects the checks read, and
//! how Istio resolves a host name to a Service of the project.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{MeshConfig, MeshPod, MeshService};

/// The project's configuration, read once for all checks.
pub(super) struct Parsed<'a> {
    pub project: &'a str,
    pub services: BTreeMap<&'a str, &'a MeshService>,
    pub pods: &'a [MeshPod],
    pub virtual_services: Vec<VirtualService<'a>>,
    pub destination_rules: Vec<DestinationRule<'a>>,
    pub http_routes: Vec<HttpRoute<'a>>,
}

pub(super) struct VirtualService<'a> {
    pub name: &'a str,
    pub hosts: Vec<&'a str>,
    /// The gateways it is bound to, by name (`ns/` dropped); `mesh` for the sidecars.
    pub gateways: Vec<&'a str>,
    pub destinations: Vec<Destination<'a>>,
}

impl VirtualService<'_> {
    /// No `gateways` means the mesh (every sidecar), as Istio defaults it.
    pub fn applies_to_mesh(&self) -> bool {
        self.gateways.is_empty() || self.gateways.contains(&"mesh")
    }
}

/// A route destination (or mirror) of a VirtualService.
pub(super) struct Destination<'a> {
    pub host: &'a str,
    pub subset: Option<&'a str>,
    /// A copy of the traffic (`mirror`), not the traffic itself.
    pub mirror: bool,
    /// Gets some ordinary traffic: the only destination of its route, or a weight above 0.
    pub gets_traffic: bool,
}

pub(super) struct DestinationRule<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub subsets: Vec<Subset<'a>>,
}

pub(super) struct Subset<'a> {
    pub name: &'a str,
    pub labels: BTreeMap<String, String>,
}

pub(super) struct HttpRoute<'a> {
    pub name: &'a str,
    pub parents: Vec<Reference<'a>>,
    pub backends: Vec<Reference<'a>>,
}

/// A Gateway API `parentRef` or `backendRef`.
pub(super) struct Reference<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
}

impl<'a> Reference<'a> {
    /// The Service of the project it names, when it names one.
    pub fn local_service(&self, project: &str) -> Option<&'a str> {
        let core = matches!(self.group, "" | "core");
        let here = self.namespace.is_none_or(|n| n == project);
        (core && self.kind == "Service" && here && !self.name.is_empty()).then_some(self.name)
    }
}

pub(super) fn name_of(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or_default()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The Service a host names, when it is one of this project's: `reviews`,
/// `reviews.<project>`, `reviews.<project>.svc` or `reviews.<project>.svc.cluster.local`
/// (any cluster domain). Hosts of other namespaces, external names and wildcards are not
/// the project's to judge.
pub(super) fn local_service<'a>(host: &'a str, project: &str) -> Option<&'a str> {
    if host.is_empty() || host.contains('*') {
        return None;
    }
    let parts: Vec<&str> = host.split('.').collect();
    match parts.as_slice() {
        [name] => Some(name),
        [name, ns] if *ns == project => Some(name),
        [name, ns, "svc", ..] if *ns == project => Some(name),
        _ => None,
    }
}

fn virtual_service(v: &Value) -> VirtualService<'_> {
    let spec = &v["spec"];
    let mut destinations = Vec::new();
    for section in ["http", "tcp", "tls"] {
        for rule in spec[section].as_array().into_iter().flatten() {
            let route = rule["route"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            for r in route {
                let weight = r["weight"].as_i64();
                if let Some(host) = r["destination"]["host"].as_str() {
                    destinations.push(Destination {
                        host,
                        subset: r["destination"]["subset"].as_str(),
                        mirror: false,
                        gets_traffic: if route.len() == 1 {
                            weight.is_none_or(|w| w > 0)
                        } else {
                            weight.is_some_and(|w| w > 0)
                        },
                    });
                }
            }
            let mirrors = std::iter::once(&rule["mirror"]).chain(
                rule["mirrors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| &m["destination"]),
            );
            for m in mirrors {
                if let Some(host) = m["host"].as_str() {
                    destinations.push(Destination {
                        host,
                        subset: m["subset"].as_str(),
                        mirror: true,
                        gets_traffic: false,
                    });
                }
            }
        }
    }
    VirtualService {
        name: name_of(v),
        hosts: strings(&spec["hosts"]),
        gateways: strings(&spec["gateways"])
            .into_iter()
            .map(|g| g.rsplit('/').next().unwrap_or(g))
            .collect(),
        destinations,
    }
}

fn destination_rule(v: &Value) -> DestinationRule<'_> {
    DestinationRule {
        name: name_of(v),
        host: v["spec"]["host"].as_str().unwrap_or_default(),
        subsets: v["spec"]["subsets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                Some(Subset {
                    name: s["name"].as_str()?,
                    labels: labels(&s["labels"]),
                })
            })
            .collect(),
    }
}

fn reference<'a>(v: &'a Value, default_group: &'a str, default_kind: &'a str) -> Reference<'a> {
    Reference {
        group: v["group"].as_str().unwrap_or(default_group),
        kind: v["kind"].as_str().unwrap_or(default_kind),
        name: v["name"].as_str().unwrap_or_default(),
        namespace: v["namespace"].as_str(),
    }
}

/// The Services of `project` an HTTPRoute is attached to (its Service `parentRefs`: Gateway
/// API's mesh routing, which a sidecar or waypoint applies to calls to that Service).
pub(super) fn attached_services<'a>(route: &'a Value, project: &str) -> Vec<&'a str> {
    http_route(route)
        .parents
        .iter()
        .filter_map(|p| p.local_service(project))
        .collect()
}

/// Whether an HTTPRoute is a Gateway's (north-south: a `parentRefs` entry is a Gateway) and
/// sends traffic to Service `service` of `project`.
pub(super) fn gateway_route_to(route: &Value, project: &str, service: &str) -> bool {
    let r = http_route(route);
    r.parents
        .iter()
        .any(|p| p.group == "gateway.networking.k8s.io" && p.kind == "Gateway")
        && r.backends
            .iter()
            .any(|b| b.local_service(project) == Some(service))
}

fn http_route(v: &Value) -> HttpRoute<'_> {
    let spec = &v["spec"];
    HttpRoute {
        name: name_of(v),
        // A parentRef is a Gateway unless it says otherwise.
        parents: spec["parentRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| reference(p, "gateway.networking.k8s.io", "Gateway"))
            .collect(),
        // A backendRef is a core Service unless it says otherwise.
        backends: spec["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["backendRefs"].as_array().into_iter().flatten())
            .map(|b| reference(b, "", "Service"))
            .collect(),
    }
}

impl<'a> Parsed<'a> {
    pub fn new(project: &'a str, mesh: &'a MeshConfig) -> Self {
        Parsed {
            project,
            services: mesh.services.iter().map(|s| (s.name.as_str(), s)).collect(),
            pods: &mesh.pods,
            virtual_services: mesh.virtual_services.iter().map(virtual_service).collect(),
            destination_rules: mesh
                .destination_rules
                .iter()
                .map(destination_rule)
                .collect(),
            http_routes: mesh.http_routes.iter().map(http_route).collect(),
        }
    }

    /// The Service of this project a host names, if it exists.
    pub fn existing(&self, host: &'a str) -> Option<&'a str> {
        local_service(host, self.project).filter(|s| self.services.contains_key(s))
    }

    /// A host that names a Service of this project that does not exist.
    pub fn missing(&self, host: &'a str) -> Option<&'a str> {
        local_service(host, self.project).filter(|s| !self.services.contains_key(s))
    }

    /// The DestinationRules for a Service (Istio merges their subsets).
    pub fn rules_for(&self, service: &str) -> impl Iterator<Item = &DestinationRule<'a>> {
        self.destination_rules
            .iter()
            .filter(move |d| local_service(d.host, self.project) == Some(service))
    }

    /// `" (did you mean reviews?)"` when a Service's name is a typo away from `name`.
    pub fn did_you_mean(&self, name: &str) -> String {
        let best = self
            .services
            .keys()
            .map(|s| (edit_distance(name, s), *s))
            .filter(|(d, s)| *d > 0 && *d <= 2.max(s.len() / 4))
            .min();
        match best {
            Some((_, s)) => format!(" (did you mean {s}?)"),
            None => String::new(),
        }
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_resolve_to_services_of_the_project_only() {
        let p = "bookinfo";
        assert_eq!(local_service("reviews", p), Some("reviews"));
        assert_eq!(local_service("reviews.bookinfo", p), Some("reviews"));
        assert_eq!(local_service("reviews.bookinfo.svc", p), Some("reviews"));
        assert_eq!(
            local_service("reviews.bookinfo.svc.cluster.local", p),
            Some("reviews")
        );
        assert_eq!(local_service("reviews.other.svc.cluster.local", p), None);
        assert_eq!(local_service("bookinfo.demo.localhost", p), None);
        assert_eq!(local_service("www.example.com", p), None);
        assert_eq!(local_service("*", p), None);
        assert_eq!(local_service("*.bookinfo.svc.cluster.local", p), None);
    }

    #[test]
    fn typos_are_a_short_edit_away() {
        assert_eq!(edit_distance("revews", "reviews"), 1);
        assert_eq!(edit_distance("ratingz", "ratings"), 1);
        assert_eq!(edit_distance("ratings", "details"), 5);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
