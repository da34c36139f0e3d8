//! Sessions as sealed cookies: the signed-in user (and, for `--auth token`, their bearer
//! token) encrypted and authenticated with AES-256-GCM under the console's session key.
//!
//! Why a sealed cookie and not a server-side table: any number of console replicas may
//! serve pages (issue #14), and a cookie every replica can open (given the same
//! `--session-key-file`) needs no shared store. The purpose of each cookie (`session`,
//! `oidc-state`) is bound in as associated data, so one cannot be replayed as another.
//! Sign-out clears the cookie and remembers the session's id until it would have
//! expired, so a copy of the cookie taken before sign-out stops working on this replica.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// How the user's calls reach Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Credential {
    /// Their own bearer token (`--auth token`).
    Token { token: String },
    /// The console's identity, impersonating the user and groups (`--auth openid`).
    Impersonate,
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Random, so a signed-out session can be refused by id.
    pub id: String,
    pub user: String,
    pub groups: Vec<String>,
    pub credential: Credential,
    /// Unix seconds.
    pub expires: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("the cookie is not one this console sealed (tampered with, or another key)")]
    Invalid,
    #[error("the session has expired")]
    Expired,
    #[error("the session was signed out")]
    SignedOut,
}

/// The session key and the signed-out ids.
pub struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
    /// Signed-out session ids and when they would have expired.
    revoked: Mutex<HashMap<String, u64>>,
}

/// The sealed value: what was sealed and until when it is valid.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    exp: u64,
    v: T,
}

impl Sealer {
    /// A key derived from `material` (the contents of `--session-key-file`: at least 32
    /// bytes of secret; every replica given the same file opens the others' cookies).
    pub fn from_material(material: &[u8]) -> Result<Sealer, String> {
        if material.len() < 32 {
            return Err(format!(
                "the session key is {} bytes; use at least 32 random bytes, e.g. \
                 `head -c 32 /dev/urandom | base64 > session.key`",
                material.len()
            ));
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, material);
        Ok(Self::from_key(digest.as_ref()))
    }

    /// A fresh random key: sessions last as long as this process.
    pub fn random() -> Sealer {
        let rng = SystemRandom::new();
        let mut key = [0u8; 32];
        rng.fill(&mut key)
            .expect("the operating system's random number generator failed");
        Self::from_key(&key)
    }

    fn from_key(key: &[u8]) -> Sealer {
        let unbound = UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key");
        Sealer {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
            revoked: Mutex::new(HashMap::new()),
        }
    }

    /// A random url-safe token of `bytes` bytes (session ids, OIDC state, PKCE verifiers).
    pub fn random_token(&self, bytes: usize) -> String {
        let mut buf = vec![0u8; bytes];
        self.rng
            .fill(&mut buf)
            .expect("the operating system's random number generator failed");
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// Seals `value` for `purpose`, valid until `expires` (unix seconds).
    pub fn seal<T: Serialize>(&self, purpose: &str, value: &T, expires: u64) -> String {
        let plain = serde_json::to_vec(&Envelope {
            exp: expires,
            v: value,
        })
        .expect("serialisable");
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the operating system's random number generator failed");
        let mut buf = plain;
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(purpose.as_bytes()),
                &mut buf,
            )
            .expect("AES-GCM sealing cannot fail for small inputs");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens what [`Sealer::seal`] sealed for the same purpose, if it has not expired.
    pub fn open<T: DeserializeOwned>(
        &self,
        purpose: &str,
        sealed: &str,
        now: u64,
    ) -> Result<T, OpenError> {
        let raw = URL_SAFE_NO_PAD
            .decode(sealed.trim())
            .map_err(|_| OpenError::Invalid)?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(OpenError::Invalid);
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Invalid)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buf)
            .map_err(|_| OpenError::Invalid)?;
        let env: Envelope<T> = serde_json::from_slice(plain).map_err(|_| OpenError::Invalid)?;
        if env.exp <= now {
            return Err(OpenError::Expired);
        }
        Ok(env.v)
    }

    /// Opens a session cookie, refusing signed-out sessions.
    pub fn open_session(&self, sealed: &str, now: u64) -> Result<Session, OpenError> {
        let s: Session = self.open(SESSION, sealed, now)?;
        if self
            .revoked
            .lock()
            .map(|r| r.contains_key(&s.id))
            .unwrap_or(false)
        {
            return Err(OpenError::SignedOut);
        }
        Ok(s)
    }

    /// Seals a session cookie.
    pub fn seal_session(&self, s: &Session) -> String {
        self.seal(SESSION, s, s.expires)
    }

    /// Remembers a signed-out session until it would have expired anyway.
    pub fn revoke(&self, s: &Session, now: u64) {
        if let Ok(mut r) = self.revoked.lock() {
            r.retain(|_, exp| *exp > now);
            r.insert(s.id.clone(), s.expires);
        }
    }
}

