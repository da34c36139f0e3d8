//! Role-based access control over the Roles, ClusterRoles and bindings in the store, as
//! kube-apiserver's RBAC authorizer evaluates them.
//!
//! - `system:masters` may do anything (kube-apiserver's privileged-group authorizer).
//! - Otherwise a request is allowed when a rule of a role bound to the user matches it:
//!   ClusterRoleBindings everywhere, RoleBindings (to a Role of their namespace or a
//!   ClusterRole) in their namespace. URLs (discovery, `/version`) only through
//!   ClusterRoleBindings.
//! - A ClusterRole with an `aggregationRule` has the rules of every ClusterRole its
//!   selectors match (computed when asked, where kube-controller-manager would copy them).
//! - Writing a role needs every permission it grants (or `escalate`); writing a binding
//!   needs every permission of the role it binds (or `bind` on it): no one grants what
//!   they do not hold.
//!
//! [`bootstrap_policy`] is the part of kube-apiserver's bootstrap RBAC the sandbox serves:
//! `cluster-admin`, discovery and public info for everyone, self reviews for every signed-in
//! user, and the aggregated `view`/`edit`/`admin` roles.

use serde_json::{Value, json};

use super::{Attributes, MASTERS, UserInfo};
use crate::{
    api::{selector::LabelSelector, status::Status},
    object,
    resources::ResourceDef,
    store::Store,
};

pub const GROUP: &str = "rbac.authorization.k8s.io";
pub const ROLES: &str = "roles.rbac.authorization.k8s.io";
pub const CLUSTER_ROLES: &str = "clusterroles.rbac.authorization.k8s.io";
pub const ROLE_BINDINGS: &str = "rolebindings.rbac.authorization.k8s.io";
pub const CLUSTER_ROLE_BINDINGS: &str = "clusterrolebindings.rbac.authorization.k8s.io";

/// An authorization answer, with the reason SubjectAccessReviews report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

/// `system:serviceaccount:<ns>:<name>` → `(ns, name)`.
pub fn service_account_of(username: &str) -> Option<(&str, &str)> {
    let rest = username.strip_prefix("system:serviceaccount:")?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn has(list: &[&str], want: &str) -> bool {
    list.iter().any(|x| *x == "*" || *x == want)
}

/// Whether one PolicyRule allows the attributes.
pub fn rule_allows(rule: &Value, attrs: &Attributes) -> bool {
    if !has(&strings(rule.get("verbs")), attrs.verb()) {
        return false;
    }
    match attrs {
        Attributes::Path { path, .. } => {
            strings(rule.get("nonResourceURLs"))
                .iter()
                .any(|url| match url.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => url == path,
                })
        }
        Attributes::Resource {
            group,
            resource,
            subresource,
            name,
            ..
        } => {
            if !has(&strings(rule.get("apiGroups")), group) {
                return false;
            }
            let combined = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let resources_ok = strings(rule.get("resources")).iter().any(|r| {
                *r == "*"
                    || *r == combined
                    || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
            });
            if !resources_ok {
                return false;
            }
            let names = strings(rule.get("resourceNames"));
            names.is_empty() || names.contains(&name.as_str())
        }
    }
}

fn subject_matches(subject: &Value, user: &UserInfo, binding_namespace: &str) -> bool {
    let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
    match subject.get("kind").and_then(Value::as_str) {
        Some("User") => name == user.username,
        Some("Group") => user.in_group(name),
        Some("ServiceAccount") => {
            let ns = subject
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            service_account_of(&user.username) == Some((ns, name))
        }
        _ => false,
    }
}

