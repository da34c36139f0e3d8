//! The registry of served kinds: what URL names what, and how each kind behaves.
//!
//! kube-apiserver has compiled-in types plus whatever CRDs are installed; discovery, routing,
//! validation and table printing all start from "which resource is this?". The sandbox keeps
//! one [`ResourceDef`] per served resource: a fixed list of built-in kinds, plus one per CRD
//! object in the store, rebuilt whenever a CRD changes (so a CRD created through the API is
//! served at once, as on a real cluster once it is Established).

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicU64, Ordering},
};

use serde_json::{Value, json};

use crate::crds::CrdInfo;

/// Which DNS rule `metadata.name` must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most kinds).
    Subdomain,
    /// RFC 1123 label (namespaces).
    Label,
    /// RFC 1035 label (services: must start with a letter).
    Label1035,
    /// Any path segment (RBAC objects: `system:discovery`): not empty, not `.` or `..`, no
    /// `/` or `%`.
    PathSegment,
}

/// How objects are converted between the served version and the stored form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Same schema in every version: only `apiVersion` is rewritten (CRDs without conversion
    /// webhooks — Istio serves v1, v1beta1 and v1alpha3 this way).
    ApiVersionOnly,
    /// `events.k8s.io/v1` Events are stored as `core/v1` Events, with renamed fields.
    EventsV1,
}

/// Where a served resource comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled in; strategic merge patch knows its list merge keys.
    Builtin,
    /// Defined by a CustomResourceDefinition in the store.
    Crd,
}

/// An `additionalPrinterColumns` entry of a CRD version.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub json_path: String,
    pub description: String,
    pub priority: i64,
}

/// One served version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionDef {
    pub name: String,
    /// The OpenAPI v3 schema objects of this version are validated against (CRDs only).
    pub schema: Option<Arc<Value>>,
    pub columns: Vec<PrinterColumn>,
}

/// A served resource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDef {
    /// "" for the core group.
    pub group: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub list_kind: String,
    pub namespaced: bool,
    pub categories: Vec<String>,
    /// Served versions, preferred first (kube-apiserver's version priority).
    pub versions: Vec<VersionDef>,
    pub storage_version: String,
    /// The key objects are stored under. Usually `plural.group`; both Event APIs share one.
    pub storage_key: String,
    pub status_subresource: bool,
    pub scale_subresource: bool,
    pub name_rule: NameRule,
    pub origin: Origin,
    pub conversion: Conversion,
    /// A review (SubjectAccessReview, TokenReview, ...): only `create`, answered and never
    /// stored (see `auth::reviews`).
    pub create_only: bool,
}

impl ResourceDef {
    /// `apps/v1`, `v1`.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{version}", self.group)
        }
    }

    pub fn storage_api_version(&self) -> String {
        // Events are stored in core/v1 form whichever API wrote them.
        if self.conversion == Conversion::EventsV1 {
            return "v1".into();
        }
        self.api_version(&self.storage_version)
    }

    pub fn version(&self, name: &str) -> Option<&VersionDef> {
        self.versions.iter().find(|v| v.name == name)
    }

    pub fn preferred_version(&self) -> &str {
        self.versions
            .first()
            .map(|v| v.name.as_str())
            .unwrap_or(&self.storage_version)
    }

    /// Whether this resource is the one that defines other resources.
    pub fn is_crd(&self) -> bool {
        self.group == "apiextensions.k8s.io" && self.plural == "customresourcedefinitions"
    }

    pub fn is_namespaces(&self) -> bool {
        self.group.is_empty() && self.plural == "namespaces"
    }
}

/// A resource's storage key: `plural.group`, or `plural` for the core group.
pub fn storage_key(plural: &str, group: &str) -> String {
    crate::api::status::qualified(plural, group)
}