/// The purposes sealed values are bound to.
pub const SESSION: &str = "session";
pub const OIDC_STATE: &str = "oidc-state";

/// Cookie names: `__Host-` prefixed over TLS, so no subdomain or plain-http page can set
/// or shadow them.
pub fn cookie_name(base: &str, tls: bool) -> String {
    if tls {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax (the OpenID provider's redirect back is a
/// cross-site navigation that must carry the state cookie; cross-site *changes* are
/// refused by the origin check), Secure over TLS, for the whole site.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: u64, tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax{secure}")
}

/// A `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(name: &str, tls: bool) -> String {
    set_cookie(name, "", 0, tls)
}

/// The value of cookie `name` in a `Cookie` header.
pub fn read_cookie<'a>(cookie_header: &'a str, name: &str) -> Option<&'a str> {
    cookie_header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires: u64) -> Session {
        Session {
            id: "id1".into(),
            user: "alice".into(),
            groups: vec!["dev".into()],
            credential: Credential::Token {
                token: "secret-token".into(),
            },
            expires,
        }
    }

    #[test]
    fn a_sealed_session_opens_and_hides_the_token() {
        let s = Sealer::random();
        let sealed = s.seal_session(&session(2000));
        assert!(!sealed.contains("alice") && !sealed.contains("secret"));
        assert_eq!(s.open_session(&sealed, 1000).unwrap(), session(2000));
    }

    #[test]
    fn expired_tampered_foreign_and_misused_cookies_are_refused() {
        let s = Sealer::random();
        let sealed = s.seal_session(&session(2000));
        assert_eq!(s.open_session(&sealed, 2000), Err(OpenError::Expired));
        // One flipped character anywhere.
        let mut bytes = sealed.clone().into_bytes();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(s.open_session(&tampered, 1000), Err(OpenError::Invalid));
        // Another console's key.
        assert_eq!(
            Sealer::random().open_session(&sealed, 1000),
            Err(OpenError::Invalid)
        );
        // A state cookie is not a session.
        let state = s.seal(OIDC_STATE, &session(2000), 2000);
        assert_eq!(s.open_session(&state, 1000), Err(OpenError::Invalid));
        assert_eq!(s.open_session("", 1000), Err(OpenError::Invalid));
        assert_eq!(
            s.open_session("not base64 !", 1000),
            Err(OpenError::Invalid)
        );
    }

    #[test]
    fn replicas_with_the_same_key_file_share_sessions() {
        let material = b"0123456789abcdef0123456789abcdef\n";
        let a = Sealer::from_material(material).unwrap();
        let b = Sealer::from_material(material).unwrap();
        let sealed = a.seal_session(&session(2000));
        assert!(b.open_session(&sealed, 1000).is_ok());
        let err = Sealer::from_material(b"short").err().unwrap();
        assert!(err.contains("at least 32"), "{err}");
    }

    #[test]
    fn a_signed_out_session_stays_out() {
        let s = Sealer::random();
        let sealed = s.seal_session(&session(2000));
        s.revoke(&session(2000), 1000);
        assert_eq!(s.open_session(&sealed, 1001), Err(OpenError::SignedOut));
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_over_tls() {
        let c = set_cookie(&cookie_name("sluice_session", true), "v", 60, true);
        assert_eq!(
            c,
            "__Host-sluice_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        let c = clear_cookie("sluice_session", false);
        assert!(c.contains("Max-Age=0") && !c.contains("Secure"), "{c}");
        assert_eq!(
            read_cookie("a=1; sluice_session=xyz; b=2", "sluice_session"),
            Some("xyz")
        );
        assert_eq!(read_cookie("sluice_session_x=1", "sluice_session"), None);
    }
}
