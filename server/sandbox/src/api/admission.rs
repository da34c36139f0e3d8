//! What the API server does to an object between decoding and storing it: defaulting and
//! validation.
//!
//! For custom resources that is the CRD's OpenAPI schema ([`crate::schema::admit`]: prune,
//! default, validate), which is where Istio objects get the same 422s as on a cluster. For
//! built-in kinds the sandbox has no schemas, so it applies the defaults clients observe
//! (a Service's clusterIP, a Deployment's strategy, container pull policies) and the
//! validations users hit in practice (selector/template label mismatch, missing image),
//! with kube-apiserver's messages. Unknown fields of built-in kinds are kept as sent.
//!
//! Admission never touches the store: on updates it runs under the store lock.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{
    query::FieldValidation,
    selector::LabelSelector,
    status::{Cause, Status},
};
use crate::{
    crds::{CrdError, CrdInfo},
    error::Result,
    object,
    resources::{Origin, ResourceDef, keys},
    schema,
    store::ops::Subresource,
    validation,
};

/// What the request is.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub def: &'a ResourceDef,
    /// The version the client used.
    pub version: &'a str,
    pub field_validation: FieldValidation,
    /// The stored object being replaced (None on create).
    pub old: Option<&'a Value>,
    pub subresource: Subresource,
}

fn cause(reason: &str, field: &str, message: String) -> Cause {
    Cause {
        reason: reason.into(),
        message,
        field: field.into(),
    }
}

fn required(field: &str) -> Cause {
    cause("FieldValueRequired", field, "Required value".into())
}

/// Go's `%#v` of a `map[string]string`, which kube-apiserver messages embed.
fn go_map(map: &Map<String, Value>) -> String {
    let sorted: BTreeMap<&String, &Value> = map.iter().collect();
    let parts: Vec<String> = sorted
        .iter()
        .map(|(k, v)| {
            format!(
                "{k:?}:{}",
                v.as_str().map(|s| format!("{s:?}")).unwrap_or_default()
            )
        })
        .collect();
    format!("map[string]string{{{}}}", parts.join(", "))
}

/// Defaults and validates `obj` (in the client's version) in place. Returns warnings for the
/// `Warning` response header.
pub fn admit(req: Request<'_>, obj: &mut Value) -> Result<Vec<String>> {
    let def = req.def;
    let name = object::name(obj).to_string();
    let mut warnings = Vec::new();
    if !obj.is_object() {
        return Err(Status::bad_request("the request body must be a JSON object").into());
    }

    let mut causes = Vec::new();
    causes.extend(validation::label_errors(
        "metadata.labels",
        object::get_path(obj, &["metadata", "labels"]),
    ));

    if def.origin == Origin::Crd {
        if let Some(schema) = def.version(req.version).and_then(|v| v.schema.as_deref()) {
            let verdict = schema::admit(schema, obj);
            for error in &verdict.errors {
                causes.push(cause(
                    error.reason(),
                    &error.field,
                    error.body().to_string(),
                ));
            }
            if !verdict.unknown_fields.is_empty() && causes.is_empty() {
                match req.field_validation {
                    FieldValidation::Strict => {
                        if let Some(message) = verdict.strict_message() {
                            // kube-apiserver's wording for a strict decoding failure.
                            return Err(Status::bad_request(format!(
                                "{kind} in version {version:?} cannot be handled as a {kind}: {message}",
                                kind = def.kind,
                                version = req.version,
                            ))
                            .into());
                        }
                    }
                    FieldValidation::Warn => warnings.extend(
                        verdict
                            .unknown_fields
                            .iter()
                            .map(|f| format!("unknown field {f:?}")),
                    ),
                    FieldValidation::Ignore => {}
                }
            }
        }
    } else {
        match def.storage_key.as_str() {
            keys::NAMESPACES => namespace(req, obj),
            keys::SERVICES => service(req, obj, &mut causes),
            keys::DEPLOYMENTS => deployment(req, obj, &mut causes),
            keys::REPLICASETS => replicaset(req, obj, &mut causes),
            keys::PODS => pod(req, obj, &mut causes),
            keys::CRDS => {
                crd_schema_types(req, obj)?;
                crd(req, obj, &mut causes)
            }
            keys::LEASES => lease(req, obj, &mut causes)?,
            key => crate::policy::definition::admit(key, obj, &mut causes),
        }
    }

    if !causes.is_empty() {
        return Err(Status::invalid(&def.kind, &def.group, &name, causes).into());
    }
    Ok(warnings)
}

