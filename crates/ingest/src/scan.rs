//! Walking an import root.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::ops::ControlFlow;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use lacuna_core::{ImportProblem, ProblemKind};
use walkdir::{DirEntry, WalkDir};

/// One thing a walk found.
#[derive(Debug, Clone)]
pub enum ScanItem {
    File(FoundFile),
    /// A file or folder that could not be listed or named (permission denied on a folder,
    /// symlink loop, non-UTF-8 name, ...). The walk goes on.
    Problem(ImportProblem),
    /// A regular file whose extension says it is not an image (.txt, .json, .xml, .csv, ...):
    /// counted, not probed.
    Ignored(PathBuf),
}

/// A file that may be an image, to be probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    pub abs_path: PathBuf,
    /// Relative to the scan root, '/'-separated, valid UTF-8.
    pub rel_path: String,
    pub file_size_bytes: u64,
    /// Modification time, ns since the Unix epoch.
    pub mtime_ns: i64,
}

/// Extensions of files that are probed. The unsupported image formats are probed too, so that
/// they are reported as such instead of silently skipped.
const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "mpo", "png", "webp", "tif", "tiff", "bmp", "dib", "gif", // read
    "heic", "heif", "avif", "jxl", "jp2", "j2k", "psd", "ico", "cr2", "nef", "arw", "dng",
    "raw", // recognised, not read
];

/// Whether a file name makes the file a candidate for probing: an image extension or none.
fn is_candidate_name(name: &OsStr) -> bool {
    match Path::new(name).extension() {
        None => true,
        Some(ext) => {
            let ext = ext.as_encoded_bytes();
            ext.is_empty() || IMAGE_EXTENSIONS.iter().any(|known| known.as_bytes().eq_ignore_ascii_case(ext))
        }
    }
}

fn is_hidden(name: &OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

fn is_project_folder(name: &OsStr) -> bool {
    let bytes = name.as_encoded_bytes();
    bytes.len() > 7 && bytes[bytes.len() - 7..].eq_ignore_ascii_case(b".lacuna")
}

/// Modification time in ns since the Unix epoch (negative before it, 0 when unknown).
pub(crate) fn mtime_ns(meta: &Metadata) -> i64 {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |n| -n),
        },
        Err(_) => 0,
    }
}

fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// '/'-joined components of `path` below `root`, if all are valid UTF-8.
fn rel_path(path: &Path, root: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut out = String::new();
    for component in rel.components() {
        let Component::Normal(part) = component else { return None };
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part.to_str()?);
    }
    (!out.is_empty()).then_some(out)
}

fn non_utf8(path: &Path, folder: bool) -> ImportProblem {
    let message = if folder {
        "the folder name is not valid text (UTF-8), so its files cannot be written to dataset \
         files; it was skipped (rename it to import it)"
    } else {
        "the file name is not valid text (UTF-8), so it cannot be written to dataset files; \
         rename it to import it"
    };
    ImportProblem::new(lossy(path), ProblemKind::NonUtf8Name, message)
}

fn root_problem(path: &Path, err: &io::Error) -> ImportProblem {
    let (kind, message) = match err.kind() {
        io::ErrorKind::NotFound => (ProblemKind::Vanished, "it does not exist".to_owned()),
        io::ErrorKind::PermissionDenied => {
            (ProblemKind::PermissionDenied, "cannot open it: permission denied".to_owned())
        }
        _ => (ProblemKind::Io, format!("cannot open it: {err}")),
    };
    ImportProblem::new(lossy(path), kind, message)
}

/// What a failed step of the walk becomes, or `None` to pass over it silently.
fn walk_problem(err: &walkdir::Error, root: &Path) -> Option<ScanItem> {
    let path = err.path().unwrap_or(root);
    if err.depth() > 0 && path.file_name().is_some_and(is_hidden) {
        return None;
    }
    if let Some(ancestor) = err.loop_ancestor() {
        return Some(ScanItem::Problem(ImportProblem::new(
            lossy(path),
            ProblemKind::SymlinkLoop,
            format!(
                "this link leads back to the folder {} (a loop), so it was not followed",
                ancestor.display()
            ),
        )));
    }
    let Some(io_err) = err.io_error() else {
        return Some(ScanItem::Problem(ImportProblem::new(
            lossy(path),
            ProblemKind::Io,
            format!("could not list it: {err}"),
        )));
    };
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let (kind, message) = match io_err.kind() {
        io::ErrorKind::PermissionDenied => (
            ProblemKind::PermissionDenied,
            "cannot open this folder: permission denied (check its access rights)".to_owned(),
        ),
        io::ErrorKind::NotFound if is_link => {
            if path.file_name().is_some_and(|n| !is_candidate_name(n)) {
                return Some(ScanItem::Ignored(path.to_path_buf()));
            }
            (ProblemKind::Io, "this link points to something that does not exist (a broken link)".to_owned())
        }
        io::ErrorKind::NotFound => (ProblemKind::Vanished, "it disappeared during the import".to_owned()),
        _ => (ProblemKind::Io, format!("could not list it: {io_err}")),
    };
    Some(ScanItem::Problem(ImportProblem::new(lossy(path), kind, message)))
}

