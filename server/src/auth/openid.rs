//! `--auth openid`: OpenID Connect's authorization code flow with PKCE (RFC 7636).
//!
//! Sign-in: `/auth/login` sends the browser to the issuer's authorization endpoint with a
//! random `state`, `nonce` and PKCE challenge, remembered in a sealed short-lived cookie;
//! the issuer sends it back to `/auth/callback` with a code, which the console exchanges
//! (with the PKCE verifier and its client credentials) for an ID token. The ID token's
//! signature is checked against the issuer's published keys (JWKS), and its issuer,
//! audience, expiry and nonce; its user and groups claims become the session, and the
//! console's calls for that user are made by impersonation.
//!
//! The pure parts (PKCE, the authorization URL, JWT verification) are functions tested
//! here; [`Provider`] does the HTTP (discovery, JWKS, the token endpoint) with bounded
//! answers.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Url;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

/// How the console is registered with the issuer.
#[derive(Debug, Clone)]
pub struct OpenIdConfig {
    pub issuer: Url,
    pub client_id: String,
    /// None for a public client (PKCE only).
    pub client_secret: Option<String>,
    /// `<public url>/auth/callback`.
    pub redirect_uri: Url,
    pub scopes: Vec<String>,
    /// The claim naming the Kubernetes user (`sub`, `email`, `preferred_username`, ...).
    pub username_claim: String,
    /// The claim listing the user's groups.
    pub groups_claim: String,
    /// Prepended to user and group names, like kube-apiserver's `--oidc-username-prefix`
    /// (e.g. `oidc:`), so they cannot collide with other users.
    pub prefix: String,
}

/// What is remembered between the redirect to the issuer and the callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Where to go after signing in (a path on the console).
    pub next: String,
}

/// The PKCE `S256` challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// The issuer's authorization URL for this login.
pub fn authorization_url(endpoint: &Url, cfg: &OpenIdConfig, login: &LoginState) -> Url {
    let mut url = endpoint.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", cfg.redirect_uri.as_str())
        .append_pair("scope", &cfg.scopes.join(" "))
        .append_pair("state", &login.state)
        .append_pair("nonce", &login.nonce)
        .append_pair("code_challenge", &pkce_challenge(&login.verifier))
        .append_pair("code_challenge_method", "S256");
    url
}

/// The issuer's discovery document (the fields the console uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
}

/// One JSON Web Key (RFC 7517), the public key types ID tokens are signed with.
#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default, rename = "use")]
    pub use_: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
    #[serde(default)]
    pub crv: Option<String>,
    #[serde(default)]
    pub x: Option<String>,
    #[serde(default)]
    pub y: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The verified identity in an ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdUser {
    pub user: String,
    pub groups: Vec<String>,
    /// Unix seconds.
    pub expires: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the ID token is not a signed JWT")]
    Malformed,
    #[error(
        "the ID token is signed with {0}, which Sluice does not accept (RS256, PS256, ES256, EdDSA)"
    )]
    Algorithm(String),
    #[error("no key of the issuer matches the ID token's key id {0:?}")]
    UnknownKey(Option<String>),
    #[error("the ID token's signature does not verify")]
    Signature,
    #[error("the ID token is for issuer {0:?}, not the configured one")]
    Issuer(String),
    #[error("the ID token is for another client (aud {0})")]
    Audience(String),
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token's nonce does not match this sign-in (replayed or mixed up)")]
    Nonce,
    #[error("the ID token has no {0:?} claim to name the user: set --oidc-username-claim")]
    NoUser(String),
}

fn b64(s: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)
}

fn verify_signature(alg: &str, key: &Jwk, message: &[u8], sig: &[u8]) -> Result<(), TokenError> {
    let bad = |_| TokenError::Signature;
    match (alg, key.kty.as_str()) {
        ("RS256" | "PS256", "RSA") => {
            let n = b64(key.n.as_deref().ok_or(TokenError::Signature)?)?;
            let e = b64(key.e.as_deref().ok_or(TokenError::Signature)?)?;
            let params = if alg == "RS256" {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, message, sig)
                .map_err(bad)
        }
        ("ES256", "EC") if key.crv.as_deref() == Some("P-256") => {
            let x = b64(key.x.as_deref().ok_or(TokenError::Signature)?)?;
            let y = b64(key.y.as_deref().ok_or(TokenError::Signature)?)?;
            let mut point = vec![4u8];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .map_err(bad)
        }
        ("EdDSA", "OKP") if key.crv.as_deref() == Some("Ed25519") => {
            let x = b64(key.x.as_deref().ok_or(TokenError::Signature)?)?;
            UnparsedPublicKey::new(&signature::ED25519, x)
                .verify(message, sig)
                .map_err(bad)
        }
        _ => Err(TokenError::Signature),
    }
}

