//! Acting as the signed-in user: building their Kubernetes client (their bearer token, or
//! the console's credentials impersonating them), asking the API server who a token
//! belongs to (SelfSubjectReview, TokenReview as a fallback), and what the user may do
//! (SelfSubjectAccessReview). RBAC stays the API server's business; the console only asks.

use ::kube::api::{Api, PostParams};
use ::kube::config::AuthInfo;
use ::kube::{Client, Config};
use k8s_openapi::api::authentication::v1::{
    SelfSubjectReview, TokenReview, TokenReviewSpec, UserInfo,
};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use secrecy::SecretString;
use sluice_app::domain::access::Permission;

/// How a user's calls are authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserCredential {
    /// Their own bearer token: Kubernetes knows them by it.
    Token(String),
    /// The console's own credentials with `Impersonate-User`/`Impersonate-Group`.
    Impersonate { user: String, groups: Vec<String> },
}

/// The configuration for a user's client, from the console's own.
pub fn user_config(base: &Config, credential: &UserCredential) -> Config {
    let mut cfg = base.clone();
    match credential {
        UserCredential::Token(token) => {
            // Only the token: none of the console's own credentials (client certificate,
            // exec plugin, its token) may travel with the user's calls.
            cfg.auth_info = AuthInfo {
                token: Some(SecretString::from(token.clone())),
                ..AuthInfo::default()
            };
        }
        UserCredential::Impersonate { user, groups } => {
            cfg.auth_info.impersonate = Some(user.clone());
            cfg.auth_info.impersonate_groups = (!groups.is_empty()).then(|| groups.clone());
        }
    }
    cfg
}

/// Who the API server says the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI {
    pub user: String,
    pub groups: Vec<String>,
}

fn who(info: Option<UserInfo>) -> Option<WhoAmI> {
    let info = info?;
    Some(WhoAmI {
        user: info.username.filter(|u| !u.is_empty())?,
        groups: info.groups.unwrap_or_default(),
    })
}

/// Asks the API server who `client` is (SelfSubjectReview, Kubernetes 1.28+).
pub async fn who_am_i(client: &Client) -> Result<Option<WhoAmI>, ::kube::Error> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    Ok(who(review.status.and_then(|s| s.user_info)))
}

/// Asks with the console's own client who a token belongs to (TokenReview), for API
/// servers without SelfSubjectReview.
pub async fn review_token(service: &Client, token: &str) -> Result<Option<WhoAmI>, ::kube::Error> {
    let api: Api<TokenReview> = Api::all(service.clone());
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_string()),
            audiences: None,
        },
        ..TokenReview::default()
    };
    let answer = api.create(&PostParams::default(), &review).await?;
    let status = answer.status.unwrap_or_default();
    if status.authenticated != Some(true) {
        return Ok(None);
    }
    Ok(who(status.user))
}

/// May `client` do `permission` in `namespace`? (SelfSubjectAccessReview.)
pub async fn can_i(
    client: &Client,
    namespace: &str,
    permission: &Permission,
) -> Result<bool, ::kube::Error> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    // A request on the namespace object itself (`/api/v1/namespaces/<project>`) is, to
    // kube-apiserver, in that namespace and named like it: so is the question, which lets
    // a RoleBinding in the project grant it.
    let attrs = ResourceAttributes {
        verb: Some(permission.verb.clone()),
        group: Some(permission.group.clone()),
        resource: Some(permission.resource.clone()),
        namespace: Some(namespace.to_string()),
        name: permission.namespace_object.then(|| namespace.to_string()),
        ..ResourceAttributes::default()
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(attrs),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let answer = api.create(&PostParams::default(), &review).await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn base() -> Config {
        let mut cfg = Config::new("https://10.0.0.1:6443".parse().unwrap());
        cfg.auth_info = AuthInfo {
            token: Some(SecretString::from("console-token".to_string())),
            client_certificate_data: Some("CERT".into()),
            ..AuthInfo::default()
        };
        cfg
    }

    #[test]
    fn a_users_token_replaces_every_console_credential() {
        let cfg = user_config(&base(), &UserCredential::Token("alice-token".into()));
        assert_eq!(
            cfg.auth_info
                .token
                .as_ref()
                .map(|t| t.expose_secret().to_string()),
            Some("alice-token".into())
        );
        assert!(cfg.auth_info.client_certificate_data.is_none());
        assert!(cfg.auth_info.impersonate.is_none());
        assert_eq!(cfg.cluster_url, base().cluster_url);
    }

    #[test]
    fn impersonation_keeps_the_console_credentials_and_names_the_user() {
        let cfg = user_config(
            &base(),
            &UserCredential::Impersonate {
                user: "alice".into(),
                groups: vec!["release-managers".into()],
            },
        );
        assert_eq!(cfg.auth_info.impersonate.as_deref(), Some("alice"));
        assert_eq!(
            cfg.auth_info.impersonate_groups,
            Some(vec!["release-managers".to_string()])
        );
        assert!(cfg.auth_info.token.is_some());
        let cfg = user_config(
            &base(),
            &UserCredential::Impersonate {
                user: "bob".into(),
                groups: vec![],
            },
        );
        assert_eq!(cfg.auth_info.impersonate_groups, None);
    }
}
