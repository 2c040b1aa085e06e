//! Handshake authentication for the embedded gateway.
//!
//! Real gateways put a JWT in the Socket.IO handshake and derive the user and the
//! tenant from its claims; everything tenant-scoped downstream (rooms, delivery,
//! inspection) keys off the [`Principal`] built here. The token itself is dropped as
//! soon as it is verified: it never reaches a record, a log line or the UI.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sockscope_protocol::AuthMode;

use super::rooms;
use crate::{Error, Result};

/// Who a socket is, once its handshake is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    pub user: Option<String>,
    pub tenant: Option<String>,
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
    pub fn new(mode: &AuthMode, user_claim: &str, tenant_claim: &str) -> Self {
        let key = match mode {
            AuthMode::None => None,
            AuthMode::Hs256 { secret } => Some(DecodingKey::from_secret(secret.as_bytes())),
        };
        let mut validation = Validation::new(Algorithm::HS256);
        // Development tokens often carry no `exp`; check it when present only.
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        validation.leeway = 0;
        Self {
            key,
            validation,
            user_claim: user_claim.to_owned(),
            tenant_claim: tenant_claim.to_owned(),
        }
    }

    /// Whether handshakes need a token at all.
    pub fn required(&self) -> bool {
        self.key.is_some()
    }

    /// Verifies the handshake's token (when the mode asks for one) and maps its claims
    /// to a principal. `authorization` is the HTTP `Authorization` header, if any.
    pub fn authenticate(&self, auth: &Value, authorization: Option<&str>) -> Result<Principal> {
        let Some(key) = &self.key else {
            return Ok(Principal::default());
        };
        let token = auth
            .get("token")
            .and_then(Value::as_str)
            .or_else(|| authorization.and_then(|h| h.strip_prefix("Bearer ")))
            .map(|t| t.strip_prefix("Bearer ").unwrap_or(t).trim())
            .filter(|t| !t.is_empty())
            .ok_or(Error::MissingToken)?;
        let data =
            jsonwebtoken::decode::<Value>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::InvalidSignature => Error::BadSignature,
                    ErrorKind::ExpiredSignature => Error::TokenExpired,
                    ErrorKind::ImmatureSignature => {
                        Error::InvalidToken("not valid yet (nbf)".into())
                    }
                    ErrorKind::InvalidAlgorithm => {
                        Error::InvalidToken("algorithm is not HS256".into())
                    }
                    _ => Error::InvalidToken(e.to_string()),
                }
            })?;
        let claim = |name: &str| data.claims.get(name).and_then(claim_text);
        let tenant = claim(&self.tenant_claim);
        if let Some(t) = &tenant {
            rooms::check_tenant(t)?;
        }
        Ok(Principal {
            user: claim(&self.user_claim),
            tenant,
        })
    }
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
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn token(secret: &str, claims: Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn hs(secret: &str) -> Authenticator {
        Authenticator::new(
            &AuthMode::Hs256 {
                secret: secret.into(),
            },
            "sub",
            "tenantId",
        )
    }

    #[test]
    fn valid_token_maps_claims() {
        let t = token("s", json!({"sub": "ann", "tenantId": "acme"}));
        let p = hs("s").authenticate(&json!({ "token": t }), None).unwrap();
        assert_eq!(p.user.as_deref(), Some("ann"));
        assert_eq!(p.tenant.as_deref(), Some("acme"));
    }

    #[test]
    fn header_token_is_accepted() {
        let t = token("s", json!({"sub": 7}));
        let p = hs("s")
            .authenticate(&json!({}), Some(&format!("Bearer {t}")))
            .unwrap();
        assert_eq!(p.user.as_deref(), Some("7"));
    }

    #[test]
    fn failures_say_why() {
        let a = hs("s");
        assert!(matches!(
            a.authenticate(&json!({}), None),
            Err(Error::MissingToken)
        ));
        let wrong = token("other", json!({"sub": "x"}));
        assert!(matches!(
            a.authenticate(&json!({ "token": wrong }), None),
            Err(Error::BadSignature)
        ));
        let old = token("s", json!({"sub": "x", "exp": 1_000_000}));
        assert!(matches!(
            a.authenticate(&json!({ "token": old }), None),
            Err(Error::TokenExpired)
        ));
        assert!(matches!(
            a.authenticate(&json!({ "token": "garbage" }), None),
            Err(Error::InvalidToken(_))
        ));
        let colon = token("s", json!({"tenantId": "a:b"}));
        assert!(matches!(
            a.authenticate(&json!({ "token": colon }), None),
            Err(Error::BadTenant(_))
        ));
    }

    #[test]
    fn no_auth_accepts_anyone() {
        let a = Authenticator::new(&AuthMode::None, "sub", "tenantId");
        assert!(!a.required());
        assert_eq!(
            a.authenticate(&json!({}), None).unwrap(),
            Principal::default()
        );
    }
}