/// Verifies an ID token: signature (by `kid`, or any key of the right type), issuer,
/// audience (and `azp` when several), expiry (60 s leeway), nonce; then reads the user and
/// groups claims.
pub fn verify_id_token(
    token: &str,
    jwks: &Jwks,
    cfg: &OpenIdConfig,
    issuer: &str,
    nonce: &str,
    now: u64,
) -> Result<IdUser, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Value = serde_json::from_slice(&b64(h)?).map_err(|_| TokenError::Malformed)?;
    let alg = header["alg"].as_str().unwrap_or("").to_string();
    if !["RS256", "PS256", "ES256", "EdDSA"].contains(&alg.as_str()) {
        return Err(TokenError::Algorithm(alg));
    }
    let kid = header["kid"].as_str().map(str::to_string);
    let message = format!("{h}.{p}");
    let sig = b64(s)?;
    let candidates: Vec<&Jwk> = jwks
        .keys
        .iter()
        .filter(|k| k.use_.as_deref().is_none_or(|u| u == "sig"))
        .filter(|k| k.alg.as_deref().is_none_or(|a| a == alg))
        .filter(|k| kid.is_none() || k.kid == kid)
        .collect();
    if candidates.is_empty() {
        return Err(TokenError::UnknownKey(kid));
    }
    if !candidates
        .iter()
        .any(|k| verify_signature(&alg, k, message.as_bytes(), &sig).is_ok())
    {
        return Err(TokenError::Signature);
    }
    let claims: Value = serde_json::from_slice(&b64(p)?).map_err(|_| TokenError::Malformed)?;
    let iss = claims["iss"].as_str().unwrap_or("");
    if iss != issuer {
        return Err(TokenError::Issuer(iss.into()));
    }
    let aud: Vec<&str> = match &claims["aud"] {
        Value::String(a) => vec![a.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !aud.contains(&cfg.client_id.as_str())
        || (aud.len() > 1 && claims["azp"].as_str() != Some(cfg.client_id.as_str()))
    {
        return Err(TokenError::Audience(claims["aud"].to_string()));
    }
    let exp = claims["exp"].as_u64().ok_or(TokenError::Malformed)?;
    if exp + 60 <= now {
        return Err(TokenError::Expired);
    }
    if claims["nonce"].as_str() != Some(nonce) {
        return Err(TokenError::Nonce);
    }
    let user = claims[cfg.username_claim.as_str()]
        .as_str()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| TokenError::NoUser(cfg.username_claim.clone()))?;
    let groups = match &claims[cfg.groups_claim.as_str()] {
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Value::String(g) => g.split(',').map(|g| g.trim().to_string()).collect(),
        _ => Vec::new(),
    };
    Ok(IdUser {
        user: format!("{}{user}", cfg.prefix),
        groups: groups
            .into_iter()
            .filter(|g: &String| !g.is_empty())
            .map(|g| format!("{}{g}", cfg.prefix))
            .collect(),
        expires: exp,
    })
}

/// The largest discovery, JWKS or token answer read (a provider answering more is broken
/// or hostile).
const MAX_ANSWER: usize = 1024 * 1024;
/// Keys are fetched again at most this often when a token names an unknown key.
const JWKS_REFRESH: Duration = Duration::from_secs(60);

/// The issuer, discovered on first use and cached.
pub struct Provider {
    pub cfg: OpenIdConfig,
    http: reqwest::Client,
    cache: Mutex<Option<(Discovery, Jwks, Instant)>>,
}

