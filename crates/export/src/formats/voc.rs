//! Pascal VOC XML: one `Annotations/<image path>.xml` per image, boxes only.
//!
//! Coordinates are written and read as the raw pixel corners of Lacuna's continuous pixel
//! space (a box over a whole 640 × 480 image is `0 0 640 480`), with no `+1`/`-1` shift: this
//! follows CVAT and Datumaro rather than the original 1-based VOC devkit. Numbers are printed
//! the shortest way that reads back to the same `f64`. Polygons and masks are written as their
//! bounding boxes (counted in [`FormatWriter::skipped`]); the `difficult` flag is the tag
//! `difficult`; crowd and other tags have no VOC field and are dropped.
//!
//! Besides the XML files an export has images under `JPEGImages/`, one
//! `ImageSets/Main/{split}.txt` per split (image ids: paths without extension, in write order)
//! and a CVAT-style `labelmap.txt`.
//!
//! Reading takes one `.xml` file or a folder (`Annotations/**/*.xml` when there is an
//! `Annotations` folder, else `**/*.xml`), with splits from `ImageSets/Main/*.txt`. Objects are
//! numbered from 0 in problem locations (`object[2]/bndbox/xmin` is the third object). A file
//! that is not well-formed XML is a problem of that file in a folder read, an error when it is
//! the one file read.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use lacuna_core::{Attributes, BoxXyxy, Geometry, Split};
use quick_xml::escape::escape;
use quick_xml::events::Event;

use super::{FormatWriter, WriteContext, fmt_f64, with_extension};
use crate::output::{OutputDir, OutputFile};
use crate::{
    Coordinates, DatasetAnnotation, DatasetImage, ExportError, Format, ImageMode, LabelProblem,
    LabelProblemKind, LabelSet, LabeledAnnotation, LabeledImage, Location,
};

const DIFFICULT: &str = "difficult";

