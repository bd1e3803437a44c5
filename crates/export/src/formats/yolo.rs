//! Ultralytics YOLO, detection (`class cx cy w h`) and segmentation (`class x1 y1 x2 y2 ...`),
//! coordinates normalised by the image's width and height.
//!
//! Layout written (and the one the reader expects first):
//!
//! ```text
//! data.yaml
//! images/{train,val,test}/<path>            (copied or hard-linked)
//! labels/{train,val,test}/<path>.txt        (one per image; empty = no objects)
//! ```
//!
//! Ultralytics finds an image's label file by replacing the last `/images/` of the image's path
//! with `/labels/` and its extension with `.txt` (`img2label_paths` in
//! `ultralytics/data/utils.py`), which is why images must sit in the export: referenced images
//! are refused.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use lacuna_core::{BoxXyxy, Geometry, Split, part_area};
use serde_yaml_ng::Value;

use super::{FormatWriter, WriteContext, split_from_name, with_extension};
use crate::output::OutputDir;
use crate::{
    Coordinates, DatasetAnnotation, DatasetImage, ExportError, Format, ImageMode, LabelProblem,
    LabelProblemKind, LabelSet, LabeledAnnotation, LabeledImage, Location,
};

/// Douglas–Peucker tolerance for turning masks into polygons in segmentation exports.
///
/// Half a pixel: the traced outline follows pixel edges, so a diagonal edge is a staircase
/// whose corners lie ±0.35 px off the line it approximates; 0.5 px drops those steps while the
/// polygon stays within half a pixel of the pixel outline (the accuracy of rasterising it
/// again at pixel centres). Ultralytics trains on masks rasterised at 1/4 resolution
/// (`mask_ratio` 4), far coarser than this.
pub const SEG_TOLERANCE_PX: f32 = 0.5;

/// Image file extensions Ultralytics loads (`IMG_FORMATS` in `ultralytics/data/utils.py`),
/// used to find the image a label file belongs to.
pub const IMAGE_EXTENSIONS: [&str; 11] =
    ["bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"];

const SKIP_CROWD: &str = "crowd regions (YOLO has no crowd flag; Ultralytics' converter drops them)";
const SKIP_EMPTY: &str = "empty geometry (no area inside the image)";

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// Writes `images/`, `labels/` and `data.yaml`.
///
/// - One label file per image, an empty one for an image without annotations (Ultralytics'
///   background image: "labeled, no objects" survives the round trip).
/// - Detection rows are `class cx cy w h`; polygons and masks are written as their bounding
///   box.
/// - Segmentation rows are `class x1 y1 ...`; boxes become their four corners, masks their
///   outline at [`SEG_TOLERANCE_PX`] (holes are lost), and an object of several parts one
///   polygon joined as [`merge_multi_segment`] does.
/// - Geometry is clipped to the image first: Ultralytics drops every label of an image whose
///   file has a coordinate above 1 ("non-normalized or out of bounds coordinates").
/// - Crowd regions are skipped (as Ultralytics' `convert_coco` does) and counted in
///   [`FormatWriter::skipped`], like annotations with no area left inside the image.
/// - `data.yaml` has no `path:` key. Ultralytics' `check_det_dataset`
///   (`ultralytics/data/utils.py`) takes the dataset root as
///   `Path(extract_dir or data.get("path") or Path(data["yaml_file"]).parent)`, joins a relative
///   root to its `DATASETS_DIR` setting, then resolves each of `train`/`val`/`test` as
///   `(root / value).resolve()` (retrying `../x` as `x`). So without `path:` the root is this
///   file's own folder, wherever the export is moved, provided the yaml is given by absolute
///   path; given as a relative path (`data=data.yaml`) its parent `.` is relative and lands in
///   `DATASETS_DIR`. `train`/`val`/`test` name the splits that have images; a missing `val`
///   (Ultralytics requires one) points at the train images, with a comment saying so. `names`
///   is a mapping `index: name`, names quoted where YAML would read them otherwise.
/// - Numbers are printed with [`fmt_f64`](super::fmt_f64): the shortest text that reads back
///   to the same `f64`, so normalised coordinates scale back to the catalog's within rounding
///   of one multiplication.
#[derive(Debug)]
pub struct YoloWriter {
    seg: bool,
    images: ImageMode,
    classes: Vec<String>,
    version_id: String,
    version_name: String,
    images_per_split: [u64; 3],
    label_paths: HashSet<String>,
    buf: String,
    parts: Vec<Vec<[f64; 2]>>,
    crowd: u64,
    empty: u64,
}

impl YoloWriter {
    /// A writer for detection (`seg == false`) or segmentation labels. Referenced images are
    /// refused: Ultralytics reads labels from next to the images.
    pub fn new(ctx: &WriteContext<'_>, seg: bool) -> Result<Self, ExportError> {
        if ctx.images == ImageMode::Reference {
            return Err(ExportError::Invalid(
                "YOLO reads labels next to images: use --images copy or hardlink (or none for labels only)"
                    .into(),
            ));
        }
        Ok(Self {
            seg,
            images: ctx.images,
            classes: ctx.classes.to_vec(),
            version_id: ctx.version.id.clone(),
            version_name: ctx.version.name.clone(),
            images_per_split: [0; 3],
            label_paths: HashSet::new(),
            buf: String::with_capacity(4096),
            parts: Vec::new(),
            crowd: 0,
            empty: 0,
        })
    }