/// Leases: `acquireTime`/`renewTime` are `metav1.MicroTime`, which kube-apiserver decodes
/// and re-encodes, so what is stored is always UTC with exactly six fractional digits
/// (leader election compares these strings); the spec is validated as `ValidateLeaseSpec`
/// does.
fn lease(req: Request<'_>, obj: &mut Value, causes: &mut Vec<Cause>) -> Result<()> {
    for field in ["acquireTime", "renewTime"] {
        let Some(slot) = obj.pointer_mut(&format!("/spec/{field}")) else {
            continue;
        };
        let text = match &*slot {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match object::time::parse(&text) {
            Some(ts) => *slot = json!(object::time::format_micro(ts)),
            None => {
                return Err(Status::bad_request(format!(
                    "{kind} in version {version:?} cannot be handled as a {kind}: parsing time \
                     {text:?} as \"2006-01-02T15:04:05.000000Z07:00\": spec.{field} is not an \
                     RFC 3339 time",
                    kind = req.def.kind,
                    version = req.version,
                ))
                .into());
            }
        }
    }
    if let Some(n) = obj
        .pointer("/spec/leaseDurationSeconds")
        .and_then(Value::as_i64)
        && n <= 0
    {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.leaseDurationSeconds",
            format!("Invalid value: {n}: must be greater than 0"),
        ));
    }
    if let Some(n) = obj
        .pointer("/spec/leaseTransitions")
        .and_then(Value::as_i64)
        && n < 0
    {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.leaseTransitions",
            format!("Invalid value: {n}: must be greater than or equal to 0"),
        ));
    }
    Ok(())
}

/// A fresh object of a kind with a status subresource starts without status (clients cannot
/// set it on create); the kind-specific code may then set an initial one.
fn creating_with_status_reset(req: Request<'_>, obj: &mut Value) -> bool {
    if req.old.is_none() && req.def.status_subresource {
        if let Value::Object(map) = obj {
            map.remove("status");
        }
        return true;
    }
    false
}

fn namespace(req: Request<'_>, obj: &mut Value) {
    let name = object::name(obj).to_string();
    object::ensure_object(obj, &["metadata", "labels"])
        .insert("kubernetes.io/metadata.name".into(), json!(name));
    if req.old.is_none() {
        creating_with_status_reset(req, obj);
        let spec = object::ensure_object(obj, &["spec"]);
        spec.entry("finalizers")
            .or_insert_with(|| json!(["kubernetes"]));
        obj["status"] = json!({"phase": "Active"});
    }
}

fn default_container(c: &mut Value) {
    let Value::Object(map) = c else { return };
    let image = map.get("image").and_then(Value::as_str).unwrap_or("");
    let last = image.rsplit('/').next().unwrap_or(image);
    let latest = !last.contains(':') || last.ends_with(":latest");
    let policy = if image.contains('@') || !latest {
        "IfNotPresent"
    } else {
        "Always"
    };
    map.entry("imagePullPolicy")
        .or_insert_with(|| json!(policy));
    map.entry("terminationMessagePath")
        .or_insert_with(|| json!("/dev/termination-log"));
    map.entry("terminationMessagePolicy")
        .or_insert_with(|| json!("File"));
    map.entry("resources").or_insert_with(|| json!({}));
    if let Some(Value::Array(ports)) = map.get_mut("ports") {
        for p in ports {
            if let Value::Object(p) = p {
                p.entry("protocol").or_insert_with(|| json!("TCP"));
            }
        }
    }
}

/// Pod spec defaults (`SetDefaults_PodSpec` and friends), for pods and pod templates.
pub fn default_pod_spec(spec: &mut Value) {
    let Value::Object(map) = spec else { return };
    map.entry("restartPolicy")
        .or_insert_with(|| json!("Always"));
    map.entry("terminationGracePeriodSeconds")
        .or_insert_with(|| json!(30));
    map.entry("dnsPolicy")
        .or_insert_with(|| json!("ClusterFirst"));
    map.entry("securityContext").or_insert_with(|| json!({}));
    map.entry("schedulerName")
        .or_insert_with(|| json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = map.get_mut(list) {
            cs.iter_mut().for_each(default_container);
        }
    }
}

