//! Use cases around labels: classes, annotations, review, image states, undo/redo and label
//! import. Every write is committed (with its journal entry) before the call returns.

use std::collections::HashMap;
use std::path::PathBuf;

use lacuna_catalog::{
    ActionSummary, AnnotationPatch, ClassPatch, EventRow, ImageKey, ImportImageLabels, LabelImportCounts,
    NewAnnotation,
};
use lacuna_core::{
    Annotation, AnnotationId, AnnotationSource, Attributes, BoxXyxy, ClassId, Geometry, ImageId,
    ImageLabelState, LabelClass, ReviewState, RunId,
};
use lacuna_export::{Coordinates, Format, LabelProblem, LabelProblemKind, LabeledImage};
use serde::{Deserialize, Serialize};

use crate::{ApiError, ErrorCode, Project};

/// A class with its annotation count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ClassDto {
    #[serde(flatten)]
    pub class: LabelClass,
    pub annotations: u64,
}

/// An annotation to create; the class by name or id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AnnotationInput {
    pub image: ImageId,
    pub class: String,
    pub geometry: Geometry,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub attributes: Attributes,
}

/// A change to an annotation; `None` fields stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
pub struct AnnotationEdit {
    pub class: Option<String>,
    pub geometry: Option<Geometry>,
    pub attributes: Option<Attributes>,
}

/// A change to a class; `None` fields stay (`hotkey: Some("")` clears the hotkey).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
pub struct ClassEdit {
    pub name: Option<String>,
    pub color: Option<String>,
    pub hotkey: Option<String>,
    pub position: Option<i64>,
}

/// `lacuna labels import`: where, which format, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelImportRequest {
    pub path: PathBuf,
    /// Detected from the path when `None`.
    pub format: Option<Format>,
    /// Delete the matched images' existing annotations first.
    pub replace: bool,
    pub author: String,
}

/// What a label import did: counts, and every problem with its file, line or field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelImportReport {
    pub format: Format,
    pub images_in_file: u64,
    pub images_matched: u64,
    pub annotations_in_file: u64,
    pub classes_created: Vec<String>,
    pub counts: LabelImportCounts,
    pub problems: Vec<LabelProblem>,
}

/// A model's box or mask on one image, not yet accepted or rejected by anyone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImagePrediction {
    pub id: i64,
    pub run: RunId,
    pub image: ImageId,
    /// The model's class name.
    pub class: String,
    pub score: f32,
    /// A box, or a mask for segmentation models.
    pub geometry: Geometry,
}

/// An expert's decision on one prediction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields = nullable))]
pub struct PredictionDecision {
    pub prediction: i64,
    /// Accept (it becomes an annotation) or reject (kept as a rejected annotation, so it is not
    /// asked again and never exported).
    pub accept: bool,
    /// Accept it as this class instead of the model's (recorded as corrected).
    #[serde(default)]
    pub class: Option<String>,
}

/// The label states of the project's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabelStateCount {
    pub state: ImageLabelState,
    pub images: u64,
}

impl Project {
    /// The project's classes in order, with annotation counts.
    pub fn classes(&self) -> Result<Vec<ClassDto>, ApiError> {
        let catalog = self.catalog()?;
        let counts = catalog.class_annotation_counts()?;
        Ok(catalog
            .label_classes(false)?
            .into_iter()
            .map(|c| ClassDto { annotations: counts.get(&c.id).copied().unwrap_or(0), class: c })
            .collect())
    }

    /// The class a user means: its name (case-insensitive) or its numeric id.
    pub fn resolve_class(&self, reference: &str) -> Result<LabelClass, ApiError> {
        let classes = self.catalog()?.label_classes(false)?;
        find_class(&classes, reference)
    }

    pub fn create_class(
        &self,
        author: &str,
        name: &str,
        color: Option<&str>,
        hotkey: Option<&str>,
    ) -> Result<LabelClass, ApiError> {
        let now = self.clock().now_unix_s();
        Ok(self.catalog()?.create_class(author, name, color, hotkey, now)?)
    }

