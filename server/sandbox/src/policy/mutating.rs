//! MutatingAdmissionPolicy: changing an object before it is validated and stored.
//!
//! On CREATE and UPDATE, every policy whose `matchConstraints` cover the request runs
//! once per binding whose `matchResources` do and per param the binding selects
//! (policies by name, then bindings by name): `variables`, `matchConditions`, then each
//! of its `mutations` in order, on the object as the previous mutation left it.
//!
//! - `patchType: JSONPatch`: the expression returns a list of
//!   `JSONPatch{op, path, value, from}`, applied as RFC 6902 (`add`, `remove`,
//!   `replace`, `move`, `copy`, `test`).
//! - `patchType: ApplyConfiguration`: the expression returns `Object{...}`, merged into
//!   the object as server-side apply merges: maps field by field, lists of built-in
//!   kinds by their merge keys (containers by `name`, ...), sets of strings as unions.
//!   Other lists are atomic and, as in kube-apiserver, may not be changed this way (use
//!   a JSONPatch); a `null` field in the configuration is ignored.
//!
//! A failure (an expression error, a patch that does not apply, a binding whose params
//! are missing under `parameterNotFoundAction: Deny`) is skipped under
//! `failurePolicy: Ignore`; under `Fail` the request is refused with 403 and kube-apiserver's
//! `policy '<policy>' with binding '<binding>' denied request: <why>`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{
    MUTATING_BINDINGS, MUTATING_POLICIES, Operation, Request,
    cel::{self, Activation},
    matching, validating,
};
use crate::{
    api::{
        patch::{ListStrategy, list_strategy},
        status::Status,
    },
    error::Result,
    object,
    resources::{Origin, Registry},
    store::Store,
};

/// One policy × binding × param to run.
struct Invocation {
    policy: Arc<Value>,
    binding: String,
    param: Value,
}

/// A failure of one invocation.
struct PolicyError {
    policy: String,
    binding: String,
    message: String,
    /// matchConditions failures are reported with reason Invalid.
    invalid: bool,
    fail: bool,
}

/// The invocations that match a request, found before the object is defaulted.
#[derive(Default)]
pub struct Plan {
    invocations: Vec<Invocation>,
    errors: Vec<PolicyError>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.invocations.is_empty() && self.errors.is_empty()
    }
}

fn failure_policy_fails(spec: &Value) -> bool {
    spec.get("failurePolicy").and_then(Value::as_str) != Some("Ignore")
}

/// The mutating policies, bindings and params that apply to a request.
pub fn plan(
    store: &Store,
    registry: &Registry,
    req: &Request<'_>,
    object: &Value,
    old: Option<&Value>,
    namespace_object: Option<&Value>,
) -> Plan {
    let mut plan = Plan::default();
    if req.operation == Operation::Delete {
        return plan;
    }
    let (policies, _) = store.list(MUTATING_POLICIES, None);
    if policies.is_empty() {
        return plan;
    }
    let (bindings, _) = store.list(MUTATING_BINDINGS, None);
    for policy in &policies {
        let name = object::name(policy);
        let spec = policy.get("spec").unwrap_or(&Value::Null);
        let constraints = spec.get("matchConstraints").unwrap_or(&Value::Null);
        if !matching::resources_match(constraints, req, Some(object), old, namespace_object) {
            continue;
        }
        for binding in bindings
            .iter()
            .filter(|b| object::str_at(b, &["spec", "policyName"]) == name)
        {
            let bspec = binding.get("spec").unwrap_or(&Value::Null);
            if !matching::binding_matches(
                bspec.get("matchResources"),
                req,
                Some(object),
                old,
                namespace_object,
            ) {
                continue;
            }
            match matching::collect_params(store, registry, spec, bspec, req) {
                Ok(params) => {
                    for param in params {
                        plan.invocations.push(Invocation {
                            policy: Arc::clone(policy),
                            binding: object::name(binding).to_string(),
                            param,
                        });
                    }
                }
                Err(e) => plan.errors.push(PolicyError {
                    policy: name.to_string(),
                    binding: object::name(binding).to_string(),
                    message: format!("failed to configure binding: {e}"),
                    invalid: false,
                    fail: failure_policy_fails(spec),
                }),
            }
        }
    }
    plan
}

/// Runs the planned mutations on `obj` (in the request's version).
pub fn run(
    req: &Request<'_>,
    plan: Plan,
    obj: &mut Value,
    old: Option<&Value>,
    namespace_object: Option<&Value>,
) -> Result<()> {
    let request = req.to_json();
    let mut errors = plan.errors;
    for inv in &plan.invocations {
        let spec = inv.policy.get("spec").unwrap_or(&Value::Null);
        let error = |message: String, invalid: bool| PolicyError {
            policy: object::name(&inv.policy).to_string(),
            binding: inv.binding.clone(),
            message,
            invalid,
            fail: failure_policy_fails(spec),
        };
        let activation = |obj: &Value| {
            Activation::new(Some(obj), old, &request, &inv.param, namespace_object)
                .with_variables(spec.get("variables"))
        };
        match validating::match_conditions(spec, &activation(obj)) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                errors.push(error(e, true));
                continue;
            }
        }
        for mutation in spec
            .get("mutations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let act = activation(obj);
            let builtin = req.def.origin == Origin::Builtin;
            if let Err(e) = apply_mutation(mutation, &act, obj, builtin) {
                errors.push(error(e, false));
                break;
            }
        }
    }
    match errors.into_iter().find(|e| e.fail) {
        None => Ok(()),
        Some(e) => {
            let name = if req.name.is_empty() {
                object::name(obj)
            } else {
                req.name
            };
            Err(Status::policy_error(
                &req.def.plural,
                &req.def.group,
                name,
                &format!(
                    "policy '{}' with binding '{}' denied request: {}",
                    e.policy, e.binding, e.message
                ),
                e.invalid,
            )
            .into())
        }
    }
}

