//! The diagnosis on Istio's own manifests (testdata/istio, and the Bookinfo the console
//! deploys from assets/istio): each check on the configuration a person would really
//! have, and "Normal" where nothing is wrong.

use serde_json::{Value, json};

use super::*;
use crate::domain::applications::WorkloadInfo;
use crate::domain::release::jobs::{JobView, VersionView};
use crate::domain::release::render;
use crate::domain::release::{ReleaseSpec, Strategy};
use crate::domain::topology::{Graph, GraphView, Health, Node, Thresholds};

const BOOKINFO: &str = include_str!("../../../assets/istio/bookinfo.yaml");
const GATEWAY: &str = include_str!("../../../assets/istio/bookinfo-gateway.yaml");
const P: &str = "bookinfo";

fn testdata(name: &str) -> String {
    let path = format!("{}/testdata/istio/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn docs(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(Value::is_object)
        .collect()
}

fn of_kind(yaml: &str, kind: &str) -> Vec<Value> {
    docs(yaml)
        .into_iter()
        .filter(|d| d["kind"] == kind)
        .collect()
}

/// A running pod of a Bookinfo Deployment, with or without its sidecar.
fn pod_of(deployment: &Value, sidecar: bool) -> MeshPod {
    let mut containers = vec![json!({"name": "app"})];
    if sidecar {
        containers.push(json!({"name": "istio-proxy"}));
    }
    let pod = json!({
        "metadata": {
            "name": format!("{}-7d4b9c-x2k4p", deployment["metadata"]["name"].as_str().unwrap()),
            "labels": deployment["spec"]["template"]["metadata"]["labels"],
        },
        "spec": {"containers": containers},
    });
    MeshPod::from_object(&pod).unwrap()
}

fn workload_of(deployment: &Value) -> WorkloadInfo {
    let labels: BTreeMap<String, String> =
        serde_json::from_value(deployment["spec"]["template"]["metadata"]["labels"].clone())
            .unwrap();
    WorkloadInfo {
        name: deployment["metadata"]["name"].as_str().unwrap().into(),
        pod_labels: labels,
        images: vec![],
        desired: 1,
        ready: 1,
        updated: 1,
        available: 1,
        restarts: 0,
        failure: None,
        pods_with_sidecar: 1,
        pods: 1,
        created: None,
        age_seconds: None,
    }
}

/// Bookinfo with the Deployments named (all have pods with sidecars), and routing.
struct Mesh {
    config: MeshConfig,
    workloads: Vec<WorkloadInfo>,
    jobs: Vec<JobView>,
    injection: bool,
    dataplane: crate::domain::dataplane::ProjectDataPlane,
}

impl Mesh {
    fn bookinfo(deployments: &[&str]) -> Mesh {
        let deploys: Vec<Value> = of_kind(BOOKINFO, "Deployment")
            .into_iter()
            .filter(|d| deployments.contains(&d["metadata"]["name"].as_str().unwrap()))
            .collect();
        Mesh {
            config: MeshConfig {
                services: of_kind(BOOKINFO, "Service")
                    .iter()
                    .map(MeshService::from_object)
                    .collect(),
                pods: deploys.iter().map(|d| pod_of(d, true)).collect(),
                ..MeshConfig::default()
            },
            workloads: deploys.iter().map(workload_of).collect(),
            jobs: vec![],
            injection: true,
            dataplane: Default::default(),
        }
    }

    /// What Deploy Sample Application leaves: reviews v1 only.
    fn sample() -> Mesh {
        Mesh::bookinfo(&["productpage-v1", "details-v1", "ratings-v1", "reviews-v1"])
    }

    fn with(mut self, yaml: &str) -> Mesh {
        for d in docs(yaml) {
            match d["kind"].as_str() {
                Some("VirtualService") => self.config.virtual_services.push(d),
                Some("DestinationRule") => self.config.destination_rules.push(d),
                Some("HTTPRoute") => self.config.http_routes.push(d),
                Some("Service") => self.config.services.push(MeshService::from_object(&d)),
                _ => {}
            }
        }
        self
    }

    fn run(&self, project: &str) -> ServicesView {
        diagnose(DiagnosisInputs {
            project,
            injection_enabled: self.injection,
            dataplane: &self.dataplane,
            mesh: &self.config,
            workloads: &self.workloads,
            jobs: &self.jobs,
        })
    }
}

fn row<'a>(view: &'a ServicesView, name: &str) -> &'a ServiceRow {
    view.services
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no row {name}: {view:#?}"))
}

