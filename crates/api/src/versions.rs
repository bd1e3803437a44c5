//! Use cases around dataset versions: freeze, list, diff, export.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use lacuna_catalog::{Catalog, FreezeSourceImage, VersionImageRecord, VersionImageRow, VersionRow};
use lacuna_core::{ClassId, ImageId, Split};
use lacuna_export::{
    DatasetAnnotation, DatasetImage, DatasetSource, DiffBuilder, DiffSide, ExportError, ExportSummary,
    Format, FrozenAnnotation, GroupBy, ImageMode, Provenance, SplitConfig, VersionDiff, VersionHasher,
    VersionInfo, canonical_order,
};
use serde::{Deserialize, Serialize};

use crate::{ApiError, ErrorCode, Project};

/// `lacuna version freeze`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreezeRequest {
    /// Default `v<N>`.
    pub name: Option<String>,
    pub notes: String,
    /// A version reference; default: the newest version.
    pub parent: Option<String>,
    /// `train,val,test` ratios; default `0.8,0.1,0.1`.
    pub split: Option<String>,
    /// `image` (default) | `camera` | `capture_day` | `folder`.
    pub group_by: Option<String>,
    pub author: String,
}

/// A version as shown to users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VersionDto {
    pub id: String,
    /// The first 12 hex digits (what lists show; any unique prefix works as a reference).
    pub short_id: String,
    pub name: String,
    pub parent: Option<String>,
    pub notes: String,
    pub split: SplitConfig,
    pub classes: Vec<String>,
    pub images: u64,
    pub annotations: u64,
    pub created_by: String,
    pub created_at_unix_s: i64,
}

/// What a freeze did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FreezeResult {
    pub version: VersionDto,
    /// False when a version with exactly this content existed already (it is returned).
    pub created: bool,
    /// Images per split.
    pub split_counts: Vec<(Split, u64)>,
    /// Finished images left out because their file is missing.
    pub images_missing: u64,
}

/// `lacuna version diff A B`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VersionDiffDto {
    pub from: VersionDto,
    pub to: VersionDto,
    #[serde(flatten)]
    pub diff: VersionDiff,
}

/// `lacuna export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportVersionRequest {
    pub version: String,
    pub format: Format,
    pub out_dir: PathBuf,
    pub images: ImageMode,
    pub overwrite: bool,
}

impl VersionDto {
    fn from_row(row: &VersionRow) -> Result<Self, ApiError> {
        let split: SplitConfig = serde_json::from_str(&row.split_json).map_err(|e| {
            ApiError::new(ErrorCode::CatalogCorrupt, format!("version {}: split settings: {e}", row.name))
        })?;
        Ok(Self {
            id: row.id.clone(),
            short_id: row.id.chars().take(12).collect(),
            name: row.name.clone(),
            parent: row.parent.clone(),
            notes: row.notes.clone(),
            split,
            classes: row.classes.clone(),
            images: row.images,
            annotations: row.annotations,
            created_by: row.created_by.clone(),
            created_at_unix_s: row.created_at_unix_s,
        })
    }

    fn info(&self) -> VersionInfo {
        VersionInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            parent: self.parent.clone(),
            notes: self.notes.clone(),
            created_at_unix_s: self.created_at_unix_s,
            created_by: self.created_by.clone(),
            split: self.split,
        }
    }
}

fn frozen(class: String, a: lacuna_core::Annotation) -> FrozenAnnotation {
    let (source, run) = match a.source {
        lacuna_core::AnnotationSource::Human => ("human", None),
        lacuna_core::AnnotationSource::Imported => ("imported", None),
        lacuna_core::AnnotationSource::Model { run, .. } => ("model", Some(run.0)),
    };
    FrozenAnnotation {
        class,
        geometry: a.geometry,
        attributes: a.attributes,
        source: source.to_string(),
        run,
        score: a.score,
        author: a.author,
        review_state: a.review_state,
        reviewer: a.reviewer,
    }
}

