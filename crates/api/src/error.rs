use serde::{Deserialize, Serialize};

/// Stable error codes: the UI and scripts branch on these, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No project at the given directory.
    ProjectNotFound,
    /// A project already exists where one was to be created.
    ProjectExists,
    /// The catalog was written by a newer Lacuna.
    CatalogTooNew,
    /// The catalog file is damaged or is not a Lacuna catalog.
    CatalogCorrupt,
    /// A path given to import does not exist or cannot be read.
    PathNotFound,
    /// An argument is malformed (bad cursor, bad filter value, ...).
    InvalidInput,
    /// The requested image (or other item) does not exist.
    NotFound,
    /// No model file at the given path, or the default model is not installed.
    ModelNotFound,
    /// The model file is not usable (corrupt, wrong shapes, a card that disagrees).
    ModelInvalid,
    /// The accelerator ran out of memory: a smaller batch may help.
    OutOfMemory,
    /// The write clashes with what is stored: a name in use, an undo of something changed
    /// since, an image file changed since import.
    Conflict,
    /// Another job of the same kind is running on this project.
    JobRunning,
    /// The job was cancelled.
    Cancelled,
    /// A file system error outside the per-file problems an import reports.
    Io,
    /// A bug or an unexpected state; the message says more.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProjectNotFound => "project_not_found",
            Self::ProjectExists => "project_exists",
            Self::CatalogTooNew => "catalog_too_new",
            Self::CatalogCorrupt => "catalog_corrupt",
            Self::PathNotFound => "path_not_found",
            Self::InvalidInput => "invalid_input",
            Self::NotFound => "not_found",
            Self::ModelNotFound => "model_not_found",
            Self::ModelInvalid => "model_invalid",
            Self::OutOfMemory => "out_of_memory",
            Self::Conflict => "conflict",
            Self::JobRunning => "job_running",
            Self::Cancelled => "cancelled",
            Self::Io => "io",
            Self::Internal => "internal",
        }
    }
}

/// An error that reaches a user: a stable code and a plain-language message that names the
/// file or field involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub(crate) fn io(path: &std::path::Path, err: &std::io::Error) -> Self {
        let code =
            if err.kind() == std::io::ErrorKind::NotFound { ErrorCode::PathNotFound } else { ErrorCode::Io };
        Self::new(code, format!("{}: {err}", path.display()))
    }
}

impl From<lacuna_catalog::CatalogError> for ApiError {
    fn from(err: lacuna_catalog::CatalogError) -> Self {
        use lacuna_catalog::CatalogError as E;
        let code = match &err {
            E::NewerVersion { .. } => ErrorCode::CatalogTooNew,
            E::NotFound { .. } => ErrorCode::ProjectNotFound,
            E::AlreadyExists { .. } => ErrorCode::ProjectExists,
            E::Corrupt(_) | E::NotACatalog { .. } => ErrorCode::CatalogCorrupt,
            E::Missing { .. } | E::NoSuchImage { .. } | E::NoSuchJob { .. } => ErrorCode::NotFound,
            E::Conflict(_) => ErrorCode::Conflict,
            E::Invalid(_) => ErrorCode::InvalidInput,
            _ => ErrorCode::Internal,
        };
        Self::new(code, err.to_string())
    }
}
