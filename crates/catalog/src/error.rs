use std::path::{Path, PathBuf};

use lacuna_core::{ImageId, JobId};

/// What can go wrong in the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(
        "{path}: this catalog was made by a newer version of Lacuna (schema version {found}, this build understands up to {supported}); update Lacuna to open it"
    )]
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
    /// The file exists but is not a Lacuna catalog (not SQLite at all, or an SQLite database
    /// with other tables and no Lacuna schema version).
    #[error("{path}: not a Lacuna catalog ({reason})")]
    NotACatalog { path: PathBuf, reason: String },
    /// A write named an image id the catalog does not have.
    #[error("{path}: no image with id {id}")]
    NoSuchImage { path: PathBuf, id: ImageId },
    /// A write named a job id the catalog does not have.
    #[error("{path}: no job with id {id}")]
    NoSuchJob { path: PathBuf, id: JobId },
    /// A migration failed; its transaction was rolled back, so the catalog is still at the
    /// version before it.
    #[error("{path}: upgrading the catalog failed in migration {migration}: {source}")]
    Migration { path: PathBuf, migration: &'static str, source: rusqlite::Error },
    /// A write named an annotation, class or version the catalog does not have.
    #[error("{what} not found")]
    Missing { what: String },
    /// A write that clashes with what is stored (a class name in use, an undo of something
    /// changed since).
    #[error("{0}")]
    Conflict(String),
    /// A write with values the catalog refuses (bad colour, a state that contradicts the
    /// image's annotations).
    #[error("{0}")]
    Invalid(String),
    /// A file-system error around the catalog file (creating it, checking it exists).
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl CatalogError {
    /// Wraps an SQLite error with the catalog's path. "Not a database" and "database disk
    /// image is malformed" get their own variants so callers can tell users what happened.
    pub(crate) fn sqlite(path: &Path, source: rusqlite::Error) -> Self {
        match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => Self::NotACatalog {
                path: path.to_owned(),
                reason: "the file is not an SQLite database".to_owned(),
            },
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
                Self::Corrupt(format!("{}: {source}", path.display()))
            }
            _ => Self::Sqlite { path: path.to_owned(), source },
        }
    }
}

/// `.at(path)` on rusqlite results: the error becomes a [`CatalogError`] naming the catalog.
pub(crate) trait SqlResultExt<T> {
    fn at(self, path: &Path) -> Result<T, CatalogError>;
}

impl<T> SqlResultExt<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T, CatalogError> {
        self.map_err(|e| CatalogError::sqlite(path, e))
    }
}
