//! Validation of custom resources against a CRD's structural OpenAPI v3 schema, the way
//! kube-apiserver does it.
//!
//! Why this exists: the sandbox stands in for a real cluster, and on a real cluster a
//! VirtualService with `weight: "50"` or an HTTPMatchRequest with both `exact` and `prefix`
//! is refused by the API server (HTTP 422) because Istio's CRD schema says so. If the sandbox
//! accepted such objects, the console would look fine against the sandbox and fail against a
//! cluster. So objects written to the sandbox go through the same steps, with the schemas
//! embedded by [`crate::crds`] (or those of CRDs created at runtime).
//!
//! What kube-apiserver does with a custom resource in a create/update request, and the
//! function here for each step:
//! 1. **Pruning** ([`prune`]): fields the schema does not declare are dropped (and reported,
//!    so `fieldValidation=Strict` can reject them and `Warn` can warn); at the resource root
//!    `apiVersion`, `kind` and `metadata` are always kept, as in objects marked
//!    `x-kubernetes-embedded-resource`. Non-nullable fields set to `null` with no default are
//!    dropped too (kube does this in the same decoding step).
//! 2. **Defaulting** ([`apply_defaults`]): `default` values fill absent fields (and
//!    non-nullable nulls).
//! 3. **Validation**: types, formats, `enum`, bounds, lengths, `pattern`, `required`, the
//!    `oneOf`/`anyOf`/`allOf`/`not` value validations, and set/map list uniqueness.
//!
//! [`validate`] runs all three on a copy and reports both errors and unknown fields without
//! touching the object; [`admit`] runs them in place, which is what a create/update handler
//! wants (`admit`, then reject on errors, or on unknown fields under `Strict`).
//!
//! Errors mimic kube-apiserver's `field.Error`s: the path style (`spec.http[0].route[1].weight`,
//! map keys as `.key`) and messages such as
//! `spec.http[0].route[0].weight: Invalid value: "string": spec.http[0].route[0].weight in body
//! must be of type integer: "string"`. [`FieldError::reason`] gives the `StatusCause` reason
//! and [`Validation::invalid_message`] the 422 Status message.
//!
//! Deliberate limits (documented so nobody relies on them):
//! - CEL rules (`x-kubernetes-validations`) are ignored: evaluating CEL needs a CEL engine,
//!   and the schema-level checks already catch the mistakes users make in practice. Istio's
//!   and Gateway API's CEL rules (e.g. HTTPRoute path values starting with `/`) are thus not
//!   enforced by the sandbox.
//! - `metadata` is not validated here (name syntax etc. is the API server's ObjectMeta job).
//! - Of the string formats kube checks, only `date-time` and `byte` are checked (the only
//!   ones in the embedded CRDs); others are accepted.
//! - `pattern` uses the `regex` crate, whose syntax is RE2's (Go's, which kube uses) except
//!   that `\d`, `\w`, `\s` are Unicode-aware; a pattern `regex` cannot compile is not enforced
//!   (kube refuses such a CRD at creation; the embedded ones all compile, see tests).
//! - No validation ratcheting on update (kube ≥1.30 tolerates unchanged invalid fields).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use regex::Regex;
use serde_json::{Map, Number, Value};

const PRESERVE_UNKNOWN: &str = "x-kubernetes-preserve-unknown-fields";
const EMBEDDED_RESOURCE: &str = "x-kubernetes-embedded-resource";
const INT_OR_STRING: &str = "x-kubernetes-int-or-string";

/// The outcome of checking one object against a schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// Schema violations; any one makes kube-apiserver refuse the object (422 Invalid).
    pub errors: Vec<FieldError>,
    /// Paths (e.g. `spec.http[0].route[0].weihgt`) of fields the schema does not declare.
    /// Not errors: kube-apiserver prunes them, warns under `fieldValidation=Warn` and refuses
    /// the request only under `fieldValidation=Strict` (see [`Validation::strict_message`]).
    pub unknown_fields: Vec<String>,
}

impl Validation {
    /// No schema errors (unknown fields do not count).
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// The message of kube-apiserver's 422 Status for these errors, e.g.
    /// `VirtualService.networking.istio.io "reviews" is invalid: spec.hosts: Required value`
    /// (several errors are listed in brackets, comma-separated, duplicates removed).
    /// `None` when there are no errors.
    pub fn invalid_message(&self, kind: &str, group: &str, name: &str) -> Option<String> {
        if self.errors.is_empty() {
            return None;
        }
        let qualified_kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let mut messages: Vec<&str> = Vec::new();
        for error in &self.errors {
            if !messages.contains(&error.message.as_str()) {
                messages.push(&error.message);
            }
        }
        let list = if messages.len() == 1 {
            messages[0].to_string()
        } else {
            format!("[{}]", messages.join(", "))
        };
        Some(format!("{qualified_kind} {name:?} is invalid: {list}"))
    }

    /// The message of kube-apiserver's 400 Status when `fieldValidation=Strict` meets unknown
    /// fields: `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
    /// Each `unknown field "<path>"` part is also the text of a `Warn`-mode warning.
    /// `None` when there are no unknown fields.
    pub fn strict_message(&self) -> Option<String> {
        if self.unknown_fields.is_empty() {
            return None;
        }
        let fields: Vec<String> = self
            .unknown_fields
            .iter()
            .map(|path| format!("unknown field {path:?}"))
            .collect();
        Some(format!("strict decoding error: {}", fields.join(", ")))
    }
}

/// One schema violation, as kube-apiserver reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The path of the offending field, e.g. `spec.http[0].route[1].weight`; map entries are
    /// `.key` (`spec.http[0].match[0].headers.end-user`); empty for the object itself.
    pub field: String,
    pub kind: FieldErrorKind,
    /// The whole message, field path first, as `kubectl` prints it.
    pub message: String,
}

impl FieldError {
    fn new(field: &str, kind: FieldErrorKind, body: String) -> FieldError {
        let message = if field.is_empty() {
            body
        } else {
            format!("{field}: {body}")
        };
        FieldError {
            field: field.to_string(),
            kind,
            message,
        }
    }

    /// The `reason` of this error as a `StatusCause` (`details.causes[]`) of a 422 Status.
    pub fn reason(&self) -> &'static str {
        self.kind.reason()
    }

    /// The message without the leading `<field>: `, which is what kube-apiserver puts in a
    /// `StatusCause`'s `message` (the field goes in its `field`).
    pub fn body(&self) -> &str {
        self.message
            .strip_prefix(self.field.as_str())
            .and_then(|rest| rest.strip_prefix(": "))
            .unwrap_or(&self.message)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

/// What is wrong with a field. Finer-grained than kube's `field.ErrorType` so callers can
/// tell cases apart; [`FieldErrorKind::reason`] maps back to kube's cause reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A `required` field is absent.
    Required,
    /// Wrong type (`integer` given a string, ...) or a string not in its `format`.
    Invalid,
    /// Not one of the `enum` values.
    NotSupported,
    /// String longer than `maxLength`.
    TooLong,
    /// String shorter than `minLength`.
    TooShort,
    /// More than `maxItems` items or `maxProperties` properties.
    TooMany,
    /// Fewer than `minItems` items or `minProperties` properties.
    TooFew,
    /// String does not match `pattern`.
    Pattern,
    /// Number outside `minimum`/`maximum`, its `format` (int32, uint32, int64) or `multipleOf`.
    OutOfRange,
    /// Repeated item in an `x-kubernetes-list-type: set` list, or repeated key in a `map` list.
    Duplicate,
    /// `oneOf`: no or several alternatives match (Istio's mutually exclusive fields).
    OneOf,
    /// `anyOf`: no alternative matches.
    AnyOf,
    /// `allOf`: some schema does not match.
    AllOf,
    /// `not`: the forbidden schema matches.
    Not,
}