fn group_key(cfg: &SplitConfig, img: &FreezeSourceImage) -> String {
    let hash = img.content_hash.to_hex();
    match cfg.group_by {
        GroupBy::Image => hash,
        GroupBy::Camera => img.camera.clone().map_or(hash, |c| format!("camera:{c}")),
        GroupBy::CaptureDay => {
            img.captured_local.as_ref().and_then(|t| t.get(..10)).map_or(hash, |d| format!("day:{d}"))
        }
        GroupBy::Folder => format!("folder:{}:{}", img.root.0, img.rel_dir),
    }
}

/// Frozen texts written per transaction by the freeze worker.
const LABELS_BATCH: usize = 2_000;

/// Writes the records' texts through the worker's own connection and keeps only their ids.
fn store_labels(writer: &mut Catalog, records: &mut [VersionImageRecord]) -> Result<(), ApiError> {
    let items: Vec<([u8; 32], &str)> =
        records.iter().map(|r| (r.labels_digest, r.annotations.as_str())).collect();
    let ids = writer.insert_frozen_labels(&items)?;
    for (r, id) in records.iter_mut().zip(ids) {
        r.labels_id = Some(id);
        r.annotations = String::new();
    }
    Ok(())
}

/// What the freeze worker built.
struct Built {
    hasher: VersionHasher,
    records: Vec<VersionImageRecord>,
    split_counts: HashMap<Split, u64>,
    annotation_total: u64,
}

/// Turns freeze sources into version records: split, canonical order, hash, stored text and
/// provenance.
fn build_records(
    receive: crossbeam_channel::Receiver<FreezeSourceImage>,
    split: &SplitConfig,
    prefix: &HashMap<i64, String>,
    class_names: &HashMap<ClassId, String>,
    mut writer: Catalog,
) -> Result<Built, ApiError> {
    let mut hasher = VersionHasher::new();
    let mut records = Vec::new();
    let mut first_group_of_hash: HashMap<[u8; 32], String> = HashMap::new();
    let mut split_counts: HashMap<Split, u64> = HashMap::new();
    let mut annotation_total = 0u64;
    let mut stored = 0usize;
    for img in receive {
        // Exact duplicates join the group of the first copy, so they share its split.
        let key =
            first_group_of_hash.entry(img.content_hash.0).or_insert_with(|| group_key(split, &img)).clone();
        let image_split = split.assign(&key);
        *split_counts.entry(image_split).or_default() += 1;
        let mut labeled_by: Vec<String> = Vec::new();
        let mut reviewed_by: Vec<String> = Vec::new();
        let mut anns: Vec<FrozenAnnotation> = Vec::with_capacity(img.annotations.len());
        for a in img.annotations {
            let class = class_names.get(&a.class).cloned().ok_or_else(|| {
                ApiError::internal(format!("annotation {}: class {} is missing", a.id, a.class))
            })?;
            if !labeled_by.contains(&a.author) {
                labeled_by.push(a.author.clone());
            }
            if let Some(r) = &a.reviewer
                && !reviewed_by.contains(r)
            {
                reviewed_by.push(r.clone());
            }
            anns.push(frozen(class, a));
        }
        labeled_by.sort();
        reviewed_by.sort();
        let contents = canonical_order(&mut anns);
        let export_path = format!("{}{}", prefix.get(&img.root.0).map_or("", String::as_str), img.rel_path);
        hasher.add_image(&export_path, &img.content_hash.to_hex(), image_split, &contents);
        let annotations = lacuna_export::frozen::encode(&anns, &contents);
        let mut conditions = Vec::new();
        if let Some(c) = &img.camera {
            conditions.push(("camera".to_string(), c.clone()));
        }
        if let Some(day) = img.captured_local.as_ref().and_then(|t| t.get(..10)) {
            conditions.push(("capture_day".to_string(), day.to_string()));
        }
        let provenance = Provenance {
            selected_because: img.selected_because,
            prelabeled_by: img.prelabeled_by,
            labeled_by,
            reviewed_by,
            conditions,
        };
        annotation_total += anns.len() as u64;
        records.push(VersionImageRecord {
            image: img.image,
            export_path,
            split: image_split,
            state: img.state,
            annotation_count: anns.len() as u64,
            labels_digest: lacuna_export::blake3_hash(annotations.as_bytes()),
            annotations,
            labels_id: None,
            provenance_json: serde_json::to_string(&provenance)
                .map_err(|e| ApiError::internal(e.to_string()))?,
        });
        if records.len() - stored >= LABELS_BATCH {
            store_labels(&mut writer, &mut records[stored..])?;
            stored = records.len();
        }
    }
    store_labels(&mut writer, &mut records[stored..])?;
    Ok(Built { hasher, records, split_counts, annotation_total })
}

