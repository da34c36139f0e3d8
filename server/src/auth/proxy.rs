//! `--auth header`: behind an authenticating proxy (oauth2-proxy, an ingress with
//! external auth, ...) the user and groups arrive in request headers. Those headers are
//! only believed from the proxy's own addresses; from anywhere else they are an attempt
//! to sign in as someone else and the request is refused.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Where the identity headers are read and whom to believe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// e.g. `X-Forwarded-User` (oauth2-proxy's `--set-xauthrequest` / `--pass-user-headers`).
    pub user_header: String,
    /// e.g. `X-Forwarded-Groups`: comma-separated, may repeat.
    pub groups_header: String,
    /// The proxy's addresses (CIDRs).
    pub trusted: Vec<IpNet>,
}

/// The user a trusted proxy vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUser {
    pub user: String,
    pub groups: Vec<String>,
}

/// Why the headers were not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyRefusal {
    /// No identity header from a trusted proxy: the request did not pass the proxy.
    Missing,
    /// Identity headers from an address that is not a trusted proxy.
    Untrusted(String),
    /// The header's value cannot be a user name.
    Malformed(String),
}

/// Parses `--auth-trusted-proxy` values (`10.0.0.0/8`, `127.0.0.1`).
pub fn parse_cidrs(values: &[String]) -> Result<Vec<IpNet>, String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<IpNet>()
                .or_else(|_| v.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "--auth-trusted-proxy {v:?} is not an address or CIDR (e.g. 10.0.0.0/8 \
                         or 127.0.0.1)"
                    )
                })
        })
        .collect()
}

/// Checks a name taken from a header: not empty, no control characters, a sane length.
fn check_name(what: &str, v: &str) -> Result<String, ProxyRefusal> {
    let v = v.trim();
    if v.is_empty() || v.len() > 256 || v.chars().any(char::is_control) {
        return Err(ProxyRefusal::Malformed(format!(
            "the proxy sent a {what} Sluice cannot use ({} characters): it must be 1 to 256 \
             printable characters",
            v.chars().count()
        )));
    }
    Ok(v.to_string())
}

/// The identity in `headers`, believed only when `peer` is a trusted proxy.
pub fn identify(
    cfg: &ProxyConfig,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<ProxyUser, ProxyRefusal> {
    let user = headers.get(cfg.user_header.as_str());
    let trusted = peer.is_some_and(|ip| {
        // An IPv4 peer on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        cfg.trusted.iter().any(|net| net.contains(&ip))
    });
    if !trusted {
        return Err(match user {
            Some(_) => ProxyRefusal::Untrusted(format!(
                "a {} header came from {}, which is not a trusted proxy (--auth-trusted-proxy); \
                 sign in through the proxy",
                cfg.user_header,
                peer.map(|p| p.to_string())
                    .unwrap_or_else(|| "an unknown address".into())
            )),
            None => ProxyRefusal::Missing,
        });
    }
    let Some(user) = user else {
        return Err(ProxyRefusal::Missing);
    };
    let user = user.to_str().map_err(|_| {
        ProxyRefusal::Malformed(format!("the {} header is not text", cfg.user_header))
    })?;
    let user = check_name("user name", user)?;
    let mut groups = Vec::new();
    for value in headers.get_all(cfg.groups_header.as_str()) {
        let value = value.to_str().map_err(|_| {
            ProxyRefusal::Malformed(format!("the {} header is not text", cfg.groups_header))
        })?;
        for g in value.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            let g = check_name("group name", g)?;
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    if groups.len() > 100 {
        return Err(ProxyRefusal::Malformed(format!(
            "the proxy sent {} groups; Sluice accepts at most 100",
            groups.len()
        )));
    }
    Ok(ProxyUser { user, groups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn cfg() -> ProxyConfig {
        ProxyConfig {
            user_header: "x-forwarded-user".into(),
            groups_header: "x-forwarded-groups".into(),
            trusted: parse_cidrs(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap(),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_trusted_proxy_names_the_user_and_groups() {
        let h = headers(&[
            ("x-forwarded-user", "alice"),
            ("x-forwarded-groups", "dev, ops"),
            ("x-forwarded-groups", "dev,release"),
        ]);
        let u = identify(&cfg(), &h, Some("10.1.2.3".parse().unwrap())).unwrap();
        assert_eq!(u.user, "alice");
        assert_eq!(u.groups, ["dev", "ops", "release"]);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(identify(&cfg(), &h, Some(mapped)).is_ok());
    }

    #[test]
    fn headers_from_anyone_else_are_refused() {
        let h = headers(&[("x-forwarded-user", "admin")]);
        let err = identify(&cfg(), &h, Some("192.168.1.5".parse().unwrap())).unwrap_err();
        let ProxyRefusal::Untrusted(m) = err else {
            panic!("{err:?}")
        };
        assert!(
            m.contains("192.168.1.5") && m.contains("not a trusted proxy"),
            "{m}"
        );
        assert_eq!(
            identify(
                &cfg(),
                &HeaderMap::new(),
                Some("192.168.1.5".parse().unwrap())
            ),
            Err(ProxyRefusal::Missing)
        );
        assert!(matches!(
            identify(&cfg(), &h, None),
            Err(ProxyRefusal::Untrusted(_))
        ));
    }

    #[test]
    fn a_trusted_request_without_the_header_did_not_pass_the_proxy() {
        assert_eq!(
            identify(&cfg(), &HeaderMap::new(), Some("10.0.0.1".parse().unwrap())),
            Err(ProxyRefusal::Missing)
        );
        let h = headers(&[("x-forwarded-user", "  ")]);
        assert!(matches!(
            identify(&cfg(), &h, Some("10.0.0.1".parse().unwrap())),
            Err(ProxyRefusal::Malformed(_))
        ));
    }

    #[test]
    fn bad_cidrs_name_the_value() {
        let err = parse_cidrs(&["10.0.0.0/33".into()]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert_eq!(parse_cidrs(&["127.0.0.1, ::1".into()]).unwrap().len(), 2);
    }
}
