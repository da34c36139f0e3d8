//! A grayscale release job: which component gets which new version, and how traffic is
//! shared between the base (current) version and the new one. This is the spec the
//! console's custom resource carries; the pure functions here decide the weights that
//! are safe to apply and render the Istio objects, so the controller only does IO.

pub mod analysis;
pub mod gateway;
pub mod jobs;
pub mod re2;
pub mod render;
pub mod rules;
pub mod validation;
pub mod weights;

use serde::{Deserialize, Serialize};

pub use rules::{ContentRule, MatchOp, RuleKind};

/// Which side of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Side {
    /// The version that served before the release.
    Base,
    /// The version the release introduces.
    New,
}

/// How traffic is shared while the job is live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Strategy {
    /// Canary Release, "Forward by traffic ratio": `new_percent` of requests go to the new
    /// version, the rest to the base.
    #[serde(rename_all = "camelCase")]
    TrafficRatio { new_percent: u8 },
    /// Canary Release, "Forward by request content": requests matching every rule go to
    /// the new version, all others to the base.
    #[serde(rename_all = "camelCase")]
    RequestContent { rules: Vec<ContentRule> },
    /// Blue-Green Deployment: all traffic to one version, switched in one step.
    #[serde(rename_all = "camelCase")]
    BlueGreen { serving: Side },
    /// Traffic Mirroring: the base serves; `percent` of requests are copied to the new
    /// version and its answers discarded.
    #[serde(rename_all = "camelCase")]
    Mirroring { percent: u8 },
}

/// One flat object (the serde shape); see [`rules::ContentRule`]'s schema for why.
#[cfg(feature = "ssr")]
impl schemars::JsonSchema for Strategy {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Strategy".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let rule = generator.subschema_for::<ContentRule>();
        schemars::json_schema!({
            "description": "trafficRatio (newPercent), requestContent (rules), blueGreen (serving) or mirroring (percent).",
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"type": "string", "enum": ["trafficRatio", "requestContent", "blueGreen", "mirroring"]},
                "newPercent": {"type": "integer", "minimum": 0, "maximum": 100},
                "rules": {"type": "array", "items": rule, "maxItems": rules::MAX_RULES},
                "serving": {"type": "string", "enum": ["Base", "New"]},
                "percent": {"type": "integer", "minimum": 0, "maximum": 100}
            }
        })
    }
}

impl Strategy {
    pub fn label(&self) -> &'static str {
        match self {
            Strategy::TrafficRatio { .. } => "Canary Release (traffic ratio)",
            Strategy::RequestContent { .. } => "Canary Release (request content)",
            Strategy::BlueGreen { .. } => "Blue-Green Deployment",
            Strategy::Mirroring { .. } => "Traffic Mirroring",
        }
    }
}

/// What a release writes to route traffic: Istio's VirtualService and DestinationRule
/// subsets, or a Gateway API HTTPRoute attached to the component's Service (GAMMA, mesh
/// routing) with weighted backends to one Service per version. Istio recommends Gateway
/// API for new setups, and in ambient mode a waypoint applies HTTPRoutes fully (its
/// VirtualService support is Alpha).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
pub enum Routing {
    #[default]
    VirtualService,
    #[serde(rename = "HTTPRoute")]
    HttpRoute,
}

impl Routing {
    /// As the wizard and the job page name it.
    pub fn label(self) -> &'static str {
        match self {
            Routing::VirtualService => "Istio VirtualService",
            Routing::HttpRoute => "Gateway API HTTPRoute",
        }
    }

    /// The `routing` field's value in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::VirtualService => "VirtualService",
            Routing::HttpRoute => "HTTPRoute",
        }
    }

    pub fn is_virtual_service(&self) -> bool {
        *self == Routing::VirtualService
    }
}

/// A version beside the base and the new one that keeps a share in an N-way split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OtherVersion {
    /// Its `version` label, e.g. `v3`.
    #[cfg_attr(
        feature = "ssr",
        schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))
    )]
    pub version: String,
    /// Its Deployment, e.g. `reviews-v3`.
    #[cfg_attr(
        feature = "ssr",
        schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))
    )]
    pub workload: String,
    /// Its share of ordinary traffic.
    #[cfg_attr(feature = "ssr", schemars(range(max = 100)))]
    pub percent: u8,
}

/// At most this many other versions share a job's traffic.
pub const MAX_OTHER_VERSIONS: usize = 8;

