//! The [`ReleasesPort`] on kube-rs: reading, creating and changing ReleaseJob objects.
//! Changes are applied with the job's resourceVersion (a `replace`), so two people moving
//! the same slider never overwrite each other silently: the second gets a 409, turned
//! into a message that says what the job looks like now.

use ::kube::ResourceExt;
use ::kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;
use sluice_app::domain::applications::RoutingObject;
use sluice_app::domain::audit;
use sluice_app::domain::release::jobs::{
    JobChange, JobView, VersionView, apply_change, validate_new_job,
};
use sluice_app::domain::release::render::{self, MANAGED_BY};
use sluice_app::domain::release::validation::{ClusterFacts, names_are_valid};
use sluice_app::domain::release::{ReleaseSpec, Routing, gateway};
use sluice_app::error::AppError;
use sluice_app::ports::ReleasesPort;

use super::cluster::KubeCluster;
use super::release_controller::routing_api;
use super::releases::{
    ClaimError, Claimed, ReleaseJob, ReleaseJobSpec, claim, read_facts, release_claim,
};

/// The second opinion on content-rule regexes: the pure RE2 grammar
/// (`domain::release::re2`) has accepted the pattern and spelled it in the regex crate's
/// syntax; compiling that catches anything the grammar let through by mistake.
pub fn check_regex(re: &str) -> Result<(), String> {
    regex::Regex::new(re).map(|_| ()).map_err(|e| {
        e.to_string()
            .lines()
            .last()
            .unwrap_or("invalid")
            .trim()
            .trim_start_matches("error: ")
            .to_string()
    })
}

pub fn view(job: ReleaseJob, project: &str) -> JobView {
    let status = job.status.clone().unwrap_or_default();
    let now = k8s_openapi::jiff::Timestamp::now();
    JobView {
        name: job.name_any(),
        project: project.to_string(),
        spec: job.spec.release.clone(),
        offline_keep: job.spec.offline_keep,
        phase: status.phase.map(|p| format!("{p:?}")),
        message: status.message,
        versions: status
            .versions
            .into_iter()
            .map(|v| VersionView {
                version: v.version,
                workload: v.workload,
                image: v.image,
                desired: v.desired,
                ready: v.ready,
                weight: v.weight,
            })
            .collect(),
        generation: job.metadata.generation.unwrap_or(0),
        next_check_in: status
            .analysis
            .as_ref()
            .filter(|a| a.outcome.is_none() && !a.paused && a.waiting.is_none())
            .and_then(|a| a.next_check_in(now.as_second())),
        analysis: status.analysis,
        age_seconds: job
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| now.as_second() - t.0.as_second()),
    }
}

/// The answer to a second job for a component.
fn busy(component: &str, holder: &str) -> AppError {
    AppError::Conflict(format!(
        "{component} is being released by job {holder}: finish it (Take Over, then Job \
         Offline) or delete it before starting another."
    ))
}

fn not_found(project: &str, name: &str) -> AppError {
    AppError::NotFound(format!(
        "There is no release job \"{name}\" in project \"{project}\": it may have gone offline or been deleted."
    ))
}

impl KubeCluster {
    fn jobs(&self, project: &str) -> Result<Api<ReleaseJob>, AppError> {
        Ok(Api::namespaced(self.client()?, project))
    }

    fn history_error(&self, e: ::kube::Error) -> AppError {
        match &e {
            ::kube::Error::Api(s) if s.code == 404 => AppError::Unavailable(
                "The audit history is not available: the ReleaseHistory CRD is not installed \
                 in this cluster (the console installs it when it leads). Apply it with: \
                 kubectl apply -f deploy/crds/releasehistories.sluice.dev.yaml"
                    .into(),
            ),
            _ => self.api_error("reading the audit history", e),
        }
    }

    /// Marks a write as the console's, for the audit history: who (the signed-in user;
    /// the API server's admission policy stamps the same where installed) and the spec
    /// revision the write produces.
    fn stamp(&self, job: &mut ReleaseJob, next_generation: i64) {
        let annotations = job
            .metadata
            .annotations
            .get_or_insert_with(Default::default);
        annotations.insert(audit::CHANGED_VIA.into(), "console".into());
        annotations.insert(
            audit::CHANGED_GENERATION.into(),
            next_generation.to_string(),
        );
        if let Some(user) = self.acting_user() {
            annotations.insert(audit::CHANGED_BY.into(), user.to_string());
        }
    }

