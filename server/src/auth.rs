//! Sign-in, and every request acting as its signed-in user.
//!
//! `--auth` picks the strategy, as Kiali does: `none` (loopback only; the console's own
//! credentials), `token` (the user pastes a Kubernetes bearer token; the console asks the
//! API server whose it is and makes that user's calls with it), `header` (an
//! authenticating proxy names the user and groups in headers, believed only from the
//! proxy's addresses; calls are made by impersonation) and `openid` (OpenID Connect with
//! PKCE; the ID token's user and groups are impersonated).
//!
//! [`authenticate`] runs before routing: it establishes who is asking and puts that
//! user's [`Ports`] (a Kubernetes client acting as them) and their [`Viewer`] into the
//! request's extensions, where `sluice_app::ports::use_ports` finds them. A request
//! nobody vouches for reaches no backend: pages redirect to `/signin`, server functions
//! answer 401. The identity always comes from the server side (session, proxy, API
//! server), never from what the browser sends in a form.

pub mod openid;
pub mod proxy;
pub mod session;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sluice_app::domain::access::{AuthStrategy, SignInOptions, SignOut, Viewer, safe_next};
use sluice_app::error::AppError;
use sluice_app::ports::Ports;

use crate::context::AppState;
use crate::kube::identity::{UserCredential, WhoAmI, review_token, who_am_i};
use openid::{LoginState, Provider};
use proxy::{ProxyConfig, ProxyRefusal};
use session::{Credential, OIDC_STATE, Sealer, Session};

/// The cookie holding the session.
const SESSION_COOKIE: &str = "sluice_session";
/// The cookie holding an OpenID sign-in in progress.
const OIDC_COOKIE: &str = "sluice_oidc";
/// How long an OpenID sign-in may take at the provider.
const OIDC_LOGIN_TTL: u64 = 600;
/// Users' clients are kept this long after their last build, so a page's dozen calls do
/// not each set up TLS.
const USER_PORTS_TTL: Duration = Duration::from_secs(600);
const USER_PORTS_MAX: usize = 1000;

/// The sign-in strategy and what it needs.
pub enum Strategy {
    None,
    Token,
    Header {
        proxy: ProxyConfig,
        sign_out_url: Option<String>,
    },
    OpenId(Arc<Provider>),
}

impl Strategy {
    pub fn kind(&self) -> AuthStrategy {
        match self {
            Strategy::None => AuthStrategy::None,
            Strategy::Token => AuthStrategy::Token,
            Strategy::Header { .. } => AuthStrategy::Header,
            Strategy::OpenId(_) => AuthStrategy::OpenId,
        }
    }
}

