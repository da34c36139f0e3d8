//! The release job as a custom resource (`releasejobs.sluice.dev`): the console's state
//! lives in the cluster, not in its memory, so it can restart or run twice and lose
//! nothing, `kubectl get releasejobs` shows the jobs and GitOps can apply one as YAML.
//! The spec is the app's [`ReleaseSpec`]; this module adds the Kubernetes envelope, the
//! status the controller writes, and the generated CRD.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
    Preconditions,
};
use kube::{Client, CustomResource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sluice_app::domain::dataplane::ProjectDataPlane;
use sluice_app::domain::diagnosis::{
    gateway_routes_to, http_routes_attached_to, virtual_services_for,
};
use sluice_app::domain::release::analysis::AnalysisStatus;
use sluice_app::domain::release::render::{MANAGED_BY, RELEASE_LABEL};
use sluice_app::domain::release::validation::{ClusterFacts, Workload};
use sluice_app::domain::release::{ReleaseSpec, Side};

pub const GROUP: &str = "sluice.dev";
pub const FINALIZER: &str = "sluice.dev/cleanup";

/// A grayscale release of one component.
// kube's derive takes one `printcolumn(...)` per column; clippy reads the repeated
// `type_ = "string"` inside them as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "sluice.dev",
    version = "v1alpha1",
    kind = "ReleaseJob",
    namespaced,
    status = "ReleaseJobStatus",
    shortname = "rj",
    category = "sluice",
    doc = "A grayscale release job: a new version of one component and how traffic is shared with the current one.",
    printcolumn(name = "Component", type_ = "string", json_path = ".spec.component"),
    printcolumn(name = "Base", type_ = "string", json_path = ".spec.baseVersion"),
    printcolumn(name = "New", type_ = "string", json_path = ".spec.newVersion"),
    printcolumn(name = "Strategy", type_ = "string", json_path = ".spec.strategy.type"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Creator", type_ = "string", json_path = ".spec.creator"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseJobSpec {
    #[serde(flatten)]
    pub release: ReleaseSpec,
    /// "Job Offline": keep this side, delete the other version's workload, leave plain
    /// routing to the survivor, and remove the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_keep: Option<Side>,
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    /// The new version's pods are being created or are not ready yet.
    Progressing,
    /// Traffic is shared as the strategy says.
    Live,
    /// One version takes all traffic.
    TakenOver,
    /// Job Offline is in progress.
    GoingOffline,
    /// All traffic went back to the base version: a failed check of the automatic
    /// release, or Roll back now. The message says why; the new version's pods stay until
    /// Job Offline.
    RolledBack,
    /// The job cannot proceed until something changes; the message says what.
    Failed,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionStatus {
    pub version: String,
    pub workload: String,
    pub image: String,
    pub desired: i32,
    pub ready: i32,
    /// Share of ordinary traffic configured right now (0..=100).
    pub weight: u8,
}

/// A condition in the Kubernetes style: `type` is `SpecValid`, `NewVersionReady` or
/// `RoutesApplied`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    pub message: String,
    /// RFC 3339; kept while the status stays the same.
    pub last_transition_time: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseJobStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// What the job is doing or waiting for, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default)]
    pub versions: Vec<VersionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The controller created the component's VirtualService and DestinationRule (none
    /// existed), so deleting a job that never went live deletes them again.
    #[serde(default)]
    pub created_routes: bool,
    /// The uid of the base Deployment when the job first reconciled. Job Offline deletes
    /// the base only if it is still that object (a uid precondition), never one that was
    /// replaced or renamed into place since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_uid: Option<String>,
    /// Where the automatic release is (jobs with `spec.analysis`): the step, its clock,
    /// the checks, the outcome. The controller goes on from here after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisStatus>,
}

/// What a job's namespace holds, as the checks in
/// [`sluice_app::domain::release::validation`] take it: the Deployments, Service
/// `component`, where routing would apply (the namespace's data plane, HTTPRoutes attached
/// to the Service, VirtualServices naming it, whether Gateway API is served at all).
pub struct Facts {
    pub facts: ClusterFacts,
    pub deployments: Vec<Deployment>,
    /// The component's Service (an HTTPRoute release copies its ports and selector).
    pub service: Option<Service>,
}

pub async fn read_facts(client: &Client, ns: &str, component: &str) -> Result<Facts, kube::Error> {
    let services = Api::<Service>::namespaced(client.clone(), ns);
    let deployments = Api::<Deployment>::namespaced(client.clone(), ns);
    let namespaces = Api::<Namespace>::all(client.clone());
    let all = ListParams::default();
    let (service, deployments, namespace, routes, virtual_services) = tokio::try_join!(
        services.get_opt(component),
        deployments.list(&all),
        // Where the routing would apply. A caller that may not read these learns nothing
        // from them; the controller, which may, checks every job again.
        async { unless_forbidden(namespaces.get_opt(ns).await).map(Option::flatten) },
        // `None`: the cluster does not serve HTTPRoutes (no Gateway API CRDs).
        async {
            let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
                "gateway.networking.k8s.io",
                "v1",
                "HTTPRoute",
            ));
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ar);
            match api.list(&ListParams::default()).await {
                Ok(list) => Ok(Some(
                    list.items
                        .into_iter()
                        .filter_map(|o| serde_json::to_value(o).ok())
                        .collect::<Vec<_>>(),
                )),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
                Err(kube::Error::Api(s)) if s.code == 403 => Ok(Some(Vec::new())),
                Err(e) => Err(e),
            }
        },
        async {
            unless_forbidden(
                super::applications::list_dynamic(
                    client,
                    ns,
                    "networking.istio.io",
                    "v1",
                    "VirtualService",
                )
                .await,
            )
            .map(Option::unwrap_or_default)
        },
    )?;
    let gateway_api_missing = routes.is_none();
    let routes = routes.unwrap_or_default();
    let deployments = deployments.items;
    let service_labels = service
        .as_ref()
        .and_then(|s| s.metadata.labels.clone())
        .unwrap_or_default();
    let facts = ClusterFacts {
        service_labels,
        dataplane: ProjectDataPlane::from_labels(
            &namespace
                .and_then(|n| n.metadata.labels)
                .unwrap_or_default(),
        ),
        http_routes: http_routes_attached_to(&routes, ns, component),
        virtual_services: virtual_services_for(&virtual_services, ns, component),
        gateway_routes: gateway_routes_to(&routes, ns, component),
        gateway_api_missing,
        service_selector: service
            .as_ref()
            .map(|s| s.spec.clone().and_then(|s| s.selector).unwrap_or_default()),
        workloads: deployments
            .iter()
            .map(|d| Workload {
                name: d.name_any(),
                pod_labels: d
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.metadata.as_ref())
                    .and_then(|m| m.labels.clone())
                    .unwrap_or_default(),
                job: d.labels().get(RELEASE_LABEL).cloned(),
            })
            .collect(),
        http_route_objects: routes,
    };
    Ok(Facts {
        facts,
        deployments,
        service,
    })
}

