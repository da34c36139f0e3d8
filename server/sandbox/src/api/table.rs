//! Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get`.
//!
//! kubectl asks for `application/json;as=Table` and prints whatever columns the server
//! returns; without a Table it falls back to NAME/AGE only. So the sandbox renders the
//! columns kube-apiserver's printers use for the kinds users look at (pods with READY and
//! STATUS, deployments with READY/UP-TO-DATE/AVAILABLE, services with CLUSTER-IP and
//! PORT(S), ...), the CRD's `additionalPrinterColumns` for custom resources, and NAME/AGE for
//! everything else. Priority-1 columns are the extra `-o wide` ones.

use serde_json::{Value, json};

use super::query::IncludeObject;
use crate::{
    object::{self, time},
    policy,
    resources::{Origin, PrinterColumn, ResourceDef, keys},
};

struct Col {
    name: &'static str,
    type_: &'static str,
    priority: i64,
}

const fn col(name: &'static str, type_: &'static str, priority: i64) -> Col {
    Col {
        name,
        type_,
        priority,
    }
}

const NAME: Col = col("Name", "string", 0);
const AGE: Col = col("Age", "string", 0);

fn column_json(name: &str, type_: &str, priority: i64, description: &str) -> Value {
    let mut c = json!({"name": name, "type": type_, "format": "", "description": description,
                       "priority": priority});
    if name == "Name" {
        c["format"] = json!("name");
        c["description"] = json!("Name must be unique within a namespace.");
    }
    c
}

fn age(obj: &Value) -> Value {
    json!(time::human(time::age_seconds(object::str_at(
        obj,
        &["metadata", "creationTimestamp"]
    ))))
}