fn evaluate(expression: &str, act: &Activation) -> Result<Value, String> {
    let compiled = cel::compile(expression)?;
    let value = act
        .eval(&compiled)
        .map_err(|e| cel::describe_error(expression, &e))?;
    cel::to_json(&value).map_err(|e| format!("expression '{expression}' resulted in {e}"))
}

/// Applies one `mutations` entry to `obj`.
fn apply_mutation(
    mutation: &Value,
    act: &Activation,
    obj: &mut Value,
    builtin: bool,
) -> Result<(), String> {
    let patch_type = mutation
        .get("patchType")
        .and_then(Value::as_str)
        .unwrap_or("");
    match patch_type {
        "JSONPatch" => {
            let expression = object::str_at(mutation, &["jsonPatch", "expression"]);
            let ops = evaluate(expression, act)?;
            if !ops.is_array() {
                return Err(format!(
                    "JSONPatch expression '{expression}' must return a list of JSONPatch, \
                     not {ops}"
                ));
            }
            let patch: json_patch::Patch = serde_json::from_value(ops)
                .map_err(|e| format!("JSONPatch expression '{expression}': {e}"))?;
            json_patch::patch(obj, &patch).map_err(|e| format!("JSON Patch: {e}"))
        }
        "ApplyConfiguration" => {
            let expression = object::str_at(mutation, &["applyConfiguration", "expression"]);
            let config = evaluate(expression, act)?;
            if !config.is_object() {
                return Err(format!(
                    "ApplyConfiguration expression '{expression}' must return an Object, \
                     not {config}"
                ));
            }
            merge_apply(obj, &config, &mut Vec::new(), builtin)
        }
        other => Err(format!(
            "unsupported patchType {other:?}: supported values: \"ApplyConfiguration\", \
             \"JSONPatch\""
        )),
    }
}

/// Server-side-apply-style merge of an apply configuration into `target`; see the
/// module docs.
fn merge_apply(
    target: &mut Value,
    config: &Value,
    path: &mut Vec<String>,
    builtin: bool,
) -> Result<(), String> {
    match config {
        Value::Null => Ok(()),
        Value::Object(fields) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let Value::Object(map) = target else {
                return Ok(());
            };
            for (key, value) in fields {
                if value.is_null() {
                    continue;
                }
                path.push(key.clone());
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                let merged = merge_apply(slot, value, path, builtin);
                path.pop();
                merged?;
            }
            Ok(())
        }
        Value::Array(items) => {
            let strategy = if builtin {
                list_strategy(path)
            } else {
                ListStrategy::Replace
            };
            match (strategy, target) {
                (ListStrategy::MergeByKey(key), Value::Array(existing)) => {
                    for item in items {
                        let id = item.get(key);
                        match existing
                            .iter_mut()
                            .find(|e| id.is_some() && e.get(key) == id)
                        {
                            Some(found) => merge_apply(found, item, path, builtin)?,
                            None => existing.push(item.clone()),
                        }
                    }
                    Ok(())
                }
                (ListStrategy::MergePrimitives, Value::Array(existing)) => {
                    for item in items {
                        if !existing.contains(item) {
                            existing.push(item.clone());
                        }
                    }
                    Ok(())
                }
                (_, slot @ Value::Null) => {
                    *slot = config.clone();
                    Ok(())
                }
                (_, current) if current == config => Ok(()),
                _ => Err(format!(
                    "apply configurations may not modify atomic arrays (.{}); use a \
                     JSONPatch mutation to change it",
                    path.join(".")
                )),
            }
        }
        scalar => {
            *target = scalar.clone();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apply_configurations_merge_maps_and_keyed_lists() {
        let mut pod = json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "a:1"}, {"name": "proxy", "image": "p:1"}]}});
        let config = json!({"metadata": {"labels": {"team": "x"}},
            "spec": {"containers": [{"name": "proxy", "image": "p:2"}, {"name": "log", "image": "l:1"}]}});
        merge_apply(&mut pod, &config, &mut Vec::new(), true).unwrap();
        assert_eq!(
            pod["metadata"]["labels"],
            json!({"app": "web", "team": "x"})
        );
        assert_eq!(
            pod["spec"]["containers"],
            json!([{"name": "app", "image": "a:1"}, {"name": "proxy", "image": "p:2"},
                   {"name": "log", "image": "l:1"}])
        );
        // An atomic list may be set when absent, not replaced.
        let mut job = json!({"spec": {"strategy": {"type": "requestContent"}}});
        let rules = json!({"spec": {"strategy": {"rules": [{"on": "header"}]}}});
        merge_apply(&mut job, &rules, &mut Vec::new(), false).unwrap();
        assert_eq!(job["spec"]["strategy"]["rules"], json!([{"on": "header"}]));
        let other = json!({"spec": {"strategy": {"rules": [{"on": "cookie"}]}}});
        let err = merge_apply(&mut job, &other, &mut Vec::new(), false).unwrap_err();
        assert!(err.contains(".spec.strategy.rules"), "{err}");
    }
}
