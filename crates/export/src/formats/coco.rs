//! COCO instances JSON: boxes, polygons and RLE masks.
//!
//! Writing: one file per split that has images, `annotations/instances_{split}.json`, in a
//! single pass. The head (info, licenses, categories) and the image objects stream into the
//! split's file as images arrive; its annotation objects are spooled to a hidden file in the
//! staging folder and appended when the writer finishes, so memory stays flat however large
//! the export. Category ids are class index + 1; annotation ids run 1..N across the export in
//! write order; numbers are printed by `serde_json` (shortest round trip), so the same input
//! always gives the same bytes. Boxes have an empty `segmentation`, polygons one flat
//! `[x1, y1, x2, y2, ...]` list per part, masks pycocotools' compressed RLE
//! `{"size": [h, w], "counts": "..."}`. `iscrowd` is the crowd attribute; the other attributes
//! go in a CVAT-style `"attributes"` object.
//!
//! Reading: one instances file. Problems with single images or annotations (unknown ids,
//! bad boxes, odd polygons) are collected, never fatal; only a file that is not JSON of the
//! right shape is an error, with the line serde_json stopped at.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use lacuna_core::{Attributes, BoxXyxy, Geometry, Rle, Split};
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{FormatWriter, WriteContext, split_from_name};
use crate::output::{OutputDir, OutputFile};
use crate::{
    Coordinates, DatasetAnnotation, DatasetImage, ExportError, Format, ImageMode, LabelProblem,
    LabelProblemKind, LabelSet, LabeledAnnotation, LabeledImage, Location,
};

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes `annotations/instances_{split}.json` per split (see the module docs).
#[derive(Debug)]
pub struct CocoWriter {
    images: ImageMode,
    /// Everything before the first image object: `{"info":...,"categories":[...],"images":[`.
    head: Vec<u8>,
    /// Open files by split (train, val, test), created on the split's first image.
    splits: [Option<SplitFile>; 3],
    /// Id of the next annotation written.
    next_id: u64,
}

#[derive(Debug)]
struct SplitFile {
    /// Path inside the export, for error messages.
    rel: String,
    file: OutputFile,
    spool_path: PathBuf,
    spool: BufWriter<File>,
    images: u64,
    annotations: u64,
}

#[derive(Serialize)]
struct InfoOut<'a> {
    description: &'a str,
    version: &'a str,
    date_created_unix_s: i64,
}

#[derive(Serialize)]
struct CategoryOut<'a> {
    id: usize,
    name: &'a str,
    supercategory: &'static str,
}

#[derive(Serialize)]
struct ImageOut<'a> {
    id: i64,
    file_name: &'a str,
    width: u32,
    height: u32,
}

#[derive(Serialize)]
struct AnnotationOut<'a> {
    id: u64,
    image_id: i64,
    category_id: usize,
    bbox: [f64; 4],
    area: f64,
    iscrowd: u8,
    segmentation: SegmentationOut<'a>,
    attributes: AttributesOut<'a>,
}

#[derive(Serialize)]
struct AttributesOut<'a> {
    occluded: bool,
    truncated: bool,
    tags: &'a [String],
}

enum SegmentationOut<'a> {
    /// A box: `[]`.
    Empty,
    /// One flat `[x1, y1, x2, y2, ...]` list per part.
    Polygon(&'a [Vec<[f64; 2]>]),
    /// `{"size": [h, w], "counts": "<compressed>"}`.
    Rle { size: [u32; 2], counts: String },
}

struct FlatPart<'a>(&'a [[f64; 2]]);

impl Serialize for FlatPart<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().flatten())
    }
}

impl Serialize for SegmentationOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Empty => s.serialize_seq(Some(0))?.end(),
            Self::Polygon(parts) => s.collect_seq(parts.iter().map(|p| FlatPart(p))),
            Self::Rle { size, counts } => {
                let mut m = s.serialize_struct("Rle", 2)?;
                m.serialize_field("size", size)?;
                m.serialize_field("counts", counts)?;
                m.end()
            }
        }
    }
}

fn split_index(split: Split) -> usize {
    match split {
        Split::Train => 0,
        Split::Val => 1,
        Split::Test => 2,
    }
}

fn json_error(path: &Path, e: &serde_json::Error) -> ExportError {
    ExportError::Io { path: path.to_path_buf(), message: e.to_string() }
}

