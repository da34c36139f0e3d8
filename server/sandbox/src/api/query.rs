//! Query parameters of resource requests (`metav1.ListOptions`, `CreateOptions`,
//! `DeleteOptions` and friends, as they appear in URLs).

use super::status::Status;
use crate::store::ops::Propagation;

/// `fieldValidation`: what to do with fields the schema does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    /// The server default: drop them and say so in a `Warning` header.
    #[default]
    Warn,
    /// Refuse the request (kubectl sends this by default).
    Strict,
}

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub watch: bool,
    pub resource_version: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: bool,
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    pub propagation_policy: Option<Propagation>,
    /// `limit`: accepted, not honoured (lists are returned whole, with no continue token).
    pub limit: Option<u64>,
    /// `includeObject` for Table output: `None`, `Metadata` (default) or `Object`.
    pub include_object: IncludeObject,
}

/// What a Table row carries besides its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "1" | "True" | "TRUE")
}

pub fn parse_propagation(v: &str) -> Result<Propagation, Status> {
    match v {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(Status::bad_request(format!(
            "propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Query, Status> {
        let mut q = Query::default();
        let Some(raw) = raw else { return Ok(q) };
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            match key.as_ref() {
                "labelSelector" if !value.is_empty() => q.label_selector = Some(value.into()),
                "fieldSelector" if !value.is_empty() => q.field_selector = Some(value.into()),
                "watch" => q.watch = truthy(&value),
                "resourceVersion" if !value.is_empty() => q.resource_version = Some(value.into()),
                "timeoutSeconds" => {
                    q.timeout_seconds = Some(value.parse().map_err(|_| {
                        Status::bad_request(format!("invalid timeoutSeconds {value:?}"))
                    })?)
                }
                "allowWatchBookmarks" => q.allow_watch_bookmarks = truthy(&value),
                "sendInitialEvents" => q.send_initial_events = truthy(&value),
                "dryRun" => {
                    if value == "All" {
                        q.dry_run = true;
                    } else if !value.is_empty() {
                        return Err(Status::bad_request(format!(
                            "dryRun: Unsupported value: \"{value}\": supported values: \"All\""
                        )));
                    }
                }
                "fieldValidation" => {
                    q.field_validation = match value.as_ref() {
                        "Ignore" => FieldValidation::Ignore,
                        "Warn" | "" => FieldValidation::Warn,
                        "Strict" => FieldValidation::Strict,
                        other => {
                            return Err(Status::bad_request(format!(
                                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
                            )));
                        }
                    }
                }
                "propagationPolicy" if !value.is_empty() => {
                    q.propagation_policy = Some(parse_propagation(&value)?)
                }
                "limit" => q.limit = value.parse().ok(),
                "includeObject" => {
                    q.include_object = match value.as_ref() {
                        "None" => IncludeObject::None,
                        "Object" => IncludeObject::Object,
                        _ => IncludeObject::Metadata,
                    }
                }
                // continue, pretty, fieldManager, force, gracePeriodSeconds,
                // resourceVersionMatch, includeObject, orphanDependents...: accepted and
                // ignored.
                _ => {}
            }
        }
        Ok(q)
    }
}
