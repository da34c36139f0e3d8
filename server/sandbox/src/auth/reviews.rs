//! The review APIs: create-only resources whose answer is computed, never stored.
//!
//! | resource | asks |
//! |---|---|
//! | `selfsubjectaccessreviews` (authorization.k8s.io) | may I do this? (`kubectl auth can-i`) |
//! | `selfsubjectrulesreviews` | what may I do in this namespace? (`kubectl auth can-i --list`) |
//! | `subjectaccessreviews` | may this user do this? |
//! | `localsubjectaccessreviews` (namespaced) | the same, in one namespace |
//! | `selfsubjectreviews` (authentication.k8s.io) | who am I? (`kubectl auth whoami`) |
//! | `tokenreviews` | whose token is this? |
//!
//! Creating one is itself authorized by RBAC like any request (every signed-in user may
//! create the self reviews, through `system:basic-user`).

use std::sync::Arc;

use axum::{http::StatusCode, response::Response};
use serde_json::{Map, Value, json};

use super::{Attributes, UserInfo, rbac};
use crate::{
    api::{
        ApiContext, json_response,
        status::{Cause, Status},
    },
    error::Result,
    resources::ResourceDef,
};

fn invalid(def: &ResourceDef, field: &str, message: &str) -> Status {
    Status::invalid(
        &def.kind,
        &def.group,
        "",
        vec![Cause {
            reason: "FieldValueInvalid".into(),
            message: message.into(),
            field: field.into(),
        }],
    )
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The attributes a SubjectAccessReview spec asks about.
fn attributes(def: &ResourceDef, spec: &Value) -> std::result::Result<Attributes, Status> {
    let resource = spec.get("resourceAttributes").filter(|v| !v.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|v| !v.is_null());
    match (resource, non_resource) {
        (Some(r), None) => {
            if text(r, "verb").is_empty() {
                return Err(invalid(
                    def,
                    "spec.resourceAttributes.verb",
                    "Required value: say what to check, e.g. \"get\", \"create\", \"patch\"",
                ));
            }
            Ok(Attributes::Resource {
                verb: text(r, "verb").into(),
                group: text(r, "group").into(),
                resource: text(r, "resource").into(),
                subresource: text(r, "subresource").into(),
                namespace: text(r, "namespace").into(),
                name: text(r, "name").into(),
            })
        }
        (None, Some(n)) => {
            if text(n, "verb").is_empty() || text(n, "path").is_empty() {
                return Err(invalid(
                    def,
                    "spec.nonResourceAttributes",
                    "Required value: both path and verb",
                ));
            }
            Ok(Attributes::Path {
                verb: text(n, "verb").into(),
                path: text(n, "path").into(),
            })
        }
        _ => Err(invalid(
            def,
            "spec.resourceAttributes",
            "Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be \
             specified",
        )),
    }
}

/// The user a SubjectAccessReview names.
fn subject(def: &ResourceDef, spec: &Value) -> std::result::Result<UserInfo, Status> {
    let username = text(spec, "user").to_string();
    let groups: Vec<String> = spec
        .get("groups")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if username.is_empty() && groups.is_empty() {
        return Err(invalid(
            def,
            "spec.user",
            "Invalid value: \"\": at least one of user or group must be specified",
        ));
    }
    let extra = spec
        .get("extra")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let vals = v
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(String::from)
                                .collect()
                        })
                        .unwrap_or_default();
                    (k.clone(), vals)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(UserInfo {
        username,
        uid: text(spec, "uid").into(),
        groups,
        extra,
    })
}

fn decision_status(d: &rbac::Decision) -> Value {
    let mut status = json!({"allowed": d.allowed});
    if !d.reason.is_empty() {
        status["reason"] = json!(d.reason);
    }
    status
}

