//! Saved admin targets: the Inspector's remote sources (URL, admin namespace, path,
//! username, tenant room pattern). Passwords are not here: they go to the keychain
//! (`crate::admin_client::inspector`), and `has_password` is computed on read. The URL is kept
//! without userinfo, query or fragment, so a credential typed into it is not stored.

use sockscope_protocol::AdminTarget;

use crate::named::NamedRows;
use crate::Store;
use crate::{Error, Result};
use sockscope_bus::redact;

/// The target as it may be stored.
pub fn storable(t: &AdminTarget) -> AdminTarget {
    AdminTarget {
        name: t.name.trim().to_owned(),
        url: redact::url_base(t.url.trim()),
        has_password: false,
        ..t.clone()
    }
}

/// The admin-target list in the store.
const ADMIN_TARGETS: NamedRows = NamedRows {
    table: "admin_targets",
    column: "target",
    what: "admin target",
};

impl Store {
    /// Saves (or replaces) an admin target by name, minus any secret.
    pub fn save_admin_target(&self, target: &AdminTarget) -> Result<()> {
        if target.name.trim().is_empty() {
            return Err(Error::BadTarget("a saved admin target needs a name".into()));
        }
        let clean = storable(target);
        ADMIN_TARGETS.save(self, &clean.name, &clean)
    }

    /// Every saved admin target, by name.
    pub fn admin_targets(&self) -> Result<Vec<AdminTarget>> {
        ADMIN_TARGETS.list(self)
    }

    pub fn delete_admin_target(&self, name: &str) -> Result<()> {
        ADMIN_TARGETS.delete(self, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_targets_round_trip_without_credentials() {
        let dir = sockscope_test_support::scratch("admin-targets", "round-trip");
        let store = Store::open(dir.join("t.db")).unwrap();
        let t = AdminTarget {
            name: " prod ".into(),
            url: "http://admin:pw@h:3000/?token=abc".into(),
            namespace: "/admin".into(),
            username: Some("admin".into()),
            has_password: true,
            ..AdminTarget::default()
        };
        store.save_admin_target(&t).unwrap();
        let all = store.admin_targets().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, "prod");
        assert!(
            !all[0].url.contains("pw") && !all[0].url.contains("abc"),
            "{}",
            all[0].url
        );
        assert!(!all[0].has_password);
        store.delete_admin_target("prod").unwrap();
        assert!(store.admin_targets().unwrap().is_empty());
        assert!(store.save_admin_target(&AdminTarget::default()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
