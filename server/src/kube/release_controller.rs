//! The release controller: reconciles each `ReleaseJob` into the new version's Deployment,
//! the component's DestinationRule subsets and VirtualService routes, and writes what it
//! did into the job's status. Jobs come from kubectl and GitOps as well as the console, so
//! every job is admitted first (the port's own checks, against the cluster, then a claim
//! on its component); a refused job is Failed with its reasons and nothing else is written.
//! Deletes touch only what is the job's: its labelled new version, the base it started
//! from (by uid), routing it labelled. Shaped like kube-rs' controller-rs: one Error, a Context,
//! reconcile inside a finalizer, status as its own step, events, transient errors requeued
//! and permanent ones waiting for a change. All decisions are the app's pure
//! `domain::release` functions; this module only reads and writes.
//!
//! A job with automatic steps (`spec.analysis`) is also an analysis: at each reconcile the
//! pure `analysis::decide` says whether a check is due; if so the controller asks
//! Prometheus (the job page's queries) and decides again with the answer. The analysis'
//! new state is written to the job's status with the job's resourceVersion *before* any
//! traffic moves, so a controller that stops halfway, or a stale cached copy of the job,
//! can never enter a step twice or skip one: the next leader goes on from the status.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, Preconditions,
};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use sluice_app::domain::release::analysis::{
    self, Action as Step, Decision, HOLD_RETRY_SECONDS, Measured, gate_queries,
};
use sluice_app::domain::release::render::{self, MANAGED_BY, RELEASE_LABEL};
use sluice_app::domain::release::validation::{
    check_against_cluster, check_namespace, check_spec, names_are_valid,
};
use sluice_app::domain::release::weights::Held;
use sluice_app::domain::release::{ReleaseSpec, Routing, Side};
use sluice_app::ports::MetricsPort;

use super::releases::{
    ClaimError, Condition, FINALIZER, Phase, ReleaseJob, ReleaseJobStatus, VersionStatus, claim,
    read_facts, release_claim,
};
use super::releases_port::check_regex;

/// Sets condition `type_`, keeping its transition time when the status does not change.
fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
) {
    let status = if ok { "True" } else { "False" };
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = now;
            }
            c.status = status.into();
            c.reason = reason.into();
            c.message = message.into();
        }
        None => conditions.push(Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: now,
        }),
    }
}

/// While pods come up, look again soon; once live, a slow heartbeat (changes to the job
/// and its Deployments trigger reconciles on their own).
const PROGRESS_REQUEUE: Duration = Duration::from_secs(2);
const LIVE_REQUEUE: Duration = Duration::from_secs(30);
/// A job refused for what the cluster holds (no such Service, the component claimed by
/// another job) looks again this often, as the cluster can change without the job; one
/// refused for its spec alone waits for the spec to change.
const REFUSED_REQUEUE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    /// Needs a person: the message says what to change.
    #[error("{0}")]
    Blocked(String),
}

pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    /// Prometheus, for the checks of automatic releases.
    pub metrics: Arc<dyn MetricsPort>,
}

/// The API of a routing object the controller writes, by kind.
pub(crate) fn routing_api(client: &Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let (group, version) = match kind {
        "VirtualService" | "DestinationRule" => ("networking.istio.io", "v1"),
        "HTTPRoute" => ("gateway.networking.k8s.io", "v1"),
        _ => ("", "v1"),
    };
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(client.clone(), ns, &ar)
}

