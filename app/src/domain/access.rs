//! Who is using the console, and what they may do in a project.
//!
//! Kubernetes RBAC decides; the console only asks it (SelfSubjectAccessReview, as the
//! signed-in user) and shows the answer: an action the user may not take is disabled with
//! the reason, naming the permission that is missing. Which Kubernetes permissions each
//! console action needs is decided here, in one tested place, so the UI and the shipped
//! ClusterRoles (`deploy/rbac/`) agree.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The sign-in strategy (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthStrategy {
    /// No sign-in: loopback only; calls are made with the console's own credentials.
    None,
    /// A pasted Kubernetes bearer token.
    Token,
    /// An authenticating proxy's headers.
    Header,
    /// OpenID Connect.
    OpenId,
}

impl AuthStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthStrategy::None => "none",
            AuthStrategy::Token => "token",
            AuthStrategy::Header => "header",
            AuthStrategy::OpenId => "openid",
        }
    }
}

/// How the user signs out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignOut {
    /// Nothing to sign out of (`--auth none`).
    Unavailable,
    /// A form posting to `/auth/signout`.
    Form,
    /// The proxy's own sign-out address (`--auth-header-signout-url`).
    Link(String),
}

/// The person using the console, as the server established it (never as the browser
/// claims it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// The Kubernetes user name the console acts as.
    pub user: String,
    pub groups: Vec<String>,
    pub strategy: AuthStrategy,
    pub sign_out: SignOut,
}

/// What the sign-in page offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptions {
    pub strategy: AuthStrategy,
    /// The OpenID issuer, shown on the "Sign in with" button.
    pub issuer: Option<String>,
    /// True in sandbox mode: the page says where the demo users' tokens are.
    pub sandbox_hint: Option<String>,
}

/// The console's actions that change the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    /// Create Job (the wizard's last step).
    CreateJob,
    /// The slider, the rules, the blue-green switch, Take Over, roll back, Job Offline.
    ChangeJob,
    /// Delete job.
    DeleteJob,
    /// Deploy Sample Application.
    DeploySample,
    /// Uninstall Sample Application: the sample, and what releases added to it.
    UninstallSample,
    /// Sidecar injection and trace sampling.
    Governance,
    /// Letting Sluice manage hand-written routing.
    AdoptRouting,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::CreateJob,
        Action::ChangeJob,
        Action::DeleteJob,
        Action::DeploySample,
        Action::UninstallSample,
        Action::Governance,
        Action::AdoptRouting,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Action::CreateJob => "create release jobs",
            Action::ChangeJob => "change release jobs (traffic, Take Over, Job Offline)",
            Action::DeleteJob => "delete release jobs",
            Action::DeploySample => "deploy the sample application",
            Action::UninstallSample => "uninstall the sample application",
            Action::Governance => "change the project's sidecar injection and trace sampling",
            Action::AdoptRouting => "let Sluice manage routing",
        }
    }

    /// The Kubernetes permissions the action needs, all in the project's namespace
    /// (for [`Permission::namespace_object`], on the project's namespace object itself).
    pub fn needs(self) -> Vec<Permission> {
        let p = Permission::new;
        match self {
            Action::CreateJob => vec![p("create", "sluice.dev", "releasejobs")],
            // Changes are `replace`s with the spec revision the person saw.
            Action::ChangeJob => vec![p("update", "sluice.dev", "releasejobs")],
            Action::DeleteJob => vec![p("delete", "sluice.dev", "releasejobs")],
            Action::DeploySample => vec![
                p("create", "apps", "deployments"),
                p("create", "", "services"),
                p("create", "", "serviceaccounts"),
                p("create", "networking.istio.io", "virtualservices"),
                p("create", "networking.istio.io", "destinationrules"),
                p("create", "networking.istio.io", "gateways"),
            ],
            // Every kind in `sample_uninstall::REMOVAL_ORDER`; the deletions are first asked
            // as a dry run, so a missing one stops the uninstall before anything goes.
            Action::UninstallSample => vec![
                p("delete", "networking.istio.io", "virtualservices"),
                p("delete", "gateway.networking.k8s.io", "httproutes"),
                p("delete", "networking.istio.io", "destinationrules"),
                p("delete", "networking.istio.io", "gateways"),
                p("delete", "apps", "deployments"),
                p("delete", "", "services"),
                p("delete", "", "serviceaccounts"),
            ],
            Action::Governance => vec![
                Permission {
                    namespace_object: true,
                    ..p("patch", "", "namespaces")
                },
                p("create", "telemetry.istio.io", "telemetries"),
                p("update", "telemetry.istio.io", "telemetries"),
            ],
            Action::AdoptRouting => vec![
                p("patch", "networking.istio.io", "virtualservices"),
                p("patch", "networking.istio.io", "destinationrules"),
            ],
        }
    }
}

/// One Kubernetes permission: a verb on a resource of an API group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Permission {
    pub verb: String,
    /// "" for the core group.
    pub group: String,
    pub resource: String,
    /// The namespace object itself (its name is the project), not something in it.
    pub namespace_object: bool,
}

impl Permission {
    pub fn new(verb: &str, group: &str, resource: &str) -> Permission {
        Permission {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            namespace_object: false,
        }
    }