/// Handles a POST to a review resource: the request object back, with its `status`.
pub async fn create(
    ctx: &Arc<ApiContext>,
    caller: &UserInfo,
    def: &ResourceDef,
    url_namespace: Option<&str>,
    mut obj: Value,
) -> Result<Response> {
    let store = &ctx.store;
    let spec = obj.get("spec").cloned().unwrap_or_else(|| json!({}));
    let status = match def.plural.as_str() {
        "selfsubjectaccessreviews" => {
            let attrs = attributes(def, &spec)?;
            decision_status(&rbac::authorize(store, caller, &attrs))
        }
        "subjectaccessreviews" => {
            let attrs = attributes(def, &spec)?;
            let who = subject(def, &spec)?;
            decision_status(&rbac::authorize(store, &who, &attrs))
        }
        "localsubjectaccessreviews" => {
            let ns = url_namespace.unwrap_or("");
            let mut attrs = attributes(def, &spec)?;
            match &mut attrs {
                Attributes::Resource { namespace, .. } if namespace.is_empty() => {
                    *namespace = ns.into();
                }
                Attributes::Resource { namespace, .. } if namespace == ns => {}
                Attributes::Resource { .. } => {
                    return Err(invalid(
                        def,
                        "spec.resourceAttributes.namespace",
                        &format!("Invalid value: must be the namespace of the request ({ns})"),
                    )
                    .into());
                }
                Attributes::Path { .. } => {
                    return Err(invalid(
                        def,
                        "spec.nonResourceAttributes",
                        "Forbidden: disallowed on this kind of request",
                    )
                    .into());
                }
            }
            let who = subject(def, &spec)?;
            decision_status(&rbac::authorize(store, &who, &attrs))
        }
        "selfsubjectrulesreviews" => {
            let ns = text(&spec, "namespace");
            let mut resource_rules = Vec::new();
            let mut non_resource_rules = Vec::new();
            for rule in rbac::rules_for(store, caller, ns) {
                let Some(map) = rule.as_object() else {
                    continue;
                };
                let pick = |keys: &[&str]| -> Value {
                    let mut out = Map::new();
                    for k in keys {
                        if let Some(v) = map.get(*k) {
                            out.insert((*k).into(), v.clone());
                        }
                    }
                    Value::Object(out)
                };
                if map.contains_key("nonResourceURLs") {
                    non_resource_rules.push(pick(&["verbs", "nonResourceURLs"]));
                } else {
                    resource_rules.push(pick(&[
                        "verbs",
                        "apiGroups",
                        "resources",
                        "resourceNames",
                    ]));
                }
            }
            json!({"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                   "incomplete": false})
        }
        "selfsubjectreviews" => json!({"userInfo": caller.to_json()}),
        "tokenreviews" => {
            let token = text(&spec, "token");
            if token.is_empty() {
                return Err(
                    invalid(def, "spec.token", "Required value: the token to review").into(),
                );
            }
            let wanted: Vec<String> = spec
                .get("audiences")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            // Static tokens are audience-agnostic: good for the API server's audience only.
            let api = super::tokens::API_AUDIENCE.to_string();
            let for_api = wanted.is_empty() || wanted.contains(&api);
            let found = match ctx.users.authenticate(token) {
                Some(user) if for_api => Some((user.clone(), vec![api])),
                Some(_) => None,
                None => super::tokens::authenticate(store, &ctx.tokens, token, &wanted),
            };
            match found {
                Some((user, audiences)) => json!({"authenticated": true,
                    "user": user.to_json(), "audiences": audiences}),
                None => json!({"authenticated": false, "user": {},
                               "error": "the token names no user of this cluster for these \
                                         audiences, or has expired or been revoked"}),
            }
        }
        other => return Err(Status::internal(format!("{other} is not a review resource")).into()),
    };
    obj["apiVersion"] = json!(def.api_version(&def.storage_version));
    obj["kind"] = json!(def.kind);
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["creationTimestamp"] = Value::Null;
    obj["spec"] = spec;
    obj["status"] = status;
    Ok(json_response(StatusCode::CREATED, &obj))
}
