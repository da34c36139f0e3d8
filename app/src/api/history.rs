//! The audit history of release jobs: what changed, who changed it (as the API server
//! knows them) and through what, kept after a job ends. Read as the signed-in user.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::domain::audit::{Finished, JobHistory};
use crate::error::AppError;

#[server(input = GetUrl, endpoint = "get_release_history")]
pub async fn get_release_history(project: String, name: String) -> Result<JobHistory, AppError> {
    super::reply(ssr::history(project, name).await)
}

#[server(input = GetUrl, endpoint = "list_finished_jobs")]
pub async fn list_finished_jobs(project: String) -> Result<Vec<Finished>, AppError> {
    super::reply(ssr::finished(project).await)
}

#[cfg(feature = "ssr")]
mod ssr {
    use crate::domain::audit::{Finished, JobHistory};
    use crate::domain::names::check_dns_label;
    use crate::error::AppError;
    use crate::ports::use_ports;

    pub async fn history(project: String, name: String) -> Result<JobHistory, AppError> {
        check_dns_label("Project", &project).map_err(AppError::Invalid)?;
        check_dns_label("Job name", &name).map_err(AppError::Invalid)?;
        use_ports()?.releases.history(&project, &name).await
    }

    pub async fn finished(project: String) -> Result<Vec<Finished>, AppError> {
        check_dns_label("Project", &project).map_err(AppError::Invalid)?;
        use_ports()?.releases.finished_jobs(&project).await
    }
}