fn rules_of(role: &Value) -> Vec<Value> {
    role.get("rules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A ClusterRole's rules, with those its aggregation rule collects.
fn cluster_role_rules(store: &Store, name: &str, seen: &mut Vec<String>) -> Option<Vec<Value>> {
    let role = store.get(CLUSTER_ROLES, "", name)?;
    seen.push(name.to_string());
    let mut rules = rules_of(&role);
    let selectors: Vec<LabelSelector> = role
        .pointer("/aggregationRule/clusterRoleSelectors")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(LabelSelector::from_object).collect())
        .unwrap_or_default();
    if !selectors.is_empty() {
        let (all, _) = store.list(CLUSTER_ROLES, None);
        for other in all {
            let other_name = object::name(&other).to_string();
            let labels = object::labels(&other);
            if seen.contains(&other_name)
                || !selectors
                    .iter()
                    .any(|s| !s.is_empty() && s.matches_labels(&labels))
            {
                continue;
            }
            if let Some(more) = cluster_role_rules(store, &other_name, seen) {
                rules.extend(more);
            }
        }
    }
    Some(rules)
}

/// The rules a `roleRef` names (from a binding in `namespace`, "" for cluster bindings).
fn referenced_rules(store: &Store, role_ref: &Value, namespace: &str) -> Option<Vec<Value>> {
    let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
    match role_ref.get("kind").and_then(Value::as_str) {
        Some("ClusterRole") => cluster_role_rules(store, name, &mut Vec::new()),
        Some("Role") if !namespace.is_empty() => {
            store.get(ROLES, namespace, name).map(|r| rules_of(&r))
        }
        _ => None,
    }
}

/// Every binding that applies to `user` (cluster-wide, and in `namespace` if it is not
/// empty), each with what it grants and how SubjectAccessReviews describe it.
fn grants(store: &Store, user: &UserInfo, namespace: &str) -> Vec<(String, bool, Vec<Value>)> {
    let mut out = Vec::new();
    let (cluster_bindings, _) = store.list(CLUSTER_ROLE_BINDINGS, None);
    let namespaced = if namespace.is_empty() {
        Vec::new()
    } else {
        store.list(ROLE_BINDINGS, Some(namespace)).0
    };
    for (binding, cluster) in cluster_bindings
        .iter()
        .map(|b| (b, true))
        .chain(namespaced.iter().map(|b| (b, false)))
    {
        let ns = if cluster { "" } else { namespace };
        let applies = binding
            .get("subjects")
            .and_then(Value::as_array)
            .is_some_and(|subjects| subjects.iter().any(|s| subject_matches(s, user, ns)));
        if !applies {
            continue;
        }
        let role_ref = binding.get("roleRef").cloned().unwrap_or(Value::Null);
        let Some(rules) = referenced_rules(store, &role_ref, ns) else {
            continue;
        };
        let role_kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
        let role_name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
        let described = if cluster {
            format!(
                "ClusterRoleBinding \"{}\" of {role_kind} \"{role_name}\"",
                object::name(binding)
            )
        } else {
            format!(
                "RoleBinding \"{}/{namespace}\" of {role_kind} \"{role_name}\"",
                object::name(binding)
            )
        };
        out.push((described, cluster, rules));
    }
    out
}

fn subject_word(user: &UserInfo) -> String {
    match service_account_of(&user.username) {
        Some((ns, name)) => format!("ServiceAccount \"{name}/{ns}\""),
        None => format!("User \"{}\"", user.username),
    }
}

/// May `user` do what `attrs` say?
pub fn authorize(store: &Store, user: &UserInfo, attrs: &Attributes) -> Decision {
    if user.in_group(MASTERS) {
        return Decision {
            allowed: true,
            reason: format!("allowed: {} is in group {MASTERS}", user.username),
        };
    }
    let namespace = match attrs {
        Attributes::Resource { namespace, .. } => namespace.as_str(),
        Attributes::Path { .. } => "",
    };
    for (described, _, rules) in grants(store, user, namespace) {
        if rules.iter().any(|r| rule_allows(r, attrs)) {
            return Decision {
                allowed: true,
                reason: format!("RBAC: allowed by {described} to {}", subject_word(user)),
            };
        }
    }
    Decision {
        allowed: false,
        reason: String::new(),
    }
}

/// Every rule that applies to `user` in `namespace` (SelfSubjectRulesReview), with the
/// rules of `system:masters` for its members.
pub fn rules_for(store: &Store, user: &UserInfo, namespace: &str) -> Vec<Value> {
    if user.in_group(MASTERS) {
        return rules_of(&cluster_admin());
    }
    grants(store, user, namespace)
        .into_iter()
        .flat_map(|(_, cluster, rules)| {
            // Non-resource rules only count through ClusterRoleBindings.
            rules
                .into_iter()
                .filter(move |r| cluster || r.get("nonResourceURLs").is_none())
        })
        .collect()
}

/// Every request a rule grants, spelled out (to check the granter holds each).
fn expand(rule: &Value, namespace: &str) -> Vec<Attributes> {
    let mut out = Vec::new();
    let verbs = strings(rule.get("verbs"));
    for url in strings(rule.get("nonResourceURLs")) {
        for verb in &verbs {
            out.push(Attributes::Path {
                verb: verb.to_string(),
                path: url.to_string(),
            });
        }
    }
    let names = strings(rule.get("resourceNames"));
    let names = if names.is_empty() { vec![""] } else { names };
    for group in strings(rule.get("apiGroups")) {
        for resource in strings(rule.get("resources")) {
            let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
            for verb in &verbs {
                for name in &names {
                    out.push(Attributes::Resource {
                        verb: verb.to_string(),
                        group: group.into(),
                        resource: resource.into(),
                        subresource: subresource.into(),
                        namespace: namespace.into(),
                        name: name.to_string(),
                    });
                }
            }
        }
    }
    out
}

fn describe_rule(a: &Attributes) -> String {
    match a {
        Attributes::Resource {
            verb,
            group,
            resource,
            subresource,
            name,
            ..
        } => {
            let resource = if subresource.is_empty() {
                resource.clone()
            } else {
                format!("{resource}/{subresource}")
            };
            let names = if name.is_empty() {
                String::new()
            } else {
                format!(", ResourceNames:[\"{name}\"]")
            };
            format!(
                "{{APIGroups:[\"{group}\"], Resources:[\"{resource}\"]{names}, Verbs:[\"{verb}\"]}}"
            )
        }
        Attributes::Path { verb, path } => {
            format!("{{NonResourceURLs:[\"{path}\"], Verbs:[\"{verb}\"]}}")
        }
    }
}

/// Refuses a write of a Role, ClusterRole or binding that would grant `user` (or anyone)
/// permissions `user` does not hold, unless `user` may `escalate` (roles) or `bind` (the
/// role a binding names). `obj` is the object as it would be stored.
pub fn check_grant(
    store: &Store,
    user: &UserInfo,
    def: &ResourceDef,
    obj: &Value,
) -> Result<(), Status> {
    if def.group != GROUP || user.in_group(MASTERS) {
        return Ok(());
    }
    let namespace = object::namespace(obj).to_string();
    let name = object::name(obj).to_string();
    let may = |verb: &str, resource: &str, role_name: &str| {
        authorize(
            store,
            user,
            &Attributes::Resource {
                verb: verb.into(),
                group: GROUP.into(),
                resource: resource.into(),
                subresource: String::new(),
                namespace: namespace.clone(),
                name: role_name.into(),
            },
        )
        .allowed
    };
    let granted: Vec<Value> = match def.plural.as_str() {
        "roles" | "clusterroles" => {
            if may("escalate", &def.plural, &name) {
                return Ok(());
            }
            if def.plural == "clusterroles" && obj.get("aggregationRule").is_some() {
                return Err(Status::denied(
                    Some((&def.plural, GROUP, &name)),
                    format_args!(
                        "user \"{}\" must have cluster-admin privileges (or escalate on \
                         clusterroles) to write an aggregated ClusterRole",
                        user.username
                    ),
                ));
            }
            rules_of(obj)
        }
        "rolebindings" | "clusterrolebindings" => {
            let role_ref = obj.get("roleRef").cloned().unwrap_or(Value::Null);
            let role_kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
            let role_name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
            let role_resource = if role_kind == "Role" {
                "roles"
            } else {
                "clusterroles"
            };
            if may("bind", role_resource, role_name) {
                return Ok(());
            }
            referenced_rules(store, &role_ref, &namespace).ok_or_else(|| {
                Status::denied(
                    Some((&def.plural, GROUP, &name)),
                    format_args!(
                        "the {role_kind} \"{role_name}\" it binds does not exist; create it \
                         first (or ask for bind on it)"
                    ),
                )
            })?
        }
        _ => return Ok(()),
    };
    let missing: Vec<String> = granted
        .iter()
        .flat_map(|rule| expand(rule, &namespace))
        .filter(|a| !authorize(store, user, a).allowed)
        .map(|a| describe_rule(&a))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Status::denied(
        Some((&def.plural, GROUP, &name)),
        format_args!(
            "user \"{}\" (groups={:?}) is attempting to grant RBAC permissions not currently \
             held:\n{}",
            user.username,
            user.groups,
            missing.join("\n")
        ),
    ))
}