    /// Appends one detection row; false when nothing is left of the box inside the image.
    fn box_row(&mut self, class: usize, geometry: &Geometry, w: f64, h: f64) -> bool {
        let b = match geometry {
            Geometry::Box(b) => *b,
            other => other.bbox(),
        };
        let b = b.clamped_to(w, h);
        if !(b.width() > 0.0 && b.height() > 0.0) {
            return false;
        }
        let _ = write!(self.buf, "{class}");
        for v in [(b.x0 + b.x1) / 2.0 / w, (b.y0 + b.y1) / 2.0 / h, b.width() / w, b.height() / h] {
            self.buf.push(' ');
            push_f64(&mut self.buf, v);
        }
        self.buf.push('\n');
        true
    }

    /// Appends one segmentation row; false when no polygon with area is left.
    fn seg_row(&mut self, class: usize, geometry: &Geometry, w: f64, h: f64) -> bool {
        self.parts.clear();
        let parts = match geometry {
            Geometry::Box(b) => {
                let b = b.clamped_to(w, h);
                vec![vec![[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]]]
            }
            other => other.to_polygon_parts(SEG_TOLERANCE_PX),
        };
        for mut part in parts {
            if part.len() < 3 || !part.iter().flatten().all(|v| v.is_finite()) {
                continue;
            }
            for p in &mut part {
                *p = [p[0].clamp(0.0, w), p[1].clamp(0.0, h)];
            }
            if part_area(&part) != 0.0 {
                self.parts.push(part);
            }
        }
        if self.parts.is_empty() {
            return false;
        }
        let merged = merge_multi_segment(&self.parts);
        let _ = write!(self.buf, "{class}");
        for [x, y] in merged {
            self.buf.push(' ');
            push_f64(&mut self.buf, x / w);
            self.buf.push(' ');
            push_f64(&mut self.buf, y / h);
        }
        self.buf.push('\n');
        true
    }

    fn data_yaml(&self) -> String {
        let mut y = String::new();
        y.push_str("# Ultralytics YOLO dataset written by Lacuna");
        if !self.version_name.is_empty() || !self.version_id.is_empty() {
            let _ = write!(y, ": version {} ({})", one_line(&self.version_name), one_line(&self.version_id));
        }
        y.push('\n');
        y.push_str(
            "# No `path:` key: Ultralytics resolves train/val/test against this file's folder when it is\n\
             # given by absolute path (yolo train data=/absolute/path/to/data.yaml).\n",
        );
        let [train, val, test] = self.images_per_split.map(|n| n > 0);
        let first_present = if train {
            "train"
        } else if val {
            "val"
        } else if test {
            "test"
        } else {
            "train"
        };
        if train {
            y.push_str("train: images/train\n");
        } else {
            let _ =
                writeln!(y, "# train has no images in this version: train points at images/{first_present}");
            let _ = writeln!(y, "train: images/{first_present}");
        }
        if val {
            y.push_str("val: images/val\n");
        } else {
            let target = if train { "train" } else { first_present };
            let _ = writeln!(y, "# val has no images in this version: val points at images/{target}");
            let _ = writeln!(y, "val: images/{target}");
        }
        if test {
            y.push_str("test: images/test\n");
        }
        let _ = writeln!(y, "nc: {}", self.classes.len());
        if self.classes.is_empty() {
            y.push_str("names: {}\n");
        } else {
            y.push_str("names:\n");
            for (i, name) in self.classes.iter().enumerate() {
                let _ = writeln!(y, "  {i}: {}", yaml_scalar(name));
            }
        }
        y
    }
}

impl FormatWriter for YoloWriter {
    fn image(
        &mut self,
        out: &mut OutputDir<'_>,
        image: &DatasetImage,
        annotations: &[DatasetAnnotation],
    ) -> Result<String, ExportError> {
        let split = image.split.as_str();
        let image_rel = format!("images/{split}/{}", image.path);
        let label_rel = format!("labels/{split}/{}", with_extension(&image.path, "txt"));
        if !self.label_paths.insert(label_rel.clone()) {
            return Err(ExportError::Invalid(format!(
                "{}: its label file {label_rel} is also another image's (same name, other extension); \
                 YOLO pairs labels with images by file name without extension: rename one of them",
                image.path
            )));
        }
        let (w, h) = (f64::from(image.width_px), f64::from(image.height_px));
        if !annotations.is_empty() && (image.width_px == 0 || image.height_px == 0) {
            return Err(ExportError::Invalid(format!(
                "{}: the catalog has no size for this image ({}x{}); YOLO coordinates are fractions of it",
                image.path, image.width_px, image.height_px
            )));
        }
        out.place_image(&image_rel, image, self.images)?;
        self.buf.clear();
        for a in annotations {
            if a.attributes.crowd {
                self.crowd += 1;
                continue;
            }
            let written = if self.seg {
                self.seg_row(a.class_index, &a.geometry, w, h)
            } else {
                self.box_row(a.class_index, &a.geometry, w, h)
            };
            if !written {
                self.empty += 1;
            }
        }
        out.write_file(&label_rel, self.buf.as_bytes())?;
        self.images_per_split[split_index(image.split)] += 1;
        Ok(image_rel)
    }

