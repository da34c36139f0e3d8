//! Defaulting and validation of the policy objects themselves, when they are written.
//!
//! kube-apiserver fills in `failurePolicy: Fail`, `matchPolicy: Equivalent`, empty
//! selectors, rule scopes and `reinvocationPolicy: Never`, and refuses a policy whose
//! CEL does not compile or a binding without its required fields; clients (kubectl
//! apply, GitOps diffs) see those defaults. The same happens here, with cel-rust as the
//! compiler, so an expression the sandbox could not evaluate is refused up front rather
//! than failing every request later.

use serde_json::{Map, Value, json};

use super::{MUTATING_BINDINGS, MUTATING_POLICIES, VALIDATING_BINDINGS, VALIDATING_POLICIES, cel};
use crate::{api::status::Cause, object};

fn required(field: &str, why: &str) -> Cause {
    Cause {
        reason: "FieldValueRequired".into(),
        message: if why.is_empty() {
            "Required value".into()
        } else {
            format!("Required value: {why}")
        },
        field: field.into(),
    }
}

fn invalid(field: &str, value: &str, why: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {value:?}: {why}"),
        field: field.into(),
    }
}

fn unsupported(field: &str, value: &str, supported: &[&str]) -> Cause {
    let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
    Cause {
        reason: "FieldValueNotSupported".into(),
        message: format!(
            "Unsupported value: {value:?}: supported values: {}",
            list.join(", ")
        ),
        field: field.into(),
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn items<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Checks that `expression` at `field` compiles (and is there, if `needed`).
fn expression(v: &Value, key: &str, field: &str, needed: bool, causes: &mut Vec<Cause>) {
    let source = text(v, key);
    if source.trim().is_empty() {
        if needed {
            causes.push(required(field, ""));
        }
        return;
    }
    if let Err(e) = cel::compile(source) {
        causes.push(invalid(field, source, &e));
    }
}

fn default_match_resources(mr: &mut Map<String, Value>) {
    mr.entry("namespaceSelector").or_insert_with(|| json!({}));
    mr.entry("objectSelector").or_insert_with(|| json!({}));
    mr.entry("matchPolicy")
        .or_insert_with(|| json!("Equivalent"));
    for key in ["resourceRules", "excludeResourceRules"] {
        if let Some(Value::Array(rules)) = mr.get_mut(key) {
            for rule in rules {
                if let Value::Object(rule) = rule {
                    rule.entry("scope").or_insert_with(|| json!("*"));
                }
            }
        }
    }
}

fn check_rules(
    mr: &Value,
    field: &str,
    operations: &[&str],
    rules_required: bool,
    causes: &mut Vec<Cause>,
) {
    let rules = items(mr, "resourceRules");
    if rules.is_empty() && rules_required {
        causes.push(required(&format!("{field}.resourceRules"), ""));
    }
    for (i, rule) in rules.iter().enumerate() {
        let at = format!("{field}.resourceRules[{i}]");
        for key in ["apiGroups", "apiVersions", "resources", "operations"] {
            if items(rule, key).is_empty() {
                causes.push(required(&format!("{at}.{key}"), ""));
            }
        }
        for op in items(rule, "operations").iter().filter_map(|o| o.as_str()) {
            if !operations.contains(&op) {
                causes.push(unsupported(&format!("{at}.operations"), op, operations));
            }
        }
        let scope = text(rule, "scope");
        if !["*", "Cluster", "Namespaced"].contains(&scope) {
            causes.push(unsupported(
                &format!("{at}.scope"),
                scope,
                &["*", "Cluster", "Namespaced"],
            ));
        }
    }
}

fn check_named_expressions(spec: &Value, key: &str, causes: &mut Vec<Cause>) {
    for (i, entry) in items(spec, key).iter().enumerate() {
        let at = format!("spec.{key}[{i}]");
        if text(entry, "name").is_empty() {
            causes.push(required(&format!("{at}.name"), ""));
        }
        expression(
            entry,
            "expression",
            &format!("{at}.expression"),
            true,
            causes,
        );
    }
}

/// A ValidatingAdmissionPolicy or MutatingAdmissionPolicy.
fn policy(obj: &mut Value, mutating: bool, causes: &mut Vec<Cause>) {
    let spec = object::ensure_object(obj, &["spec"]);
    spec.entry("failurePolicy").or_insert_with(|| json!("Fail"));
    if mutating {
        spec.entry("reinvocationPolicy")
            .or_insert_with(|| json!("Never"));
    }
    match spec.get_mut("matchConstraints") {
        Some(Value::Object(mr)) => default_match_resources(mr),
        _ => causes.push(required("spec.matchConstraints", "")),
    }
    let spec = obj.get("spec").cloned().unwrap_or_default();
    let failure = text(&spec, "failurePolicy");
    if !["Fail", "Ignore"].contains(&failure) {
        causes.push(unsupported(
            "spec.failurePolicy",
            failure,
            &["Fail", "Ignore"],
        ));
    }
    let operations: &[&str] = if mutating {
        &["CREATE", "UPDATE", "*"]
    } else {
        &["CREATE", "UPDATE", "DELETE", "CONNECT", "*"]
    };
    if let Some(mr) = spec.get("matchConstraints").filter(|v| v.is_object()) {
        check_rules(mr, "spec.matchConstraints", operations, true, causes);
    }
    if let Some(kind) = spec.get("paramKind").filter(|v| !v.is_null()) {
        for key in ["apiVersion", "kind"] {
            if text(kind, key).is_empty() {
                causes.push(required(&format!("spec.paramKind.{key}"), ""));
            }
        }
    }
    check_named_expressions(&spec, "variables", causes);
    check_named_expressions(&spec, "matchConditions", causes);
    if mutating {
        let reinvocation = text(&spec, "reinvocationPolicy");
        if !["Never", "IfNeeded"].contains(&reinvocation) {
            causes.push(unsupported(
                "spec.reinvocationPolicy",
                reinvocation,
                &["IfNeeded", "Never"],
            ));
        }
        let mutations = items(&spec, "mutations");
        if mutations.is_empty() {
            causes.push(required(
                "spec.mutations",
                "mutations must contain at least one item",
            ));
        }
        for (i, m) in mutations.iter().enumerate() {
            let at = format!("spec.mutations[{i}]");
            match text(m, "patchType") {
                "JSONPatch" => match m.get("jsonPatch") {
                    Some(p) if p.is_object() => expression(
                        p,
                        "expression",
                        &format!("{at}.jsonPatch.expression"),
                        true,
                        causes,
                    ),
                    _ => causes.push(required(&format!("{at}.jsonPatch"), "")),
                },
                "ApplyConfiguration" => match m.get("applyConfiguration") {
                    Some(p) if p.is_object() => expression(
                        p,
                        "expression",
                        &format!("{at}.applyConfiguration.expression"),
                        true,
                        causes,
                    ),
                    _ => causes.push(required(&format!("{at}.applyConfiguration"), "")),
                },
                "" => causes.push(required(&format!("{at}.patchType"), "")),
                other => causes.push(unsupported(
                    &format!("{at}.patchType"),
                    other,
                    &["ApplyConfiguration", "JSONPatch"],
                )),
            }
        }
    } else {
        let validations = items(&spec, "validations");
        if validations.is_empty() && items(&spec, "auditAnnotations").is_empty() {
            causes.push(required(
                "spec.validations",
                "validations or auditAnnotations must contain at least one item",
            ));
        }
        for (i, v) in validations.iter().enumerate() {
            let at = format!("spec.validations[{i}]");
            expression(v, "expression", &format!("{at}.expression"), true, causes);
            expression(
                v,
                "messageExpression",
                &format!("{at}.messageExpression"),
                false,
                causes,
            );
            let reason = text(v, "reason");
            let reasons = [
                "Unauthorized",
                "Forbidden",
                "Invalid",
                "RequestEntityTooLarge",
            ];
            if v.get("reason").is_some() && !reasons.contains(&reason) {
                causes.push(unsupported(&format!("{at}.reason"), reason, &reasons));
            }
            if text(v, "message").contains('\n') {
                causes.push(invalid(
                    &format!("{at}.message"),
                    text(v, "message"),
                    "message must not contain line breaks",
                ));
            }
        }
    }
}

/// A ValidatingAdmissionPolicyBinding or MutatingAdmissionPolicyBinding.
fn binding(obj: &mut Value, validating: bool, causes: &mut Vec<Cause>) {
    let spec = object::ensure_object(obj, &["spec"]);
    if let Some(Value::Object(mr)) = spec.get_mut("matchResources") {
        default_match_resources(mr);
    }
    let spec = obj.get("spec").cloned().unwrap_or_default();
    if text(&spec, "policyName").is_empty() {
        causes.push(required("spec.policyName", ""));
    }
    if let Some(mr) = spec.get("matchResources").filter(|v| v.is_object()) {
        let operations = ["CREATE", "UPDATE", "DELETE", "CONNECT", "*"];
        check_rules(mr, "spec.matchResources", &operations, false, causes);
    }
    if let Some(param_ref) = spec.get("paramRef").filter(|v| !v.is_null()) {
        let has_name = !text(param_ref, "name").is_empty();
        let has_selector = param_ref.get("selector").is_some_and(Value::is_object);
        if has_name == has_selector {
            causes.push(Cause {
                reason: "FieldValueForbidden".into(),
                message: "Forbidden: one of name or selector must be specified".into(),
                field: "spec.paramRef".into(),
            });
        }
        let action = text(param_ref, "parameterNotFoundAction");
        if action.is_empty() {
            causes.push(required("spec.paramRef.parameterNotFoundAction", ""));
        } else if !["Allow", "Deny"].contains(&action) {
            causes.push(unsupported(
                "spec.paramRef.parameterNotFoundAction",
                action,
                &["Allow", "Deny"],
            ));
        }
    }
    if validating {
        let actions: Vec<&str> = items(&spec, "validationActions")
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        if actions.is_empty() {
            causes.push(required(
                "spec.validationActions",
                "at least one validation action is required",
            ));
        }
        for (i, a) in actions.iter().enumerate() {
            if !["Deny", "Warn", "Audit"].contains(a) {
                causes.push(unsupported(
                    &format!("spec.validationActions[{i}]"),
                    a,
                    &["Audit", "Deny", "Warn"],
                ));
            } else if actions[..i].contains(a) {
                causes.push(Cause {
                    reason: "FieldValueDuplicate".into(),
                    message: format!("Duplicate value: {a:?}"),
                    field: format!("spec.validationActions[{i}]"),
                });
            }
        }
        if actions.contains(&"Deny") && actions.contains(&"Warn") {
            causes.push(invalid(
                "spec.validationActions",
                &actions.join(","),
                "must not contain both Deny and Warn (repeating the same validation failure \
                 information in the API response and headers serves no purpose)",
            ));
        }
    }
}

/// Defaults and validates a policy or binding (by storage key); other kinds are left
/// alone.
pub fn admit(storage_key: &str, obj: &mut Value, causes: &mut Vec<Cause>) {
    match storage_key {
        VALIDATING_POLICIES => policy(obj, false, causes),
        MUTATING_POLICIES => policy(obj, true, causes),
        VALIDATING_BINDINGS => binding(obj, true, causes),
        MUTATING_BINDINGS => binding(obj, false, causes),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_get_kube_apiserver_defaults_and_bad_cel_is_refused() {
        let mut vap = json!({"spec": {
            "matchConstraints": {"resourceRules": [{"apiGroups": ["sluice.dev"],
                "apiVersions": ["*"], "operations": ["CREATE"], "resources": ["releasejobs"]}]},
            "validations": [{"expression": "object.spec.replicas <= 20"}]}});
        let mut causes = Vec::new();
        admit(VALIDATING_POLICIES, &mut vap, &mut causes);
        assert!(causes.is_empty(), "{causes:?}");
        assert_eq!(vap["spec"]["failurePolicy"], "Fail");
        assert_eq!(vap["spec"]["matchConstraints"]["matchPolicy"], "Equivalent");
        assert_eq!(
            vap["spec"]["matchConstraints"]["resourceRules"][0]["scope"],
            "*"
        );

        vap["spec"]["validations"][0]["expression"] = json!("object.spec.(");
        admit(VALIDATING_POLICIES, &mut vap, &mut causes);
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "spec.validations[0].expression");
        assert!(
            causes[0]
                .message
                .starts_with("Invalid value: \"object.spec.(\": compilation failed"),
            "{}",
            causes[0].message
        );
    }

    #[test]
    fn bindings_need_a_policy_actions_and_a_complete_param_ref() {
        let mut b =
            json!({"spec": {"paramRef": {"name": "x"}, "validationActions": ["Deny", "Warn"]}});
        let mut causes = Vec::new();
        admit(VALIDATING_BINDINGS, &mut b, &mut causes);
        let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.policyName",
                "spec.paramRef.parameterNotFoundAction",
                "spec.validationActions"
            ]
        );
        let mut mb = json!({"spec": {"policyName": "p"}});
        let mut causes = Vec::new();
        admit(MUTATING_BINDINGS, &mut mb, &mut causes);
        assert!(causes.is_empty(), "{causes:?}");
    }
}