/// Sign-in state shared by all requests.
pub struct Auth {
    pub strategy: Strategy,
    sealer: Sealer,
    /// The longest a session lasts.
    ttl: Duration,
    /// Cookies get `Secure` and the `__Host-` prefix.
    tls: bool,
    /// Where the sandbox's demo users' tokens are (shown on the sign-in page).
    sandbox_hint: Option<String>,
    /// With `--auth none`: the name Kubernetes knows the console's own credentials by.
    console_user: Mutex<String>,
    users: Mutex<HashMap<String, (Instant, Ports)>>,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Auth {
    pub fn new(strategy: Strategy, sealer: Sealer, ttl: Duration, tls: bool) -> Auth {
        Auth {
            strategy,
            sealer,
            ttl,
            tls,
            sandbox_hint: None,
            console_user: Mutex::new("the console's own credentials".into()),
            users: Mutex::new(HashMap::new()),
        }
    }

    /// No sign-in (loopback only).
    pub fn none() -> Auth {
        Auth::new(
            Strategy::None,
            Sealer::random(),
            Duration::from_secs(3600),
            false,
        )
    }

    pub fn with_sandbox_hint(mut self, hint: String) -> Auth {
        self.sandbox_hint = Some(hint);
        self
    }

    /// Records the name Kubernetes gives the console's own credentials.
    pub fn set_console_user(&self, user: String) {
        if let Ok(mut u) = self.console_user.lock() {
            *u = user;
        }
    }

    fn session_cookie(&self) -> String {
        session::cookie_name(SESSION_COOKIE, self.tls)
    }

    fn oidc_cookie(&self) -> String {
        session::cookie_name(OIDC_COOKIE, self.tls)
    }

    pub fn sign_in_options(&self) -> SignInOptions {
        SignInOptions {
            strategy: self.strategy.kind(),
            issuer: match &self.strategy {
                Strategy::OpenId(p) => Some(p.cfg.issuer.to_string()),
                _ => None,
            },
            sandbox_hint: self.sandbox_hint.clone(),
        }
    }

    /// The session in the request's cookies, if any and still valid.
    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let cookies = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let name = self.session_cookie();
        for c in cookies {
            if let Some(v) = session::read_cookie(c, &name) {
                return match self.sealer.open_session(v, now()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::debug!("session cookie refused: {e}");
                        None
                    }
                };
            }
        }
        None
    }

    /// The ports acting as `user` with `credential`, built once and kept a while.
    fn user_ports(
        &self,
        state: &AppState,
        user: &str,
        credential: &UserCredential,
    ) -> Result<Ports, AppError> {
        let key = cache_key(user, credential);
        let mut users = self.users.lock().map_err(|_| {
            AppError::Internal("look up the signed-in user's connection (lock poisoned)".into())
        })?;
        if let Some((at, ports)) = users.get(&key)
            && at.elapsed() < USER_PORTS_TTL
        {
            return Ok(ports.clone());
        }
        if users.len() >= USER_PORTS_MAX {
            users.retain(|_, (at, _)| at.elapsed() < USER_PORTS_TTL);
            if users.len() >= USER_PORTS_MAX {
                users.clear();
            }
        }
        let cluster = Arc::new(state.cluster.for_user(user, credential)?);
        let ports = Ports {
            cluster: cluster.clone(),
            releases: cluster,
            metrics: state.ports.metrics.clone(),
            traces: state.ports.traces.clone(),
            traffic: state.ports.traffic.clone(),
        };
        users.insert(key, (Instant::now(), ports.clone()));
        Ok(ports)
    }
}