    fn finish(self: Box<Self>, out: &mut OutputDir<'_>) -> Result<(), ExportError> {
        out.write_file("data.yaml", self.data_yaml().as_bytes())
    }

    fn skipped(&self) -> Vec<(String, u64)> {
        [(SKIP_CROWD, self.crowd), (SKIP_EMPTY, self.empty)]
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .map(|(why, n)| (why.to_string(), n))
            .collect()
    }
}

fn split_index(split: Split) -> usize {
    match split {
        Split::Train => 0,
        Split::Val => 1,
        Split::Test => 2,
    }
}

/// [`fmt_f64`](super::fmt_f64) without the allocation (the same text).
fn push_f64(buf: &mut String, v: f64) {
    if v == v.trunc() && v.abs() < 1e15 {
        let _ = write!(buf, "{}", v as i64);
    } else {
        let _ = write!(buf, "{v}");
    }
}

fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `s` as a YAML scalar: plain when that reads back as the same string under YAML 1.1 (what
/// Ultralytics' PyYAML speaks) and 1.2, double-quoted with escapes otherwise.
pub(crate) fn yaml_scalar(s: &str) -> String {
    const RESERVED: [&str; 11] = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "nan"];
    let plain = s.chars().next().is_some_and(char::is_alphabetic)
        && s.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '(' | ')' | '/'))
        && !s.ends_with(' ')
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Joins the parts of one object into a single polygon the way Ultralytics'
/// `merge_multi_segment` (`ultralytics/data/converter.py`) does: each part is linked to the next
/// at their closest pair of points (first pair in point order on ties), the path walks forward
/// through every part to the last one and back along the other side of the middle parts, so each
/// link is a zero-width bridge walked there and back.
///
/// The first and last parts are walked whole, from their link point back to it; a middle part
/// from its link with the previous part to its link with the next one on the way forward and
/// the rest of the way round on the way back. Unlike Ultralytics, a middle part keeps its point
/// order (Ultralytics reverses it when its two link indices are out of order but then slices the
/// reversed array with the indices of the unreversed one).
pub fn merge_multi_segment(parts: &[Vec<[f64; 2]>]) -> Vec<[f64; 2]> {
    let parts: Vec<&Vec<[f64; 2]>> = parts.iter().filter(|p| !p.is_empty()).collect();
    let n = parts.len();
    if n == 0 {
        return Vec::new();
    }
    if n == 1 {
        return parts[0].clone();
    }
    // entry[i]: the point of part i linked to part i-1; exit[i]: the one linked to part i+1.
    let mut entry = vec![0usize; n];
    let mut exit = vec![0usize; n];
    for i in 1..n {
        let (a, b) = nearest_pair(parts[i - 1], parts[i]);
        exit[i - 1] = a;
        entry[i] = b;
    }
    let total: usize = parts.iter().map(|p| p.len()).sum::<usize>() + 2 * n;
    let mut out = Vec::with_capacity(total);
    for (i, part) in parts.iter().enumerate() {
        let m = part.len();
        if i == 0 || i == n - 1 {
            let start = if i == 0 { exit[0] } else { entry[i] };
            out.extend((0..=m).map(|k| part[(start + k) % m]));
        } else {
            let span = (exit[i] + m - entry[i]) % m;
            out.extend((0..=span).map(|k| part[(entry[i] + k) % m]));
        }
    }
    for i in (1..n - 1).rev() {
        let part = parts[i];
        let m = part.len();
        let span = (exit[i] + m - entry[i]) % m;
        out.extend((span..=m).map(|k| part[(entry[i] + k) % m]));
    }
    out
}

