//! Services: every Service of a project with its versions, ports and a diagnosis of its
//! mesh configuration. The server function only gathers (inventory, mesh objects, release
//! jobs); `domain::diagnosis` decides.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::domain::diagnosis::ServicesView;
use crate::error::AppError;

/// The Services of a project with their configuration diagnosis.
#[server(input = GetUrl, endpoint = "list_services")]
pub async fn list_services(project: String) -> Result<ServicesView, AppError> {
    super::reply(ssr::list_services(project).await)
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::domain::diagnosis::{DiagnosisInputs, ServicesView, diagnose};
    use crate::domain::names::check_dns_label;
    use crate::error::AppError;
    use crate::ports::{Ports, use_ports};

    pub async fn list_services(project: String) -> Result<ServicesView, AppError> {
        check_dns_label("Project", &project).map_err(AppError::Invalid)?;
        diagnosis(&use_ports()?, &project).await
    }

    /// Reads what the diagnosis needs, all at once, and runs it. Release jobs that cannot
    /// be read (no ReleaseJob CRD yet) leave only their check out, and the page says so.
    pub(crate) async fn diagnosis(ports: &Ports, project: &str) -> Result<ServicesView, AppError> {
        let (inventory, mesh, jobs) = futures::join!(
            ports.cluster.project_inventory(project),
            ports.cluster.mesh_config(project),
            ports.releases.list_jobs(project),
        );
        let (inventory, mesh) = (inventory?, mesh?);
        let (jobs, note) = match jobs {
            Ok(jobs) => (jobs, None),
            Err(e) => (
                Vec::new(),
                Some(format!(
                    "Routing of release jobs was not checked: the jobs could not be read. {e}"
                )),
            ),
        };
        let mut view = diagnose(DiagnosisInputs {
            project,
            injection_enabled: inventory.project.sidecar_injection,
            dataplane: &inventory.project.dataplane,
            mesh: &mesh,
            workloads: &inventory.workloads,
            jobs: &jobs,
        });
        view.notes.extend(note);
        Ok(view)
    }
}
