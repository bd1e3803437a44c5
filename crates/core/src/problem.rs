use serde::{Deserialize, Serialize};

/// Why one file was not imported. The names are stable codes stored in the catalog and shown
/// to scripts; the message that goes with them is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The file has zero bytes.
    EmptyFile,
    /// The file starts like a supported image but its data ends early or is corrupt.
    Corrupt,
    /// The content is not an image we recognise (random bytes, text, ...).
    NotAnImage,
    /// A real image format we do not read (HEIC, AVIF, PSD, ...).
    UnsupportedFormat,
    /// The header claims more pixels than the configured limit; nothing was allocated.
    TooLarge,
    /// The file or folder cannot be read with the current permissions.
    PermissionDenied,
    /// The file name is not valid UTF-8, so it cannot be written into dataset formats.
    NonUtf8Name,
    /// A symbolic link leads back into a folder being walked.
    SymlinkLoop,
    /// The file disappeared between the folder listing and reading it.
    Vanished,
    /// Any other I/O error.
    Io,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmptyFile => "empty_file",
            Self::Corrupt => "corrupt",
            Self::NotAnImage => "not_an_image",
            Self::UnsupportedFormat => "unsupported_format",
            Self::TooLarge => "too_large",
            Self::PermissionDenied => "permission_denied",
            Self::NonUtf8Name => "non_utf8_name",
            Self::SymlinkLoop => "symlink_loop",
            Self::Vanished => "vanished",
            Self::Io => "io",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "empty_file" => Self::EmptyFile,
            "corrupt" => Self::Corrupt,
            "not_an_image" => Self::NotAnImage,
            "unsupported_format" => Self::UnsupportedFormat,
            "too_large" => Self::TooLarge,
            "permission_denied" => Self::PermissionDenied,
            "non_utf8_name" => Self::NonUtf8Name,
            "symlink_loop" => Self::SymlinkLoop,
            "vanished" => Self::Vanished,
            "io" => Self::Io,
            _ => return None,
        })
    }
}

/// One file an import could not take, with the reason in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportProblem {
    /// The file's path as the user would type it (lossy for non-UTF-8 names).
    pub path: String,
    pub kind: ProblemKind,
    /// Plain-language reason, e.g. "the JPEG data ends early (truncated file?)".
    pub message: String,
}

impl ImportProblem {
    pub fn new(path: impl Into<String>, kind: ProblemKind, message: impl Into<String>) -> Self {
        Self { path: path.into(), kind, message: message.into() }
    }
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip_and_match_serde() {
        let all = [
            ProblemKind::EmptyFile,
            ProblemKind::Corrupt,
            ProblemKind::NotAnImage,
            ProblemKind::UnsupportedFormat,
            ProblemKind::TooLarge,
            ProblemKind::PermissionDenied,
            ProblemKind::NonUtf8Name,
            ProblemKind::SymlinkLoop,
            ProblemKind::Vanished,
            ProblemKind::Io,
        ];
        for kind in all {
            assert_eq!(ProblemKind::from_name(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