/// Indices of the closest pair of points (squared distance; the first such pair in row-major
/// order, as numpy's `argmin` picks it).
fn nearest_pair(a: &[[f64; 2]], b: &[[f64; 2]]) -> (usize, usize) {
    let mut best = (0, 0);
    let mut best_d = f64::INFINITY;
    for (i, p) in a.iter().enumerate() {
        for (j, q) in b.iter().enumerate() {
            let d = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
            if d < best_d {
                best_d = d;
                best = (i, j);
            }
        }
    }
    best
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Reads YOLO labels from a `data.yaml`, a dataset folder (with `data.yaml`/`data.yml`, or
/// `classes.txt` and `labels/`) or a single label `.txt` (class names from a `classes.txt` or
/// `data.yaml` in its folder or up to 3 folders above).
///
/// - `data.yaml`: `names` as a list or a mapping `{index: name}` (or only `nc`: `class_0`...);
///   `train`/`val`/`test` as folders or `.txt` lists of image paths (or lists of those),
///   relative to `path` (itself relative to the yaml's folder) or to the yaml's folder; the split
///   is the one the entry's own name says (`images/val`), else its key's. A folder
///   `.../images/...` has its labels in the same path with the last `images` replaced by
///   `labels`; a folder without `images` in its path has labels next to its images. Each label
///   file is read once, even when two entries name the same folder (Lacuna's own `val:
///   images/train` when a version has no val images).
/// - Every `*.txt` under a labels folder is one image; its path is the label's path relative to
///   `labels/{split}/` (or `labels/`) with the extension of the image of the same stem in the
///   matching `images/` folder, or without extension and `match_stem` when no image is found.
///   Images without a label file are not returned: Ultralytics trains on them as backgrounds,
///   but nothing tells "no objects" from "not labeled" (Lacuna's exports write an empty label
///   file for "no objects").
/// - Coordinates stay normalised ([`Coordinates::Normalized`]); boxes are turned into corners.
/// - Bad lines become [`LabelProblem`]s naming the file and line; only an unusable whole (no
///   class names, unreadable YAML) is an error.
pub fn read(path: &Path) -> Result<LabelSet, ExportError> {
    let mut reader = Reader::default();
    if path.is_dir() {
        reader.read_dataset_dir(path)?;
    } else if path.is_file() {
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            reader.read_yaml(path)?;
        } else if name == "classes.txt" {
            reader.read_dataset_dir(parent_dir(path))?;
        } else {
            reader.read_single(path)?;
        }
    } else {
        return Err(ExportError::Io { path: path.to_path_buf(), message: "no such file or folder".into() });
    }
    Ok(reader.finish())
}

#[derive(Debug, Default)]
struct Reader {
    classes: Vec<String>,
    /// Where the class names came from, for messages.
    class_source: String,
    images: Vec<LabeledImage>,
    problems: Vec<LabelProblem>,
    /// Label files read so far (a folder named by two splits is read once).
    seen: HashSet<PathBuf>,
    any_polygon: bool,
}

/// Where the images of one folder of label files are, and how their paths are named.
struct Folder<'a> {
    label_dir: &'a Path,
    /// `/`-separated prefix of the images' paths (`cam1/day2/`), empty at the top.
    prefix: String,
    split: Option<Split>,
    /// The folder holding the matching images (may not exist).
    image_dir: PathBuf,
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn lower_ext(path: &Path) -> Option<String> {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase())
}

fn is_image_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(ext)),
        _ => false,
    }
}

/// `path` with its last `images` component replaced by `labels` (Ultralytics'
/// `img2label_paths`); `path` itself when it has none.
fn images_to_labels(path: &Path) -> PathBuf {
    let comps: Vec<Component<'_>> = path.components().collect();
    match comps.iter().rposition(|c| c.as_os_str() == "images") {
        Some(i) => comps
            .iter()
            .enumerate()
            .map(|(k, c)| if k == i { Component::Normal("labels".as_ref()) } else { *c })
            .collect(),
        None => path.to_path_buf(),
    }
}

impl Reader {
    fn finish(self) -> LabelSet {
        LabelSet {
            format: if self.any_polygon { Format::YoloSeg } else { Format::Yolo },
            classes: self.classes,
            images: self.images,
            problems: self.problems,
        }
    }

    fn problem(
        &mut self,
        kind: LabelProblemKind,
        file: &Path,
        line: Option<u64>,
        field: Option<String>,
        message: String,
    ) {
        self.problems.push(LabelProblem::new(kind, file, line, field, message));
    }

    fn read_dataset_dir(&mut self, dir: &Path) -> Result<(), ExportError> {
        for name in ["data.yaml", "data.yml"] {
            let yaml = dir.join(name);
            if yaml.is_file() {
                return self.read_yaml(&yaml);
            }
        }
        let classes = dir.join("classes.txt");
        if !classes.is_file() {
            return Err(ExportError::Invalid(format!(
                "{}: no data.yaml, data.yml or classes.txt in this folder; YOLO label files number their \
                 classes, so the class names are needed",
                dir.display()
            )));
        }
        self.read_classes_txt(&classes)?;
        let labels = dir.join("labels");
        if labels.is_dir() {
            self.read_tree(&labels, &dir.join("images"), None);
        } else {
            self.read_tree(dir, dir, None);
        }
        Ok(())
    }

    fn read_classes_txt(&mut self, file: &Path) -> Result<(), ExportError> {
        let text = std::fs::read(file).map_err(|e| ExportError::io(file, &e))?;
        let text = String::from_utf8_lossy(&text);
        self.classes = text
            .trim_start_matches('\u{feff}')
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        self.class_source = file.display().to_string();
        Ok(())
    }