/// Every version's configured share, as messages say it: `v1 50% / v2 20% / v3 30%`.
fn shares_text(spec: &ReleaseSpec, rendered: &render::Rendered) -> String {
    let shares = [rendered.split.base, rendered.split.new]
        .into_iter()
        .chain(rendered.others.iter().copied());
    spec.versions()
        .into_iter()
        .zip(shares)
        .map(|(v, w)| format!("{v} {w}%"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Writes routing objects in order (what is referred to first); `true` if every one was
/// created (none existed before).
async fn put_all_routing(
    client: &Client,
    ns: &str,
    jobs: &Api<ReleaseJob>,
    objects: &[Value],
    job: &str,
) -> Result<bool, Error> {
    let mut created = true;
    for desired in objects {
        let kind = desired["kind"].as_str().unwrap_or_default();
        created &= put_routing(&routing_api(client, ns, kind), jobs, desired, job).await?;
    }
    Ok(created)
}

fn managed_by_us(labels: &std::collections::BTreeMap<String, String>) -> bool {
    labels.get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1)
}

/// Installs (or updates) the ReleaseJob CRD; the console owns it.
pub async fn ensure_crd(client: &Client) -> Result<(), kube::Error> {
    super::crd_install::install(client, super::releases::crd()).await?;
    Ok(())
}

/// Runs the controller until `shutdown` resolves; `metrics` answers the checks of
/// automatic releases (an unconfigured or unreachable Prometheus holds them, and says so).
pub async fn run(
    client: Client,
    metrics: Arc<dyn MetricsPort>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    if let Err(e) = ensure_crd(&client).await {
        tracing::error!(
            "cannot install the ReleaseJob CRD ({e}); release jobs are unavailable until it is \
             applied: kubectl apply -f deploy/crds/releasejobs.sluice.dev.yaml"
        );
        return;
    }
    let jobs: Api<ReleaseJob> = Api::all(client.clone());
    let deployments: Api<Deployment> = Api::all(client.clone());
    let reporter = Reporter {
        controller: "sluice-release-controller".into(),
        instance: std::env::var("HOSTNAME").ok(),
    };
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), reporter),
        client,
        metrics,
    });
    // A Deployment of a job (its new version) or a base Deployment changing readiness
    // should reconcile the job: new versions carry the job label.
    Controller::new(jobs, watcher::Config::default())
        .watches(
            deployments,
            watcher::Config::default().labels(RELEASE_LABEL),
            |d: Deployment| {
                let ns = d.namespace();
                d.labels()
                    .get(RELEASE_LABEL)
                    .cloned()
                    .and_then(|job| ns.map(|ns| ObjectRef::<ReleaseJob>::new(&job).within(&ns)))
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!("release reconcile: {e}");
            }
        })
        .await;
}