    fn job_error(&self, action: &str, project: &str, name: &str, e: ::kube::Error) -> AppError {
        match &e {
            ::kube::Error::Api(s)
                if s.code == 404
                    && !s.message.contains("could not find the requested resource") =>
            {
                not_found(project, name)
            }
            ::kube::Error::Api(s) if s.code == 404 => AppError::Unavailable(
                "Release jobs are not available: the ReleaseJob CRD is not installed in this \
                 cluster. Apply it with: kubectl apply -f deploy/crds/releasejobs.sluice.dev.yaml"
                    .into(),
            ),
            _ => self.api_error(action, e),
        }
    }
}

#[async_trait]
impl ReleasesPort for KubeCluster {
    async fn list_jobs(&self, project: &str) -> Result<Vec<JobView>, AppError> {
        let list = self
            .jobs(project)?
            .list(&ListParams::default())
            .await
            .map_err(|e| self.job_error("listing release jobs", project, "", e))?;
        let mut jobs: Vec<JobView> = list.items.into_iter().map(|j| view(j, project)).collect();
        jobs.sort_by_key(|j| j.age_seconds.unwrap_or(0));
        Ok(jobs)
    }

    async fn get_job(&self, project: &str, name: &str) -> Result<JobView, AppError> {
        let job = self
            .jobs(project)?
            .get(name)
            .await
            .map_err(|e| self.job_error("reading a release job", project, name, e))?;
        Ok(view(job, project))
    }