fn validate_pod_spec(spec: Option<&Value>, at: &str, causes: &mut Vec<Cause>) {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    match containers {
        None => causes.push(required(&format!("{at}.containers"))),
        Some(cs) if cs.is_empty() => causes.push(required(&format!("{at}.containers"))),
        Some(cs) => {
            for (i, c) in cs.iter().enumerate() {
                let field = format!("{at}.containers[{i}]");
                let cname = c.get("name").and_then(Value::as_str).unwrap_or("");
                if cname.is_empty() {
                    causes.push(required(&format!("{field}.name")));
                } else if !validation::is_dns1123_label(cname) {
                    causes.extend(
                        validation::name_errors(crate::resources::NameRule::Label, cname)
                            .into_iter()
                            .map(|mut c| {
                                c.field = format!("{field}.name");
                                c
                            }),
                    );
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    causes.push(required(&format!("{field}.image")));
                }
            }
        }
    }
}

fn pod(req: Request<'_>, obj: &mut Value, causes: &mut Vec<Cause>) {
    if req.subresource == Subresource::Status {
        return;
    }
    if let Some(spec) = obj.get_mut("spec") {
        default_pod_spec(spec);
    }
    validate_pod_spec(obj.get("spec"), "spec", causes);
    if creating_with_status_reset(req, obj) {
        obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    }
}

fn workload_common(req: Request<'_>, obj: &mut Value, causes: &mut Vec<Cause>) {
    if req.subresource == Subresource::Status {
        return;
    }
    creating_with_status_reset(req, obj);
    let spec = object::ensure_object(obj, &["spec"]);
    spec.entry("replicas").or_insert_with(|| json!(1));
    if let Some(template_spec) = obj.pointer_mut("/spec/template/spec") {
        default_pod_spec(template_spec);
    }
    match obj.pointer("/spec/replicas").and_then(Value::as_i64) {
        Some(n) if n < 0 => causes.push(cause(
            "FieldValueInvalid",
            "spec.replicas",
            format!("Invalid value: {n}: must be greater than or equal to 0"),
        )),
        _ => {}
    }
    let selector = obj.pointer("/spec/selector");
    match selector {
        None | Some(Value::Null) => causes.push(required("spec.selector")),
        Some(sel) => {
            let parsed = LabelSelector::from_object(sel);
            let template_labels = obj
                .pointer("/spec/template/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if parsed.is_empty() {
                causes.push(cause(
                    "FieldValueInvalid",
                    "spec.selector",
                    "Invalid value: \"null\": empty selector is invalid for deployment".into(),
                ));
            } else if !parsed.matches_labels(&template_labels) {
                causes.push(cause(
                    "FieldValueInvalid",
                    "spec.template.metadata.labels",
                    format!(
                        "Invalid value: {}: `selector` does not match template `labels`",
                        go_map(&template_labels)
                    ),
                ));
            }
            if let Some(old) = req.old
                && let Some(old_sel) = old.pointer("/spec/selector")
                && old_sel != sel
            {
                causes.push(cause(
                    "FieldValueInvalid",
                    "spec.selector",
                    format!("Invalid value: {sel}: field is immutable"),
                ));
            }
        }
    }
    validate_pod_spec(
        obj.pointer("/spec/template/spec"),
        "spec.template.spec",
        causes,
    );
}

fn deployment(req: Request<'_>, obj: &mut Value, causes: &mut Vec<Cause>) {
    if req.subresource == Subresource::Main {
        let spec = object::ensure_object(obj, &["spec"]);
        spec.entry("revisionHistoryLimit")
            .or_insert_with(|| json!(10));
        spec.entry("progressDeadlineSeconds")
            .or_insert_with(|| json!(600));
        let strategy = spec
            .entry("strategy")
            .or_insert_with(|| json!({"type": "RollingUpdate"}));
        if let Value::Object(s) = strategy {
            let kind = s
                .entry("type")
                .or_insert_with(|| json!("RollingUpdate"))
                .clone();
            if kind == "RollingUpdate" {
                let ru = s.entry("rollingUpdate").or_insert_with(|| json!({}));
                if let Value::Object(ru) = ru {
                    ru.entry("maxUnavailable").or_insert_with(|| json!("25%"));
                    ru.entry("maxSurge").or_insert_with(|| json!("25%"));
                }
            }
        }
    }
    workload_common(req, obj, causes);
}

fn replicaset(req: Request<'_>, obj: &mut Value, causes: &mut Vec<Cause>) {
    workload_common(req, obj, causes);
}

/// A free-looking ClusterIP in 10.96.0.0/16, derived from the service's namespace/name so
/// the same manifest gets the same address (allocations are not tracked; collisions are
/// improbable at sandbox scale and harmless: nothing routes by these addresses).
fn cluster_ip(obj: &Value) -> String {
    let h = object::fnv1a(format!("{}/{}", object::namespace(obj), object::name(obj)).as_bytes());
    let third = (h % 255) as u8;
    let fourth = 1 + ((h >> 8) % 253) as u8;
    format!("10.96.{third}.{fourth}")
}