pub async fn reconcile(job: Arc<ReleaseJob>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = job.namespace().unwrap_or_default();
    let api: Api<ReleaseJob> = Api::namespaced(ctx.client.clone(), &ns);
    // Every job is checked before anything is written for it, the finalizer included:
    // a job applied with kubectl or by GitOps never went through the console's checks.
    let admitted = if job.metadata.deletion_timestamp.is_none() {
        match admit(&job, &ctx).await? {
            Admission::Refused(action) => return Ok(action),
            Admission::Admitted(found) => Some(found),
        }
    } else {
        None
    };
    finalizer(&api, FINALIZER, job, |event| async move {
        match (event, admitted) {
            (Finalizer::Apply(job), Some(found)) => apply(&job, &ctx, found).await,
            (Finalizer::Apply(_), None) => Ok(Action::requeue(PROGRESS_REQUEUE)),
            (Finalizer::Cleanup(job), _) => cleanup(&job, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// The base and new Deployments an admitted job works on, as the checks found them.
struct Found {
    base: Option<Box<Deployment>>,
    new: Option<Box<Deployment>>,
    /// The component's Service, as JSON (an HTTPRoute release copies its ports).
    service: Value,
    /// The other versions' Deployments of an N-way split (`alsoServing` order).
    others: Vec<Option<Deployment>>,
    /// The job's HTTPRoute as the cluster holds it (an HTTPRoute release; `null` if none).
    route: Value,
}

enum Admission {
    Admitted(Found),
    Refused(Action),
}

/// Everything wrong with a job, as the console's port would say it (the same pure
/// checks), against what its namespace holds now. Reads only.
pub async fn check_job(client: &Client, job: &ReleaseJob) -> Result<Vec<String>, Error> {
    Ok(check_job_found(client, job).await?.0)
}

async fn check_job_found(
    client: &Client,
    job: &ReleaseJob,
) -> Result<(Vec<String>, bool, Found), Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let spec = &job.spec.release;
    let mut problems = check_spec(&name, &ns, spec, &check_regex);
    let spec_only = !problems.is_empty();
    let mut found = Found {
        base: None,
        new: None,
        service: Value::Null,
        others: Vec::new(),
        route: Value::Null,
    };
    if names_are_valid(spec) && check_namespace(&ns).is_ok() {
        let read = read_facts(client, &ns, &spec.component).await?;
        let (facts, deployments) = (read.facts, read.deployments);
        if spec.routing == Routing::HttpRoute {
            found.route = facts
                .http_route_objects
                .iter()
                .find(|r| r["metadata"]["name"] == spec.route_name())
                .cloned()
                .unwrap_or_default();
        }
        found.service = serde_json::to_value(read.service).unwrap_or_default();
        problems.extend(check_against_cluster(
            &name,
            &ns,
            spec,
            &facts,
            job.spec.offline_keep.is_some(),
        ));
        let new_name = spec.new_workload();
        found.others = spec
            .also_serving
            .iter()
            .map(|o| {
                deployments
                    .iter()
                    .find(|d| d.metadata.name.as_deref() == Some(o.workload.as_str()))
                    .cloned()
            })
            .collect();
        for d in deployments {
            if d.metadata.name.as_deref() == Some(spec.base_workload.as_str()) {
                found.base = Some(Box::new(d));
            } else if d.metadata.name.as_deref() == Some(new_name.as_str()) {
                found.new = Some(Box::new(d));
            }
        }
    }
    Ok((problems, spec_only, found))
}

/// Checks the job and claims its component; a refused job is failed with every reason.
async fn admit(job: &ReleaseJob, ctx: &Context) -> Result<Admission, Error> {
    let ns = job.namespace().unwrap_or_default();
    let jobs: Api<ReleaseJob> = Api::namespaced(ctx.client.clone(), &ns);
    let (problems, spec_only, found) = check_job_found(&ctx.client, job).await?;
    if !problems.is_empty() {
        let action = if spec_only {
            Action::await_change()
        } else {
            Action::requeue(REFUSED_REQUEUE)
        };
        return refuse(&jobs, ctx, job, "InvalidSpec", problems.join(" "), action).await;
    }
    let component = &job.spec.release.component;
    match claim(
        &ctx.client,
        &ns,
        component,
        &job.name_any(),
        job.metadata.uid.as_deref(),
    )
    .await
    {
        Ok(_) => Ok(Admission::Admitted(found)),
        Err(ClaimError::Held { component, holder }) => {
            let message = format!(
                "{component} is being released by job {holder}: one job per component at a \
                 time. This job starts when {holder} is finished (Job Offline) or deleted; \
                 or delete this one."
            );
            refuse(
                &jobs,
                ctx,
                job,
                "ComponentClaimed",
                message,
                Action::requeue(REFUSED_REQUEUE),
            )
            .await
        }
        Err(ClaimError::Kube(e)) => Err(e.into()),
    }
}

/// Fails a job before anything is written for it: phase Failed, every reason in the
/// message, `SpecValid=False`, one Warning event per new message.
async fn refuse(
    api: &Api<ReleaseJob>,
    ctx: &Context,
    job: &ReleaseJob,
    reason: &str,
    message: String,
    action: Action,
) -> Result<Admission, Error> {
    let mut status = job.status.clone().unwrap_or_default();
    let changed =
        status.message.as_deref() != Some(&message) || status.phase != Some(Phase::Failed);
    set_condition(&mut status.conditions, "SpecValid", false, reason, &message);
    status.phase = Some(Phase::Failed);
    status.message = Some(message.clone());
    status.observed_generation = job.metadata.generation;
    match write_status(api, job, status).await {
        Ok(()) => {}
        // Stored under an older CRD and invalid under this one: the API server refuses
        // even a status write. The event still says why.
        Err(Error::Kube(kube::Error::Api(s))) if s.code == 422 => {
            tracing::warn!(job = %job.name_any(), "cannot record the refusal in status: {}", s.message);
        }
        Err(e) => return Err(e),
    }
    if changed {
        tracing::info!(job = %job.name_any(), "refused: {message}");
        publish(ctx, job, EventType::Warning, reason, message).await;
    }
    Ok(Admission::Refused(action))
}

pub fn error_policy(job: Arc<ReleaseJob>, err: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(job = %job.name_any(), "release job: {err}");
    match err {
        // Waits for the person (or object) it names to change; a slow look anyway.
        Error::Blocked(_) => Action::requeue(Duration::from_secs(60)),
        _ => Action::requeue(Duration::from_secs(5)),
    }
}

async fn publish(ctx: &Context, job: &ReleaseJob, type_: EventType, reason: &str, note: String) {
    let ev = KubeEvent {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &job.object_ref(&())).await {
        tracing::debug!("event not recorded: {e}");
    }
}

async fn write_status(
    api: &Api<ReleaseJob>,
    job: &ReleaseJob,
    status: ReleaseJobStatus,
) -> Result<(), Error> {
    if job.status.as_ref() == Some(&status) {
        return Ok(());
    }
    api.patch_status(
        &job.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await?;
    Ok(())
}

/// Fails the job with a message a person can act on, and waits for a change.
async fn block(
    api: &Api<ReleaseJob>,
    ctx: &Context,
    job: &ReleaseJob,
    message: String,
) -> Result<Action, Error> {
    let mut status = job.status.clone().unwrap_or_default();
    let changed = status.message.as_deref() != Some(&message);
    set_condition(
        &mut status.conditions,
        "RoutesApplied",
        false,
        "Blocked",
        &message,
    );
    status.phase = Some(Phase::Failed);
    status.message = Some(message.clone());
    status.observed_generation = job.metadata.generation;
    write_status(api, job, status).await?;
    if changed {
        publish(ctx, job, EventType::Warning, "Blocked", message.clone()).await;
    }
    Err(Error::Blocked(message))
}

/// Creates or replaces a routing object we own; refuses objects we do not, and objects
/// of another job that still exists (routing left by a finished job may be taken).
async fn put_routing(
    api: &Api<DynamicObject>,
    jobs: &Api<ReleaseJob>,
    desired: &Value,
    job: &str,
) -> Result<bool, Error> {
    let name = desired["metadata"]["name"].as_str().unwrap_or_default();
    let mut obj: DynamicObject = serde_json::from_value(desired.clone())
        .map_err(|e| Error::Blocked(format!("rendered object is invalid: {e}")))?;
    let applied = render::digest(&desired["spec"]);
    obj.annotations_mut()
        .insert(render::APPLIED_ANNOTATION.into(), applied.clone());
    match api.get_opt(name).await? {
        None => {
            api.create(&PostParams::default(), &obj).await?;
            Ok(true)
        }
        Some(existing) => {
            let labels = existing.labels();
            if !managed_by_us(labels) {
                return Err(Error::Blocked(format!(
                    "{} {name} exists and is not managed by Sluice: it was written by hand or by \
                     another tool. Sluice never overwrites it. Delete it, or add the label \
                     {}={} to let Sluice manage it, then the job continues.",
                    desired["kind"].as_str().unwrap_or("object"),
                    MANAGED_BY.0,
                    MANAGED_BY.1
                )));
            }
            if let Some(other) = labels.get(RELEASE_LABEL).filter(|o| o.as_str() != job) {
                if jobs.get_opt(other).await?.is_some() {
                    return Err(Error::Blocked(format!(
                        "{} {name} belongs to release job {other}, which still exists: one job \
                         per component at a time. Finish or delete {other} first.",
                        desired["kind"].as_str().unwrap_or("object"),
                    )));
                }
                // Left by a finished job (plain routing to its survivor): a new job may take it.
                tracing::debug!("taking over routing left by job {other}");
            }
            // Ours as we wrote it last, and every field we set still as we set it (fields
            // the API server added do not count; a hand edit of ours does).
            let unchanged = existing.annotations().get(render::APPLIED_ANNOTATION)
                == Some(&applied)
                && existing
                    .data
                    .get("spec")
                    .is_some_and(|spec| render::covers(spec, &desired["spec"]));
            if !unchanged || existing.labels() != obj.labels() {
                obj.metadata.resource_version = existing.metadata.resource_version.clone();
                // A Service keeps the cluster IP it was given.
                for ip in ["clusterIP", "clusterIPs"] {
                    if let Some(v) = existing.data["spec"].get(ip) {
                        obj.data["spec"][ip] = v.clone();
                    }
                }
                api.replace(name, &PostParams::default(), &obj).await?;
            }
            Ok(false)
        }
    }
}

/// Why pods of a Deployment do not become ready, from their container states.
async fn pod_trouble(client: &Client, ns: &str, workload: &str) -> Option<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let list = pods.list(&ListParams::default()).await.ok()?;
    list.items
        .iter()
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.name.starts_with(&format!("{workload}-")))
        })
        .find_map(super::applications::pod_failure)
}

fn ready_of(d: Option<&Deployment>) -> (i32, i32) {
    d.map(|d| {
        (
            d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
            d.status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
        )
    })
    .unwrap_or((0, 0))
}

fn image_of(d: Option<&Deployment>) -> String {
    d.and_then(|d| d.spec.as_ref())
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.iter().find(|c| c.name != "istio-proxy"))
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

async fn apply(job: &ReleaseJob, ctx: &Context, found: Found) -> Result<Action, Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let jobs: Api<ReleaseJob> = Api::namespaced(ctx.client.clone(), &ns);
    let spec: &ReleaseSpec = &job.spec.release;
    if let Some(keep) = job.spec.offline_keep {
        return go_offline(job, ctx, keep, found).await;
    }

    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(base) = found.base.map(|b| *b) else {
        // The checks found it a moment ago; look again soon.
        return Ok(Action::requeue(PROGRESS_REQUEUE));
    };
    let base_json = serde_json::to_value(&base).unwrap_or_default();

    // The new version: create it, or bring an existing one of ours in line.
    let rendered_deploy = render::new_deployment(spec, &name, &base_json);
    let new_name = spec.new_workload();
    let new = match found.new.map(|n| *n) {
        None => {
            let d: Deployment = serde_json::from_value(rendered_deploy)
                .map_err(|e| Error::Blocked(format!("cannot copy {}: {e}", spec.base_workload)))?;
            let created = deployments.create(&PostParams::default(), &d).await?;
            publish(
                ctx,
                job,
                EventType::Normal,
                "Created",
                format!("Created {new_name} with image {}", spec.image),
            )
            .await;
            created
        }
        Some(existing) => {
            if existing.labels().get(RELEASE_LABEL).map(String::as_str) != Some(name.as_str()) {
                return block(&jobs, ctx, job, format!(
                    "Deployment {new_name} already exists and is not part of this job: choose another version number."
                )).await;
            }
            let (desired_replicas, _) = ready_of(Some(&existing));
            if image_of(Some(&existing)) != spec.image || desired_replicas != spec.replicas {
                let mut d: Deployment = serde_json::from_value(rendered_deploy).map_err(|e| {
                    Error::Blocked(format!("cannot copy {}: {e}", spec.base_workload))
                })?;
                d.metadata.resource_version = existing.metadata.resource_version.clone();
                deployments
                    .replace(&new_name, &PostParams::default(), &d)
                    .await?
            } else {
                existing
            }
        }
    };

    let (base_desired, base_ready) = ready_of(Some(&base));
    let (new_desired, new_ready) = ready_of(Some(&new));

    // An automatic release decides its step first (and records it), then routes by it.
    let fresh: ReleaseJob;
    let (job, decision) = if spec.analysis.is_some() {
        match progress(job, ctx, new_ready > 0).await? {
            Progressed::Stale => return Ok(Action::requeue(Duration::from_millis(500))),
            Progressed::Decided(decided) => {
                let (j, d) = *decided;
                fresh = j;
                (&fresh, Some(d))
            }
        }
    } else {
        (job, None)
    };
    let analysis_status = decision
        .as_ref()
        .filter(|d| d.action != Step::NotStarted)
        .map(|d| d.status.clone());
    let applied = analysis::effective_spec(spec, analysis_status.as_ref());
    let others: Vec<(i32, i32)> = found.others.iter().map(|d| ready_of(d.as_ref())).collect();
    let ready: Vec<i32> = [base_ready, new_ready]
        .into_iter()
        .chain(others.iter().map(|(_, r)| *r))
        .collect();
    let rendered = render::render(
        &applied,
        &name,
        &ns,
        &base_json,
        &found.service,
        &found.route,
        &ready,
    );
    let shares = shares_text(spec, &rendered);
    let created_routes =
        match put_all_routing(&ctx.client, &ns, &jobs, &rendered.routing, &name).await {
            Err(Error::Blocked(m)) => return block(&jobs, ctx, job, m).await,
            other => other?,
        };

    let previous = job.status.clone().unwrap_or_default();
    let (phase, message) = match (rendered.held, applied.taken_over_by) {
        (Some(Held::NewNotReady), _) => {
            let trouble = pod_trouble(&ctx.client, &ns, &new_name).await;
            let why = match trouble {
                Some(t) => format!(" Its pods are failing: {t}."),
                None => String::new(),
            };
            (
                Phase::Progressing,
                format!(
                    "Waiting for {new_name}: {new_ready}/{new_desired} pods ready. Traffic stays on {} until one is.{why}",
                    spec.base_version
                ),
            )
        }
        (Some(Held::BaseNotReady), _) => (
            Phase::Live,
            format!(
                "{} has no ready pod: all traffic goes to {}.",
                spec.base_workload, spec.new_version
            ),
        ),
        (None, Some(side)) => (
            Phase::TakenOver,
            format!(
                "{} takes all traffic. Job Offline removes {}.",
                match side {
                    Side::New => &spec.new_version,
                    Side::Base => &spec.base_version,
                },
                match side {
                    Side::New => &spec.base_workload,
                    Side::Base => &new_name,
                },
            ),
        ),
        (None, None) => (Phase::Live, format!("{}: {shares}.", spec.strategy.label())),
    };
    // An automatic release says where its analysis is; a rollback is a phase of its own.
    let (phase, message) = match (
        &decision,
        analysis::describe(spec, analysis_status.as_ref()),
    ) {
        (Some(_), Some(said)) => match (phase, applied.taken_over_by) {
            (Phase::TakenOver, Some(Side::Base)) => (Phase::RolledBack, said),
            (Phase::TakenOver, _) => (phase, format!("{said} {message}")),
            (Phase::Live, _) => (phase, format!("{said} Now {shares}.")),
            _ => (phase, format!("{message} {said}")),
        },
        _ => (phase, message),
    };
    let mut conditions = previous.conditions.clone();
    set_condition(
        &mut conditions,
        "SpecValid",
        true,
        "Valid",
        "The spec passed every check.",
    );
    let new_ok = new_ready > 0;
    set_condition(
        &mut conditions,
        "NewVersionReady",
        new_ok,
        if new_ok { "PodsReady" } else { "PodsNotReady" },
        &format!("{new_name}: {new_ready}/{new_desired} pods ready"),
    );
    set_condition(
        &mut conditions,
        "RoutesApplied",
        true,
        match rendered.held {
            Some(Held::NewNotReady) => "HeldOnBase",
            Some(Held::BaseNotReady) => "HeldOnNew",
            None => "AsRequested",
        },
        &shares,
    );
    let status = ReleaseJobStatus {
        conditions,
        phase: Some(phase),
        message: Some(message.clone()),
        versions: vec![
            VersionStatus {
                version: spec.base_version.clone(),
                workload: spec.base_workload.clone(),
                image: image_of(Some(&base)),
                desired: base_desired,
                ready: base_ready,
                weight: rendered.split.base,
            },
            VersionStatus {
                version: spec.new_version.clone(),
                workload: new_name.clone(),
                image: spec.image.clone(),
                desired: new_desired,
                ready: new_ready,
                weight: rendered.split.new,
            },
        ]
        .into_iter()
        .chain(
            spec.also_serving
                .iter()
                .zip(&found.others)
                .zip(&others)
                .zip(&rendered.others)
                .map(|(((o, d), (desired, ready)), weight)| VersionStatus {
                    version: o.version.clone(),
                    workload: o.workload.clone(),
                    image: image_of(d.as_ref()),
                    desired: *desired,
                    ready: *ready,
                    weight: *weight,
                }),
        )
        .collect(),
        observed_generation: job.metadata.generation,
        created_routes: previous.created_routes || created_routes,
        // The base this job started from: Job Offline deletes that object and no other.
        base_uid: previous.base_uid.clone().or(base.metadata.uid.clone()),
        analysis: analysis_status.clone(),
    };
    let routing_changed = previous
        .versions
        .iter()
        .map(|v| v.weight)
        .ne(status.versions.iter().map(|v| v.weight));
    write_status(&jobs, job, status).await?;
    if routing_changed || previous.phase != Some(phase) {
        publish(ctx, job, EventType::Normal, "RoutingUpdated", message).await;
    }
    Ok(match (phase, &decision) {
        (Phase::Progressing, _) => Action::requeue(PROGRESS_REQUEUE),
        (_, Some(d)) => Action::requeue(next_look(d)),
        _ => Action::requeue(LIVE_REQUEUE),
    })
}