impl FieldErrorKind {
    /// kube-apiserver's `StatusCause` reason for this kind of error.
    pub fn reason(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueTypeInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::TooShort
            | FieldErrorKind::TooFew
            | FieldErrorKind::Pattern
            | FieldErrorKind::OutOfRange
            | FieldErrorKind::OneOf
            | FieldErrorKind::AnyOf
            | FieldErrorKind::AllOf
            | FieldErrorKind::Not => "FieldValueInvalid",
        }
    }
}

/// Checks `obj` (a whole custom resource: `apiVersion`, `kind`, `metadata`, `spec`, ...)
/// against `schema` (the `openAPIV3Schema` of the CRD version named by its `apiVersion`),
/// as kube-apiserver would on create/update: the verdict is taken on a pruned and defaulted
/// copy, so `obj` itself is not changed. See [`admit`] to change it the same way.
pub fn validate(schema: &Value, obj: &Value) -> Validation {
    let mut copy = obj.clone();
    admit(schema, &mut copy)
}

/// Prunes, defaults and validates `obj` in place, the order kube-apiserver uses: the stored
/// object is `obj` afterwards (if there are no errors). `unknown_fields` lists what was pruned.
pub fn admit(schema: &Value, obj: &mut Value) -> Validation {
    let mut unknown_fields = Vec::new();
    prune_node(schema, obj, "", true, &mut unknown_fields);
    apply_defaults(schema, obj);
    let mut errors = Vec::new();
    check(schema, obj, "", true, &mut errors);
    Validation {
        errors,
        unknown_fields,
    }
}

/// Removes the fields `schema` does not declare, like kube-apiserver's pruning: a field is
/// kept if it is in `properties`, or covered by `additionalProperties` (a schema or `true`),
/// or under `x-kubernetes-preserve-unknown-fields: true`; at the root (and in embedded
/// resources) `apiVersion`, `kind` and `metadata` are always kept. Also drops non-nullable
/// fields set to `null` that have no default, which kube does in the same step.
pub fn prune(schema: &Value, obj: &mut Value) {
    let mut pruned = Vec::new();
    prune_node(schema, obj, "", true, &mut pruned);
}

/// Fills in `default` values: an absent field (or a non-nullable `null`) whose schema has a
/// `default` gets it, recursively (a defaulted object gets its own fields' defaults too), as
/// kube-apiserver does before validation. Defaults inside `metadata` are not applied.
pub fn apply_defaults(schema: &Value, obj: &mut Value) {
    default_node(schema, obj, true);
}

// ---------------------------------------------------------------------------------------
// Schema accessors. Schemas are used as plain JSON (no compilation step) because they come
// from CRD objects that can change at runtime; a malformed keyword is ignored rather than
// fatal, since kube-apiserver would have refused such a CRD in the first place.

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn nullable(schema: &Value) -> bool {
    flag(schema, "nullable")
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// `additionalProperties` as a schema (`None` for a bool or absent).
fn additional_schema(schema: &Value) -> Option<&Value> {
    schema.get("additionalProperties").filter(|s| s.is_object())
}

fn items_schema(schema: &Value) -> Option<&Value> {
    schema.get("items").filter(|s| s.is_object())
}

/// The schema of field `key` of an object under `schema`, if declared.
fn field_schema<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    properties(schema)
        .and_then(|p| p.get(key))
        .or_else(|| additional_schema(schema))
}

/// Fields kube-apiserver keeps at a resource root whatever the schema says.
fn is_implicit_root_field(key: &str) -> bool {
    matches!(key, "apiVersion" | "kind" | "metadata")
}

fn child_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn index_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

// ---------------------------------------------------------------------------------------
// Pruning.