/// A key for a user's cached client that holds no secret in clear.
fn cache_key(user: &str, credential: &UserCredential) -> String {
    let material = match credential {
        UserCredential::Token(t) => format!("token\0{t}"),
        UserCredential::Impersonate { user, groups } => {
            format!("as\0{user}\0{}", groups.join("\0"))
        }
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, material.as_bytes());
    format!(
        "{user}:{}",
        digest
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Paths anyone may reach: the sign-in flow, static assets, probes, and the two server
/// functions the sign-in page itself calls.
fn is_public(path: &str) -> bool {
    const EXACT: [&str; 7] = [
        "/signin",
        "/healthz",
        "/readyz",
        "/favicon.svg",
        "/favicon.ico",
        "/api/get_sign_in_options",
        "/api/get_viewer",
    ];
    const PREFIXES: [&str; 3] = ["/auth/", "/pkg/", "/vendor/"];
    EXACT.contains(&path) || PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The identity of a request, or why there is none.
enum Found {
    Identified(Viewer, Ports),
    Nobody,
    Refused(Response),
}

fn identify(state: &AppState, req: &Request) -> Found {
    let auth = &state.auth;
    match &auth.strategy {
        Strategy::None => {
            let user = auth
                .console_user
                .lock()
                .map(|u| u.clone())
                .unwrap_or_default();
            Found::Identified(
                Viewer {
                    user,
                    groups: Vec::new(),
                    strategy: AuthStrategy::None,
                    sign_out: SignOut::Unavailable,
                },
                state.ports.clone(),
            )
        }
        Strategy::Token | Strategy::OpenId(_) => {
            let Some(s) = auth.session(req.headers()) else {
                return Found::Nobody;
            };
            let credential = match &s.credential {
                Credential::Token { token } => UserCredential::Token(token.clone()),
                Credential::Impersonate => UserCredential::Impersonate {
                    user: s.user.clone(),
                    groups: s.groups.clone(),
                },
            };
            match auth.user_ports(state, &s.user, &credential) {
                Ok(ports) => Found::Identified(
                    Viewer {
                        user: s.user,
                        groups: s.groups,
                        strategy: auth.strategy.kind(),
                        sign_out: SignOut::Form,
                    },
                    ports,
                ),
                Err(e) => Found::Refused(app_error_response(&e)),
            }
        }
        Strategy::Header {
            proxy: cfg,
            sign_out_url,
        } => {
            let peer = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            match proxy::identify(cfg, req.headers(), peer) {
                Ok(u) => {
                    let credential = UserCredential::Impersonate {
                        user: u.user.clone(),
                        groups: u.groups.clone(),
                    };
                    match auth.user_ports(state, &u.user, &credential) {
                        Ok(ports) => Found::Identified(
                            Viewer {
                                user: u.user,
                                groups: u.groups,
                                strategy: AuthStrategy::Header,
                                sign_out: sign_out_url
                                    .clone()
                                    .map(SignOut::Link)
                                    .unwrap_or(SignOut::Unavailable),
                            },
                            ports,
                        ),
                        Err(e) => Found::Refused(app_error_response(&e)),
                    }
                }
                Err(ProxyRefusal::Missing) => Found::Nobody,
                Err(ProxyRefusal::Untrusted(m) | ProxyRefusal::Malformed(m)) => {
                    tracing::warn!(peer = ?peer, "refused proxy identity: {m}");
                    Found::Refused(app_error_response(&AppError::Forbidden(format!(
                        "Refused: {m}."
                    ))))
                }
            }
        }
    }
}

/// The error as a server function answers it (JSON, its status code).
fn app_error_response(e: &AppError) -> Response {
    let code = StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    let mut res = (code, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn redirect(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

fn query_escape(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The middleware: establishes who is asking (see the module docs).
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    req.extensions_mut().insert(state.auth.sign_in_options());
    match identify(&state, &req) {
        Found::Identified(viewer, ports) => {
            req.extensions_mut().insert(viewer);
            req.extensions_mut().insert(ports);
            next.run(req).await
        }
        Found::Refused(res) => res,
        Found::Nobody if is_public(&path) => next.run(req).await,
        Found::Nobody => {
            let message = match state.auth.strategy {
                Strategy::Header { .. } => {
                    "This console signs you in through your organisation's proxy, and this \
                     request did not come through it: open the console at the proxy's address."
                }
                _ => {
                    "You are not signed in (or your session has ended): sign in to use the console."
                }
            };
            if path.starts_with("/api/") || req.method() != axum::http::Method::GET {
                app_error_response(&AppError::Unauthenticated(message.into()))
            } else {
                let target = req
                    .uri()
                    .path_and_query()
                    .map(|pq| pq.as_str().to_string())
                    .unwrap_or_else(|| "/".into());
                redirect(&format!("/signin?next={}", query_escape(&target)))
            }
        }
    }
}

/// The sign-in and sign-out endpoints (plain forms and redirects: they work without
/// JavaScript).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/signin", post(sign_in_with_token))
        .route("/auth/signout", post(sign_out))
        .route("/auth/login", get(openid_login))
        .route("/auth/callback", get(openid_callback))
}

fn back_to_sign_in(error: &str, next: &str) -> Response {
    redirect(&format!(
        "/signin?error={}&next={}",
        query_escape(error),
        query_escape(next)
    ))
}

fn with_cookie(mut res: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// The expiry (`exp`) a JWT-shaped token says it has, unverified: only used to end the
/// session no later than the token (the API server is what checks the token).
fn jwt_expiry(token: &str) -> Option<u64> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes).ok()?["exp"].as_u64()
}

/// `--auth token`: checks the pasted token with the API server and starts a session.
async fn sign_in_with_token(
    State(state): State<AppState>,
    Form(form): Form<TokenForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    if !matches!(state.auth.strategy, Strategy::Token) {
        return back_to_sign_in("This console does not sign in with tokens.", &next);
    }
    let token = form.token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    if token.is_empty() || token.len() > 16 * 1024 || token.chars().any(|c| c.is_whitespace()) {
        return back_to_sign_in(
            "Paste a Kubernetes bearer token (one line, no spaces), e.g. the output of \
             `kubectl create token <service-account> -n <namespace>`.",
            &next,
        );
    }
    let who = match check_token(&state, token).await {
        Ok(who) => who,
        Err(message) => return back_to_sign_in(&message, &next),
    };
    let now = now();
    let mut expires = now + state.auth.ttl.as_secs();
    if let Some(exp) = jwt_expiry(token) {
        if exp <= now {
            return back_to_sign_in("This token has expired: create a new one.", &next);
        }
        expires = expires.min(exp);
    }
    let s = Session {
        id: state.auth.sealer.random_token(16),
        user: who.user,
        groups: who.groups,
        credential: Credential::Token {
            token: token.to_string(),
        },
        expires,
    };
    tracing::info!(user = %s.user, "signed in with a token");
    start_session(&state, &s, &next)
}

fn start_session(state: &AppState, s: &Session, next: &str) -> Response {
    let sealed = state.auth.sealer.seal_session(s);
    let cookie = session::set_cookie(
        &state.auth.session_cookie(),
        &sealed,
        s.expires.saturating_sub(now()),
        state.auth.tls,
    );
    with_cookie(redirect(next), &cookie)
}

/// Whose token this is, according to the API server.
async fn check_token(state: &AppState, token: &str) -> Result<WhoAmI, String> {
    let probe = state
        .cluster
        .for_user("(signing in)", &UserCredential::Token(token.to_string()))
        .map_err(|e| e.to_string())?;
    let client = probe.client().map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(10), who_am_i(&client)).await {
        Err(_) => Err("The Kubernetes API server did not answer in time; try again.".into()),
        Ok(Ok(Some(who))) => Ok(who),
        Ok(Ok(None)) => Err("Kubernetes accepted the token but did not say whose it is.".into()),
        Ok(Err(::kube::Error::Api(s))) if s.code == 401 => Err(
            "Kubernetes did not accept this token (401): it may be expired, revoked or \
             mistyped. Create a new one with `kubectl create token <service-account> -n \
             <namespace>`."
                .into(),
        ),
        Ok(Err(::kube::Error::Api(s))) if s.code == 404 || s.code == 403 => {
            // No SelfSubjectReview (Kubernetes before 1.28, or not allowed): ask with the
            // console's own identity instead.
            let service = state.cluster.client().map_err(|e| e.to_string())?;
            match review_token(&service, token).await {
                Ok(Some(who)) => Ok(who),
                Ok(None) => Err("Kubernetes did not accept this token: it may be expired, \
                     revoked or mistyped."
                    .into()),
                Err(e) => Err(format!(
                    "Sluice could not check the token: {e}. The console needs permission to \
                     create tokenreviews (system:auth-delegator) on clusters without \
                     SelfSubjectReview."
                )),
            }
        }
        Ok(Err(e)) => Err(format!(
            "Sluice could not check the token with Kubernetes: {e}"
        )),
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: Option<String>,
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(s) = state.auth.session(&headers) {
        tracing::info!(user = %s.user, "signed out");
        state.auth.sealer.revoke(&s, now());
    }
    let to = match &state.auth.strategy {
        Strategy::Header {
            sign_out_url: Some(url),
            ..
        } => url.clone(),
        Strategy::None => "/".into(),
        _ => "/signin?signed_out=1".into(),
    };
    with_cookie(
        redirect(&to),
        &session::clear_cookie(&state.auth.session_cookie(), state.auth.tls),
    )
}

/// `--auth openid`: sends the browser to the issuer.
async fn openid_login(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    let Strategy::OpenId(provider) = &state.auth.strategy else {
        return back_to_sign_in("This console does not sign in with OpenID Connect.", &next);
    };
    let (discovery, _) = match provider.metadata(false).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!("OpenID provider: {e}");
            return back_to_sign_in(
                &format!("The sign-in provider cannot be reached: {e}"),
                &next,
            );
        }
    };
    let sealer = &state.auth.sealer;
    let login = LoginState {
        state: sealer.random_token(24),
        nonce: sealer.random_token(24),
        verifier: sealer.random_token(32),
        next,
    };
    let url = openid::authorization_url(&discovery.authorization_endpoint, &provider.cfg, &login);
    let sealed = sealer.seal(OIDC_STATE, &login, now() + OIDC_LOGIN_TTL);
    let cookie = session::set_cookie(
        &state.auth.oidc_cookie(),
        &sealed,
        OIDC_LOGIN_TTL,
        state.auth.tls,
    );
    with_cookie(redirect(url.as_str()), &cookie)
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// `--auth openid`: the issuer's redirect back with a code.
async fn openid_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Strategy::OpenId(provider) = &state.auth.strategy else {
        return back_to_sign_in("This console does not sign in with OpenID Connect.", "/");
    };
    let clear_state = session::clear_cookie(&state.auth.oidc_cookie(), state.auth.tls);
    let fail = |m: &str, next: &str| with_cookie(back_to_sign_in(m, next), &clear_state);
    let login: Option<LoginState> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| session::read_cookie(c, &state.auth.oidc_cookie()).map(str::to_string))
        .and_then(|v| state.auth.sealer.open(OIDC_STATE, &v, now()).ok());
    let Some(login) = login else {
        return fail(
            "The sign-in took too long or was started in another browser: sign in again.",
            "/",
        );
    };
    if let Some(err) = q.error {
        return fail(
            &format!(
                "The provider did not sign you in: {err} {}",
                q.error_description.unwrap_or_default()
            ),
            &login.next,
        );
    }
    if q.state.as_deref() != Some(login.state.as_str()) {
        return fail(
            "This sign-in answer does not belong to the sign-in this browser started: sign in again.",
            &login.next,
        );
    }
    let Some(code) = q.code else {
        return fail(
            "The provider's answer has no code: sign in again.",
            &login.next,
        );
    };
    let user = match provider.exchange(&code, &login, now()).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!("OpenID sign-in failed: {e}");
            return fail(&format!("Signing in failed: {e}"), &login.next);
        }
    };
    let expires = (now() + state.auth.ttl.as_secs()).min(user.expires);
    let s = Session {
        id: state.auth.sealer.random_token(16),
        user: user.user,
        groups: user.groups,
        credential: Credential::Impersonate,
        expires,
    };
    tracing::info!(user = %s.user, "signed in with OpenID Connect");
    with_cookie(start_session(&state, &s, &login.next), &clear_state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_the_sign_in_flow_assets_and_probes() {
        for p in [
            "/signin",
            "/auth/callback",
            "/pkg/sluice.wasm",
            "/vendor/cytoscape/cytoscape.min.js",
            "/healthz",
            "/api/get_sign_in_options",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in [
            "/",
            "/grayscale-release",
            "/api/list_projects",
            "/api/create_release_job",
            "/signin/x",
            "/authx",
        ] {
            assert!(!is_public(p), "{p}");
        }
    }

    #[test]
    fn cached_clients_are_keyed_without_the_token_in_clear() {
        let k = cache_key("alice", &UserCredential::Token("s3cret-token".into()));
        assert!(k.starts_with("alice:") && !k.contains("s3cret"), "{k}");
        let a = cache_key(
            "alice",
            &UserCredential::Impersonate {
                user: "alice".into(),
                groups: vec!["a".into()],
            },
        );
        let b = cache_key(
            "alice",
            &UserCredential::Impersonate {
                user: "alice".into(),
                groups: vec!["b".into()],
            },
        );
        assert_ne!(a, b);
    }

    #[test]
    fn a_jwts_expiry_is_read_without_trusting_it() {
        use base64::Engine as _;
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"exp":1234}"#);
        assert_eq!(jwt_expiry(&format!("h.{p}.s")), Some(1234));
        assert_eq!(jwt_expiry("opaque-token"), None);
    }
}
