//! Projects are Kubernetes namespaces, named the way KubeSphere users know them.

use serde::{Deserialize, Serialize};

use crate::domain::dataplane::ProjectDataPlane;

/// A namespace as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub name: String,
    /// `Active` or `Terminating`, as the cluster reports it.
    pub phase: String,
    /// `istio-injection=enabled`: new pods get an Envoy sidecar, so traffic is observed.
    pub sidecar_injection: bool,
    /// Ambient mode and its waypoint (`istio.io/dataplane-mode`, `istio.io/use-waypoint`).
    #[serde(default)]
    pub dataplane: ProjectDataPlane,
}

impl Project {
    /// Namespaces that belong to the platform rather than to the user's applications.
    /// They stay selectable (to inspect Istio itself) but are listed apart.
    pub fn is_system(&self) -> bool {
        is_system_namespace(&self.name)
    }
}

pub fn is_system_namespace(name: &str) -> bool {
    name.starts_with("kube-") || name == "istio-system" || name.ends_with("-system")
}

/// Splits projects into (user, system), each sorted by name, for the project selector.
pub fn group_projects(mut projects: Vec<Project>) -> (Vec<Project>, Vec<Project>) {
    projects.sort_by(|a, b| a.name.cmp(&b.name));
    projects.into_iter().partition(|p| !p.is_system())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> Project {
        Project {
            name: name.into(),
            phase: "Active".into(),
            sidecar_injection: false,
            dataplane: ProjectDataPlane::default(),
        }
    }

    #[test]
    fn system_namespaces_are_listed_apart_and_sorted() {
        let (user, system) = group_projects(vec![
            p("kube-system"),
            p("demo-project"),
            p("istio-system"),
            p("default"),
            p("kube-public"),
        ]);
        let names = |v: &[Project]| v.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&user), ["default", "demo-project"]);
        assert_eq!(
            names(&system),
            ["istio-system", "kube-public", "kube-system"]
        );
    }

    #[test]
    fn a_user_namespace_that_merely_contains_system_is_not_system() {
        assert!(!is_system_namespace("systems-team"));
        assert!(is_system_namespace("cert-manager-system"));
    }
}
