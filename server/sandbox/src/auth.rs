//! Who is calling, and may they: authentication, impersonation and RBAC for the sandbox API.
//!
//! The sandbox checks requests the way kube-apiserver does, so that what the console shows
//! and refuses for a signed-in user on the sandbox is what a real cluster would:
//!
//! 1. **Authentication**: a bearer token from the static token file ([`users`]) or a
//!    ServiceAccount token the sandbox issued ([`tokens`], `kubectl create token`) names a
//!    user and their groups; a request without one is `system:anonymous` (group
//!    `system:unauthenticated`), an unknown, expired or revoked token gets 401.
//! 2. **Impersonation**: `Impersonate-User`/`-Group`/`-Uid`/`-Extra-*` headers switch to
//!    another user if the caller may `impersonate` those `users`, `groups`, `uids` and
//!    `userextras` (the console's header and OpenID modes act as the signed-in user so).
//! 3. **Authorization** ([`rbac`]): Roles, ClusterRoles (with aggregation) and their
//!    bindings decide; `system:masters` may do anything. Refusals are 403 with the real
//!    server's wording.
//! 4. The review APIs ([`reviews`]): SelfSubjectAccessReview, SelfSubjectRulesReview,
//!    SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectReview and TokenReview,
//!    which `kubectl auth can-i`/`whoami` and the console use.
//!
//! The simulated controllers work on the store directly and are not subject to any of this,
//! as kube-controller-manager's loops are trusted on a real cluster.

pub mod rbac;
pub mod reviews;
pub mod tokens;
pub mod users;

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::api::{
    ApiContext,
    path::{self, ApiPath},
    query::Query,
    status::Status,
};

pub const MASTERS: &str = "system:masters";
pub const AUTHENTICATED: &str = "system:authenticated";
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
pub const ANONYMOUS: &str = "system:anonymous";

/// An authenticated (or anonymous) caller, as `user.Info` in kube-apiserver.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// A user from an authenticator: their groups plus `system:authenticated`.
    pub fn authenticated(name: &str, uid: &str, mut groups: Vec<String>) -> UserInfo {
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        UserInfo {
            username: name.into(),
            uid: uid.into(),
            groups,
            extra: BTreeMap::new(),
        }
    }

    pub fn anonymous() -> UserInfo {
        UserInfo {
            username: ANONYMOUS.into(),
            groups: vec![UNAUTHENTICATED.into()],
            ..UserInfo::default()
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// `status.userInfo` of a SelfSubjectReview, `status.user` of a TokenReview.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"username": self.username, "groups": self.groups});
        if !self.uid.is_empty() {
            v["uid"] = json!(self.uid);
        }
        if !self.extra.is_empty() {
            v["extra"] = json!(self.extra);
        }
        v
    }
}

/// The caller of a request, put in its extensions by [`guard`].
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<UserInfo>);

/// What a request asks to do, as kube-apiserver's `RequestInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attributes {
    Resource {
        verb: String,
        group: String,
        resource: String,
        subresource: String,
        namespace: String,
        name: String,
    },
    /// Discovery, OpenAPI, `/version`, health: authorized by URL.
    Path { verb: String, path: String },
}

impl Attributes {
    pub fn verb(&self) -> &str {
        match self {
            Attributes::Resource { verb, .. } | Attributes::Path { verb, .. } => verb,
        }
    }

    /// The attributes of an HTTP request.
    pub fn of(method: &Method, uri_path: &str, query: Option<&str>) -> Attributes {
        let parsed = match path::parse(uri_path) {
            Some(ApiPath::Resource(rp)) => rp,
            _ => {
                return Attributes::Path {
                    verb: method.as_str().to_ascii_lowercase(),
                    path: uri_path.to_string(),
                };
            }
        };
        let watching = parsed.watch || Query::parse(query).map(|q| q.watch).unwrap_or(false);
        let has_name = parsed.name.is_some();
        let verb = match *method {
            Method::GET | Method::HEAD if watching => "watch",
            Method::GET | Method::HEAD if has_name => "get",
            Method::GET | Method::HEAD => "list",
            Method::POST => "create",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE if has_name => "delete",
            Method::DELETE => "deletecollection",
            _ => "",
        };
        let name = parsed.name.clone().unwrap_or_default();
        // A namespace is in itself: a RoleBinding in "demo" can grant `get namespaces` on
        // namespace "demo".
        let namespace = if parsed.group.is_empty() && parsed.plural == "namespaces" {
            name.clone()
        } else {
            parsed.namespace.clone().unwrap_or_default()
        };
        Attributes::Resource {
            verb: verb.into(),
            group: parsed.group,
            resource: parsed.plural,
            subresource: parsed.subresource.unwrap_or_default(),
            namespace,
            name,
        }
    }

