//! Handshake authentication for the embedded gateway.
//!
//! Real gateways put a JWT in the Socket.IO handshake (or a header, or a cookie) and
//! derive the user and the tenant from its claims; everything tenant-scoped downstream
//! (rooms, delivery, inspection) keys off the [`Principal`] built here. The token itself
//! is dropped as soon as it is checked: it never reaches a record, a log line or the UI.
//!
//! With no key configured, profiles that need an identity (analytics, jet-admin, ...)
//! still read the token's claims, unverified, so a front end can keep using the tokens
//! it already has; such principals are marked `verified: false`.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sockscope_protocol::AuthMode;

use crate::rooms;
use crate::{Error, Result};

/// Who a socket is, once its handshake is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    pub user: Option<String>,
    pub tenant: Option<String>,
    /// No token was presented (profiles that allow anonymous sockets).
    pub anonymous: bool,
    /// The token's signature was checked against the configured key.
    pub verified: bool,
    /// `socket.data`: the token's scalar claims (see [`data_of`]), for the
    /// Inspector's `data.KEY=VALUE` filters.
    pub data: BTreeMap<String, String>,
}

/// Claims that say when or which token, not who: left out of `socket.data`.
const TOKEN_CLAIMS: [&str; 4] = ["exp", "iat", "nbf", "jti"];
/// At most this many claims are kept in `socket.data`...
const MAX_DATA_CLAIMS: usize = 32;
/// ...each at most this many characters.
const MAX_DATA_CHARS: usize = 200;

/// The scalar claims (text, numbers, booleans) of `claims` as text, without the
/// token-bookkeeping ones, bounded in number and length.
pub fn data_of(claims: &Value) -> BTreeMap<String, String> {
    let Some(map) = claims.as_object() else {
        return BTreeMap::new();
    };
    map.iter()
        .filter(|(k, _)| !TOKEN_CLAIMS.contains(&k.as_str()))
        .filter_map(|(k, v)| {
            let text = match v {
                Value::Bool(b) => b.to_string(),
                other => claim_text(other)?,
            };
            Some((k.clone(), text.chars().take(MAX_DATA_CHARS).collect()))
        })
        .take(MAX_DATA_CLAIMS)
        .collect()
}

/// Checks handshakes against the gateway's auth mode.
#[derive(Clone)]
pub struct Authenticator {
    key: Option<DecodingKey>,
    validation: Validation,
    user_claim: String,
    tenant_claim: String,
}

impl Authenticator {
    pub fn new(mode: &AuthMode, user_claim: &str, tenant_claim: &str) -> Result<Self> {
        let (key, alg) = match mode {
            AuthMode::None => (None, Algorithm::HS256),
            AuthMode::Hs256 { secret } => (
                Some(DecodingKey::from_secret(secret.as_bytes())),
                Algorithm::HS256,
            ),
            AuthMode::Rs256 { public_key_pem } => (
                Some(DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).map_err(Error::BadKey)?),
                Algorithm::RS256,
            ),
        };
        let mut validation = Validation::new(alg);
        // Development tokens often carry no `exp`; check it when present only.
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        validation.leeway = 0;
        if key.is_none() {
            validation.insecure_disable_signature_validation();
            validation.algorithms = vec![
                Algorithm::HS256,
                Algorithm::HS384,
                Algorithm::HS512,
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::PS256,
                Algorithm::EdDSA,
            ];
        }
        Ok(Self {
            key,
            validation,
            user_claim: user_claim.to_owned(),
            tenant_claim: tenant_claim.to_owned(),
        })
    }

    /// Whether a key is configured, so handshakes without a token are refused.
    pub fn required(&self) -> bool {
        self.key.is_some()
    }

    /// The generic rule: a token is needed only when a key is configured; with no key
    /// every socket is anonymous.
    pub fn authenticate(&self, auth: &Value, headers: &HeaderMap) -> Result<Principal> {
        if !self.required() {
            return Ok(Principal {
                anonymous: true,
                ..Principal::default()
            });
        }
        let token = token_from(auth, headers).ok_or(Error::MissingToken)?;
        self.principal(&token)
    }

    /// Checks `token` (verified with the key if one is configured, read unverified
    /// otherwise) and maps its claims to a principal.
    pub fn principal(&self, token: &str) -> Result<Principal> {
        let claims = self.claims(token)?;
        let claim = |name: &str| claims.get(name).and_then(claim_text);
        let tenant = claim(&self.tenant_claim);
        if let Some(t) = &tenant {
            rooms::check_tenant(t)?;
        }
        Ok(Principal {
            user: claim(&self.user_claim),
            tenant,
            anonymous: false,
            verified: self.key.is_some(),
            data: data_of(&claims),
        })
    }

    fn claims(&self, token: &str) -> Result<Value> {
        let unverified = DecodingKey::from_secret(&[]);
        let key = self.key.as_ref().unwrap_or(&unverified);
        let data =
            jsonwebtoken::decode::<Value>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::InvalidSignature => Error::BadSignature,
                    ErrorKind::ExpiredSignature => Error::TokenExpired,
                    ErrorKind::ImmatureSignature => {
                        Error::InvalidToken("not valid yet (nbf)".into())
                    }
                    ErrorKind::InvalidAlgorithm => Error::InvalidToken(format!(
                        "algorithm is not {:?}",
                        self.validation
                            .algorithms
                            .first()
                            .unwrap_or(&Algorithm::HS256)
                    )),
                    _ => Error::InvalidToken(e.to_string()),
                }
            })?;
        Ok(data.claims)
    }
}