fn int_at(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn none_if_empty(s: String) -> Value {
    if s.is_empty() {
        json!("<none>")
    } else {
        json!(s)
    }
}

fn containers_and_images(template_spec: Option<&Value>) -> (String, String) {
    let cs = template_spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = cs
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let images: Vec<&str> = cs
        .iter()
        .filter_map(|c| c.get("image").and_then(Value::as_str))
        .collect();
    (names.join(","), images.join(","))
}

fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else {
        return String::new();
    };
    let labels = sel.get("matchLabels").unwrap_or(sel);
    let mut parts: Vec<String> = labels
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values = object::string_list(e.get("values")).join(",");
        match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => parts.push(format!("{key} in ({values})")),
            "NotIn" => parts.push(format!("{key} notin ({values})")),
            "Exists" => parts.push(key.to_string()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.sort();
    parts.join(",")
}

/// The STATUS column of `kubectl get pods`, following kubectl's printer: the phase, or a
/// container's waiting/terminated reason, or Terminating.
pub fn pod_status(pod: &Value) -> String {
    let mut reason = object::str_at(pod, &["status", "reason"]).to_string();
    if reason.is_empty() {
        reason = object::str_at(pod, &["status", "phase"]).to_string();
    }
    if let Some(statuses) = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
    {
        for cs in statuses.iter().rev() {
            if let Some(r) = cs
                .pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            } else if let Some(r) = cs
                .pointer("/state/terminated/reason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            }
        }
    }
    if object::is_terminating(pod) {
        reason = "Terminating".into();
    }
    reason
}

fn builtin_columns(key: &str) -> Option<Vec<Col>> {
    Some(match key {
        keys::PODS => vec![
            NAME,
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            AGE,
            col("IP", "string", 1),
            col("Node", "string", 1),
            col("Nominated Node", "string", 1),
            col("Readiness Gates", "string", 1),
        ],
        keys::DEPLOYMENTS => vec![
            NAME,
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            AGE,
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        keys::REPLICASETS => vec![
            NAME,
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            AGE,
            col("Containers", "string", 1),
            col("Images", "string", 1),
            col("Selector", "string", 1),
        ],
        keys::SERVICES => vec![
            NAME,
            col("Type", "string", 0),
            col("Cluster-IP", "string", 0),
            col("External-IP", "string", 0),
            col("Port(s)", "string", 0),
            AGE,
            col("Selector", "string", 1),
        ],
        keys::NAMESPACES => vec![NAME, col("Status", "string", 0), AGE],
        keys::NODES => vec![
            NAME,
            col("Status", "string", 0),
            col("Roles", "string", 0),
            AGE,
            col("Version", "string", 0),
            col("Internal-IP", "string", 1),
            col("OS-Image", "string", 1),
            col("Container-Runtime", "string", 1),
        ],
        keys::EVENTS => vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Source", "string", 1),
            col("Message", "string", 0),
            col("First Seen", "string", 1),
            col("Count", "integer", 1),
            col("Name", "string", 1),
        ],
        keys::ENDPOINTS => vec![NAME, col("Endpoints", "string", 0), AGE],
        "configmaps" => vec![NAME, col("Data", "integer", 0), AGE],
        "secrets" => vec![
            NAME,
            col("Type", "string", 0),
            col("Data", "integer", 0),
            AGE,
        ],
        "serviceaccounts" => vec![NAME, col("Secrets", "integer", 0), AGE],
        "leases.coordination.k8s.io" => vec![NAME, col("Holder", "string", 0), AGE],
        keys::CRDS => vec![NAME, col("Created At", "date", 0)],
        policy::VALIDATING_POLICIES => vec![
            NAME,
            col("Validations", "integer", 0),
            col("ParamKind", "string", 0),
            AGE,
        ],
        policy::MUTATING_POLICIES => vec![
            NAME,
            col("Mutations", "integer", 0),
            col("ParamKind", "string", 0),
            AGE,
        ],
        policy::VALIDATING_BINDINGS | policy::MUTATING_BINDINGS => vec![
            NAME,
            col("PolicyName", "string", 0),
            col("ParamRef", "string", 0),
            AGE,
        ],
        _ => return None,
    })
}

fn builtin_cells(key: &str, obj: &Value) -> Vec<Value> {
    let name = json!(object::name(obj));
    match key {
        keys::PODS => {
            let total = obj
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let statuses = obj
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let ready = statuses
                .iter()
                .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                .count();
            let restarts: i64 = statuses
                .iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
                .sum();
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status(obj)),
                json!(restarts.to_string()),
                age(obj),
                none_if_empty(object::str_at(obj, &["status", "podIP"]).to_string()),
                none_if_empty(object::str_at(obj, &["spec", "nodeName"]).to_string()),
                json!("<none>"),
                json!("<none>"),
            ]
        }
        keys::DEPLOYMENTS => {
            let (containers, images) = containers_and_images(obj.pointer("/spec/template/spec"));
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int_at(obj, "/status/readyReplicas"),
                    int_at(obj, "/spec/replicas")
                )),
                json!(int_at(obj, "/status/updatedReplicas")),
                json!(int_at(obj, "/status/availableReplicas")),
                age(obj),
                json!(containers),
                json!(images),
                json!(selector_string(obj.pointer("/spec/selector"))),
            ]
        }
        keys::REPLICASETS => {
            let (containers, images) = containers_and_images(obj.pointer("/spec/template/spec"));
            vec![
                name,
                json!(int_at(obj, "/spec/replicas")),
                json!(int_at(obj, "/status/replicas")),
                json!(int_at(obj, "/status/readyReplicas")),
                age(obj),
                json!(containers),
                json!(images),
                json!(selector_string(obj.pointer("/spec/selector"))),
            ]
        }
        keys::SERVICES => {
            let ports: Vec<String> = obj
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
                    let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
                    match p.get("nodePort").and_then(Value::as_i64) {
                        Some(np) => format!("{port}:{np}/{proto}"),
                        None => format!("{port}/{proto}"),
                    }
                })
                .collect();
            let selector = selector_string(obj.pointer("/spec/selector"));
            vec![
                name,
                json!(object::str_at(obj, &["spec", "type"])),
                none_if_empty(object::str_at(obj, &["spec", "clusterIP"]).to_string()),
                json!("<none>"),
                none_if_empty(ports.join(",")),
                age(obj),
                none_if_empty(selector),
            ]
        }
        keys::NAMESPACES => vec![
            name,
            json!(object::str_at(obj, &["status", "phase"])),
            age(obj),
        ],
        keys::NODES => {
            let ready = obj
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            let ip = obj
                .pointer("/status/addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|a| a["type"] == "InternalIP")
                .and_then(|a| a.get("address"))
                .and_then(Value::as_str)
                .unwrap_or("<none>")
                .to_string();
            vec![
                name,
                json!(if ready { "Ready" } else { "NotReady" }),
                json!("<none>"),
                age(obj),
                json!(object::str_at(
                    obj,
                    &["status", "nodeInfo", "kubeletVersion"]
                )),
                json!(ip),
                json!(object::str_at(obj, &["status", "nodeInfo", "osImage"])),
                json!(object::str_at(
                    obj,
                    &["status", "nodeInfo", "containerRuntimeVersion"]
                )),
            ]
        }
        keys::EVENTS => {
            let last = [
                object::str_at(obj, &["lastTimestamp"]),
                object::str_at(obj, &["eventTime"]),
                object::str_at(obj, &["metadata", "creationTimestamp"]),
            ]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or("");
            let first = [
                object::str_at(obj, &["firstTimestamp"]),
                object::str_at(obj, &["eventTime"]),
                object::str_at(obj, &["metadata", "creationTimestamp"]),
            ]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or("");
            let involved = format!(
                "{}/{}",
                object::str_at(obj, &["involvedObject", "kind"]).to_lowercase(),
                object::str_at(obj, &["involvedObject", "name"])
            );
            let source = [
                object::str_at(obj, &["source", "component"]),
                object::str_at(obj, &["reportingComponent"]),
            ]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or("")
            .to_string();
            vec![
                json!(time::human(time::age_seconds(last))),
                json!(object::str_at(obj, &["type"])),
                json!(object::str_at(obj, &["reason"])),
                json!(involved),
                json!(source),
                json!(object::str_at(obj, &["message"]).trim()),
                json!(time::human(time::age_seconds(first))),
                json!(obj.get("count").and_then(Value::as_i64).unwrap_or(1)),
                name,
            ]
        }
        keys::ENDPOINTS => {
            let mut eps = Vec::new();
            for subset in obj
                .get("subsets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ports: Vec<i64> = subset
                    .get("ports")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("port").and_then(Value::as_i64))
                    .collect();
                for a in subset
                    .get("addresses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let ip = a.get("ip").and_then(Value::as_str).unwrap_or("");
                    if ports.is_empty() {
                        eps.push(ip.to_string());
                    }
                    for p in &ports {
                        eps.push(format!("{ip}:{p}"));
                    }
                }
            }
            let shown = if eps.len() > 3 {
                format!("{} + {} more...", eps[..3].join(","), eps.len() - 3)
            } else {
                eps.join(",")
            };
            vec![name, none_if_empty(shown), age(obj)]
        }
        "configmaps" => {
            let n = obj
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
                + obj
                    .get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
            vec![name, json!(n), age(obj)]
        }
        "secrets" => vec![
            name,
            json!(obj.get("type").and_then(Value::as_str).unwrap_or("Opaque")),
            json!(
                obj.get("data")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            ),
            age(obj),
        ],
        "serviceaccounts" => vec![
            name,
            json!(
                obj.get("secrets")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            ),
            age(obj),
        ],
        "leases.coordination.k8s.io" => vec![
            name,
            json!(object::str_at(obj, &["spec", "holderIdentity"])),
            age(obj),
        ],
        keys::CRDS => vec![
            name,
            json!(object::str_at(obj, &["metadata", "creationTimestamp"])),
        ],
        policy::VALIDATING_POLICIES | policy::MUTATING_POLICIES => {
            let list = if key == policy::VALIDATING_POLICIES {
                "validations"
            } else {
                "mutations"
            };
            let n = obj
                .pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let param_kind = match obj.pointer("/spec/paramKind") {
                Some(k) if k.is_object() => format!(
                    "{}/{}",
                    object::str_at(k, &["apiVersion"]),
                    object::str_at(k, &["kind"])
                ),
                _ => "<unset>".into(),
            };
            vec![name, json!(n), json!(param_kind), age(obj)]
        }
        policy::VALIDATING_BINDINGS | policy::MUTATING_BINDINGS => {
            let param_ref = match obj.pointer("/spec/paramRef") {
                Some(r) if r.is_object() => {
                    let ns = object::str_at(r, &["namespace"]);
                    let name = object::str_at(r, &["name"]);
                    match (ns, name) {
                        (_, "") => "<selector>".to_string(),
                        ("", name) => format!("*/{name}"),
                        (ns, name) => format!("{ns}/{name}"),
                    }
                }
                _ => "<unset>".into(),
            };
            vec![
                name,
                json!(object::str_at(obj, &["spec", "policyName"])),
                json!(param_ref),
                age(obj),
            ]
        }
        _ => vec![name, age(obj)],
    }
}