fn service(req: Request<'_>, obj: &mut Value, causes: &mut Vec<Cause>) {
    if req.subresource == Subresource::Status {
        return;
    }
    if creating_with_status_reset(req, obj) {
        obj["status"] = json!({"loadBalancer": {}});
    }
    let ip_from_old = req
        .old
        .and_then(|o| o.pointer("/spec/clusterIP"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let fresh_ip = cluster_ip(obj);
    let spec = object::ensure_object(obj, &["spec"]);
    spec.entry("type").or_insert_with(|| json!("ClusterIP"));
    spec.entry("sessionAffinity")
        .or_insert_with(|| json!("None"));
    spec.entry("internalTrafficPolicy")
        .or_insert_with(|| json!("Cluster"));
    spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
    spec.entry("ipFamilyPolicy")
        .or_insert_with(|| json!("SingleStack"));
    let ip = match spec.get("clusterIP").and_then(Value::as_str) {
        Some(ip) if !ip.is_empty() => ip.to_string(),
        _ => ip_from_old.unwrap_or(fresh_ip),
    };
    if let Some(old_ip) = req
        .old
        .and_then(|o| o.pointer("/spec/clusterIP"))
        .and_then(Value::as_str)
        && old_ip != ip
    {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.clusterIPs[0]",
            format!("Invalid value: []string{{{ip:?}}}: may not change once set"),
        ));
    }
    spec.insert("clusterIP".into(), json!(ip));
    spec.insert("clusterIPs".into(), json!([ip]));
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    let ports = spec.get_mut("ports").and_then(Value::as_array_mut);
    match ports {
        Some(ports) if !ports.is_empty() => {
            let many = ports.len() > 1;
            for (i, p) in ports.iter_mut().enumerate() {
                let Value::Object(p) = p else { continue };
                p.entry("protocol").or_insert_with(|| json!("TCP"));
                let port = p.get("port").cloned();
                match port.as_ref().and_then(Value::as_i64) {
                    Some(n) if (1..=65535).contains(&n) => {
                        p.entry("targetPort").or_insert_with(|| json!(n));
                    }
                    Some(n) => causes.push(cause(
                        "FieldValueInvalid",
                        &format!("spec.ports[{i}].port"),
                        format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
                    )),
                    None => causes.push(required(&format!("spec.ports[{i}].port"))),
                }
                if many
                    && p.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .is_empty()
                {
                    causes.push(required(&format!("spec.ports[{i}].name")));
                }
            }
        }
        _ if ip != "None" && kind != "ExternalName" => causes.push(required("spec.ports")),
        _ => {}
    }
}

/// The Go types behind a CRD's schemas: kube-apiserver cannot even decode a schema whose
/// `required` holds anything but strings, or whose `type` is not a string (a YAML 1.1
/// parser, as kubectl's, reads an unquoted `on`, `yes` or `no` as a boolean), and answers
/// 400 before any validation.
fn crd_schema_types(req: Request<'_>, obj: &Value) -> Result<()> {
    fn walk(schema: &Value, at: &str) -> Option<(String, &'static str, String)> {
        let Value::Object(map) = schema else {
            return None;
        };
        let go_type = |v: &Value| match v {
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
            Value::Null => "null",
            Value::String(_) => "string",
        };
        if let Some(Value::Array(required)) = map.get("required")
            && let Some(bad) = required.iter().find(|r| !r.is_string())
        {
            return Some((format!("{at}.required"), go_type(bad), bad.to_string()));
        }
        if let Some(t) = map.get("type")
            && !t.is_string()
        {
            return Some((format!("{at}.type"), go_type(t), t.to_string()));
        }
        for key in ["properties", "patternProperties", "definitions"] {
            if let Some(Value::Object(props)) = map.get(key) {
                for (name, sub) in props {
                    if let Some(found) = walk(sub, &format!("{at}.{key}[{name}]")) {
                        return Some(found);
                    }
                }
            }
        }
        for key in ["items", "additionalProperties", "not"] {
            if let Some(found) = map.get(key).and_then(|s| walk(s, &format!("{at}.{key}"))) {
                return Some(found);
            }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(Value::Array(list)) = map.get(key) {
                for sub in list {
                    if let Some(found) = walk(sub, &format!("{at}.{key}")) {
                        return Some(found);
                    }
                }
            }
        }
        None
    }
    let versions = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (i, version) in versions.enumerate() {
        let Some(schema) = version.pointer("/schema/openAPIV3Schema") else {
            continue;
        };
        let at = format!("spec.versions[{i}].schema.openAPIV3Schema");
        if let Some((field, found, value)) = walk(schema, &at) {
            return Err(Status::bad_request(format!(
                "{kind} in version {version:?} cannot be handled as a {kind}: json: cannot \
                 unmarshal {found} into Go struct field {field} of type string (found {value}; \
                 quote it in YAML: kubectl reads unquoted on/off/yes/no as booleans)",
                kind = req.def.kind,
                version = req.version,
            ))
            .into());
        }
    }
    Ok(())
}

