use std::io;

use lacuna_core::{ImportProblem, ProblemKind};

/// Errors of the thin JPEG helpers [`crate::encode_jpeg`] and [`crate::decode_jpeg_reduced`].
/// Probing never returns this: it reports [`ImportProblem`]s.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The arguments do not describe a valid image (buffer size, dimensions, scale).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// libjpeg-turbo refused the data.
    #[error("JPEG error: {0}")]
    Jpeg(String),
}

impl From<turbojpeg::Error> for IngestError {
    fn from(err: turbojpeg::Error) -> Self {
        Self::Jpeg(turbojpeg_message(&err))
    }
}

/// The bare libjpeg message, without the wrapper crate's "TurboJPEG error: " prefix.
pub(crate) fn turbojpeg_message(err: &turbojpeg::Error) -> String {
    match err {
        turbojpeg::Error::TurboJpegError(msg) => msg.trim().to_owned(),
        other => other.to_string(),
    }
}

/// Turns an I/O error on a file or folder into a problem with a plain-language message:
/// not found becomes [`ProblemKind::Vanished`], permission denied becomes
/// [`ProblemKind::PermissionDenied`], anything else [`ProblemKind::Io`].
pub fn io_problem(display_path: &str, err: &io::Error) -> ImportProblem {
    let (kind, message) = match err.kind() {
        io::ErrorKind::NotFound => {
            (ProblemKind::Vanished, "the file disappeared during the import".to_owned())
        }
        io::ErrorKind::PermissionDenied => (
            ProblemKind::PermissionDenied,
            "cannot read it: permission denied (check the file's access rights)".to_owned(),
        ),
        io::ErrorKind::IsADirectory => (ProblemKind::Io, "this is a folder, not a file".to_owned()),
        io::ErrorKind::OutOfMemory => (ProblemKind::Io, "not enough memory to read the file".to_owned()),
        _ => (ProblemKind::Io, format!("could not read it: {err}")),
    };
    ImportProblem::new(display_path, kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_problem_kinds() {
        let cases = [
            (io::ErrorKind::NotFound, ProblemKind::Vanished),
            (io::ErrorKind::PermissionDenied, ProblemKind::PermissionDenied),
            (io::ErrorKind::IsADirectory, ProblemKind::Io),
            (io::ErrorKind::Interrupted, ProblemKind::Io),
            (io::ErrorKind::UnexpectedEof, ProblemKind::Io),
        ];
        for (io_kind, expected) in cases {
            let problem = io_problem("a/b.jpg", &io::Error::from(io_kind));
            assert_eq!(problem.kind, expected, "{io_kind:?}");
            assert_eq!(problem.path, "a/b.jpg");
            assert!(!problem.message.is_empty());
        }
        let vanished = io_problem("x", &io::Error::from(io::ErrorKind::NotFound));
        assert_eq!(vanished.message, "the file disappeared during the import");
        let denied = io_problem("x", &io::Error::from_raw_os_error(13));
        assert_eq!(denied.kind, ProblemKind::PermissionDenied);
    }
}