    /// The 403 for a caller these attributes were refused to.
    pub fn refusal(&self, user: &UserInfo) -> Status {
        match self {
            Attributes::Resource {
                verb,
                group,
                resource,
                subresource,
                namespace,
                name,
            } => {
                let full = if subresource.is_empty() {
                    resource.clone()
                } else {
                    format!("{resource}/{subresource}")
                };
                let scope = if namespace.is_empty() {
                    "at the cluster scope".to_string()
                } else {
                    format!("in the namespace \"{namespace}\"")
                };
                Status::denied(
                    Some((resource, group, name)),
                    format_args!(
                        "User \"{}\" cannot {verb} resource \"{full}\" in API group \"{group}\" {scope}",
                        user.username
                    ),
                )
            }
            Attributes::Path { verb, path } => Status::denied(
                None,
                format_args!("User \"{}\" cannot {verb} path \"{path}\"", user.username),
            ),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Applies `Impersonate-*` headers: the user the caller acts as, after checking the caller
/// may impersonate each part of it.
fn impersonate(
    ctx: &ApiContext,
    caller: &UserInfo,
    headers: &HeaderMap,
) -> Result<Option<UserInfo>, Status> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .collect()
    };
    let user = values("impersonate-user").into_iter().next();
    let groups = values("impersonate-group");
    let uid = values("impersonate-uid").into_iter().next();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("impersonate-extra-")
            && let Ok(v) = value.to_str()
        {
            let key = crate::api::path::percent_decode(key);
            extra.entry(key).or_default().push(v.to_string());
        }
    }
    let Some(user) = user else {
        if !groups.is_empty() || uid.is_some() || !extra.is_empty() {
            return Err(Status::bad_request(
                "requested impersonation of groups, a uid or extras without impersonating a \
                 user: send Impersonate-User as well",
            ));
        }
        return Ok(None);
    };
    let check = |attrs: Attributes| -> Result<(), Status> {
        if rbac::authorize(&ctx.store, caller, &attrs).allowed {
            Ok(())
        } else {
            Err(attrs.refusal(caller))
        }
    };
    let resource =
        |group: &str, resource: &str, namespace: &str, name: &str| Attributes::Resource {
            verb: "impersonate".into(),
            group: group.into(),
            resource: resource.into(),
            subresource: String::new(),
            namespace: namespace.into(),
            name: name.into(),
        };
    match rbac::service_account_of(&user) {
        Some((ns, name)) => check(resource("", "serviceaccounts", ns, name))?,
        None => check(resource("", "users", "", &user))?,
    }
    for g in &groups {
        check(resource("", "groups", "", g))?;
    }
    if let Some(uid) = &uid {
        check(resource("authentication.k8s.io", "uids", "", uid))?;
    }
    for (key, vals) in &extra {
        for v in vals {
            check(Attributes::Resource {
                verb: "impersonate".into(),
                group: "authentication.k8s.io".into(),
                resource: "userextras".into(),
                subresource: key.clone(),
                namespace: String::new(),
                name: v.clone(),
            })?;
        }
    }
    let mut out = UserInfo::authenticated(&user, uid.as_deref().unwrap_or(""), groups);
    if let Some((ns, _)) = rbac::service_account_of(&user) {
        for g in [
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{ns}"),
        ] {
            if !out.in_group(&g) {
                out.groups.push(g);
            }
        }
    }
    out.extra = extra;
    Ok(Some(out))
}

/// Who a bearer token belongs to: a user of the token file, or a ServiceAccount whose
/// token the sandbox issued for the API server's audience.
pub fn authenticate(ctx: &ApiContext, token: &str) -> Option<UserInfo> {
    if let Some(user) = ctx.users.authenticate(token) {
        return Some(user.clone());
    }
    tokens::authenticate(&ctx.store, &ctx.tokens, token, &[]).map(|(user, _)| user)
}

/// The middleware in front of every API route: authenticates, applies impersonation,
/// authorizes, and hands the handlers a [`Caller`].
pub async fn guard(
    State(ctx): State<Arc<ApiContext>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let caller = match bearer(headers) {
        Some(token) => match authenticate(&ctx, token) {
            Some(user) => user,
            None => return Status::unauthorized().into_response(),
        },
        None => UserInfo::anonymous(),
    };
    let user = match impersonate(&ctx, &caller, headers) {
        Ok(Some(user)) => user,
        Ok(None) => caller,
        Err(status) => return status.into_response(),
    };
    let attrs = Attributes::of(
        request.method(),
        request.uri().path(),
        request.uri().query(),
    );
    if !rbac::authorize(&ctx.store, &user, &attrs).allowed {
        tracing::debug!("sandbox API: refused {attrs:?} to {}", user.username);
        return attrs.refusal(&user).into_response();
    }
    request.extensions_mut().insert(Caller(Arc::new(user)));
    next.run(request).await
}
