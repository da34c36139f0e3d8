//! ServiceAccount tokens: the TokenRequest API (`kubectl create token`) and the bearer
//! tokens it issues.
//!
//! A console deployed in a cluster signs in as its ServiceAccount with a projected token;
//! to run the same way against the sandbox, the sandbox issues such tokens too. They are
//! JWTs shaped like kube-apiserver's (`iss`, `sub`, `aud`, `exp`, `iat`, `nbf`, `jti` and
//! the `kubernetes.io` claim naming the namespace, the ServiceAccount and its uid), signed
//! with HMAC-SHA256 under a random key kept in `<state>/pki/service-account.key` (a real
//! cluster signs with RS256; nobody outside the sandbox verifies these, so a shared secret
//! is enough and needs no key pair). A token is accepted while:
//!
//! - its signature and issuer are the sandbox's, and `nbf <= now < exp` (no leeway);
//! - its audiences include the API server's (`https://kubernetes.default.svc.cluster.local`,
//!   the default when a request names none), as kube-apiserver's `--api-audiences`;
//! - the ServiceAccount still exists with the same uid (deleting it, or deleting and
//!   re-creating it under the same name, revokes its tokens), and so does the object the
//!   token is bound to, if any (`--bound-object-kind Pod|Secret`).
//!
//! The user is `system:serviceaccount:<ns>:<name>` with the ServiceAccount's uid, groups
//! `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`, and
//! the extra `authentication.kubernetes.io/credential-id: JTI=<jti>`, as on a cluster.

use std::path::Path;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::hmac;
use serde_json::{Value, json};

use super::UserInfo;
use crate::{
    api::status::{Cause, Status},
    error::{Result, SandboxError},
    object,
    resources::keys,
    store::Store,
};

/// The audience and issuer of tokens for the API server itself.
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";
/// A TokenRequest without `expirationSeconds` gets an hour, as on a cluster.
pub const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// kube-apiserver refuses shorter tokens.
pub const MIN_EXPIRATION_SECONDS: i64 = 600;
/// kube-apiserver's upper bound (2^32 seconds).
pub const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

const KEY_FILE: &str = "service-account.key";

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub namespace: String,
    pub name: String,
    /// The ServiceAccount's uid when the token was issued.
    pub uid: String,
    pub audiences: Vec<String>,
    pub jti: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// `(kind, name, uid)` of the object the token is bound to.
    pub bound: Option<(String, String, String)>,
}

impl Claims {
    pub fn username(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }

    /// The user a request with this token acts as.
    pub fn user(&self) -> UserInfo {
        let mut user = UserInfo::authenticated(
            &self.username(),
            &self.uid,
            vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{}", self.namespace),
            ],
        );
        user.extra.insert(
            "authentication.kubernetes.io/credential-id".into(),
            vec![format!("JTI={}", self.jti)],
        );
        if let Some((kind, name, uid)) = &self.bound {
            let key = match kind.as_str() {
                "Pod" => "pod",
                "Secret" => "secret",
                _ => "object",
            };
            user.extra.insert(
                format!("authentication.kubernetes.io/{key}-name"),
                vec![name.clone()],
            );
            user.extra.insert(
                format!("authentication.kubernetes.io/{key}-uid"),
                vec![uid.clone()],
            );
        }
        user
    }
}

/// A freshly issued token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    /// Unix seconds.
    pub exp: i64,
}