impl CocoWriter {
    pub fn new(ctx: &WriteContext<'_>) -> Result<Self, ExportError> {
        let info = InfoOut {
            description: &ctx.version.name,
            version: &ctx.version.id,
            date_created_unix_s: ctx.version.created_at_unix_s,
        };
        let categories: Vec<CategoryOut<'_>> = ctx
            .classes
            .iter()
            .enumerate()
            .map(|(i, name)| CategoryOut { id: i + 1, name, supercategory: "" })
            .collect();
        let err = |e: serde_json::Error| ExportError::Invalid(format!("COCO header: {e}"));
        let mut head = b"{\"info\":".to_vec();
        serde_json::to_writer(&mut head, &info).map_err(err)?;
        head.extend_from_slice(b",\n\"licenses\":[],\n\"categories\":");
        serde_json::to_writer(&mut head, &categories).map_err(err)?;
        head.extend_from_slice(b",\n\"images\":[");
        Ok(Self { images: ctx.images, head, splits: [None, None, None], next_id: 1 })
    }

    fn open_split(head: &[u8], out: &mut OutputDir<'_>, split: Split) -> Result<SplitFile, ExportError> {
        let rel = format!("annotations/instances_{}.json", split.as_str());
        let mut file = out.create(&rel)?;
        file.write_all(head).map_err(|e| ExportError::io(&out.root().join(&rel), &e))?;
        let spool_path = out.root().join(format!(".lacuna-coco-annotations-{}.spool", split.as_str()));
        let spool = File::create(&spool_path).map_err(|e| ExportError::io(&spool_path, &e))?;
        Ok(SplitFile {
            rel,
            file,
            spool_path,
            spool: BufWriter::with_capacity(1 << 16, spool),
            images: 0,
            annotations: 0,
        })
    }
}

impl FormatWriter for CocoWriter {
    fn image(
        &mut self,
        out: &mut OutputDir<'_>,
        image: &DatasetImage,
        annotations: &[DatasetAnnotation],
    ) -> Result<String, ExportError> {
        let placed = format!("images/{}/{}", image.split.as_str(), image.path);
        out.place_image(&placed, image, self.images)?;
        let (file_name, listed) = match self.images {
            ImageMode::Reference => {
                let abs = image.source_path.to_string_lossy().replace('\\', "/");
                (abs.clone(), abs)
            }
            ImageMode::Copy | ImageMode::Hardlink | ImageMode::None => (image.path.clone(), placed),
        };

        let slot = &mut self.splits[split_index(image.split)];
        let split = match slot {
            Some(s) => s,
            None => slot.insert(Self::open_split(&self.head, out, image.split)?),
        };

        let file_path = || out.root().join(&split.rel);
        let sep: &[u8] = if split.images == 0 { b"\n" } else { b",\n" };
        split.file.write_all(sep).map_err(|e| ExportError::io(&file_path(), &e))?;
        let obj =
            ImageOut { id: image.key, file_name: &file_name, width: image.width_px, height: image.height_px };
        serde_json::to_writer(&mut split.file, &obj).map_err(|e| json_error(&file_path(), &e))?;
        split.images += 1;

        for a in annotations {
            let bbox = a.geometry.bbox();
            let segmentation = match &a.geometry {
                Geometry::Box(_) => SegmentationOut::Empty,
                Geometry::Polygon { parts } => SegmentationOut::Polygon(parts),
                Geometry::Mask(rle) => {
                    SegmentationOut::Rle { size: [rle.height_px, rle.width_px], counts: rle.to_coco_string() }
                }
            };
            let obj = AnnotationOut {
                id: self.next_id,
                image_id: image.key,
                category_id: a.class_index + 1,
                bbox: [bbox.x0, bbox.y0, bbox.x1 - bbox.x0, bbox.y1 - bbox.y0],
                area: a.geometry.area(),
                iscrowd: u8::from(a.attributes.crowd),
                segmentation,
                attributes: AttributesOut {
                    occluded: a.attributes.occluded,
                    truncated: a.attributes.truncated,
                    tags: &a.attributes.tags,
                },
            };
            let sep: &[u8] = if split.annotations == 0 { b"\n" } else { b",\n" };
            split.spool.write_all(sep).map_err(|e| ExportError::io(&split.spool_path, &e))?;
            serde_json::to_writer(&mut split.spool, &obj).map_err(|e| json_error(&split.spool_path, &e))?;
            split.annotations += 1;
            self.next_id += 1;
        }
        Ok(listed)
    }

