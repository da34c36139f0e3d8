//! ValidatingAdmissionPolicy: deciding whether a write may happen.
//!
//! For each policy whose `matchConstraints` cover the request, each of its bindings whose
//! `matchResources` do, and each param the binding selects: `variables`, then
//! `matchConditions` (any false skips the policy; an error is a failure), then every
//! `validations` entry. A failed validation, or an evaluation failure under
//! `failurePolicy: Fail`, becomes what the binding's `validationActions` say: `Deny`
//! refuses the request, `Warn` adds a `Warning` header, `Audit` is logged (the sandbox
//! has no audit log). The first denial is the answer, worded as kube-apiserver words it:
//! `<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<policy>' with binding
//! '<binding>' denied request: <message>`, with the validation's `reason` (Invalid, 422,
//! by default).

use serde_json::Value;

use super::{
    Request, VALIDATING_BINDINGS, VALIDATING_POLICIES,
    cel::{self, Activation},
    matching,
};
use crate::{api::status::Status, error::Result, object, resources::Registry, store::Store};

/// kube-apiserver's limit on a message built by `messageExpression`.
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

/// What one validation concluded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The expression was false.
    Denied { message: String, reason: String },
    /// The policy could not be evaluated (an error; `failurePolicy` decides).
    Failed(String),
}

/// Evaluates a policy's `matchConditions`: `Ok(false)` when one is false, an error
/// when none is false but one failed.
pub(crate) fn match_conditions(spec: &Value, act: &Activation) -> Result<bool, String> {
    let Some(conditions) = spec.get("matchConditions").and_then(Value::as_array) else {
        return Ok(true);
    };
    let mut errors = Vec::new();
    for condition in conditions {
        let expression = condition
            .get("expression")
            .and_then(Value::as_str)
            .unwrap_or("");
        let result = cel::compile(expression).and_then(|compiled| {
            act.eval(&compiled)
                .map_err(|e| cel::describe_error(expression, &e))
        });
        match result {
            Ok(cel::CelValue::Bool(false)) => return Ok(false),
            Ok(cel::CelValue::Bool(true)) => {}
            Ok(other) => errors.push(format!(
                "expression '{expression}' resulted in error: a match condition must be a \
                 bool, not a {}",
                other.type_of()
            )),
            Err(e) => errors.push(e),
        }
    }
    match errors.as_slice() {
        [] => Ok(true),
        [one] => Err(one.clone()),
        many => Err(format!("[{}]", many.join(", "))),
    }
}

