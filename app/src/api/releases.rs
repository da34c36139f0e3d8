//! Grayscale Release: list, create, change and delete release jobs, and preview what a
//! job will write. Changes carry the resourceVersion the person saw.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, Json};

use crate::domain::applications::RoutingObject;
use crate::domain::release::ReleaseSpec;
use crate::domain::release::jobs::{JobChange, JobView};
use crate::error::AppError;

#[server(input = GetUrl, endpoint = "list_release_jobs")]
pub async fn list_release_jobs(project: String) -> Result<Vec<JobView>, AppError> {
    super::reply(ssr::list(project).await)
}

#[server(input = GetUrl, endpoint = "get_release_job")]
pub async fn get_release_job(project: String, name: String) -> Result<JobView, AppError> {
    super::reply(ssr::get(project, name).await)
}

#[server(input = Json, endpoint = "create_release_job")]
pub async fn create_release_job(
    project: String,
    name: String,
    spec: ReleaseSpec,
) -> Result<JobView, AppError> {
    super::reply(ssr::create(project, name, spec).await)
}

#[server(input = Json, endpoint = "change_release_job")]
pub async fn change_release_job(
    project: String,
    name: String,
    generation: i64,
    change: JobChange,
) -> Result<JobView, AppError> {
    super::reply(ssr::change(project, name, generation, change).await)
}

#[server(endpoint = "delete_release_job")]
pub async fn delete_release_job(project: String, name: String) -> Result<(), AppError> {
    super::reply(ssr::delete(project, name).await)
}

#[server(input = Json, endpoint = "preview_release_job")]
pub async fn preview_release_job(
    project: String,
    name: String,
    spec: ReleaseSpec,
) -> Result<Vec<RoutingObject>, AppError> {
    super::reply(ssr::preview(project, name, spec).await)
}

/// The choice offered when a component has routing Sluice does not manage.
#[server(endpoint = "adopt_routing")]
pub async fn adopt_routing(project: String, component: String) -> Result<(), AppError> {
    super::reply(ssr::adopt(project, component).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::domain::applications::RoutingObject;
    use crate::domain::names::check_dns_label;
    use crate::domain::release::ReleaseSpec;
    use crate::domain::release::jobs::{JobChange, JobView};
    use crate::error::AppError;
    use crate::ports::use_ports;

    fn check(project: &str, name: Option<&str>) -> Result<(), AppError> {
        check_dns_label("Project", project).map_err(AppError::Invalid)?;
        if let Some(n) = name {
            check_dns_label("Job name", n).map_err(AppError::Invalid)?;
        }
        Ok(())
    }

    pub async fn list(project: String) -> Result<Vec<JobView>, AppError> {
        check(&project, None)?;
        use_ports()?.releases.list_jobs(&project).await
    }

    pub async fn get(project: String, name: String) -> Result<JobView, AppError> {
        check(&project, Some(&name))?;
        use_ports()?.releases.get_job(&project, &name).await
    }

    pub async fn create(
        project: String,
        name: String,
        spec: ReleaseSpec,
    ) -> Result<JobView, AppError> {
        check(&project, Some(&name))?;
        use_ports()?
            .releases
            .create_job(&project, &name, spec)
            .await
    }

    pub async fn change(
        project: String,
        name: String,
        generation: i64,
        change: JobChange,
    ) -> Result<JobView, AppError> {
        check(&project, Some(&name))?;
        use_ports()?
            .releases
            .change_job(&project, &name, generation, change)
            .await
    }

    pub async fn delete(project: String, name: String) -> Result<(), AppError> {
        check(&project, Some(&name))?;
        use_ports()?.releases.delete_job(&project, &name).await
    }

    pub async fn preview(
        project: String,
        name: String,
        spec: ReleaseSpec,
    ) -> Result<Vec<RoutingObject>, AppError> {
        check(&project, Some(&name))?;
        use_ports()?
            .releases
            .preview_job(&project, &name, &spec)
            .await
    }

    pub async fn adopt(project: String, component: String) -> Result<(), AppError> {
        check(&project, None)?;
        check_dns_label("Component", &component).map_err(AppError::Invalid)?;
        use_ports()?
            .releases
            .adopt_routing(&project, &component)
            .await
    }
}

/// Live per-version metrics of a job from Prometheus over the last `minutes`.
#[server(input = GetUrl, endpoint = "get_release_metrics")]
pub async fn get_release_metrics(
    project: String,
    name: String,
    minutes: u32,
) -> Result<crate::domain::metrics::ReleaseMetrics, AppError> {
    super::reply(ssr_metrics::get(project, name, minutes).await)
}

#[cfg(feature = "ssr")]
mod ssr_metrics {
    use crate::domain::metrics::{
        GateLines, ReleaseMetrics, latency_by_version, observed_split, rps_by_version,
        success_by_version,
    };
    use crate::domain::names::check_dns_label;
    use crate::error::AppError;
    use crate::ports::use_ports;

    pub async fn get(
        project: String,
        name: String,
        minutes: u32,
    ) -> Result<ReleaseMetrics, AppError> {
        check_dns_label("Project", &project).map_err(AppError::Invalid)?;
        if !(1..=60).contains(&minutes) {
            return Err(AppError::Invalid(format!(
                "A window of {minutes} minutes is out of range: choose 1 to 60."
            )));
        }
        let ports = use_ports()?;
        let job = ports.releases.get_job(&project, &name).await?;
        let services = job.spec.metric_services();
        let svc = services.as_str();
        let end = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let start = end - f64::from(minutes) * 60.0;
        // About 120 points per chart, never finer than the 5 s scrape interval.
        let step = (minutes * 60 / 120).max(5);
        let window = "1m";
        let q = |promql: String| {
            let m = ports.metrics.clone();
            async move { m.query_range(&promql, start, end, step).await }
        };
        let (rps, success, p50, p95, p99) = futures::try_join!(
            q(rps_by_version(&project, svc, window)),
            q(success_by_version(&project, svc, window)),
            q(latency_by_version(&project, svc, 0.5, window)),
            q(latency_by_version(&project, svc, 0.95, window)),
            q(latency_by_version(&project, svc, 0.99, window)),
        )?;
        let observed = observed_split(&rps);
        Ok(ReleaseMetrics {
            versions: job
                .spec
                .versions()
                .into_iter()
                .map(str::to_string)
                .collect(),
            start,
            end,
            configured: job
                .versions
                .iter()
                .map(|v| (v.version.clone(), v.weight))
                .collect(),
            rps,
            success,
            p50,
            p95,
            p99,
            observed,
            thresholds: job
                .spec
                .analysis
                .as_ref()
                .map(|a| GateLines {
                    min_success: a.gates.min_success_percent.map(|p| p / 100.0),
                    max_p99_ms: a.gates.max_p99_ms.map(f64::from),
                })
                .unwrap_or_default(),
        })
    }
}