    fn read_yaml_names(&mut self, yaml: &Path) -> Result<Value, ExportError> {
        let text = std::fs::read_to_string(yaml).map_err(|e| ExportError::io(yaml, &e))?;
        let value: Value = serde_yaml_ng::from_str(&text)
            .map_err(|e| ExportError::malformed(yaml, None, None, format!("not valid YAML: {e}")))?;
        if value.as_mapping().is_none() {
            return Err(ExportError::malformed(
                yaml,
                None,
                None,
                "expected a mapping with names and train/val folders (an Ultralytics data.yaml)",
            ));
        }
        self.classes = parse_names(&value, yaml)?;
        self.class_source = yaml.display().to_string();
        if let Some(nc) = value.get("nc").and_then(Value::as_u64)
            && value.get("names").is_some()
            && nc != self.classes.len() as u64
        {
            let n = self.classes.len();
            self.problem(
                LabelProblemKind::Malformed,
                yaml,
                None,
                Some("nc".into()),
                format!("nc: {nc} but names lists {n} classes; using the {n} names"),
            );
        }
        Ok(value)
    }

    fn read_yaml(&mut self, yaml: &Path) -> Result<(), ExportError> {
        let value = self.read_yaml_names(yaml)?;
        let yaml_dir = parent_dir(yaml).to_path_buf();
        let base = match value.get("path").and_then(Value::as_str) {
            Some(p) if !p.is_empty() => {
                let p = Path::new(p);
                let cand = if p.is_absolute() { p.to_path_buf() } else { yaml_dir.join(p) };
                if cand.is_dir() { cand } else { yaml_dir.clone() }
            }
            _ => yaml_dir.clone(),
        };
        let mut any = false;
        for (key, split) in [("train", Split::Train), ("val", Split::Val), ("test", Split::Test)] {
            let entries: Vec<String> = match value.get(key) {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Sequence(seq)) => {
                    seq.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
                }
                _ => Vec::new(),
            };
            for entry in entries.iter().filter(|e| !e.trim().is_empty()) {
                any = true;
                self.read_entry(yaml, key, entry.trim(), &base, &yaml_dir, split);
            }
        }
        if !any {
            let labels = yaml_dir.join("labels");
            if labels.is_dir() {
                self.read_tree(&labels, &yaml_dir.join("images"), None);
            } else {
                self.problem(
                    LabelProblemKind::Malformed,
                    yaml,
                    None,
                    None,
                    "no train/val/test entries and no labels/ folder next to it: no labels read".into(),
                );
            }
        }
        Ok(())
    }

    /// One `train`/`val`/`test` entry: a folder of images (labels in the matching `labels`
    /// folder) or a `.txt` list of image paths.
    fn read_entry(
        &mut self,
        yaml: &Path,
        key: &str,
        entry: &str,
        base: &Path,
        yaml_dir: &Path,
        split: Split,
    ) {
        let mut candidates = vec![base.join(entry), yaml_dir.join(entry)];
        if let Some(rest) = entry.strip_prefix("../") {
            // Ultralytics retries `../x` as `x` when `../x` does not exist.
            candidates.push(base.join(rest));
            candidates.push(yaml_dir.join(rest));
        }
        candidates.dedup();
        for cand in &candidates {
            if lower_ext(cand).as_deref() == Some("txt") && cand.is_file() {
                self.read_list(cand, folder_split(cand).unwrap_or(split));
                return;
            }
            let labels = images_to_labels(cand);
            if labels.is_dir() {
                self.read_tree(&labels, cand, Some(folder_split(cand).unwrap_or(split)));
                return;
            }
        }
        let looked = images_to_labels(&candidates[0]);
        self.problem(
            LabelProblemKind::Malformed,
            yaml,
            None,
            Some(key.to_string()),
            format!("{key}: {entry}: no label folder {} (nor an image list file); skipped", looked.display()),
        );
    }

    /// A `.txt` list of image paths (`./x` relative to the list's folder, as Ultralytics reads
    /// it; other relative paths too).
    fn read_list(&mut self, list: &Path, split: Split) {
        let text = match std::fs::read(list) {
            Ok(t) => t,
            Err(e) => {
                self.problem(LabelProblemKind::Malformed, list, None, None, format!("cannot read: {e}"));
                return;
            }
        };
        let text = String::from_utf8_lossy(&text).into_owned();
        let dir = parent_dir(list).to_path_buf();
        for line in text.trim_start_matches('\u{feff}').lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let rel = line.strip_prefix("./").unwrap_or(line);
            let image = if Path::new(rel).is_absolute() { PathBuf::from(rel) } else { dir.join(rel) };
            let image_dir = parent_dir(&image).to_path_buf();
            let label_dir = images_to_labels(&image_dir);
            let Some(stem) = image.file_stem().map(|s| s.to_string_lossy().into_owned()) else { continue };
            let label = label_dir.join(format!("{stem}.txt"));
            if !label.is_file() {
                continue;
            }
            let image_name = image.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let prefix = labels_relative_prefix(&label_dir).map(|(_, p)| p).unwrap_or_default();
            self.read_label_file(&label, format!("{prefix}{image_name}"), false, Some(split));
        }
    }

    /// Every `*.txt` under `label_root` (sorted, folders after files), the images under
    /// `image_root` at the same relative path. Without a `split`, a first-level folder named
    /// like a split (`train`, `val2017`) gives it and is left out of the images' paths.
    fn read_tree(&mut self, label_root: &Path, image_root: &Path, split: Option<Split>) {
        self.walk(label_root, image_root, split, &mut Vec::new(), 0);
    }

    fn walk(
        &mut self,
        dir: &Path,
        image_root: &Path,
        split: Option<Split>,
        rel: &mut Vec<String>,
        depth: usize,
    ) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.problem(
                    LabelProblemKind::Malformed,
                    dir,
                    None,
                    None,
                    format!("cannot list the folder: {e}"),
                );
                return;
            }
        };
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if path.is_dir() {
                if !name.starts_with('.') {
                    dirs.push(name);
                }
            } else if lower_ext(&path).as_deref() == Some("txt") && !name.eq_ignore_ascii_case("classes.txt")
            {
                files.push(name);
            }
        }
        files.sort();
        dirs.sort();
        if !files.is_empty() {
            let (split, prefix_parts) = match split {
                Some(s) => (Some(s), &rel[..]),
                None => match rel.first().and_then(|first| split_from_name(first)) {
                    Some(s) => (Some(s), &rel[1..]),
                    None => (None, &rel[..]),
                },
            };
            let prefix: String = prefix_parts.iter().map(|p| format!("{p}/")).collect();
            let image_dir = rel.iter().fold(image_root.to_path_buf(), |p, c| p.join(c));
            let folder = Folder { label_dir: dir, prefix, split, image_dir };
            self.read_folder(&folder, &files);
        }
        if depth >= 32 {
            return;
        }
        for d in dirs {
            let sub = dir.join(&d);
            rel.push(d);
            self.walk(&sub, image_root, split, rel, depth + 1);
            rel.pop();
        }
    }

    fn read_folder(&mut self, folder: &Folder<'_>, files: &[String]) {
        // The images of this folder by stem (first name in sorted order when several share one).
        let mut images: HashMap<String, String> = HashMap::new();
        if let Ok(entries) = std::fs::read_dir(&folder.image_dir) {
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| is_image_name(n))
                .collect();
            names.sort();
            for name in names {
                if let Some((stem, _)) = name.rsplit_once('.') {
                    images.entry(stem.to_string()).or_insert(name);
                }
            }
        }
        for file in files {
            let stem = file.rsplit_once('.').map_or(file.as_str(), |(s, _)| s);
            let (path, match_stem) = match images.get(stem) {
                Some(image) => (format!("{}{image}", folder.prefix), false),
                None => (format!("{}{stem}", folder.prefix), true),
            };
            self.read_label_file(&folder.label_dir.join(file), path, match_stem, folder.split);
        }
    }

    /// A label file given on its own.
    fn read_single(&mut self, file: &Path) -> Result<(), ExportError> {
        let mut dir = Some(parent_dir(file));
        let mut found = false;
        for _ in 0..4 {
            let Some(d) = dir else { break };
            if let Some(yaml) = ["data.yaml", "data.yml"].iter().map(|n| d.join(n)).find(|p| p.is_file()) {
                self.read_yaml_names(&yaml)?;
                found = true;
                break;
            }
            let classes = d.join("classes.txt");
            if classes.is_file() {
                self.read_classes_txt(&classes)?;
                found = true;
                break;
            }
            dir = d.parent().filter(|p| !p.as_os_str().is_empty());
        }
        if !found {
            return Err(ExportError::Invalid(format!(
                "{}: no classes.txt or data.yaml in its folder or the 3 folders above; YOLO label files \
                 number their classes, so the class names are needed",
                file.display()
            )));
        }
        let label_dir = parent_dir(file);
        let (split, prefix, image_dir) = match labels_relative_prefix(label_dir) {
            Some((split, prefix)) => (split, prefix, images_to_labels_inverse(label_dir)),
            None => {
                let split = label_dir.file_name().and_then(|n| split_from_name(&n.to_string_lossy()));
                (split, String::new(), label_dir.to_path_buf())
            }
        };
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let folder = Folder { label_dir, prefix, split, image_dir };
        self.read_folder(&folder, &[name]);
        Ok(())
    }

    fn read_label_file(&mut self, file: &Path, path: String, match_stem: bool, split: Option<Split>) {
        if !self.seen.insert(file.to_path_buf()) {
            return;
        }
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                self.problem(LabelProblemKind::Malformed, file, None, None, format!("cannot read: {e}"));
                return;
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim_start_matches('\u{feff}');
        let mut annotations = Vec::new();
        let mut tokens: Vec<&str> = Vec::new();
        let mut values: Vec<f64> = Vec::new();
        'lines: for (i, line) in text.lines().enumerate() {
            let lineno = i as u64 + 1;
            tokens.clear();
            tokens.extend(line.split_whitespace());
            let n = tokens.len();
            if n == 0 {
                continue;
            }
            let is_box = n == 5;
            if !is_box && (n < 7 || n.is_multiple_of(2)) {
                self.problem(
                    LabelProblemKind::Malformed,
                    file,
                    Some(lineno),
                    None,
                    format!(
                        "line {lineno}: {n} value{}; a box needs 5 (class cx cy w h), a polygon class + at \
                         least 3 x y pairs",
                        if n == 1 { "" } else { "s" }
                    ),
                );
                continue;
            }
            let Some(class) = parse_class(tokens[0]) else {
                self.problem(
                    LabelProblemKind::Malformed,
                    file,
                    Some(lineno),
                    Some("class".into()),
                    format!(
                        "line {lineno}: class `{}` is not a class index (a whole number >= 0)",
                        tokens[0]
                    ),
                );
                continue;
            };
            values.clear();
            for (k, tok) in tokens[1..].iter().enumerate() {
                match tok.parse::<f64>() {
                    Ok(v) if v.is_finite() => values.push(v),
                    _ => {
                        let field = if is_box {
                            ["cx", "cy", "w", "h"][k].to_string()
                        } else {
                            format!("{}{}", if k % 2 == 0 { "x" } else { "y" }, k / 2 + 1)
                        };
                        self.problem(
                            LabelProblemKind::Malformed,
                            file,
                            Some(lineno),
                            Some(field.clone()),
                            format!("line {lineno}: value {} ({field}) `{tok}` is not a number", k + 2),
                        );
                        continue 'lines;
                    }
                }
            }
            let Some(name) = usize::try_from(class).ok().and_then(|c| self.classes.get(c)) else {
                let n = self.classes.len();
                let known =
                    if n == 0 { "no classes".to_string() } else { format!("{n} classes (0..{})", n - 1) };
                self.problem(
                    LabelProblemKind::UnknownClass,
                    file,
                    Some(lineno),
                    Some("class".into()),
                    format!("line {lineno}: class index {class} but {} names {known}", self.class_source),
                );
                continue;
            };
            let geometry = if is_box {
                let (cx, cy, w, h) = (values[0], values[1], values[2], values[3]);
                Geometry::Box(BoxXyxy {
                    x0: cx - w / 2.0,
                    y0: cy - h / 2.0,
                    x1: cx + w / 2.0,
                    y1: cy + h / 2.0,
                })
            } else {
                self.any_polygon = true;
                Geometry::Polygon { parts: vec![values.chunks_exact(2).map(|p| [p[0], p[1]]).collect()] }
            };
            annotations.push(LabeledAnnotation {
                class: name.clone(),
                geometry,
                attributes: Default::default(),
                location: Location { file: file.to_path_buf(), line: Some(lineno), field: None },
            });
        }
        self.images.push(LabeledImage {
            path,
            width_px: None,
            height_px: None,
            coordinates: Coordinates::Normalized,
            match_stem,
            split,
            annotations,
            location: Location { file: file.to_path_buf(), line: None, field: None },
        });
    }
}

