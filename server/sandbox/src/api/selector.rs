//! Label and field selectors.
//!
//! Label selectors follow `k8s.io/apimachinery/pkg/labels`: `a=b`, `a==b`, `a!=b`,
//! `a in (x,y)`, `a notin (x,y)`, `a` (exists), `!a` (does not exist), comma-separated and
//! all required. Field selectors are `path=value`, `path==value` or `path!=value`; the real
//! server supports a fixed set of paths per kind (`metadata.name`, `metadata.namespace`,
//! `spec.nodeName`, `status.phase`, `involvedObject.name`, ...). The sandbox evaluates any
//! dotted path against the object, which covers all of those; a missing field reads as "".

use serde_json::Value;

use super::status::Status;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn set_values(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

impl LabelSelector {
    pub fn parse(s: &str) -> Result<LabelSelector, Status> {
        let bad = |why: &str| {
            Status::bad_request(format!(
                "unable to parse requirement: {why} (label selector {s:?})"
            ))
        };
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let req = if let Some(key) = part.strip_prefix('!') {
                Requirement {
                    key: key.trim().to_string(),
                    op: Op::DoesNotExist,
                }
            } else if let Some((k, v)) = part.split_once("!=") {
                Requirement {
                    key: k.trim().into(),
                    op: Op::NotEq(v.trim().into()),
                }
            } else if let Some((k, v)) = part.split_once("==") {
                Requirement {
                    key: k.trim().into(),
                    op: Op::Eq(v.trim().into()),
                }
            } else if let Some((k, v)) = part.split_once('=') {
                Requirement {
                    key: k.trim().into(),
                    op: Op::Eq(v.trim().into()),
                }
            } else if let Some((k, v)) = part.split_once(" notin ") {
                Requirement {
                    key: k.trim().into(),
                    op: Op::NotIn(set_values(v).ok_or_else(|| bad("expected (values)"))?),
                }
            } else if let Some((k, v)) = part.split_once(" in ") {
                Requirement {
                    key: k.trim().into(),
                    op: Op::In(set_values(v).ok_or_else(|| bad("expected (values)"))?),
                }
            } else {
                if part.contains(char::is_whitespace) || part.contains('(') {
                    return Err(bad("unsupported operator"));
                }
                Requirement {
                    key: part.into(),
                    op: Op::Exists,
                }
            };
            if req.key.is_empty() {
                return Err(bad("empty key"));
            }
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// Builds the selector a `matchLabels`/`matchExpressions` LabelSelector object means
    /// (Deployments, Services' plain maps).
    pub fn from_object(sel: &Value) -> LabelSelector {
        let mut reqs = Vec::new();
        let match_labels = sel.get("matchLabels").unwrap_or(sel);
        if let Some(map) = match_labels.as_object() {
            for (k, v) in map {
                if let Some(v) = v.as_str() {
                    reqs.push(Requirement {
                        key: k.clone(),
                        op: Op::Eq(v.into()),
                    });
                }
            }
        }
        for expr in sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = expr
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let values = crate::object::string_list(expr.get("values"));
            let op = match expr.get("operator").and_then(Value::as_str) {
                Some("In") => Op::In(values),
                Some("NotIn") => Op::NotIn(values),
                Some("Exists") => Op::Exists,
                Some("DoesNotExist") => Op::DoesNotExist,
                _ => continue,
            };
            reqs.push(Requirement { key, op });
        }
        LabelSelector(reqs)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches_labels(&self, labels: &serde_json::Map<String, Value>) -> bool {
        self.0.iter().all(|r| {
            let value = labels.get(&r.key).and_then(Value::as_str);
            match &r.op {
                Op::Eq(v) => value == Some(v.as_str()),
                Op::NotEq(v) => value != Some(v.as_str()),
                Op::In(vs) => value.is_some_and(|x| vs.iter().any(|v| v == x)),
                Op::NotIn(vs) => !value.is_some_and(|x| vs.iter().any(|v| v == x)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
            }
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.is_empty() || self.matches_labels(&crate::object::labels(obj))
    }
}

/// A parsed field selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(Vec<String>, bool, String)>);

impl FieldSelector {
    pub fn parse(s: &str) -> Result<FieldSelector, Status> {
        let mut reqs = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (path, equal, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(Status::bad_request(format!(
                    "invalid field selector: {part:?}: expected path=value or path!=value"
                )));
            };
            reqs.push((
                path.trim().split('.').map(str::to_string).collect(),
                equal,
                value.trim().to_string(),
            ));
        }
        Ok(FieldSelector(reqs))
    }

    /// A selector for one object name (`/pods/x?watch=true`, kubectl's single-object waits).
    pub fn name(name: &str) -> FieldSelector {
        FieldSelector(vec![(
            vec!["metadata".into(), "name".into()],
            true,
            name.into(),
        )])
    }

    pub fn and(mut self, other: FieldSelector) -> FieldSelector {
        self.0.extend(other.0);
        self
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, equal, value)| {
            let mut cur = Some(obj);
            for key in path {
                cur = cur.and_then(|c| c.get(key));
            }
            let actual = match cur {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

/// Both selectors of a request.
#[derive(Debug, Clone, Default)]
pub struct Selectors {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selectors {
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let obj = json!({"metadata": {"labels": {"app": "reviews", "version": "v2"}}});
        let yes = [
            "app=reviews",
            "app==reviews",
            "app!=ratings",
            "version in (v1, v2)",
            "version notin (v3)",
            "app",
            "!tier",
            "app=reviews,version in (v2,v3)",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).expect(s).matches(&obj), "{s}");
        }
        let no = [
            "app=ratings",
            "version notin (v2)",
            "tier",
            "!app",
            "app,tier",
        ];
        for s in no {
            assert!(!LabelSelector::parse(s).expect(s).matches(&obj), "{s}");
        }
        assert!(LabelSelector::parse("a b").is_err());
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p", "namespace": "demo"},
                         "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let f = FieldSelector::parse("metadata.name=p,status.phase!=Pending").expect("parse");
        assert!(f.matches(&pod));
        assert!(
            !FieldSelector::parse("spec.nodeName=")
                .expect("p")
                .matches(&pod)
        );
        assert!(
            FieldSelector::parse("metadata.namespace==demo")
                .expect("p")
                .matches(&pod)
        );
    }

    #[test]
    fn object_selectors() {
        let sel = json!({"matchLabels": {"app": "x"},
                         "matchExpressions": [{"key": "v", "operator": "In", "values": ["1"]}]});
        let s = LabelSelector::from_object(&sel);
        assert!(s.matches(&json!({"metadata": {"labels": {"app": "x", "v": "1"}}})));
        assert!(!s.matches(&json!({"metadata": {"labels": {"app": "x"}}})));
    }
}
