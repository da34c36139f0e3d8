//! The CustomResourceDefinitions the sandbox serves out of the box, and a typed view of any
//! CRD object.
//!
//! A real cluster with Istio installed has Istio's CRDs, and one with the Gateway API has its
//! CRDs; the console discovers them and kube-apiserver validates objects against their
//! `openAPIV3Schema`. The sandbox must behave the same, so it embeds the unmodified upstream
//! CRD documents (see `crds/NOTICE.md` for where each file comes from and under which
//! licence) instead of hand-written approximations: what a user can write to the sandbox
//! is then exactly what Istio's own schemas accept (checked by [`crate::schema`]).
//!
//! Served out of the box:
//! - `virtualservices.networking.istio.io`, `destinationrules.networking.istio.io`,
//!   `gateways.networking.istio.io` (Istio 1.30.3, versions v1, v1beta1, v1alpha3);
//! - `httproutes.gateway.networking.k8s.io` (Gateway API v1.6.1 standard channel, v1 and
//!   v1beta1).
//!
//! The Gateway API `Gateway` kind is not embedded (its CRD is not in our reference data), so
//! the server serves it without a schema.
//!
//! [`CrdInfo::from_crd`] works on any `apiextensions.k8s.io/v1` CustomResourceDefinition,
//! not only the built-in ones: users and the console create CRDs at runtime (for example
//! Sluice's own release CRD), and the API server needs the same facts about those.

use std::sync::OnceLock;

use serde_json::Value;

/// Istio's three networking CRDs, extracted unmodified from Istio's `crd-all.gen.yaml`.
const ISTIO_NETWORKING_YAML: &str = include_str!("../crds/istio-networking.yaml");
/// Istio's Telemetry, for per-project trace sampling.
const ISTIO_TELEMETRY_YAML: &str = include_str!("../crds/istio-telemetry.yaml");
/// The Gateway API HTTPRoute CRD (standard channel), copied as is.
const GATEWAY_API_HTTPROUTES_YAML: &str =
    include_str!("../crds/gateway.networking.k8s.io_httproutes.yaml");

/// The built-in CRDs, parsed once: the YAML is ~1.2 MB and the API server asks for it on
/// every start-up and discovery rebuild.
static BUILTIN_CRDS: OnceLock<Vec<Value>> = OnceLock::new();

/// The CustomResourceDefinition objects the sandbox serves out of the box, as JSON values of
/// `apiextensions.k8s.io/v1` `CustomResourceDefinition` (exactly the upstream documents).
pub fn builtin_crds() -> Vec<Value> {
    builtin_crds_ref().to_vec()
}

fn builtin_crds_ref() -> &'static [Value] {
    BUILTIN_CRDS.get_or_init(|| {
        let mut crds = Vec::new();
        for source in [
            ISTIO_NETWORKING_YAML,
            ISTIO_TELEMETRY_YAML,
            GATEWAY_API_HTTPROUTES_YAML,
        ] {
            // The YAML is embedded at compile time and covered by tests, so a failure here is
            // a build defect, not something a user can cause.
            crds.extend(
                parse_yaml_documents(source).expect("the embedded CRD YAML is valid (tested)"),
            );
        }
        crds
    })
}

/// Parses a multi-document YAML stream into JSON values, skipping empty documents (a leading
/// comment block followed by `---` yields one).
pub(crate) fn parse_yaml_documents(source: &str) -> Result<Vec<Value>, serde_yaml::Error> {
    use serde::Deserialize;
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(source) {
        let value = Value::deserialize(document)?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

/// Why a CRD object could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrdError {
    /// A field the API server needs is absent (or null). `field` is a path like
    /// `spec.names.plural` or `spec.versions[1].served`.
    #[error("CustomResourceDefinition {crd:?}: {field}: Required value")]
    MissingField { crd: String, field: String },
    /// A field is present but of the wrong type or not an allowed value.
    #[error("CustomResourceDefinition {crd:?}: {field}: Invalid value: {detail}")]
    InvalidField {
        crd: String,
        field: String,
        detail: String,
    },
}

/// The facts about a CRD that the API server needs for discovery, routing and validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CrdInfo {
    /// `spec.group`, e.g. `networking.istio.io`.
    pub group: String,
    /// `spec.names.kind`, e.g. `VirtualService`.
    pub kind: String,
    /// `spec.names.plural`, e.g. `virtualservices` (the URL segment).
    pub plural: String,
    /// `spec.names.singular`; defaults to the lower-cased kind, as kube-apiserver does.
    pub singular: String,
    /// `spec.names.shortNames`, e.g. `["vs"]`.
    pub short_names: Vec<String>,
    /// `spec.names.listKind`; defaults to `<kind>List`, as kube-apiserver does.
    pub list_kind: String,
    /// `spec.scope == "Namespaced"`.
    pub namespaced: bool,
    /// `spec.names.categories`, e.g. `["istio-io", "networking-istio-io"]`.
    pub categories: Vec<String>,
    /// `spec.versions`, in the CRD's order.
    pub versions: Vec<CrdVersionInfo>,
}

