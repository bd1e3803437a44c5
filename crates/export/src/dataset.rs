//! Writing a version to disk: a format writer fed one image at a time, a staging folder renamed
//! into place at the end, and the manifest.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use lacuna_core::Split;
use serde::Serialize;

use crate::formats::{self, WriteContext};
use crate::output::{OutputDir, WrittenFile};
use crate::{DatasetAnnotation, DatasetImage, ExportError, Format, ImageMode, VersionInfo};

/// Name of the manifest inside an export.
pub const MANIFEST_FILE: &str = "manifest.json";
const SPOOL_FILE: &str = ".lacuna-manifest-images.jsonl";

/// The images of a version, in a fixed order.
pub trait DatasetSource {
    /// Calls `visit` once per image with its annotations, in the same order on every call.
    #[allow(clippy::type_complexity)]
    fn for_each_image(
        &mut self,
        visit: &mut dyn FnMut(&DatasetImage, &[DatasetAnnotation]) -> Result<(), ExportError>,
    ) -> Result<(), ExportError>;
}

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportRequest<'a> {
    pub format: Format,
    pub images: ImageMode,
    /// Class names, index = class index in the export.
    pub classes: &'a [String],
    pub version: &'a VersionInfo,
    /// The folder to create. It must not exist (or be empty) unless `overwrite`.
    pub out_dir: &'a Path,
    pub overwrite: bool,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportSummary {
    pub out_dir: PathBuf,
    pub format: Format,
    pub images: u64,
    pub annotations: u64,
    /// Files listed in the manifest (written, linked or referenced), and their total size.
    pub files: u64,
    pub bytes: u64,
    /// Annotations the format could not express, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Images copied because a hard link was refused (another file system).
    pub link_fallbacks: u64,
    pub manifest: PathBuf,
}

#[derive(Default, Serialize)]
struct SplitCounts {
    images: u64,
    annotations: u64,
}

#[derive(Serialize)]
struct ManifestImage<'a> {
    path: &'a str,
    split: Split,
    source: String,
    blake3: String,
    width_px: u32,
    height_px: u32,
    orientation: u8,
    annotations: usize,
    #[serde(flatten)]
    provenance: &'a crate::Provenance,
}

#[derive(Serialize)]
struct ManifestHead<'a> {
    lacuna_manifest: u32,
    version: &'a VersionInfo,
    format: Format,
    images_mode: ImageMode,
    classes: Vec<ManifestClass<'a>>,
    counts: ManifestCounts,
    skipped: &'a BTreeMap<String, u64>,
    training: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct ManifestClass<'a> {
    index: usize,
    name: &'a str,
}

#[derive(Serialize)]
struct ManifestCounts {
    images: u64,
    annotations: u64,
    per_split: BTreeMap<Split, SplitCounts>,
    /// class -> split -> annotations
    per_class: BTreeMap<String, BTreeMap<Split, u64>>,
    /// condition key -> value -> split -> images
    per_condition: BTreeMap<String, BTreeMap<String, BTreeMap<Split, u64>>>,
}

/// Writes the version `source` holds in `req.format` into `req.out_dir`, with
/// `manifest.json`. Work happens in `<out_dir>.partial` and is renamed into place only when
/// complete, so a crash or cancel never leaves a half export under the real name.
/// `progress` gets the number of images written so far.
pub fn write_dataset(
    req: &ExportRequest<'_>,
    source: &mut dyn DatasetSource,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<ExportSummary, ExportError> {
    let out_dir = req.out_dir;
    if dir_has_entries(out_dir)? && !req.overwrite {
        return Err(ExportError::Invalid(format!(
            "{}: the folder exists and is not empty; pick a new folder or pass --overwrite",
            out_dir.display()
        )));
    }
    let staging = staging_path(out_dir);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| ExportError::io(&staging, &e))?;
    }
    let result = write_staged(req, &staging, source, progress, cancel);
    let mut summary = match result {
        Ok(summary) => summary,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if out_dir.exists() {
        std::fs::remove_dir_all(out_dir).map_err(|e| ExportError::io(out_dir, &e))?;
    }
    std::fs::rename(&staging, out_dir).map_err(|e| ExportError::io(out_dir, &e))?;
    summary.out_dir = out_dir.to_path_buf();
    summary.manifest = out_dir.join(MANIFEST_FILE);
    Ok(summary)
}

fn staging_path(out_dir: &Path) -> PathBuf {
    let mut name = out_dir.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    out_dir.with_file_name(name)
}

fn dir_has_entries(dir: &Path) -> Result<bool, ExportError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            Err(ExportError::Invalid(format!("{}: exists and is a file, not a folder", dir.display())))
        }
        Err(e) => Err(ExportError::io(dir, &e)),
    }
}