impl Project {
    /// Freezes the finished images (labeled, labeled with no objects, reviewed) and their
    /// annotations (except rejected ones) into a version whose id is their content hash.
    /// Freezing unchanged labels again returns the existing version.
    pub fn freeze_version(&self, req: &FreezeRequest) -> Result<FreezeResult, ApiError> {
        let group_by = match req.group_by.as_deref() {
            None => GroupBy::Image,
            Some(g) => GroupBy::parse(g).ok_or_else(|| {
                ApiError::invalid(format!("group-by `{g}`: expected image, camera, capture_day or folder"))
            })?,
        };
        let split = SplitConfig::parse_ratios(req.split.as_deref().unwrap_or("0.8,0.1,0.1"), group_by)
            .map_err(ApiError::invalid)?;
        let now = self.clock().now_unix_s();
        let mut catalog = self.catalog()?;
        let classes: Vec<String> = catalog.label_classes(false)?.into_iter().map(|c| c.name).collect();
        let class_names: HashMap<ClassId, String> =
            catalog.label_classes(true)?.into_iter().map(|c| (c.id, c.name)).collect();
        // Export paths: the path under its folder; with several folders, the folder's name first.
        let roots = catalog.freeze_roots()?;
        let mut prefix: HashMap<i64, String> = HashMap::new();
        if roots.len() > 1 {
            let mut used: HashMap<String, u32> = HashMap::new();
            for (id, path) in &roots {
                let base = Path::new(path)
                    .file_name()
                    .map_or_else(|| format!("root{id}"), |n| n.to_string_lossy().into_owned());
                let n = used.entry(base.clone()).or_default();
                *n += 1;
                prefix.insert(id.0, if *n == 1 { format!("{base}/") } else { format!("{base}-{id}/") });
            }
        }

        // Reading the catalog (this thread) and building the frozen records (a worker) overlap:
        // each takes about half of a freeze.
        let (send, receive) = crossbeam_channel::bounded::<FreezeSourceImage>(512);
        let writer = Catalog::open(&self.catalog_path(), now)?;
        let (images_missing, built) = std::thread::scope(|scope| {
            let worker = scope.spawn(|| build_records(receive, &split, &prefix, &class_names, writer));
            let read = catalog.for_each_freeze_image(|img| {
                send.send(img).map_err(|_| ApiError::internal("the freeze worker stopped early"))
            });
            drop(send);
            let built = worker.join().map_err(|_| ApiError::internal("the freeze worker panicked"));
            (read, built)
        });
        let images_missing = images_missing?;
        let Built { hasher, records, split_counts, annotation_total } = built??;
        let id = hasher.finish(&classes);
        let split_counts =
            Split::ALL.iter().map(|s| (*s, split_counts.get(s).copied().unwrap_or(0))).collect();
        let existing = catalog.versions()?;
        let parent = match &req.parent {
            Some(r) => Some(catalog.resolve_version(r)?.id),
            None => existing.first().map(|v| v.id.clone()),
        };
        if let Some(row) = existing.iter().find(|v| v.id == id) {
            return Ok(FreezeResult {
                version: VersionDto::from_row(row)?,
                created: false,
                split_counts,
                images_missing,
            });
        }
        let name = match &req.name {
            Some(n) if n.trim().is_empty() => return Err(ApiError::invalid("version name cannot be empty")),
            Some(n) => n.trim().to_string(),
            None => {
                let mut k = existing.len() + 1;
                while existing.iter().any(|v| v.name == format!("v{k}")) {
                    k += 1;
                }
                format!("v{k}")
            }
        };
        let row = VersionRow {
            id,
            name,
            parent,
            notes: req.notes.clone(),
            split_json: serde_json::to_string(&split).map_err(|e| ApiError::internal(e.to_string()))?,
            classes,
            images: records.len() as u64,
            annotations: annotation_total,
            created_by: req.author.clone(),
            created_at_unix_s: now,
        };
        catalog.insert_version(&row, &records)?;
        Ok(FreezeResult { version: VersionDto::from_row(&row)?, created: true, split_counts, images_missing })
    }

