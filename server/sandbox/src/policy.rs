//! Admission policies: ValidatingAdmissionPolicy and MutatingAdmissionPolicy
//! (`admissionregistration.k8s.io/v1`), enforced with CEL as kube-apiserver does.
//!
//! Sluice relies on them for what the API server must decide rather than the console:
//! who created a release job (a mutating policy stamps `spec.creator`), and which jobs
//! are acceptable at all (a validating policy). A console tried against the sandbox must
//! meet the same refusals as on a cluster, so every write goes through the same steps,
//! in kube-apiserver's order:
//!
//! 1. decoding: strict field checking and defaulting ([`crate::api::admission`]);
//! 2. **mutating policies** ([`mutating`]) on CREATE and UPDATE: each matching
//!    policy × binding × param runs its `matchConditions`, then its mutations in order
//!    (JSONPatch or ApplyConfiguration), each seeing the object as the last one left it;
//! 3. validation of the (mutated) object, defaults re-applied;
//! 4. **validating policies** ([`validating`]) on CREATE, UPDATE and DELETE, from inside
//!    the store's write, so they see the object as it would be stored (a generated name,
//!    uid, resourceVersion); `dryRun=All` requests are evaluated the same way.
//!
//! Matching ([`matching`]) follows `matchConstraints` and the binding's `matchResources`:
//! resource rules (groups, versions, resources with subresources, operations, scope,
//! resourceNames), exclude rules, namespace and object selectors; params come from the
//! binding's `paramRef` (by name or selector, in a namespace or cluster-wide) with
//! `parameterNotFoundAction`. Expressions are compiled and evaluated by [`cel`].
//! Policy objects are defaulted and checked when written ([`definition`]): an
//! expression that does not compile is refused then, as kube-apiserver refuses it.
//!
//! Not implemented: `authorizer` in expressions, `auditAnnotations` (accepted, not
//! evaluated), reinvocation (`reinvocationPolicy: IfNeeded` runs once, like `Never`),
//! policies on the `scale` subresource, and `matchPolicy: Equivalent` across API versions
//! (a rule matches the version the request used).

pub mod cel;
pub mod definition;
pub mod matching;
pub mod mutating;
pub mod validating;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::{
    api::{admission, query::FieldValidation},
    auth::UserInfo,
    error::Result,
    object,
    resources::{Registry, ResourceDef, keys},
    store::Store,
};

pub const GROUP: &str = "admissionregistration.k8s.io";
pub const VALIDATING_POLICIES: &str = "validatingadmissionpolicies.admissionregistration.k8s.io";
pub const VALIDATING_BINDINGS: &str =
    "validatingadmissionpolicybindings.admissionregistration.k8s.io";
pub const MUTATING_POLICIES: &str = "mutatingadmissionpolicies.admissionregistration.k8s.io";
pub const MUTATING_BINDINGS: &str = "mutatingadmissionpolicybindings.admissionregistration.k8s.io";

/// What a request does to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// One admission request: what is written, how, and by whom.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub def: &'a ResourceDef,
    /// The version the client used (objects are shown to policies in it).
    pub version: &'a str,
    /// "" for the object itself, or `status`, `finalize`.
    pub subresource: &'a str,
    pub operation: Operation,
    /// "" for cluster-scoped resources.
    pub namespace: &'a str,
    /// "" for a create with `generateName` (before the name is generated).
    pub name: &'a str,
    pub user: &'a UserInfo,
    pub dry_run: bool,
}

impl Request<'_> {
    /// The AdmissionRequest policies see as `request`.
    pub fn to_json(&self) -> Value {
        let def = self.def;
        let kind = json!({"group": def.group, "version": self.version, "kind": def.kind});
        let resource = json!({"group": def.group, "version": self.version, "resource": def.plural});
        let options_kind = match self.operation {
            Operation::Create => "CreateOptions",
            Operation::Update => "UpdateOptions",
            Operation::Delete => "DeleteOptions",
        };
        let mut request = json!({
            "uid": object::new_uid(),
            "kind": kind,
            "resource": resource,
            "requestKind": kind,
            "requestResource": resource,
            "name": self.name,
            "namespace": self.namespace,
            "operation": self.operation.as_str(),
            "userInfo": self.user.to_json(),
            "dryRun": self.dry_run,
            "options": {"kind": options_kind, "apiVersion": "meta.k8s.io/v1"},
        });
        if !self.subresource.is_empty() {
            request["subResource"] = json!(self.subresource);
            request["requestSubResource"] = json!(self.subresource);
        }
        request
    }

    /// The Namespace object of a namespaced request (`namespaceObject`), as stored.
    pub fn namespace_object(&self, store: &Store) -> Option<Arc<Value>> {
        if self.namespace.is_empty() || self.def.is_namespaces() {
            return None;
        }
        store.get(keys::NAMESPACES, "", self.namespace)
    }
}

/// Steps 1–3 of a CREATE or UPDATE: builtin defaulting and validation
/// ([`admission::admit`]) around the mutating policies that match. `old` is the stored
/// object an UPDATE replaces, in the request's version. Returns the object to store (in
/// the request's version) and the warnings for the client.
pub fn admit(
    store: &Store,
    registry: &Registry,
    req: &Request<'_>,
    areq: admission::Request<'_>,
    mut obj: Value,
    old: Option<&Value>,
) -> Result<(Value, Vec<String>)> {
    let namespace_object = req.namespace_object(store);
    let plan = mutating::plan(store, registry, req, &obj, old, namespace_object.as_deref());
    if plan.is_empty() {
        let warnings = admission::admit(areq, &mut obj)?;
        return Ok((obj, warnings));
    }
    // kube-apiserver decodes (strict field checking, CRD defaults) before mutating
    // admission and validates after it: run the decode-time part first, keep its
    // defaults, and let schema errors wait until the mutations had their chance.
    let mut defaulted = obj.clone();
    let mut warnings = match admission::admit(areq, &mut defaulted) {
        Ok(w) => {
            obj = defaulted;
            w
        }
        Err(e) if e.code() == 400 => return Err(e),
        Err(_) => Vec::new(),
    };
    mutating::run(req, plan, &mut obj, old, namespace_object.as_deref())?;
    let validate = admission::Request {
        field_validation: FieldValidation::Ignore,
        ..areq
    };
    warnings.extend(admission::admit(validate, &mut obj)?);
    Ok((obj, warnings))
}

/// Step 4: the validating policies, for an object as it would be stored (`object` and
/// `old` in the request's version; `object` is `None` on DELETE, `old` on CREATE).
/// Returns warnings (`Warn` actions); a denial is the error.
pub fn validate(
    store: &Store,
    registry: &Registry,
    req: &Request<'_>,
    object: Option<&Value>,
    old: Option<&Value>,
) -> Result<Vec<String>> {
    validating::validate(store, registry, req, object, old)
}