/// What [`progress`] found.
enum Progressed {
    /// The job changed since it was read (the cache was behind, or someone wrote it):
    /// nothing was decided; look again at the current object.
    Stale,
    /// The decision, and the job as written with it.
    Decided(Box<(ReleaseJob, Decision)>),
}

/// The analysis' next step for a job with automatic steps: decided by the pure
/// `analysis::decide`, measured in Prometheus when a check is due, and written to the
/// status with the job's resourceVersion before anything acts on it. A 409 means this
/// copy of the job was stale: nothing is decided from it.
async fn progress(job: &ReleaseJob, ctx: &Context, new_ready: bool) -> Result<Progressed, Error> {
    let ns = job.namespace().unwrap_or_default();
    let spec = &job.spec.release;
    let previous = job.status.as_ref().and_then(|s| s.analysis.as_ref());
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let situation = analysis::Situation {
        spec,
        status: previous,
        now,
        new_ready,
    };
    let mut decision = analysis::decide(situation, None);
    if decision.action == Step::Measure {
        let measured = measure(ctx, &ns, spec).await;
        if let Err(why) = &measured {
            tracing::info!(job = %job.name_any(), "analysis holds: {why}");
        }
        decision = analysis::decide(situation, Some(measured));
    }
    if previous == Some(&decision.status)
        || (previous.is_none() && decision.action == Step::NotStarted)
    {
        return Ok(Progressed::Decided(Box::new((job.clone(), decision))));
    }
    let mut next = job.clone();
    next.status
        .get_or_insert_with(ReleaseJobStatus::default)
        .analysis = (decision.action != Step::NotStarted).then(|| decision.status.clone());
    let api: Api<ReleaseJob> = Api::namespaced(ctx.client.clone(), &ns);
    let written = match api
        .replace_status(&job.name_any(), &PostParams::default(), &next)
        .await
    {
        Ok(written) => written,
        Err(kube::Error::Api(s)) if s.code == 409 => return Ok(Progressed::Stale),
        Err(e) => return Err(e.into()),
    };
    if let Some(note) = &decision.note {
        tracing::info!(job = %job.name_any(), "{}: {}", note.reason, note.text);
        let kind = if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(ctx, &written, kind, note.reason, note.text.clone()).await;
    }
    Ok(Progressed::Decided(Box::new((written, decision))))
}

