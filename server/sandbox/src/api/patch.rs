//! PATCH bodies: JSON merge patch, JSON patch, and strategic merge patch for built-in kinds.
//!
//! kubectl's client-side `apply` sends a strategic merge patch for built-in kinds (computed
//! from its compiled-in types) and a JSON merge patch for custom resources, and kube-rs
//! users pick any of the three. Strategic merge differs from merge patch in how lists are
//! merged: a list of containers is merged by `name` instead of replaced. The sandbox knows
//! the merge keys of the list fields that appear in the workloads the console and kubectl
//! touch (containers, ports, env, volumes, ...) and the directives kubectl emits
//! (`$patch`, `$retainKeys`, `$setElementOrder/…`, `$deleteFromPrimitiveList/…`).
//! Server-side apply (`application/apply-patch+yaml`) is not implemented: it needs managed
//! fields tracking, and is refused with 415 and a message saying so.

use serde_json::{Map, Value};

use super::status::Status;
use crate::resources::{Origin, ResourceDef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
}

const CRD_PATCH_TYPES: &str = "application/json-patch+json, application/merge-patch+json";

/// The patch type named by a request's Content-Type, or the 415 to answer with.
pub fn patch_type(content_type: &str, def: &ResourceDef) -> Result<PatchType, Status> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    match media {
        "application/merge-patch+json" => Ok(PatchType::Merge),
        "application/json-patch+json" => Ok(PatchType::Json),
        "application/strategic-merge-patch+json" if def.origin == Origin::Builtin => {
            Ok(PatchType::Strategic)
        }
        "application/strategic-merge-patch+json" => Err(Status::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: {CRD_PATCH_TYPES}"
        ))),
        "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
            Err(Status::unsupported_media_type(
                "server-side apply (application/apply-patch+yaml) is not supported by the Sluice \
                 sandbox API server; use client-side `kubectl apply` (without --server-side), \
                 a JSON merge patch (application/merge-patch+json) or a JSON patch \
                 (application/json-patch+json)",
            ))
        }
        other => Err(Status::unsupported_media_type(format!(
            "the body of the request was in an unknown format ({other:?}) - accepted media types include: \
             {CRD_PATCH_TYPES}{}",
            if def.origin == Origin::Builtin {
                ", application/strategic-merge-patch+json"
            } else {
                ""
            }
        ))),
    }
}

/// Applies a patch body to `target`.
/// kube-apiserver's JSON patch (evanphx/json-patch) treats a missing path as `null` in a
/// `test` operation; kube-runtime relies on that to add the first finalizer (`test
/// /metadata/finalizers == null`, then `add`). The Rust crate fails such a test, so those
/// operations are checked here and dropped when they hold.
fn missing_is_null(
    target: &Value,
    ops: Vec<json_patch::PatchOperation>,
) -> Vec<json_patch::PatchOperation> {
    ops.into_iter()
        .filter(|op| match op {
            json_patch::PatchOperation::Test(t) if t.value.is_null() => {
                !matches!(target.pointer(t.path.as_str()), None | Some(Value::Null))
            }
            _ => true,
        })
        .collect()
}

pub fn apply(kind: PatchType, target: &Value, body: &[u8]) -> Result<Value, Status> {
    match kind {
        PatchType::Merge => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(format!("invalid merge patch: {e}")))?;
            let mut out = target.clone();
            json_patch::merge(&mut out, &patch);
            Ok(out)
        }
        PatchType::Json => {
            let patch: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(format!("invalid JSON patch: {e}")))?;
            let mut out = target.clone();
            let ops = missing_is_null(&out, patch.0);
            json_patch::patch(&mut out, &ops).map_err(|e| {
                // kube-apiserver answers a failing `test` or a missing path with 422.
                let mut status = Status::bad_request(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ));
                status.code = 422;
                status.reason = "Invalid";
                status
            })?;
            Ok(out)
        }
        PatchType::Strategic => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(format!("invalid strategic merge patch: {e}")))?;
            let mut out = target.clone();
            strategic_merge(&mut out, &patch, &mut Vec::new());
            Ok(out)
        }
    }
}