/// Well-known storage keys the controllers use.
pub mod keys {
    pub const NAMESPACES: &str = "namespaces";
    pub const PODS: &str = "pods";
    pub const SERVICES: &str = "services";
    pub const ENDPOINTS: &str = "endpoints";
    pub const EVENTS: &str = "events";
    pub const NODES: &str = "nodes";
    pub const DEPLOYMENTS: &str = "deployments.apps";
    pub const REPLICASETS: &str = "replicasets.apps";
    pub const CRDS: &str = "customresourcedefinitions.apiextensions.k8s.io";
    pub const LEASES: &str = "leases.coordination.k8s.io";
    pub const SERVICE_ACCOUNTS: &str = "serviceaccounts";
    pub const CONFIGMAPS: &str = "configmaps";
    pub const SECRETS: &str = "secrets";
}

struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    short: &'static [&'static str],
    namespaced: bool,
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
    name_rule: NameRule,
}

const ALL: &[&str] = &["all"];

/// The compiled-in kinds: what the console, kubectl and the Bookinfo manifests use.
const BUILTINS: &[Builtin] = &[
    Builtin {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        short: &["ns"],
        namespaced: false,
        categories: &[],
        status: true,
        scale: false,
        name_rule: NameRule::Label,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        short: &["no"],
        namespaced: false,
        categories: &[],
        status: true,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        short: &["po"],
        namespaced: true,
        categories: ALL,
        status: true,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        short: &["svc"],
        namespaced: true,
        categories: ALL,
        status: true,
        scale: false,
        name_rule: NameRule::Label1035,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        short: &["sa"],
        namespaced: true,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        short: &["cm"],
        namespaced: true,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        short: &[],
        namespaced: true,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        short: &["ev"],
        namespaced: true,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        short: &["ep"],
        namespaced: true,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        short: &["deploy"],
        namespaced: true,
        categories: ALL,
        status: true,
        scale: true,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
        short: &["rs"],
        namespaced: true,
        categories: ALL,
        status: true,
        scale: true,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        short: &[],
        namespaced: true,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        short: &["ev"],
        namespaced: true,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "apiextensions.k8s.io",
        version: "v1",
        kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions",
        short: &["crd", "crds"],
        namespaced: false,
        categories: &["api-extensions"],
        status: true,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        short: &[],
        namespaced: false,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::PathSegment,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        short: &[],
        namespaced: false,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::PathSegment,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        short: &[],
        namespaced: true,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::PathSegment,
    },
    Builtin {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        short: &[],
        namespaced: true,
        categories: &[],
        status: false,
        scale: false,
        name_rule: NameRule::PathSegment,
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicy",
        plural: "validatingadmissionpolicies",
        short: &[],
        namespaced: false,
        categories: &["api-extensions"],
        status: true,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "ValidatingAdmissionPolicyBinding",
        plural: "validatingadmissionpolicybindings",
        short: &[],
        namespaced: false,
        categories: &["api-extensions"],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "MutatingAdmissionPolicy",
        plural: "mutatingadmissionpolicies",
        short: &[],
        namespaced: false,
        categories: &["api-extensions"],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
    Builtin {
        group: "admissionregistration.k8s.io",
        version: "v1",
        kind: "MutatingAdmissionPolicyBinding",
        plural: "mutatingadmissionpolicybindings",
        short: &[],
        namespaced: false,
        categories: &["api-extensions"],
        status: false,
        scale: false,
        name_rule: NameRule::Subdomain,
    },
];

/// The review kinds: (group, kind, plural, namespaced).
const REVIEWS: &[(&str, &str, &str, bool)] = &[
    (
        "authorization.k8s.io",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        false,
    ),
    (
        "authorization.k8s.io",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        false,
    ),
    (
        "authorization.k8s.io",
        "SubjectAccessReview",
        "subjectaccessreviews",
        false,
    ),
    (
        "authorization.k8s.io",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        true,
    ),
    (
        "authentication.k8s.io",
        "SelfSubjectReview",
        "selfsubjectreviews",
        false,
    ),
    (
        "authentication.k8s.io",
        "TokenReview",
        "tokenreviews",
        false,
    ),
];

fn builtin_defs() -> Vec<Arc<ResourceDef>> {
    BUILTINS
        .iter()
        .map(|b| {
            let events_v1 = b.group == "events.k8s.io";
            Arc::new(ResourceDef {
                group: b.group.into(),
                kind: b.kind.into(),
                plural: b.plural.into(),
                singular: b.kind.to_lowercase(),
                short_names: b.short.iter().map(|s| s.to_string()).collect(),
                list_kind: format!("{}List", b.kind),
                namespaced: b.namespaced,
                categories: b.categories.iter().map(|s| s.to_string()).collect(),
                versions: vec![VersionDef {
                    name: b.version.into(),
                    schema: None,
                    columns: Vec::new(),
                }],
                storage_version: b.version.into(),
                storage_key: if events_v1 {
                    keys::EVENTS.into()
                } else {
                    storage_key(b.plural, b.group)
                },
                status_subresource: b.status,
                scale_subresource: b.scale,
                name_rule: b.name_rule,
                origin: Origin::Builtin,
                conversion: if events_v1 {
                    Conversion::EventsV1
                } else {
                    Conversion::ApiVersionOnly
                },
                create_only: false,
            })
        })
        .chain(REVIEWS.iter().map(|(group, kind, plural, namespaced)| {
            Arc::new(ResourceDef {
                group: (*group).into(),
                kind: (*kind).into(),
                plural: (*plural).into(),
                singular: kind.to_lowercase(),
                short_names: Vec::new(),
                list_kind: format!("{kind}List"),
                namespaced: *namespaced,
                categories: Vec::new(),
                versions: vec![VersionDef {
                    name: "v1".into(),
                    schema: None,
                    columns: Vec::new(),
                }],
                storage_version: "v1".into(),
                storage_key: storage_key(plural, group),
                status_subresource: false,
                scale_subresource: false,
                name_rule: NameRule::Subdomain,
                origin: Origin::Builtin,
                conversion: Conversion::ApiVersionOnly,
                create_only: true,
            })
        }))
        .collect()
}

/// Orders versions the way kube-apiserver does for discovery: GA before beta before alpha,
/// higher numbers first, anything not shaped like `v1beta2` last and alphabetical.
pub fn version_priority(v: &str) -> (u8, i64, i64, String) {
    let parsed = v.strip_prefix('v').and_then(|rest| {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: i64 = rest[..digits_end].parse().ok()?;
        let tail = &rest[digits_end..];
        if tail.is_empty() {
            return Some((0u8, -major, 0i64));
        }
        for (prefix, tier) in [("beta", 1u8), ("alpha", 2u8)] {
            if let Some(n) = tail.strip_prefix(prefix) {
                let minor: i64 = n.parse().ok()?;
                return Some((tier, -major, -minor));
            }
        }
        None
    });
    match parsed {
        Some((tier, major, minor)) => (tier, major, minor, String::new()),
        None => (3, 0, 0, v.to_string()),
    }
}

/// The ResourceDef a CRD defines.
pub fn def_from_crd(crd: &Value) -> Result<ResourceDef, crate::crds::CrdError> {
    let info = CrdInfo::from_crd(crd)?;
    let spec_versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut versions: Vec<VersionDef> = info
        .versions
        .iter()
        .filter(|v| v.served)
        .map(|v| {
            let columns = spec_versions
                .iter()
                .find(|sv| sv.get("name").and_then(Value::as_str) == Some(&v.name))
                .and_then(|sv| sv.get("additionalPrinterColumns"))
                .and_then(Value::as_array)
                .map(|cols| cols.iter().filter_map(printer_column).collect())
                .unwrap_or_default();
            VersionDef {
                name: v.name.clone(),
                schema: v.schema.clone().map(Arc::new),
                columns,
            }
        })
        .collect();
    versions.sort_by_key(|v| version_priority(&v.name));
    let storage = info
        .storage_version()
        .map(|v| v.name.clone())
        .or_else(|| versions.first().map(|v| v.name.clone()))
        .unwrap_or_default();
    let status_subresource = info.storage_version().is_some_and(|v| v.status_subresource);
    Ok(ResourceDef {
        storage_key: storage_key(&info.plural, &info.group),
        group: info.group,
        kind: info.kind,
        plural: info.plural,
        singular: info.singular,
        short_names: info.short_names,
        list_kind: info.list_kind,
        namespaced: info.namespaced,
        categories: info.categories,
        versions,
        storage_version: storage,
        status_subresource,
        scale_subresource: false,
        name_rule: NameRule::Subdomain,
        origin: Origin::Crd,
        conversion: Conversion::ApiVersionOnly,
        create_only: false,
    })
}

fn printer_column(col: &Value) -> Option<PrinterColumn> {
    Some(PrinterColumn {
        name: col.get("name")?.as_str()?.to_string(),
        type_: col
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("string")
            .to_string(),
        json_path: col.get("jsonPath")?.as_str()?.to_string(),
        description: col
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        priority: col.get("priority").and_then(Value::as_i64).unwrap_or(0),
    })
}

/// CRDs the sandbox installs besides the upstream ones in [`crate::crds::builtin_crds`]:
/// the Gateway API `Gateway` kind, whose upstream CRD is not in our reference data, served
/// with a schema that accepts any fields (so it is stored, listed and watched like the real
/// thing, but not validated).
pub fn extra_crds() -> Vec<Value> {
    vec![json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": "gateways.gateway.networking.k8s.io",
            "annotations": {
                "sluice.dev/note": "schema-less stand-in for the Gateway API Gateway CRD"
            }
        },
        "spec": {
            "group": "gateway.networking.k8s.io",
            "names": {
                "kind": "Gateway",
                "listKind": "GatewayList",
                "plural": "gateways",
                "singular": "gateway",
                "shortNames": ["gtw"],
                "categories": ["gateway-api"]
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": true,
                    "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true
                    }},
                    "additionalPrinterColumns": [
                        {"name": "Class", "type": "string", "jsonPath": ".spec.gatewayClassName"},
                        {"name": "Address", "type": "string", "jsonPath": ".status.addresses[*].value"},
                        {"name": "Programmed", "type": "string",
                         "jsonPath": ".status.conditions[?(@.type==\"Programmed\")].status"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
                    ]
                },
                {
                    "name": "v1beta1",
                    "served": true,
                    "storage": false,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true
                    }}
                }
            ]
        }
    })]
}