/// One check's measurement: the job page's per-version queries, over the step's interval.
async fn measure(ctx: &Context, ns: &str, spec: &ReleaseSpec) -> Result<Measured, String> {
    let window = spec
        .analysis
        .as_ref()
        .map_or(analysis::MIN_INTERVAL_SECONDS, |a| a.interval_seconds);
    let [rps, success, p99] = gate_queries(ns, &spec.metric_services(), window);
    let at = k8s_openapi::jiff::Timestamp::now().as_second() as f64;
    let m = &ctx.metrics;
    let (rps, success, p99) =
        futures::try_join!(m.query(&rps, at), m.query(&success, at), m.query(&p99, at))
            .map_err(|e| e.to_string())?;
    Ok(Measured::from_series(spec, window, &rps, &success, &p99))
}

/// When to look at an automatic release again: when its next check is due, soon while it
/// holds, slowly once it waits for a person or is over.
fn next_look(d: &Decision) -> Duration {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    match &d.action {
        Step::Hold { .. } => Duration::from_secs(HOLD_RETRY_SECONDS),
        Step::Paused | Step::AwaitPromotion | Step::Done | Step::Promote | Step::RollBack => {
            LIVE_REQUEUE
        }
        Step::NotStarted => PROGRESS_REQUEUE,
        _ => d
            .status
            .next_check_in(now)
            .map(|s| Duration::from_secs(s.max(0) as u64) + Duration::from_millis(200))
            .unwrap_or(PROGRESS_REQUEUE)
            .min(LIVE_REQUEUE),
    }
}