    /// `create releasejobs.sluice.dev`, as `kubectl auth can-i` takes it.
    pub fn describe(&self) -> String {
        if self.group.is_empty() {
            format!("{} {}", self.verb, self.resource)
        } else {
            format!("{} {}.{}", self.verb, self.resource, self.group)
        }
    }
}

/// What the user may do in one project: each action they may not take, with why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    pub project: String,
    pub user: String,
    pub denied: BTreeMap<Action, String>,
    /// Set when Kubernetes could not be asked (no SelfSubjectAccessReview): then nothing
    /// is disabled and each action's own answer decides.
    pub unknown: Option<String>,
}

impl Permissions {
    /// From the answers to every [`Action::needs`] check (`allowed(permission)`).
    pub fn from_answers(
        project: &str,
        user: &str,
        allowed: impl Fn(&Permission) -> bool,
    ) -> Permissions {
        let mut denied = BTreeMap::new();
        for action in Action::ALL {
            let missing: Vec<String> = action
                .needs()
                .iter()
                .filter(|p| !allowed(p))
                .map(Permission::describe)
                .collect();
            if !missing.is_empty() {
                denied.insert(
                    action,
                    format!(
                        "{user} may not {} in {project}: the permission to {} is missing. \
                         Ask a cluster admin for the sluice-release-operator role in this \
                         project.",
                        action.label(),
                        missing.join(", ")
                    ),
                );
            }
        }
        Permissions {
            project: project.into(),
            user: user.into(),
            denied,
            unknown: None,
        }
    }

    /// Nothing known: every action is offered, and the API server decides each.
    pub fn unknown(project: &str, user: &str, why: String) -> Permissions {
        Permissions {
            project: project.into(),
            user: user.into(),
            denied: BTreeMap::new(),
            unknown: Some(why),
        }
    }

    /// Why the user may not take `action`, or `None` when they may.
    pub fn denied(&self, action: Action) -> Option<String> {
        self.denied.get(&action).cloned()
    }

    pub fn allows(&self, action: Action) -> bool {
        !self.denied.contains_key(&action)
    }
}

/// Every distinct permission the actions need, for asking the cluster once each.
pub fn all_needed() -> Vec<Permission> {
    let mut all: Vec<Permission> = Action::ALL.iter().flat_map(|a| a.needs()).collect();
    all.sort();
    all.dedup();
    all
}

/// Where to go after signing in: only a path on the console itself (`/...`, not `//host`
/// or `/\host`, which browsers treat as another site), else the home page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(|c| c.is_control())
                && !n.starts_with("/auth/")
                && n.len() <= 2048 =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_may_change_nothing_and_is_told_what_is_missing() {
        let p = Permissions::from_answers("demo-project", "bob", |_| false);
        for a in Action::ALL {
            assert!(!p.allows(a), "{a:?}");
        }
        let why = p.denied(Action::ChangeJob).unwrap();
        assert!(why.contains("bob may not change release jobs"), "{why}");
        assert!(why.contains("update releasejobs.sluice.dev"), "{why}");
        assert!(why.contains("in demo-project"), "{why}");
        assert!(why.contains("sluice-release-operator"), "{why}");
    }

    #[test]
    fn an_operator_without_istio_rights_may_release_but_not_deploy_the_sample() {
        let p =
            Permissions::from_answers("demo-project", "alice", |perm| perm.group == "sluice.dev");
        assert!(p.allows(Action::CreateJob));
        assert!(p.allows(Action::ChangeJob));
        assert!(p.allows(Action::DeleteJob));
        let why = p.denied(Action::DeploySample).unwrap();
        assert!(why.contains("create deployments.apps"), "{why}");
        assert!(
            why.contains("create services,") || why.contains("create services"),
            "{why}"
        );
    }

    #[test]
    fn uninstalling_the_sample_needs_delete_on_every_kind_it_removes() {
        let needs = Action::UninstallSample.needs();
        for k in crate::domain::sample_uninstall::REMOVAL_ORDER {
            let group = k.api_version.rsplit_once('/').map_or("", |(g, _)| g);
            let resource = format!("{}s", k.kind.to_lowercase());
            assert!(
                needs.contains(&Permission::new("delete", group, &resource)),
                "delete {resource}.{group}"
            );
        }
        let p = Permissions::from_answers("demo-project", "carol", |perm| perm.verb != "delete");
        let why = p.denied(Action::UninstallSample).unwrap();
        assert!(
            why.contains("carol may not uninstall the sample application"),
            "{why}"
        );
        assert!(why.contains("delete deployments.apps"), "{why}");
    }

    #[test]
    fn every_needed_permission_is_asked_once() {
        let all = all_needed();
        let mut sorted = all.clone();
        sorted.dedup();
        assert_eq!(all, sorted);
        assert!(all.contains(&Permission::new("update", "sluice.dev", "releasejobs")));
        assert!(
            all.iter()
                .any(|p| p.namespace_object && p.resource == "namespaces")
        );
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(
            safe_next(Some("/grayscale-release?project=demo-project")),
            "/grayscale-release?project=demo-project"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "/auth/signout",
            "/x\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