/// How a list field merges under strategic merge patch (and mutating policies' apply
/// configurations).
pub(crate) enum ListStrategy {
    /// Replace the whole list (the default).
    Replace,
    /// Merge maps by this key.
    MergeByKey(&'static str),
    /// Union of primitive values.
    MergePrimitives,
}

/// The merge strategy of the list at `path` (field names from the root, no indices) —
/// `patchStrategy`/`patchMergeKey` of the Kubernetes types for the lists in common use.
pub(crate) fn list_strategy(path: &[String]) -> ListStrategy {
    let field = path.last().map(String::as_str).unwrap_or("");
    let parent = path
        .len()
        .checked_sub(2)
        .and_then(|i| path.get(i))
        .map(String::as_str)
        .unwrap_or("");
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates"
        | "matchConditions" => ListStrategy::MergeByKey("name"),
        "ports"
            if matches!(
                parent,
                "containers" | "initContainers" | "ephemeralContainers"
            ) =>
        {
            ListStrategy::MergeByKey("containerPort")
        }
        "ports" if parent == "spec" => ListStrategy::MergeByKey("port"),
        "volumeMounts" => ListStrategy::MergeByKey("mountPath"),
        "volumeDevices" => ListStrategy::MergeByKey("devicePath"),
        "hostAliases" => ListStrategy::MergeByKey("ip"),
        "topologySpreadConstraints" => ListStrategy::MergeByKey("topologyKey"),
        "conditions" => ListStrategy::MergeByKey("type"),
        "addresses" if parent == "status" => ListStrategy::MergeByKey("type"),
        "ownerReferences" => ListStrategy::MergeByKey("uid"),
        "finalizers" => ListStrategy::MergePrimitives,
        _ => ListStrategy::Replace,
    }
}