    pub fn update_class(&self, author: &str, class: &str, edit: &ClassEdit) -> Result<LabelClass, ApiError> {
        let class = self.resolve_class(class)?;
        let patch = ClassPatch {
            name: edit.name.clone(),
            color: edit.color.clone(),
            hotkey: edit.hotkey.as_ref().map(|k| (!k.is_empty()).then(|| k.clone())),
            position: edit.position,
        };
        let now = self.clock().now_unix_s();
        Ok(self.catalog()?.update_class(author, class.id, &patch, now)?)
    }

    /// Moves every annotation of `from` into `into` and deletes `from`; returns how many moved.
    pub fn merge_classes(&self, author: &str, from: &str, into: &str) -> Result<u64, ApiError> {
        let (from, into) = (self.resolve_class(from)?, self.resolve_class(into)?);
        let now = self.clock().now_unix_s();
        Ok(self.catalog()?.merge_classes(author, from.id, into.id, now)?)
    }

    /// Deletes a class, moving its annotations to `reassign_to` (required when it has any).
    pub fn delete_class(
        &self,
        author: &str,
        class: &str,
        reassign_to: Option<&str>,
    ) -> Result<u64, ApiError> {
        let class = self.resolve_class(class)?;
        let into = reassign_to.map(|r| self.resolve_class(r)).transpose()?;
        let now = self.clock().now_unix_s();
        Ok(self.catalog()?.delete_class(author, class.id, into.map(|c| c.id), now)?)
    }

    /// The annotations of an image, in creation order.
    pub fn annotations(&self, image: ImageId) -> Result<Vec<Annotation>, ApiError> {
        Ok(self.catalog()?.annotations_of_image(image)?)
    }

    /// One annotation (`None` when there is no such annotation).
    pub fn annotation(&self, id: AnnotationId) -> Result<Option<Annotation>, ApiError> {
        Ok(self.catalog()?.annotation(id)?)
    }

