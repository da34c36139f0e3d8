//! `/version`, health endpoints and API discovery.
//!
//! Clients learn what the server serves from `/api`, `/apis` and the per-group-version
//! resource lists before they make any resource request (kubectl maps `deploy` to
//! `apps/v1 deployments` this way; kube-rs' `Discovery` for dynamic types too). The sandbox
//! serves the legacy (unaggregated) documents: kubectl asks for the aggregated form first
//! and falls back when the response's content type says it is the legacy one.

use std::sync::Arc;

use axum::{extract::State, http::StatusCode, response::Response};
use serde_json::{Value, json};

use super::{ApiContext, json_response, status::Status};
use crate::{error::Result, resources::ResourceDef};

/// The Kubernetes version the sandbox reports (the kubectl installed alongside is 1.32).
pub const KUBE_MINOR: &str = "32";

pub async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "major": "1",
            "minor": KUBE_MINOR,
            "gitVersion": format!("v1.{KUBE_MINOR}.0-sluice-sandbox"),
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.23.0",
            "compiler": "gc",
            "platform": format!("{}/{}", std::env::consts::OS, match std::env::consts::ARCH {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                other => other,
            }),
        }),
    )
}

pub async fn ok() -> &'static str {
    "ok"
}

pub async fn api_versions(State(ctx): State<Arc<ApiContext>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": ctx.server_address}
            ],
        }),
    )
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": versions, "preferredVersion": preferred})
}

pub async fn api_groups(State(ctx): State<Arc<ApiContext>>) -> Response {
    let groups: Vec<Value> = ctx
        .registry
        .groups()
        .iter()
        .map(|(name, versions)| group_json(name, versions))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

pub fn api_group(ctx: &ApiContext, group: &str) -> Result<Response> {
    let groups = ctx.registry.groups();
    let (name, versions) = groups
        .iter()
        .find(|(g, _)| g == group)
        .ok_or_else(Status::no_such_path)?;
    let mut doc = group_json(name, versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Ok(json_response(StatusCode::OK, &doc))
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn resource_entries(def: &ResourceDef) -> Vec<Value> {
    let mut main = json!({
        "name": def.plural,
        "singularName": def.singular,
        "namespaced": def.namespaced,
        "kind": def.kind,
        "verbs": if def.create_only { &["create"][..] } else { &VERBS[..] },
    });
    if !def.short_names.is_empty() {
        main["shortNames"] = json!(def.short_names);
    }
    if !def.categories.is_empty() {
        main["categories"] = json!(def.categories);
    }
    let mut out = vec![main];
    if def.status_subresource {
        out.push(json!({
            "name": format!("{}/status", def.plural),
            "singularName": "",
            "namespaced": def.namespaced,
            "kind": def.kind,
            "verbs": ["get", "patch", "update"],
        }));
    }
    if def.scale_subresource {
        out.push(json!({
            "name": format!("{}/scale", def.plural),
            "singularName": "",
            "namespaced": def.namespaced,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": ["get", "patch", "update"],
        }));
    }
    if def.group.is_empty() && def.plural == "serviceaccounts" {
        out.push(json!({
            "name": "serviceaccounts/token",
            "singularName": "",
            "namespaced": true,
            "group": "authentication.k8s.io",
            "version": "v1",
            "kind": "TokenRequest",
            "verbs": ["create"],
        }));
    }
    if def.group.is_empty() && def.plural == "pods" {
        out.push(json!({
            "name": "pods/log",
            "singularName": "",
            "namespaced": true,
            "kind": "Pod",
            "verbs": ["get"],
        }));
    }
    out
}

pub fn resource_list(ctx: &ApiContext, group: &str, version: &str) -> Result<Response> {
    let defs = ctx.registry.in_group_version(group, version);
    if defs.is_empty() && !(group.is_empty() && version == "v1") {
        return Err(Status::no_such_path().into());
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = defs.iter().flat_map(|d| resource_entries(d)).collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": resources,
        }),
    ))
}