fn kinds(row: &ServiceRow) -> Vec<(Severity, FindingKind)> {
    row.findings.iter().map(|f| (f.severity, f.kind)).collect()
}

#[test]
fn the_sample_application_as_deployed_is_normal_everywhere() {
    let view = Mesh::sample().run(P);
    let names: Vec<&str> = view.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["details", "productpage", "ratings", "reviews"]);
    for s in &view.services {
        assert!(s.is_normal(), "{s:#?}");
    }
    assert!(view.other.is_empty());
    assert_eq!(view.summary(), "4 services, all Normal.");
    let reviews = row(&view, "reviews");
    assert_eq!(reviews.ports, ["http 9080/TCP"]);
    assert_eq!(reviews.app, "reviews");
    assert_eq!(reviews.versions.len(), 1);
    assert_eq!(reviews.versions[0].workload, "reviews-v1");
    assert_eq!(reviews.versions[0].version.as_deref(), Some("v1"));
}

#[test]
fn istios_own_routing_on_full_bookinfo_is_normal_but_for_versions_it_does_not_deploy() {
    // Istio's virtual-service-all-v1 + destination-rule-all on the whole of Bookinfo.
    let mesh = Mesh::bookinfo(&[
        "productpage-v1",
        "details-v1",
        "ratings-v1",
        "reviews-v1",
        "reviews-v2",
        "reviews-v3",
    ])
    .with(&testdata("virtual-service-all-v1.yaml"))
    .with(&testdata("destination-rule-all.yaml"));
    let view = mesh.run(P);
    assert!(row(&view, "productpage").is_normal());
    assert!(row(&view, "reviews").is_normal(), "{view:#?}");
    assert_eq!(row(&view, "reviews").versions.len(), 3);
    // destination-rule-all defines ratings v2, v2-mysql, v2-mysql-vm and details v2,
    // which plain Bookinfo does not run: nothing routes there, so warnings only.
    let ratings = row(&view, "ratings");
    assert_eq!(
        kinds(ratings),
        [(Severity::Warning, FindingKind::EmptySubset); 3]
    );
    assert!(
        ratings.findings[0].problem.contains("version=v2"),
        "{ratings:#?}"
    );
    assert!(
        ratings.findings[0]
            .problem
            .contains("its pods have version v1"),
        "{ratings:#?}"
    );
    assert_eq!(
        kinds(row(&view, "details")),
        [(Severity::Warning, FindingKind::EmptySubset)]
    );
}

#[test]
fn routing_to_a_version_without_pods_fails_requests() {
    // The sample runs reviews v1 only; Istio's "reviews all to v3" routes to nothing.
    let view = Mesh::sample()
        .with(&testdata("destination-rule-all.yaml"))
        .with(&testdata("virtual-service-reviews-v3.yaml"))
        .run(P);
    let reviews = row(&view, "reviews");
    let v3 = reviews
        .findings
        .iter()
        .find(|f| f.problem.contains("\"v3\""))
        .unwrap();
    assert_eq!(
        (v3.severity, v3.kind),
        (Severity::Error, FindingKind::EmptySubset)
    );
    assert_eq!(v3.object, "DestinationRule reviews");
    assert!(
        v3.problem
            .contains("VirtualService reviews sends traffic there"),
        "{v3:#?}"
    );
    assert!(v3.problem.contains("HTTP 503"), "{v3:#?}");
    assert!(v3.fix.contains("version=v3"), "{v3:#?}");
    // Errors come before warnings (v2 is defined but nothing routes there).
    assert_eq!(reviews.findings[0].severity, Severity::Error);
    assert_eq!(reviews.findings.last().unwrap().severity, Severity::Warning);
}