    /// Every version, newest first.
    pub fn versions(&self) -> Result<Vec<VersionDto>, ApiError> {
        self.catalog()?.versions()?.iter().map(VersionDto::from_row).collect()
    }

    /// The version a reference names (id, unique id prefix, or name).
    pub fn version(&self, reference: &str) -> Result<VersionDto, ApiError> {
        VersionDto::from_row(&self.catalog()?.resolve_version(reference)?)
    }

    /// What changed from version `from` to version `to`: images added / removed / moved
    /// between splits, annotations added / removed / changed (matched by box IoU ≥ 0.5; class
    /// changes counted by pair). Lists are capped at `max_details` entries; counts are complete.
    pub fn diff_versions(
        &self,
        from: &str,
        to: &str,
        max_details: usize,
    ) -> Result<VersionDiffDto, ApiError> {
        let catalog = Catalog::open(&self.catalog_path(), self.clock().now_unix_s())?;
        let a = VersionDto::from_row(&catalog.resolve_version(from)?)?;
        let b = VersionDto::from_row(&catalog.resolve_version(to)?)?;
        let mut left: Vec<(ImageId, Split, String, String, [u8; 32])> = Vec::new();
        catalog.for_each_version_image(&a.id, true, |row: VersionImageRow| {
            left.push((row.image, row.split, row.export_path, row.annotations, row.labels_digest));
            Ok::<(), ApiError>(())
        })?;
        let parse = |text: &str, version: &str| -> Result<Vec<FrozenAnnotation>, ApiError> {
            lacuna_export::frozen::decode(text)
                .map_err(|e| ApiError::new(ErrorCode::CatalogCorrupt, format!("version {version}: {e}")))
        };
        let mut builder = DiffBuilder::new(max_details, 0.5);
        let mut i = 0usize;
        let mut unchanged_annotations = 0u64;
        catalog.for_each_version_image(&b.id, true, |row: VersionImageRow| {
            while i < left.len() && left[i].0 < row.image {
                let (_, split, path, json, _) = &left[i];
                builder.image(
                    path,
                    Some(DiffSide { split: *split, annotations: &parse(json, &a.name)? }),
                    None,
                );
                i += 1;
            }
            if i < left.len() && left[i].0 == row.image {
                let (_, split, _, json, digest) = &left[i];
                if *split == row.split && *digest == row.labels_digest {
                    unchanged_annotations += row.annotation_count;
                } else {
                    let before = parse(json, &a.name)?;
                    let after = parse(&row.annotations, &b.name)?;
                    builder.image(
                        &row.export_path,
                        Some(DiffSide { split: *split, annotations: &before }),
                        Some(DiffSide { split: row.split, annotations: &after }),
                    );
                }
                i += 1;
            } else {
                let after = parse(&row.annotations, &b.name)?;
                builder.image(
                    &row.export_path,
                    None,
                    Some(DiffSide { split: row.split, annotations: &after }),
                );
            }
            Ok::<(), ApiError>(())
        })?;
        while i < left.len() {
            let (_, split, path, json, _) = &left[i];
            builder.image(path, Some(DiffSide { split: *split, annotations: &parse(json, &a.name)? }), None);
            i += 1;
        }
        let mut diff = builder.finish();
        diff.counts.annotations_unchanged += unchanged_annotations;
        Ok(VersionDiffDto { from: a, to: b, diff })
    }

