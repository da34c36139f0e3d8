//! "Uninstall Sample Application" (Huawei ASM's Experience Tasks → Uninstall): which
//! objects of a project are the sample's to remove, when removing them must wait, and
//! how far a removal has got. Pure: the server lists and deletes, this decides.
//!
//! The sample is what Deploy Sample Application created — every object carries
//! `app.kubernetes.io/managed-by=sluice` and `app.kubernetes.io/name=bookinfo` — plus the
//! versions and routing Sluice's release jobs added to its components later (labelled as
//! Sluice's and with the job's `sluice.dev/release`). Nothing else: a Deployment a person
//! added by hand stays, even when it serves one of the sample's Services.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::applications::{APP_LABEL, APP_NAME_LABEL, Application, ObjectRef};
use crate::domain::release::jobs::JobView;
use crate::domain::release::render::{MANAGED_BY, RELEASE_LABEL};

/// The application name the sample's objects carry in `app.kubernetes.io/name`.
pub const SAMPLE_APP: &str = "bookinfo";

/// The sample's components (its Services), as Deploy Sample Application creates them.
pub const COMPONENTS: [&str; 4] = ["productpage", "details", "reviews", "ratings"];

/// The label selector of the sample's pods.
pub fn pod_selector() -> String {
    format!("{APP_NAME_LABEL}={SAMPLE_APP}")
}

/// A kind of object, as the API serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectKind {
    pub api_version: &'static str,
    pub kind: &'static str,
}

const fn kind(api_version: &'static str, kind: &'static str) -> ObjectKind {
    ObjectKind { api_version, kind }
}

/// The kinds the sample and its releases create, in the order they are removed: routing
/// first, so no request is sent to a workload about to go; then the workloads (their
/// ReplicaSets and pods follow); then Services and accounts.
pub const REMOVAL_ORDER: [ObjectKind; 7] = [
    kind("networking.istio.io/v1", "VirtualService"),
    kind("gateway.networking.k8s.io/v1", "HTTPRoute"),
    kind("networking.istio.io/v1", "DestinationRule"),
    kind("networking.istio.io/v1", "Gateway"),
    kind("apps/v1", "Deployment"),
    kind("v1", "Service"),
    kind("v1", "ServiceAccount"),
];

pub const POD: ObjectKind = kind("v1", "Pod");

/// An object as listed for the uninstall: enough to decide about it and to delete it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterObject {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Deletion has started (a `deletionTimestamp`): pods terminating, finalizers pending.
    pub deleting: bool,
}

impl ClusterObject {
    pub fn reference(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.clone(),
            name: self.name.clone(),
        }
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// One of the sample's components, by its name or `app` label (`reviews`,
    /// `reviews-v2`).
    fn of_a_component(&self) -> bool {
        COMPONENTS.iter().any(|c| {
            self.name == *c
                || self
                    .name
                    .strip_prefix(c)
                    .is_some_and(|rest| rest.starts_with('-'))
                || self.label(APP_LABEL) == Some(c)
        })
    }

    /// Created by Deploy Sample Application, or by a release of one of its components.
    pub fn is_sample(&self) -> bool {
        if self.label(MANAGED_BY.0) != Some(MANAGED_BY.1) {
            return false;
        }
        self.label(APP_NAME_LABEL) == Some(SAMPLE_APP)
            || (self.labels.contains_key(RELEASE_LABEL) && self.of_a_component())
    }
}

/// The Applications page offers Uninstall next to the application Deploy Sample
/// Application created (its Services carry the console's label).
pub fn is_sample_application(app: &Application) -> bool {
    app.name == SAMPLE_APP
        && app
            .components
            .iter()
            .any(|c| c.service.labels.get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1))
}

/// The sample's objects among `objects`, in removal order.
pub fn plan(objects: &[ClusterObject]) -> Vec<&ClusterObject> {
    let rank = |o: &ClusterObject| {
        REMOVAL_ORDER
            .iter()
            .position(|k| k.kind == o.kind)
            .unwrap_or(REMOVAL_ORDER.len())
    };
    let mut out: Vec<&ClusterObject> = objects.iter().filter(|o| o.is_sample()).collect();
    out.sort_by(|a, b| (rank(a), &a.name).cmp(&(rank(b), &b.name)));
    out
}

/// Objects that look like part of the sample but that Sluice did not create: they stay.
pub fn kept(objects: &[ClusterObject]) -> Vec<ObjectRef> {
    objects
        .iter()
        .filter(|o| !o.is_sample() && o.kind != "ServiceAccount" && o.of_a_component())
        .map(ClusterObject::reference)
        .collect()
}

/// Why the sample cannot be removed now: each release job of one of its components
/// (removing its versions under a running release would leave the job stranded).
pub fn blockers(jobs: &[JobView]) -> Vec<String> {
    jobs.iter()
        .filter(|j| COMPONENTS.contains(&j.spec.component.as_str()))
        .map(|j| {
            format!(
                "{} has a release job {}: finish it (Take Over, Job Offline) or delete it first",
                j.spec.component, j.name
            )
        })
        .collect()
}