fn crd(req: Request<'_>, obj: &mut Value, causes: &mut Vec<Cause>) {
    if req.subresource == Subresource::Status {
        return;
    }
    let info = match CrdInfo::from_crd(obj) {
        Ok(info) => info,
        Err(CrdError::MissingField { field, .. }) => {
            causes.push(required(&field));
            return;
        }
        Err(CrdError::InvalidField { field, detail, .. }) => {
            causes.push(cause(
                "FieldValueInvalid",
                &field,
                format!("Invalid value: {detail}"),
            ));
            return;
        }
    };
    let name = object::name(obj).to_string();
    if name != info.name() {
        causes.push(cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let storage = info.versions.iter().filter(|v| v.storage).count();
    if storage != 1 {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.versions",
            format!(
                "Invalid value: {storage}: must have exactly one version marked as storage version"
            ),
        ));
    }
    if !info.versions.iter().any(|v| v.served) {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: must have at least one served version".into(),
        ));
    }
    if let Some(old) = req.old {
        let old_scope = old.pointer("/spec/scope");
        if old_scope != obj.pointer("/spec/scope") {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.scope",
                "Invalid value: field is immutable".into(),
            ));
        }
    }
    // The sandbox establishes a CRD as soon as it is stored, as kube-apiserver does within
    // moments when there are no name conflicts.
    let now = object::time::now();
    let stored_versions = info
        .storage_version()
        .map(|v| vec![v.name.clone()])
        .unwrap_or_default();
    obj["status"] = json!({
        "acceptedNames": {
            "kind": info.kind,
            "listKind": info.list_kind,
            "plural": info.plural,
            "singular": info.singular,
            "shortNames": info.short_names,
            "categories": info.categories,
        },
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": stored_versions,
    });
    if let Some(old_status) = req.old.and_then(|o| o.get("status"))
        && let (Some(old_conds), Some(new_status)) =
            (old_status.get("conditions"), obj.get_mut("status"))
    {
        // Keep the original transition times: nothing transitioned.
        new_status["conditions"] = old_conds.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    fn req<'a>(def: &'a ResourceDef, old: Option<&'a Value>) -> Request<'a> {
        Request {
            def,
            version: "v1",
            field_validation: FieldValidation::Strict,
            old,
            subresource: Subresource::Main,
        }
    }

    #[test]
    fn deployment_selector_must_match_template() {
        let registry = Registry::new();
        let def = registry.builtin(keys::DEPLOYMENTS);
        let mut d = json!({
            "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "other"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        });
        let err = admit(req(&def, None), &mut d).expect_err("mismatch");
        assert_eq!(err.code(), 422);
        assert!(
            err.to_string()
                .contains("`selector` does not match template `labels`"),
            "{err}"
        );
        d["spec"]["template"]["metadata"]["labels"]["app"] = json!("web");
        admit(req(&def, None), &mut d).expect("valid");
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "Always"
        );
    }

    #[test]
    fn services_get_a_stable_cluster_ip_and_port_defaults() {
        let registry = Registry::new();
        let def = registry.builtin(keys::SERVICES);
        let mut s = json!({"metadata": {"name": "reviews", "namespace": "d"},
                           "spec": {"ports": [{"port": 9080, "name": "http"}],
                                    "selector": {"app": "reviews"}}});
        admit(req(&def, None), &mut s).expect("valid");
        let ip = s["spec"]["clusterIP"].as_str().expect("ip").to_string();
        assert!(ip.starts_with("10.96."));
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 9080);
        assert_eq!(s["spec"]["ports"][0]["protocol"], "TCP");
        let old = s.clone();
        let mut again = json!({"metadata": {"name": "reviews", "namespace": "d"},
                               "spec": {"ports": [{"port": 9080}]}});
        admit(req(&def, Some(&old)), &mut again).expect("valid");
        assert_eq!(again["spec"]["clusterIP"], json!(ip));
    }
}
