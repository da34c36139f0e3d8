//! The release controller: reconciles each `ReleaseJob` into the new version's Deployment,
//! the component's DestinationRule subsets and VirtualService routes, and writes what it
//! did into the job's status. Shaped like kube-rs' controller-rs: one Error, a Context,
//! reconcile inside a finalizer, status as its own step, events, transient errors requeued
//! and permanent ones waiting for a change. All decisions are the app's pure
//! `domain::release` functions; this module only reads and writes.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, CustomResourceExt, Resource, ResourceExt};
use serde_json::{Value, json};
use sluice_app::domain::release::render::{self, MANAGED_BY, RELEASE_LABEL};
use sluice_app::domain::release::weights::Held;
use sluice_app::domain::release::{ReleaseSpec, Side};

use super::releases::{Condition, FINALIZER, Phase, ReleaseJob, ReleaseJobStatus, VersionStatus};

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
}

fn vs_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        "VirtualService",
    ))
}

fn dr_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        "DestinationRule",
    ))
}

fn managed_by_us(labels: &std::collections::BTreeMap<String, String>) -> bool {
    labels.get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1)
}

/// Installs (or updates) the ReleaseJob CRD; the console owns it.
pub async fn ensure_crd(client: &Client) -> Result<(), kube::Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = ReleaseJob::crd();
    let name = crd.metadata.name.clone().unwrap_or_default();
    match api.get_opt(&name).await? {
        None => {
            api.create(&PostParams::default(), &crd).await?;
        }
        Some(existing) if existing.spec != crd.spec => {
            let mut updated = crd.clone();
            updated.metadata.resource_version = existing.metadata.resource_version;
            api.replace(&name, &PostParams::default(), &updated).await?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    client: Client,
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
    finalizer(&api, FINALIZER, job, |event| async {
        match event {
            Finalizer::Apply(job) => apply(&job, &ctx).await,
            Finalizer::Cleanup(job) => cleanup(&job, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
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

/// Creates or replaces a routing object we own; refuses objects we do not.
async fn put_routing(api: &Api<DynamicObject>, desired: &Value, job: &str) -> Result<bool, Error> {
    let name = desired["metadata"]["name"].as_str().unwrap_or_default();
    let obj: DynamicObject = serde_json::from_value(desired.clone())
        .map_err(|e| Error::Blocked(format!("rendered object is invalid: {e}")))?;
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
                // Left by a finished job (plain routing to its survivor): a new job may take it.
                tracing::debug!("taking over routing left by job {other}");
            }
            if existing.data.get("spec") != desired.get("spec") || existing.labels() != obj.labels()
            {
                let mut obj = obj;
                obj.metadata.resource_version = existing.metadata.resource_version.clone();
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

async fn apply(job: &ReleaseJob, ctx: &Context) -> Result<Action, Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let jobs: Api<ReleaseJob> = Api::namespaced(ctx.client.clone(), &ns);
    let spec: &ReleaseSpec = &job.spec.release;
    if let Some(keep) = job.spec.offline_keep {
        return go_offline(job, ctx, keep).await;
    }

    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(base) = deployments.get_opt(&spec.base_workload).await? else {
        return block(&jobs, ctx, job, format!(
            "The base workload {} does not exist in {ns}: the job copies it to make {}. Recreate it, or delete this job.",
            spec.base_workload, spec.new_version
        )).await;
    };
    let base_json = serde_json::to_value(&base).unwrap_or_default();

    // The new version: create it, or bring an existing one of ours in line.
    let rendered_deploy = render::new_deployment(spec, &name, &base_json);
    let new_name = spec.new_workload();
    let new = match deployments.get_opt(&new_name).await? {
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
    let rendered = render::render(spec, &name, &ns, &base_json, base_ready, new_ready);

    let dr_api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &dr_resource());
    let vs_api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &vs_resource());
    let created_dr = match put_routing(&dr_api, &rendered.destination_rule, &name).await {
        Err(Error::Blocked(m)) => return block(&jobs, ctx, job, m).await,
        other => other?,
    };
    let created_vs = match put_routing(&vs_api, &rendered.virtual_service, &name).await {
        Err(Error::Blocked(m)) => return block(&jobs, ctx, job, m).await,
        other => other?,
    };

    let previous = job.status.clone().unwrap_or_default();
    let (phase, message) = match (rendered.held, spec.taken_over_by) {
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
        (None, None) => (
            Phase::Live,
            format!(
                "{}: {} {}% / {} {}%.",
                spec.strategy.label(),
                spec.base_version,
                rendered.split.base,
                spec.new_version,
                rendered.split.new
            ),
        ),
    };
    let mut conditions = previous.conditions.clone();
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
        &format!(
            "{} {}% / {} {}%",
            spec.base_version, rendered.split.base, spec.new_version, rendered.split.new
        ),
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
        ],
        observed_generation: job.metadata.generation,
        created_routes: previous.created_routes || (created_dr && created_vs),
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
    Ok(match phase {
        Phase::Progressing => Action::requeue(PROGRESS_REQUEUE),
        _ => Action::requeue(LIVE_REQUEUE),
    })
}

/// Job Offline: keep one side, delete the other's workload, leave plain routing to the
/// survivor, then delete the job itself.
async fn go_offline(job: &ReleaseJob, ctx: &Context, keep: Side) -> Result<Action, Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let spec = &job.spec.release;
    let jobs: Api<ReleaseJob> = Api::namespaced(ctx.client.clone(), &ns);
    let (kept_version, gone_workload) = match keep {
        Side::New => (&spec.new_version, spec.base_workload.clone()),
        Side::Base => (&spec.base_version, spec.new_workload()),
    };
    let mut status = job.status.clone().unwrap_or_default();
    status.phase = Some(Phase::GoingOffline);
    status.message = Some(format!(
        "Job Offline: keeping {kept_version}, removing {gone_workload}."
    ));
    write_status(&jobs, job, status).await?;

    // Routing first, so no request is sent to the workload about to disappear.
    let (dr, vs) = render::survivor_routes(&spec.component, kept_version, &name, &ns);
    let dr_api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &dr_resource());
    let vs_api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &vs_resource());
    put_routing(&vs_api, &vs, &name).await?;
    put_routing(&dr_api, &dr, &name).await?;
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    match deployments
        .delete(&gone_workload, &DeleteParams::background())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    publish(
        ctx,
        job,
        EventType::Normal,
        "JobOffline",
        format!("Removed {gone_workload}; all traffic to {kept_version}."),
    )
    .await;
    match jobs.delete(&name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Action::await_change())
}

/// The job is being deleted. After Job Offline nothing is left to do; otherwise the
/// release is undone: the new version goes, and routing returns to the base.
async fn cleanup(job: &ReleaseJob, ctx: &Context) -> Result<Action, Error> {
    if job.spec.offline_keep.is_some() {
        return Ok(Action::await_change());
    }
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let spec = &job.spec.release;
    let dr_api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &dr_resource());
    let vs_api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &ns, &vs_resource());
    let created = job.status.as_ref().is_some_and(|s| s.created_routes);
    if created {
        for api in [&vs_api, &dr_api] {
            if let Some(existing) = api.get_opt(&spec.component).await?
                && existing.labels().get(RELEASE_LABEL) == Some(&name)
            {
                api.delete(&spec.component, &DeleteParams::default())
                    .await?;
            }
        }
    } else {
        let (dr, vs) = render::survivor_routes(&spec.component, &spec.base_version, &name, &ns);
        put_routing(&vs_api, &vs, &name).await?;
        put_routing(&dr_api, &dr, &name).await?;
    }
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let new_name = spec.new_workload();
    if let Some(d) = deployments.get_opt(&new_name).await?
        && d.labels().get(RELEASE_LABEL) == Some(&name)
    {
        deployments
            .delete(&new_name, &DeleteParams::background())
            .await?;
    }
    Ok(Action::await_change())
}