/// The message of a validation that failed: a single-line `messageExpression` result,
/// else `message`, else `failed expression: <expression>`.
fn message_for(validation: &Value, act: &Activation) -> String {
    let text = |key: &str| {
        validation
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let from_expression = Some(text("messageExpression"))
        .filter(|e| !e.is_empty())
        .and_then(|e| cel::compile(&e).ok())
        .and_then(|compiled| act.eval(&compiled).ok())
        .and_then(|v| match v {
            cel::CelValue::String(s) => Some(s.trim().to_string()),
            _ => None,
        })
        .filter(|m| !m.is_empty() && !m.contains('\n') && m.len() <= MAX_MESSAGE_BYTES);
    from_expression
        .or_else(|| Some(text("message")).filter(|m| !m.is_empty()))
        .unwrap_or_else(|| format!("failed expression: {}", text("expression")))
}

/// Evaluates one policy for one param: the outcomes of the validations that did not pass.
pub(crate) fn evaluate(spec: &Value, act: &Activation) -> Vec<Outcome> {
    match match_conditions(spec, act) {
        Ok(true) => {}
        Ok(false) => return Vec::new(),
        Err(e) => return vec![Outcome::Failed(e)],
    }
    let mut out = Vec::new();
    for validation in spec
        .get("validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let expression = validation
            .get("expression")
            .and_then(Value::as_str)
            .unwrap_or("");
        let compiled = match cel::compile(expression) {
            Ok(c) => c,
            Err(e) => {
                out.push(Outcome::Failed(e));
                continue;
            }
        };
        match act.eval(&compiled) {
            Ok(cel::CelValue::Bool(true)) => {}
            Ok(cel::CelValue::Bool(false)) => out.push(Outcome::Denied {
                message: message_for(validation, act),
                reason: validation
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            }),
            Ok(other) => out.push(Outcome::Failed(format!(
                "expression '{expression}' resulted in error: a validation must be a bool, \
                 not a {}",
                other.type_of()
            ))),
            Err(e) => out.push(Outcome::Failed(cel::describe_error(expression, &e))),
        }
    }
    out
}

struct Denial {
    policy: String,
    binding: String,
    message: String,
    reason: String,
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Runs every matching validating policy; see the module docs.
pub fn validate(
    store: &Store,
    registry: &Registry,
    req: &Request<'_>,
    object: Option<&Value>,
    old: Option<&Value>,
) -> Result<Vec<String>> {
    let (policies, _) = store.list(VALIDATING_POLICIES, None);
    if policies.is_empty() {
        return Ok(Vec::new());
    }
    let (bindings, _) = store.list(VALIDATING_BINDINGS, None);
    let namespace_object = req.namespace_object(store);
    let namespace_object = namespace_object.as_deref();
    let request = req.to_json();
    let mut warnings = Vec::new();
    let mut denial: Option<Denial> = None;
    for policy in &policies {
        let policy_name = object::name(policy);
        let spec = policy.get("spec").unwrap_or(&Value::Null);
        let fail = spec.get("failurePolicy").and_then(Value::as_str) != Some("Ignore");
        let constraints = spec.get("matchConstraints").unwrap_or(&Value::Null);
        if !matching::resources_match(constraints, req, object, old, namespace_object) {
            continue;
        }
        for binding in bindings
            .iter()
            .filter(|b| object::str_at(b, &["spec", "policyName"]) == policy_name)
        {
            let binding_name = object::name(binding);
            let bspec = binding.get("spec").unwrap_or(&Value::Null);
            if !matching::binding_matches(
                bspec.get("matchResources"),
                req,
                object,
                old,
                namespace_object,
            ) {
                continue;
            }
            let actions = strings(bspec.get("validationActions"));
            let mut decide = |message: String, reason: String| {
                for action in &actions {
                    match *action {
                        "Deny" => {
                            denial.get_or_insert_with(|| Denial {
                                policy: policy_name.to_string(),
                                binding: binding_name.to_string(),
                                message: message.clone(),
                                reason: reason.clone(),
                            });
                        }
                        "Warn" => warnings.push(format!(
                            "Validation failed for ValidatingAdmissionPolicy '{policy_name}' \
                             with binding '{binding_name}': {message}"
                        )),
                        "Audit" => tracing::info!(
                            policy = policy_name,
                            binding = binding_name,
                            "sandbox admission audit: validation failed: {message}"
                        ),
                        _ => {}
                    }
                }
            };
            let params = match matching::collect_params(store, registry, spec, bspec, req) {
                Ok(params) => params,
                Err(e) => {
                    // A configuration error denies under Fail, whatever the actions.
                    if fail && denial.is_none() {
                        denial = Some(Denial {
                            policy: policy_name.to_string(),
                            binding: binding_name.to_string(),
                            message: format!("failed to configure binding: {e}"),
                            reason: String::new(),
                        });
                    }
                    continue;
                }
            };
            for param in &params {
                let act = Activation::new(object, old, &request, param, namespace_object)
                    .with_variables(spec.get("variables"));
                for outcome in evaluate(spec, &act) {
                    match outcome {
                        Outcome::Denied { message, reason } => decide(message, reason),
                        Outcome::Failed(message) if fail => decide(message, String::new()),
                        Outcome::Failed(message) => tracing::debug!(
                            policy = policy_name,
                            "sandbox admission: ignored policy failure: {message}"
                        ),
                    }
                }
            }
        }
    }
    match denial {
        None => Ok(warnings),
        Some(d) => {
            let name = if req.name.is_empty() {
                object.or(old).map(object::name).unwrap_or("")
            } else {
                req.name
            };
            Err(Status::policy_denied(
                &req.def.plural,
                &req.def.group,
                name,
                &format!(
                    "ValidatingAdmissionPolicy '{}' with binding '{}' denied request: {}",
                    d.policy, d.binding, d.message
                ),
                &d.reason,
            )
            .into())
        }
    }
}