#[test]
fn istios_analyzer_cases_for_bogus_subsets() {
    // Istio's own analyzer test data: a route and a mirror to subset "bogus", and the
    // valid cases (short host, FQDN host, mirror to a defined subset), in namespace default.
    let view = Mesh::sample()
        .with(&testdata("virtualservice_destinationrules.yaml"))
        .run("default");
    let reviews = row(&view, "reviews");
    let found: Vec<(Severity, &str)> = reviews
        .findings
        .iter()
        .map(|f| (f.severity, f.object.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (Severity::Error, "VirtualService reviews-bogussubset"),
            (
                Severity::Warning,
                "VirtualService reviews-mirror-bogussubset"
            ),
        ],
        "{reviews:#?}"
    );
    let bogus = &reviews.findings[0];
    assert_eq!(bogus.kind, FindingKind::UndefinedSubset);
    assert!(
        bogus.problem.contains(
            "subset \"bogus\" of reviews, which no DestinationRule defines (defined: v1)"
        ),
        "{bogus:#?}"
    );
    assert!(bogus.fix.contains("Add a subset bogus"), "{bogus:#?}");
    assert!(bogus.fix.contains("DestinationRule reviews"), "{bogus:#?}");
    assert!(reviews.findings[1].problem.contains("copy of its requests"));
}

#[test]
fn subsets_without_any_destination_rule() {
    let view = Mesh::sample()
        .with(&testdata("virtual-service-reviews-80-20.yaml"))
        .run(P);
    let reviews = row(&view, "reviews");
    assert_eq!(
        kinds(reviews),
        [(Severity::Error, FindingKind::UndefinedSubset); 2]
    );
    assert_eq!(view.summary(), "2 problems, in 1 of 4 services.");
    assert!(
        reviews.findings[0]
            .problem
            .contains("there is no DestinationRule for reviews")
    );
    assert!(
        reviews.findings[0]
            .fix
            .starts_with("Create a DestinationRule for host reviews")
    );
}