impl Provider {
    pub fn new(cfg: OpenIdConfig, http: reqwest::Client) -> Provider {
        Provider {
            cfg,
            http,
            cache: Mutex::new(None),
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T, String> {
        let res = self
            .http
            .get(url.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| format!("{url} did not answer: {e}"))?;
        let status = res.status();
        let body = read_bounded(res).await?;
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("{url} answered something unreadable: {e}"))
    }

    /// The discovery document and keys, fetched when missing, or when `refresh` and the
    /// last fetch is older than a minute.
    pub async fn metadata(&self, refresh: bool) -> Result<(Discovery, Jwks), String> {
        let mut cache = self.cache.lock().await;
        if let Some((d, k, at)) = cache.as_ref()
            && (!refresh || at.elapsed() < JWKS_REFRESH)
        {
            return Ok((d.clone(), k.clone()));
        }
        let mut url = self.cfg.issuer.clone();
        {
            let path = url.path().trim_end_matches('/').to_string();
            url.set_path(&format!("{path}/.well-known/openid-configuration"));
        }
        let d: Discovery = self.get_json(&url).await?;
        if d.issuer.trim_end_matches('/') != self.cfg.issuer.as_str().trim_end_matches('/') {
            return Err(format!(
                "the provider at {url} says its issuer is {:?}, not {:?}: set --oidc-issuer to \
                 exactly the issuer it announces",
                d.issuer,
                self.cfg.issuer.as_str()
            ));
        }
        let k: Jwks = self.get_json(&d.jwks_uri).await?;
        *cache = Some((d.clone(), k.clone(), Instant::now()));
        Ok((d, k))
    }

    /// Exchanges the code for tokens and verifies the ID token.
    pub async fn exchange(
        &self,
        code: &str,
        login: &LoginState,
        now: u64,
    ) -> Result<IdUser, String> {
        let (d, jwks) = self.metadata(false).await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.cfg.redirect_uri.as_str()),
            ("code_verifier", login.verifier.as_str()),
        ];
        let mut req = self
            .http
            .post(d.token_endpoint.clone())
            .timeout(Duration::from_secs(10));
        match &self.cfg.client_secret {
            // client_secret_basic: RFC 6749 §2.3.1 form-encodes both before base64.
            Some(secret) => {
                let enc =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                let basic =
                    STANDARD.encode(format!("{}:{}", enc(&self.cfg.client_id), enc(secret)));
                req = req.header("authorization", format!("Basic {basic}"));
            }
            None => form.push(("client_id", self.cfg.client_id.as_str())),
        }
        let res = req.form(&form).send().await.map_err(|e| {
            format!(
                "the token endpoint {} did not answer: {e}",
                d.token_endpoint
            )
        })?;
        let status = res.status();
        let body = read_bounded(res).await?;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!(
                "the provider refused the sign-in code ({status}: {} {})",
                answer["error"].as_str().unwrap_or(""),
                answer["error_description"].as_str().unwrap_or("")
            ));
        }
        let id_token = answer["id_token"]
            .as_str()
            .ok_or("the provider's answer has no id_token (is the openid scope allowed?)")?;
        match verify_id_token(id_token, &jwks, &self.cfg, &d.issuer, &login.nonce, now) {
            Err(TokenError::UnknownKey(_)) => {
                // The issuer may have rotated its keys since they were fetched.
                let (d, jwks) = self.metadata(true).await?;
                verify_id_token(id_token, &jwks, &self.cfg, &d.issuer, &login.nonce, now)
                    .map_err(|e| e.to_string())
            }
            other => other.map_err(|e| e.to_string()),
        }
    }
}