fn cluster_admin() -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "cluster-admin"},
        "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
            {"nonResourceURLs": ["*"], "verbs": ["*"]}
        ]
    })
}

fn cluster_role(name: &str, labels: Value, rules: Value) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels},
        "rules": rules,
    })
}

fn aggregated(name: &str, labels: Value, selects: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels},
        "aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{selects}"): "true"}}
        ]},
        "rules": [],
    })
}

fn binding(name: &str, role: &str, groups: &[&str]) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
        "subjects": groups.iter().map(|g| json!({"apiGroup": GROUP, "kind": "Group", "name": g}))
            .collect::<Vec<_>>(),
    })
}

/// The bootstrap ClusterRoles and ClusterRoleBindings, created at start when missing (an
/// edited one is left as it is).
pub fn bootstrap_policy() -> Vec<Value> {
    const READ: [&str; 3] = ["get", "list", "watch"];
    const WRITE: [&str; 6] = [
        "create",
        "delete",
        "deletecollection",
        "patch",
        "update",
        "get",
    ];
    let core_read = json!([
        {"apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims",
            "pods", "pods/log", "pods/status", "replicationcontrollers", "services",
            "serviceaccounts", "events", "namespaces", "namespaces/status"], "verbs": READ},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale",
            "deployments/status", "replicasets", "replicasets/scale", "replicasets/status"],
            "verbs": READ},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": READ},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": READ},
        {"apiGroups": ["networking.istio.io"], "resources": ["*"], "verbs": READ},
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["*"], "verbs": READ},
        {"apiGroups": ["telemetry.istio.io"], "resources": ["*"], "verbs": READ},
    ]);
    let core_write = json!([
        {"apiGroups": [""], "resources": ["configmaps", "endpoints", "persistentvolumeclaims",
            "pods", "replicationcontrollers", "services", "serviceaccounts", "secrets"],
            "verbs": WRITE},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale",
            "replicasets", "replicasets/scale"], "verbs": WRITE},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": WRITE},
        {"apiGroups": ["networking.istio.io"], "resources": ["*"], "verbs": WRITE},
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["*"], "verbs": WRITE},
        {"apiGroups": ["telemetry.istio.io"], "resources": ["*"], "verbs": WRITE},
    ]);
    let admin_extra = json!([
        {"apiGroups": [GROUP], "resources": ["roles", "rolebindings"],
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]},
        {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"],
            "verbs": ["create"]},
    ]);
    let agg = |to: &str| json!({format!("rbac.authorization.k8s.io/aggregate-to-{to}"): "true"});
    vec![
        cluster_admin(),
        binding("cluster-admin", "cluster-admin", &[MASTERS]),
        cluster_role(
            "system:discovery",
            json!({}),
            json!([{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz",
                "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
                "verbs": ["get"]}]),
        ),
        binding(
            "system:discovery",
            "system:discovery",
            &[super::AUTHENTICATED],
        ),
        cluster_role(
            "system:public-info-viewer",
            json!({}),
            json!([{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
                "verbs": ["get"]}]),
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &[super::AUTHENTICATED, super::UNAUTHENTICATED],
        ),
        cluster_role(
            "system:basic-user",
            json!({}),
            json!([
                {"apiGroups": ["authorization.k8s.io"],
                    "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    "verbs": ["create"]},
                {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"],
                    "verbs": ["create"]}
            ]),
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            &[super::AUTHENTICATED],
        ),
        aggregated("admin", json!({}), "admin"),
        aggregated("edit", agg("admin"), "edit"),
        aggregated("view", agg("edit"), "view"),
        cluster_role("system:aggregate-to-admin", agg("admin"), admin_extra),
        cluster_role("system:aggregate-to-edit", agg("edit"), core_write),
        cluster_role("system:aggregate-to-view", agg("view"), core_read),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(verb: &str, group: &str, resource: &str, ns: &str, name: &str) -> Attributes {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        Attributes::Resource {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn rules_match_verbs_groups_resources_subresources_names_and_urls() {
        let rule = json!({"apiGroups": ["apps"], "resources": ["deployments", "*/scale"],
                          "verbs": ["get", "patch"]});
        assert!(rule_allows(
            &rule,
            &res("get", "apps", "deployments", "d", "x")
        ));
        assert!(rule_allows(
            &rule,
            &res("patch", "apps", "replicasets/scale", "d", "")
        ));
        assert!(!rule_allows(
            &rule,
            &res("delete", "apps", "deployments", "d", "x")
        ));
        assert!(!rule_allows(
            &rule,
            &res("get", "", "deployments", "d", "x")
        ));
        assert!(!rule_allows(
            &rule,
            &res("get", "apps", "deployments/status", "d", "x")
        ));
        let named = json!({"apiGroups": [""], "resources": ["namespaces"],
                           "resourceNames": ["demo"], "verbs": ["*"]});
        assert!(rule_allows(
            &named,
            &res("patch", "", "namespaces", "demo", "demo")
        ));
        assert!(!rule_allows(&named, &res("list", "", "namespaces", "", "")));
        let urls = json!({"nonResourceURLs": ["/apis/*", "/version"], "verbs": ["get"]});
        let path = |p: &str| Attributes::Path {
            verb: "get".into(),
            path: p.into(),
        };
        assert!(rule_allows(&urls, &path("/apis/apps/v1")));
        assert!(rule_allows(&urls, &path("/version")));
        assert!(!rule_allows(&urls, &path("/versions")));
        assert!(!rule_allows(&urls, &res("get", "", "pods", "", "")));
        // A literal "*" asked for is only held through a "*" rule (the escalation check).
        assert!(!rule_allows(
            &rule,
            &res("*", "apps", "deployments", "d", "")
        ));
    }

    #[test]
    fn service_account_names() {
        assert_eq!(
            service_account_of("system:serviceaccount:sluice:console"),
            Some(("sluice", "console"))
        );
        assert_eq!(service_account_of("alice"), None);
        assert_eq!(service_account_of("system:serviceaccount:x"), None);
    }

    #[test]
    fn the_bootstrap_policy_is_well_formed() {
        let policy = bootstrap_policy();
        for obj in &policy {
            assert!(!object::name(obj).is_empty());
            if obj["kind"] == "ClusterRoleBinding" {
                let role = obj["roleRef"]["name"].as_str().unwrap();
                assert!(
                    policy
                        .iter()
                        .any(|o| o["kind"] == "ClusterRole" && object::name(o) == role),
                    "{role} is bound but not defined"
                );
            }
        }
    }
}