#[test]
fn pods_without_sidecar_say_how_to_get_one() {
    let mut mesh = Mesh::sample();
    for p in mesh
        .config
        .pods
        .iter_mut()
        .filter(|p| p.name.starts_with("ratings"))
    {
        p.sidecar = false;
    }
    mesh.injection = false;
    let view = mesh.run(P);
    let ratings = row(&view, "ratings");
    assert_eq!(
        kinds(ratings),
        [(Severity::Warning, FindingKind::MissingSidecar)]
    );
    let f = &ratings.findings[0];
    assert!(
        f.problem
            .starts_with("1 of 1 pods of ratings run without the istio-proxy sidecar (ratings-v1-"),
        "{f:#?}"
    );
    assert!(
        f.fix
            .contains("kubectl label namespace bookinfo istio-injection=enabled"),
        "{f:#?}"
    );
    assert!(
        f.fix
            .contains("kubectl rollout restart deployment ratings-v1 -n bookinfo"),
        "{f:#?}"
    );
    mesh.injection = true;
    let view = mesh.run(P);
    let f = &row(&view, "ratings").findings[0];
    assert!(
        f.fix.starts_with("Sidecar injection is on for bookinfo"),
        "{f:#?}"
    );
    // Pods being deleted do not count.
    let gone = json!({"metadata": {"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}});
    assert_eq!(MeshPod::from_object(&gone), None);
}

#[test]
fn ports_must_name_their_protocol() {
    let mut mesh = Mesh::sample();
    let details = mesh
        .config
        .services
        .iter_mut()
        .find(|s| s.name == "details")
        .unwrap();
    details.ports[0].name = Some("web".into());
    let ratings = mesh
        .config
        .services
        .iter_mut()
        .find(|s| s.name == "ratings")
        .unwrap();
    ratings.ports[0].name = None;
    let reviews = mesh
        .config
        .services
        .iter_mut()
        .find(|s| s.name == "reviews")
        .unwrap();
    reviews.ports[0].name = Some("api".into());
    reviews.ports[0].app_protocol = Some("http".into());
    reviews.ports.push(ServicePort {
        name: None,
        port: 5353,
        protocol: "UDP".into(),
        app_protocol: None,
    });
    let view = mesh.run(P);
    let d = &row(&view, "details").findings;
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0].kind, FindingKind::UnnamedPort);
    assert!(
        d[0].problem
            .starts_with("Port 9080 is named \"web\", which names no protocol")
    );
    assert!(d[0].fix.contains("e.g. http-web"), "{:?}", d[0].fix);
    assert!(
        d[0].fix.contains(r#"kubectl patch service details -n bookinfo --type json -p '[{"op":"add","path":"/spec/ports/0/name","value":"http-web"}]'"#),
        "{:?}",
        d[0].fix
    );
    assert_eq!(row(&view, "details").ports, ["web 9080/TCP"]);
    let r = &row(&view, "ratings").findings[0];
    assert!(r.problem.starts_with("Port 9080 has no name"), "{r:#?}");
    assert!(r.fix.contains("\"value\":\"http\""), "{r:#?}");
    // appProtocol decides over the name; UDP is not Istio's business.
    assert!(row(&view, "reviews").is_normal(), "{view:#?}");
    for ok in [
        "http",
        "HTTP2",
        "grpc-web",
        "tcp-db",
        "https-admin",
        "mysql",
        "tls",
    ] {
        assert!(checks::names_protocol(ok), "{ok}");
    }
    for bad in ["web", "api-http", "", "h2"] {
        assert!(!checks::names_protocol(bad), "{bad}");
    }
}

#[test]
fn two_virtual_services_for_one_host() {
    let canary = testdata("virtual-service-reviews-80-20.yaml")
        .replace("name: reviews\n", "name: reviews-canary\n");
    let view = Mesh::bookinfo(&[
        "productpage-v1",
        "details-v1",
        "ratings-v1",
        "reviews-v1",
        "reviews-v2",
    ])
    .with(&testdata("destination-rule-all.yaml"))
    .with(&testdata("virtual-service-all-v1.yaml"))
    .with(&canary)
    .with(GATEWAY)
    .run(P);
    let reviews = row(&view, "reviews");
    let dup = reviews
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::DuplicateHost)
        .unwrap_or_else(|| panic!("{reviews:#?}"));
    assert_eq!(dup.object, "VirtualServices reviews, reviews-canary");
    assert!(dup.problem.contains("all route host reviews"), "{dup:#?}");
    assert!(
        dup.fix
            .contains("kubectl delete virtualservice reviews-canary -n bookinfo")
    );
    // The ingress VirtualService is for a gateway host: no clash with the mesh ones.
    assert!(row(&view, "productpage").is_normal(), "{view:#?}");
}

#[test]
fn routing_that_names_services_that_do_not_exist() {
    let typo = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: revews}
spec:
  hosts: [revews]
  http:
  - route:
    - destination: {host: reviews}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings.bookinfo.svc.cluster.local]
  http:
  - route:
    - destination: {host: ratingz}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external}
spec:
  hosts: [www.example.com, reviews.other.svc.cluster.local]
  http:
  - route:
    - destination: {host: www.example.com}
"#;
    let view = Mesh::sample().with(typo).run(P);
    assert_eq!(view.other.len(), 1, "{view:#?}");
    let host = &view.other[0];
    assert_eq!(
        (host.severity, host.kind),
        (Severity::Error, FindingKind::UnknownService)
    );
    assert!(
        host.problem.contains("no Service revews in bookinfo"),
        "{host:#?}"
    );
    assert!(host.fix.contains("(did you mean reviews?)"), "{host:#?}");
    let ratings = row(&view, "ratings");
    assert_eq!(
        kinds(ratings),
        [(Severity::Error, FindingKind::UnknownService)]
    );
    assert!(ratings.findings[0].problem.contains("host \"ratingz\""));
    assert!(ratings.findings[0].fix.contains("did you mean ratings?"));
    // Other namespaces and external hosts are not judged.
    assert!(row(&view, "reviews").is_normal());
}