/// `path` without the extension of its file name (`a.b/c.jpg` → `a.b/c`), `/`-separated.
fn without_extension(path: &str) -> &str {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    match path[name_start..].rfind('.') {
        Some(0) | None => path,
        Some(i) => &path[..name_start + i],
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes Pascal VOC (see the module docs).
#[derive(Debug)]
pub struct VocWriter {
    images: ImageMode,
    classes: Vec<String>,
    /// `ImageSets/Main/{split}.txt` by split (train, val, test), opened on the split's first
    /// image.
    lists: [Option<OutputFile>; 3],
    /// Label files written so far: two images whose paths differ only in the extension would
    /// share one.
    label_files: HashSet<String>,
    polygons_as_boxes: u64,
    masks_as_boxes: u64,
    xml: String,
}

impl VocWriter {
    pub fn new(ctx: &WriteContext<'_>) -> Result<Self, ExportError> {
        Ok(Self {
            images: ctx.images,
            classes: ctx.classes.to_vec(),
            lists: [None, None, None],
            label_files: HashSet::new(),
            polygons_as_boxes: 0,
            masks_as_boxes: 0,
            xml: String::new(),
        })
    }
}

fn split_index(split: Split) -> usize {
    match split {
        Split::Train => 0,
        Split::Val => 1,
        Split::Test => 2,
    }
}

/// Appends `<name>text</name>` on its own line at `depth` levels of indentation.
fn element(xml: &mut String, depth: usize, name: &str, text: &str) {
    for _ in 0..depth {
        xml.push_str("  ");
    }
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    xml.push_str(&escape(text));
    xml.push_str("</");
    xml.push_str(name);
    xml.push_str(">\n");
}

fn open(xml: &mut String, depth: usize, name: &str) {
    for _ in 0..depth {
        xml.push_str("  ");
    }
    xml.push('<');
    xml.push_str(name);
    xml.push_str(">\n");
}

fn close(xml: &mut String, depth: usize, name: &str) {
    for _ in 0..depth {
        xml.push_str("  ");
    }
    xml.push_str("</");
    xml.push_str(name);
    xml.push_str(">\n");
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

impl FormatWriter for VocWriter {
    fn image(
        &mut self,
        out: &mut OutputDir<'_>,
        image: &DatasetImage,
        annotations: &[DatasetAnnotation],
    ) -> Result<String, ExportError> {
        let label_file = format!("Annotations/{}", with_extension(&image.path, "xml"));
        if !self.label_files.insert(label_file.clone()) {
            return Err(ExportError::Invalid(format!(
                "{}: another image has the same path without extension, and VOC names label files by it \
                 ({label_file}); rename one of them or export another format",
                image.path
            )));
        }
        let placed = format!("JPEGImages/{}", image.path);
        out.place_image(&placed, image, self.images)?;
        let (path_text, listed) = match self.images {
            ImageMode::Reference => {
                let abs = image.source_path.to_string_lossy().replace('\\', "/");
                (abs.clone(), abs)
            }
            ImageMode::Copy | ImageMode::Hardlink | ImageMode::None => (image.path.clone(), placed),
        };
        let (folder, filename) = match image.path.rfind('/') {
            Some(i) => (&image.path[..i], &image.path[i + 1..]),
            None => ("", image.path.as_str()),
        };

        let xml = &mut self.xml;
        xml.clear();
        open(xml, 0, "annotation");
        element(xml, 1, "folder", folder);
        element(xml, 1, "filename", filename);
        element(xml, 1, "path", &path_text);
        open(xml, 1, "source");
        element(xml, 2, "database", "Lacuna");
        close(xml, 1, "source");
        open(xml, 1, "size");
        element(xml, 2, "width", &image.width_px.to_string());
        element(xml, 2, "height", &image.height_px.to_string());
        element(xml, 2, "depth", "3");
        close(xml, 1, "size");
        element(xml, 1, "segmented", "0");
        for a in annotations {
            match a.geometry {
                Geometry::Box(_) => {}
                Geometry::Polygon { .. } => self.polygons_as_boxes += 1,
                Geometry::Mask(_) => self.masks_as_boxes += 1,
            }
            let b = a.geometry.bbox();
            let name = self.classes.get(a.class_index).map_or("", String::as_str);
            open(xml, 1, "object");
            element(xml, 2, "name", name);
            element(xml, 2, "pose", "Unspecified");
            element(xml, 2, "truncated", flag(a.attributes.truncated));
            element(xml, 2, "occluded", flag(a.attributes.occluded));
            element(xml, 2, "difficult", flag(a.attributes.tags.iter().any(|t| t == DIFFICULT)));
            open(xml, 2, "bndbox");
            element(xml, 3, "xmin", &fmt_f64(b.x0));
            element(xml, 3, "ymin", &fmt_f64(b.y0));
            element(xml, 3, "xmax", &fmt_f64(b.x1));
            element(xml, 3, "ymax", &fmt_f64(b.y1));
            close(xml, 2, "bndbox");
            close(xml, 1, "object");
        }
        close(xml, 0, "annotation");
        out.write_file(&label_file, self.xml.as_bytes())?;

        let slot = &mut self.lists[split_index(image.split)];
        let list = match slot {
            Some(list) => list,
            None => slot.insert(out.create(&format!("ImageSets/Main/{}.txt", image.split.as_str()))?),
        };
        let line = format!("{}\n", without_extension(&image.path));
        std::io::Write::write_all(list, line.as_bytes()).map_err(|e| {
            ExportError::io(&out.root().join(format!("ImageSets/Main/{}.txt", image.split.as_str())), &e)
        })?;
        Ok(listed)
    }

    fn finish(self: Box<Self>, out: &mut OutputDir<'_>) -> Result<(), ExportError> {
        let this = *self;
        for list in this.lists.into_iter().flatten() {
            out.finish(list)?;
        }
        let mut labelmap = String::from("# label:color_rgb:parts:actions\n");
        for class in &this.classes {
            labelmap.push_str(class);
            labelmap.push_str(":::\n");
        }
        out.write_file("labelmap.txt", labelmap.as_bytes())
    }

    fn skipped(&self) -> Vec<(String, u64)> {
        let mut skipped = Vec::new();
        if self.polygons_as_boxes > 0 {
            skipped.push(("polygon written as its bounding box".to_string(), self.polygons_as_boxes));
        }
        if self.masks_as_boxes > 0 {
            skipped.push(("mask written as its bounding box".to_string(), self.masks_as_boxes));
        }
        skipped
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// An XML element as far as VOC needs it: name, text, child elements, line of its start tag.
#[derive(Debug)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
    line: u64,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Trimmed text of the child `name`, if there is one.
    fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Turns byte offsets into 1-based line numbers, scanning forward only.
struct Lines<'a> {
    src: &'a [u8],
    scanned: usize,
    line: u64,
}

impl Lines<'_> {
    fn at(&mut self, offset: u64) -> u64 {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX).min(self.src.len());
        if offset < self.scanned {
            return 1 + self.src[..offset].iter().filter(|&&b| b == b'\n').count() as u64;
        }
        self.line += self.src[self.scanned..offset].iter().filter(|&&b| b == b'\n').count() as u64;
        self.scanned = offset;
        self.line
    }
}

/// Parses a whole XML document into its root element, or (line, message).
fn parse_xml(src: &str) -> Result<Node, (u64, String)> {
    let mut reader = quick_xml::Reader::from_str(src);
    let mut lines = Lines { src: src.as_bytes(), scanned: 0, line: 1 };
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let start = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                let line = lines.at(reader.error_position());
                return Err((line, format!("not well-formed XML: {e}")));
            }
        };
        match event {
            Event::Start(e) | Event::Empty(e) if root.is_some() && stack.is_empty() => {
                let line = lines.at(start);
                return Err((line, format!("a second root element <{}>", e.name().into_inner())));
            }
            Event::Start(e) => {
                let line = lines.at(start);
                let name = e.local_name().into_inner().to_string();
                stack.push(Node { name, text: String::new(), children: Vec::new(), line });
            }
            Event::Empty(e) => {
                let line = lines.at(start);
                let node = Node {
                    name: e.local_name().into_inner().to_string(),
                    text: String::new(),
                    children: Vec::new(),
                    line,
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::End(_) => {
                let Some(node) = stack.pop() else {
                    return Err((lines.at(start), "a closing tag without an opening one".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Text(t) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err((lines.at(start), format!("unknown entity &{other};"))),
                    },
                    Err(e) => {
                        return Err((lines.at(start), format!("bad character reference &{}; ({e})", &*r)));
                    }
                };
                if let Some(node) = stack.last_mut() {
                    node.text.push(c);
                }
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err((
                        lines.at(start),
                        format!("the file ends inside <{}> (opened on line {})", open.name, open.line),
                    ));
                }
                return root.ok_or_else(|| (lines.at(start), "no XML element in the file".to_string()));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// What is wrong with an `<object>`: kind, line, field, message.
type ObjectProblem = (LabelProblemKind, u64, String, String);

/// Accumulates images, classes and problems over the files of a read.
struct Collector {
    classes: Vec<String>,
    class_set: HashSet<String>,
    images: Vec<LabeledImage>,
    problems: Vec<LabelProblem>,
}

impl Collector {
    fn problem(
        &mut self,
        kind: LabelProblemKind,
        file: &Path,
        line: Option<u64>,
        field: Option<String>,
        msg: String,
    ) {
        self.problems.push(LabelProblem::new(kind, file, line, field, msg));
    }

    /// Adds one parsed VOC file. `rel` is the XML's path relative to the annotation folder
    /// (`None` for a single-file read, whose image path is just `<filename>`).
    fn add(&mut self, file: &Path, rel: Option<&str>, root: &Node, split: Option<Split>) {
        let filename = root.child_text("filename").filter(|f| !f.is_empty());
        let xml_name = || file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let ext_of = |name: &str| {
            let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
            match name.rfind('.') {
                Some(0) | None => None,
                Some(i) => Some(name[i + 1..].to_string()),
            }
        };
        let (path, match_stem) = match (rel, filename) {
            (None, Some(f)) => (f.replace('\\', "/"), false),
            (Some(rel), Some(f)) => match ext_of(f) {
                Some(ext) => (with_extension(rel, &ext), false),
                None => (without_extension(rel).to_string(), true),
            },
            (Some(rel), None) => (without_extension(rel).to_string(), true),
            (None, None) => (without_extension(&xml_name()).to_string(), true),
        };

        let mut size = |field: &str| -> Option<u32> {
            let node = root.child("size")?.child(field)?;
            let text = node.text.trim();
            let value = text.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0 && *v == v.trunc());
            match value {
                Some(v) if v > 0.0 && v <= f64::from(u32::MAX) => Some(v as u32),
                Some(_) => None,
                None => {
                    self.problem(
                        LabelProblemKind::Malformed,
                        file,
                        Some(node.line),
                        Some(format!("size/{field}")),
                        format!("image {field} `{text}` is not a whole number"),
                    );
                    None
                }
            }
        };
        let width_px = size("width");
        let height_px = size("height");

        let mut annotations = Vec::new();
        for (j, obj) in root.children.iter().filter(|c| c.name == "object").enumerate() {
            match self.object(file, j, obj) {
                Ok(a) => annotations.push(a),
                Err((kind, line, field, message)) => {
                    self.problem(kind, file, Some(line), Some(field), message)
                }
            }
        }
        self.images.push(LabeledImage {
            path,
            width_px,
            height_px,
            coordinates: Coordinates::Pixels,
            match_stem,
            split,
            annotations,
            location: Location { file: file.to_path_buf(), line: None, field: None },
        });
    }

    /// One `<object>`, or the problem with it (kind, line, field, message).
    fn object(&mut self, file: &Path, j: usize, obj: &Node) -> Result<LabeledAnnotation, ObjectProblem> {
        let malformed =
            |line: u64, field: String, msg: String| (LabelProblemKind::Malformed, line, field, msg);
        let name = obj.child_text("name").filter(|n| !n.is_empty()).ok_or_else(|| {
            let line = obj.child("name").map_or(obj.line, |n| n.line);
            malformed(line, format!("object[{j}]/name"), format!("object {j} has no class name"))
        })?;
        let bndbox = obj.child("bndbox").ok_or_else(|| {
            malformed(obj.line, format!("object[{j}]/bndbox"), format!("object {j} ({name}) has no <bndbox>"))
        })?;
        let coord = |field: &str| -> Result<f64, ObjectProblem> {
            let path = format!("object[{j}]/bndbox/{field}");
            let Some(node) = bndbox.child(field) else {
                return Err(malformed(bndbox.line, path, format!("object {j} ({name}) has no <{field}>")));
            };
            let text = node.text.trim();
            text.parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                malformed(
                    node.line,
                    path,
                    format!("<{field}> of object {j} ({name}) is `{text}`, not a number"),
                )
            })
        };
        let b = BoxXyxy { x0: coord("xmin")?, y0: coord("ymin")?, x1: coord("xmax")?, y1: coord("ymax")? };
        if b.x0 > b.x1 || b.y0 > b.y1 {
            return Err((
                LabelProblemKind::InvalidGeometry,
                bndbox.line,
                format!("object[{j}]/bndbox"),
                format!(
                    "object {j} ({name}) has xmin > xmax or ymin > ymax ({} {} {} {})",
                    b.x0, b.y0, b.x1, b.y1
                ),
            ));
        }
        let is_set = |field: &str| {
            obj.child_text(field).is_some_and(|t| match t.to_ascii_lowercase().as_str() {
                "true" | "yes" => true,
                other => other.parse::<f64>().is_ok_and(|v| v != 0.0),
            })
        };
        let mut attributes = Attributes {
            occluded: is_set("occluded"),
            truncated: is_set("truncated"),
            ..Attributes::default()
        };
        if is_set("difficult") {
            attributes.tags.push(DIFFICULT.to_string());
        }
        if self.class_set.insert(name.to_string()) {
            self.classes.push(name.to_string());
        }
        Ok(LabeledAnnotation {
            class: name.to_string(),
            geometry: Geometry::Box(b),
            attributes,
            location: Location {
                file: file.to_path_buf(),
                line: Some(obj.line),
                field: Some(format!("object[{j}]")),
            },
        })
    }
}

fn read_text(path: &Path) -> Result<String, ExportError> {
    let bytes = std::fs::read(path).map_err(|e| ExportError::io(path, &e))?;
    String::from_utf8(bytes)
        .map_err(|e| ExportError::malformed(path, None, None, format!("not UTF-8 text: {e}")))
}

/// Every `.xml` file under `dir`, sorted by path; hidden files and folders are skipped.
fn xml_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ExportError> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ExportError::io(dir, &e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| ExportError::io(dir, &e))?;
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            xml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")) {
            out.push(path);
        }
    }
    Ok(())
}

