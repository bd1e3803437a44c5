use std::path::{Path, PathBuf};

/// What can stop an export or a label import. Each variant names the file or field.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// A label file that cannot be used at all (not the format, unreadable JSON/XML/YAML).
    #[error("{location}: {message}")]
    Malformed { location: crate::Location, message: String },
    /// A request that cannot be met (bad option combination, unknown format).
    #[error("{0}")]
    Invalid(String),
    /// An image file differs from what the catalog recorded (changed since import).
    #[error(
        "{path}: the file changed since it was imported (hash {actual}, catalog has {expected}); re-import the folder"
    )]
    ChangedSource { path: PathBuf, expected: String, actual: String },
    #[error("cancelled")]
    Cancelled,
}

impl ExportError {
    pub fn io(path: &Path, err: &std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), message: err.to_string() }
    }

    pub fn malformed(
        file: &Path,
        line: Option<u64>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Malformed {
            location: crate::Location { file: file.to_path_buf(), line, field },
            message: message.into(),
        }
    }
}