    fn finish(self: Box<Self>, out: &mut OutputDir<'_>) -> Result<(), ExportError> {
        let this = *self;
        for split in this.splits.into_iter().flatten() {
            let SplitFile { rel, mut file, spool_path, spool, images: _, annotations } = split;
            let file_path = out.root().join(&rel);
            let io = |e: std::io::Error| ExportError::io(&file_path, &e);
            let spool = spool.into_inner().map_err(|e| ExportError::io(&spool_path, e.error()))?;
            drop(spool);
            file.write_all(b"\n],\n\"annotations\":[").map_err(io)?;
            let spooled = File::open(&spool_path).map_err(|e| ExportError::io(&spool_path, &e))?;
            std::io::copy(&mut BufReader::with_capacity(1 << 16, spooled), &mut file).map_err(io)?;
            file.write_all(if annotations > 0 { b"\n]}\n" } else { b"]}\n" }).map_err(io)?;
            out.finish(file)?;
            std::fs::remove_file(&spool_path).map_err(|e| ExportError::io(&spool_path, &e))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

#[derive(Deserialize)]
struct FileIn {
    images: Option<Vec<ImageIn>>,
    annotations: Option<Vec<AnnotationIn>>,
    categories: Option<Vec<CategoryIn>>,
}

#[derive(Deserialize)]
struct ImageIn {
    id: Option<Value>,
    file_name: Option<String>,
    width: Option<Value>,
    height: Option<Value>,
}

#[derive(Deserialize)]
struct CategoryIn {
    id: Option<Value>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct AnnotationIn {
    image_id: Option<Value>,
    category_id: Option<Value>,
    bbox: Option<Numbers>,
    segmentation: Option<SegmentationIn>,
    iscrowd: Option<Value>,
    attributes: Option<Value>,
}

// The geometry fields are read by hand-written visitors rather than `#[serde(untagged)]` or
// `Value`: those buffer every annotation's numbers as a tree first, which makes reading a
// million-annotation file several times slower. Whatever shape the field has, these never
// fail: a wrong shape becomes a problem of that annotation, not an error of the file.

/// A JSON list of numbers, or what was there instead (for problem messages).
#[derive(Debug)]
enum Numbers {
    List(Vec<f64>),
    Not(&'static str),
}

/// `segmentation`: polygon parts, an RLE object, or something else.
#[derive(Debug)]
enum SegmentationIn {
    Parts(Vec<Numbers>),
    Rle { size: Option<Numbers>, counts: Option<CountsIn> },
    Not(&'static str),
}

/// RLE `counts`: pycocotools' compressed string, or the plain list of runs.
#[derive(Debug)]
enum CountsIn {
    Compressed(String),
    Runs(Numbers),
}

/// A number, or `None` for anything else (which is skipped over).
struct Scalar(Option<f64>);

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the visitor methods for the JSON kinds a lenient type does not expect: each
/// gives `$not(description)`.
macro_rules! other_kinds {
    ($not:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($not("true or false"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($not("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($not("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($not("a number"))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($not("a string"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($not("null"))
        }
    };
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v)))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
                drain_seq(seq)?;
                Ok(Scalar(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar, A::Error> {
                drain_map(map)?;
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

fn numbers_from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Numbers, A::Error> {
    let mut list = Vec::new();
    let mut all_numbers = true;
    while let Some(Scalar(n)) = seq.next_element::<Scalar>()? {
        match n {
            Some(x) if all_numbers => list.push(x),
            _ => all_numbers = false,
        }
    }
    Ok(if all_numbers {
        Numbers::List(list)
    } else {
        Numbers::Not("a list with something other than numbers")
    })
}

impl<'de> Deserialize<'de> for Numbers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Numbers;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of numbers")
            }
            other_kinds!(Numbers::Not);
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Numbers, A::Error> {
                numbers_from_seq(seq)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Numbers, A::Error> {
                drain_map(map)?;
                Ok(Numbers::Not("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for CountsIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CountsIn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("RLE counts")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<CountsIn, E> {
                Ok(CountsIn::Runs(Numbers::Not("true or false")))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<CountsIn, E> {
                Ok(CountsIn::Runs(Numbers::Not("a number")))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<CountsIn, E> {
                Ok(CountsIn::Runs(Numbers::Not("a number")))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<CountsIn, E> {
                Ok(CountsIn::Runs(Numbers::Not("a number")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CountsIn, E> {
                Ok(CountsIn::Compressed(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<CountsIn, E> {
                Ok(CountsIn::Compressed(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<CountsIn, E> {
                Ok(CountsIn::Runs(Numbers::Not("null")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<CountsIn, A::Error> {
                numbers_from_seq(seq).map(CountsIn::Runs)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CountsIn, A::Error> {
                drain_map(map)?;
                Ok(CountsIn::Runs(Numbers::Not("an object")))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for SegmentationIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SegmentationIn;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("polygons or an RLE object")
            }
            other_kinds!(SegmentationIn::Not);
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SegmentationIn, A::Error> {
                let mut parts = Vec::new();
                while let Some(part) = seq.next_element::<Numbers>()? {
                    parts.push(part);
                }
                Ok(SegmentationIn::Parts(parts))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SegmentationIn, A::Error> {
                let (mut size, mut counts) = (None, None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "size" => size = Some(map.next_value::<Numbers>()?),
                        "counts" => counts = Some(map.next_value::<CountsIn>()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(SegmentationIn::Rle { size, counts })
            }
        }
        d.deserialize_any(V)
    }
}

/// A whole, non-negative number that fits a `u32`.
fn whole_u32(v: f64) -> Option<u32> {
    (v >= 0.0 && v == v.trunc() && v <= f64::from(u32::MAX)).then_some(v as u32)
}

/// A whole number, from an integer or an integral float (`3.0`).
fn as_int(v: &Value) -> Option<i64> {
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    let f = v.as_f64()?;
    (f.is_finite() && f == f.trunc() && f.abs() < 9.0e15).then_some(f as i64)
}

/// A flag from `true`/`false`, `0`/`1` or their string forms.
fn as_flag(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        _ => false,
    }
}

fn attributes_of(ann: &AnnotationIn) -> Attributes {
    let mut a = Attributes { crowd: ann.iscrowd.as_ref().is_some_and(as_flag), ..Attributes::default() };
    if let Some(Value::Object(m)) = &ann.attributes {
        a.occluded = m.get("occluded").is_some_and(as_flag);
        a.truncated = m.get("truncated").is_some_and(as_flag);
        if let Some(Value::Array(tags)) = m.get("tags") {
            a.tags = tags.iter().filter_map(|t| t.as_str().map(str::to_string)).collect();
        }
    }
    a.normalized()
}

type GeometryResult = Result<Geometry, (LabelProblemKind, String, String)>;

/// The box of `bbox` (`[x, y, w, h]`) or the problem with it (kind, field, message).
fn box_from_bbox(k: usize, bbox: Option<&Numbers>) -> GeometryResult {
    let field = format!("annotations[{k}].bbox");
    let n = match bbox {
        None => {
            let msg = format!("annotation {k} has neither bbox nor segmentation");
            return Err((LabelProblemKind::Malformed, field, msg));
        }
        Some(Numbers::Not(what)) => {
            let msg = format!("bbox is {what}, not 4 numbers [x, y, w, h]");
            return Err((LabelProblemKind::Malformed, field, msg));
        }
        Some(Numbers::List(n)) if n.len() != 4 || !n.iter().all(|v| v.is_finite()) => {
            let msg = format!("bbox {n:?} is not 4 numbers [x, y, w, h]");
            return Err((LabelProblemKind::Malformed, field, msg));
        }
        Some(Numbers::List(n)) => n,
    };
    let (x, y, w, h) = (n[0], n[1], n[2], n[3]);
    if w < 0.0 || h < 0.0 {
        let msg = format!("bbox {n:?} has a negative width or height");
        return Err((LabelProblemKind::InvalidGeometry, field, msg));
    }
    Ok(Geometry::Box(BoxXyxy { x0: x, y0: y, x1: x + w, y1: y + h }))
}

fn geometry_of(k: usize, ann: &AnnotationIn, image_size: (Option<u32>, Option<u32>)) -> GeometryResult {
    let seg_field = |rest: &str| format!("annotations[{k}].segmentation{rest}");
    let malformed = |rest: &str, msg: String| Err((LabelProblemKind::Malformed, seg_field(rest), msg));
    let parts = match &ann.segmentation {
        None => return box_from_bbox(k, ann.bbox.as_ref()),
        Some(SegmentationIn::Not(what)) => {
            return malformed(
                "",
                format!("segmentation is {what}, neither polygons nor an RLE {{size, counts}}"),
            );
        }
        Some(SegmentationIn::Rle { size, counts }) => {
            return rle_of(k, size.as_ref(), counts.as_ref(), image_size);
        }
        Some(SegmentationIn::Parts(parts)) => parts,
    };
    // `[]` (and `[[]]`, which some tools write) is a box.
    if parts.iter().all(|p| matches!(p, Numbers::List(l) if l.is_empty())) {
        return box_from_bbox(k, ann.bbox.as_ref());
    }
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let rest = format!("[{j}]");
        let part = match part {
            Numbers::Not(what) => {
                return malformed(&rest, format!("polygon part is {what}, not a list of numbers"));
            }
            Numbers::List(part) => part,
        };
        if part.len() % 2 == 1 {
            return malformed(
                &rest,
                format!("polygon part has an odd number of coordinates ({})", part.len()),
            );
        }
        if part.len() < 6 {
            let msg = format!("polygon part has {} points; at least 3 are needed", part.len() / 2);
            return Err((LabelProblemKind::InvalidGeometry, seg_field(&rest), msg));
        }
        out.push(part.chunks_exact(2).map(|c| [c[0], c[1]]).collect());
    }
    Ok(Geometry::Polygon { parts: out })
}

fn rle_of(
    k: usize,
    size: Option<&Numbers>,
    counts: Option<&CountsIn>,
    image_size: (Option<u32>, Option<u32>),
) -> GeometryResult {
    let field = |rest: &str| format!("annotations[{k}].segmentation.{rest}");
    let malformed = |rest: &str, msg: String| Err((LabelProblemKind::Malformed, field(rest), msg));
    let (h, w) = match size {
        Some(Numbers::List(s)) if s.len() == 2 => match (whole_u32(s[0]), whole_u32(s[1])) {
            (Some(h), Some(w)) => (h, w),
            _ => return malformed("size", format!("RLE size {s:?} is not [height, width]")),
        },
        _ => return malformed("size", "RLE has no size [height, width]".into()),
    };
    if let (Some(iw), Some(ih)) = image_size
        && (iw != w || ih != h)
    {
        let msg = format!("mask is {w}x{h} but the image is {iw}x{ih}");
        return Err((LabelProblemKind::InvalidGeometry, field("size"), msg));
    }
    let rle = match counts {
        None => return malformed("counts", "RLE has no counts".into()),
        Some(CountsIn::Runs(Numbers::Not(what))) => {
            return malformed("counts", format!("RLE counts is {what}, neither a string nor a list of runs"));
        }
        Some(CountsIn::Compressed(s)) => match Rle::from_coco_string(h, w, s) {
            Ok(rle) => rle,
            Err(e) => return malformed("counts", e.to_string()),
        },
        Some(CountsIn::Runs(Numbers::List(runs))) => {
            let Some(counts) = runs.iter().map(|&c| whole_u32(c)).collect::<Option<Vec<u32>>>() else {
                return malformed("counts", "RLE counts has a run that is not a whole number".into());
            };
            let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
            let pixels = u64::from(h) * u64::from(w);
            if total != pixels {
                return malformed(
                    "counts",
                    format!("RLE counts add up to {total}, the mask has {pixels} pixels"),
                );
            }
            Rle { height_px: h, width_px: w, counts }
        }
    };
    Ok(Geometry::Mask(rle))
}

/// Reads one COCO instances file.
pub fn read(path: &Path) -> Result<LabelSet, ExportError> {
    let file = File::open(path).map_err(|e| ExportError::io(path, &e))?;
    let parsed: FileIn = serde_json::from_reader(BufReader::with_capacity(1 << 16, file)).map_err(|e| {
        if e.is_io() {
            ExportError::Io { path: path.to_path_buf(), message: e.to_string() }
        } else {
            ExportError::malformed(
                path,
                Some(e.line() as u64),
                None,
                format!("not a COCO instances file: {e}"),
            )
        }
    })?;
    if parsed.images.is_none() && parsed.annotations.is_none() && parsed.categories.is_none() {
        return Err(ExportError::malformed(
            path,
            None,
            None,
            "not a COCO instances file: it has no `images`, `annotations` or `categories`",
        ));
    }
    let split = path.file_name().and_then(|n| n.to_str()).and_then(split_from_name);
    let mut problems = Vec::new();
    let problem = |problems: &mut Vec<LabelProblem>, kind, field: String, message: String| {
        problems.push(LabelProblem {
            kind,
            location: Location { file: path.to_path_buf(), line: None, field: Some(field) },
            message,
        });
    };

    // Categories, sorted by id; a name used twice becomes one class.
    let mut categories: Vec<(i64, String)> = Vec::new();
    for (i, c) in parsed.categories.unwrap_or_default().into_iter().enumerate() {
        match (c.id.as_ref().and_then(as_int), c.name) {
            (Some(id), Some(name)) => categories.push((id, name)),
            (None, _) => problem(
                &mut problems,
                LabelProblemKind::Malformed,
                format!("categories[{i}].id"),
                format!("category {i} has no integer id"),
            ),
            (_, None) => problem(
                &mut problems,
                LabelProblemKind::Malformed,
                format!("categories[{i}].name"),
                format!("category {i} has no name"),
            ),
        }
    }
    categories.sort_by_key(|(id, _)| *id);
    let mut classes: Vec<String> = Vec::new();
    let mut class_of: HashMap<i64, usize> = HashMap::new();
    for (id, name) in categories {
        if class_of.contains_key(&id) {
            problem(
                &mut problems,
                LabelProblemKind::Malformed,
                "categories".into(),
                format!("category id {id} is listed twice; the first ({}) is used", classes[class_of[&id]]),
            );
            continue;
        }
        let index = match classes.iter().position(|c| *c == name) {
            Some(index) => index,
            None => {
                classes.push(name);
                classes.len() - 1
            }
        };
        class_of.insert(id, index);
    }

    let mut images: Vec<LabeledImage> = Vec::new();
    let mut image_of: HashMap<i64, usize> = HashMap::new();
    for (i, im) in parsed.images.unwrap_or_default().into_iter().enumerate() {
        let Some(id) = im.id.as_ref().and_then(as_int) else {
            problem(
                &mut problems,
                LabelProblemKind::Malformed,
                format!("images[{i}].id"),
                format!("image {i} has no integer id"),
            );
            continue;
        };
        let Some(file_name) = im.file_name.filter(|f| !f.is_empty()) else {
            problem(
                &mut problems,
                LabelProblemKind::Malformed,
                format!("images[{i}].file_name"),
                format!("image {i} (id {id}) has no file_name"),
            );
            continue;
        };
        if image_of.contains_key(&id) {
            problem(
                &mut problems,
                LabelProblemKind::Malformed,
                format!("images[{i}].id"),
                format!("image id {id} is listed twice; {file_name} is skipped"),
            );
            continue;
        }
        let size = |v: Option<Value>| v.as_ref().and_then(as_int).and_then(|n| u32::try_from(n).ok());
        image_of.insert(id, images.len());
        images.push(LabeledImage {
            path: file_name.replace('\\', "/"),
            width_px: size(im.width),
            height_px: size(im.height),
            coordinates: Coordinates::Pixels,
            match_stem: false,
            split,
            annotations: Vec::new(),
            location: Location { file: path.to_path_buf(), line: None, field: Some(format!("images[{i}]")) },
        });
    }

    for (k, ann) in parsed.annotations.unwrap_or_default().into_iter().enumerate() {
        let image_id = ann.image_id.as_ref().and_then(as_int);
        let Some(&image_index) = image_id.and_then(|id| image_of.get(&id)) else {
            let shown = ann.image_id.as_ref().map_or_else(|| "none".to_string(), Value::to_string);
            problem(
                &mut problems,
                LabelProblemKind::Malformed,
                format!("annotations[{k}].image_id"),
                format!("annotation {k} refers to image id {shown}, which the file does not list"),
            );
            continue;
        };
        let Some(&class_index) = ann.category_id.as_ref().and_then(as_int).and_then(|id| class_of.get(&id))
        else {
            let shown = ann.category_id.as_ref().map_or_else(|| "none".to_string(), Value::to_string);
            problem(
                &mut problems,
                LabelProblemKind::UnknownClass,
                format!("annotations[{k}].category_id"),
                format!("annotation {k} has category id {shown}, which `categories` does not list"),
            );
            continue;
        };
        let image = &mut images[image_index];
        let geometry = match geometry_of(k, &ann, (image.width_px, image.height_px)) {
            Ok(g) => g,
            Err((kind, field, message)) => {
                problem(&mut problems, kind, field, message);
                continue;
            }
        };
        image.annotations.push(LabeledAnnotation {
            class: classes[class_index].clone(),
            geometry,
            attributes: attributes_of(&ann),
            location: Location {
                file: path.to_path_buf(),
                line: None,
                field: Some(format!("annotations[{k}]")),
            },
        });
    }

    Ok(LabelSet { format: Format::Coco, classes, images, problems })
}