#[test]
fn gateway_api_routes_to_version_services() {
    // Istio's Gateway API sample splits reviews over the per-version Services of
    // bookinfo-versions.yaml; without them, the backends do not exist.
    let mesh = Mesh::bookinfo(&[
        "productpage-v1",
        "details-v1",
        "ratings-v1",
        "reviews-v1",
        "reviews-v2",
    ])
    .with(&testdata("gateway-api-route-reviews-90-10.yaml"));
    let view = mesh.run(P);
    let reviews = row(&view, "reviews");
    assert_eq!(
        kinds(reviews),
        [(Severity::Error, FindingKind::UnknownService); 2]
    );
    assert_eq!(reviews.findings[0].object, "HTTPRoute reviews");
    assert!(
        reviews.findings[0]
            .problem
            .contains("Service reviews-v1, which does not exist")
    );
    let view = mesh.with(&testdata("bookinfo-versions.yaml")).run(P);
    assert!(row(&view, "reviews").is_normal(), "{view:#?}");
    assert_eq!(row(&view, "reviews-v1").versions[0].workload, "reviews-v1");
}

fn canary_job(phase: &str) -> JobView {
    let spec = ReleaseSpec {
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
    };
    let version = |v: &str, w: &str, weight| VersionView {
        version: v.into(),
        workload: w.into(),
        image: String::new(),
        desired: 1,
        ready: 1,
        weight,
    };
    JobView {
        name: "canary-release".into(),
        project: P.into(),
        spec,
        offline_keep: None,
        phase: Some(phase.into()),
        message: None,
        versions: vec![
            version("v1", "reviews-v1", 50),
            version("v2", "reviews-v2", 50),
        ],
        generation: 1,
        age_seconds: None,
        analysis: None,
        next_check_in: None,
    }
}

/// Bookinfo during the tutorial's canary release, routed as the controller renders it.
fn mid_release() -> Mesh {
    let mut mesh = Mesh::bookinfo(&[
        "productpage-v1",
        "details-v1",
        "ratings-v1",
        "reviews-v1",
        "reviews-v2",
    ]);
    let job = canary_job("Live");
    let (vs, _, _) = render::virtual_service(&job.spec, &job.name, P, &[1, 1]);
    mesh.config.virtual_services.push(vs);
    mesh.config
        .destination_rules
        .push(render::destination_rule(&job.spec, &job.name, P));
    mesh.jobs.push(job);
    mesh
}

#[test]
fn a_release_as_the_job_renders_it_is_normal() {
    let view = mid_release().run(P);
    assert!(row(&view, "reviews").is_normal(), "{view:#?}");
    // API servers may keep 50 as 50.0; it is the same routing.
    let mut mesh = mid_release();
    mesh.config.virtual_services[0]["spec"]["http"][0]["route"][0]["weight"] = json!(50.0);
    assert!(row(&mesh.run(P), "reviews").is_normal());
}

#[test]
fn release_routing_edited_by_hand_is_reported_with_the_weights() {
    let mut mesh = mid_release();
    let route = &mut mesh.config.virtual_services[0]["spec"]["http"][0]["route"];
    route[0]["weight"] = json!(80);
    route[1]["weight"] = json!(20);
    let reviews = row(&mesh.run(P), "reviews").clone();
    assert_eq!(
        kinds(&reviews),
        [(Severity::Warning, FindingKind::HandEditedRelease)]
    );
    let f = &reviews.findings[0];
    assert_eq!(f.object, "VirtualService reviews");
    assert_eq!(
        f.problem,
        "It was edited by hand: it sends v1 80% / v2 20%, but release job canary-release set v1 50% / v2 50%."
    );
    assert!(
        f.fix.starts_with("Change traffic on the job's page"),
        "{f:#?}"
    );

    // A DestinationRule whose subsets were changed is reported too.
    let mut mesh = mid_release();
    mesh.config.destination_rules[0]["spec"]["subsets"][1]["labels"]["version"] =
        json!("v2-edited");
    let reviews = row(&mesh.run(P), "reviews").clone();
    assert!(
        reviews
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::HandEditedRelease
                && f.object == "DestinationRule reviews"
                && f.problem
                    .contains("differs from what release job canary-release configures")),
        "{reviews:#?}"
    );
}