/// Image id → split from `ImageSets/Main/{train,val,test,trainval}.txt` under `root`.
fn image_sets(root: &Path) -> Result<HashMap<String, Split>, ExportError> {
    let mut splits = HashMap::new();
    let lists =
        [("train", Split::Train), ("val", Split::Val), ("test", Split::Test), ("trainval", Split::Train)];
    for (name, split) in lists {
        let path = root.join("ImageSets").join("Main").join(format!("{name}.txt"));
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ExportError::io(&path, &e))?;
        // One id per line; the whole line, as ids (paths) may contain spaces.
        for id in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            splits.entry(id.replace('\\', "/")).or_insert(split);
        }
    }
    Ok(splits)
}

/// Reads one VOC `.xml` file or a folder of them (see the module docs).
pub fn read(path: &Path) -> Result<LabelSet, ExportError> {
    let mut c = Collector {
        classes: Vec::new(),
        class_set: HashSet::new(),
        images: Vec::new(),
        problems: Vec::new(),
    };
    if path.is_file() {
        let src = read_text(path)?;
        let root =
            parse_xml(&src).map_err(|(line, msg)| ExportError::malformed(path, Some(line), None, msg))?;
        if root.name != "annotation" {
            return Err(ExportError::malformed(
                path,
                Some(root.line),
                None,
                format!("not a Pascal VOC file: the root element is <{}>, not <annotation>", root.name),
            ));
        }
        c.add(path, None, &root, None);
    } else if path.is_dir() {
        let annotations = path.join("Annotations");
        let base = if annotations.is_dir() { annotations } else { path.to_path_buf() };
        let mut files = Vec::new();
        xml_files(&base, &mut files)?;
        if files.is_empty() {
            return Err(ExportError::Invalid(format!(
                "{}: no Pascal VOC .xml files in this folder",
                base.display()
            )));
        }
        let splits = image_sets(path)?;
        for file in files {
            let rel = file
                .strip_prefix(&base)
                .unwrap_or(&file)
                .components()
                .map(|p| p.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let src = match read_text(&file) {
                Ok(src) => src,
                Err(ExportError::Malformed { message, .. }) => {
                    c.problem(LabelProblemKind::Malformed, &file, None, None, message);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let root = match parse_xml(&src) {
                Ok(root) => root,
                Err((line, message)) => {
                    c.problem(LabelProblemKind::Malformed, &file, Some(line), None, message);
                    continue;
                }
            };
            if root.name != "annotation" {
                c.problem(
                    LabelProblemKind::Malformed,
                    &file,
                    Some(root.line),
                    None,
                    format!("not a Pascal VOC file: the root element is <{}>, not <annotation>", root.name),
                );
                continue;
            }
            let split = splits.get(without_extension(&rel)).copied();
            c.add(&file, Some(&rel), &root, split);
        }
    } else {
        return Err(ExportError::Io { path: path.to_path_buf(), message: "no such file or folder".into() });
    }
    Ok(LabelSet { format: Format::Voc, classes: c.classes, images: c.images, problems: c.problems })
}