    /// Geometry drawn past the image's edge, clipped to it (as an annotation tool does).
    fn clip_to_image(&self, image: ImageId, geometry: &Geometry) -> Result<Geometry, ApiError> {
        let row = self
            .catalog()?
            .image(image)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("image {image} not found")))?;
        let (w, h) = (row.probed.width_px, row.probed.height_px);
        geometry.validate(w, h).map_err(|e| ApiError::invalid(format!("image {image}: {e}")))?;
        let (clipped, _) = geometry.clipped(w, h);
        if clipped.area() <= 0.0 {
            return Err(ApiError::invalid(format!(
                "image {image}: the {} has no area inside the {w}x{h} image",
                clipped.kind().as_str()
            )));
        }
        Ok(clipped)
    }

    /// Draws annotations (one undo step); geometry past the image's edge is clipped.
    pub fn add_annotations(
        &self,
        author: &str,
        inputs: &[AnnotationInput],
    ) -> Result<Vec<Annotation>, ApiError> {
        let classes = self.catalog()?.label_classes(false)?;
        let items = inputs
            .iter()
            .map(|input| {
                Ok(NewAnnotation {
                    image: input.image,
                    class: find_class(&classes, &input.class)?.id,
                    geometry: self.clip_to_image(input.image, &input.geometry)?,
                    attributes: input.attributes.clone(),
                    source: AnnotationSource::Human,
                    score: None,
                    review_state: ReviewState::Unreviewed,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let now = self.clock().now_unix_s();
        let (_, created) = self.catalog()?.create_annotations(author, &items, now)?;
        Ok(created)
    }

    pub fn edit_annotation(
        &self,
        author: &str,
        id: AnnotationId,
        edit: &AnnotationEdit,
    ) -> Result<Annotation, ApiError> {
        let class = edit.class.as_deref().map(|c| self.resolve_class(c)).transpose()?;
        let geometry = match &edit.geometry {
            Some(g) => {
                let image = self.catalog()?.annotation(id)?.map(|a| a.image).ok_or_else(|| {
                    ApiError::new(ErrorCode::NotFound, format!("annotation {id} not found"))
                })?;
                Some(self.clip_to_image(image, g)?)
            }
            None => None,
        };
        let patch =
            AnnotationPatch { class: class.map(|c| c.id), geometry, attributes: edit.attributes.clone() };
        let now = self.clock().now_unix_s();
        Ok(self.catalog()?.update_annotation(author, id, &patch, now)?)
    }

    pub fn delete_annotations(&self, author: &str, ids: &[AnnotationId]) -> Result<(), ApiError> {
        let now = self.clock().now_unix_s();
        self.catalog()?.delete_annotations(author, ids, now)?;
        Ok(())
    }

    /// Accepts, rejects or resets annotations (one undo step).
    pub fn review(&self, reviewer: &str, ids: &[AnnotationId], state: ReviewState) -> Result<(), ApiError> {
        let now = self.clock().now_unix_s();
        self.catalog()?.review_annotations(reviewer, ids, state, now)?;
        Ok(())
    }

    pub fn set_image_state(
        &self,
        author: &str,
        image: ImageId,
        state: ImageLabelState,
    ) -> Result<(), ApiError> {
        let now = self.clock().now_unix_s();
        self.catalog()?.set_image_state(author, image, state, None, now)?;
        Ok(())
    }

    /// The label state of several images in one undo step; all or nothing.
    pub fn set_image_states(
        &self,
        author: &str,
        images: &[ImageId],
        state: ImageLabelState,
    ) -> Result<(), ApiError> {
        let now = self.clock().now_unix_s();
        self.catalog()?.set_image_states(author, images, state, None, now)?;
        Ok(())
    }

    /// Image counts per label state.
    pub fn label_states(&self) -> Result<Vec<LabelStateCount>, ApiError> {
        Ok(self
            .catalog()?
            .label_state_counts()?
            .into_iter()
            .map(|(state, images)| LabelStateCount { state, images })
            .collect())
    }

    /// Reverts the author's latest action; `None` when there is nothing to undo.
    pub fn undo(&self, author: &str) -> Result<Option<ActionSummary>, ApiError> {
        let now = self.clock().now_unix_s();
        Ok(self.catalog()?.undo(author, now)?)
    }

    /// Re-applies the author's latest undone action; `None` when there is nothing to redo.
    pub fn redo(&self, author: &str) -> Result<Option<ActionSummary>, ApiError> {
        let now = self.clock().now_unix_s();
        Ok(self.catalog()?.redo(author, now)?)
    }

    /// The journal, newest first (of one image when given).
    pub fn history(&self, image: Option<ImageId>, limit: u32) -> Result<Vec<EventRow>, ApiError> {
        Ok(self.catalog()?.history(image, limit)?)
    }

    /// Turns a run's predictions at or above `min_score` into annotations awaiting review
    /// (source `model`, with the run and prediction), for the images given (all the run's
    /// images when empty). Classes are created by name as needed. With `mark_labeled`, the
    /// images that got annotations are marked `labeled` (the data lead trusts the model there,
    /// as "approve all" does in other tools). Returns how many annotations were added.
    pub fn adopt_predictions(
        &self,
        author: &str,
        run: RunId,
        min_score: f32,
        images: &[ImageId],
        mark_labeled: bool,
    ) -> Result<u64, ApiError> {
        let preds = self.catalog()?.predictions_for_adoption(run, min_score)?;
        let wanted: std::collections::HashSet<ImageId> = images.iter().copied().collect();
        let adopted = self.catalog()?.adopted_predictions(run)?;
        let preds: Vec<_> = preds
            .into_iter()
            .filter(|p| (wanted.is_empty() || wanted.contains(&p.image)) && !adopted.contains(&p.prediction))
            .collect();
        if preds.is_empty() {
            return Ok(0);
        }
        let mut names: Vec<String> = preds.iter().map(|p| p.class_name.clone()).collect();
        names.sort();
        names.dedup();
        let now = self.clock().now_unix_s();
        let mut catalog = self.catalog()?;
        let ids = catalog.ensure_classes(author, &names, now)?;
        let class_of: HashMap<String, ClassId> = names.iter().map(|c| c.to_lowercase()).zip(ids).collect();
        let items: Vec<NewAnnotation> = preds
            .iter()
            .map(|p| NewAnnotation {
                image: p.image,
                class: class_of[&p.class_name.to_lowercase()],
                geometry: p.geometry.clone(),
                attributes: Attributes::default(),
                source: AnnotationSource::Model { run, prediction: Some(p.prediction) },
                score: Some(f64::from(p.score)),
                review_state: ReviewState::Unreviewed,
            })
            .collect();
        let n = items.len() as u64;
        catalog.create_annotations(author, &items, now)?;
        if mark_labeled {
            let mut touched: Vec<ImageId> = items.iter().map(|i| i.image).collect();
            touched.dedup();
            for image in touched {
                let because = format!("predictions of run {run} adopted (score >= {min_score})");
                catalog.set_image_state(author, image, ImageLabelState::Labeled, Some(&because), now)?;
            }
        }
        Ok(n)
    }

    /// The predictions of `run` (the newest when `None`) on `image` at or above the run's display
    /// threshold that nobody has accepted or rejected yet, best first.
    pub fn image_predictions(
        &self,
        image: ImageId,
        run: Option<RunId>,
    ) -> Result<Vec<ImagePrediction>, ApiError> {
        let catalog = self.catalog()?;
        let runs = catalog.model_runs()?;
        let Some(chosen) = (match run {
            Some(r) => runs.iter().find(|x| x.id == r),
            None => runs.first(),
        }) else {
            return match run {
                Some(r) => Err(ApiError::new(ErrorCode::NotFound, format!("run: no pre-labeling run {r}"))),
                None => Ok(Vec::new()),
            };
        };
        let decided = catalog.adopted_predictions(chosen.id)?;
        Ok(catalog
            .image_predictions_for_adoption(chosen.id, image, chosen.params.display_threshold)?
            .into_iter()
            .filter(|p| !decided.contains(&p.prediction))
            .map(|p| ImagePrediction {
                id: p.prediction,
                run: chosen.id,
                image: p.image,
                class: p.class_name,
                score: p.score,
                geometry: p.geometry,
            })
            .collect())
    }

    /// Accepts (optionally as another class) or rejects predictions, one undo step. A
    /// prediction already decided is an error (conflict) naming it; nothing is written then.
    pub fn decide_predictions(
        &self,
        author: &str,
        decisions: &[PredictionDecision],
    ) -> Result<Vec<Annotation>, ApiError> {
        if decisions.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = decisions.iter().map(|d| d.prediction).collect();
        let found = self.catalog()?.predictions_by_id(&ids)?;
        let mut items = Vec::with_capacity(decisions.len());
        let mut names: Vec<String> = Vec::new();
        let mut decided_by_run: HashMap<RunId, std::collections::HashSet<i64>> = HashMap::new();
        for d in decisions {
            let (run, p) = found.iter().find(|(_, p)| p.prediction == d.prediction).ok_or_else(|| {
                ApiError::new(ErrorCode::NotFound, format!("prediction {}: no such prediction", d.prediction))
            })?;
            let decided = match decided_by_run.entry(*run) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(self.catalog()?.adopted_predictions(*run)?)
                }
            };
            if !decided.insert(d.prediction) {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("prediction {}: already accepted or rejected", d.prediction),
                ));
            }
            let class = match &d.class {
                Some(c) if d.accept => self.resolve_class(c)?.name,
                _ => p.class_name.clone(),
            };
            let corrected = d.accept && !class.eq_ignore_ascii_case(&p.class_name);
            names.push(class.clone());
            items.push((
                *run,
                p.clone(),
                class,
                if !d.accept {
                    ReviewState::Rejected
                } else if corrected {
                    ReviewState::Corrected
                } else {
                    ReviewState::Accepted
                },
            ));
        }
        names.sort();
        names.dedup();
        let now = self.clock().now_unix_s();
        let mut catalog = self.catalog()?;
        let class_ids = catalog.ensure_classes(author, &names, now)?;
        let class_of: HashMap<String, ClassId> =
            names.iter().map(|c| c.to_lowercase()).zip(class_ids).collect();
        let new: Vec<NewAnnotation> = items
            .into_iter()
            .map(|(run, p, class, review_state)| NewAnnotation {
                image: p.image,
                class: class_of[&class.to_lowercase()],
                geometry: p.geometry,
                attributes: Attributes::default(),
                source: AnnotationSource::Model { run, prediction: Some(p.prediction) },
                score: Some(f64::from(p.score)),
                review_state,
            })
            .collect();
        let (_, created) = catalog.create_annotations(author, &new, now)?;
        Ok(created)
    }

    /// Imports labels from a COCO file, a YOLO dataset (folder, `data.yaml` or label file) or
    /// Pascal VOC XML. Images are matched to the catalog by relative path, then by file name.
    /// Problems (unknown image, unknown class, geometry clipped to the image, malformed lines)
    /// are reported, not fatal; the rest is stored in one transaction (one undo step).
    pub fn import_labels(&self, req: &LabelImportRequest) -> Result<LabelImportReport, ApiError> {
        if !req.path.exists() {
            return Err(ApiError::new(
                ErrorCode::PathNotFound,
                format!("{}: no such file or folder", req.path.display()),
            ));
        }
        let set = lacuna_export::read_labels(&req.path, req.format).map_err(ApiError::from)?;
        let mut problems = set.problems.clone();
        let keys = self.catalog()?.image_keys()?;
        let matcher = ImageMatcher::new(&keys);
        let source_name = req
            .path
            .file_name()
            .map_or_else(|| req.path.display().to_string(), |n| n.to_string_lossy().into_owned());

        // Every class the file lists, in its order (a dataset's class list is part of it, even
        // classes no annotation uses yet), then any used class the list lacks.
        let mut ordered: Vec<String> = Vec::new();
        for c in &set.classes {
            if !ordered.iter().any(|o| o.eq_ignore_ascii_case(c)) {
                ordered.push(c.clone());
            }
        }
        for img in &set.images {
            for a in &img.annotations {
                if !ordered.iter().any(|o| o.eq_ignore_ascii_case(&a.class)) {
                    ordered.push(a.class.clone());
                }
            }
        }
        let existing: Vec<String> =
            self.catalog()?.label_classes(false)?.into_iter().map(|c| c.name.to_lowercase()).collect();
        let classes_created: Vec<String> =
            ordered.iter().filter(|c| !existing.contains(&c.to_lowercase())).cloned().collect();

        let now = self.clock().now_unix_s();
        let mut per_image: Vec<ImportImageLabels> = Vec::new();
        let mut index_of: HashMap<ImageId, usize> = HashMap::new();
        let mut matched = 0u64;
        let mut annotations_in_file = 0u64;
        let mut prepared: Vec<(ImageId, Vec<PlacedAnnotation>)> = Vec::new();
        for img in &set.images {
            annotations_in_file += img.annotations.len() as u64;
            let key = match matcher.find(img) {
                Ok(key) => key,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            matched += 1;
            let mut anns = Vec::with_capacity(img.annotations.len());
            for a in &img.annotations {
                match place_geometry(&a.geometry, img.coordinates, key.width_px, key.height_px) {
                    Ok((geometry, clipped)) => {
                        let mut attributes = a.attributes.clone();
                        if clipped {
                            attributes.tags.push("clipped".into());
                            problems.push(LabelProblem {
                                kind: LabelProblemKind::Clipped,
                                location: a.location.clone(),
                                message: format!(
                                    "{} reaches outside the {}x{} image; clipped to it and tagged `clipped`",
                                    geometry.kind().as_str(),
                                    key.width_px,
                                    key.height_px
                                ),
                            });
                        }
                        anns.push((a.class.clone(), geometry, attributes));
                    }
                    Err(message) => problems.push(LabelProblem {
                        kind: LabelProblemKind::InvalidGeometry,
                        location: a.location.clone(),
                        message,
                    }),
                }
            }
            prepared.push((key.image, anns));
        }
        let mut catalog = self.catalog()?;
        let class_ids = catalog.ensure_classes(&req.author, &ordered, now)?;
        let class_of: HashMap<String, ClassId> =
            ordered.iter().map(|c| c.to_lowercase()).zip(class_ids).collect();
        for (image, anns) in prepared {
            let news = anns.into_iter().map(|(class, geometry, attributes)| NewAnnotation {
                image,
                class: class_of[&class.to_lowercase()],
                geometry,
                attributes,
                source: AnnotationSource::Imported,
                score: None,
                review_state: ReviewState::Unreviewed,
            });
            // An image listed twice (e.g. in two files of one dataset) gets one entry.
            match index_of.get(&image) {
                Some(&i) => per_image[i].annotations.extend(news),
                None => {
                    index_of.insert(image, per_image.len());
                    per_image.push(ImportImageLabels {
                        image,
                        annotations: news.collect(),
                        selected_because: Some(format!("labels imported from {source_name}")),
                    });
                }
            }
        }
        let label = format!("import labels from {source_name}");
        let counts = catalog.import_annotations(&req.author, &label, &per_image, req.replace, now)?;
        Ok(LabelImportReport {
            format: set.format,
            images_in_file: set.images.len() as u64,
            images_matched: matched,
            annotations_in_file,
            classes_created,
            counts,
            problems,
        })
    }
}