/// Evaluates the JSONPath subset CRD printer columns use: `.a.b`, `.a[0]`, `.a[*].b`,
/// `.a[?(@.k=="v")].b`. Returns every match.
pub fn json_path<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let path = path.strip_prefix('$').unwrap_or(path);
    let mut current: Vec<&Value> = vec![obj];
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            rest = &r[end..];
            if key.is_empty() {
                continue;
            }
            current = current.into_iter().filter_map(|v| v.get(key)).collect();
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else { break };
            let inner = &r[..end];
            rest = &r[end + 1..];
            current = if inner == "*" {
                current
                    .into_iter()
                    .flat_map(|v| match v {
                        Value::Array(items) => items.iter().collect::<Vec<_>>(),
                        Value::Object(map) => map.values().collect(),
                        _ => Vec::new(),
                    })
                    .collect()
            } else if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')'))
            {
                let (lhs, rhs) = filter.split_once("==").unwrap_or((filter, ""));
                let field = lhs.trim().trim_start_matches("@.");
                let want = rhs.trim().trim_matches(|c| c == '"' || c == '\'');
                current
                    .into_iter()
                    .filter_map(Value::as_array)
                    .flatten()
                    .filter(|item| {
                        let got = json_path(item, &format!(".{field}"));
                        got.first().is_some_and(|g| match g {
                            Value::String(s) => s == want,
                            other => *other == want,
                        })
                    })
                    .collect()
            } else if let Ok(i) = inner.parse::<usize>() {
                current.into_iter().filter_map(|v| v.get(i)).collect()
            } else {
                let key = inner.trim_matches(|c| c == '"' || c == '\'');
                current.into_iter().filter_map(|v| v.get(key)).collect()
            };
        } else {
            break;
        }
    }
    current
}

