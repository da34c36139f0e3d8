//! Applications: list a project's applications, deploy and uninstall the Bookinfo sample,
//! and the project's governance settings.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::domain::applications::{ApplicationDetail, ApplicationsView, ObjectRef, SamplePreview};
use crate::domain::sample_uninstall::UninstallPreview;
use crate::error::AppError;

/// The applications of a project, with workload status and routes.
#[server(input = GetUrl, endpoint = "list_applications")]
pub async fn list_applications(project: String) -> Result<ApplicationsView, AppError> {
    super::reply(ssr::list_applications(project).await)
}

/// One application: components, workloads, pods, events and routing objects.
#[server(input = GetUrl, endpoint = "get_application")]
pub async fn get_application(project: String, app: String) -> Result<ApplicationDetail, AppError> {
    super::reply(ssr::get_application(project, app).await)
}

/// What Deploy Sample Application would create, and what already exists.
#[server(input = GetUrl, endpoint = "preview_sample_app")]
pub async fn preview_sample_app(project: String) -> Result<SamplePreview, AppError> {
    super::reply(ssr::preview(project).await)
}

/// Deploys Bookinfo into the project, all or nothing.
#[server(endpoint = "deploy_sample_app")]
pub async fn deploy_sample_app(project: String) -> Result<Vec<ObjectRef>, AppError> {
    super::reply(ssr::deploy(project).await)
}

/// What Uninstall Sample Application would remove (or is removing), what stays, and
/// what stops it.
#[server(input = GetUrl, endpoint = "preview_sample_uninstall")]
pub async fn preview_sample_uninstall(project: String) -> Result<UninstallPreview, AppError> {
    super::reply(ssr::uninstall_preview(project).await)
}

/// Removes everything Deploy Sample Application and the releases of its components
/// created, after checking every deletion first; answers the objects whose deletion was
/// requested (pods terminate afterwards).
#[server(endpoint = "uninstall_sample_app")]
pub async fn uninstall_sample_app(project: String) -> Result<Vec<ObjectRef>, AppError> {
    super::reply(ssr::uninstall(project).await)
}

/// Turns sidecar injection on or off for the project.
#[server(endpoint = "set_sidecar_injection")]
pub async fn set_sidecar_injection(project: String, enabled: bool) -> Result<(), AppError> {
    super::reply(ssr::set_injection(project, enabled).await)
}