/// An imported annotation in pixels: class name, geometry, attributes.
type PlacedAnnotation = (String, Geometry, Attributes);

fn find_class(classes: &[LabelClass], reference: &str) -> Result<LabelClass, ApiError> {
    let r = reference.trim();
    if let Some(c) =
        classes.iter().find(|c| c.name.eq_ignore_ascii_case(r) || c.name.to_lowercase() == r.to_lowercase())
    {
        return Ok(c.clone());
    }
    if let Ok(id) = r.parse::<i64>()
        && let Some(c) = classes.iter().find(|c| c.id.0 == id)
    {
        return Ok(c.clone());
    }
    let names: Vec<&str> = classes.iter().map(|c| c.name.as_str()).collect();
    Err(ApiError::new(
        ErrorCode::NotFound,
        if names.is_empty() {
            format!(
                "class `{reference}`: the project has no classes yet; create one with `lacuna labels class add`"
            )
        } else {
            format!("class `{reference}`: no such class (the project has: {})", names.join(", "))
        },
    ))
}

/// Scales normalised coordinates to pixels, checks and clips to the image. `Err` for geometry
/// that cannot be used.
fn place_geometry(
    geometry: &Geometry,
    coordinates: Coordinates,
    width_px: u32,
    height_px: u32,
) -> Result<(Geometry, bool), String> {
    let (w, h) = (f64::from(width_px), f64::from(height_px));
    let scaled = match (coordinates, geometry) {
        (Coordinates::Pixels, g) => g.clone(),
        (Coordinates::Normalized, Geometry::Box(b)) => {
            Geometry::Box(BoxXyxy { x0: b.x0 * w, y0: b.y0 * h, x1: b.x1 * w, y1: b.y1 * h })
        }
        (Coordinates::Normalized, Geometry::Polygon { parts }) => Geometry::Polygon {
            parts: parts.iter().map(|p| p.iter().map(|&[x, y]| [x * w, y * h]).collect()).collect(),
        },
        (Coordinates::Normalized, Geometry::Mask(rle)) => Geometry::Mask(rle.clone()),
    };
    scaled.validate(width_px, height_px).map_err(|e| e.0)?;
    let (clipped, changed) = scaled.clipped(width_px, height_px);
    if clipped.area() <= 0.0 {
        return Err(format!(
            "{} has no area inside the {width_px}x{height_px} image; skipped",
            clipped.kind().as_str()
        ));
    }
    Ok((clipped, changed))
}