/// A DNS-1123 label, as the CRD's schema checks it (the controller and the port check
/// the same with [`crate::domain::names::check_dns_label`], with a better message).
pub const DNS_LABEL_PATTERN: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A DNS-1123 subdomain (most object names, an HTTPRoute's among them).
pub const DNS_SUBDOMAIN_PATTERN: &str =
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// What the user asks for. The schema attributes are what the CRD can say on its own;
/// [`validation`] checks the rest (and all of it again) before anything is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReleaseSpec {
    /// The Service whose traffic is split.
    #[cfg_attr(
        feature = "ssr",
        schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))
    )]
    pub component: String,
    /// The Deployment serving today; the new version is a copy of it.
    #[cfg_attr(
        feature = "ssr",
        schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))
    )]
    pub base_workload: String,
    /// The base version's `version` label, e.g. `v1`.
    #[cfg_attr(
        feature = "ssr",
        schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))
    )]
    pub base_version: String,
    /// The new version's `version` label, e.g. `v2`.
    #[cfg_attr(
        feature = "ssr",
        schemars(length(min = 1, max = 63), regex(pattern = DNS_LABEL_PATTERN))
    )]
    pub new_version: String,
    /// The new version's image, e.g. `kubesphere/examples-bookinfo-reviews-v2:1.13.0`.
    #[cfg_attr(
        feature = "ssr",
        schemars(length(min = 1, max = 512), regex(pattern = r"^[^\s]+$"))
    )]
    pub image: String,
    /// Replicas of the new version.
    #[cfg_attr(feature = "ssr", schemars(range(min = 1, max = 20)))]
    pub replicas: i32,
    pub strategy: Strategy,
    /// Set by "Take Over": all traffic to this side, whatever the strategy says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_over_by: Option<Side>,
    /// Who created the job (shown in the job list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schemars(length(max = 256)))]
    pub creator: Option<String>,
    /// Automatic steps gated by live metrics (progressive delivery); none: a person moves
    /// the traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<analysis::Analysis>,
    /// What the release writes: `VirtualService` (the default) or `HTTPRoute`.
    #[serde(default, skip_serializing_if = "Routing::is_virtual_service")]
    pub routing: Routing,
    /// Other versions of the component that keep a share of the traffic while the job is
    /// live (Forward by traffic ratio only): an N-way split, the base taking what is left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ssr", schemars(length(max = 8)))]
    pub also_serving: Vec<OtherVersion>,
    /// The HTTPRoute an HTTPRoute release writes: one already attached to the component
    /// (the wizard picks it), or the component's name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "ssr",
        schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))
    )]
    pub http_route: Option<String>,
}

impl ReleaseSpec {
    /// The new version's Deployment name: the base name with its version suffix swapped
    /// (`reviews-v1` → `reviews-v2`), as the tutorial names them, or `<base>-<new>`.
    pub fn new_workload(&self) -> String {
        match self
            .base_workload
            .strip_suffix(&self.base_version)
            .filter(|prefix| prefix.ends_with('-'))
        {
            Some(prefix) => format!("{prefix}{}", self.new_version),
            None => format!("{}-{}", self.base_workload, self.new_version),
        }
    }

    /// Every version the job routes to, in card order: base, new, then the others.
    pub fn versions(&self) -> Vec<&str> {
        [self.base_version.as_str(), self.new_version.as_str()]
            .into_iter()
            .chain(self.also_serving.iter().map(|o| o.version.as_str()))
            .collect()
    }

    /// The HTTPRoute an HTTPRoute release writes.
    pub fn route_name(&self) -> &str {
        self.http_route.as_deref().unwrap_or(&self.component)
    }

    /// The Service of one version an HTTPRoute release sends traffic to:
    /// `<component>-<version>`, e.g. `reviews-v2`.
    pub fn version_service(&self, version: &str) -> String {
        format!("{}-{version}", self.component)
    }

    /// The Services Istio reports this job's traffic under (`destination_service_name`),
    /// joined by `|`: the component for a VirtualService, and the per-version Services an
    /// HTTPRoute sends it to.
    pub fn metric_services(&self) -> String {
        match self.routing {
            Routing::VirtualService => self.component.clone(),
            Routing::HttpRoute => std::iter::once(self.component.clone())
                .chain(self.versions().into_iter().map(|v| self.version_service(v)))
                .collect::<Vec<_>>()
                .join("|"),
        }
    }
}

/// The tutorial's release of reviews v2 from reviews-v1 with `strategy`, for unit tests.
#[cfg(test)]
pub(crate) fn tutorial_spec(strategy: Strategy) -> ReleaseSpec {
    ReleaseSpec {
        component: "reviews".into(),
        base_workload: "reviews-v1".into(),
        base_version: "v1".into(),
        new_version: "v2".into(),
        image: "kubesphere/examples-bookinfo-reviews-v2:1.13.0".into(),
        replicas: 1,
        strategy,
        taken_over_by: None,
        creator: None,
        analysis: None,
        routing: Routing::VirtualService,
        also_serving: Vec::new(),
        http_route: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(base: &str) -> ReleaseSpec {
        ReleaseSpec {
            base_workload: base.into(),
            ..tutorial_spec(Strategy::TrafficRatio { new_percent: 50 })
        }
    }

    #[test]
    fn the_new_workload_swaps_the_version_suffix() {
        assert_eq!(spec("reviews-v1").new_workload(), "reviews-v2");
        assert_eq!(spec("reviews").new_workload(), "reviews-v2");
        assert_eq!(spec("reviewsv1").new_workload(), "reviewsv1-v2");
    }

    #[test]
    fn strategies_serialize_as_tagged_camel_case() {
        let s = serde_json::to_value(Strategy::TrafficRatio { new_percent: 30 }).unwrap();
        assert_eq!(
            s,
            serde_json::json!({"type": "trafficRatio", "newPercent": 30})
        );
        let s = serde_json::to_value(Strategy::BlueGreen { serving: Side::New }).unwrap();
        assert_eq!(
            s,
            serde_json::json!({"type": "blueGreen", "serving": "New"})
        );
    }
}