/// `None` for a read the caller is not allowed to make.
fn unless_forbidden<T>(r: Result<T, kube::Error>) -> Result<Option<T>, kube::Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(None),
        Err(e) => Err(e),
    }
}

/// One release per component at a time, made atomic by a claim object: a
/// `coordination.k8s.io/v1` Lease named `sluice-release-<component>` in the job's
/// namespace, holder = the job. Creating an object is atomic, so of two jobs created at
/// once for one component exactly one gets the claim. Once the job exists the claim is
/// owned by it, so the garbage collector removes it with the job; cleanup releases it.
pub fn claim_name(component: &str) -> String {
    format!("sluice-release-{component}")
}

/// A claim's component, for `kubectl get leases -l sluice.dev/component=reviews`.
pub const COMPONENT_LABEL: &str = "sluice.dev/component";

/// How long a claim may wait for its job to appear: the console claims, then creates the
/// job, so a claim without a job is a create in progress, or a console that stopped in
/// between, whose claim may be taken once this has passed.
pub const CLAIM_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another job that still exists (or is being created) holds the component.
    #[error("{component} is being released by job {holder}")]
    Held { component: String, holder: String },
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// What [`claim`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// This call created or took the claim; its resourceVersion, to undo it exactly.
    Written(String),
    /// It was this job's already.
    Already,
}

fn claim_object(
    ns: &str,
    component: &str,
    job: &str,
    job_uid: Option<&str>,
    resource_version: Option<String>,
) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(claim_name(component)),
            namespace: Some(ns.to_string()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
                (COMPONENT_LABEL.to_string(), component.to_string()),
                (RELEASE_LABEL.to_string(), job.to_string()),
            ])),
            owner_references: job_uid.map(|uid| vec![owner_ref(job, uid)]),
            resource_version,
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(job.to_string()),
            acquire_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            ..LeaseSpec::default()
        }),
    }
}

