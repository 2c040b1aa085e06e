//! Named JSON rows: the one SQLite shape behind every "saved by name" list (gateway
//! targets, admin targets). Each such table is `(name PRIMARY KEY, <json column>,
//! updated_at)`; this module is the single place that writes, lists and deletes them,
//! so the lists behave alike (upsert by name, listed by name, an unreadable row is
//! skipped with a warning rather than failing the whole list).

use rusqlite::params;
use serde::{de::DeserializeOwned, Serialize};

use crate::Store;
use crate::{Error, Result};
use sockscope_bus::now_micros;

/// One table of named JSON rows. `table` and `column` are compile-time identifiers
/// (never user input), so formatting them into the SQL is safe.
pub(super) struct NamedRows {
    pub table: &'static str,
    pub column: &'static str,
    /// How a row is called in a warning ("saved target", "admin target").
    pub what: &'static str,
}

impl NamedRows {
    /// Inserts or replaces the row `name` with `value` as JSON.
    pub fn save<T: Serialize>(&self, store: &Store, name: &str, value: &T) -> Result<()> {
        let json = serde_json::to_string(value).map_err(|e| Error::Io(e.into()))?;
        let sql = format!(
            "INSERT INTO {t} (name, {c}, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET {c} = excluded.{c}, updated_at = excluded.updated_at",
            t = self.table,
            c = self.column,
        );
        store
            .connect()?
            .execute(&sql, params![name, json, now_micros()])
            .map_err(|e| store.err(e))?;
        Ok(())
    }

    /// Every readable row, by name.
    pub fn list<T: DeserializeOwned>(&self, store: &Store) -> Result<Vec<T>> {
        let conn = store.connect()?;
        let sql = format!(
            "SELECT name, {} FROM {} ORDER BY name",
            self.column, self.table
        );
        let mut st = conn.prepare(&sql).map_err(|e| store.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| store.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| store.err(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(name, json)| match serde_json::from_str(&json) {
                Ok(v) => Some(v),
                Err(error) => {
                    tracing::warn!(target_name = %name, %error, "unreadable {} skipped", self.what);
                    None
                }
            })
            .collect())
    }

    /// Deletes the row `name` (absent is not an error).
    pub fn delete(&self, store: &Store, name: &str) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE name = ?1", self.table);
        store
            .connect()?
            .execute(&sql, [name])
            .map_err(|e| store.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sockscope_protocol::{AdminTarget, TargetProfile};

    use super::*;

    #[test]
    fn both_lists_upsert_by_name_list_in_order_and_skip_an_unreadable_row() {
        let dir = sockscope_test_support::scratch("named", "lists");
        let store = Store::open(dir.join("n.db")).unwrap();
        let target = |name: &str, namespace: &str| TargetProfile {
            name: name.into(),
            url: "http://127.0.0.1:3069".into(),
            namespace: namespace.into(),
            ..TargetProfile::default()
        };
        store.save_target(&target("b", "/one")).unwrap();
        store.save_target(&target("a", "/x")).unwrap();
        store.save_target(&target("b", "/two")).unwrap();
        store
            .connect()
            .unwrap()
            .execute(
                "INSERT INTO targets (name, profile, updated_at) VALUES ('c', 'not json', 0)",
                [],
            )
            .unwrap();
        let all = store.targets().unwrap();
        let seen: Vec<_> = all
            .iter()
            .map(|t| (t.name.as_str(), t.namespace.as_str()))
            .collect();
        assert_eq!(seen, [("a", "/x"), ("b", "/two")]);
        store.delete_target("b").unwrap();
        store.delete_target("absent").unwrap();
        assert_eq!(store.targets().unwrap().len(), 1);
        // The other table is its own list.
        let admin = AdminTarget {
            name: "a".into(),
            ..AdminTarget::default()
        };
        store.save_admin_target(&admin).unwrap();
        assert_eq!(store.admin_targets().unwrap().len(), 1);
        store.delete_admin_target("a").unwrap();
        assert!(store.admin_targets().unwrap().is_empty());
        assert_eq!(store.targets().unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