/// Sets the share of requests traced for the project (0 to 100 %).
#[server(endpoint = "set_trace_sampling")]
pub async fn set_trace_sampling(project: String, percent: u8) -> Result<(), AppError> {
    super::reply(ssr::set_sampling(project, percent).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::domain::applications::{
        ApplicationDetail, ApplicationsView, ObjectRef, SamplePreview,
    };
    use crate::domain::names::check_dns_label;
    use crate::domain::sample_app;
    use crate::domain::sample_uninstall::{
        self, ClusterObject, POD, REMOVAL_ORDER, UninstallPreview,
    };
    use crate::error::AppError;
    use crate::ports::{Ports, use_ports};

    fn check_project(project: &str) -> Result<(), AppError> {
        check_dns_label("Project", project).map_err(AppError::Invalid)
    }

    pub async fn list_applications(project: String) -> Result<ApplicationsView, AppError> {
        check_project(&project)?;
        let inventory = use_ports()?.cluster.project_inventory(&project).await?;
        Ok(ApplicationsView::from_inventory(inventory))
    }

    pub async fn get_application(
        project: String,
        app: String,
    ) -> Result<ApplicationDetail, AppError> {
        check_project(&project)?;
        let ports = use_ports()?;
        let inventory = ports.cluster.project_inventory(&project).await?;
        let view = ApplicationsView::from_inventory(inventory)
            .applications
            .into_iter()
            .find(|a| a.app.name == app)
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "There is no application \"{app}\" in project \"{project}\"."
                ))
            })?;
        let (pods, events, routing) = ports.cluster.application_extras(&project, &view).await?;
        Ok(ApplicationDetail {
            project,
            view,
            pods,
            events,
            routing,
        })
    }

    fn plan(
        project: &str,
        sandbox: bool,
    ) -> Result<(String, Vec<sample_app::PlannedObject>), AppError> {
        let host = sample_app::default_host(project, sandbox);
        let plan = sample_app::plan(project, &host).map_err(|e| {
            leptos::logging::error!("bundled Bookinfo manifests: {e}");
            AppError::Internal("read the bundled Bookinfo manifests".into())
        })?;
        Ok((host, plan))
    }

    pub async fn preview(project: String) -> Result<SamplePreview, AppError> {
        check_project(&project)?;
        let ports = use_ports()?;
        let (host, plan) = plan(&project, ports.cluster.is_sandbox())?;
        let values: Vec<serde_json::Value> = plan.iter().map(|o| o.object.clone()).collect();
        let existing = ports.cluster.existing_objects(&values).await?;
        let inventory = ports.cluster.project_inventory(&project).await?;
        Ok(SamplePreview {
            enables_injection: !inventory.project.sidecar_injection,
            project,
            host,
            objects: plan
                .iter()
                .map(|o| ObjectRef {
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                })
                .collect(),
            existing,
        })
    }

    pub async fn deploy(project: String) -> Result<Vec<ObjectRef>, AppError> {
        check_project(&project)?;
        let ports = use_ports()?;
        let (_, plan) = plan(&project, ports.cluster.is_sandbox())?;
        let values: Vec<serde_json::Value> = plan.into_iter().map(|o| o.object).collect();
        let existing = ports.cluster.existing_objects(&values).await?;
        if !existing.is_empty() {
            let names: Vec<String> = existing.iter().map(ToString::to_string).collect();
            return Err(AppError::Conflict(format!(
                "Bookinfo cannot be deployed into \"{project}\": {} already exist(s) there ({}). \
                 Nothing was changed. Delete them first, or deploy into another project.",
                existing.len(),
                names.join(", ")
            )));
        }
        // Pods get their sidecar when created, so injection goes on first; if creating
        // fails, the project is left as it was.
        let injection_was_on = ports
            .cluster
            .project_inventory(&project)
            .await?
            .project
            .sidecar_injection;
        if !injection_was_on {
            ports.cluster.set_sidecar_injection(&project, true).await?;
        }
        let created = ports.cluster.create_all(values).await;
        if created.is_err()
            && !injection_was_on
            && let Err(e) = ports.cluster.set_sidecar_injection(&project, false).await
        {
            leptos::logging::error!("restoring sidecar injection of {project}: {e}");
        }
        created
    }

    /// The project's objects of the kinds the uninstall removes, the sample's pods and the
    /// release jobs, read at once.
    async fn uninstall_state(
        ports: &Ports,
        project: &str,
    ) -> Result<(UninstallPreview, Vec<ClusterObject>), AppError> {
        let selector = sample_uninstall::pod_selector();
        let (objects, pods, jobs) = futures::try_join!(
            ports.cluster.list_objects(project, &REMOVAL_ORDER, None),
            ports.cluster.list_objects(project, &[POD], Some(&selector)),
            ports.releases.list_jobs(project),
        )?;
        let preview = UninstallPreview::new(project, &objects, &pods, &jobs);
        Ok((preview, objects))
    }

    pub async fn uninstall_preview(project: String) -> Result<UninstallPreview, AppError> {
        check_project(&project)?;
        Ok(uninstall_state(&use_ports()?, &project).await?.0)
    }

    /// Adds a sentence to what a person reads (the failure's own words first).
    fn and_say(e: AppError, note: &str) -> AppError {
        match e {
            AppError::NotFound(m) => AppError::NotFound(format!("{m} {note}")),
            AppError::Invalid(m) => AppError::Invalid(format!("{m} {note}")),
            AppError::Conflict(m) => AppError::Conflict(format!("{m} {note}")),
            AppError::Unavailable(m) => AppError::Unavailable(format!("{m} {note}")),
            AppError::Forbidden(m) => AppError::Forbidden(format!("{m} {note}")),
            AppError::Unauthenticated(m) => AppError::Unauthenticated(format!("{m} {note}")),
            AppError::Cluster(p) => AppError::Unavailable(format!(
                "{}: {}. {} {note}",
                p.headline(),
                p.detail,
                p.fix()
            )),
            other => other,
        }
    }

    pub async fn uninstall(project: String) -> Result<Vec<ObjectRef>, AppError> {
        check_project(&project)?;
        let ports = use_ports()?;
        let (preview, objects) = uninstall_state(&ports, &project).await?;
        if let Some(refusal) = preview.refusal() {
            return Err(AppError::Conflict(refusal));
        }
        let targets = sample_uninstall::plan(&objects);
        if targets.is_empty() {
            return Err(AppError::NotFound(format!(
                "There is nothing of the sample application ({}) in project \"{project}\" to \
                 uninstall: only objects Deploy Sample Application or a release created are \
                 removed.",
                sample_uninstall::SAMPLE_APP
            )));
        }
        // All or nothing where Kubernetes allows it: every deletion is first asked as a
        // dry run, so a missing permission or a refusing admission check stops the
        // uninstall before anything is gone.
        for t in &targets {
            ports
                .cluster
                .delete_object(&project, t, true)
                .await
                .map_err(|e| and_say(e, "Nothing was removed."))?;
        }
        let mut removed = Vec::with_capacity(targets.len());
        for (i, t) in targets.iter().enumerate() {
            if let Err(e) = ports.cluster.delete_object(&project, t, false).await {
                let left: Vec<String> = targets[i..]
                    .iter()
                    .map(|o| o.reference().to_string())
                    .collect();
                let gone: Vec<String> = removed.iter().map(ToString::to_string).collect();
                let note = format!(
                    "Removed before it failed: {}. Still there: {}. Press Uninstall again to \
                     remove the rest.",
                    if gone.is_empty() {
                        "nothing".to_string()
                    } else {
                        gone.join(", ")
                    },
                    left.join(", ")
                );
                return Err(and_say(e, &note));
            }
            removed.push(t.reference());
        }
        Ok(removed)
    }

    pub async fn set_sampling(project: String, percent: u8) -> Result<(), AppError> {
        check_project(&project)?;
        if percent > 100 {
            return Err(AppError::Invalid(format!(
                "Trace sampling of {percent}% is out of range: choose 0 to 100."
            )));
        }
        use_ports()?
            .cluster
            .set_trace_sampling(&project, percent)
            .await
    }

    pub async fn set_injection(project: String, enabled: bool) -> Result<(), AppError> {
        check_project(&project)?;
        use_ports()?
            .cluster
            .set_sidecar_injection(&project, enabled)
            .await
    }
}
