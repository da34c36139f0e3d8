//! Parsing Kubernetes resource paths.
//!
//! The shapes (kube-apiserver's, which clients build by convention):
//! `/api/v1/<plural>[/<name>[/<sub>]]`, `/api/v1/namespaces/<ns>/<plural>[/<name>[/<sub>]]`,
//! the same under `/apis/<group>/<version>`, and the legacy `watch/` prefix after the
//! version. The one ambiguity — `/api/v1/namespaces/<x>/<y>` is either a namespaced
//! collection or a subresource of namespace `x` — is settled the way the real server does:
//! `status` and `finalize` are namespace subresources, anything else a resource name.

/// A parsed resource path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The path used the deprecated `/watch/` prefix.
    pub watch: bool,
}

/// What a path under `/api` or `/apis` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiPath {
    /// `/api/v1` or `/apis/<group>/<version>`: an APIResourceList.
    GroupVersion {
        group: String,
        version: String,
    },
    /// `/apis/<group>`: an APIGroup.
    Group(String),
    Resource(ResourcePath),
}

pub fn parse(path: &str) -> Option<ApiPath> {
    let segments: Vec<String> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let (group, version, rest) = match segments.first().map(String::as_str) {
        Some("api") => {
            let version = segments.get(1)?.clone();
            (String::new(), version, &segments[2..])
        }
        Some("apis") => {
            let group = segments.get(1)?.clone();
            let Some(version) = segments.get(2) else {
                return Some(ApiPath::Group(group));
            };
            (group, version.clone(), &segments[3..])
        }
        _ => return None,
    };
    if rest.is_empty() {
        return Some(ApiPath::GroupVersion { group, version });
    }
    let (watch, rest) = match rest.first().map(String::as_str) {
        Some("watch") => (true, &rest[1..]),
        _ => (false, rest),
    };
    let mut out = ResourcePath {
        group,
        version,
        watch,
        ..ResourcePath::default()
    };
    match rest {
        [ns_word, ns, plural, tail @ ..]
            if ns_word == "namespaces" && !matches!(plural.as_str(), "status" | "finalize") =>
        {
            out.namespace = Some(ns.clone());
            out.plural = plural.clone();
            match tail {
                [] => {}
                [name] => out.name = Some(name.clone()),
                [name, sub] => {
                    out.name = Some(name.clone());
                    out.subresource = Some(sub.clone());
                }
                _ => return None,
            }
        }
        [plural, tail @ ..] => {
            out.plural = plural.clone();
            match tail {
                [] => {}
                [name] => out.name = Some(name.clone()),
                [name, sub] => {
                    out.name = Some(name.clone());
                    out.subresource = Some(sub.clone());
                }
                _ => return None,
            }
        }
        [] => return None,
    }
    Some(ApiPath::Resource(out))
}

/// Decodes `%XX` escapes (names are DNS-safe, but a client may escape anyway).
pub fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path) {
            Some(ApiPath::Resource(r)) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn shapes() {
        let r = res("/api/v1/namespaces/demo/pods/web-1/status");
        assert_eq!(r.namespace.as_deref(), Some("demo"));
        assert_eq!(r.plural, "pods");
        assert_eq!(r.name.as_deref(), Some("web-1"));
        assert_eq!(r.subresource.as_deref(), Some("status"));

        let r = res("/api/v1/namespaces/demo");
        assert_eq!(
            (r.plural.as_str(), r.name.as_deref()),
            ("namespaces", Some("demo"))
        );
        let r = res("/api/v1/namespaces/demo/status");
        assert_eq!(r.subresource.as_deref(), Some("status"));
        assert_eq!(r.namespace, None);

        let r = res("/apis/networking.istio.io/v1alpha3/watch/namespaces/x/virtualservices");
        assert!(r.watch);
        assert_eq!(r.group, "networking.istio.io");
        assert_eq!(r.version, "v1alpha3");

        let r = res("/apis/apps/v1/deployments");
        assert_eq!((r.namespace, r.name), (None, None));

        assert_eq!(parse("/apis/apps"), Some(ApiPath::Group("apps".into())));
        assert_eq!(
            parse("/api/v1"),
            Some(ApiPath::GroupVersion {
                group: String::new(),
                version: "v1".into()
            })
        );
        assert_eq!(parse("/metrics"), None);
    }
}
