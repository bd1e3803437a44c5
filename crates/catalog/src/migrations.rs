//! Forward-only schema migrations.
//!
//! Each migration is an SQL file under `crates/catalog/migrations/`, compiled in. Migration
//! `k` (1-based) takes a catalog from schema version `k - 1` to `k`; the version is kept in
//! `PRAGMA user_version`. Each migration runs in its own transaction that also sets
//! `user_version`, so a catalog is always at exactly one version, never half-migrated.
//!
//! Rules for new migrations:
//! - append a file and an entry to [`MIGRATIONS`]; never edit one that has shipped (catalogs
//!   in the field have already run it);
//! - migrations run with `foreign_keys = ON`, which cannot be changed inside a transaction:
//!   a migration that rebuilds a table must keep every foreign key satisfied at each
//!   statement (copy into a new table, drop the old one, rename), or this module must learn to
//!   turn foreign keys off around it and run `PRAGMA foreign_key_check` before committing.

use std::path::Path;

use rusqlite::Connection;

use crate::CatalogError;

/// The schema version this build writes and understands (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// One migration: a name for messages and its SQL.
pub(crate) struct Migration {
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// All migrations in order; index `k - 1` produces schema version `k`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration { name: "0001_initial", sql: include_str!("../migrations/0001_initial.sql") },
    Migration {
        name: "0002_image_filter_indexes",
        sql: include_str!("../migrations/0002_image_filter_indexes.sql"),
    },
    Migration {
        name: "0003_models_and_predictions",
        sql: include_str!("../migrations/0003_models_and_predictions.sql"),
    },
    Migration {
        name: "0004_annotations_and_versions",
        sql: include_str!("../migrations/0004_annotations_and_versions.sql"),
    },
    Migration {
        name: "0005_conditions_and_queues",
        sql: include_str!("../migrations/0005_conditions_and_queues.sql"),
    },
    Migration { name: "0006_ranking_cache", sql: include_str!("../migrations/0006_ranking_cache.sql") },
];

/// Applies migrations `from + 1 ..= to`, each in its own transaction that also sets
/// `user_version`. The caller has checked `from <= to <= SCHEMA_VERSION`; `path` is for
/// messages.
pub(crate) fn migrate(conn: &mut Connection, from: u32, to: u32, path: &Path) -> Result<(), CatalogError> {
    for version in from + 1..=to {
        let index = (version - 1) as usize;
        let Some(migration) = MIGRATIONS.get(index) else {
            break;
        };
        let apply = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            tx.execute_batch(migration.sql)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()
        };
        apply(conn).map_err(|source| CatalogError::Migration {
            path: path.to_owned(),
            migration: migration.name,
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_names_are_numbered_in_order() {
        for (i, migration) in MIGRATIONS.iter().enumerate() {
            let prefix = format!("{:04}_", i + 1);
            assert!(migration.name.starts_with(&prefix), "{} out of order", migration.name);
            assert!(!migration.sql.trim().is_empty());
        }
        assert_eq!(SCHEMA_VERSION as usize, MIGRATIONS.len());
    }

    #[test]
    fn each_migration_sets_its_version_atomically() {
        let mut conn = Connection::open_in_memory().expect("open");
        let path = Path::new(":memory:");
        migrate(&mut conn, 0, 1, path).expect("migrate to 1");
        let v: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("v");
        assert_eq!(v, 1);
        migrate(&mut conn, 1, SCHEMA_VERSION, path).expect("migrate to latest");
        let v: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("v");
        assert_eq!(v, SCHEMA_VERSION);
    }
}