fn owner_ref(job: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: format!("{GROUP}/v1alpha1"),
        kind: "ReleaseJob".into(),
        name: job.to_string(),
        uid: uid.to_string(),
        ..OwnerReference::default()
    }
}

fn holder_of(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref()
}

fn owner_uid_of(lease: &Lease) -> Option<&str> {
    lease
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "ReleaseJob")
        .map(|o| o.uid.as_str())
}

/// Whether the claim's holder still holds it: its job exists and releases this component
/// (a job of the same name for something else, or a newer job of that name, does not),
/// or it was made moments ago by a console that is creating the job now.
async fn holder_is_live(
    client: &Client,
    ns: &str,
    component: &str,
    lease: &Lease,
) -> Result<bool, kube::Error> {
    let Some(holder) = holder_of(lease) else {
        return Ok(false);
    };
    let owner_uid = owner_uid_of(lease);
    let jobs: Api<ReleaseJob> = Api::namespaced(client.clone(), ns);
    Ok(match jobs.get_opt(holder).await? {
        Some(j) => {
            j.spec.release.component == component
                && owner_uid.is_none_or(|u| j.metadata.uid.as_deref() == Some(u))
        }
        None => {
            let age = lease
                .spec
                .as_ref()
                .and_then(|s| s.acquire_time.as_ref())
                .map(|t| k8s_openapi::jiff::Timestamp::now().as_second() - t.0.as_second());
            owner_uid.is_none() && age.is_some_and(|a| a < CLAIM_GRACE.as_secs() as i64)
        }
    })
}