/// Signs and verifies the sandbox's ServiceAccount tokens.
pub struct TokenIssuer {
    key: hmac::Key,
    kid: String,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.kid)
            .finish()
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl TokenIssuer {
    /// An issuer with this secret (tests; the sandbox uses [`TokenIssuer::load_or_create`]).
    pub fn from_secret(secret: &[u8]) -> TokenIssuer {
        let digest = ring::digest::digest(&ring::digest::SHA256, secret);
        TokenIssuer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            kid: URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]),
        }
    }

    /// Reads the signing key from `<state_dir>/pki/service-account.key`, or makes one. The
    /// key survives restarts, so issued tokens do too; delete the file to revoke them all.
    pub fn load_or_create(state_dir: &Path) -> Result<TokenIssuer> {
        let file = state_dir.join("pki").join(KEY_FILE);
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let secret = text.trim();
                if secret.len() < 32 {
                    return Err(SandboxError::io(
                        format!(
                            "{} is too short to be a signing key; delete it to make a new one",
                            file.display()
                        ),
                        std::io::Error::other("short key"),
                    ));
                }
                Ok(TokenIssuer::from_secret(secret.as_bytes()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes: [u8; 32] = rand::random();
                let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                super::users::write_private(&file, &format!("{secret}\n"))?;
                Ok(TokenIssuer::from_secret(secret.as_bytes()))
            }
            Err(e) => Err(SandboxError::io(
                format!("cannot read {}", file.display()),
                e,
            )),
        }
    }

    fn sign(&self, signing_input: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, signing_input.as_bytes()).as_ref())
    }

    /// Issues a token for `claims` (its `exp` is when it stops working), valid from now.
    pub fn issue(&self, claims: &Claims) -> Issued {
        let iat = now();
        let header = json!({"alg": "HS256", "kid": self.kid, "typ": "JWT"});
        let mut k8s = json!({
            "namespace": claims.namespace,
            "serviceaccount": {"name": claims.name, "uid": claims.uid},
        });
        if let Some((kind, name, uid)) = &claims.bound {
            let key = kind.to_ascii_lowercase();
            k8s[key] = json!({"name": name, "uid": uid});
        }
        let payload = json!({
            "aud": claims.audiences,
            "exp": claims.exp,
            "iat": iat,
            "nbf": iat,
            "iss": API_AUDIENCE,
            "jti": claims.jti,
            "sub": claims.username(),
            "kubernetes.io": k8s,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload.to_string())
        );
        let signature = self.sign(&input);
        Issued {
            token: format!("{input}.{signature}"),
            exp: claims.exp,
        }
    }

    /// The claims of a token this issuer signed that has not expired; `None` for anything
    /// else (including static tokens, which are not JWTs).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        self.verify_at(token, now())
    }

    fn verify_at(&self, token: &str, now: i64) -> Option<Claims> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        hmac::verify(
            &self.key,
            format!("{header}.{payload}").as_bytes(),
            &signature,
        )
        .ok()?;
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg").and_then(Value::as_str) != Some("HS256") {
            return None;
        }
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        if claims.get("iss").and_then(Value::as_str) != Some(API_AUDIENCE) {
            return None;
        }
        let exp = claims.get("exp").and_then(Value::as_i64)?;
        let nbf = claims.get("nbf").and_then(Value::as_i64).unwrap_or(0);
        if now >= exp || now < nbf {
            return None;
        }
        let k8s = claims.get("kubernetes.io")?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let audiences = match claims.get("aud") {
            Some(Value::String(one)) => vec![one.clone()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        };
        let bound = ["pod", "secret"].iter().find_map(|key| {
            let obj = k8s.get(*key)?;
            let kind = if *key == "pod" { "Pod" } else { "Secret" };
            Some((
                kind.to_string(),
                text(obj.get("name")),
                text(obj.get("uid")),
            ))
        });
        let out = Claims {
            namespace: text(k8s.get("namespace")),
            name: text(k8s.pointer("/serviceaccount/name")),
            uid: text(k8s.pointer("/serviceaccount/uid")),
            audiences,
            jti: text(claims.get("jti")),
            exp,
            bound,
        };
        (claims.get("sub").and_then(Value::as_str) == Some(out.username().as_str())).then_some(out)
    }
}

/// The objects a token depends on still exist, with the uids it was issued for.
fn still_valid(store: &Store, claims: &Claims) -> bool {
    let sa_alive = store
        .get(keys::SERVICE_ACCOUNTS, &claims.namespace, &claims.name)
        .is_some_and(|sa| object::uid(&sa) == claims.uid && !object::is_terminating(&sa));
    let bound_alive = match &claims.bound {
        None => true,
        Some((kind, name, uid)) => {
            let key = if kind == "Pod" {
                keys::PODS
            } else {
                keys::SECRETS
            };
            store
                .get(key, &claims.namespace, name)
                .is_some_and(|o| object::uid(&o) == *uid && !object::is_terminating(&o))
        }
    };
    sa_alive && bound_alive
}