/// One entry of `spec.versions`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrdVersionInfo {
    /// e.g. `v1`, `v1beta1`.
    pub name: String,
    pub served: bool,
    /// Exactly one version of a valid CRD is the storage version.
    pub storage: bool,
    /// `schema.openAPIV3Schema`, to hand to [`crate::schema::validate`]; `None` when the
    /// version has no schema.
    pub schema: Option<Value>,
    /// Whether `subresources.status` is present (then `/status` is a separate endpoint and
    /// the main endpoint ignores changes to `.status`).
    pub status_subresource: bool,
}

impl CrdInfo {
    /// Reads the facts the API server needs from an `apiextensions.k8s.io/v1`
    /// CustomResourceDefinition object. Works for any CRD, including ones created at runtime;
    /// the error names the first missing or malformed field.
    pub fn from_crd(crd: &Value) -> Result<CrdInfo, CrdError> {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let reader = Reader { crd: &name };

        let spec = reader.object(crd.get("spec"), "spec")?;
        let names = reader.object(spec.get("names"), "spec.names")?;
        let group = reader.string(spec.get("group"), "spec.group")?;
        let kind = reader.string(names.get("kind"), "spec.names.kind")?;
        let plural = reader.string(names.get("plural"), "spec.names.plural")?;
        let singular = reader
            .optional_string(names.get("singular"), "spec.names.singular")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| kind.to_lowercase());
        let list_kind = reader
            .optional_string(names.get("listKind"), "spec.names.listKind")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{kind}List"));
        let short_names = reader.string_list(names.get("shortNames"), "spec.names.shortNames")?;
        let categories = reader.string_list(names.get("categories"), "spec.names.categories")?;
        let namespaced = match reader.string(spec.get("scope"), "spec.scope")?.as_str() {
            "Namespaced" => true,
            "Cluster" => false,
            other => {
                return Err(reader.invalid(
                    "spec.scope",
                    format!("{other:?}: supported values: \"Cluster\", \"Namespaced\""),
                ));
            }
        };

        let versions_value = match spec.get("versions") {
            Some(Value::Array(items)) if !items.is_empty() => items,
            Some(Value::Array(_)) | None | Some(Value::Null) => {
                return Err(reader.missing("spec.versions"));
            }
            Some(other) => return Err(reader.wrong_type("spec.versions", "array", other)),
        };
        let mut versions = Vec::with_capacity(versions_value.len());
        for (i, version) in versions_value.iter().enumerate() {
            let at = format!("spec.versions[{i}]");
            let version = reader.object(Some(version), &at)?;
            let schema = match version.get("schema") {
                None | Some(Value::Null) => None,
                Some(Value::Object(schema)) => match schema.get("openAPIV3Schema") {
                    None | Some(Value::Null) => None,
                    Some(s @ Value::Object(_)) => Some(s.clone()),
                    Some(other) => {
                        return Err(reader.wrong_type(
                            &format!("{at}.schema.openAPIV3Schema"),
                            "object",
                            other,
                        ));
                    }
                },
                Some(other) => {
                    return Err(reader.wrong_type(&format!("{at}.schema"), "object", other));
                }
            };
            let status_subresource = version
                .get("subresources")
                .and_then(|s| s.get("status"))
                .is_some_and(|s| !s.is_null());
            versions.push(CrdVersionInfo {
                name: reader.string(version.get("name"), &format!("{at}.name"))?,
                served: reader.bool(version.get("served"), &format!("{at}.served"))?,
                storage: reader.bool(version.get("storage"), &format!("{at}.storage"))?,
                schema,
                status_subresource,
            });
        }

        Ok(CrdInfo {
            group,
            kind,
            plural,
            singular,
            short_names,
            list_kind,
            namespaced,
            categories,
            versions,
        })
    }

    /// The CRD's object name, `<plural>.<group>` (e.g. `virtualservices.networking.istio.io`).
    pub fn name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }

    /// The version called `name`, served or not.
    pub fn version(&self, name: &str) -> Option<&CrdVersionInfo> {
        self.versions.iter().find(|v| v.name == name)
    }

    /// The version objects are stored in.
    pub fn storage_version(&self) -> Option<&CrdVersionInfo> {
        self.versions.iter().find(|v| v.storage)
    }
}