/// Finds catalogued images by the names label files use.
struct ImageMatcher<'a> {
    by_path: HashMap<String, Vec<&'a ImageKey>>,
    by_name: HashMap<String, Vec<&'a ImageKey>>,
    by_stem_path: HashMap<String, Vec<&'a ImageKey>>,
    by_stem: HashMap<String, Vec<&'a ImageKey>>,
}

/// `a/b.jpg` → `a/b` (only the file name's extension; `a.d/b` stays).
fn strip_ext(s: &str) -> String {
    let name_start = s.rfind('/').map_or(0, |i| i + 1);
    match s[name_start..].rfind('.') {
        Some(i) if i > 0 => s[..name_start + i].to_string(),
        _ => s.to_string(),
    }
}

impl<'a> ImageMatcher<'a> {
    fn new(keys: &'a [ImageKey]) -> Self {
        let mut m = Self {
            by_path: HashMap::new(),
            by_name: HashMap::new(),
            by_stem_path: HashMap::new(),
            by_stem: HashMap::new(),
        };
        for k in keys {
            m.by_path.entry(k.rel_path.clone()).or_default().push(k);
            m.by_name.entry(k.file_name.clone()).or_default().push(k);
            m.by_stem_path.entry(strip_ext(&k.rel_path)).or_default().push(k);
            m.by_stem.entry(strip_ext(&k.file_name)).or_default().push(k);
        }
        m
    }