fn write_staged(
    req: &ExportRequest<'_>,
    staging: &Path,
    source: &mut dyn DatasetSource,
    progress: &mut dyn FnMut(u64),
    cancel: &AtomicBool,
) -> Result<ExportSummary, ExportError> {
    let ctx = WriteContext { classes: req.classes, images: req.images, version: req.version };
    let mut writer = formats::writer(req.format, &ctx)?;
    let mut out = OutputDir::new(staging, cancel)?;
    let spool_path = staging.join(SPOOL_FILE);
    let spool_file = std::fs::File::create(&spool_path).map_err(|e| ExportError::io(&spool_path, &e))?;
    let mut spool = std::io::BufWriter::new(spool_file);

    let mut counts = ManifestCounts {
        images: 0,
        annotations: 0,
        per_split: BTreeMap::new(),
        per_class: BTreeMap::new(),
        per_condition: BTreeMap::new(),
    };
    for class in req.classes {
        counts.per_class.insert(class.clone(), BTreeMap::new());
    }
    source.for_each_image(&mut |image, annotations| {
        out.check_cancel()?;
        for a in annotations {
            if a.class_index >= req.classes.len() {
                return Err(ExportError::Invalid(format!(
                    "{}: annotation class index {} but the version has {} classes",
                    image.path,
                    a.class_index,
                    req.classes.len()
                )));
            }
        }
        let listed = writer.image(&mut out, image, annotations)?;
        counts.images += 1;
        counts.annotations += annotations.len() as u64;
        let split = counts.per_split.entry(image.split).or_default();
        split.images += 1;
        split.annotations += annotations.len() as u64;
        for a in annotations {
            *counts
                .per_class
                .entry(req.classes[a.class_index].clone())
                .or_default()
                .entry(image.split)
                .or_default() += 1;
        }
        for (key, value) in &image.provenance.conditions {
            *counts
                .per_condition
                .entry(key.clone())
                .or_default()
                .entry(value.clone())
                .or_default()
                .entry(image.split)
                .or_default() += 1;
        }
        let entry = ManifestImage {
            path: &listed,
            split: image.split,
            source: image.source_path.to_string_lossy().into_owned(),
            blake3: image.content_hash.to_hex(),
            width_px: image.width_px,
            height_px: image.height_px,
            orientation: image.orientation,
            annotations: annotations.len(),
            provenance: &image.provenance,
        };
        serde_json::to_writer(&mut spool, &entry).map_err(|e| ExportError::Invalid(e.to_string()))?;
        spool.write_all(b"\n").map_err(|e| ExportError::io(&spool_path, &e))?;
        progress(counts.images);
        Ok(())
    })?;
    spool.flush().map_err(|e| ExportError::io(&spool_path, &e))?;
    drop(spool);
    let skipped: BTreeMap<String, u64> = writer.skipped().into_iter().collect();
    writer.finish(&mut out)?;
    let link_fallbacks = out.link_fallbacks;
    let files = out.into_files();

    let mut training = BTreeMap::new();
    match req.format {
        Format::Yolo | Format::YoloSeg => {
            training.insert("ultralytics_data_yaml", "data.yaml".to_string());
        }
        Format::Coco => {
            for split in Split::ALL {
                let rel = format!("annotations/instances_{}.json", split.as_str());
                if files.iter().any(|f| f.path == rel) {
                    training.insert(split.as_str(), rel);
                }
            }
        }
        Format::Voc | Format::Masks => {}
    }
    let summary = ExportSummary {
        out_dir: staging.to_path_buf(),
        format: req.format,
        images: counts.images,
        annotations: counts.annotations,
        files: files.len() as u64,
        bytes: files.iter().map(|f| f.bytes).sum(),
        skipped: skipped.clone(),
        link_fallbacks,
        manifest: staging.join(MANIFEST_FILE),
    };
    let classes = req.classes.iter().enumerate().map(|(index, name)| ManifestClass { index, name }).collect();
    let head = ManifestHead {
        lacuna_manifest: 1,
        version: req.version,
        format: req.format,
        images_mode: req.images,
        classes,
        counts,
        skipped: &skipped,
        training,
    };
    write_manifest(staging, &head, &files, &spool_path)?;
    std::fs::remove_file(&spool_path).map_err(|e| ExportError::io(&spool_path, &e))?;
    Ok(summary)
}

/// `manifest.json`: the head object's fields, then `files` and `images` one entry per line.
fn write_manifest(
    staging: &Path,
    head: &ManifestHead<'_>,
    files: &[WrittenFile],
    spool_path: &Path,
) -> Result<(), ExportError> {
    let path = staging.join(MANIFEST_FILE);
    let io = |e: std::io::Error| ExportError::io(&path, &e);
    let json = |e: serde_json::Error| ExportError::Invalid(format!("manifest: {e}"));
    let file = std::fs::File::create(&path).map_err(io)?;
    let mut w = std::io::BufWriter::new(file);
    let head_json = serde_json::to_string_pretty(head).map_err(json)?;
    // Re-open the head object to append the two long lists.
    let head_json = head_json.trim_end().strip_suffix('}').unwrap_or(&head_json).trim_end();
    w.write_all(head_json.as_bytes()).map_err(io)?;
    w.write_all(b",\n  \"files\": [").map_err(io)?;
    for (i, f) in files.iter().enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " }).map_err(io)?;
        serde_json::to_writer(&mut w, f).map_err(json)?;
    }
    w.write_all(b"\n  ],\n  \"images\": [").map_err(io)?;
    let spool = std::fs::File::open(spool_path).map_err(|e| ExportError::io(spool_path, &e))?;
    for (i, line) in BufReader::new(spool).lines().enumerate() {
        let line = line.map_err(|e| ExportError::io(spool_path, &e))?;
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " }).map_err(io)?;
        w.write_all(line.as_bytes()).map_err(io)?;
    }
    w.write_all(b"\n  ]\n}\n").map_err(io)?;
    w.flush().map_err(io)
}