async fn read_bounded(mut res: reqwest::Response) -> Result<Vec<u8>, String> {
    let url = res.url().clone();
    let mut body = Vec::new();
    while let Some(chunk) = res
        .chunk()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?
    {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(format!("{url} answered more than {MAX_ANSWER} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};

    fn cfg() -> OpenIdConfig {
        OpenIdConfig {
            issuer: Url::parse("http://127.0.0.1:3190").unwrap(),
            client_id: "sluice".into(),
            client_secret: Some("s3cret".into()),
            redirect_uri: Url::parse("http://127.0.0.1:3000/auth/callback").unwrap(),
            scopes: vec!["openid".into(), "profile".into(), "groups".into()],
            username_claim: "sub".into(),
            groups_claim: "groups".into(),
            prefix: String::new(),
        }
    }

    fn b(v: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    /// An ES256 key pair and its JWK.
    fn es256() -> (EcdsaKeyPair, Jwk) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .unwrap();
        let public = pair.public_key().as_ref();
        let jwk = Jwk {
            kty: "EC".into(),
            kid: Some("k1".into()),
            alg: Some("ES256".into()),
            use_: Some("sig".into()),
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(b(&public[1..33])),
            y: Some(b(&public[33..65])),
        };
        (pair, jwk)
    }

    fn sign_es256(pair: &EcdsaKeyPair, kid: &str, claims: &Value) -> String {
        let h = b(
            serde_json::json!({"alg": "ES256", "kid": kid, "typ": "JWT"})
                .to_string()
                .as_bytes(),
        );
        let p = b(claims.to_string().as_bytes());
        let sig = pair
            .sign(&SystemRandom::new(), format!("{h}.{p}").as_bytes())
            .unwrap();
        format!("{h}.{p}.{}", b(sig.as_ref()))
    }

    fn claims() -> Value {
        serde_json::json!({
            "iss": "http://127.0.0.1:3190",
            "aud": "sluice",
            "sub": "alice",
            "exp": 2000,
            "iat": 1000,
            "nonce": "n1",
            "groups": ["release-managers", "dev"]
        })
    }

    #[test]
    fn pkce_matches_rfc_7636s_example() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn the_authorization_url_carries_state_nonce_and_the_s256_challenge() {
        let login = LoginState {
            state: "st".into(),
            nonce: "n1".into(),
            verifier: "v".repeat(43),
            next: "/".into(),
        };
        let url = authorization_url(
            &Url::parse("http://127.0.0.1:3190/auth?x=1").unwrap(),
            &cfg(),
            &login,
        );
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["x"], "1");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["state"], "st");
        assert_eq!(q["nonce"], "n1");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], pkce_challenge(&login.verifier));
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:3000/auth/callback");
        assert_eq!(q["scope"], "openid profile groups");
    }

    #[test]
    fn a_good_id_token_names_the_user_and_groups() {
        let (pair, jwk) = es256();
        let jwks = Jwks { keys: vec![jwk] };
        let t = sign_es256(&pair, "k1", &claims());
        let u = verify_id_token(&t, &jwks, &cfg(), "http://127.0.0.1:3190", "n1", 1500).unwrap();
        assert_eq!(u.user, "alice");
        assert_eq!(u.groups, ["release-managers", "dev"]);
        assert_eq!(u.expires, 2000);
        let mut c = cfg();
        c.prefix = "oidc:".into();
        let u = verify_id_token(&t, &jwks, &c, "http://127.0.0.1:3190", "n1", 1500).unwrap();
        assert_eq!(u.user, "oidc:alice");
        assert_eq!(u.groups[0], "oidc:release-managers");
    }

    #[test]
    fn bad_id_tokens_are_refused_for_the_right_reason() {
        let (pair, jwk) = es256();
        let jwks = Jwks { keys: vec![jwk] };
        let iss = "http://127.0.0.1:3190";
        let check =
            |t: &str, nonce: &str, now: u64| verify_id_token(t, &jwks, &cfg(), iss, nonce, now);
        let good = sign_es256(&pair, "k1", &claims());
        assert_eq!(check(&good, "other", 1500), Err(TokenError::Nonce));
        assert_eq!(check(&good, "n1", 2100), Err(TokenError::Expired));
        let mut c = claims();
        c["aud"] = "someone-else".into();
        assert!(matches!(
            check(&sign_es256(&pair, "k1", &c), "n1", 1500),
            Err(TokenError::Audience(_))
        ));
        let mut c = claims();
        c["iss"] = "http://evil".into();
        assert!(matches!(
            check(&sign_es256(&pair, "k1", &c), "n1", 1500),
            Err(TokenError::Issuer(_))
        ));
        let mut c = claims();
        c.as_object_mut().unwrap().remove("sub");
        assert!(matches!(
            check(&sign_es256(&pair, "k1", &c), "n1", 1500),
            Err(TokenError::NoUser(_))
        ));
        // Another key signed it.
        let (other, _) = es256();
        assert_eq!(
            check(&sign_es256(&other, "k1", &claims()), "n1", 1500),
            Err(TokenError::Signature)
        );
        assert_eq!(
            check(&sign_es256(&pair, "k9", &claims()), "n1", 1500),
            Err(TokenError::UnknownKey(Some("k9".into())))
        );
        // The payload changed after signing.
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        let mut c = claims();
        c["sub"] = "admin".into();
        parts[1] = b(c.to_string().as_bytes());
        assert_eq!(
            check(&parts.join("."), "n1", 1500),
            Err(TokenError::Signature)
        );
        // alg "none" and HMAC are never accepted.
        for alg in ["none", "HS256"] {
            let h = b(serde_json::json!({"alg": alg}).to_string().as_bytes());
            let p = b(claims().to_string().as_bytes());
            assert_eq!(
                check(&format!("{h}.{p}."), "n1", 1500),
                Err(TokenError::Algorithm(alg.into()))
            );
        }
        assert_eq!(check("a.b", "n1", 1500), Err(TokenError::Malformed));
    }

    #[test]
    fn eddsa_tokens_verify_too() {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwks = Jwks {
            keys: vec![Jwk {
                kty: "OKP".into(),
                kid: None,
                alg: None,
                use_: None,
                n: None,
                e: None,
                crv: Some("Ed25519".into()),
                x: Some(b(pair.public_key().as_ref())),
                y: None,
            }],
        };
        let h = b(serde_json::json!({"alg": "EdDSA"}).to_string().as_bytes());
        let p = b(claims().to_string().as_bytes());
        let sig = pair.sign(format!("{h}.{p}").as_bytes());
        let t = format!("{h}.{p}.{}", b(sig.as_ref()));
        assert!(verify_id_token(&t, &jwks, &cfg(), "http://127.0.0.1:3190", "n1", 1500).is_ok());
    }
}
