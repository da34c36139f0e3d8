//! The checks on routing, pods and ports. Each pushes findings that say what a person
//! notices and how to fix it; [`super::diagnose`] files them under their Service.

use std::collections::{BTreeMap, BTreeSet};

use super::objects::{Parsed, local_service};
use super::{DiagnosisInputs, Finding, FindingKind, MeshPod, Severity};
use crate::domain::applications::{VERSION_LABEL, selects};

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// At most three names, then how many more.
fn few(names: &[&str]) -> String {
    match names.len() {
        0..=3 => names.join(", "),
        n => format!("{} and {} more", names[..3].join(", "), n - 3),
    }
}

/// A VirtualService routes to a subset that no DestinationRule defines: Envoy has no
/// cluster for it, and those requests fail.
pub(super) fn undefined_subsets(p: &Parsed<'_>, out: &mut Vec<Finding>) {
    for vs in &p.virtual_services {
        let mut seen = BTreeSet::new();
        for d in &vs.destinations {
            let (Some(subset), Some(service)) = (d.subset, p.existing(d.host)) else {
                continue;
            };
            let defined: Vec<&str> = p
                .rules_for(service)
                .flat_map(|r| r.subsets.iter().map(|s| s.name))
                .collect();
            if defined.contains(&subset) || !seen.insert((service, subset, d.mirror)) {
                continue;
            }
            let rule = p.rules_for(service).next().map(|r| r.name);
            let (severity, what, effect) = if d.mirror {
                (
                    Severity::Warning,
                    "a copy of its requests (mirror)",
                    "the copies are dropped, so the mirrored version sees no traffic",
                )
            } else {
                (
                    Severity::Error,
                    "requests",
                    "those requests fail with HTTP 503 (no healthy upstream)",
                )
            };
            let problem = match rule {
                None => format!(
                    "It sends {what} to subset \"{subset}\" of {service}, but there is no \
                     DestinationRule for {service}: {effect}."
                ),
                Some(_) => format!(
                    "It sends {what} to subset \"{subset}\" of {service}, which no \
                     DestinationRule defines (defined: {}): {effect}.",
                    defined.join(", ")
                ),
            };
            let fix = match rule {
                None => format!(
                    "Create a DestinationRule for host {service} with a subset {subset} \
                     (e.g. labels: {VERSION_LABEL}: {subset}), or route to {service} without \
                     a subset."
                ),
                Some(r) => format!(
                    "Add a subset {subset} (e.g. labels: {VERSION_LABEL}: {subset}) to \
                     DestinationRule {r}, or change the route to a defined subset ({}).",
                    defined.join(", ")
                ),
            };
            out.push(Finding {
                severity,
                kind: FindingKind::UndefinedSubset,
                service: Some(service.to_string()),
                object: format!("VirtualService {}", vs.name),
                problem,
                fix,
            });
        }
    }
}