/// Claims `component` in `ns` for `job` (with its uid once the job exists, which makes
/// the job the claim's owner). Fails with [`ClaimError::Held`] naming the job that holds
/// it; takes a claim whose holder is gone, with its resourceVersion so two takers never
/// both win.
pub async fn claim(
    client: &Client,
    ns: &str,
    component: &str,
    job: &str,
    job_uid: Option<&str>,
) -> Result<Claimed, ClaimError> {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    let name = claim_name(component);
    let pp = PostParams::default();
    let written = |l: Lease| Claimed::Written(l.metadata.resource_version.unwrap_or_default());
    let mut last_holder = None;
    for _ in 0..5 {
        let Some(existing) = api.get_opt(&name).await? else {
            match api
                .create(&pp, &claim_object(ns, component, job, job_uid, None))
                .await
            {
                Ok(l) => return Ok(written(l)),
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let holder = holder_of(&existing).map(str::to_string);
        let owner = owner_uid_of(&existing);
        let ours = holder.as_deref() == Some(job)
            && (owner.is_none() || job_uid.is_none() || owner == job_uid);
        let rv = existing.metadata.resource_version.clone();
        if ours {
            // Ours: once the job exists, make it the owner.
            let (None, Some(uid)) = (owner, job_uid) else {
                return Ok(Claimed::Already);
            };
            let mut linked = existing.clone();
            linked.metadata.owner_references = Some(vec![owner_ref(job, uid)]);
            match api.replace(&name, &pp, &linked).await {
                Ok(_) => return Ok(Claimed::Already),
                Err(kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if holder_is_live(client, ns, component, &existing).await? {
            return Err(ClaimError::Held {
                component: component.to_string(),
                holder: holder.unwrap_or_default(),
            });
        }
        last_holder = holder;
        match api
            .replace(&name, &pp, &claim_object(ns, component, job, job_uid, rv))
            .await
        {
            Ok(l) => {
                tracing::info!(
                    "{ns}/{job} took the claim on {component} from {}, which no longer exists",
                    last_holder.as_deref().unwrap_or("nobody")
                );
                return Ok(written(l));
            }
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ClaimError::Held {
        component: component.to_string(),
        holder: last_holder.unwrap_or_else(|| "another job".into()),
    })
}

/// Releases `job`'s claim on `component`, if it still holds it; `resource_version`
/// narrows that to exactly the claim written then.
pub async fn release_claim(
    client: &Client,
    ns: &str,
    component: &str,
    job: &str,
    job_uid: Option<&str>,
    resource_version: Option<&str>,
) -> Result<(), kube::Error> {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    let name = claim_name(component);
    let Some(lease) = api.get_opt(&name).await? else {
        return Ok(());
    };
    let owner = owner_uid_of(&lease);
    if holder_of(&lease) != Some(job) || (owner.is_some() && job_uid.is_some() && owner != job_uid)
    {
        return Ok(());
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: lease.metadata.uid.clone(),
            resource_version: resource_version
                .map(str::to_string)
                .or(lease.metadata.resource_version.clone()),
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => Ok(()),
        // Gone, or changed hands in between: not ours to delete any more.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// The revision of the ReleaseJob CRD's schema: raise it with every change to the
/// ReleaseJob types, so an older console never downgrades it (`crd_install`).
pub const CRD_REVISION: u32 = 4;

/// The CRD, with its revision.
pub fn crd()
-> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    use kube::CustomResourceExt;
    super::crd_install::with_revision(ReleaseJob::crd(), CRD_REVISION)
}

/// The CRD as YAML, as committed in deploy/crds/.
pub fn crd_yaml() -> String {
    let mut out = String::from(
        "# Generated from server/src/kube/releases.rs; do not edit by hand.\n\
         # Regenerate with: SLUICE_UPDATE_CRD=1 cargo test -p sluice-server crd_is_current\n\
         # (and raise CRD_REVISION there when the schema changes).\n",
    );
    let yaml = serde_yaml::to_string(&crd()).unwrap_or_default();
    out.push_str(&quote_yaml11_booleans(&yaml));
    out
}

/// serde_yaml writes YAML 1.2, where `on` is a string; kubectl reads YAML 1.1, where a
/// bare `on` (the content rules' field) is `true`, which turns the schema's property
/// `on` into `"true"` and the file into one a real API server refuses. Quote such words
/// where they stand alone as a key or a list item.
pub(crate) fn quote_yaml11_booleans(yaml: &str) -> String {
    const WORDS: [&str; 10] = ["on", "off", "yes", "no", "y", "n", "On", "Off", "Yes", "No"];
    let mut out = String::with_capacity(yaml.len() + 64);
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        let (lead, rest) = line.split_at(indent);
        let quoted = if let Some(key) = rest.strip_suffix(':').filter(|k| WORDS.contains(k)) {
            Some(format!("{lead}'{key}':"))
        } else if let Some((key, value)) = rest.split_once(": ").filter(|(k, _)| WORDS.contains(k))
        {
            Some(format!("{lead}'{key}': {value}"))
        } else {
            rest.strip_prefix("- ")
                .filter(|item| WORDS.contains(item))
                .map(|item| format!("{lead}- '{item}'"))
        };
        out.push_str(quoted.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/crds/releasejobs.sluice.dev.yaml"
    );

    #[test]
    fn words_yaml_11_reads_as_booleans_are_quoted() {
        let yaml = "properties:\n  on:\n    type: string\n  y: 1\nrequired:\n- on\n- name\n";
        assert_eq!(
            quote_yaml11_booleans(yaml),
            "properties:\n  'on':\n    type: string\n  'y': 1\nrequired:\n- 'on'\n- name\n"
        );
        // The committed CRD still reads back as the same object.
        let read: serde_json::Value = serde_yaml::from_str(&crd_yaml()).unwrap();
        assert_eq!(read, serde_json::to_value(crd()).unwrap());
    }

    #[test]
    fn crd_is_current() {
        let generated = crd_yaml();
        if std::env::var_os("SLUICE_UPDATE_CRD").is_some() {
            std::fs::write(COMMITTED, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        assert!(
            committed == generated,
            "deploy/crds/releasejobs.sluice.dev.yaml is out of date with the ReleaseJob type: \
             regenerate it with SLUICE_UPDATE_CRD=1 cargo test -p sluice-server crd_is_current"
        );
    }

    #[test]
    fn a_job_round_trips_as_the_tutorial_writes_it() {
        let job: ReleaseJob = serde_yaml::from_str(
            "apiVersion: sluice.dev/v1alpha1\nkind: ReleaseJob\nmetadata:\n  name: canary-release\n  namespace: demo-project\n\
             spec:\n  component: reviews\n  baseWorkload: reviews-v1\n  baseVersion: v1\n  newVersion: v2\n\
             \x20 image: kubesphere/examples-bookinfo-reviews-v2:1.13.0\n  replicas: 1\n\
             \x20 strategy:\n    type: trafficRatio\n    newPercent: 50\n",
        )
        .unwrap();
        assert_eq!(job.spec.release.component, "reviews");
        assert_eq!(job.spec.release.new_workload(), "reviews-v2");
        assert_eq!(
            job.spec.release.strategy,
            sluice_app::domain::release::Strategy::TrafficRatio { new_percent: 50 }
        );
    }
}