/// The split a `train`/`val`/`test` entry's own name says (`images/val`, `../valid/images`,
/// `val.txt`: its last two names), which wins over the key naming it: Lacuna writes
/// `train: images/val` when a version has no train images.
fn folder_split(path: &Path) -> Option<Split> {
    path.components()
        .rev()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy()),
            _ => None,
        })
        .take(2)
        .find_map(|n| split_from_name(&n))
}

/// For a folder inside a `labels` folder: the split named by the first folder below `labels`
/// (left out of the prefix) and the `/`-separated prefix of the images' paths.
fn labels_relative_prefix(label_dir: &Path) -> Option<(Option<Split>, String)> {
    let comps: Vec<String> =
        label_dir.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let i = comps.iter().rposition(|c| c == "labels")?;
    let rel = &comps[i + 1..];
    let (split, rest) = match rel.first().and_then(|f| split_from_name(f)) {
        Some(s) => (Some(s), &rel[1..]),
        None => (None, rel),
    };
    Some((split, rest.iter().map(|p| format!("{p}/")).collect()))
}

/// `path` with its last `labels` component replaced by `images`.
fn images_to_labels_inverse(path: &Path) -> PathBuf {
    let comps: Vec<Component<'_>> = path.components().collect();
    match comps.iter().rposition(|c| c.as_os_str() == "labels") {
        Some(i) => comps
            .iter()
            .enumerate()
            .map(|(k, c)| if k == i { Component::Normal("images".as_ref()) } else { *c })
            .collect(),
        None => path.to_path_buf(),
    }
}

