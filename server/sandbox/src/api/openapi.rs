//! OpenAPI v3 documents, enough for kubectl.
//!
//! `kubectl apply` (and create/replace) with the default `--validate=strict` first checks,
//! in the OpenAPI v3 document of the object's group/version, whether the server's PATCH
//! operation for that kind accepts the `fieldValidation` query parameter; if it does,
//! kubectl leaves validation to the server (which the sandbox does, see
//! [`super::admission`]) and sends `fieldValidation=Strict`. Without these documents kubectl
//! would fall back to client-side validation against `/openapi/v2` protobuf and fail. So
//! each group/version gets a document listing the paths and operations of its resources,
//! tagged with `x-kubernetes-group-version-kind`. The PATCH operations deliberately do not
//! advertise `application/strategic-merge-patch+json`: kubectl then computes strategic
//! merge patches for built-in kinds from its compiled-in types (the sandbox has no
//! built-in schemas to offer) and JSON merge patches for custom resources, which is what
//! it does against CRDs on a real cluster. CRD schemas are included as components so
//! `kubectl explain` has something to show for Istio kinds.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

use super::{ApiContext, json_response, status::Status};
use crate::resources::{Origin, ResourceDef};

/// `/openapi/v2` is not served; kubectl only falls back to it when v3 is missing.
pub async fn v2() -> Response {
    Status::no_such_path().into_response()
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The list of group/version documents.
pub async fn v3_root(State(ctx): State<Arc<ApiContext>>) -> Response {
    let hash = format!("{:016X}", ctx.registry.generation());
    let mut paths = Map::new();
    let mut gvs: Vec<(String, String)> = vec![(String::new(), "v1".into())];
    for (group, versions) in ctx.registry.groups() {
        for v in versions {
            gvs.push((group.clone(), v));
        }
    }
    for (group, version) in gvs {
        let p = gv_path(&group, &version);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
        );
    }
    json_response(StatusCode::OK, &json!({"paths": paths}))
}

/// The component schema name kube-apiserver would use.
fn schema_name(def: &ResourceDef, version: &str) -> String {
    match (def.origin, def.group.as_str()) {
        (Origin::Crd, group) => {
            let reversed: Vec<&str> = group.split('.').rev().collect();
            format!("{}.{version}.{}", reversed.join("."), def.kind)
        }
        (Origin::Builtin, "") => format!("io.k8s.api.core.{version}.{}", def.kind),
        (Origin::Builtin, "apiextensions.k8s.io") => format!(
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{}",
            def.kind
        ),
        (Origin::Builtin, group) => format!(
            "io.k8s.api.{}.{version}.{}",
            group.split('.').next().unwrap_or(group),
            def.kind
        ),
    }
}

fn param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(
    action: &str,
    op_id: String,
    gvk: &Value,
    schema_ref: &str,
    params: &[&str],
    body: Option<Value>,
) -> Value {
    let mut op = json!({
        "operationId": op_id,
        "parameters": params.iter().map(|p| param(p)).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": {"$ref": schema_ref}}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    });
    if let Some(body) = body {
        op["requestBody"] = body;
    }
    op
}

fn camel(s: &str) -> String {
    s.split(['.', '-'])
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// One group/version's document.
pub async fn v3_group_version(
    State(ctx): State<Arc<ApiContext>>,
    Path(gv): Path<String>,
) -> Response {
    let parts: Vec<&str> = gv.trim_matches('/').split('/').collect();
    let (group, version) = match parts.as_slice() {
        ["api", v] => (String::new(), v.to_string()),
        ["apis", g, v] => (g.to_string(), v.to_string()),
        _ => return Status::no_such_path().into_response(),
    };
    let defs = ctx.registry.in_group_version(&group, &version);
    if defs.is_empty() {
        return Status::no_such_path().into_response();
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch".into(),
        json!({"type": "object", "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."}),
    );
    let prefix = format!("/{}", gv_path(&group, &version));
    let group_camel = if group.is_empty() {
        "Core".to_string()
    } else {
        camel(group.trim_end_matches(".k8s.io"))
    };
    let version_camel = camel(&version);
    for def in defs {
        let name = schema_name(&def, &version);
        let schema_ref = format!("#/components/schemas/{name}");
        let gvk = json!({"group": group, "version": version, "kind": def.kind});
        let mut schema = def
            .version(&version)
            .and_then(|v| v.schema.as_deref().cloned())
            .unwrap_or_else(|| json!({"type": "object"}));
        if let Value::Object(m) = &mut schema {
            m.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk.clone()]),
            );
        }
        schemas.insert(name, schema);

        let scope = if def.namespaced { "Namespaced" } else { "" };
        let kind = &def.kind;
        let collection = if def.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", def.plural)
        } else {
            format!("{prefix}/{}", def.plural)
        };
        let item = format!("{collection}/{{name}}");
        let write_body = json!({"content": {"application/json": {"schema": {"$ref": schema_ref}}},
                                "required": true});
        let patch_body = json!({"content": {
            "application/json-patch+json": {"schema": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}},
            "application/merge-patch+json": {"schema": {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
        }, "required": true});
        let write_params = ["dryRun", "fieldManager", "fieldValidation", "pretty"];
        let id = |verb: &str, suffix: &str| {
            format!("{verb}{group_camel}{version_camel}{scope}{kind}{suffix}")
        };
        paths.insert(
            collection,
            json!({
                "get": operation("list", id("list", ""), &gvk, &schema_ref,
                                 &["labelSelector", "fieldSelector", "watch", "resourceVersion"], None),
                "post": operation("post", id("create", ""), &gvk, &schema_ref, &write_params,
                                  Some(write_body.clone())),
                "delete": operation("deletecollection", id("deleteCollection", ""), &gvk, &schema_ref,
                                    &["labelSelector", "fieldSelector", "dryRun"], None),
            }),
        );
        paths.insert(
            item.clone(),
            json!({
                "get": operation("get", id("read", ""), &gvk, &schema_ref, &["pretty"], None),
                "put": operation("put", id("replace", ""), &gvk, &schema_ref, &write_params,
                                 Some(write_body.clone())),
                "patch": operation("patch", id("patch", ""), &gvk, &schema_ref,
                                   &["dryRun", "fieldManager", "fieldValidation", "force", "pretty"],
                                   Some(patch_body.clone())),
                "delete": operation("delete", id("delete", ""), &gvk, &schema_ref,
                                    &["dryRun", "gracePeriodSeconds", "propagationPolicy"], None),
            }),
        );
        if def.status_subresource {
            paths.insert(
                format!("{item}/status"),
                json!({
                    "get": operation("get", id("read", "Status"), &gvk, &schema_ref, &["pretty"], None),
                    "put": operation("put", id("replace", "Status"), &gvk, &schema_ref, &write_params,
                                     Some(write_body)),
                    "patch": operation("patch", id("patch", "Status"), &gvk, &schema_ref,
                                       &["dryRun", "fieldManager", "fieldValidation", "force"],
                                       Some(patch_body)),
                }),
            );
        }
    }
    json_response(
        StatusCode::OK,
        &json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes (Sluice sandbox)", "version": "v1.32.0"},
            "paths": paths,
            "components": {"schemas": schemas},
        }),
    )
}
