//! Lacuna's catalog: one SQLite file per project (`catalog.sqlite`), the only user of
//! `rusqlite` in the workspace.
//!
//! Key types:
//! - [`Catalog`]: an open connection (WAL, foreign keys on) with typed reads and writes;
//!   [`Catalog::create`] / [`Catalog::open`] run forward-only migrations tracked by
//!   `PRAGMA user_version`, backing the file up first when an older catalog is migrated;
//! - [`ImportOp`]: one change an import wants, applied in batches by
//!   [`Catalog::apply_import_batch`], each batch one transaction;
//! - [`ImageFilter`] + [`Catalog::list_images`]: filtered, keyset-paginated reads;
//! - [`ImageRow`], [`DuplicateRow`], [`ProblemRow`], [`JobRow`], [`RootRow`], [`CatalogCounts`]:
//!   what reads return;
//! - [`CatalogError`]: what can go wrong, with a clear message for a catalog made by a newer
//!   version of Lacuna.

mod catalog;
mod error;
mod migrations;
mod query;
mod synthetic;
mod types;

pub use catalog::Catalog;
pub use error::CatalogError;
pub use migrations::SCHEMA_VERSION;
pub use types::{
    CatalogCounts, DuplicateRow, HashMatch, ImageFilter, ImageRow, ImportCounts, ImportOp,
    JobRow, JobStatus, KnownDuplicate, KnownFile, ProblemRow, RootRow,
};