const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Strategic merge of `patch` into `target` (both maps at `path`).
fn strategic_merge(target: &mut Value, patch: &Value, path: &mut Vec<String>) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = patch_map.clone();
            replaced.remove("$patch");
            *target = Value::Object(replaced);
            return;
        }
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, value) in patch_map {
        if key == "$patch" || key == "$retainKeys" {
            continue;
        }
        if let Some(field) = key.strip_prefix(SET_ORDER) {
            if let Value::Array(order) = value {
                orders.push((field.to_string(), order.clone()));
            }
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_PRIMITIVE) {
            if let (Some(Value::Array(list)), Value::Array(remove)) =
                (target_map.get_mut(field), value)
            {
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        if value.is_null() {
            target_map.remove(key);
            continue;
        }
        path.push(key.clone());
        match value {
            Value::Object(_) => {
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(slot, value, path);
                if slot.is_null() {
                    target_map.remove(key);
                }
            }
            Value::Array(items) => {
                let merged = merge_list(target_map.get(key), items, path);
                target_map.insert(key.clone(), Value::Array(merged));
            }
            other => {
                target_map.insert(key.clone(), other.clone());
            }
        }
        path.pop();
    }
    for (field, order) in orders {
        path.push(field.clone());
        let key = match list_strategy(path) {
            ListStrategy::MergeByKey(k) => Some(k),
            _ => None,
        };
        path.pop();
        if let Some(Value::Array(list)) = target_map.get_mut(&field) {
            reorder(list, &order, key);
        }
    }
    if let Some(Value::Array(retain)) = patch_map.get("$retainKeys") {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        target_map.retain(|k, _| keep.contains(&k.as_str()));
    }
}

fn merge_list(current: Option<&Value>, patch: &[Value], path: &mut Vec<String>) -> Vec<Value> {
    let current: Vec<Value> = current
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // `{"$patch": "replace"}` anywhere in the list: the rest of the list is the new value.
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return patch
            .iter()
            .filter(|p| p.get("$patch").is_none())
            .cloned()
            .collect();
    }
    match list_strategy(path) {
        ListStrategy::Replace => patch.to_vec(),
        ListStrategy::MergePrimitives => {
            let mut out = current;
            for p in patch {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
            out
        }
        ListStrategy::MergeByKey(key) => {
            let mut out = current;
            for p in patch {
                let Some(k) = p.get(key) else {
                    out.push(p.clone());
                    continue;
                };
                let pos = out.iter().position(|o| o.get(key) == Some(k));
                if p.get("$patch").and_then(Value::as_str) == Some("delete") {
                    if let Some(i) = pos {
                        out.remove(i);
                    }
                    continue;
                }
                match pos {
                    Some(i) => strategic_merge(&mut out[i], p, path),
                    None => {
                        let mut fresh = Value::Object(Map::new());
                        strategic_merge(&mut fresh, p, path);
                        out.push(fresh);
                    }
                }
            }
            out
        }
    }
}

/// `$setElementOrder`: items named in `order` come first, in that order; others keep their
/// relative order after them.
fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) {
    let ident = |v: &Value| -> Value {
        match key {
            Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
            None => v.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(&ident).collect();
    let mut ordered = Vec::with_capacity(list.len());
    for w in &wanted {
        if let Some(i) = list.iter().position(|v| ident(v) == *w) {
            ordered.push(list.remove(i));
        }
    }
    ordered.append(list);
    *list = ordered;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(target: Value, patch: Value) -> Value {
        apply(PatchType::Strategic, &target, patch.to_string().as_bytes()).expect("patch")
    }

    #[test]
    fn containers_merge_by_name() {
        let deploy = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "s:1"}
        ]}}}});
        let out = smp(
            deploy,
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                "containers": [{"name": "app", "image": "a:2"}]
            }}}}),
        );
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["image"], "a:2");
        assert_eq!(cs[0]["ports"][0]["containerPort"], 80);
        assert_eq!(cs[1]["name"], "sidecar");
    }

    #[test]
    fn directives() {
        let obj = json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
                         "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                                  "ports": [{"port": 1}, {"port": 2}]}});
        let out = smp(
            obj,
            json!({"metadata": {"finalizers": ["b"], "labels": {"y": null}},
                   "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                            "ports": [{"port": 1, "$patch": "delete"}]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(out["metadata"]["labels"], json!({"x": "1"}));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(out["spec"]["ports"], json!([{"port": 2}]));
    }

    #[test]
    fn a_test_for_null_passes_on_a_missing_path_as_in_kube_apiserver() {
        let target = json!({"metadata": {"name": "x"}});
        let body = br#"[{"op":"test","path":"/metadata/finalizers","value":null},
                        {"op":"add","path":"/metadata/finalizers","value":["a/b"]}]"#;
        let out = apply(PatchType::Json, &target, body).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a/b"]));
        // A test for null on a present value still fails.
        let err = apply(PatchType::Json, &out, body).unwrap_err();
        assert_eq!(err.code, 422);
    }

    #[test]
    fn merge_and_json_patches() {
        let obj = json!({"spec": {"hosts": ["a"], "x": 1}});
        let merged = apply(
            PatchType::Merge,
            &obj,
            br#"{"spec": {"hosts": ["b"], "x": null}}"#,
        )
        .expect("merge");
        assert_eq!(merged, json!({"spec": {"hosts": ["b"]}}));
        let patched = apply(
            PatchType::Json,
            &obj,
            br#"[{"op": "replace", "path": "/spec/x", "value": 2}]"#,
        )
        .expect("json");
        assert_eq!(patched["spec"]["x"], 2);
        let err = apply(
            PatchType::Json,
            &obj,
            br#"[{"op": "test", "path": "/spec/x", "value": 5}]"#,
        )
        .expect_err("test fails");
        assert_eq!(err.code, 422);
    }
}