fn crd_cell(obj: &Value, column: &PrinterColumn) -> Value {
    let found = json_path(obj, &column.json_path);
    if found.is_empty() {
        return Value::Null;
    }
    if column.type_ == "date" {
        return found
            .first()
            .and_then(|v| v.as_str())
            .map(|s| json!(time::human(time::age_seconds(s))))
            .unwrap_or(Value::Null);
    }
    let rendered: Vec<String> = found
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    if let [v @ (Value::Number(_) | Value::Bool(_))] = found.as_slice() {
        return (*v).clone();
    }
    json!(rendered.join(","))
}

/// The columns of a resource's table in the given version.
pub fn columns(def: &ResourceDef, version: &str) -> Vec<Value> {
    if def.origin == Origin::Crd {
        let cols = def
            .version(version)
            .map(|v| v.columns.clone())
            .unwrap_or_default();
        let mut out = vec![column_json("Name", "string", 0, "")];
        if cols.is_empty() {
            out.push(column_json("Age", "date", 0, ""));
        }
        for c in &cols {
            out.push(column_json(&c.name, &c.type_, c.priority, &c.description));
        }
        return out;
    }
    builtin_columns(&def.storage_key)
        .unwrap_or_else(|| vec![NAME, AGE])
        .iter()
        .map(|c| column_json(c.name, c.type_, c.priority, ""))
        .collect()
}

/// One table row for a stored object (cells are computed from the stored form, which for
/// Events is core/v1 whatever API was asked).
pub fn row(def: &ResourceDef, version: &str, obj: &Value, include: IncludeObject) -> Value {
    let cells = if def.origin == Origin::Crd {
        let cols = def
            .version(version)
            .map(|v| v.columns.clone())
            .unwrap_or_default();
        let mut cells = vec![json!(object::name(obj))];
        if cols.is_empty() {
            cells.push(age(obj));
        }
        cells.extend(cols.iter().map(|c| crd_cell(obj, c)));
        cells
    } else {
        // Events are printed from the stored (core/v1) field names.
        builtin_cells(&def.storage_key, obj)
    };
    let mut row = json!({"cells": cells});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => row["object"] = partial_metadata(obj),
        IncludeObject::Object => {
            row["object"] = super::convert::from_storage(def, version, obj);
        }
    }
    row
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A Table of stored objects.
pub fn table(
    def: &ResourceDef,
    version: &str,
    objs: &[std::sync::Arc<Value>],
    rv: u64,
    include: IncludeObject,
) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv.to_string()},
        "columnDefinitions": columns(def, version),
        "rows": objs.iter().map(|o| row(def, version, o, include)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let obj = json!({"spec": {"hosts": ["a", "b"], "gateways": ["g"]},
                         "status": {"conditions": [{"type": "Ready", "status": "True"},
                                                   {"type": "Other", "status": "False"}]}});
        assert_eq!(json_path(&obj, ".spec.hosts").len(), 1);
        assert_eq!(json_path(&obj, ".spec.hosts[*]").len(), 2);
        assert_eq!(json_path(&obj, ".spec.hosts[1]")[0], "b");
        assert_eq!(
            json_path(&obj, ".status.conditions[?(@.type==\"Ready\")].status")[0],
            "True"
        );
    }

    #[test]
    fn pod_status_prefers_waiting_reason() {
        let pod = json!({"status": {"phase": "Pending", "containerStatuses": [
            {"state": {"waiting": {"reason": "ImagePullBackOff"}}}]}});
        assert_eq!(pod_status(&pod), "ImagePullBackOff");
    }
}
