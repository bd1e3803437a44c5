//! The folder an export is written into: every file written through here is hashed as it is
//! written and listed for the manifest; images are copied, hard-linked or only referenced.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use lacuna_core::ContentHash;
use serde::Serialize;

use crate::{DatasetImage, ExportError, ImageMode};

/// A file the export wrote (or, for referenced images, points at).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenFile {
    /// Path relative to the export folder, `/`-separated (absolute for referenced images).
    pub path: String,
    /// BLAKE3 of the content, hex.
    pub blake3: String,
    pub bytes: u64,
}

/// A writable file inside an [`OutputDir`] that hashes what goes through it.
#[derive(Debug)]
pub struct OutputFile {
    rel: String,
    path: PathBuf,
    out: BufWriter<File>,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The export folder being filled (a staging folder the caller renames when all is done).
#[derive(Debug)]
pub struct OutputDir<'a> {
    root: PathBuf,
    files: Vec<WrittenFile>,
    cancel: &'a AtomicBool,
    /// Folders already made (a YOLO export writes 100,000 files into a few folders: one
    /// `mkdir` each, not one per file).
    made_dirs: std::collections::HashSet<PathBuf>,
    /// Images copied where a hard link was asked for but the file system refused.
    pub link_fallbacks: u64,
}

impl<'a> OutputDir<'a> {
    /// Uses `root` (created if needed) as the folder files go into.
    pub fn new(root: &Path, cancel: &'a AtomicBool) -> Result<Self, ExportError> {
        std::fs::create_dir_all(root).map_err(|e| ExportError::io(root, &e))?;
        Ok(Self {
            root: root.to_path_buf(),
            files: Vec::new(),
            cancel,
            made_dirs: std::collections::HashSet::new(),
            link_fallbacks: 0,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Fails with [`ExportError::Cancelled`] once cancel was requested.
    pub fn check_cancel(&self) -> Result<(), ExportError> {
        if self.cancel.load(Ordering::Relaxed) { Err(ExportError::Cancelled) } else { Ok(()) }
    }

    fn full_path(&mut self, rel: &str) -> Result<PathBuf, ExportError> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent()
            && !self.made_dirs.contains(parent)
        {
            std::fs::create_dir_all(parent).map_err(|e| ExportError::io(parent, &e))?;
            self.made_dirs.insert(parent.to_path_buf());
        }
        Ok(path)
    }

    /// Opens `rel` (a `/`-separated path inside the export) for writing.
    pub fn create(&mut self, rel: &str) -> Result<OutputFile, ExportError> {
        let path = self.full_path(rel)?;
        let file = File::create(&path).map_err(|e| ExportError::io(&path, &e))?;
        Ok(OutputFile {
            rel: rel.to_string(),
            path,
            out: BufWriter::with_capacity(1 << 13, file),
            hasher: blake3::Hasher::new(),
            bytes: 0,
        })
    }

    /// Flushes and closes a file from [`Self::create`] and lists it for the manifest.
    pub fn finish(&mut self, mut file: OutputFile) -> Result<(), ExportError> {
        file.out.flush().map_err(|e| ExportError::io(&file.path, &e))?;
        self.files.push(WrittenFile {
            path: file.rel,
            blake3: file.hasher.finalize().to_hex().to_string(),
            bytes: file.bytes,
        });
        Ok(())
    }

    /// Writes a whole small file.
    pub fn write_file(&mut self, rel: &str, bytes: &[u8]) -> Result<(), ExportError> {
        let mut file = self.create(rel)?;
        file.write_all(bytes).map_err(|e| ExportError::io(&file.path, &e))?;
        self.finish(file)
    }

    /// Puts `image` at `rel` as `mode` says: copy (hashed while copied and checked against the
    /// catalog's hash), hard link (copy where linking fails), reference (listed with its
    /// absolute path) or nothing.
    pub fn place_image(
        &mut self,
        rel: &str,
        image: &DatasetImage,
        mode: ImageMode,
    ) -> Result<(), ExportError> {
        match mode {
            ImageMode::None => Ok(()),
            ImageMode::Reference => {
                self.files.push(WrittenFile {
                    path: image.source_path.to_string_lossy().replace('\\', "/"),
                    blake3: image.content_hash.to_hex(),
                    bytes: image.file_size_bytes,
                });
                Ok(())
            }
            ImageMode::Hardlink => {
                let path = self.full_path(rel)?;
                match std::fs::hard_link(&image.source_path, &path) {
                    Ok(()) => {
                        self.files.push(WrittenFile {
                            path: rel.to_string(),
                            blake3: image.content_hash.to_hex(),
                            bytes: image.file_size_bytes,
                        });
                        Ok(())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err(ExportError::io(&image.source_path, &e))
                    }
                    Err(_) => {
                        self.link_fallbacks += 1;
                        self.copy_image(rel, image)
                    }
                }
            }
            ImageMode::Copy => self.copy_image(rel, image),
        }
    }

    fn copy_image(&mut self, rel: &str, image: &DatasetImage) -> Result<(), ExportError> {
        let mut src = File::open(&image.source_path).map_err(|e| ExportError::io(&image.source_path, &e))?;
        let mut out = self.create(rel)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = src.read(&mut buf).map_err(|e| ExportError::io(&image.source_path, &e))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n]).map_err(|e| ExportError::io(&out.path, &e))?;
        }
        let actual = out.hasher.finalize();
        let actual = ContentHash(*actual.as_bytes());
        if actual != image.content_hash {
            return Err(ExportError::ChangedSource {
                path: image.source_path.clone(),
                expected: image.content_hash.to_hex(),
                actual: actual.to_hex(),
            });
        }
        self.finish(out)
    }

    /// Every file written or referenced so far, sorted by path.
    pub fn into_files(mut self) -> Vec<WrittenFile> {
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        self.files
    }
}