#[test]
fn release_routing_without_the_managed_by_label_stops_the_job() {
    let mut mesh = mid_release();
    mesh.config.virtual_services[0]["metadata"]["labels"]
        .as_object_mut()
        .unwrap()
        .remove("app.kubernetes.io/managed-by");
    mesh.jobs[0].phase = Some("Failed".into());
    let reviews = row(&mesh.run(P), "reviews").clone();
    assert_eq!(
        kinds(&reviews),
        [(Severity::Error, FindingKind::HandEditedRelease)]
    );
    let f = &reviews.findings[0];
    assert!(
        f.problem
            .contains("not labelled app.kubernetes.io/managed-by=sluice"),
        "{f:#?}"
    );
    assert!(
        f.fix.contains(
            "kubectl label virtualservice reviews -n bookinfo app.kubernetes.io/managed-by=sluice"
        ),
        "{f:#?}"
    );
    // A job the controller has not acted on yet is not judged.
    mesh.jobs[0].phase = None;
    assert!(row(&mesh.run(P), "reviews").is_normal());
}

#[test]
fn the_topology_badges_services_with_findings() {
    let view = Mesh::sample()
        .with(&testdata("virtual-service-reviews-80-20.yaml"))
        .run(P);
    let node = |id: &str, name: &str| Node {
        id: id.into(),
        kind: NodeKind::Service,
        namespace: P.into(),
        name: name.into(),
        app: None,
        version: None,
        parent: None,
        health: Health::Idle,
        rps_in: 0.0,
        rps_out: 0.0,
        error_ratio: None,
        badges: vec![],
    };
    let mut graph = Graph {
        project: P.into(),
        window_minutes: 5,
        at: 0.0,
        thresholds: Thresholds::default(),
        nodes: vec![
            node(&node_id_service(P, "reviews"), "reviews"),
            node(&node_id_service(P, "ratings"), "ratings"),
        ],
        edges: vec![],
        view: GraphView::Versioned,
        view_auto: false,
    };
    mark_graph(&mut graph, &view);
    assert_eq!(
        graph.nodes[0].badges,
        [Badge::ConfigProblems(vec![
            "route to an undefined subset (VirtualService reviews)".into()
        ])]
    );
    assert!(graph.nodes[1].badges.is_empty());
}

#[test]
fn http_routes_attached_to_a_service_are_found_by_their_parent_refs() {
    // Istio's sample attaches the route to Service reviews (Gateway API mesh routing).
    let routes = of_kind(
        &testdata("gateway-api-route-reviews-90-10.yaml"),
        "HTTPRoute",
    );
    assert_eq!(
        super::http_routes_attached_to(&routes, P, "reviews"),
        ["reviews"]
    );
    // Its backends (reviews-v1, reviews-v2) are not what it is attached to.
    assert!(super::http_routes_attached_to(&routes, P, "reviews-v1").is_empty());
    // A route of a Gateway (the default parent kind) routes no Service in the mesh.
    let gateway_route: Value = serde_json::json!({
        "metadata": {"name": "bookinfo"},
        "spec": {"parentRefs": [{"name": "bookinfo-gateway"}],
                 "rules": [{"backendRefs": [{"name": "productpage", "port": 9080}]}]}
    });
    assert!(super::http_routes_attached_to(&[gateway_route], P, "productpage").is_empty());
    // A parentRef to a Service of another namespace is not this project's.
    let elsewhere: Value = serde_json::json!({
        "metadata": {"name": "r"},
        "spec": {"parentRefs": [{"group": "", "kind": "Service", "name": "reviews",
                                 "namespace": "other"}]}
    });
    assert!(super::http_routes_attached_to(&[elsewhere], P, "reviews").is_empty());
}

