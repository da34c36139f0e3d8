//! `metav1.Status` failures, built the way kube-apiserver builds them.
//!
//! Clients branch on these: kube-rs turns them into `Error::Api` with `reason` and `code`,
//! kubectl prints `message` verbatim ("Error from server (NotFound): pods \"x\" not found"),
//! and controllers retry on 409 Conflict. So the messages below copy the real server's
//! wording, and `details.kind` follows its quirk of naming the *resource* (plural) for
//! NotFound/AlreadyExists/Conflict but the *Kind* for Invalid.

use serde_json::{Value, json};

/// One `details.causes` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// e.g. `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`.
    pub reason: String,
    pub message: String,
    /// A field path like `spec.http[0].route[0].weight`.
    pub field: String,
}

/// A failure `metav1.Status`.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// Boxed: errors travel in `Result`s everywhere and should stay small.
    pub details: Box<Details>,
}

/// `details` of a Status.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Details {
    pub name: String,
    pub group: String,
    /// What `details.kind` carries (plural or Kind, see the module docs).
    pub kind: String,
    pub causes: Vec<Cause>,
}

/// `pods`, `deployments.apps`: how the real server names a resource in messages.
pub fn qualified(plural: &str, group: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

impl Status {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Status {
            code,
            reason,
            message: message.into(),
            details: Box::default(),
        }
    }

    fn about(mut self, name: &str, group: &str, kind: &str) -> Self {
        self.details.name = name.to_string();
        self.details.group = group.to_string();
        self.details.kind = kind.to_string();
        self
    }

    pub fn not_found(plural: &str, group: &str, name: &str) -> Self {
        Status::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(plural, group)),
        )
        .about(name, group, plural)
    }

    /// The answer for a URL that names no served resource.
    pub fn no_such_path() -> Self {
        let mut status = Status::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
        status.details.causes.push(Cause {
            reason: "UnexpectedServerResponse".into(),
            message: "404 page not found".into(),
            field: String::new(),
        });
        status
    }

    pub fn already_exists(plural: &str, group: &str, name: &str) -> Self {
        Status::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(plural, group)),
        )
        .about(name, group, plural)
    }

    /// The optimistic-concurrency failure controllers retry on.
    pub fn conflict(plural: &str, group: &str, name: &str) -> Self {
        Status::conflict_because(
            plural,
            group,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn conflict_because(plural: &str, group: &str, name: &str, why: &str) -> Self {
        Status::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(plural, group)
            ),
        )
        .about(name, group, plural)
    }

    /// 422 Invalid: `Kind.group "name" is invalid: <causes>`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let rendered: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let summary = match rendered.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let mut status = Status::new(
            422,
            "Invalid",
            format!(
                "{} \"{name}\" is invalid: {summary}",
                qualified(kind, group)
            ),
        )
        .about(name, group, kind);
        status.details.causes = causes;
        status
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Status::new(400, "BadRequest", message)
    }

    pub fn forbidden(plural: &str, group: &str, name: &str, why: &str) -> Self {
        Status::new(
            403,
            "Forbidden",
            format!(
                "{} \"{name}\" is forbidden: {why}",
                qualified(plural, group)
            ),
        )
        .about(name, group, plural)
    }

    /// 403 for a request RBAC does not allow, worded as kube-apiserver words it:
    /// `pods "x" is forbidden: User "bob" cannot get resource "pods" in API group "" in the
    /// namespace "demo"`, or `forbidden: User "..." cannot get path "/api"` for a URL.
    pub fn denied(resource: Option<(&str, &str, &str)>, why: impl std::fmt::Display) -> Self {
        match resource {
            Some((plural, group, name)) => {
                let what = if name.is_empty() {
                    qualified(plural, group)
                } else {
                    format!("{} \"{name}\"", qualified(plural, group))
                };
                Status::new(403, "Forbidden", format!("{what} is forbidden: {why}"))
                    .about(name, group, plural)
            }
            None => Status::new(403, "Forbidden", format!("forbidden: {why}")),
        }
    }

    /// A request a ValidatingAdmissionPolicy denied: `admission.NewForbidden`'s message
    /// (`<resource> "<name>" is forbidden: <why>`) with the validation's `reason` and the
    /// code kube-apiserver maps it to (Invalid, the default, is 422).
    pub fn policy_denied(plural: &str, group: &str, name: &str, why: &str, reason: &str) -> Self {
        let (code, reason) = match reason {
            "Forbidden" => (403, "Forbidden"),
            "Unauthorized" => (401, "Unauthorized"),
            "RequestEntityTooLarge" => (413, "RequestEntityTooLarge"),
            _ => (422, "Invalid"),
        };
        let mut status = Status::denied(Some((plural, group, name)), why);
        status.code = code;
        status.reason = reason;
        status.details.causes.push(Cause {
            reason: String::new(),
            message: why.to_string(),
            field: String::new(),
        });
        status
    }

    /// A request a MutatingAdmissionPolicy (or its binding) failed with failurePolicy
    /// Fail: 403, the policy error as the whole message (`policy '<p>' with binding '<b>'
    /// denied request: ...`), as kube-apiserver's generic policy dispatcher answers.
    pub fn policy_error(
        plural: &str,
        group: &str,
        name: &str,
        message: &str,
        invalid: bool,
    ) -> Self {
        let mut status = Status::denied(Some((plural, group, name)), message);
        status.message = message.to_string();
        if invalid {
            status.reason = "Invalid";
        }
        status.details.causes.push(Cause {
            reason: String::new(),
            message: message.to_string(),
            field: String::new(),
        });
        status
    }

    /// 401: the bearer token names nobody (kubectl: "You must be logged in to the server").
    pub fn unauthorized() -> Self {
        Status::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed() -> Self {
        Status::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Status::new(415, "UnsupportedMediaType", message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Status::new(406, "NotAcceptable", message)
    }

    /// What a watch from a compacted resourceVersion gets (as an ERROR event).
    pub fn expired(requested: u64, oldest: u64) -> Self {
        Status::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        let mut status = Status::new(
            500,
            "InternalError",
            format!("Internal error occurred: {message}"),
        );
        status.details.causes.push(Cause {
            reason: String::new(),
            message,
            field: String::new(),
        });
        status
    }

    /// The `metav1.Status` object.
    pub fn to_json(&self) -> Value {
        let mut details = serde_json::Map::new();
        let d = &self.details;
        if !d.name.is_empty() {
            details.insert("name".into(), json!(d.name));
        }
        if !d.group.is_empty() {
            details.insert("group".into(), json!(d.group));
        }
        if !d.kind.is_empty() {
            details.insert("kind".into(), json!(d.kind));
        }
        if !d.causes.is_empty() {
            let causes: Vec<Value> = d
                .causes
                .iter()
                .map(|c| {
                    let mut cause = serde_json::Map::new();
                    if !c.reason.is_empty() {
                        cause.insert("reason".into(), json!(c.reason));
                    }
                    cause.insert("message".into(), json!(c.message));
                    if !c.field.is_empty() {
                        cause.insert("field".into(), json!(c.field));
                    }
                    Value::Object(cause)
                })
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_kube_apiserver() {
        assert_eq!(
            Status::not_found("pods", "", "web").message,
            "pods \"web\" not found"
        );
        assert_eq!(
            Status::conflict("deployments", "apps", "web").message,
            "Operation cannot be fulfilled on deployments.apps \"web\": the object has been \
             modified; please apply your changes to the latest version and try again"
        );
        let one = Status::invalid(
            "VirtualService",
            "networking.istio.io",
            "reviews",
            vec![Cause {
                reason: "FieldValueInvalid".into(),
                message: "Invalid value: \"string\": must be integer".into(),
                field: "spec.http[0].route[0].weight".into(),
            }],
        );
        assert_eq!(
            one.message,
            "VirtualService.networking.istio.io \"reviews\" is invalid: \
             spec.http[0].route[0].weight: Invalid value: \"string\": must be integer"
        );
        let json = one.to_json();
        assert_eq!(json["code"], 422);
        assert_eq!(json["reason"], "Invalid");
        assert_eq!(json["details"]["kind"], "VirtualService");
        assert_eq!(
            json["details"]["causes"][0]["field"],
            "spec.http[0].route[0].weight"
        );
    }
}