/// One object of the uninstall and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectState {
    pub kind: String,
    pub name: String,
    pub deleting: bool,
}

/// What Uninstall will remove (or is removing), shown before and during it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UninstallPreview {
    pub project: String,
    /// The sample's objects still there, in removal order.
    pub objects: Vec<ObjectState>,
    /// The sample's pods still there (they terminate after their Deployment goes).
    pub pods: Vec<String>,
    /// Objects that look like the sample's but that Sluice did not create: they stay.
    pub kept: Vec<ObjectRef>,
    /// Why Uninstall is refused now, if it is.
    pub blockers: Vec<String>,
}

impl UninstallPreview {
    pub fn new(
        project: &str,
        objects: &[ClusterObject],
        pods: &[ClusterObject],
        jobs: &[JobView],
    ) -> UninstallPreview {
        UninstallPreview {
            project: project.to_string(),
            objects: plan(objects)
                .into_iter()
                .map(|o| ObjectState {
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    deleting: o.deleting,
                })
                .collect(),
            pods: pods
                .iter()
                .filter(|p| p.label(MANAGED_BY.0) == Some(MANAGED_BY.1))
                .map(|p| p.name.clone())
                .collect(),
            kept: kept(objects),
            blockers: blockers(jobs),
        }
    }

    /// Nothing of the sample is left.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty() && self.pods.is_empty()
    }

    /// The refusal while a blocker stands.
    pub fn refusal(&self) -> Option<String> {
        (!self.blockers.is_empty())
            .then(|| format!("{}; nothing was removed.", self.blockers.join("; ")))
    }
}

/// Where one requested deletion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Deleting,
    Gone,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::Deleting => "deleting…",
            Step::Gone => "gone",
        }
    }
}

/// A removal under way: each requested object's step, and the pods still terminating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub objects: Vec<(ObjectRef, Step)>,
    pub pods_left: usize,
}

impl Progress {
    pub fn of(requested: &[ObjectRef], now: &UninstallPreview) -> Progress {
        let objects = requested
            .iter()
            .map(|r| {
                let there = now
                    .objects
                    .iter()
                    .any(|o| o.kind == r.kind && o.name == r.name);
                (r.clone(), if there { Step::Deleting } else { Step::Gone })
            })
            .collect();
        Progress {
            objects,
            pods_left: now.pods.len(),
        }
    }