#[test]
fn ambient_projects_need_a_waypoint_for_routing_not_sidecars() {
    use crate::domain::dataplane::{ProjectDataPlane, USE_WAYPOINT_LABEL};
    // Ambient Bookinfo: no sidecars anywhere, Istio's 80/20 split on reviews.
    let mut mesh = Mesh::sample()
        .with(&testdata("destination-rule-all.yaml"))
        .with(&testdata("virtual-service-reviews-80-20.yaml"));
    for p in &mut mesh.config.pods {
        p.sidecar = false;
    }
    mesh.injection = false;
    mesh.dataplane = ProjectDataPlane {
        ambient: true,
        waypoint: None,
    };
    let view = mesh.run(P);
    // No sidecar warnings in ambient mode, and Services without L7 routing are fine at L4.
    for name in ["productpage", "details", "ratings"] {
        let k = kinds(row(&view, name));
        assert!(
            !k.iter()
                .any(|(_, k)| matches!(k, FindingKind::MissingSidecar | FindingKind::NoWaypoint)),
            "{name}: {k:?}"
        );
    }
    let reviews = row(&view, "reviews");
    assert!(
        kinds(reviews).contains(&(Severity::Error, FindingKind::NoWaypoint)),
        "{reviews:#?}"
    );
    let f = reviews
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::NoWaypoint)
        .unwrap();
    assert_eq!(f.object, "VirtualService reviews");
    assert!(f.problem.contains("no waypoint serves reviews"), "{f:#?}");
    assert!(
        f.fix
            .contains("istioctl waypoint apply -n bookinfo --enroll-namespace"),
        "{f:#?}"
    );

    // Enrolled in a waypoint (the project's or the Service's own): the waypoint routes.
    mesh.dataplane.waypoint = Some("waypoint".into());
    let view = mesh.run(P);
    assert!(
        !kinds(row(&view, "reviews")).contains(&(Severity::Error, FindingKind::NoWaypoint)),
        "{view:#?}"
    );
    mesh.dataplane.waypoint = None;
    for s in &mut mesh.config.services {
        if s.name == "reviews" {
            s.labels
                .insert(USE_WAYPOINT_LABEL.into(), "reviews-waypoint".into());
        }
    }
    let view = mesh.run(P);
    assert!(
        !kinds(row(&view, "reviews")).contains(&(Severity::Error, FindingKind::NoWaypoint)),
        "{view:#?}"
    );
}

/// The tutorial's canary release on Gateway API: per-version Services and the HTTPRoute,
/// as the controller renders them.
fn mid_gateway_release() -> Mesh {
    let mut mesh = Mesh::bookinfo(&[
        "productpage-v1",
        "details-v1",
        "ratings-v1",
        "reviews-v1",
        "reviews-v2",
    ]);
    let mut job = canary_job("Live");
    job.spec.routing = crate::domain::release::Routing::HttpRoute;
    let service = json!({"metadata": {"labels": {"app": "reviews"}},
                         "spec": {"selector": {"app": "reviews"},
                                  "ports": [{"name": "http", "port": 9080}]}});
    let r = render::render(
        &job.spec,
        &job.name,
        P,
        &json!({}),
        &service,
        &Value::Null,
        &[1, 1],
    );
    for o in r.routing {
        match o["kind"].as_str() {
            Some("Service") => mesh.config.services.push(MeshService::from_object(&o)),
            _ => mesh.config.http_routes.push(o),
        }
    }
    mesh.jobs.push(job);
    mesh
}

#[test]
fn a_gateway_api_release_as_the_job_renders_it_is_normal_and_a_hand_edit_is_reported() {
    let view = mid_gateway_release().run(P);
    assert!(row(&view, "reviews").is_normal(), "{view:#?}");
    assert!(row(&view, "reviews-v2").is_normal(), "{view:#?}");
    let mut mesh = mid_gateway_release();
    let refs = &mut mesh.config.http_routes[0]["spec"]["rules"][0]["backendRefs"];
    refs[0]["weight"] = json!(90);
    refs[1]["weight"] = json!(10);
    let reviews = row(&mesh.run(P), "reviews").clone();
    assert_eq!(
        kinds(&reviews),
        [(Severity::Warning, FindingKind::HandEditedRelease)]
    );
    let problem = &reviews.findings[0].problem;
    assert!(
        problem.contains("reviews-v1 90% / reviews-v2 10%")
            && problem.contains("reviews-v1 50% / reviews-v2 50%"),
        "{problem}"
    );
}

#[test]
fn virtual_services_naming_a_service_are_found_by_their_hosts() {
    let vss = [
        json!({"metadata": {"name": "a"}, "spec": {"hosts": ["reviews"]}}),
        json!({"metadata": {"name": "b"}, "spec": {"hosts": [format!("reviews.{P}.svc.cluster.local")]}}),
        json!({"metadata": {"name": "c"}, "spec": {"hosts": ["reviews.elsewhere"]}}),
        json!({"metadata": {"name": "d"}, "spec": {"hosts": ["ratings"]}}),
    ];
    assert_eq!(super::virtual_services_for(&vss, P, "reviews"), ["a", "b"]);
}
