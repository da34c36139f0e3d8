//! Which requests a policy and its bindings apply to, and the params they bring.
//!
//! A policy's `matchConstraints` and a binding's `matchResources` are both
//! `MatchResources`: rules naming API groups, versions, resources (with kube-apiserver's
//! subresource spelling: `pods` is the object only, `pods/status` one subresource,
//! `pods/*` every subresource, `*/status` that subresource of anything, `*` every
//! resource and `*/*` everything), operations and scope, exclude rules, and namespace and
//! object selectors. A request must match the policy's constraints and, if it has any,
//! the binding's resources.

use serde_json::{Map, Value};

use super::Request;
use crate::{
    api::{convert, selector::LabelSelector},
    object,
    resources::Registry,
    store::Store,
};

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn listed(list: &[&str], want: &str) -> bool {
    list.iter().any(|x| *x == "*" || *x == want)
}

/// Whether one `resources` entry covers the request's resource and subresource.
fn resource_listed(entry: &str, resource: &str, subresource: &str) -> bool {
    let (res, sub) = entry.split_once('/').unwrap_or((entry, ""));
    let res_ok = res == "*" || res == resource;
    match (sub, subresource.is_empty()) {
        ("", true) => res_ok,
        ("", false) => false,
        ("*", false) => res_ok,
        (_, true) => false,
        (sub, false) => res_ok && sub == subresource,
    }
}

/// Whether a `NamedRuleWithOperations` matches the request.
pub fn rule_matches(rule: &Value, req: &Request<'_>) -> bool {
    let operations = strings(rule.get("operations"));
    if !listed(&operations, req.operation.as_str()) {
        return false;
    }
    if !listed(&strings(rule.get("apiGroups")), &req.def.group)
        || !listed(&strings(rule.get("apiVersions")), req.version)
    {
        return false;
    }
    if !strings(rule.get("resources"))
        .iter()
        .any(|r| resource_listed(r, &req.def.plural, req.subresource))
    {
        return false;
    }
    let scope_ok = match rule.get("scope").and_then(Value::as_str).unwrap_or("*") {
        "Cluster" => !req.def.namespaced,
        "Namespaced" => req.def.namespaced,
        _ => true,
    };
    let names = strings(rule.get("resourceNames"));
    scope_ok && (names.is_empty() || names.contains(&req.name))
}

fn labels_of(obj: Option<&Value>) -> Option<Map<String, Value>> {
    obj.map(object::labels)
}

/// Whether a `MatchResources` covers the request. `namespace_object` is the request's
/// Namespace (for `namespaceSelector`).
pub fn resources_match(
    match_resources: &Value,
    req: &Request<'_>,
    object: Option<&Value>,
    old: Option<&Value>,
    namespace_object: Option<&Value>,
) -> bool {
    let rules = match_resources
        .get("resourceRules")
        .and_then(Value::as_array);
    if !rules.is_some_and(|rules| rules.iter().any(|r| rule_matches(r, req))) {
        return false;
    }
    if match_resources
        .get("excludeResourceRules")
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|r| rule_matches(r, req)))
    {
        return false;
    }
    selectors_match(match_resources, req, object, old, namespace_object)
}

/// A binding's `matchResources` may leave out the rules: then only its selectors and
/// exclusions narrow the policy's constraints.
pub fn binding_matches(
    match_resources: Option<&Value>,
    req: &Request<'_>,
    object: Option<&Value>,
    old: Option<&Value>,
    namespace_object: Option<&Value>,
) -> bool {
    let Some(mr) = match_resources.filter(|v| v.is_object()) else {
        return true;
    };
    if mr.get("resourceRules").and_then(Value::as_array).is_some() {
        return resources_match(mr, req, object, old, namespace_object);
    }
    if mr
        .get("excludeResourceRules")
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|r| rule_matches(r, req)))
    {
        return false;
    }
    selectors_match(mr, req, object, old, namespace_object)
}

fn selectors_match(
    mr: &Value,
    req: &Request<'_>,
    object: Option<&Value>,
    old: Option<&Value>,
    namespace_object: Option<&Value>,
) -> bool {
    let selector = |key: &str| {
        mr.get(key)
            .filter(|v| v.is_object())
            .map(LabelSelector::from_object)
            .unwrap_or_default()
    };
    let ns_selector = selector("namespaceSelector");
    if !ns_selector.is_empty() {
        // A Namespace is matched on its own labels; other cluster-scoped objects are
        // never excluded by a namespace selector.
        let labels = if req.def.is_namespaces() {
            labels_of(object).or_else(|| labels_of(old))
        } else if req.def.namespaced {
            Some(labels_of(namespace_object).unwrap_or_default())
        } else {
            None
        };
        if let Some(labels) = labels
            && !ns_selector.matches_labels(&labels)
        {
            return false;
        }
    }
    let obj_selector = selector("objectSelector");
    if !obj_selector.is_empty() {
        let matches = |o: Option<&Value>| {
            labels_of(o).is_some_and(|labels| obj_selector.matches_labels(&labels))
        };
        if !matches(object) && !matches(old) {
            return false;
        }
    }
    true
}

