//! The [`ReleasesPort`] on kube-rs: reading, creating and changing ReleaseJob objects.
//! Changes are applied with the job's resourceVersion (a `replace`), so two people moving
//! the same slider never overwrite each other silently: the second gets a 409, turned
//! into a message that says what the job looks like now.

use ::kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use ::kube::{ResourceExt, discovery::ApiResource};
use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;
use sluice_app::domain::applications::RoutingObject;
use sluice_app::domain::release::ReleaseSpec;
use sluice_app::domain::release::jobs::{
    JobChange, JobView, VersionView, apply_change, validate_new_job,
};
use sluice_app::domain::release::render::{self, MANAGED_BY};
use sluice_app::error::AppError;
use sluice_app::ports::ReleasesPort;

use super::cluster::KubeCluster;
use super::releases::{ReleaseJob, ReleaseJobSpec};

/// The regex check used for content rules: Rust's regex crate accepts the same syntax
/// family as Envoy's RE2 (no look-around, no back-references).
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

fn view(job: ReleaseJob, project: &str) -> JobView {
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
        age_seconds: job
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| now.as_second() - t.0.as_second()),
    }
}

fn routing_api(client: &::kube::Client, ns: &str, kind: &str) -> Api<::kube::api::DynamicObject> {
    let ar = ApiResource::from_gvk(&::kube::api::GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        kind,
    ));
    Api::namespaced_with(client.clone(), ns, &ar)
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
        spec: ReleaseSpec,
    ) -> Result<JobView, AppError> {
        let client = self.client()?;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), project);
        let all = deployments
            .list(&ListParams::default())
            .await
            .map_err(|e| self.api_error("reading workloads", e))?;
        let base = all
            .items
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(spec.base_workload.as_str()))
            .ok_or_else(|| {
                AppError::Invalid(format!(
                    "The workload {} does not exist in {project}: pick the component again.",
                    spec.base_workload
                ))
            })?;
        let app = base
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.as_ref())
            .and_then(|l| l.get("app").cloned());
        // Versions in use by the component: every workload with the same app label.
        let versions_in_use: Vec<String> = all
            .items
            .iter()
            .filter_map(|d| {
                let labels = d
                    .spec
                    .as_ref()?
                    .template
                    .metadata
                    .as_ref()?
                    .labels
                    .as_ref()?;
                (labels.get("app").cloned() == app)
                    .then(|| labels.get("version").cloned())
                    .flatten()
            })
            .chain(
                all.items
                    .iter()
                    .filter(|d| d.metadata.name.as_deref() == Some(spec.new_workload().as_str()))
                    .map(|_| spec.new_version.clone()),
            )
            .collect();
        let problems = validate_new_job(name, &spec, &versions_in_use, &check_regex);
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
            return Err(AppError::Conflict(format!(
                "{} already has an active release job, {}: finish it (Take Over, then Job \
                 Offline) or delete it before starting another.",
                spec.component,
                other.name_any()
            )));
        }
        for kind in ["VirtualService", "DestinationRule"] {
            let api = routing_api(&client, project, kind);
            match api.get_opt(&spec.component).await {
                Ok(Some(obj))
                    if obj.labels().get(MANAGED_BY.0).map(String::as_str) != Some(MANAGED_BY.1) =>
                {
                    return Err(AppError::Conflict(format!(
                        "{} already has a {kind} ({}) that Sluice does not manage: it was written \
                         by hand or by another tool, and Sluice never overwrites it silently. \
                         Either let Sluice manage it (the job then replaces its routes), or \
                         delete it, or release another component.",
                        spec.component, spec.component
                    )));
                }
                Ok(_) => {}
                Err(::kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(self.api_error("reading routing", e)),
            }
        }
        let mut job = ReleaseJob::new(
            name,
            ReleaseJobSpec {
                release: spec,
                offline_keep: None,
            },
        );
        job.metadata.labels = Some([(MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string())].into());
        let created = jobs
            .create(&PostParams::default(), &job)
            .await
            .map_err(|e| match e {
                ::kube::Error::Api(s) if s.code == 409 => AppError::Conflict(format!(
                    "A release job named {name} already exists in {project}: choose another name."
                )),
                e => self.job_error("creating a release job", project, name, e),
            })?;
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
                &change,
                &check_regex,
            )
            .map_err(AppError::Invalid)?;
            let mut next = current.clone();
            next.spec.release = spec;
            next.spec.offline_keep = offline_keep;
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
        let deployments: Api<Deployment> = Api::namespaced(self.client()?, project);
        let base = deployments
            .get(&spec.base_workload)
            .await
            .map_err(|e| self.api_error("reading the base workload", e))?;
        let base = serde_json::to_value(base).unwrap_or_default();
        // As applied once both versions have ready pods.
        let r = render::render(spec, name, project, &base, 1, 1);
        let yaml = |v: &serde_json::Value| serde_yaml::to_string(v).unwrap_or_default();
        Ok(vec![
            RoutingObject {
                kind: "Deployment".into(),
                name: spec.new_workload(),
                yaml: yaml(&r.deployment),
            },
            RoutingObject {
                kind: "DestinationRule".into(),
                name: spec.component.clone(),
                yaml: yaml(&r.destination_rule),
            },
            RoutingObject {
                kind: "VirtualService".into(),
                name: spec.component.clone(),
                yaml: yaml(&r.virtual_service),
            },
        ])
    }

    async fn adopt_routing(&self, project: &str, component: &str) -> Result<(), AppError> {
        let client = self.client()?;
        for kind in ["VirtualService", "DestinationRule"] {
            let api = routing_api(&client, project, kind);
            let patch = json!({"metadata": {"labels": {MANAGED_BY.0: MANAGED_BY.1}}});
            match api
                .patch(component, &PatchParams::default(), &Patch::Merge(&patch))
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