    async fn create_job(
        &self,
        project: &str,
        name: &str,
        mut spec: ReleaseSpec,
    ) -> Result<JobView, AppError> {
        let client = self.client()?;
        // The same checks the controller runs on every job it reconciles; the cluster is
        // asked only about names that are names.
        let facts = if names_are_valid(&spec) {
            read_facts(&client, project, &spec.component)
                .await
                .map_err(|e| self.api_error("reading workloads", e))?
                .facts
        } else {
            ClusterFacts::default()
        };
        gateway::adopt_attached_route(&mut spec, &facts.http_routes, &facts.gateway_routes);
        let problems = validate_new_job(name, project, &spec, &facts, &check_regex);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems.join(" ")));
        }
        let jobs = self.jobs(project)?;
        let existing = jobs
            .list(&ListParams::default())
            .await
            .map_err(|e| self.job_error("listing release jobs", project, name, e))?;
        if let Some(other) = existing
            .items
            .iter()
            .find(|j| j.spec.release.component == spec.component)
        {
            return Err(busy(&spec.component, &other.name_any()));
        }
        for (kind, object) in render::routing_objects(&spec) {
            let api = routing_api(&client, project, kind);
            match api.get_opt(&object).await {
                Ok(Some(obj))
                    if obj.labels().get(MANAGED_BY.0).map(String::as_str) != Some(MANAGED_BY.1) =>
                {
                    let what = if kind == "Service" {
                        format!(
                            "a Service {object} that Sluice does not manage, and an HTTPRoute \
                             release routes version traffic through a Service of that name. \
                             Sluice never overwrites it: rename or delete it, choose another \
                             version number, or choose Istio VirtualService routing."
                        )
                    } else {
                        format!(
                            "a {kind} ({object}) that Sluice does not manage: it was written by \
                             hand or by another tool, and Sluice never overwrites it silently. \
                             Either let Sluice manage it (the job then replaces its routes), or \
                             delete it, or release another component."
                        )
                    };
                    return Err(AppError::Conflict(format!(
                        "{} already has {what}",
                        spec.component
                    )));
                }
                Ok(_) => {}
                Err(::kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(self.api_error("reading routing", e)),
            }
        }
        // The claim makes "one job per component" atomic: of concurrent creates (two
        // people, two console replicas) exactly one gets it. It is the console's own
        // bookkeeping, so it is written with the console's credentials.
        let service = self.service_client()?;
        let claimed = match claim(&service, project, &spec.component, name, None).await {
            Ok(c) => c,
            Err(ClaimError::Held { component, holder }) => return Err(busy(&component, &holder)),
            Err(ClaimError::Kube(e)) => return Err(self.api_error("claiming the component", e)),
        };
        // Who creates the job is what the API server knows the caller as: the signed-in
        // user, or the console's own credentials without sign-in. Never what the browser
        // sent.
        let mut spec = spec;
        spec.creator = match self.acting_user() {
            Some(user) => Some(user.to_string()),
            None => super::identity::who_am_i(&client)
                .await
                .ok()
                .flatten()
                .map(|me| me.user),
        };
        let component = spec.component.clone();
        let mut job = ReleaseJob::new(
            name,
            ReleaseJobSpec {
                release: spec,
                offline_keep: None,
            },
        );
        job.metadata.labels = Some([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())].into());
        self.stamp(&mut job, 1);
        let created = match jobs.create(&PostParams::default(), &job).await {
            Ok(created) => created,
            Err(e) => {
                // Give the component back, exactly the claim written here.
                if let Claimed::Written(rv) = &claimed
                    && let Err(e) =
                        release_claim(&service, project, &component, name, None, Some(rv)).await
                {
                    tracing::warn!(error = %e, "releasing the claim on {component} failed");
                }
                return Err(match e {
                    ::kube::Error::Api(s) if s.code == 409 => AppError::Conflict(format!(
                        "A release job named {name} already exists in {project}: choose another name."
                    )),
                    e => self.job_error("creating a release job", project, name, e),
                });
            }
        };
        // The job owns its claim from now on (the controller does this too, should the
        // console stop right here).
        if let Err(e) = claim(
            &service,
            project,
            &component,
            name,
            created.metadata.uid.as_deref(),
        )
        .await
        {
            tracing::warn!(error = %e, "linking the claim on {component} to {name} failed");
        }
        Ok(view(created, project))
    }

    async fn change_job(
        &self,
        project: &str,
        name: &str,
        generation: i64,
        change: JobChange,
    ) -> Result<JobView, AppError> {
        let jobs = self.jobs(project)?;
        let stale = |now: &ReleaseJob| {
            let v = view(now.clone(), project);
            AppError::Conflict(format!(
                "Someone else changed {name} while you were looking (it is now: {}). Your \
                 change ({}) was not applied; the page shows the current values, try again if \
                 you still want it.",
                describe_now(&v),
                change.describe(&now.spec.release)
            ))
        };
        // A 409 from the replace can come from the controller writing status (which moves
        // the resourceVersion, not the generation): then read again and retry; a moved
        // generation means another person changed the spec.
        for _ in 0..5 {
            let current = jobs
                .get(name)
                .await
                .map_err(|e| self.job_error("reading a release job", project, name, e))?;
            if current.metadata.generation.unwrap_or(0) != generation {
                return Err(stale(&current));
            }
            let (spec, offline_keep) = apply_change(
                &current.spec.release,
                current.spec.offline_keep,
                current.status.as_ref().and_then(|s| s.analysis.as_ref()),
                &change,
                &check_regex,
            )
            .map_err(AppError::Invalid)?;
            if spec == current.spec.release && offline_keep == current.spec.offline_keep {
                // Nothing to change (the job already is so): no write, no history entry.
                return Ok(view(current, project));
            }
            let mut next = current.clone();
            next.spec.release = spec;
            next.spec.offline_keep = offline_keep;
            self.stamp(&mut next, generation + 1);
            match jobs.replace(name, &PostParams::default(), &next).await {
                Ok(updated) => return Ok(view(updated, project)),
                Err(::kube::Error::Api(s)) if s.code == 409 => continue,
                Err(e) => return Err(self.job_error("changing a release job", project, name, e)),
            }
        }
        Err(AppError::Unavailable(format!(
            "{name} kept changing while Sluice applied your change; try again."
        )))
    }

    async fn delete_job(&self, project: &str, name: &str) -> Result<(), AppError> {
        // Who deletes it, for the audit history (the deletion itself carries no user).
        let who = match self.acting_user() {
            Some(user) => Some(user.to_string()),
            None => super::identity::who_am_i(&self.client()?)
                .await
                .ok()
                .flatten()
                .map(|me| me.user),
        };
        if let Some(who) = who {
            let patch = json!({"metadata": {"annotations": {audit::DELETED_BY: who}}});
            if let Err(e) = self
                .jobs(project)?
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                return Err(self.job_error("deleting a release job", project, name, e));
            }
        }
        self.jobs(project)?
            .delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(|e| self.job_error("deleting a release job", project, name, e))
    }

    async fn preview_job(
        &self,
        project: &str,
        name: &str,
        spec: &ReleaseSpec,
    ) -> Result<Vec<RoutingObject>, AppError> {
        let client = self.client()?;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), project);
        let services: Api<Service> = Api::namespaced(client.clone(), project);
        let (base, service) = futures::try_join!(
            deployments.get(&spec.base_workload),
            services.get(&spec.component)
        )
        .map_err(|e| self.api_error("reading the base workload and its Service", e))?;
        let base = serde_json::to_value(base).unwrap_or_default();
        let service = serde_json::to_value(service).unwrap_or_default();
        // The route Create will write: one already attached to the component, if any.
        let mut spec = spec.clone();
        let mut route = serde_json::Value::Null;
        if spec.routing == Routing::HttpRoute {
            let facts = read_facts(&client, project, &spec.component)
                .await
                .map_err(|e| self.api_error("reading the component's routes", e))?
                .facts;
            gateway::adopt_attached_route(&mut spec, &facts.http_routes, &facts.gateway_routes);
            route = facts
                .http_route_objects
                .into_iter()
                .find(|r| r["metadata"]["name"] == spec.route_name())
                .unwrap_or_default();
        }
        let spec = &spec;
        // As applied once both versions have ready pods.
        let r = render::render(spec, name, project, &base, &service, &route, &[]);
        let yaml = |v: &serde_json::Value| serde_yaml::to_string(v).unwrap_or_default();
        let object = |v: &serde_json::Value| RoutingObject {
            kind: v["kind"].as_str().unwrap_or_default().into(),
            name: v["metadata"]["name"].as_str().unwrap_or_default().into(),
            yaml: yaml(v),
        };
        Ok(std::iter::once(&r.deployment)
            .chain(&r.routing)
            .map(object)
            .collect())
    }

    async fn history(
        &self,
        project: &str,
        name: &str,
    ) -> Result<sluice_app::domain::audit::JobHistory, AppError> {
        super::audit::read_history(&self.client()?, project, name)
            .await
            .map_err(|e| self.history_error(e))
    }

    async fn finished_jobs(
        &self,
        project: &str,
    ) -> Result<Vec<sluice_app::domain::audit::Finished>, AppError> {
        super::audit::finished(&self.client()?, project)
            .await
            .map_err(|e| self.history_error(e))
    }

    async fn adopt_routing(&self, project: &str, component: &str) -> Result<(), AppError> {
        let client = self.client()?;
        // Its VirtualService and DestinationRule, and the HTTPRoutes attached to it (the one
        // an HTTPRoute release writes).
        let facts = read_facts(&client, project, component)
            .await
            .map_err(|e| self.api_error("reading the component's routes", e))?
            .facts;
        // The route a release writes: one attached to it, else a Gateway's route to it.
        let attached = if facts.http_routes.is_empty() {
            facts.gateway_routes
        } else {
            facts.http_routes
        };
        let objects = [
            ("VirtualService", component.to_string()),
            ("DestinationRule", component.to_string()),
        ]
        .into_iter()
        .chain(attached.into_iter().map(|r| ("HTTPRoute", r)));
        for (kind, object) in objects {
            let api = routing_api(&client, project, kind);
            let patch = json!({"metadata": {"labels": {MANAGED_BY.0: MANAGED_BY.1}}});
            match api
                .patch(&object, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(::kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(self.api_error("taking over routing", e)),
            }
        }
        Ok(())
    }
}

fn describe_now(v: &JobView) -> String {
    let weights: Vec<String> = v
        .versions
        .iter()
        .map(|x| format!("{} {}%", x.version, x.weight))
        .collect();
    if weights.is_empty() {
        v.spec.strategy.label().to_string()
    } else {
        format!("{}, {}", v.spec.strategy.label(), weights.join(" / "))
    }
}