/// Job Offline: keep one side, delete the other's workload, leave plain routing to the
/// survivor, then delete the job itself. Only what is the job's is deleted: the new
/// version if it carries the job's label, the base if it is still the Deployment the job
/// started from (its uid, as a precondition of the delete).
async fn go_offline(
    job: &ReleaseJob,
    ctx: &Context,
    keep: Side,
    found: Found,
) -> Result<Action, Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let spec = &job.spec.release;
    let jobs: Api<ReleaseJob> = Api::namespaced(ctx.client.clone(), &ns);
    let base_uid = job.status.as_ref().and_then(|s| s.base_uid.clone());
    let (kept_version, gone_workload, gone, gone_uid) = match keep {
        Side::New => (
            &spec.new_version,
            spec.base_workload.clone(),
            found.base,
            base_uid,
        ),
        Side::Base => {
            let new = found
                .new
                .filter(|d| d.labels().get(RELEASE_LABEL) == Some(&name));
            let uid = new.as_ref().and_then(|d| d.metadata.uid.clone());
            (&spec.base_version, spec.new_workload(), new, uid)
        }
    };
    let mut status = job.status.clone().unwrap_or_default();
    status.phase = Some(Phase::GoingOffline);
    status.message = Some(format!(
        "Job Offline: keeping {kept_version}, removing {gone_workload}."
    ));
    write_status(&jobs, job, status).await?;

    // Routing first, so no request is sent to the workload about to disappear.
    let survivor =
        render::survivor_routes(spec, kept_version, &name, &ns, &found.service, &found.route);
    match put_all_routing(&ctx.client, &ns, &jobs, &survivor, &name).await {
        Err(Error::Blocked(m)) => return block(&jobs, ctx, job, m).await,
        other => other?,
    };
    // An HTTPRoute release also had a Service for the version that goes.
    if spec.routing == Routing::HttpRoute {
        // And the other versions' of an N-way split: only the kept version is routed now.
        let services = routing_api(&ctx.client, &ns, "Service");
        for v in spec.versions().into_iter().filter(|v| v != kept_version) {
            delete_ours(&services, &spec.version_service(v), &name).await?;
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let left = match (gone, gone_uid) {
        (None, _) => None,
        (Some(_), None) => Some(format!(
            "{gone_workload} was left in place: it is not this job's to delete (Sluice did not \
             record it as the job's {}). Delete it yourself if it should go.",
            if keep == Side::New {
                "base"
            } else {
                "new version"
            }
        )),
        (Some(_), Some(uid)) => {
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..DeleteParams::background()
            };
            match deployments.delete(&gone_workload, &dp).await {
                Ok(_) => None,
                Err(kube::Error::Api(s)) if s.code == 404 => None,
                Err(kube::Error::Api(s)) if s.code == 409 => Some(format!(
                    "{gone_workload} was left in place: it is not the Deployment this job \
                     started from (it was replaced since). Delete it yourself if it should go."
                )),
                Err(e) => return Err(e.into()),
            }
        }
    };
    match left {
        Some(why) => publish(ctx, job, EventType::Warning, "LeftInPlace", why).await,
        None => {
            publish(
                ctx,
                job,
                EventType::Normal,
                "JobOffline",
                format!("Removed {gone_workload}; all traffic to {kept_version}."),
            )
            .await
        }
    }
    match jobs.delete(&name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

/// The job is being deleted. After Job Offline only the claim is left to release;
/// otherwise the release is undone: the new version goes, and routing returns to the
/// base. Either way only what carries the job's label is touched (the spec may have been
/// edited since the job wrote anything).
async fn cleanup(job: &ReleaseJob, ctx: &Context) -> Result<Action, Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let spec = &job.spec.release;
    let uid = job.metadata.uid.as_deref();
    if !names_are_valid(spec) {
        return Ok(Action::await_change());
    }
    if job.spec.offline_keep.is_none() {
        undo(job, ctx).await?;
    }
    release_claim(&ctx.client, &ns, &spec.component, &name, uid, None).await?;
    Ok(Action::await_change())
}

async fn undo(job: &ReleaseJob, ctx: &Context) -> Result<(), Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let spec = &job.spec.release;
    let jobs: Api<ReleaseJob> = Api::namespaced(ctx.client.clone(), &ns);
    let created = job.status.as_ref().is_some_and(|s| s.created_routes);
    if created {
        // Everything the job wrote, routes before what they name.
        for (kind, object) in render::routing_objects(spec).iter().rev() {
            delete_ours(&routing_api(&ctx.client, &ns, kind), object, &name).await?;
        }
    } else {
        // Routing was there before the job: back to the base, and the new version's
        // Service (an HTTPRoute release) goes.
        let service =
            match Api::<k8s_openapi::api::core::v1::Service>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&spec.component)
                .await?
            {
                Some(s) => serde_json::to_value(s).unwrap_or_default(),
                None => Value::Null,
            };
        let route = match spec.routing {
            Routing::HttpRoute => routing_api(&ctx.client, &ns, "HTTPRoute")
                .get_opt(spec.route_name())
                .await?
                .and_then(|r| serde_json::to_value(r).ok())
                .unwrap_or_default(),
            Routing::VirtualService => Value::Null,
        };
        let survivor =
            render::survivor_routes(spec, &spec.base_version, &name, &ns, &service, &route);
        for desired in &survivor {
            let kind = desired["kind"].as_str().unwrap_or_default();
            let api = routing_api(&ctx.client, &ns, kind);
            let object = desired["metadata"]["name"].as_str().unwrap_or_default();
            let Some(existing) = api.get_opt(object).await? else {
                continue;
            };
            if existing.labels().get(RELEASE_LABEL) != Some(&name) {
                continue;
            }
            put_routing(&api, &jobs, desired, &name).await?;
        }
        if spec.routing == Routing::HttpRoute {
            let services = routing_api(&ctx.client, &ns, "Service");
            for v in spec.versions().into_iter().skip(1) {
                delete_ours(&services, &spec.version_service(v), &name).await?;
            }
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let new_name = spec.new_workload();
    if let Some(d) = deployments.get_opt(&new_name).await?
        && d.labels().get(RELEASE_LABEL) == Some(&name)
    {
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: d.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        match deployments.delete(&new_name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Deletes routing object `object` if it carries job `job`'s label (preconditions on its
/// uid and resourceVersion, so nothing rewritten meanwhile goes); gone already is fine.
async fn delete_ours(api: &Api<DynamicObject>, object: &str, job: &str) -> Result<(), Error> {
    let Some(existing) = api.get_opt(object).await? else {
        return Ok(());
    };
    if existing.labels().get(RELEASE_LABEL).map(String::as_str) != Some(job)
        || !managed_by_us(existing.labels())
    {
        return Ok(());
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: existing.metadata.uid.clone(),
            resource_version: existing.metadata.resource_version.clone(),
        }),
        ..DeleteParams::default()
    };
    match api.delete(object, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