    pub fn done(&self) -> bool {
        self.pods_left == 0 && self.objects.iter().all(|(_, s)| *s == Step::Gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::applications::{Component, ServiceInfo};
    use crate::domain::release::{ReleaseSpec, Strategy};

    fn object(kind: &str, name: &str, labels: &[(&str, &str)]) -> ClusterObject {
        let api_version = REMOVAL_ORDER
            .iter()
            .chain([&POD])
            .find(|k| k.kind == kind)
            .map(|k| k.api_version)
            .unwrap_or("v1");
        ClusterObject {
            api_version: api_version.into(),
            kind: kind.into(),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            deleting: false,
        }
    }

    const SAMPLE: [(&str, &str); 2] = [
        ("app.kubernetes.io/managed-by", "sluice"),
        ("app.kubernetes.io/name", "bookinfo"),
    ];

    /// A project after the tutorial: the sample, reviews v2 and routing from a release,
    /// and what a person added by hand.
    fn project() -> Vec<ClusterObject> {
        let release = [
            ("app.kubernetes.io/managed-by", "sluice"),
            ("sluice.dev/release", "canary-release"),
        ];
        vec![
            object("ServiceAccount", "bookinfo-reviews", &SAMPLE),
            object("ServiceAccount", "default", &[]),
            object(
                "Service",
                "reviews",
                &[SAMPLE[0], SAMPLE[1], ("app", "reviews")],
            ),
            object("Service", "productpage", &SAMPLE),
            object(
                "Deployment",
                "reviews-v1",
                &[SAMPLE[0], SAMPLE[1], ("app", "reviews")],
            ),
            // The release copied the base's labels and added the job's.
            object(
                "Deployment",
                "reviews-v2",
                &[SAMPLE[0], SAMPLE[1], release[1], ("app", "reviews")],
            ),
            object("VirtualService", "reviews", &release),
            object("DestinationRule", "reviews", &release),
            object("VirtualService", "bookinfo", &SAMPLE),
            object("Gateway", "bookinfo-gateway", &SAMPLE),
            // Added by hand: a third version of reviews, and someone else's app.
            object(
                "Deployment",
                "reviews-v3",
                &[("app", "reviews"), ("version", "v3")],
            ),
            object("Deployment", "shop", &[("app", "shop")]),
            // Another application's release: Sluice's, but not the sample's.
            object("VirtualService", "cart", &release),
            // Sluice's own trace sampling object is not part of the application either.
            object("Deployment", "notes", &[SAMPLE[0]]),
        ]
    }

    #[test]
    fn removes_what_the_sample_and_its_releases_created_in_order() {
        let objects = project();
        let planned: Vec<String> = plan(&objects)
            .iter()
            .map(|o| format!("{} {}", o.kind, o.name))
            .collect();
        assert_eq!(
            planned,
            [
                "VirtualService bookinfo",
                "VirtualService reviews",
                "DestinationRule reviews",
                "Gateway bookinfo-gateway",
                "Deployment reviews-v1",
                "Deployment reviews-v2",
                "Service productpage",
                "Service reviews",
                "ServiceAccount bookinfo-reviews",
            ]
        );
        let kept: Vec<String> = kept(&objects).iter().map(ToString::to_string).collect();
        assert_eq!(kept, ["Deployment reviews-v3"]);
    }

    #[test]
    fn a_release_job_of_a_component_blocks_the_uninstall() {
        let job = JobView {
            name: "canary-release".into(),
            project: "p".into(),
            spec: ReleaseSpec {
                component: "reviews".into(),
                base_workload: "reviews-v1".into(),
                base_version: "v1".into(),
                new_version: "v2".into(),
                image: "i".into(),
                replicas: 1,
                strategy: Strategy::TrafficRatio { new_percent: 50 },
                taken_over_by: None,
                creator: None,
                analysis: None,
                routing: Default::default(),
                also_serving: Vec::new(),
                http_route: None,
            },
            offline_keep: None,
            phase: Some("Live".into()),
            message: None,
            versions: vec![],
            generation: 1,
            age_seconds: None,
            analysis: None,
            next_check_in: None,
        };
        let mut other = job.clone();
        other.spec.component = "cart".into();
        let preview = UninstallPreview::new("p", &project(), &[], &[job, other]);
        assert_eq!(
            preview.refusal().as_deref(),
            Some(
                "reviews has a release job canary-release: finish it (Take Over, Job Offline) \
                 or delete it first; nothing was removed."
            )
        );
        assert!(
            UninstallPreview::new("p", &project(), &[], &[])
                .refusal()
                .is_none()
        );
    }

    #[test]
    fn progress_follows_objects_and_pods_until_all_are_gone() {
        let objects = project();
        let requested: Vec<ObjectRef> = plan(&objects).iter().map(|o| o.reference()).collect();
        let pod = object("Pod", "reviews-v1-7d4b9c-x2k4p", &SAMPLE);
        let mut deployment = objects[4].clone();
        deployment.deleting = true;
        let during = UninstallPreview::new("p", &[deployment], std::slice::from_ref(&pod), &[]);
        assert_eq!(during.objects[0].name, "reviews-v1");
        assert!(during.objects[0].deleting);
        let p = Progress::of(&requested, &during);
        assert!(!p.done());
        assert_eq!(p.pods_left, 1);
        assert_eq!(
            p.objects
                .iter()
                .filter(|(_, s)| *s == Step::Deleting)
                .map(|(o, _)| o.to_string())
                .collect::<Vec<_>>(),
            ["Deployment reviews-v1"]
        );
        let pods_only = UninstallPreview::new("p", &[], &[pod], &[]);
        assert!(!Progress::of(&requested, &pods_only).done());
        let after = UninstallPreview::new("p", &[], &[], &[]);
        assert!(after.is_empty());
        assert!(Progress::of(&requested, &after).done());
    }

    #[test]
    fn uninstall_is_offered_for_the_deployed_sample_only() {
        let app = |name: &str, labels: &[(&str, &str)]| Application {
            name: name.into(),
            components: vec![Component {
                service: ServiceInfo {
                    name: "reviews".into(),
                    labels: labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    selector: BTreeMap::new(),
                    ports: vec![],
                },
                workloads: vec![],
            }],
        };
        assert!(is_sample_application(&app("bookinfo", &SAMPLE)));
        // Istio's Bookinfo applied by hand is not the console's to remove.
        assert!(!is_sample_application(&app("bookinfo", &[SAMPLE[1]])));
        assert!(!is_sample_application(&app("shop", &SAMPLE)));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_components_are_the_services_deploy_sample_application_creates() {
        let plan = crate::domain::sample_app::plan("p", "h").unwrap();
        let mut services: Vec<&str> = plan
            .iter()
            .filter(|o| o.kind == "Service")
            .map(|o| o.name.as_str())
            .collect();
        services.sort();
        let mut components = COMPONENTS.to_vec();
        components.sort();
        assert_eq!(services, components);
        assert_eq!(crate::domain::sample_app::APP_NAME, SAMPLE_APP);
        // Everything it creates is of a kind the uninstall removes, and is the sample's.
        for o in plan {
            assert!(
                REMOVAL_ORDER
                    .iter()
                    .any(|k| k.kind == o.kind && k.api_version == o.api_version),
                "{} {}",
                o.kind,
                o.name
            );
            let listed = ClusterObject {
                api_version: o.api_version.clone(),
                kind: o.kind.clone(),
                name: o.name.clone(),
                labels: serde_json::from_value(o.object["metadata"]["labels"].clone()).unwrap(),
                deleting: false,
            };
            assert!(listed.is_sample(), "{} {}", o.kind, o.name);
        }
    }
}
