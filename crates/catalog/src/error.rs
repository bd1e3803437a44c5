use std::path::PathBuf;

/// What can go wrong in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{path}: this catalog was made by a newer version of Lacuna (schema version {found}, this build understands up to {supported}); update Lacuna to open it")]
    NewerVersion { path: PathBuf, found: u32, supported: u32 },
    #[error("{path}: no catalog here")]
    NotFound { path: PathBuf },
    #[error("{path}: a catalog already exists here")]
    AlreadyExists { path: PathBuf },
    #[error("{path}: could not back up the catalog before migrating it from schema version {from}: {source}")]
    Backup { path: PathBuf, from: u32, source: rusqlite::Error },
    #[error("{path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("catalog data is inconsistent: {0}")]
    Corrupt(String),
}