/// Authenticates a ServiceAccount token for `audiences` (the API server's when empty):
/// the user, and the audiences of the token that matched.
pub fn authenticate(
    store: &Store,
    issuer: &TokenIssuer,
    token: &str,
    audiences: &[String],
) -> Option<(UserInfo, Vec<String>)> {
    let claims = issuer.verify(token)?;
    let wanted: Vec<String> = if audiences.is_empty() {
        vec![API_AUDIENCE.to_string()]
    } else {
        audiences.to_vec()
    };
    let matched: Vec<String> = claims
        .audiences
        .iter()
        .filter(|a| wanted.contains(a))
        .cloned()
        .collect();
    if matched.is_empty() || !still_valid(store, &claims) {
        return None;
    }
    Some((claims.user(), matched))
}

fn invalid(name: &str, field: &str, message: String) -> Status {
    Status::invalid(
        "TokenRequest",
        "authentication.k8s.io",
        name,
        vec![Cause {
            reason: "FieldValueInvalid".into(),
            message,
            field: field.into(),
        }],
    )
}

/// Answers a TokenRequest (`POST .../serviceaccounts/<name>/token`): the request back with
/// `status.token` and `status.expirationTimestamp`. As on a cluster, `expirationSeconds`
/// defaults to an hour and may not be under ten minutes.
pub fn token_request(
    store: &Store,
    issuer: &TokenIssuer,
    namespace: &str,
    name: &str,
    mut request: Value,
) -> Result<Value> {
    let sa = store
        .get(keys::SERVICE_ACCOUNTS, namespace, name)
        .ok_or_else(|| Status::not_found("serviceaccounts", "", name))?;
    let spec = request.get("spec").cloned().unwrap_or_else(|| json!({}));
    let expiration = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v.as_i64().ok_or_else(|| {
            Status::bad_request("spec.expirationSeconds must be an integer number of seconds")
        })?,
    };
    if expiration < MIN_EXPIRATION_SECONDS {
        return Err(invalid(
            name,
            "spec.expirationSeconds",
            format!("Invalid value: {expiration}: may not specify a duration less than 10 minutes"),
        )
        .into());
    }
    if expiration > MAX_EXPIRATION_SECONDS {
        return Err(invalid(
            name,
            "spec.expirationSeconds",
            format!(
                "Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds"
            ),
        )
        .into());
    }
    let audiences: Vec<String> = spec
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .filter(|a: &Vec<String>| !a.is_empty())
        .unwrap_or_else(|| vec![API_AUDIENCE.to_string()]);
    let bound = match spec.get("boundObjectRef").filter(|v| !v.is_null()) {
        None => None,
        Some(r) => {
            let kind = r.get("kind").and_then(Value::as_str).unwrap_or("");
            let bound_name = r.get("name").and_then(Value::as_str).unwrap_or("");
            let key = match kind {
                "Pod" => keys::PODS,
                "Secret" => keys::SECRETS,
                other => {
                    return Err(invalid(
                        name,
                        "spec.boundObjectRef.kind",
                        format!(
                            "Unsupported value: {other:?}: supported values: \"Pod\", \"Secret\" \
                             (the sandbox has no Nodes to bind to)"
                        ),
                    )
                    .into());
                }
            };
            let plural = key;
            let found = store
                .get(key, namespace, bound_name)
                .ok_or_else(|| Status::not_found(plural, "", bound_name))?;
            if let Some(uid) = r.get("uid").and_then(Value::as_str)
                && !uid.is_empty()
                && uid != object::uid(&found)
            {
                return Err(Status::conflict_because(
                    plural,
                    "",
                    bound_name,
                    &format!(
                        "the UID in the bound object reference ({uid}) does not match the UID in record. The object might have been deleted and then recreated"
                    ),
                )
                .into());
            }
            Some((
                kind.to_string(),
                bound_name.to_string(),
                object::uid(&found).to_string(),
            ))
        }
    };
    let claims = Claims {
        namespace: namespace.to_string(),
        name: name.to_string(),
        uid: object::uid(&sa).to_string(),
        audiences: audiences.clone(),
        jti: object::new_uid(),
        exp: now() + expiration,
        bound,
    };
    let issued = issuer.issue(&claims);
    let expiration_timestamp = jiff::Timestamp::from_second(issued.exp)
        .map(object::time::format)
        .unwrap_or_default();
    let mut spec = spec;
    spec["audiences"] = json!(audiences);
    spec["expirationSeconds"] = json!(expiration);
    if spec.get("boundObjectRef").is_none() {
        spec["boundObjectRef"] = Value::Null;
    }
    request["apiVersion"] = json!("authentication.k8s.io/v1");
    request["kind"] = json!("TokenRequest");
    request["metadata"] = json!({
        "name": name,
        "namespace": namespace,
        "creationTimestamp": object::time::now(),
    });
    request["spec"] = spec;
    request["status"] = json!({
        "token": issued.token,
        "expirationTimestamp": expiration_timestamp,
    });
    Ok(request)
}