    /// Writes a version in a dataset format into `req.out_dir` (through a staging folder
    /// renamed into place when complete), with `manifest.json`. `progress` gets images written
    /// and the total; setting `cancel` stops it and leaves nothing behind.
    pub fn export_version(
        &self,
        req: &ExportVersionRequest,
        progress: &mut dyn FnMut(u64, u64),
        cancel: &AtomicBool,
    ) -> Result<ExportSummary, ApiError> {
        // Its own connection: annotators keep working while an export streams.
        let catalog = Catalog::open(&self.catalog_path(), self.clock().now_unix_s())?;
        let version = VersionDto::from_row(&catalog.resolve_version(&req.version)?)?;
        let info = version.info();
        let export_req = lacuna_export::ExportRequest {
            format: req.format,
            images: req.images,
            classes: &version.classes,
            version: &info,
            out_dir: &req.out_dir,
            overwrite: req.overwrite,
        };
        let class_index: HashMap<String, usize> =
            version.classes.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect();
        let mut source = CatalogSource { catalog: &catalog, version: &version, class_index };
        let total = version.images;
        let summary = lacuna_export::write_dataset(
            &export_req,
            &mut source,
            &mut |done| progress(done, total),
            cancel,
        )?;
        Ok(summary)
    }
}

struct CatalogSource<'a> {
    catalog: &'a Catalog,
    version: &'a VersionDto,
    class_index: HashMap<String, usize>,
}

impl DatasetSource for CatalogSource<'_> {
    fn for_each_image(
        &mut self,
        visit: &mut dyn FnMut(&DatasetImage, &[DatasetAnnotation]) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let name = &self.version.name;
        let class_index = &self.class_index;
        let mut annotations: Vec<DatasetAnnotation> = Vec::new();
        let result = self.catalog.for_each_version_image(&self.version.id, false, |row: VersionImageRow| {
            let frozen: Vec<FrozenAnnotation> =
                lacuna_export::frozen::decode(&row.annotations).map_err(|e| {
                    ExportError::Invalid(format!("version {name}, image {}: {e}", row.export_path))
                })?;
            let provenance: Provenance = serde_json::from_str(&row.provenance_json).map_err(|e| {
                ExportError::Invalid(format!("version {name}, image {}: provenance: {e}", row.export_path))
            })?;
            annotations.clear();
            for a in frozen {
                let class_index = *class_index.get(&a.class).ok_or_else(|| {
                    ExportError::Invalid(format!(
                        "version {name}: class `{}` is not in its class list",
                        a.class
                    ))
                })?;
                annotations.push(DatasetAnnotation {
                    class_index,
                    geometry: a.geometry,
                    attributes: a.attributes,
                });
            }
            let image = DatasetImage {
                key: row.image.0,
                path: row.export_path,
                source_path: Path::new(&row.root_path).join(&row.rel_path),
                content_hash: row.content_hash,
                file_size_bytes: row.file_size_bytes,
                width_px: row.width_px,
                height_px: row.height_px,
                orientation: row.orientation,
                split: row.split,
                provenance,
            };
            visit(&image, &annotations).map_err(CatalogOrExport::Export)
        });
        match result {
            Ok(()) => Ok(()),
            Err(CatalogOrExport::Export(e)) => Err(e),
            Err(CatalogOrExport::Catalog(e)) => Err(ExportError::Invalid(e.to_string())),
        }
    }
}

enum CatalogOrExport {
    Catalog(lacuna_catalog::CatalogError),
    Export(ExportError),
}

impl From<lacuna_catalog::CatalogError> for CatalogOrExport {
    fn from(e: lacuna_catalog::CatalogError) -> Self {
        Self::Catalog(e)
    }
}

impl From<ExportError> for CatalogOrExport {
    fn from(e: ExportError) -> Self {
        Self::Export(e)
    }
}