/// The served resources, built-in and CRD-defined.
pub struct Registry {
    builtin: Vec<Arc<ResourceDef>>,
    crds: RwLock<Vec<Arc<ResourceDef>>>,
    /// Bumped whenever the set of served resources changes (the OpenAPI documents carry it
    /// as their hash, so clients refetch them).
    generation: AtomicU64,
    /// Held from reading the stored CRDs until the registry has them: two CRDs written at
    /// once must not have the earlier listing (without the later CRD) applied last.
    refresh: std::sync::Mutex<()>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            builtin: builtin_defs(),
            crds: RwLock::new(Vec::new()),
            generation: AtomicU64::new(1),
            refresh: std::sync::Mutex::new(()),
        }
    }

    /// Re-reads the CRDs with `list` and serves what they define, one refresh at a time.
    pub fn refresh_crds(&self, list: impl FnOnce() -> Vec<Arc<Value>>) {
        let _one_at_a_time = self.refresh.lock().unwrap_or_else(|e| e.into_inner());
        self.set_crds(&list());
    }

    /// Replaces the CRD-defined resources with the ones the given CRD objects define.
    /// Unreadable CRDs are skipped (they were validated when written, so this only happens
    /// to state written by another version of the sandbox) and so is any CRD that tries to
    /// shadow a built-in resource.
    pub fn set_crds(&self, crds: &[Arc<Value>]) {
        let mut defs = Vec::new();
        for crd in crds {
            if crate::object::is_terminating(crd) {
                continue;
            }
            match def_from_crd(crd) {
                Ok(def)
                    if !self
                        .builtin
                        .iter()
                        .any(|b| b.group == def.group && b.plural == def.plural) =>
                {
                    defs.push(Arc::new(def))
                }
                Ok(_) => {}
                Err(err) => tracing::warn!("not serving a CRD: {err}"),
            }
        }
        let mut guard = self.crds.write().unwrap_or_else(|e| e.into_inner());
        if *guard != defs {
            *guard = defs;
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Every served resource, built-ins first.
    pub fn all(&self) -> Vec<Arc<ResourceDef>> {
        let crds = self.crds.read().unwrap_or_else(|e| e.into_inner());
        self.builtin.iter().chain(crds.iter()).cloned().collect()
    }

    /// The resource served at `/apis/<group>/<version>/<plural>`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.all().into_iter().find(|d| {
            d.group == group && d.plural == plural && d.versions.iter().any(|v| v.name == version)
        })
    }

    /// The resource stored under `key` that the controllers and the store use (the built-in
    /// one where two APIs share storage, i.e. core Events).
    pub fn by_storage_key(&self, key: &str) -> Option<Arc<ResourceDef>> {
        self.all()
            .into_iter()
            .find(|d| d.storage_key == key && d.conversion == Conversion::ApiVersionOnly)
    }

    /// Built-in resource by storage key; these always exist.
    pub fn builtin(&self, key: &str) -> Arc<ResourceDef> {
        self.builtin
            .iter()
            .find(|d| d.storage_key == key && d.conversion == Conversion::ApiVersionOnly)
            .cloned()
            .unwrap_or_else(|| panic!("built-in resource {key} is compiled in"))
    }

    /// Served groups with their versions (preferred first), in discovery order: core is not
    /// a group; built-in groups first, then CRD groups by name.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for def in self.all() {
            if def.group.is_empty() {
                continue;
            }
            let entry = match groups.iter_mut().find(|(g, _)| *g == def.group) {
                Some(entry) => entry,
                None => {
                    groups.push((def.group.clone(), Vec::new()));
                    groups.last_mut().expect("just pushed")
                }
            };
            for v in &def.versions {
                if !entry.1.contains(&v.name) {
                    entry.1.push(v.name.clone());
                }
            }
        }
        for (_, versions) in &mut groups {
            versions.sort_by_key(|v| version_priority(v));
        }
        groups
    }

    /// The resources served in one group/version.
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<Arc<ResourceDef>> {
        self.all()
            .into_iter()
            .filter(|d| d.group == group && d.version(version).is_some())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kube_apiserver() {
        let mut v = vec!["v1alpha3", "v1beta1", "v1", "v2", "foo", "v2alpha1"];
        v.sort_by_key(|s| version_priority(s));
        assert_eq!(v, ["v2", "v1", "v1beta1", "v2alpha1", "v1alpha3", "foo"]);
    }

    #[test]
    fn istio_crds_serve_three_versions_preferring_v1() {
        let registry = Registry::new();
        let crds: Vec<Arc<Value>> = crate::crds::builtin_crds()
            .into_iter()
            .chain(extra_crds())
            .map(Arc::new)
            .collect();
        registry.set_crds(&crds);
        let vs = registry
            .find("networking.istio.io", "v1alpha3", "virtualservices")
            .expect("served");
        assert_eq!(vs.preferred_version(), "v1");
        assert_eq!(vs.storage_key, "virtualservices.networking.istio.io");
        assert!(vs.status_subresource);
        assert!(
            registry
                .find("gateway.networking.k8s.io", "v1", "gateways")
                .is_some()
        );
        let groups = registry.groups();
        let istio = groups
            .iter()
            .find(|(g, _)| g == "networking.istio.io")
            .expect("group");
        assert_eq!(istio.1, ["v1", "v1beta1", "v1alpha3"]);
        assert!(!vs.version("v1").expect("v1").columns.is_empty());
    }
}