fn found_file(entry: &DirEntry, root: &Path) -> ScanItem {
    let path = entry.path();
    let Some(rel_path) = rel_path(path, root) else {
        return ScanItem::Problem(non_utf8(path, false));
    };
    match entry.metadata() {
        Ok(meta) => ScanItem::File(FoundFile {
            abs_path: path.to_path_buf(),
            rel_path,
            file_size_bytes: meta.len(),
            mtime_ns: mtime_ns(&meta),
        }),
        Err(err) => {
            let io_err = err.into_io_error().unwrap_or_else(|| io::Error::other("unknown error"));
            ScanItem::Problem(crate::error::io_problem(&lossy(path), &io_err))
        }
    }
}

/// Walks `root` (a folder: recursively, following symlinks but reporting loops as
/// [`ProblemKind::SymlinkLoop`] instead of following them; entries sorted by file name for a
/// deterministic order; hidden entries starting with '.' skipped; a folder named `*.lacuna`
/// (a Lacuna project) skipped) and calls `visit` for each item; stops early when `visit`
/// returns `ControlFlow::Break(())`.
///
/// A file is a candidate when its extension is one of the image extensions (jpg jpeg jpe jfif
/// mpo png webp tif tiff bmp dib gif, plus the unsupported image ones heic heif avif jxl jp2
/// j2k psd ico cr2 nef arw dng raw — these still get sniffed and become UnsupportedFormat
/// problems) or it has no extension; case-insensitive. Anything else is
/// [`ScanItem::Ignored`]. Non-UTF-8 names become `ScanItem::Problem(NonUtf8Name)` with a lossy
/// path (a folder with such a name is reported once and not entered). Devices, pipes and
/// sockets are passed over.
///
/// If `root` is a file, yields just that file with `rel_path` = its file name.
/// Returns `Err` only if `root` itself cannot be read (not found / not a folder or file /
/// permission).
pub fn scan(root: &Path, mut visit: impl FnMut(ScanItem) -> ControlFlow<()>) -> Result<(), ImportProblem> {
    let root = std::path::absolute(root).map_err(|e| root_problem(root, &e))?;
    let meta = std::fs::metadata(&root).map_err(|e| root_problem(&root, &e))?;
    if meta.is_file() {
        let item = match root.file_name().map(|n| n.to_str()) {
            Some(Some(name)) => ScanItem::File(FoundFile {
                abs_path: root.clone(),
                rel_path: name.to_owned(),
                file_size_bytes: meta.len(),
                mtime_ns: mtime_ns(&meta),
            }),
            _ => ScanItem::Problem(non_utf8(&root, false)),
        };
        let _ = visit(item);
        return Ok(());
    }
    if !meta.is_dir() {
        return Err(ImportProblem::new(
            lossy(&root),
            ProblemKind::Io,
            "it is neither a folder nor a regular file",
        ));
    }
    // Fail on the root itself rather than reporting it as a problem item.
    std::fs::read_dir(&root).map_err(|e| root_problem(&root, &e))?;

    let mut walker =
        WalkDir::new(&root).follow_links(true).sort_by_file_name().into_iter().filter_entry(|e| {
            e.depth() == 0
                || !(is_hidden(e.file_name()) || (e.file_type().is_dir() && is_project_folder(e.file_name())))
        });
    while let Some(next) = walker.next() {
        let item = match next {
            Err(err) => match walk_problem(&err, &root) {
                Some(item) => item,
                None => continue,
            },
            Ok(entry) if entry.depth() == 0 => continue,
            Ok(entry) => {
                let file_type = entry.file_type();
                if file_type.is_dir() {
                    if entry.file_name().to_str().is_some() {
                        continue;
                    }
                    walker.skip_current_dir();
                    ScanItem::Problem(non_utf8(entry.path(), true))
                } else if !is_candidate_name(entry.file_name()) {
                    if !file_type.is_file() {
                        continue;
                    }
                    ScanItem::Ignored(entry.into_path())
                } else if !file_type.is_file() {
                    // A pipe or device with an image name: reading it could block forever.
                    continue;
                } else {
                    found_file(&entry, &root)
                }
            }
        };
        if visit(item).is_break() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_names() {
        for name in ["a.jpg", "B.JPEG", "c.Png", "d", "e.", "f.heic", "g.tiff", "h.MPO", "i.dng"] {
            assert!(is_candidate_name(OsStr::new(name)), "{name}");
        }
        for name in ["a.txt", "b.json", "c.xml", "d.csv", "e.jpg.bak", "f.mp4", "g.jpgx"] {
            assert!(!is_candidate_name(OsStr::new(name)), "{name}");
        }
    }

    #[test]
    fn project_and_hidden_names() {
        assert!(is_project_folder(OsStr::new("demo.lacuna")));
        assert!(is_project_folder(OsStr::new("Demo.LACUNA")));
        assert!(!is_project_folder(OsStr::new(".lacuna")));
        assert!(!is_project_folder(OsStr::new("lacuna")));
        assert!(is_hidden(OsStr::new(".git")));
        assert!(!is_hidden(OsStr::new("a.jpg")));
    }

    #[test]
    fn relative_paths_use_slashes() {
        let root = Path::new("/data/root");
        assert_eq!(rel_path(Path::new("/data/root/a/b.jpg"), root), Some("a/b.jpg".into()));
        assert_eq!(rel_path(Path::new("/data/root"), root), None);
        assert_eq!(rel_path(Path::new("/elsewhere/x.jpg"), root), None);
    }
}