/// The handshake's token, from (in order) `auth.token`, `Authorization: Bearer`, the
/// `X-Auth-Token` header, or an `X-Auth-Token` / `token` cookie. A `Bearer ` prefix is
/// removed wherever it appears.
pub fn token_from(auth: &Value, headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    auth.get("token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| header("authorization").map(str::to_owned))
        .or_else(|| header("x-auth-token").map(str::to_owned))
        .or_else(|| cookie(headers, "X-Auth-Token"))
        .or_else(|| cookie(headers, "token"))
        .map(|t| strip_bearer(&t).to_owned())
        .filter(|t| !t.is_empty())
}

/// `token` without a leading `Bearer ` (any case) and surrounding spaces.
pub fn strip_bearer(token: &str) -> &str {
    let t = token.trim();
    match t.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => t[7..].trim(),
        _ => t,
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// A stable, non-reversible id for an opaque token, for profiles whose tokens are not
/// JWTs: the token never appears, but the same token always maps to the same user.
pub fn opaque_user_id(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("user-{hex}")
}

/// Claims may be strings or numbers; both name a user or a tenant.
fn claim_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn token(secret: &str, claims: Value) -> String {
        sockscope_test_support::hs256_token(secret, &claims)
    }

    fn hs(secret: &str) -> Authenticator {
        Authenticator::new(
            &AuthMode::Hs256 {
                secret: secret.into(),
            },
            "sub",
            "tenantId",
        )
        .unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn valid_token_maps_claims() {
        let t = token("s", json!({"sub": "ann", "tenantId": "acme"}));
        let p = hs("s")
            .authenticate(&json!({ "token": t }), &HeaderMap::new())
            .unwrap();
        assert_eq!(p.user.as_deref(), Some("ann"));
        assert_eq!(p.tenant.as_deref(), Some("acme"));
        assert!(p.verified);
        assert_eq!(p.data.get("sub").map(String::as_str), Some("ann"));
        assert_eq!(p.data.get("tenantId").map(String::as_str), Some("acme"));
        assert!(
            !p.data.values().any(|v| v.contains(&t)),
            "the token is not data"
        );
    }

    #[test]
    fn token_sources_in_order() {
        let t = token("s", json!({"sub": 7}));
        let a = hs("s");
        for h in [
            headers(&[("authorization", &format!("Bearer {t}"))]),
            headers(&[("x-auth-token", &t)]),
            headers(&[("cookie", &format!("a=b; X-Auth-Token={t}"))]),
        ] {
            let p = a.authenticate(&json!({}), &h).unwrap();
            assert_eq!(p.user.as_deref(), Some("7"));
        }
        assert_eq!(
            token_from(&json!({"token": "bearer abc"}), &HeaderMap::new()).as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn failures_say_why() {
        let a = hs("s");
        let none = HeaderMap::new();
        assert!(matches!(
            a.authenticate(&json!({}), &none),
            Err(Error::MissingToken)
        ));
        let wrong = token("other", json!({"sub": "x"}));
        assert!(matches!(
            a.authenticate(&json!({ "token": wrong }), &none),
            Err(Error::BadSignature)
        ));
        let old = token("s", json!({"sub": "x", "exp": 1_000_000}));
        assert!(matches!(
            a.authenticate(&json!({ "token": old }), &none),
            Err(Error::TokenExpired)
        ));
        assert!(matches!(
            a.authenticate(&json!({ "token": "garbage" }), &none),
            Err(Error::InvalidToken(_))
        ));
        let colon = token("s", json!({"tenantId": "a:b"}));
        assert!(matches!(
            a.authenticate(&json!({ "token": colon }), &none),
            Err(Error::BadTenant(_))
        ));
    }

    #[test]
    fn no_key_is_anonymous_for_generic_and_unverified_for_claims() {
        let a = Authenticator::new(&AuthMode::None, "sub", "tenantId").unwrap();
        assert!(!a.required());
        let p = a.authenticate(&json!({}), &HeaderMap::new()).unwrap();
        assert!(p.anonymous);
        let p = a
            .principal(&token("whatever", json!({"sub": "u", "tenantId": "t"})))
            .unwrap();
        assert_eq!(p.tenant.as_deref(), Some("t"));
        assert!(!p.verified);
    }

    #[test]
    fn bad_public_key_is_a_clear_error() {
        let r = Authenticator::new(
            &AuthMode::Rs256 {
                public_key_pem: "nope".into(),
            },
            "sub",
            "tenantId",
        );
        assert!(matches!(r, Err(Error::BadKey(_))));
    }

    #[test]
    fn opaque_ids_are_stable_and_hide_the_token() {
        let a = opaque_user_id("secret-token");
        assert_eq!(a, opaque_user_id("secret-token"));
        assert!(!a.contains("secret"));
        assert_ne!(a, opaque_user_id("other"));
    }
}