/// A class index: a whole number >= 0 (`3`, or `3.0` as some tools write it).
fn parse_class(tok: &str) -> Option<u64> {
    if let Ok(v) = tok.parse::<u64>() {
        return Some(v);
    }
    let v = tok.parse::<f64>().ok()?;
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 9.0e15).then_some(v as u64)
}

/// `names` as a list or a mapping `{index: name}` with indices 0..N-1; without `names`, `nc`
/// gives `class_0`... as Ultralytics does.
fn parse_names(value: &Value, yaml: &Path) -> Result<Vec<String>, ExportError> {
    let scalar = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let bad = |message: String| ExportError::malformed(yaml, None, Some("names".into()), message);
    match value.get("names") {
        Some(Value::Sequence(seq)) => seq
            .iter()
            .enumerate()
            .map(|(i, v)| scalar(v).ok_or_else(|| bad(format!("names[{i}] is not a name"))))
            .collect(),
        Some(Value::Mapping(map)) => {
            let mut pairs = Vec::with_capacity(map.len());
            for (k, v) in map {
                let index = match k {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse::<u64>().ok(),
                    _ => None,
                };
                let Some(index) = index else {
                    return Err(bad(format!(
                        "names: key {} is not a class index",
                        scalar(k).unwrap_or_default()
                    )));
                };
                let name = scalar(v).ok_or_else(|| bad(format!("names: {index} has no name")))?;
                pairs.push((index, name));
            }
            pairs.sort_by_key(|(i, _)| *i);
            for (expected, (index, _)) in pairs.iter().enumerate() {
                if *index != expected as u64 {
                    return Err(bad(format!(
                        "names: the class indices must be 0..{} without gaps or repeats; found {index} where \
                         {expected} was expected",
                        pairs.len().saturating_sub(1)
                    )));
                }
            }
            Ok(pairs.into_iter().map(|(_, n)| n).collect())
        }
        Some(Value::Null) | None => match value.get("nc").and_then(Value::as_u64) {
            Some(nc) => Ok((0..nc).map(|i| format!("class_{i}")).collect()),
            None => Err(bad("no names (and no nc): the class names are needed".into())),
        },
        Some(_) => Err(bad("names must be a list or a mapping {index: name}".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fmt_f64;
    use super::*;

    fn square(x: f64, y: f64, s: f64) -> Vec<[f64; 2]> {
        vec![[x, y], [x + s, y], [x + s, y + s], [x, y + s]]
    }

    #[test]
    fn one_part_is_unchanged() {
        let p = square(0.0, 0.0, 2.0);
        assert_eq!(merge_multi_segment(std::slice::from_ref(&p)), p);
        assert!(merge_multi_segment(&[]).is_empty());
    }

    #[test]
    fn two_parts_are_bridged_at_their_nearest_points_there_and_back() {
        let a = square(0.0, 0.0, 2.0);
        let b = square(5.0, 0.0, 2.0);
        let merged = merge_multi_segment(&[a.clone(), b.clone()]);
        // a's nearest point to b is (2,0) (index 1), b's is (5,0) (index 0).
        let expected = vec![
            [2.0, 0.0],
            [2.0, 2.0],
            [0.0, 2.0],
            [0.0, 0.0],
            [2.0, 0.0],
            [5.0, 0.0],
            [7.0, 0.0],
            [7.0, 2.0],
            [5.0, 2.0],
            [5.0, 0.0],
        ];
        assert_eq!(merged, expected);
    }

    #[test]
    fn a_middle_part_is_walked_out_one_side_and_back_the_other() {
        let a = square(0.0, 0.0, 1.0);
        let b = square(3.0, 0.0, 1.0);
        let c = square(6.0, 0.0, 1.0);
        let merged = merge_multi_segment(&[a, b.clone(), c]);
        // b: entry (3,0) index 0 (nearest to a's (1,0)), exit (4,0) index 1 (nearest to c).
        assert_eq!(merged.len(), 5 + 2 + 5 + 4);
        assert_eq!(&merged[5..7], &[[3.0, 0.0], [4.0, 0.0]]);
        assert_eq!(&merged[12..], &[[4.0, 0.0], [4.0, 1.0], [3.0, 1.0], [3.0, 0.0]]);
        for p in &b {
            assert!(merged.contains(p));
        }
    }

    #[test]
    fn yaml_names_are_quoted_when_needed() {
        assert_eq!(yaml_scalar("person"), "person");
        assert_eq!(yaml_scalar("traffic light"), "traffic light");
        assert_eq!(yaml_scalar("yes"), "\"yes\"");
        assert_eq!(yaml_scalar("No"), "\"No\"");
        assert_eq!(yaml_scalar("3"), "\"3\"");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(yaml_scalar(""), "\"\"");
        assert_eq!(yaml_scalar("#tag"), "\"#tag\"");
        for name in
            ["yes", "3", "a: b", "say \"hi\"\n", "", "#tag", "- x", "[x]", "é ü", "\u{1}", "null", "~"]
        {
            let doc = format!("k: {}\n", yaml_scalar(name));
            let v: Value = serde_yaml_ng::from_str(&doc).expect("valid YAML");
            assert_eq!(v.get("k").and_then(Value::as_str), Some(name), "{doc}");
        }
    }

    #[test]
    fn push_f64_prints_like_fmt_f64() {
        for v in [0.0, -0.0, 1.0, 0.5, 1.0 / 3.0, 1e-20, 123456.789, 1e15, 1e16, -2.5, 0.1 + 0.2] {
            let mut s = String::new();
            push_f64(&mut s, v);
            assert_eq!(s, fmt_f64(v));
        }
    }

    #[test]
    fn class_indices() {
        assert_eq!(parse_class("3"), Some(3));
        assert_eq!(parse_class("3.0"), Some(3));
        assert_eq!(parse_class("3.5"), None);
        assert_eq!(parse_class("-1"), None);
        assert_eq!(parse_class("cat"), None);
    }
}