/// A DestinationRule subset whose labels match no pod of its Service: traffic routed
/// there has nowhere to go.
pub(super) fn empty_subsets(p: &Parsed<'_>, out: &mut Vec<Finding>) {
    for dr in &p.destination_rules {
        let Some(service) = p.existing(dr.host) else {
            continue;
        };
        let svc = p.services[service];
        if svc.selector.is_empty() {
            continue;
        }
        let behind: Vec<&MeshPod> = p
            .pods
            .iter()
            .filter(|pod| selects(&svc.selector, &pod.labels))
            .collect();
        for subset in &dr.subsets {
            let mut wanted = svc.selector.clone();
            wanted.extend(subset.labels.clone());
            if behind.iter().any(|pod| selects(&wanted, &pod.labels)) {
                continue;
            }
            let routed: BTreeSet<&str> = p
                .virtual_services
                .iter()
                .filter(|vs| {
                    vs.destinations.iter().any(|d| {
                        d.gets_traffic
                            && d.subset == Some(subset.name)
                            && local_service(d.host, p.project) == Some(service)
                    })
                })
                .map(|vs| vs.name)
                .collect();
            let versions: BTreeSet<&str> = behind
                .iter()
                .filter_map(|pod| pod.labels.get(VERSION_LABEL).map(String::as_str))
                .collect();
            let labels = labels_text(&subset.labels);
            let (severity, effect) = if routed.is_empty() {
                (
                    Severity::Warning,
                    "nothing routed to it can be served until such pods run".to_string(),
                )
            } else {
                (
                    Severity::Error,
                    format!(
                        "VirtualService {} sends traffic there, and those requests fail with \
                         HTTP 503 (no healthy upstream)",
                        routed.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                )
            };
            let running = if versions.is_empty() {
                format!("{service} has no pods at all")
            } else {
                format!(
                    "its pods have {VERSION_LABEL} {}",
                    versions.into_iter().collect::<Vec<_>>().join(", ")
                )
            };
            out.push(Finding {
                severity,
                kind: FindingKind::EmptySubset,
                service: Some(service.to_string()),
                object: format!("DestinationRule {}", dr.name),
                problem: format!(
                    "Its subset \"{}\" ({labels}) selects no pod of {service} ({running}): \
                     {effect}.",
                    subset.name
                ),
                fix: format!(
                    "Deploy that version (pods of {service} labelled {labels}), correct the \
                     subset's labels to those of running pods, or remove the subset and the \
                     routes to it."
                ),
            });
        }
    }
}

/// Pods behind a Service without the istio-proxy sidecar: the mesh neither routes nor
/// observes their traffic.
pub(super) fn missing_sidecars(input: &DiagnosisInputs<'_>, out: &mut Vec<Finding>) {
    let project = input.project;
    if input.dataplane.ambient {
        // Ambient pods have no sidecar by design: ztunnel carries their traffic.
        return;
    }
    for svc in &input.mesh.services {
        if svc.selector.is_empty() {
            continue;
        }
        let behind: Vec<&MeshPod> = input
            .mesh
            .pods
            .iter()
            .filter(|pod| selects(&svc.selector, &pod.labels))
            .collect();
        let bare: Vec<&MeshPod> = behind.iter().copied().filter(|p| !p.sidecar).collect();
        if bare.is_empty() {
            continue;
        }
        let names: Vec<&str> = bare.iter().map(|p| p.name.as_str()).collect();
        let workloads: BTreeSet<&str> = input
            .workloads
            .iter()
            .filter(|w| bare.iter().any(|p| selects(&w.pod_labels, &p.labels)))
            .map(|w| w.name.as_str())
            .collect();
        let restart = if workloads.is_empty() {
            format!("delete the pods so they are recreated ({})", few(&names))
        } else {
            format!(
                "restart them: kubectl rollout restart deployment {} -n {project}",
                workloads.into_iter().collect::<Vec<_>>().join(" ")
            )
        };
        let fix = if input.injection_enabled {
            format!(
                "Sidecar injection is on for {project}, so these pods started before it was, \
                 or opt out (label or annotation sidecar.istio.io/inject: \"false\"): remove \
                 any opt-out, then {restart}."
            )
        } else {
            format!(
                "Turn on sidecar injection for the project (Applications → Enable sidecar \
                 injection, or kubectl label namespace {project} istio-injection=enabled), \
                 then {restart}."
            )
        };
        out.push(Finding {
            severity: Severity::Warning,
            kind: FindingKind::MissingSidecar,
            service: Some(svc.name.clone()),
            object: format!("Service {}", svc.name),
            problem: format!(
                "{} of {} pods of {} run without the istio-proxy sidecar ({}): the mesh \
                 neither routes, measures nor traces their traffic, and routing rules do not \
                 apply to the calls they make.",
                bare.len(),
                behind.len(),
                svc.name,
                few(&names)
            ),
            fix,
        });
    }
}

/// Ambient mode: ztunnel carries traffic at L4, and only a waypoint applies L7 routing.
/// A Service with VirtualServices, HTTPRoutes or a release job but no waypoint has
/// routing that applies to nothing.
pub(super) fn missing_waypoints(
    input: &DiagnosisInputs<'_>,
    p: &Parsed<'_>,
    out: &mut Vec<Finding>,
) {
    let project = input.project;
    for svc in &input.mesh.services {
        if !input.dataplane.lacks_waypoint(&svc.labels) {
            continue;
        }
        let name = svc.name.as_str();
        let mut routing: Vec<String> = p
            .virtual_services
            .iter()
            .filter(|vs| {
                vs.applies_to_mesh()
                    && vs
                        .hosts
                        .iter()
                        .any(|h| local_service(h, project) == Some(name))
            })
            .map(|vs| format!("VirtualService {}", vs.name))
            .collect();
        routing.extend(
            p.http_routes
                .iter()
                .filter(|r| {
                    r.parents
                        .iter()
                        .any(|r| r.local_service(project) == Some(name))
                })
                .map(|r| format!("HTTPRoute {}", r.name)),
        );
        routing.extend(
            input
                .jobs
                .iter()
                .filter(|j| j.spec.component == name)
                .map(|j| format!("release job {}", j.name)),
        );
        if routing.is_empty() {
            continue;
        }
        routing.sort();
        routing.dedup();
        out.push(Finding {
            severity: Severity::Error,
            kind: FindingKind::NoWaypoint,
            service: Some(name.to_string()),
            object: routing.join(", "),
            problem: format!(
                "{project} runs in Istio's ambient mode and no waypoint serves {name}: \
                 ztunnel carries its traffic at L4 only, so {} applies to nothing (no \
                 traffic split, matches, mirroring or L7 metrics).",
                routing.join(", ")
            ),
            fix: format!(
                "Deploy a waypoint and enrol the project (istioctl waypoint apply -n \
                 {project} --enroll-namespace), or only this Service (kubectl label service \
                 {name} -n {project} istio.io/use-waypoint=waypoint)."
            ),
        });
    }
}

/// Protocols Istio reads from a port name's prefix (before the first `-`) or from
/// `appProtocol` (Istio's `protocol.Parse`, case-insensitive).
const PROTOCOLS: [&str; 12] = [
    "http",
    "http2",
    "https",
    "grpc",
    "grpc-web",
    "http_proxy",
    "tcp",
    "tls",
    "udp",
    "mongo",
    "mysql",
    "redis",
];

/// `appProtocol` values Istio understands besides [`PROTOCOLS`].
const KUBERNETES_APP_PROTOCOLS: [&str; 3] =
    ["kubernetes.io/h2c", "kubernetes.io/ws", "kubernetes.io/wss"];

pub(super) fn names_protocol(port_name: &str) -> bool {
    let prefix = port_name.split('-').next().unwrap_or_default();
    PROTOCOLS.iter().any(|p| p.eq_ignore_ascii_case(prefix))
}

fn known_app_protocol(app_protocol: &str) -> bool {
    PROTOCOLS
        .iter()
        .chain(KUBERNETES_APP_PROTOCOLS.iter())
        .any(|p| p.eq_ignore_ascii_case(app_protocol))
}

/// Service ports whose protocol Istio has to guess: no `<protocol>[-suffix]` name and no
/// `appProtocol` it knows.
pub(super) fn unnamed_ports(input: &DiagnosisInputs<'_>, out: &mut Vec<Finding>) {
    let project = input.project;
    for svc in &input.mesh.services {
        for (i, port) in svc.ports.iter().enumerate() {
            // UDP and SCTP are not proxied by Istio: their names do not matter to it.
            if !port.protocol.eq_ignore_ascii_case("TCP") {
                continue;
            }
            let name = port.name.as_deref().filter(|n| !n.is_empty());
            let what = match (port.app_protocol.as_deref(), name) {
                (Some(a), _) if known_app_protocol(a) => continue,
                (Some(a), _) => {
                    format!("has appProtocol \"{a}\", which is no protocol Istio knows")
                }
                (None, Some(n)) if names_protocol(n) => continue,
                (None, Some(n)) => format!("is named \"{n}\", which names no protocol"),
                (None, None) => "has no name".to_string(),
            };
            let suggested = match name {
                Some(n) => format!("http-{n}"),
                None if svc.ports.len() == 1 => "http".to_string(),
                None => format!("http-{}", port.port),
            };
            out.push(Finding {
                severity: Severity::Warning,
                kind: FindingKind::UnnamedPort,
                service: Some(svc.name.clone()),
                object: format!("Service {}", svc.name),
                problem: format!(
                    "Port {} {what}, so Istio does not know its protocol: it guesses, or \
                     treats the traffic as plain TCP, and then HTTP routing rules, retries, \
                     per-response-code metrics and tracing may not apply to it.",
                    port.port
                ),
                fix: format!(
                    "Name the port after its protocol, e.g. {suggested} (or grpc-…, tcp-…), or \
                     set its appProtocol (http, grpc, …): kubectl patch service {} -n {project} \
                     --type json -p '[{{\"op\":\"add\",\"path\":\"/spec/ports/{i}/name\",\"value\":\"{suggested}\"}}]'",
                    svc.name
                ),
            });
        }
    }
}

/// Two VirtualServices for one host: sidecars use one of them, gateways merge them in no
/// guaranteed order.
pub(super) fn duplicate_hosts(p: &Parsed<'_>, out: &mut Vec<Finding>) {
    // (where it applies, host as Istio matches it) -> VirtualService names.
    let mut by_host: BTreeMap<(&str, &str), Vec<usize>> = BTreeMap::new();
    for (i, vs) in p.virtual_services.iter().enumerate() {
        for host in &vs.hosts {
            if vs.applies_to_mesh() {
                let key = local_service(host, p.project).unwrap_or(host);
                by_host.entry(("mesh", key)).or_default().push(i);
            }
            for g in vs.gateways.iter().filter(|g| **g != "mesh") {
                by_host.entry((g, host)).or_default().push(i);
            }
        }
    }
    for ((scope, host), mut idx) in by_host {
        idx.dedup();
        if idx.len() < 2 {
            continue;
        }
        let names: Vec<&str> = idx.iter().map(|i| p.virtual_services[*i].name).collect();
        let service = if scope == "mesh" {
            p.existing(host)
        } else {
            idx.iter()
                .flat_map(|i| p.virtual_services[*i].destinations.iter())
                .find_map(|d| p.existing(d.host))
        };
        let problem = if scope == "mesh" {
            format!(
                "VirtualServices {} all route host {host}: the sidecars apply only one of \
                 them, so the others' rules are silently ignored.",
                names.join(", ")
            )
        } else {
            format!(
                "VirtualServices {} all route host {host} on gateway {scope}: Istio merges \
                 them in no guaranteed order, so which rule matches first is not defined.",
                names.join(", ")
            )
        };
        out.push(Finding {
            severity: Severity::Warning,
            kind: FindingKind::DuplicateHost,
            service: service.map(str::to_string),
            object: format!("VirtualServices {}", names.join(", ")),
            problem,
            fix: format!(
                "Merge their routes into one VirtualService and delete the others (kubectl \
                 delete virtualservice {} -n {}).",
                names[1..].join(" "),
                p.project
            ),
        });
    }
}

/// Routing that names a Service of the project that does not exist.
pub(super) fn unknown_services(p: &Parsed<'_>, out: &mut Vec<Finding>) {
    let project = p.project;
    for vs in &p.virtual_services {
        let object = format!("VirtualService {}", vs.name);
        let own = vs.hosts.iter().find_map(|h| p.existing(h));
        if vs.applies_to_mesh() {
            for host in &vs.hosts {
                if let Some(missing) = p.missing(host) {
                    out.push(Finding {
                        severity: Severity::Error,
                        kind: FindingKind::UnknownService,
                        service: None,
                        object: object.clone(),
                        problem: format!(
                            "It is for host \"{host}\", but there is no Service {missing} in \
                             {project}: its rules apply to no traffic."
                        ),
                        fix: format!(
                            "Change the host to an existing Service{}, or delete the \
                             VirtualService.",
                            p.did_you_mean(missing)
                        ),
                    });
                }
            }
        }
        let mut seen = BTreeSet::new();
        for d in &vs.destinations {
            let Some(missing) = p.missing(d.host) else {
                continue;
            };
            if !seen.insert(missing) {
                continue;
            }
            out.push(Finding {
                severity: if d.mirror {
                    Severity::Warning
                } else {
                    Severity::Error
                },
                kind: FindingKind::UnknownService,
                service: own.map(str::to_string),
                object: object.clone(),
                problem: format!(
                    "It sends {} to host \"{}\", but there is no Service {missing} in \
                     {project}: {}.",
                    if d.mirror {
                        "a copy of its requests"
                    } else {
                        "requests"
                    },
                    d.host,
                    if d.mirror {
                        "the copies are dropped"
                    } else {
                        "those requests fail with HTTP 503"
                    }
                ),
                fix: format!(
                    "Point the destination at an existing Service{}, or create the Service \
                     {missing}.",
                    p.did_you_mean(missing)
                ),
            });
        }
    }
    for dr in &p.destination_rules {
        if let Some(missing) = p.missing(dr.host) {
            out.push(Finding {
                severity: Severity::Warning,
                kind: FindingKind::UnknownService,
                service: None,
                object: format!("DestinationRule {}", dr.name),
                problem: format!(
                    "It is for host \"{}\", but there is no Service {missing} in {project}: \
                     its subsets and traffic policy apply to nothing.",
                    dr.host
                ),
                fix: format!(
                    "Change the host to an existing Service{}, or delete the DestinationRule.",
                    p.did_you_mean(missing)
                ),
            });
        }
    }
    for route in &p.http_routes {
        let object = format!("HTTPRoute {}", route.name);
        let mut own = None;
        for parent in &route.parents {
            let Some(name) = parent.local_service(project) else {
                continue;
            };
            if p.services.contains_key(name) {
                own = own.or(Some(name));
                continue;
            }
            out.push(Finding {
                severity: Severity::Error,
                kind: FindingKind::UnknownService,
                service: None,
                object: object.clone(),
                problem: format!(
                    "It is attached to Service {name}, which does not exist in {project}: the \
                     route applies to no traffic."
                ),
                fix: format!(
                    "Change the parentRef to an existing Service{}, or delete the HTTPRoute.",
                    p.did_you_mean(name)
                ),
            });
        }
        let mut seen = BTreeSet::new();
        for backend in &route.backends {
            let Some(name) = backend.local_service(project) else {
                continue;
            };
            if p.services.contains_key(name) {
                own = own.or(Some(name));
                continue;
            }
            if !seen.insert(name) {
                continue;
            }
            out.push(Finding {
                severity: Severity::Error,
                kind: FindingKind::UnknownService,
                service: own.map(str::to_string),
                object: object.clone(),
                problem: format!(
                    "It sends requests to Service {name}, which does not exist in {project}: \
                     those requests fail with HTTP 500."
                ),
                fix: format!(
                    "Point the backendRef at an existing Service{}, or create the Service \
                     {name}.",
                    p.did_you_mean(name)
                ),
            });
        }
    }
}
