//! Just enough Kubernetes protobuf to read the review requests kubectl sends.
//!
//! The sandbox speaks JSON, and clients fall back to it for every kind it serves, except
//! that kubectl's compiled-in clients for the review APIs (`kubectl auth can-i`,
//! `kubectl auth whoami`), for RBAC (`kubectl create clusterrolebinding ...`) and for
//! TokenRequests (`kubectl create token`) always *send* protobuf (they accept JSON answers). So those bodies are decoded here: the `k8s\0` envelope (`runtime.Unknown`), then the review's
//! `spec` by a table of field numbers from `k8s.io/api/authorization/v1/generated.proto`
//! and `k8s.io/api/authentication/v1/generated.proto`, `k8s.io/api/rbac/v1/generated.proto`. Anything else stays refused.

use serde_json::{Map, Value};

use super::status::Status;

/// How one protobuf field becomes JSON.
#[derive(Clone, Copy)]
enum Field {
    Str(&'static str),
    Strs(&'static str),
    Msg(&'static str, &'static [(u64, Field)]),
    /// A repeated message.
    Msgs(&'static str, &'static [(u64, Field)]),
    /// A `map<string, string>` (entries with key 1, value 2).
    Map(&'static str),
    /// A varint integer (`int32`/`int64`).
    Int(&'static str),
}

const OBJECT_META: &[(u64, Field)] = &[
    (1, Field::Str("name")),
    (2, Field::Str("generateName")),
    (3, Field::Str("namespace")),
    (6, Field::Str("resourceVersion")),
    (11, Field::Map("labels")),
    (12, Field::Map("annotations")),
];
const POLICY_RULE: &[(u64, Field)] = &[
    (1, Field::Strs("verbs")),
    (2, Field::Strs("apiGroups")),
    (3, Field::Strs("resources")),
    (4, Field::Strs("resourceNames")),
    (5, Field::Strs("nonResourceURLs")),
];
const LABEL_REQUIREMENT: &[(u64, Field)] = &[
    (1, Field::Str("key")),
    (2, Field::Str("operator")),
    (3, Field::Strs("values")),
];
const LABEL_SELECTOR: &[(u64, Field)] = &[
    (1, Field::Map("matchLabels")),
    (2, Field::Msgs("matchExpressions", LABEL_REQUIREMENT)),
];
const AGGREGATION_RULE: &[(u64, Field)] =
    &[(1, Field::Msgs("clusterRoleSelectors", LABEL_SELECTOR))];
const SUBJECT: &[(u64, Field)] = &[
    (1, Field::Str("kind")),
    (2, Field::Str("apiGroup")),
    (3, Field::Str("name")),
    (4, Field::Str("namespace")),
];
const ROLE_REF: &[(u64, Field)] = &[
    (1, Field::Str("apiGroup")),
    (2, Field::Str("kind")),
    (3, Field::Str("name")),
];
const ROLE: &[(u64, Field)] = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msgs("rules", POLICY_RULE)),
    (3, Field::Msg("aggregationRule", AGGREGATION_RULE)),
];
const BINDING: &[(u64, Field)] = &[
    (1, Field::Msg("metadata", OBJECT_META)),
    (2, Field::Msgs("subjects", SUBJECT)),
    (3, Field::Msg("roleRef", ROLE_REF)),
];

const RESOURCE_ATTRIBUTES: &[(u64, Field)] = &[
    (1, Field::Str("namespace")),
    (2, Field::Str("verb")),
    (3, Field::Str("group")),
    (4, Field::Str("version")),
    (5, Field::Str("resource")),
    (6, Field::Str("subresource")),
    (7, Field::Str("name")),
];
const NON_RESOURCE_ATTRIBUTES: &[(u64, Field)] =
    &[(1, Field::Str("path")), (2, Field::Str("verb"))];
const SELF_ACCESS_SPEC: &[(u64, Field)] = &[
    (1, Field::Msg("resourceAttributes", RESOURCE_ATTRIBUTES)),
    (
        2,
        Field::Msg("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES),
    ),
];
const ACCESS_SPEC: &[(u64, Field)] = &[
    (1, Field::Msg("resourceAttributes", RESOURCE_ATTRIBUTES)),
    (
        2,
        Field::Msg("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES),
    ),
    (3, Field::Str("user")),
    (4, Field::Strs("groups")),
    (6, Field::Str("uid")),
];
const RULES_SPEC: &[(u64, Field)] = &[(1, Field::Str("namespace"))];
const TOKEN_SPEC: &[(u64, Field)] = &[(1, Field::Str("token")), (2, Field::Strs("audiences"))];
const NO_SPEC: &[(u64, Field)] = &[];
const BOUND_OBJECT_REF: &[(u64, Field)] = &[
    (1, Field::Str("kind")),
    (2, Field::Str("apiVersion")),
    (3, Field::Str("name")),
    (4, Field::Str("uid")),
];
const TOKEN_REQUEST_SPEC: &[(u64, Field)] = &[
    (1, Field::Strs("audiences")),
    (3, Field::Msg("boundObjectRef", BOUND_OBJECT_REF)),
    (4, Field::Int("expirationSeconds")),
];

fn bad(why: &str) -> Status {
    Status::bad_request(format!("cannot read the protobuf request body: {why}"))
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, Status> {
    let mut out = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or_else(|| bad("truncated varint"))?;
        *pos += 1;
        out |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err(bad("varint too long"))
}

/// One field's payload.
enum Raw<'a> {
    Bytes(&'a [u8]),
    Varint(u64),
}

/// The fields of one message: (number, bytes) for length-delimited ones; others skipped.
fn fields(buf: &[u8]) -> Result<Vec<(u64, &[u8])>, Status> {
    Ok(all_fields(buf)?
        .into_iter()
        .filter_map(|(n, raw)| match raw {
            Raw::Bytes(b) => Some((n, b)),
            Raw::Varint(_) => None,
        })
        .collect())
}

/// Every length-delimited and varint field of one message; fixed-width ones skipped.
fn all_fields(buf: &[u8]) -> Result<Vec<(u64, Raw<'_>)>, Status> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let v = varint(buf, &mut pos)?;
                out.push((number, Raw::Varint(v)));
            }
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| bad("length"))?;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len());
                let end = end.ok_or_else(|| bad("a field runs past the end"))?;
                out.push((number, Raw::Bytes(&buf[pos..end])));
                pos = end;
            }
            _ => return Err(bad("unsupported wire type")),
        }
        if pos > buf.len() {
            return Err(bad("truncated field"));
        }
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> Result<String, Status> {
    String::from_utf8(bytes.to_vec()).map_err(|_| bad("a string is not UTF-8"))
}

fn message(buf: &[u8], schema: &[(u64, Field)]) -> Result<Map<String, Value>, Status> {
    let mut out = Map::new();
    for (number, raw) in all_fields(buf)? {
        let Some((_, field)) = schema.iter().find(|(n, _)| *n == number) else {
            continue;
        };
        let bytes = match (raw, *field) {
            (Raw::Varint(v), Field::Int(name)) => {
                // int64 on the wire is two's complement in a u64.
                out.insert(name.into(), Value::from(v as i64));
                continue;
            }
            (Raw::Varint(_), _) | (Raw::Bytes(_), Field::Int(_)) => continue,
            (Raw::Bytes(b), _) => b,
        };
        match *field {
            Field::Int(_) => {}
            Field::Str(name) => {
                out.insert(name.into(), Value::String(text(bytes)?));
            }
            Field::Strs(name) => {
                let list = out.entry(name).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = list {
                    items.push(Value::String(text(bytes)?));
                }
            }
            Field::Msg(name, inner) => {
                out.insert(name.into(), Value::Object(message(bytes, inner)?));
            }
            Field::Msgs(name, inner) => {
                let item = Value::Object(message(bytes, inner)?);
                if let Value::Array(items) =
                    out.entry(name).or_insert_with(|| Value::Array(Vec::new()))
                {
                    items.push(item);
                }
            }
            Field::Map(name) => {
                let (mut key, mut value) = (String::new(), String::new());
                for (n, b) in fields(bytes)? {
                    match n {
                        1 => key = text(b)?,
                        2 => value = text(b)?,
                        _ => {}
                    }
                }
                if let Value::Object(map) =
                    out.entry(name).or_insert_with(|| Value::Object(Map::new()))
                {
                    map.insert(key, Value::String(value));
                }
            }
        }
    }
    Ok(out)
}

/// The `runtime.Unknown` envelope's type and raw object.
fn envelope(body: &[u8]) -> Result<(String, String, &[u8]), Status> {
    let unknown = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| bad("it does not start with the k8s protobuf magic"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, b) in fields(unknown)? {
        match n {
            1 => {
                for (m, t) in fields(b)? {
                    match m {
                        1 => api_version = text(t)?,
                        2 => kind = text(t)?,
                        _ => {}
                    }
                }
            }
            2 => raw = b,
            _ => {}
        }
    }
    Ok((api_version, kind, raw))
}

/// An RBAC object (Role, ClusterRole, RoleBinding, ClusterRoleBinding) from a protobuf body,
/// as JSON: what `kubectl create role|clusterrole|rolebinding|clusterrolebinding` sends.
pub fn decode_rbac(kind: &str, body: &[u8]) -> Result<Value, Status> {
    let schema = match kind {
        "Role" | "ClusterRole" => ROLE,
        "RoleBinding" | "ClusterRoleBinding" => BINDING,
        other => {
            return Err(Status::unsupported_media_type(format!(
                "the sandbox reads protobuf only for RBAC objects and reviews, not {other}; \
                 send application/json"
            )));
        }
    };
    let (api_version, sent_kind, raw) = envelope(body)?;
    let mut obj = message(raw, schema)?;
    obj.insert("apiVersion".into(), Value::String(api_version));
    obj.insert("kind".into(), Value::String(sent_kind));
    Ok(Value::Object(obj))
}

/// A TokenRequest (`kubectl create token` sends protobuf) as JSON.
pub fn decode_token_request(body: &[u8]) -> Result<Value, Status> {
    let (_, _, raw) = envelope(body)?;
    let mut obj = Map::new();
    for (number, bytes) in fields(raw)? {
        match number {
            1 => {
                obj.insert(
                    "metadata".into(),
                    Value::Object(message(bytes, OBJECT_META)?),
                );
            }
            2 => {
                obj.insert(
                    "spec".into(),
                    Value::Object(message(bytes, TOKEN_REQUEST_SPEC)?),
                );
            }
            _ => {}
        }
    }
    obj.entry("spec")
        .or_insert_with(|| Value::Object(Map::new()));
    Ok(Value::Object(obj))
}

/// A review request (`kind` the resource's Kind) from a `k8s\0`-prefixed protobuf body, as
/// the JSON object the review handlers read.
pub fn decode_review(kind: &str, body: &[u8]) -> Result<Value, Status> {
    let spec_schema = match kind {
        "SelfSubjectAccessReview" => SELF_ACCESS_SPEC,
        "SubjectAccessReview" | "LocalSubjectAccessReview" => ACCESS_SPEC,
        "SelfSubjectRulesReview" => RULES_SPEC,
        "TokenReview" => TOKEN_SPEC,
        "SelfSubjectReview" => NO_SPEC,
        other => {
            return Err(Status::unsupported_media_type(format!(
                "the sandbox reads protobuf only for review requests, not {other}; send \
                 application/json"
            )));
        }
    };
    let (_, _, raw) = envelope(body)?;
    let mut obj = Map::new();
    for (number, bytes) in fields(raw)? {
        if number == 2 {
            obj.insert("spec".into(), Value::Object(message(bytes, spec_schema)?));
        }
    }
    obj.entry("spec")
        .or_insert_with(|| Value::Object(Map::new()));
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![((number << 3) | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn reads_a_self_subject_access_review_as_kubectl_sends_it() {
        let attrs = [
            field(1, b"demo-project"),
            field(2, b"create"),
            field(3, b"sluice.dev"),
            field(5, b"releasejobs"),
        ]
        .concat();
        let spec = field(1, &attrs);
        let raw = [field(1, b""), field(2, &spec)].concat();
        let type_meta = [
            field(1, b"authorization.k8s.io/v1"),
            field(2, b"SelfSubjectAccessReview"),
        ]
        .concat();
        let body = [b"k8s\0".to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        let obj = decode_review("SelfSubjectAccessReview", &body).unwrap();
        assert_eq!(
            obj["spec"]["resourceAttributes"]["namespace"],
            "demo-project"
        );
        assert_eq!(obj["spec"]["resourceAttributes"]["verb"], "create");
        assert_eq!(obj["spec"]["resourceAttributes"]["group"], "sluice.dev");
        assert_eq!(obj["spec"]["resourceAttributes"]["resource"], "releasejobs");
    }

    #[test]
    fn reads_a_cluster_role_binding_as_kubectl_create_sends_it() {
        let meta = [
            field(1, b"bob-view"),
            field(11, &[field(1, b"team"), field(2, b"a")].concat()),
        ]
        .concat();
        let subject = [
            field(1, b"User"),
            field(2, b"rbac.authorization.k8s.io"),
            field(3, b"bob"),
        ]
        .concat();
        let role_ref = [
            field(1, b"rbac.authorization.k8s.io"),
            field(2, b"ClusterRole"),
            field(3, b"view"),
        ]
        .concat();
        let raw = [field(1, &meta), field(2, &subject), field(3, &role_ref)].concat();
        let type_meta = [
            field(1, b"rbac.authorization.k8s.io/v1"),
            field(2, b"ClusterRoleBinding"),
        ]
        .concat();
        let body = [b"k8s\0".to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        let obj = decode_rbac("ClusterRoleBinding", &body).unwrap();
        assert_eq!(obj["kind"], "ClusterRoleBinding");
        assert_eq!(obj["metadata"]["name"], "bob-view");
        assert_eq!(obj["metadata"]["labels"]["team"], "a");
        assert_eq!(obj["subjects"][0]["name"], "bob");
        assert_eq!(obj["roleRef"]["name"], "view");
    }

    #[test]
    fn reads_a_token_request_as_kubectl_create_token_sends_it() {
        // spec: audiences "vault", expirationSeconds 1200 (varint 0xb0 0x09).
        let spec = [field(1, b"vault"), vec![4 << 3, 0xb0, 0x09]].concat();
        let raw = [field(1, &field(1, b"console")), field(2, &spec)].concat();
        let type_meta = [
            field(1, b"authentication.k8s.io/v1"),
            field(2, b"TokenRequest"),
        ]
        .concat();
        let body = [b"k8s\0".to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        let obj = decode_token_request(&body).unwrap();
        assert_eq!(obj["spec"]["audiences"], serde_json::json!(["vault"]));
        assert_eq!(obj["spec"]["expirationSeconds"], 1200);
        assert_eq!(obj["metadata"]["name"], "console");
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(decode_rbac("Pod", b"k8s\0").is_err());
        assert!(decode_review("SelfSubjectReview", b"{}").is_err());
        assert!(decode_review("Pod", b"k8s\0").is_err());
        let truncated = [b"k8s\0".to_vec(), vec![0x12, 0x40, 1, 2]].concat();
        let err = decode_review("TokenReview", &truncated).unwrap_err();
        assert!(err.message.contains("past the end"), "{}", err.message);
    }
}
