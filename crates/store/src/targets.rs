//! Saved gateway targets: what the Connections panel remembers between runs (URL,
//! namespace, non-secret auth fields, headers, query, on-connect emits). Tokens are not
//! here: they go to the keychain (`crate::keychain`), and `has_token` is computed on
//! read. What is stored has been through the redaction policy (`crate::redact`).

use sockscope_protocol::TargetProfile;

use crate::named::NamedRows;
use crate::Store;
use crate::{Error, Result};
use sockscope_bus::redact;

/// The profile as it may be stored: the one redaction policy's view of a target
/// (`crate::redact::target`): no userinfo or query in the URL (its parameters move to
/// the query list), no secret-named auth field, header or query parameter.
///
/// A secret that was part of the URL (`?token=...`, `user:pw@`) is therefore not
/// remembered: the token field (kept in the keychain) is the way to remember one.
pub fn without_secrets(p: &TargetProfile) -> TargetProfile {
    redact::target(p)
}

/// The gateway-target list in the store.
const TARGETS: NamedRows = NamedRows {
    table: "targets",
    column: "profile",
    what: "saved target",
};

impl Store {
    /// Saves (or replaces) a target by name, minus its secrets.
    pub fn save_target(&self, profile: &TargetProfile) -> Result<()> {
        if profile.name.trim().is_empty() {
            return Err(Error::BadTarget("a saved target needs a name".into()));
        }
        let clean = without_secrets(profile);
        TARGETS.save(self, &clean.name, &clean)
    }

    /// Every saved target, by name.
    pub fn targets(&self) -> Result<Vec<TargetProfile>> {
        TARGETS.list(self)
    }

    pub fn delete_target(&self, name: &str) -> Result<()> {
        TARGETS.delete(self, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_saved_target_keeps_no_secret() {
        let p = TargetProfile {
            name: "staging".into(),
            url: "http://me:urlpw@localhost:4004/?token=urltok&channel=ops".into(),
            auth: json!({"token": "eyJ.secret.sig", "firebase_id": "fb-1", "password": "pw"}),
            headers: vec![
                ("Authorization".into(), "Bearer abc".into()),
                ("X-Team".into(), "blue".into()),
            ],
            has_token: true,
            ..TargetProfile::default()
        };
        let clean = without_secrets(&p);
        let text = serde_json::to_string(&clean).unwrap();
        assert!(!text.contains("eyJ.secret.sig"), "{text}");
        assert!(!text.contains("Bearer abc"), "{text}");
        assert!(!text.contains("\"pw\""), "{text}");
        assert!(
            !text.contains("urlpw") && !text.contains("urltok"),
            "{text}"
        );
        assert!(text.contains("channel") && text.contains("ops"), "{text}");
        assert!(text.contains("fb-1") && text.contains("X-Team"), "{text}");
        assert!(!clean.has_token);
    }
}