/// Reads typed fields and builds errors that name the CRD and the field path.
struct Reader<'a> {
    crd: &'a str,
}

impl Reader<'_> {
    fn missing(&self, field: &str) -> CrdError {
        CrdError::MissingField {
            crd: self.crd.to_string(),
            field: field.to_string(),
        }
    }

    fn invalid(&self, field: &str, detail: String) -> CrdError {
        CrdError::InvalidField {
            crd: self.crd.to_string(),
            field: field.to_string(),
            detail,
        }
    }

    fn wrong_type(&self, field: &str, expected: &str, got: &Value) -> CrdError {
        self.invalid(
            field,
            format!("must be of type {expected}, got {}", json_type(got)),
        )
    }

    fn object<'v>(
        &self,
        value: Option<&'v Value>,
        field: &str,
    ) -> Result<&'v serde_json::Map<String, Value>, CrdError> {
        match value {
            Some(Value::Object(map)) => Ok(map),
            None | Some(Value::Null) => Err(self.missing(field)),
            Some(other) => Err(self.wrong_type(field, "object", other)),
        }
    }

    fn string(&self, value: Option<&Value>, field: &str) -> Result<String, CrdError> {
        match self.optional_string(value, field)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.missing(field)),
        }
    }

    fn optional_string(
        &self,
        value: Option<&Value>,
        field: &str,
    ) -> Result<Option<String>, CrdError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong_type(field, "string", other)),
        }
    }

    fn bool(&self, value: Option<&Value>, field: &str) -> Result<bool, CrdError> {
        match value {
            Some(Value::Bool(b)) => Ok(*b),
            None | Some(Value::Null) => Err(self.missing(field)),
            Some(other) => Err(self.wrong_type(field, "boolean", other)),
        }
    }

    fn string_list(&self, value: Option<&Value>, field: &str) -> Result<Vec<String>, CrdError> {
        match value {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.wrong_type(&format!("{field}[{i}]"), "string", other)),
                })
                .collect(),
            Some(other) => Err(self.wrong_type(field, "array", other)),
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(name: &str) -> CrdInfo {
        let crd = builtin_crds_ref()
            .iter()
            .find(|c| c.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
            .unwrap_or_else(|| panic!("built-in CRD {name} is missing"));
        CrdInfo::from_crd(crd).expect("built-in CRDs are readable")
    }

    fn served(info: &CrdInfo) -> Vec<&str> {
        info.versions
            .iter()
            .filter(|v| v.served)
            .map(|v| v.name.as_str())
            .collect()
    }

    #[test]
    fn builtins_are_the_five_served_crds() {
        let crds = builtin_crds();
        let mut names: Vec<&str> = crds
            .iter()
            .map(|c| {
                c.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            })
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "destinationrules.networking.istio.io",
                "gateways.networking.istio.io",
                "httproutes.gateway.networking.k8s.io",
                "telemetries.telemetry.istio.io",
                "virtualservices.networking.istio.io",
            ]
        );
        for crd in &crds {
            assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1");
            assert_eq!(crd["kind"], "CustomResourceDefinition");
        }
        // Parsed once: two calls hand out copies of the same data.
        assert_eq!(builtin_crds(), crds);
    }

    #[test]
    fn istio_crds_have_kind_plural_scope_and_three_served_versions() {
        for (name, kind, plural, short) in [
            (
                "virtualservices.networking.istio.io",
                "VirtualService",
                "virtualservices",
                "vs",
            ),
            (
                "destinationrules.networking.istio.io",
                "DestinationRule",
                "destinationrules",
                "dr",
            ),
            ("gateways.networking.istio.io", "Gateway", "gateways", "gw"),
        ] {
            let info = info(name);
            assert_eq!(info.name(), name);
            assert_eq!(info.group, "networking.istio.io");
            assert_eq!(info.kind, kind);
            assert_eq!(info.plural, plural);
            assert_eq!(info.singular, kind.to_lowercase());
            assert_eq!(info.list_kind, format!("{kind}List"));
            assert_eq!(info.short_names, [short]);
            assert!(info.namespaced, "{name} is namespaced");
            assert_eq!(info.categories, ["istio-io", "networking-istio-io"]);
            let mut versions = served(&info);
            versions.sort_unstable();
            assert_eq!(versions, ["v1", "v1alpha3", "v1beta1"], "{name}");
            assert_eq!(info.storage_version().map(|v| v.name.as_str()), Some("v1"));
            assert_eq!(info.versions.iter().filter(|v| v.storage).count(), 1);
            for version in &info.versions {
                assert!(version.status_subresource, "{name} {}", version.name);
                let schema = version
                    .schema
                    .as_ref()
                    .expect("Istio versions have schemas");
                assert!(schema.pointer("/properties/spec/properties").is_some());
            }
        }
    }

    #[test]
    fn httproute_crd_is_read() {
        let info = info("httproutes.gateway.networking.k8s.io");
        assert_eq!(info.group, "gateway.networking.k8s.io");
        assert_eq!(info.kind, "HTTPRoute");
        assert_eq!(info.plural, "httproutes");
        assert_eq!(info.singular, "httproute");
        assert_eq!(info.list_kind, "HTTPRouteList");
        assert!(info.short_names.is_empty());
        assert_eq!(info.categories, ["gateway-api"]);
        assert!(info.namespaced);
        assert_eq!(served(&info), ["v1", "v1beta1"]);
        assert_eq!(info.storage_version().map(|v| v.name.as_str()), Some("v1"));
        assert!(info.version("v1beta1").is_some_and(|v| !v.storage));
        assert!(info.version("v1alpha2").is_none());
        assert!(info.versions.iter().all(|v| v.status_subresource));
        assert!(info.versions.iter().all(|v| v.schema.is_some()));
    }

    /// A minimal CRD like the ones users (and Sluice itself) create at runtime.
    fn release_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "releases.sluice.dev"},
            "spec": {
                "group": "sluice.dev",
                "names": {"kind": "Release", "plural": "releases"},
                "scope": "Cluster",
                "versions": [
                    {"name": "v1alpha1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}},
                    {"name": "v1alpha0", "served": false, "storage": false}
                ]
            }
        })
    }

    #[test]
    fn runtime_crd_gets_kube_apiserver_defaults() {
        let info = CrdInfo::from_crd(&release_crd()).expect("a minimal CRD is readable");
        assert_eq!(info.name(), "releases.sluice.dev");
        assert_eq!(info.singular, "release");
        assert_eq!(info.list_kind, "ReleaseList");
        assert!(!info.namespaced);
        assert!(info.short_names.is_empty() && info.categories.is_empty());
        assert_eq!(served(&info), ["v1alpha1"]);
        let old = info.version("v1alpha0").expect("listed version");
        assert!(old.schema.is_none() && !old.status_subresource && !old.served);
    }

    #[test]
    fn errors_name_the_missing_or_malformed_field() {
        let cases: [(&str, Value, &str); 7] = [
            ("/spec/names/plural", Value::Null, "spec.names.plural"),
            ("/spec/group", Value::Null, "spec.group"),
            ("/spec/versions", json!([]), "spec.versions"),
            (
                "/spec/versions/1/served",
                Value::Null,
                "spec.versions[1].served",
            ),
            (
                "/spec/versions/0/served",
                json!("yes"),
                "spec.versions[0].served",
            ),
            ("/spec/scope", json!("Galaxy"), "spec.scope"),
            (
                "/spec/names/shortNames",
                json!(["rel", 3]),
                "spec.names.shortNames[1]",
            ),
        ];
        for (pointer, value, field) in cases {
            let mut crd = release_crd();
            let mut target = &mut crd;
            for part in pointer.split('/').skip(1) {
                target = match part.parse::<usize>() {
                    Ok(index) => &mut target[index],
                    Err(_) => &mut target[part],
                };
            }
            *target = value;
            let err = CrdInfo::from_crd(&crd).expect_err(field);
            let (CrdError::MissingField {
                field: got,
                crd: name,
            }
            | CrdError::InvalidField {
                field: got,
                crd: name,
                ..
            }) = &err;
            assert_eq!(got, field, "{err}");
            assert_eq!(name, "releases.sluice.dev");
            assert!(err.to_string().contains(field), "{err}");
        }
        let err =
            CrdInfo::from_crd(&json!({"kind": "CustomResourceDefinition"})).expect_err("no spec");
        assert_eq!(
            err.to_string(),
            "CustomResourceDefinition \"\": spec: Required value"
        );
        let mut crd = release_crd();
        crd["spec"]["scope"] = json!("Galaxy");
        assert_eq!(
            CrdInfo::from_crd(&crd).expect_err("bad scope").to_string(),
            "CustomResourceDefinition \"releases.sluice.dev\": spec.scope: Invalid value: \
             \"Galaxy\": supported values: \"Cluster\", \"Namespaced\""
        );
    }
}