/// The params a binding gives its policy: `[Null]` when the policy takes none (or the
/// binding names none), the objects found otherwise (empty when none exist and
/// `parameterNotFoundAction` is Allow). An error is a configuration error of the binding
/// (kube-apiserver's wording).
pub fn collect_params(
    store: &Store,
    registry: &Registry,
    policy_spec: &Value,
    binding_spec: &Value,
    req: &Request<'_>,
) -> Result<Vec<Value>, String> {
    let Some(kind) = policy_spec.get("paramKind").filter(|v| v.is_object()) else {
        return Ok(vec![Value::Null]);
    };
    let Some(param_ref) = binding_spec.get("paramRef").filter(|v| v.is_object()) else {
        return Ok(vec![Value::Null]);
    };
    let api_version = kind.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind_name = kind.get("kind").and_then(Value::as_str).unwrap_or("");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let def = registry
        .all()
        .into_iter()
        .find(|d| d.group == group && d.kind == kind_name && d.version(version).is_some())
        .ok_or_else(|| format!("paramKind kind `{api_version}, Kind={kind_name}` not known"))?;
    let text = |key: &str| param_ref.get(key).and_then(Value::as_str).unwrap_or("");
    let namespace = if def.namespaced {
        match (text("namespace"), req.namespace) {
            ("", "") => {
                return Err(
                    "cannot use namespaced paramRef in policy binding that matches \
                            cluster-scoped resources"
                        .into(),
                );
            }
            ("", ns) => ns.to_string(),
            (ns, _) => ns.to_string(),
        }
    } else if !text("namespace").is_empty() {
        return Err(
            "paramRef.namespace must not be provided for a cluster-scoped `paramKind`".into(),
        );
    } else {
        String::new()
    };
    let found: Vec<Value> = if !text("name").is_empty() {
        store
            .get(&def.storage_key, &namespace, text("name"))
            .map(|p| vec![convert::from_storage(&def, version, &p)])
            .unwrap_or_default()
    } else if let Some(sel) = param_ref.get("selector").filter(|v| v.is_object()) {
        let selector = LabelSelector::from_object(sel);
        let scope = def.namespaced.then_some(namespace.as_str());
        store
            .list(&def.storage_key, scope)
            .0
            .iter()
            .filter(|p| selector.matches(p))
            .map(|p| convert::from_storage(&def, version, p))
            .collect()
    } else {
        return Err("one of name or selector must be provided".into());
    };
    if found.is_empty() && text("parameterNotFoundAction") == "Deny" {
        return Err(
            "no params found for policy binding with `Deny` parameterNotFoundAction".into(),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{auth::UserInfo, policy::Operation, resources::Registry};
    use serde_json::json;

    fn req<'a>(
        def: &'a crate::resources::ResourceDef,
        sub: &'a str,
        op: Operation,
        user: &'a UserInfo,
    ) -> Request<'a> {
        Request {
            def,
            version: "v1",
            subresource: sub,
            operation: op,
            namespace: "demo",
            name: "web",
            user,
            dry_run: false,
        }
    }

    #[test]
    fn rules_follow_kube_apiserver_resource_spelling() {
        let registry = Registry::new();
        let pods = registry.builtin("pods");
        let user = UserInfo::anonymous();
        let rule = |resources: Value| {
            json!({"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                   "resources": resources})
        };
        let main = req(&pods, "", Operation::Update, &user);
        let status = req(&pods, "status", Operation::Update, &user);
        assert!(rule_matches(&rule(json!(["pods"])), &main));
        assert!(!rule_matches(&rule(json!(["pods"])), &status));
        assert!(rule_matches(&rule(json!(["pods/status"])), &status));
        assert!(rule_matches(&rule(json!(["pods/*"])), &status));
        assert!(!rule_matches(&rule(json!(["pods/*"])), &main));
        assert!(rule_matches(&rule(json!(["*/status"])), &status));
        assert!(rule_matches(&rule(json!(["*"])), &main));
        assert!(!rule_matches(&rule(json!(["*"])), &status));
        assert!(rule_matches(&rule(json!(["*/*"])), &status));
        let delete = req(&pods, "", Operation::Delete, &user);
        assert!(!rule_matches(&rule(json!(["pods"])), &delete));
        let mut cluster = rule(json!(["pods"]));
        cluster["scope"] = json!("Cluster");
        assert!(!rule_matches(&cluster, &main));
        let mut named = rule(json!(["pods"]));
        named["resourceNames"] = json!(["other"]);
        assert!(!rule_matches(&named, &main));
    }

    #[test]
    fn selectors_and_exclusions_narrow_the_match() {
        let registry = Registry::new();
        let pods = registry.builtin("pods");
        let user = UserInfo::anonymous();
        let r = req(&pods, "", Operation::Create, &user);
        let mr = json!({
            "resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"],
                               "resources": ["*"]}],
            "namespaceSelector": {"matchExpressions": [
                {"key": "env", "operator": "NotIn", "values": ["prod"]}]},
            "objectSelector": {"matchLabels": {"app": "web"}},
        });
        let ns_dev = json!({"metadata": {"labels": {"env": "dev"}}});
        let ns_prod = json!({"metadata": {"labels": {"env": "prod"}}});
        let web = json!({"metadata": {"labels": {"app": "web"}}});
        let db = json!({"metadata": {"labels": {"app": "db"}}});
        assert!(resources_match(&mr, &r, Some(&web), None, Some(&ns_dev)));
        assert!(!resources_match(&mr, &r, Some(&web), None, Some(&ns_prod)));
        assert!(!resources_match(&mr, &r, Some(&db), None, Some(&ns_dev)));
        // An update matches if the old object did.
        assert!(resources_match(
            &mr,
            &r,
            Some(&db),
            Some(&web),
            Some(&ns_dev)
        ));
        let mut excluded = mr.clone();
        excluded["excludeResourceRules"] = json!([{"apiGroups": [""], "apiVersions": ["v1"],
            "operations": ["CREATE"], "resources": ["pods"]}]);
        assert!(!resources_match(
            &excluded,
            &r,
            Some(&web),
            None,
            Some(&ns_dev)
        ));
        assert!(binding_matches(None, &r, Some(&db), None, None));
        assert!(!binding_matches(
            Some(&json!({"objectSelector": {"matchLabels": {"app": "web"}}})),
            &r,
            Some(&db),
            None,
            None
        ));
    }
}