    /// By the whole path, then by shorter tails of it (a file may name `images/train/a.jpg`
    /// or an absolute path for a catalogued `a.jpg`), then by file name alone.
    fn find(&self, img: &LabeledImage) -> Result<&'a ImageKey, LabelProblem> {
        let problem = |kind, message: String| LabelProblem { kind, location: img.location.clone(), message };
        let normalized = img.path.replace('\\', "/");
        let key = normalized.trim_start_matches("./");
        let (by_path, by_name) =
            if img.match_stem { (&self.by_stem_path, &self.by_stem) } else { (&self.by_path, &self.by_name) };
        let mut tail: &str = key;
        loop {
            if let Some(found) = by_path.get(tail) {
                return one(found, &img.path).map_err(|m| problem(LabelProblemKind::AmbiguousImage, m));
            }
            match tail.find('/') {
                Some(i) => tail = &tail[i + 1..],
                None => break,
            }
        }
        let name = key.rsplit('/').next().unwrap_or(key);
        match by_name.get(name) {
            Some(found) => one(found, &img.path).map_err(|m| problem(LabelProblemKind::AmbiguousImage, m)),
            None => Err(problem(
                LabelProblemKind::UnknownImage,
                format!(
                    "image `{}` is not in the catalog (import its folder first); its labels are skipped",
                    img.path
                ),
            )),
        }
    }
}

fn one<'a>(found: &[&'a ImageKey], path: &str) -> Result<&'a ImageKey, String> {
    let present: Vec<&ImageKey> = found.iter().copied().filter(|k| k.present).collect();
    let candidates = if present.is_empty() { found.to_vec() } else { present };
    match candidates.as_slice() {
        [one] => Ok(one),
        many => Err(format!(
            "image `{path}` matches {} catalogued images ({}); give the path relative to the imported folder",
            many.len(),
            many.iter().take(3).map(|k| k.rel_path.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

impl From<lacuna_export::ExportError> for ApiError {
    fn from(err: lacuna_export::ExportError) -> Self {
        use lacuna_export::ExportError as E;
        let code = match &err {
            E::Io { message, .. } if message.contains("No such file") || message.contains("no such file") => {
                ErrorCode::PathNotFound
            }
            E::Io { .. } => ErrorCode::Io,
            E::Malformed { .. } | E::Invalid(_) => ErrorCode::InvalidInput,
            E::ChangedSource { .. } => ErrorCode::Conflict,
            E::Cancelled => ErrorCode::Cancelled,
        };
        Self::new(code, err.to_string())
    }
}
