//! Projects (namespaces).

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::domain::projects::Project;
use crate::error::AppError;

/// The namespaces of the cluster, as projects.
#[server(input = GetUrl, endpoint = "list_projects")]
pub async fn list_projects() -> Result<Vec<Project>, AppError> {
    let ports = crate::ports::use_ports()?;
    super::reply(ports.cluster.list_projects().await)
}
