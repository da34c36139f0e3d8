//! Name and label rules, with kube-apiserver's wording.
//!
//! Users meet these messages when `kubectl apply` rejects a manifest, and tests compare
//! them with what a real cluster says, so the texts are copied from
//! `k8s.io/apimachinery/pkg/util/validation`.

use serde_json::Value;

use crate::{api::status::Cause, resources::NameRule};

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && is_label(s)
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

fn invalid(field: &str, value: &str, message: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {value:?}: {message}"),
        field: field.into(),
    }
}

/// Problems with `metadata.name` under `rule`.
pub fn name_errors(rule: NameRule, name: &str) -> Vec<Cause> {
    let field = "metadata.name";
    let (max, ok, message) = match rule {
        NameRule::Subdomain => (253, is_dns1123_subdomain(name), DNS1123_SUBDOMAIN_MSG),
        NameRule::Label => (63, is_dns1123_label(name), DNS1123_LABEL_MSG),
        NameRule::Label1035 => (63, is_dns1035_label(name), DNS1035_LABEL_MSG),
        NameRule::PathSegment => (
            usize::MAX,
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%']),
            "may not be '.' or '..', and may not contain '/' or '%'",
        ),
    };
    let mut errors = Vec::new();
    if name.len() > max {
        errors.push(invalid(
            field,
            name,
            &format!("must be no more than {max} characters"),
        ));
    }
    // A name that is only too long gets the length error alone, as kube-apiserver reports.
    let only_too_long = name.len() > max && name.split('.').all(is_label);
    if !(ok || only_too_long) {
        errors.push(invalid(field, name, message));
    }
    errors
}

fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

/// Problems with label keys and values at `field` (a map of strings).
pub fn label_errors(field: &str, labels: Option<&Value>) -> Vec<Cause> {
    let mut errors = Vec::new();
    let Some(map) = labels.and_then(Value::as_object) else {
        return errors;
    };
    for (key, value) in map {
        let (prefix, name) = match key.split_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key.as_str()),
        };
        if let Some(p) = prefix
            && !is_dns1123_subdomain(p)
        {
            errors.push(invalid(
                field,
                key,
                &format!("prefix part {DNS1123_SUBDOMAIN_MSG}"),
            ));
        }
        if name.is_empty() || name.len() > 63 || !is_label_value(name) {
            errors.push(invalid(field, key, QUALIFIED_NAME_MSG));
        }
        match value.as_str() {
            Some(v) if is_label_value(v) => {}
            Some(v) => errors.push(invalid(field, v, LABEL_VALUE_MSG)),
            None => errors.push(invalid(
                field,
                &value.to_string(),
                "label values must be strings",
            )),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dns_names() {
        assert!(name_errors(NameRule::Subdomain, "reviews-v1.example").is_empty());
        assert!(!name_errors(NameRule::Subdomain, "Reviews").is_empty());
        assert!(!name_errors(NameRule::Label, "a.b").is_empty());
        assert!(name_errors(NameRule::Label, "demo-project").is_empty());
        assert!(!name_errors(NameRule::Label1035, "1abc").is_empty());
        let too_long = "a".repeat(64);
        let errors = name_errors(NameRule::Label, &too_long);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("no more than 63"));
        assert_eq!(
            name_errors(NameRule::Subdomain, "Bad_Name")[0].message,
            format!("Invalid value: \"Bad_Name\": {DNS1123_SUBDOMAIN_MSG}")
        );
    }

    #[test]
    fn labels() {
        assert!(
            label_errors(
                "l",
                Some(&json!({"app": "x", "app.kubernetes.io/name": ""}))
            )
            .is_empty()
        );
        assert_eq!(
            label_errors("l", Some(&json!({"app": "bad value!"}))).len(),
            1
        );
        assert_eq!(label_errors("l", Some(&json!({"-x": "a"}))).len(), 1);
    }
}