/// `resource_root`: `obj` is a resource (the root or an embedded resource), so its
/// apiVersion/kind/metadata are implicitly declared.
fn prune_node(
    schema: &Value,
    value: &mut Value,
    path: &str,
    resource_root: bool,
    pruned: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            let props = properties(schema);
            let additional = schema.get("additionalProperties");
            // `additionalProperties: true` or preserve-unknown-fields keep undeclared fields
            // as they are (not recursed into: there is no schema for them).
            let keep_unknown = flag(schema, PRESERVE_UNKNOWN)
                || additional.and_then(Value::as_bool).unwrap_or(false);
            let mut remove: Vec<String> = Vec::new();
            for (key, child) in map.iter_mut() {
                let declared = props.and_then(|p| p.get(key));
                if resource_root && is_implicit_root_field(key) && declared.is_none() {
                    continue;
                }
                if resource_root && key == "metadata" {
                    // ObjectMeta belongs to the API server, whatever the schema declares.
                    continue;
                }
                let child_schema = declared.or_else(|| additional.filter(|a| a.is_object()));
                match child_schema {
                    Some(child_schema) => {
                        if child.is_null()
                            && !nullable(child_schema)
                            && child_schema.get("default").is_none()
                        {
                            // kube's PruneNonNullableNullsWithoutDefaults: `field: null` on a
                            // non-nullable field means "unset", not an error.
                            remove.push(key.clone());
                        } else {
                            let embedded = flag(child_schema, EMBEDDED_RESOURCE);
                            prune_node(
                                child_schema,
                                child,
                                &child_path(path, key),
                                embedded,
                                pruned,
                            );
                        }
                    }
                    None if keep_unknown => {}
                    None => {
                        pruned.push(child_path(path, key));
                        remove.push(key.clone());
                    }
                }
            }
            if !remove.is_empty() {
                // retain keeps the order of the remaining fields (with or without
                // serde_json's preserve_order).
                map.retain(|key, _| !remove.contains(key));
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = items_schema(schema) {
                let embedded = flag(item_schema, EMBEDDED_RESOURCE);
                for (i, item) in items.iter_mut().enumerate() {
                    prune_node(item_schema, item, &index_path(path, i), embedded, pruned);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Defaulting.

fn default_node(schema: &Value, value: &mut Value, resource_root: bool) {
    match value {
        Value::Object(map) => {
            if let Some(props) = properties(schema) {
                for (key, prop) in props {
                    if resource_root && key == "metadata" {
                        continue;
                    }
                    let Some(default) = prop.get("default") else {
                        continue;
                    };
                    let needs_default = match map.get(key) {
                        None => true,
                        Some(Value::Null) => !nullable(prop),
                        Some(_) => false,
                    };
                    if needs_default {
                        map.insert(key.clone(), default.clone());
                    }
                }
            }
            let additional = additional_schema(schema);
            for (key, child) in map.iter_mut() {
                if resource_root && key == "metadata" {
                    continue;
                }
                let declared = properties(schema).and_then(|p| p.get(key));
                if let Some(child_schema) = declared.or(additional) {
                    if declared.is_none()
                        && child.is_null()
                        && !nullable(child_schema)
                        && let Some(default) = child_schema.get("default")
                    {
                        *child = default.clone();
                    }
                    default_node(child_schema, child, flag(child_schema, EMBEDDED_RESOURCE));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = items_schema(schema) {
                let embedded = flag(item_schema, EMBEDDED_RESOURCE);
                for item in items.iter_mut() {
                    if item.is_null()
                        && !nullable(item_schema)
                        && let Some(default) = item_schema.get("default")
                    {
                        *item = default.clone();
                    }
                    default_node(item_schema, item, embedded);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// Validation.

/// Validates `value` at `path` against `schema`, appending to `errors`. Mirrors
/// kube-openapi's validator (which kube-apiserver uses): a value of the wrong type gets only
/// the type error, then each keyword applies to the kinds of value it is about.
fn check(
    schema: &Value,
    value: &Value,
    path: &str,
    resource_root: bool,
    errors: &mut Vec<FieldError>,
) {
    if value.is_null() {
        // Explicit nulls in objects were pruned or defaulted before validation; what is left
        // is a nullable field, an array item, or a field without a type.
        if !nullable(schema)
            && let Some(expected) = expected_type(schema)
        {
            errors.push(type_error(path, expected, "null"));
        }
        return;
    }
    if let Some(expected) = expected_type(schema)
        && !type_matches(expected, value)
    {
        errors.push(type_error(path, expected, actual_type(value)));
        return;
    }
    check_enum(schema, value, path, errors);
    match value {
        Value::Number(n) => check_number(schema, n, path, errors),
        Value::String(s) => check_string(schema, s, path, errors),
        Value::Array(items) => check_array(schema, items, path, errors),
        Value::Object(map) => check_object(schema, map, path, resource_root, errors),
        Value::Bool(_) | Value::Null => {}
    }
    check_junctors(schema, value, path, errors);
}

/// The type the schema demands, if any: `type`, or `integer-or-string` for
/// `x-kubernetes-int-or-string` (which has no `type`).
fn expected_type(schema: &Value) -> Option<&str> {
    if flag(schema, INT_OR_STRING) {
        return Some("integer-or-string");
    }
    schema
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
}

fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        // JSON has no integer type: 5.0 is an integer, as in kube-openapi.
        "integer" => is_integer(value),
        "integer-or-string" => value.is_string() || is_integer(value),
        // An unknown type name: a CRD kube would have refused; do not invent errors.
        _ => true,
    }
}

fn is_integer(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

/// The type name kube-openapi reports for a value.
fn actual_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Where a kube-openapi message names the field: `<path> in body ...`.
fn subject(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}

fn type_error(path: &str, expected: &str, actual: &str) -> FieldError {
    // kube reports the actual *type name* as the bad value (not the value itself).
    FieldError::new(
        path,
        FieldErrorKind::Invalid,
        format!(
            "Invalid value: \"{actual}\": {} in body must be of type {expected}: \"{actual}\"",
            subject(path)
        ),
    )
}

fn invalid(path: &str, kind: FieldErrorKind, value: &Value, detail: String) -> FieldError {
    FieldError::new(
        path,
        kind,
        format!("Invalid value: {}: {detail}", bad_value(value)),
    )
}

fn check_enum(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
        return;
    };
    if allowed.iter().any(|a| json_eq(a, value)) {
        return;
    }
    let supported: Vec<String> = allowed
        .iter()
        .map(|a| match a {
            Value::String(s) => quote(s),
            other => quote(&other.to_string()),
        })
        .collect();
    errors.push(FieldError::new(
        path,
        FieldErrorKind::NotSupported,
        format!(
            "Unsupported value: {}: supported values: {}",
            bad_value(value),
            supported.join(", ")
        ),
    ));
}

fn check_number(schema: &Value, n: &Number, path: &str, errors: &mut Vec<FieldError>) {
    let value = Value::Number(n.clone());
    let Some(x) = n.as_f64() else { return };
    let before = errors.len();
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    let shown = |key: &str| schema.get(key).map(bad_value).unwrap_or_default();
    if let Some(min) = bound("minimum") {
        let exclusive = flag(schema, "exclusiveMinimum");
        if (exclusive && x <= min) || (!exclusive && x < min) {
            let relation = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            errors.push(invalid(
                path,
                FieldErrorKind::OutOfRange,
                &value,
                format!(
                    "{} in body should be {relation} {}",
                    subject(path),
                    shown("minimum")
                ),
            ));
        }
    }
    if let Some(max) = bound("maximum") {
        let exclusive = flag(schema, "exclusiveMaximum");
        if (exclusive && x >= max) || (!exclusive && x > max) {
            let relation = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            errors.push(invalid(
                path,
                FieldErrorKind::OutOfRange,
                &value,
                format!(
                    "{} in body should be {relation} {}",
                    subject(path),
                    shown("maximum")
                ),
            ));
        }
    }
    if let Some(m) = bound("multipleOf").filter(|m| *m > 0.0) {
        let q = x / m;
        if (q - q.round()).abs() > 1e-9 {
            errors.push(invalid(
                path,
                FieldErrorKind::OutOfRange,
                &value,
                format!(
                    "{} in body should be a multiple of {}",
                    subject(path),
                    shown("multipleOf")
                ),
            ));
        }
    }
    // The integer formats bound the value even without minimum/maximum (Istio marks int32
    // fields `format: int32` and uint32 ones `maximum: 4294967295`). Only reported when the
    // explicit bounds did not already complain, to give one error per value.
    if errors.len() == before
        && let Some((lo, hi)) = format_range(schema.get("format").and_then(Value::as_str))
    {
        let (too_low, too_high) = integer_out_of_range(n, lo, hi);
        if too_low || too_high {
            let (relation, limit) = if too_low {
                ("greater than or equal to", lo.to_string())
            } else {
                ("less than or equal to", hi.to_string())
            };
            errors.push(invalid(
                path,
                FieldErrorKind::OutOfRange,
                &value,
                format!("{} in body should be {relation} {limit}", subject(path)),
            ));
        }
    }
}

/// The range of an integer `format`, as i128 so that every bound fits.
fn format_range(format: Option<&str>) -> Option<(i128, i128)> {
    match format? {
        "int32" => Some((i32::MIN.into(), i32::MAX.into())),
        "uint32" => Some((0, u32::MAX.into())),
        "int64" => Some((i64::MIN.into(), i64::MAX.into())),
        "uint64" => Some((0, u64::MAX.into())),
        _ => None,
    }
}

fn integer_out_of_range(n: &Number, lo: i128, hi: i128) -> (bool, bool) {
    let exact = n
        .as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from));
    match exact {
        Some(v) => (v < lo, v > hi),
        None => {
            // A float (e.g. 1e20): compare as floats; precision loss at these magnitudes
            // cannot turn an in-range value into an out-of-range one for these bounds.
            let f = n.as_f64().unwrap_or(0.0);
            (f < lo as f64, f > hi as f64)
        }
    }
}

fn check_string(schema: &Value, s: &str, path: &str, errors: &mut Vec<FieldError>) {
    let value = Value::String(s.to_string());
    // kube-openapi counts characters (runes), although kube's TooLong message says bytes.
    let length = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && length > max
    {
        let unit = if max == 1 { "byte" } else { "bytes" };
        errors.push(FieldError::new(
            path,
            FieldErrorKind::TooLong,
            format!("Too long: may not be more than {max} {unit}"),
        ));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && length < min
    {
        errors.push(invalid(
            path,
            FieldErrorKind::TooShort,
            &value,
            format!(
                "{} in body should be at least {min} chars long",
                subject(path)
            ),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
        && pattern_matches(pattern, s) == Some(false)
    {
        errors.push(invalid(
            path,
            FieldErrorKind::Pattern,
            &value,
            format!("{} in body should match '{pattern}'", subject(path)),
        ));
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let ok = match format {
            "date-time" => is_date_time(s),
            "byte" => is_base64(s),
            _ => true,
        };
        if !ok {
            // kube reports a format mismatch as a type error naming the format.
            errors.push(FieldError::new(
                path,
                FieldErrorKind::Invalid,
                format!(
                    "Invalid value: {}: {} in body must be of type {format}: {}",
                    bad_value(&value),
                    subject(path),
                    quote(s)
                ),
            ));
        }
    }
}

/// Whether `text` matches `pattern` (unanchored, as in Go's `regexp.MatchString`); `None`
/// if the pattern does not compile. Compiled patterns are cached: the same few dozen
/// patterns of the Istio/Gateway API CRDs are checked on every write.
fn pattern_matches(pattern: &str, text: &str) -> Option<bool> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let regex = {
        // A panic while holding the lock cannot leave the map inconsistent (insert is the
        // only write), so a poisoned lock is still usable.
        let mut cache = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).ok())
            .clone()
    };
    regex.map(|r| r.is_match(text))
}

/// RFC 3339 date-time, with the leniency of go-openapi's `strfmt.DateTime` (optional
/// seconds, fraction and zone; `T`, `t` or space as separator).
fn is_date_time(s: &str) -> bool {
    static DATE_TIME: OnceLock<Option<Regex>> = OnceLock::new();
    let re = DATE_TIME.get_or_init(|| {
        Regex::new(
            r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})?$",
        )
        .ok()
    });
    let Some(caps) = re.as_ref().and_then(|re| re.captures(s)) else {
        return false;
    };
    let field = |i: usize| {
        caps.get(i)
            .and_then(|m| m.as_str().parse::<u32>().ok())
            .unwrap_or(0)
    };
    (1..=12).contains(&field(2))
        && (1..=31).contains(&field(3))
        && field(4) < 24
        && field(5) < 60
        && field(6) <= 60
}

/// Standard base64 with padding (Go's `base64.StdEncoding`, which kube uses for `byte`).
fn is_base64(s: &str) -> bool {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let padding = bytes.iter().rev().take_while(|b| **b == b'=').count();
    padding <= 2
        && bytes[..bytes.len() - padding]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

fn check_array(schema: &Value, items: &[Value], path: &str, errors: &mut Vec<FieldError>) {
    let count = items.len() as u64;
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && count > max
    {
        let unit = if max == 1 { "item" } else { "items" };
        errors.push(FieldError::new(
            path,
            FieldErrorKind::TooMany,
            format!("Too many: {count}: must have at most {max} {unit}"),
        ));
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && count < min
    {
        errors.push(FieldError::new(
            path,
            FieldErrorKind::TooFew,
            format!(
                "Invalid value: {count}: {} in body should have at least {min} items",
                subject(path)
            ),
        ));
    }
    let item_schema = items_schema(schema);
    if let Some(item_schema) = item_schema {
        let embedded = flag(item_schema, EMBEDDED_RESOURCE);
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &index_path(path, i), embedded, errors);
        }
    }
    check_list_type(schema, item_schema, items, path, errors);
}

/// `x-kubernetes-list-type`: `set` items must be unique, `map` items must have unique
/// `x-kubernetes-list-map-keys` (absent keys take their default, as in kube). `atomic` (and
/// `x-kubernetes-map-type`) only change how server-side apply merges: nothing to check.
fn check_list_type(
    schema: &Value,
    item_schema: Option<&Value>,
    items: &[Value],
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].iter().any(|earlier| json_eq(earlier, item)) {
                    errors.push(FieldError::new(
                        &index_path(path, i),
                        FieldErrorKind::Duplicate,
                        format!("Duplicate value: {}", bad_value(item)),
                    ));
                }
            }
        }
        Some("map") => {
            let Some(keys) = schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
            else {
                return;
            };
            let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
            let key_of = |item: &Value| -> Option<Map<String, Value>> {
                let object = item.as_object()?;
                let mut key = Map::new();
                for name in &keys {
                    let part = object.get(*name).or_else(|| {
                        item_schema
                            .and_then(|s| properties(s))
                            .and_then(|p| p.get(*name))
                            .and_then(|p| p.get("default"))
                    });
                    if let Some(part) = part {
                        key.insert((*name).to_string(), part.clone());
                    }
                }
                Some(key)
            };
            let item_keys: Vec<Option<Map<String, Value>>> = items.iter().map(key_of).collect();
            for (i, key) in item_keys.iter().enumerate() {
                let Some(key) = key else { continue };
                let seen = item_keys[..i].iter().flatten().any(|earlier| {
                    earlier.len() == key.len()
                        && earlier
                            .iter()
                            .all(|(k, v)| key.get(k).is_some_and(|w| json_eq(v, w)))
                });
                if seen {
                    errors.push(FieldError::new(
                        &index_path(path, i),
                        FieldErrorKind::Duplicate,
                        format!("Duplicate value: {}", Value::Object(key.clone())),
                    ));
                }
            }
        }
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    resource_root: bool,
    errors: &mut Vec<FieldError>,
) {
    let count = map.len() as u64;
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && count > max
    {
        let unit = if max == 1 { "item" } else { "items" };
        errors.push(FieldError::new(
            path,
            FieldErrorKind::TooMany,
            format!("Too many: {count}: must have at most {max} {unit}"),
        ));
    }
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
        && count < min
    {
        errors.push(FieldError::new(
            path,
            FieldErrorKind::TooFew,
            format!(
                "Invalid value: {count}: {} in body should have at least {min} properties",
                subject(path)
            ),
        ));
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                errors.push(FieldError::new(
                    &child_path(path, name),
                    FieldErrorKind::Required,
                    "Required value".to_string(),
                ));
            }
        }
    }
    for (key, child) in map {
        if resource_root && key == "metadata" {
            continue;
        }
        // Undeclared fields have no schema to check (they were pruned, or are preserved
        // unknown fields).
        if let Some(child_schema) = field_schema(schema, key) {
            let embedded = flag(child_schema, EMBEDDED_RESOURCE);
            check(
                child_schema,
                child,
                &child_path(path, key),
                embedded,
                errors,
            );
        }
    }
}

/// `allOf`, `anyOf`, `oneOf`, `not`. In structural schemas these hold only value
/// validations (Istio uses `oneOf: [{not: {anyOf: [{required: [a]}, {required: [b]}]}},
/// {required: [a]}, {required: [b]}]` for "at most one of a, b"). Messages follow
/// kube-openapi; kube itself attaches them to no field (`: Invalid value: ""`), here they
/// are attached to the object they are about, which tells the user where to look.
fn check_junctors(schema: &Value, value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    let quoted = quote(path);
    let branch_errors = |branch: &Value| {
        let mut found = Vec::new();
        check(branch, value, path, false, &mut found);
        found
    };
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        let mut failed = Vec::new();
        for branch in all {
            failed.extend(branch_errors(branch));
        }
        if !failed.is_empty() {
            errors.extend(failed);
            errors.push(invalid(
                path,
                FieldErrorKind::AllOf,
                value,
                format!("{quoted} must validate all the schemas (allOf)"),
            ));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let mut failed = Vec::new();
        let mut matched = false;
        for branch in any {
            let found = branch_errors(branch);
            if found.is_empty() {
                matched = true;
                break;
            }
            failed.extend(found);
        }
        if !matched && !any.is_empty() {
            errors.push(invalid(
                path,
                FieldErrorKind::AnyOf,
                value,
                format!("{quoted} must validate at least one schema (anyOf)"),
            ));
            errors.extend(failed);
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let mut failed = Vec::new();
        let mut matched = 0;
        for branch in one {
            let found = branch_errors(branch);
            if found.is_empty() {
                matched += 1;
            } else {
                failed.extend(found);
            }
        }
        if matched != 1 && !one.is_empty() {
            let found = if matched == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {matched} valid alternatives")
            };
            errors.push(invalid(
                path,
                FieldErrorKind::OneOf,
                value,
                format!("{quoted} must validate one and only one schema (oneOf). {found}"),
            ));
            if matched == 0 {
                errors.extend(failed);
            }
        }
    }
    if let Some(not) = schema.get("not").filter(|n| n.is_object())
        && branch_errors(not).is_empty()
    {
        errors.push(invalid(
            path,
            FieldErrorKind::Not,
            value,
            format!("{quoted} must not validate the schema (not)"),
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Value helpers.

/// JSON equality where numbers compare by value (`1` equals `1.0`), as in kube's enum and
/// set checks on decoded JSON.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A double-quoted string, escaped like Go's `%q` (close enough: JSON escaping).
fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A value as kube's `field.Error` prints it: strings quoted, numbers and booleans bare,
/// `null` as `"null"`; objects and arrays as compact JSON, cut short when long.
fn bad_value(value: &Value) -> String {
    const LIMIT: usize = 200;
    match value {
        Value::Null => "\"null\"".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_text(n),
        Value::String(s) => quote(s),
        Value::Array(_) | Value::Object(_) => {
            let text = value.to_string();
            if text.len() <= LIMIT {
                text
            } else {
                let mut end = LIMIT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}...", &text[..end])
            }
        }
    }
}

/// Numbers as Go's `%v` shows the ones that matter: integers in full, `5.0` as `5`.
fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        n.as_f64().map(|f| f.to_string()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::crds::{CrdInfo, builtin_crds, parse_yaml_documents};

    /// A fixture copied from shared/reference into `tests/fixtures` (see `crds/NOTICE.md`).
    macro_rules! fixture {
        ($path:literal) => {
            ($path, include_str!(concat!("../tests/fixtures/", $path)))
        };
    }

    const FIXTURES: &[(&str, &str)] = &[
        fixture!("istio/bookinfo/networking/bookinfo-gateway.yaml"),
        fixture!("istio/bookinfo/networking/destination-rule-all.yaml"),
        fixture!("istio/bookinfo/networking/virtual-service-all-v1.yaml"),
        fixture!("istio/bookinfo/networking/virtual-service-reviews-50-v3.yaml"),
        fixture!("istio/bookinfo/networking/virtual-service-reviews-80-20.yaml"),
        fixture!("istio/bookinfo/networking/virtual-service-reviews-90-10.yaml"),
        fixture!("istio/bookinfo/networking/virtual-service-reviews-jason-v2-v3.yaml"),
        fixture!("istio/bookinfo/networking/virtual-service-reviews-test-v2.yaml"),
        fixture!("istio/bookinfo/networking/virtual-service-reviews-v2-v3.yaml"),
        fixture!("istio/bookinfo/networking/virtual-service-reviews-v3.yaml"),
        fixture!("istio/bookinfo/gateway-api/bookinfo-gateway.yaml"),
        fixture!("istio/bookinfo/gateway-api/route-all-v1.yaml"),
        fixture!("istio/bookinfo/gateway-api/route-reviews-50-v3.yaml"),
        fixture!("istio/bookinfo/gateway-api/route-reviews-90-10.yaml"),
        fixture!("istio/bookinfo/gateway-api/route-reviews-v1.yaml"),
        fixture!("istio/bookinfo/gateway-api/route-reviews-v3.yaml"),
        fixture!("istio/mirroring/istio-apis-default-route.yaml"),
        fixture!("istio/mirroring/istio-apis-mirror.yaml"),
        fixture!("istio/mirroring/gateway-api-default-route.yaml"),
        fixture!("istio/mirroring/gateway-api-mirror.yaml"),
        fixture!("gateway-api/http-request-mirroring/httproute-mirroring.yaml"),
        fixture!("gateway-api/traffic-splitting/simple-split.yaml"),
        fixture!("gateway-api/traffic-splitting/traffic-split-1.yaml"),
        fixture!("gateway-api/traffic-splitting/traffic-split-2.yaml"),
        fixture!("gateway-api/traffic-splitting/traffic-split-3.yaml"),
    ];

    fn fixture_docs(path: &str) -> Vec<Value> {
        let (_, yaml) = FIXTURES
            .iter()
            .find(|(p, _)| *p == path)
            .unwrap_or_else(|| panic!("no fixture {path}"));
        parse_yaml_documents(yaml).expect("fixtures are valid YAML")
    }

    fn fixture_doc(path: &str, kind: &str, name: &str) -> Value {
        fixture_docs(path)
            .into_iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} in {path}"))
    }

    fn infos() -> &'static [CrdInfo] {
        static INFOS: OnceLock<Vec<CrdInfo>> = OnceLock::new();
        INFOS.get_or_init(|| {
            builtin_crds()
                .iter()
                .map(|crd| CrdInfo::from_crd(crd).expect("built-in CRDs are readable"))
                .collect()
        })
    }

    /// The schema the sandbox validates `apiVersion`/`kind` with, if it has one.
    fn schema_for(api_version: &str, kind: &str) -> Option<&'static Value> {
        let (group, version) = api_version.split_once('/')?;
        infos()
            .iter()
            .find(|i| i.group == group && i.kind == kind)?
            .version(version)?
            .schema
            .as_ref()
    }

    fn vs_schema() -> &'static Value {
        schema_for("networking.istio.io/v1", "VirtualService").expect("VirtualService schema")
    }

    fn dr_schema() -> &'static Value {
        schema_for("networking.istio.io/v1", "DestinationRule").expect("DestinationRule schema")
    }

    fn route_schema() -> &'static Value {
        schema_for("gateway.networking.k8s.io/v1", "HTTPRoute").expect("HTTPRoute schema")
    }

    fn reviews_90_10() -> Value {
        fixture_doc(
            "istio/bookinfo/networking/virtual-service-reviews-90-10.yaml",
            "VirtualService",
            "reviews",
        )
    }

    fn reviews_test_v2() -> Value {
        fixture_doc(
            "istio/bookinfo/networking/virtual-service-reviews-test-v2.yaml",
            "VirtualService",
            "reviews",
        )
    }

    fn bookinfo_route() -> Value {
        fixture_doc(
            "istio/bookinfo/gateway-api/bookinfo-gateway.yaml",
            "HTTPRoute",
            "bookinfo",
        )
    }

    fn fields(v: &Validation) -> Vec<(&str, FieldErrorKind)> {
        v.errors
            .iter()
            .map(|e| (e.field.as_str(), e.kind))
            .collect()
    }

    /// Exactly one error, which is returned.
    fn single_error(v: &Validation) -> &FieldError {
        assert_eq!(v.errors.len(), 1, "expected one error, got {:#?}", v.errors);
        &v.errors[0]
    }

    // -- The manifests users start from are accepted -------------------------------------

    #[test]
    fn bookinfo_and_gateway_api_examples_are_valid() {
        let mut validated: BTreeMap<String, usize> = BTreeMap::new();
        let mut without_schema: Vec<String> = Vec::new();
        for (path, yaml) in FIXTURES {
            for doc in parse_yaml_documents(yaml).expect("fixtures are valid YAML") {
                let api_version = doc["apiVersion"].as_str().unwrap_or_default();
                let kind = doc["kind"].as_str().unwrap_or_default();
                let id = format!("{api_version} {kind}");
                let Some(schema) = schema_for(api_version, kind) else {
                    without_schema.push(id);
                    continue;
                };
                let name = &doc["metadata"]["name"];
                let result = validate(schema, &doc);
                assert!(
                    result.is_valid(),
                    "{path} {id} {name}: {:#?}",
                    result.errors
                );
                assert!(
                    result.unknown_fields.is_empty(),
                    "{path} {id} {name}: unknown {:?}",
                    result.unknown_fields
                );
                *validated.entry(id).or_default() += 1;
            }
        }
        let expected: BTreeMap<String, usize> = [
            ("gateway.networking.k8s.io/v1 HTTPRoute", 14),
            ("gateway.networking.k8s.io/v1beta1 HTTPRoute", 2),
            ("networking.istio.io/v1 DestinationRule", 4),
            ("networking.istio.io/v1 Gateway", 1),
            ("networking.istio.io/v1 VirtualService", 12),
            ("networking.istio.io/v1alpha3 DestinationRule", 1),
            ("networking.istio.io/v1alpha3 VirtualService", 2),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
        assert_eq!(validated, expected);
        // Served without a schema: Gateway API's Gateway (CRD not embedded), core Services.
        without_schema.sort();
        assert_eq!(
            without_schema,
            [
                "gateway.networking.k8s.io/v1 Gateway",
                "v1 Service",
                "v1 Service"
            ]
        );
    }

    #[test]
    fn istio_manifests_are_valid_in_every_served_version() {
        for (path, yaml) in FIXTURES.iter().filter(|(p, _)| p.starts_with("istio/")) {
            for doc in parse_yaml_documents(yaml).expect("fixtures are valid YAML") {
                let kind = doc["kind"].as_str().unwrap_or_default();
                if !doc["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("networking.istio.io/"))
                {
                    continue;
                }
                for version in ["v1", "v1beta1", "v1alpha3"] {
                    let schema = schema_for(&format!("networking.istio.io/{version}"), kind)
                        .expect("Istio kinds have a schema in every version");
                    let result = validate(schema, &doc);
                    assert_eq!(result, Validation::default(), "{path} {kind} {version}");
                }
            }
        }
    }

    #[test]
    fn validate_does_not_change_the_object_and_admit_applies_httproute_defaults() {
        let original = fixture_doc(
            "gateway-api/traffic-splitting/traffic-split-1.yaml",
            "HTTPRoute",
            "foo-route",
        );
        let copy = original.clone();
        assert!(validate(route_schema(), &copy).is_valid());
        assert_eq!(copy, original);

        let mut route = original;
        let result = admit(route_schema(), &mut route);
        assert_eq!(result, Validation::default());
        let rules = &route["spec"]["rules"];
        // A rule without matches matches every path, as on a real cluster.
        assert_eq!(
            rules[0]["matches"],
            json!([{"path": {"type": "PathPrefix", "value": "/"}}])
        );
        assert_eq!(rules[0]["backendRefs"][0]["weight"], 1);
        assert_eq!(rules[0]["backendRefs"][0]["kind"], "Service");
        assert_eq!(rules[0]["backendRefs"][0]["group"], "");
        // Header matches default to Exact; given values stay.
        assert_eq!(rules[1]["matches"][0]["headers"][0]["type"], "Exact");
        assert_eq!(rules[1]["matches"][0]["headers"][0]["value"], "test");
        assert!(rules[1]["matches"][0].get("path").is_some());

        let mut route = bookinfo_route();
        admit(route_schema(), &mut route);
        assert_eq!(
            route["spec"]["parentRefs"][0],
            json!({"group": "gateway.networking.k8s.io", "kind": "Gateway",
                   "name": "bookinfo-gateway"})
        );
    }

    // -- Mistakes users make get kube-apiserver's answer ----------------------------------

    #[test]
    fn weight_given_as_string_is_a_type_error() {
        let mut vs = reviews_90_10();
        vs["spec"]["http"][0]["route"][0]["weight"] = json!("90");
        let result = validate(vs_schema(), &vs);
        let error = single_error(&result);
        assert_eq!(error.field, "spec.http[0].route[0].weight");
        assert_eq!(error.kind, FieldErrorKind::Invalid);
        assert_eq!(
            error.message,
            "spec.http[0].route[0].weight: Invalid value: \"string\": \
             spec.http[0].route[0].weight in body must be of type integer: \"string\""
        );
        assert_eq!(error.reason(), "FieldValueTypeInvalid");
        assert_eq!(
            error.body(),
            "Invalid value: \"string\": spec.http[0].route[0].weight in body must be of type \
             integer: \"string\""
        );
        assert_eq!(
            result.invalid_message("VirtualService", "networking.istio.io", "reviews"),
            Some(format!(
                "VirtualService.networking.istio.io \"reviews\" is invalid: {}",
                error.message
            ))
        );
    }

    #[test]
    fn integers_accept_whole_json_numbers_only() {
        let mut vs = reviews_90_10();
        vs["spec"]["http"][0]["route"][0]["weight"] = json!(90.0);
        assert!(validate(vs_schema(), &vs).is_valid());

        vs["spec"]["http"][0]["route"][0]["weight"] = json!(89.5);
        let result = validate(vs_schema(), &vs);
        assert!(
            single_error(&result)
                .message
                .ends_with("must be of type integer: \"number\""),
            "{:?}",
            result.errors
        );
    }

    #[test]
    fn int32_format_bounds_weights() {
        let mut vs = reviews_90_10();
        vs["spec"]["http"][0]["route"][1]["weight"] = json!(2_147_483_647_u64);
        assert!(validate(vs_schema(), &vs).is_valid());

        vs["spec"]["http"][0]["route"][1]["weight"] = json!(4_294_967_296_u64);
        let result = validate(vs_schema(), &vs);
        let error = single_error(&result);
        assert_eq!(error.field, "spec.http[0].route[1].weight");
        assert_eq!(error.kind, FieldErrorKind::OutOfRange);
        assert_eq!(
            error.message,
            "spec.http[0].route[1].weight: Invalid value: 4294967296: \
             spec.http[0].route[1].weight in body should be less than or equal to 2147483647"
        );
    }

    #[test]
    fn misspelt_route_field_is_unknown_not_an_error_and_is_pruned() {
        let mut vs = reviews_90_10();
        let route = vs["spec"]["http"][0]["route"][1]
            .as_object_mut()
            .expect("route is an object");
        let weight = route.remove("weight").expect("fixture has a weight");
        route.insert("weihgt".to_string(), weight);
        vs["metadata"]["labels"] = json!({"app": "reviews"});

        let result = validate(vs_schema(), &vs);
        assert!(result.is_valid(), "{:?}", result.errors);
        assert_eq!(result.unknown_fields, ["spec.http[0].route[1].weihgt"]);
        assert_eq!(
            result.strict_message().as_deref(),
            Some("strict decoding error: unknown field \"spec.http[0].route[1].weihgt\"")
        );

        let mut pruned = vs.clone();
        prune(vs_schema(), &mut pruned);
        let expected_route = json!({"destination": {"host": "reviews", "subset": "v2"}});
        assert_eq!(pruned["spec"]["http"][0]["route"][1], expected_route);
        // Everything else, metadata included, is kept.
        assert_eq!(pruned["metadata"], vs["metadata"]);
        assert_eq!(
            pruned["spec"]["http"][0]["route"][0],
            vs["spec"]["http"][0]["route"][0]
        );
    }

    #[test]
    fn only_apiversion_kind_and_metadata_are_implicit_at_the_root() {
        let mut vs = reviews_90_10();
        vs["sepc"] = json!({"hosts": ["x"]});
        vs["metadata"]["anything"] = json!("the API server's business");
        vs["status"] = json!({"observedGeneration": "3", "whatever": {"deep": [1]}});
        let result = validate(vs_schema(), &vs);
        assert!(result.is_valid(), "{:?}", result.errors);
        // status preserves unknown fields in Istio's CRDs; metadata is not pruned by schema.
        assert_eq!(result.unknown_fields, ["sepc"]);
        let mut admitted = vs.clone();
        admit(vs_schema(), &mut admitted);
        assert!(admitted.get("sepc").is_none());
        assert_eq!(admitted["status"], vs["status"]);
        assert_eq!(admitted["apiVersion"], "networking.istio.io/v1");
    }

    #[test]
    fn exact_and_prefix_together_violate_istio_oneof() {
        let mut vs = reviews_test_v2();
        vs["spec"]["http"][0]["match"][0]["uri"] = json!({"prefix": "/"});
        assert!(validate(vs_schema(), &vs).is_valid());
        // None set is fine too (the `not: anyOf` alternative).
        vs["spec"]["http"][0]["match"][0]["uri"] = json!({});
        assert!(validate(vs_schema(), &vs).is_valid());

        vs["spec"]["http"][0]["match"][0]["uri"] = json!({"exact": "/login", "prefix": "/"});
        let result = validate(vs_schema(), &vs);
        let error = single_error(&result);
        assert_eq!(error.field, "spec.http[0].match[0].uri");
        assert_eq!(error.kind, FieldErrorKind::OneOf);
        assert_eq!(
            error.message,
            "spec.http[0].match[0].uri: Invalid value: {\"exact\":\"/login\",\"prefix\":\"/\"}: \
             \"spec.http[0].match[0].uri\" must validate one and only one schema (oneOf). \
             Found 2 valid alternatives"
        );
        assert_eq!(error.reason(), "FieldValueInvalid");
    }

    #[test]
    fn header_match_map_entries_are_checked_with_their_key_in_the_path() {
        let mut vs = reviews_test_v2();
        vs["spec"]["http"][0]["match"][0]["headers"]["end-user"] =
            json!({"exact": "jason", "regex": "j.*", "sufix": "n"});
        let result = validate(vs_schema(), &vs);
        assert_eq!(
            fields(&result),
            [(
                "spec.http[0].match[0].headers.end-user",
                FieldErrorKind::OneOf
            )]
        );
        assert_eq!(
            result.unknown_fields,
            ["spec.http[0].match[0].headers.end-user.sufix"]
        );
    }

    #[test]
    fn missing_required_fields_are_named() {
        let mut dr = fixture_doc(
            "istio/bookinfo/networking/destination-rule-all.yaml",
            "DestinationRule",
            "reviews",
        );
        if let Some(spec) = dr["spec"].as_object_mut() {
            spec.remove("host");
        }
        let result = validate(dr_schema(), &dr);
        let error = single_error(&result);
        assert_eq!(
            (error.field.as_str(), error.kind),
            ("spec.host", FieldErrorKind::Required)
        );
        assert_eq!(error.message, "spec.host: Required value");
        assert_eq!(error.reason(), "FieldValueRequired");

        // `null` on a non-nullable field means "unset", as kube-apiserver decodes it.
        dr["spec"]["host"] = Value::Null;
        assert_eq!(
            fields(&validate(dr_schema(), &dr)),
            [("spec.host", FieldErrorKind::Required)]
        );

        let mut vs = reviews_90_10();
        if let Some(destination) = vs["spec"]["http"][0]["route"][1]["destination"].as_object_mut()
        {
            destination.remove("host");
        }
        if let Some(route) = vs["spec"]["http"][0]["route"][0].as_object_mut() {
            route.remove("destination");
        }
        assert_eq!(
            fields(&validate(vs_schema(), &vs)),
            [
                (
                    "spec.http[0].route[0].destination",
                    FieldErrorKind::Required
                ),
                (
                    "spec.http[0].route[1].destination.host",
                    FieldErrorKind::Required
                ),
            ]
        );

        let mut route = bookinfo_route();
        route["spec"]["rules"][0]["backendRefs"][0] = json!({"port": 9080});
        assert_eq!(
            fields(&validate(route_schema(), &route)),
            [(
                "spec.rules[0].backendRefs[0].name",
                FieldErrorKind::Required
            )]
        );
    }

    #[test]
    fn httproute_path_type_outside_enum_is_not_supported() {
        let mut route = bookinfo_route();
        route["spec"]["rules"][0]["matches"][1]["path"]["type"] = json!("Prefix");
        let result = validate(route_schema(), &route);
        let error = single_error(&result);
        assert_eq!(error.field, "spec.rules[0].matches[1].path.type");
        assert_eq!(error.kind, FieldErrorKind::NotSupported);
        assert_eq!(
            error.message,
            "spec.rules[0].matches[1].path.type: Unsupported value: \"Prefix\": supported \
             values: \"Exact\", \"PathPrefix\", \"RegularExpression\""
        );
        assert_eq!(error.reason(), "FieldValueNotSupported");
    }

    #[test]
    fn httproute_bounds_lengths_and_patterns() {
        let mut route = bookinfo_route();
        route["spec"]["hostnames"] = json!(["bookinfo.example.com", "Bookinfo.Example.com"]);
        route["spec"]["rules"][0]["backendRefs"][0]["weight"] = json!(1_000_001);
        route["spec"]["rules"][0]["backendRefs"][0]["port"] = json!(0);
        route["spec"]["rules"][0]["matches"][0]["headers"] = json!([
            {"name": "x-canary", "value": "v".repeat(4097)},
            {"name": "", "value": "1"},
        ]);
        let result = validate(route_schema(), &route);
        assert_eq!(
            fields(&result),
            [
                ("spec.hostnames[1]", FieldErrorKind::Pattern),
                (
                    "spec.rules[0].backendRefs[0].port",
                    FieldErrorKind::OutOfRange
                ),
                (
                    "spec.rules[0].backendRefs[0].weight",
                    FieldErrorKind::OutOfRange
                ),
                (
                    "spec.rules[0].matches[0].headers[0].value",
                    FieldErrorKind::TooLong
                ),
                (
                    "spec.rules[0].matches[0].headers[1].name",
                    FieldErrorKind::TooShort
                ),
                (
                    "spec.rules[0].matches[0].headers[1].name",
                    FieldErrorKind::Pattern
                ),
            ]
        );
        let messages: Vec<&str> = result.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages[0],
            "spec.hostnames[1]: Invalid value: \"Bookinfo.Example.com\": spec.hostnames[1] in \
             body should match \
             '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'"
        );
        assert_eq!(
            messages[1],
            "spec.rules[0].backendRefs[0].port: Invalid value: 0: \
             spec.rules[0].backendRefs[0].port in body should be greater than or equal to 1"
        );
        assert_eq!(
            messages[2],
            "spec.rules[0].backendRefs[0].weight: Invalid value: 1000001: \
             spec.rules[0].backendRefs[0].weight in body should be less than or equal to 1000000"
        );
        assert_eq!(
            messages[3],
            "spec.rules[0].matches[0].headers[0].value: Too long: may not be more than 4096 bytes"
        );
        assert_eq!(
            messages[4],
            "spec.rules[0].matches[0].headers[1].name: Invalid value: \"\": \
             spec.rules[0].matches[0].headers[1].name in body should be at least 1 chars long"
        );
    }

    #[test]
    fn httproute_item_counts_and_map_list_keys() {
        let mut route = bookinfo_route();
        let rule = route["spec"]["rules"][0].clone();
        route["spec"]["rules"] = Value::Array(vec![rule; 17]);
        let result = validate(route_schema(), &route);
        let error = single_error(&result);
        assert_eq!(
            (error.field.as_str(), error.kind),
            ("spec.rules", FieldErrorKind::TooMany)
        );
        assert_eq!(
            error.message,
            "spec.rules: Too many: 17: must have at most 16 items"
        );

        route["spec"]["rules"] = json!([]);
        let result = validate(route_schema(), &route);
        assert_eq!(
            single_error(&result).message,
            "spec.rules: Invalid value: 0: spec.rules in body should have at least 1 items"
        );

        // headers is `x-kubernetes-list-type: map` keyed by name.
        let mut route = bookinfo_route();
        route["spec"]["rules"][0]["matches"][0]["headers"] = json!([
            {"name": "x-canary", "value": "1"},
            {"name": "x-user", "value": "jason"},
            {"name": "x-canary", "value": "2"},
        ]);
        let result = validate(route_schema(), &route);
        let error = single_error(&result);
        assert_eq!(error.field, "spec.rules[0].matches[0].headers[2]");
        assert_eq!(error.kind, FieldErrorKind::Duplicate);
        assert_eq!(
            error.message,
            "spec.rules[0].matches[0].headers[2]: Duplicate value: {\"name\":\"x-canary\"}"
        );
        assert_eq!(error.reason(), "FieldValueDuplicate");
    }

    #[test]
    fn nullable_fields_keep_null_and_others_drop_it() {
        let mut dr = fixture_doc(
            "istio/bookinfo/networking/destination-rule-all.yaml",
            "DestinationRule",
            "reviews",
        );
        dr["spec"]["trafficPolicy"] = json!({
            "outlierDetection": {"consecutive5xxErrors": null, "consecutiveErrors": null}
        });
        dr["spec"]["exportTo"] = Value::Null;
        let result = admit(dr_schema(), &mut dr);
        assert_eq!(result, Validation::default());
        // consecutive5xxErrors is `nullable: true`; the others are not.
        assert_eq!(
            dr["spec"]["trafficPolicy"]["outlierDetection"],
            json!({"consecutive5xxErrors": null})
        );
        assert!(dr["spec"].get("exportTo").is_none());

        // A null array item cannot be dropped: it is a type error.
        let mut vs = reviews_90_10();
        vs["spec"]["hosts"] = json!(["reviews", null]);
        let result = validate(vs_schema(), &vs);
        assert_eq!(
            single_error(&result).message,
            "spec.hosts[1]: Invalid value: \"null\": spec.hosts[1] in body must be of type \
             string: \"null\""
        );
    }

    #[test]
    fn several_errors_make_one_status_message() {
        let mut vs = reviews_90_10();
        vs["spec"]["hosts"] = json!("reviews");
        vs["spec"]["http"][0]["route"][0]["weight"] = json!(true);
        let result = validate(vs_schema(), &vs);
        assert_eq!(
            result
                .invalid_message("VirtualService", "networking.istio.io", "reviews")
                .as_deref(),
            Some(
                "VirtualService.networking.istio.io \"reviews\" is invalid: [spec.hosts: Invalid \
                 value: \"string\": spec.hosts in body must be of type array: \"string\", \
                 spec.http[0].route[0].weight: Invalid value: \"boolean\": \
                 spec.http[0].route[0].weight in body must be of type integer: \"boolean\"]"
            )
        );
        assert_eq!(Validation::default().invalid_message("A", "", "b"), None);
        assert_eq!(Validation::default().strict_message(), None);
    }

    #[test]
    fn every_pattern_in_the_builtin_crds_compiles() {
        fn collect<'a>(schema: &'a Value, out: &mut Vec<&'a str>) {
            match schema {
                Value::Object(map) => {
                    for (key, value) in map {
                        match (key.as_str(), value) {
                            ("pattern", Value::String(p)) => out.push(p),
                            // `properties` of a schema can contain a field called "pattern".
                            _ => collect(value, out),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
                _ => {}
            }
        }
        let mut patterns = Vec::new();
        for info in infos() {
            for version in &info.versions {
                if let Some(schema) = &version.schema {
                    collect(schema, &mut patterns);
                }
            }
        }
        assert!(
            patterns.len() > 50,
            "found only {} patterns",
            patterns.len()
        );
        for pattern in patterns {
            assert!(
                pattern_matches(pattern, "").is_some(),
                "pattern does not compile: {pattern}"
            );
        }
    }

    // -- The keywords on small schemas -----------------------------------------------------

    fn small_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "port": {"x-kubernetes-int-or-string": true,
                                 "anyOf": [{"type": "integer"}, {"type": "string"}]},
                        "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": true,
                                  "maximum": 1, "multipleOf": 0.25},
                        "tags": {"type": "array", "items": {"type": "string"},
                                 "x-kubernetes-list-type": "set"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"},
                                   "minProperties": 1},
                        "extra": {"type": "object", "additionalProperties": true,
                                  "maxProperties": 2},
                        "mode": {"type": "string", "default": "auto",
                                 "allOf": [{"not": {"enum": ["off"]}}],
                                 "anyOf": [{"pattern": "^a"}, {"pattern": "^m"}]},
                        "when": {"type": "string", "format": "date-time"},
                        "data": {"type": "string", "format": "byte"},
                        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                                     "properties": {"spec": {"type": "object",
                                        "properties": {"n": {"type": "integer",
                                                             "default": 3}}}}},
                    }
                }
            }
        })
    }

    fn check_spec(spec: Value) -> Validation {
        validate(
            &small_schema(),
            &json!({"apiVersion": "x/v1", "kind": "X", "spec": spec}),
        )
    }

    #[test]
    fn small_schema_accepts_good_values() {
        let result = check_spec(json!({
            "port": "http", "ratio": 0.75, "tags": ["a", "b"], "labels": {"a": "b"},
            "extra": {"anything": [1, {"x": null}]}, "when": "2026-08-21T10:00:00Z",
            "data": "aGVsbG8=",
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                         "spec": {"n": 1}}
        }));
        assert_eq!(result, Validation::default());
        assert!(check_spec(json!({"port": 8080})).is_valid());
    }

    #[test]
    fn small_schema_reports_each_keyword() {
        let cases: Vec<(Value, Vec<(&str, FieldErrorKind)>)> = vec![
            (
                json!({"port": true}),
                vec![("spec.port", FieldErrorKind::Invalid)],
            ),
            (
                json!({"ratio": 0}),
                vec![("spec.ratio", FieldErrorKind::OutOfRange)],
            ),
            (
                json!({"ratio": 0.3}),
                vec![("spec.ratio", FieldErrorKind::OutOfRange)],
            ),
            (
                json!({"ratio": 1.25}),
                vec![("spec.ratio", FieldErrorKind::OutOfRange)],
            ),
            (
                json!({"tags": ["a", "b", "a"]}),
                vec![("spec.tags[2]", FieldErrorKind::Duplicate)],
            ),
            (
                json!({"labels": {"a": 1}}),
                vec![("spec.labels.a", FieldErrorKind::Invalid)],
            ),
            (
                json!({"labels": {}}),
                vec![("spec.labels", FieldErrorKind::TooFew)],
            ),
            (
                json!({"mode": "off"}),
                vec![
                    ("spec.mode", FieldErrorKind::Not),
                    ("spec.mode", FieldErrorKind::AllOf),
                    ("spec.mode", FieldErrorKind::AnyOf),
                    ("spec.mode", FieldErrorKind::Pattern),
                    ("spec.mode", FieldErrorKind::Pattern),
                ],
            ),
            (
                json!({"when": "yesterday"}),
                vec![("spec.when", FieldErrorKind::Invalid)],
            ),
            (
                json!({"when": "2026-13-01T00:00:00Z"}),
                vec![("spec.when", FieldErrorKind::Invalid)],
            ),
            (
                json!({"data": "aGVsbG8"}),
                vec![("spec.data", FieldErrorKind::Invalid)],
            ),
            (
                json!({"extra": {"a": 1, "b": 2, "c": 3}}),
                vec![("spec.extra", FieldErrorKind::TooMany)],
            ),
        ];
        for (spec, expected) in cases {
            let result = check_spec(spec.clone());
            assert_eq!(fields(&result), expected, "{spec}: {:#?}", result.errors);
        }
        let result = check_spec(json!({"port": true}));
        assert_eq!(
            single_error(&result).message,
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type \
             integer-or-string: \"boolean\""
        );
        let result = check_spec(json!({"extra": {"a": 1, "b": 2, "c": 3}}));
        assert_eq!(
            single_error(&result).message,
            "spec.extra: Too many: 3: must have at most 2 items"
        );
        let result = check_spec(json!({"ratio": 0}));
        assert_eq!(
            single_error(&result).message,
            "spec.ratio: Invalid value: 0: spec.ratio in body should be greater than 0"
        );
        let result = check_spec(json!({"when": "yesterday"}));
        assert_eq!(
            single_error(&result).message,
            "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type \
             date-time: \"yesterday\""
        );
    }

    #[test]
    fn small_schema_prunes_defaults_and_keeps_embedded_resource_fields() {
        let mut obj = json!({
            "apiVersion": "x/v1", "kind": "X", "metadata": {"name": "x"},
            "spec": {
                "labels": {"a": "b"}, "extra": {"free": {"form": 1}}, "bogus": 1,
                // Implicit only at a resource root, not in any object.
                "kind": "Nested", "metadata": {"name": "n"},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                             "spec": {}, "stray": true}
            }
        });
        let result = admit(&small_schema(), &mut obj);
        assert!(result.is_valid(), "{:?}", result.errors);
        assert_eq!(
            result.unknown_fields,
            [
                "spec.bogus",
                "spec.kind",
                "spec.metadata",
                "spec.template.stray"
            ]
        );
        assert_eq!(
            obj["spec"],
            json!({
                "labels": {"a": "b"}, "extra": {"free": {"form": 1}}, "mode": "auto",
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                             "spec": {"n": 3}}
            })
        );
        // A non-nullable null with a default gets the default.
        let mut obj = json!({"spec": {"mode": null}});
        apply_defaults(&small_schema(), &mut obj);
        assert_eq!(obj["spec"]["mode"], "auto");
        // prune alone does not default.
        let mut obj = json!({"spec": {"port": 1, "nope": 2}});
        prune(&small_schema(), &mut obj);
        assert_eq!(obj, json!({"spec": {"port": 1}}));
    }

    #[test]
    fn schema_without_properties_prunes_everything_but_root_meta() {
        let schema = json!({"type": "object"});
        let obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"x": 1}, "spec": {}});
        let result = validate(&schema, &obj);
        assert_eq!(result.unknown_fields, ["spec"]);
        let schema = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
        assert_eq!(validate(&schema, &obj), Validation::default());
    }
}