/// Issues a token for a ServiceAccount directly, for any lifetime (the Rust API behind
/// [`crate::Sandbox::issue_service_account_token`]).
pub fn issue_for(
    store: &Store,
    issuer: &TokenIssuer,
    namespace: &str,
    name: &str,
    lifetime_seconds: i64,
) -> Result<String> {
    let sa = store
        .get(keys::SERVICE_ACCOUNTS, namespace, name)
        .ok_or_else(|| Status::not_found("serviceaccounts", "", name))?;
    let claims = Claims {
        namespace: namespace.to_string(),
        name: name.to_string(),
        uid: object::uid(&sa).to_string(),
        audiences: vec![API_AUDIENCE.to_string()],
        jti: object::new_uid(),
        exp: now() + lifetime_seconds,
        bound: None,
    };
    Ok(issuer.issue(&claims).token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            namespace: "sluice".into(),
            name: "console".into(),
            uid: "u-1".into(),
            audiences: vec![API_AUDIENCE.into()],
            jti: "j-1".into(),
            exp,
            bound: None,
        }
    }

    #[test]
    fn tokens_are_jwts_that_verify_until_they_expire() {
        let issuer = TokenIssuer::from_secret(b"0123456789abcdef0123456789abcdef");
        let issued = issuer.issue(&claims(now() + 60));
        let parts: Vec<&str> = issued.token.split('.').collect();
        assert_eq!(parts.len(), 3, "header.payload.signature");
        let payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(payload["sub"], "system:serviceaccount:sluice:console");
        assert_eq!(payload["kubernetes.io"]["namespace"], "sluice");
        assert_eq!(payload["kubernetes.io"]["serviceaccount"]["uid"], "u-1");
        assert!(payload["exp"].as_i64().unwrap() > now());

        let verified = issuer.verify(&issued.token).expect("valid");
        assert_eq!(verified, claims(issued.exp));
        let user = verified.user();
        assert_eq!(user.username, "system:serviceaccount:sluice:console");
        assert_eq!(
            user.groups,
            [
                "system:serviceaccounts",
                "system:serviceaccounts:sluice",
                "system:authenticated"
            ]
        );
        assert_eq!(user.uid, "u-1");

        assert!(
            issuer.verify_at(&issued.token, issued.exp).is_none(),
            "expired"
        );
        let other = TokenIssuer::from_secret(b"another key, another sandbox....");
        assert!(other.verify(&issued.token).is_none(), "foreign signature");
        let mut forged = parts.clone();
        let evil = json!({"sub": "system:serviceaccount:kube-system:admin"}).to_string();
        let evil = URL_SAFE_NO_PAD.encode(evil);
        forged[1] = &evil;
        assert!(issuer.verify(&forged.join(".")).is_none(), "tampered");
        assert!(issuer.verify("a-static-token").is_none());
    }

    #[test]
    fn the_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let a = TokenIssuer::load_or_create(dir.path()).unwrap();
        let token = a.issue(&claims(now() + 60)).token;
        let b = TokenIssuer::load_or_create(dir.path()).unwrap();
        assert!(b.verify(&token).is_some());
    }
}
