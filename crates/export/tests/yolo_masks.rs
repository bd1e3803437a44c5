//! YOLO (detect and seg) and PNG masks: round trips through `write_dataset` and `read_labels`,
//! deterministic bytes, problems reported for bad label files, and decoded mask pixels.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use lacuna_core::{Attributes, BinaryMask, BoxXyxy, ContentHash, Geometry, Rle, Split, default_class_color};
use lacuna_export::{
    Coordinates, DatasetAnnotation, DatasetImage, DatasetSource, ExportError, ExportRequest, ExportSummary,
    Format, ImageMode, LabelProblemKind, LabelSet, LabeledImage, Provenance, SplitConfig, VersionInfo,
    read_labels, write_dataset,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

struct Source {
    items: Vec<(DatasetImage, Vec<DatasetAnnotation>)>,
}

impl DatasetSource for Source {
    fn for_each_image(
        &mut self,
        visit: &mut dyn FnMut(&DatasetImage, &[DatasetAnnotation]) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        for (image, annotations) in &self.items {
            visit(image, annotations)?;
        }
        Ok(())
    }
}

fn classes() -> Vec<String> {
    vec!["person".into(), "traffic light: red".into(), "yes".into()]
}

fn version() -> VersionInfo {
    VersionInfo {
        id: "cd".repeat(32),
        name: "v1".into(),
        parent: None,
        notes: String::new(),
        created_at_unix_s: 1_700_000_000,
        created_by: "tester".into(),
        split: SplitConfig::default(),
    }
}

/// An image whose file really exists under `dir/src/` (copying checks its hash).
fn image(
    dir: &Path,
    key: i64,
    path: &str,
    split: Split,
    w: u32,
    h: u32,
) -> Result<DatasetImage, std::io::Error> {
    let source_path = dir.join("src").join(path);
    if let Some(parent) = source_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let bytes = format!("pixels of {path}").into_bytes();
    std::fs::write(&source_path, &bytes)?;
    Ok(DatasetImage {
        key,
        path: path.into(),
        source_path,
        content_hash: ContentHash(*blake3::hash(&bytes).as_bytes()),
        file_size_bytes: bytes.len() as u64,
        width_px: w,
        height_px: h,
        orientation: 1,
        split,
        provenance: Provenance::default(),
    })
}

fn boxed(x0: f64, y0: f64, x1: f64, y1: f64) -> Geometry {
    Geometry::Box(BoxXyxy { x0, y0, x1, y1 })
}

fn ann(class_index: usize, geometry: Geometry) -> DatasetAnnotation {
    DatasetAnnotation { class_index, geometry, attributes: Attributes::default() }
}

fn crowd(class_index: usize, geometry: Geometry) -> DatasetAnnotation {
    DatasetAnnotation {
        class_index,
        geometry,
        attributes: Attributes { crowd: true, ..Attributes::default() },
    }
}

fn export(
    source: &mut dyn DatasetSource,
    format: Format,
    images: ImageMode,
    out_dir: &Path,
) -> Result<ExportSummary, ExportError> {
    let classes = classes();
    let version = version();
    let req =
        ExportRequest { format, images, classes: &classes, version: &version, out_dir, overwrite: false };
    write_dataset(&req, source, &mut |_| {}, &AtomicBool::new(false))
}

/// Every file under `root` by `/`-separated relative path.
fn files(root: &Path) -> Result<BTreeMap<String, Vec<u8>>, std::io::Error> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), std::io::Error> {
        for e in std::fs::read_dir(dir)? {
            let path = e?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path.strip_prefix(root).map_err(std::io::Error::other)?;
                out.insert(rel.to_string_lossy().replace('\\', "/"), std::fs::read(&path)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

fn find<'a>(set: &'a LabelSet, path: &str) -> Result<&'a LabeledImage, String> {
    set.images.iter().find(|i| i.path == path).ok_or_else(|| {
        format!("{path} not read back; got {:?}", set.images.iter().map(|i| &i.path).collect::<Vec<_>>())
    })
}

fn assert_close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 1e-9, "{what}: {a} vs {b}");
}

/// Boxes with awkward fractions, a polygon and a mask (written as boxes in detect mode), an
/// image without annotations in val, a nested path in test.
fn detect_sample(dir: &Path) -> Result<Source, std::io::Error> {
    let mut mask = BinaryMask::new(640, 480);
    for y in 100..140 {
        for x in 300..351 {
            mask.set(x, y, true);
        }
    }
    Ok(Source {
        items: vec![
            (
                image(dir, 1, "cam1/0001.jpg", Split::Train, 640, 480)?,
                vec![
                    ann(0, boxed(1.1, 2.2, 30.7, 40.3)),
                    ann(1, boxed(0.0, 0.0, 640.0, 480.0)),
                    ann(2, boxed(100.0 / 3.0, 17.125, 200.0 / 7.0 + 50.0, 479.999_999_9)),
                    ann(
                        0,
                        Geometry::Polygon { parts: vec![vec![[10.5, 20.25], [60.0, 22.0], [30.0, 90.75]]] },
                    ),
                    ann(1, Geometry::Mask(Rle::from_mask(&mask))),
                ],
            ),
            (image(dir, 2, "cam2/empty.png", Split::Val, 320, 240)?, vec![]),
            (image(dir, 3, "a/b/c.d.jpeg", Split::Test, 333, 111)?, vec![ann(2, boxed(3.3, 4.4, 5.5, 6.6))]),
        ],
    })
}

#[test]
fn yolo_detect_round_trip_gives_back_the_boxes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = detect_sample(dir.path())?;
    let out = dir.path().join("yolo");
    let summary = export(&mut source, Format::Yolo, ImageMode::Copy, &out)?;
    assert_eq!(summary.images, 3);
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert!(out.join("labels/val/cam2/empty.txt").is_file());
    assert!(out.join("images/test/a/b/c.d.jpeg").is_file());

    let set = read_labels(&out, None)?;
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    assert_eq!(set.classes, classes());
    assert_eq!(set.format, Format::Yolo);
    assert_eq!(set.images.len(), 3);
    for (input, annotations) in &source.items {
        let got = find(&set, &input.path)?;
        assert_eq!(got.split, Some(input.split), "{}", input.path);
        assert_eq!(got.coordinates, Coordinates::Normalized);
        assert!(!got.match_stem);
        assert_eq!(got.annotations.len(), annotations.len(), "{}", input.path);
        let (w, h) = (f64::from(input.width_px), f64::from(input.height_px));
        for (a, b) in annotations.iter().zip(&got.annotations) {
            assert_eq!(b.class, classes()[a.class_index]);
            let Geometry::Box(g) = b.geometry else {
                return Err(format!("not a box: {:?}", b.geometry).into());
            };
            let expected = a.geometry.bbox();
            assert_close(g.x0 * w, expected.x0, "x0");
            assert_close(g.y0 * h, expected.y0, "y0");
            assert_close(g.x1 * w, expected.x1, "x1");
            assert_close(g.y1 * h, expected.y1, "y1");
        }
    }
    assert!(find(&set, "cam2/empty.png")?.annotations.is_empty());

    let yaml = std::fs::read_to_string(out.join("data.yaml"))?;
    assert!(!yaml.lines().any(|l| l.starts_with("path:")), "{yaml}");
    for line in
        ["train: images/train", "val: images/val", "test: images/test", "nc: 3", "names:", "  0: person"]
    {
        assert!(yaml.lines().any(|l| l == line), "missing `{line}` in\n{yaml}");
    }
    assert!(yaml.contains("  1: \"traffic light: red\"\n  2: \"yes\"\n"), "{yaml}");
    // The manifest lists the label files with their hashes.
    let manifest = std::fs::read_to_string(out.join("manifest.json"))?;
    let label = std::fs::read(out.join("labels/train/cam1/0001.txt"))?;
    assert!(manifest.contains(&format!(
        "{{\"path\":\"labels/train/cam1/0001.txt\",\"blake3\":\"{}\",\"bytes\":{}}}",
        blake3::hash(&label).to_hex(),
        label.len()
    )));
    Ok(())
}

#[test]
fn yolo_seg_round_trip_keeps_polygons_and_merges_parts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let single = vec![[10.5, 20.25], [60.0 + 1.0 / 3.0, 22.0], [30.0, 90.75], [12.0, 80.0]];
    let first = vec![[100.0, 100.0], [150.0, 100.0], [150.0, 160.0], [100.0, 160.0]];
    let second = vec![[200.5, 110.0], [260.0, 115.0], [230.0, 170.125]];
    let mut source = Source {
        items: vec![
            (
                image(dir.path(), 1, "seq/0001.png", Split::Train, 640, 480)?,
                vec![
                    ann(0, Geometry::Polygon { parts: vec![single.clone()] }),
                    ann(1, Geometry::Polygon { parts: vec![first.clone(), second.clone()] }),
                    ann(2, boxed(5.0, 6.0, 7.5, 9.25)),
                ],
            ),
            (image(dir.path(), 2, "seq/0002.png", Split::Train, 640, 480)?, vec![]),
        ],
    };
    let out = dir.path().join("seg");
    export(&mut source, Format::YoloSeg, ImageMode::Hardlink, &out)?;
    let set = read_labels(&out.join("data.yaml"), None)?;
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    assert_eq!(set.format, Format::YoloSeg);
    let got = find(&set, "seq/0001.png")?;
    assert_eq!(got.annotations.len(), 3);
    let scaled = |g: &Geometry| -> Result<Vec<[f64; 2]>, String> {
        match g {
            Geometry::Polygon { parts } if parts.len() == 1 => {
                Ok(parts[0].iter().map(|&[x, y]| [x * 640.0, y * 480.0]).collect())
            }
            other => Err(format!("expected one polygon, got {other:?}")),
        }
    };
    let poly = scaled(&got.annotations[0].geometry)?;
    assert_eq!(poly.len(), single.len());
    for (a, b) in poly.iter().zip(&single) {
        assert_close(a[0], b[0], "x");
        assert_close(a[1], b[1], "y");
    }
    // Two parts → one polygon walking both, bridged there and back at their nearest points.
    let merged = scaled(&got.annotations[1].geometry)?;
    assert_eq!(merged.len(), first.len() + 1 + second.len() + 1);
    for p in first.iter().chain(&second) {
        assert!(
            merged.iter().any(|q| (q[0] - p[0]).abs() <= 1e-9 && (q[1] - p[1]).abs() <= 1e-9),
            "{p:?} missing from {merged:?}"
        );
    }
    // The bridge: the first part ends where it started ((150,100), nearest to the second
    // part's (200.5,110)) and the second part starts at (200.5,110).
    assert_close(merged[0][0], 150.0, "bridge start x");
    assert_close(merged[4][0], 150.0, "first part closed");
    assert_close(merged[5][0], 200.5, "second part entry");
    // A box in seg mode is its four corners.
    let corners = scaled(&got.annotations[2].geometry)?;
    let expected = [[5.0, 6.0], [7.5, 6.0], [7.5, 9.25], [5.0, 9.25]];
    for (a, b) in corners.iter().zip(&expected) {
        assert_close(a[0], b[0], "corner x");
        assert_close(a[1], b[1], "corner y");
    }
    assert!(find(&set, "seq/0002.png")?.annotations.is_empty());
    // No val images: val points at the train images, said in a comment; the reader does not
    // read the train labels twice.
    let yaml = std::fs::read_to_string(out.join("data.yaml"))?;
    assert!(yaml.contains("# val has no images in this version"), "{yaml}");
    assert!(yaml.lines().any(|l| l == "val: images/train"), "{yaml}");
    assert!(!yaml.contains("test:"), "{yaml}");
    assert_eq!(set.images.len(), 2);
    Ok(())
}

#[test]
fn yolo_seg_writes_masks_as_their_outline_and_skips_crowds() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut mask = BinaryMask::new(64, 48);
    for y in 10..30 {
        for x in 5..25 {
            mask.set(x, y, true);
        }
    }
    let mut source = Source {
        items: vec![(
            image(dir.path(), 1, "m.jpg", Split::Val, 64, 48)?,
            vec![ann(0, Geometry::Mask(Rle::from_mask(&mask))), crowd(1, boxed(0.0, 0.0, 10.0, 10.0))],
        )],
    };
    let out = dir.path().join("seg");
    let summary = export(&mut source, Format::YoloSeg, ImageMode::None, &out)?;
    assert_eq!(summary.skipped.values().sum::<u64>(), 1, "{:?}", summary.skipped);
    assert!(summary.skipped.keys().any(|k| k.contains("crowd")));
    let set = read_labels(&out, None)?;
    // Labels only: the image is not there, so its path comes back without extension.
    let got = find(&set, "m")?;
    assert!(got.match_stem);
    assert_eq!(got.split, Some(Split::Val));
    assert_eq!(got.annotations.len(), 1);
    let Geometry::Polygon { parts } = &got.annotations[0].geometry else {
        return Err("not a polygon".into());
    };
    let mut pts: Vec<[f64; 2]> = parts[0].iter().map(|&[x, y]| [x * 64.0, y * 48.0]).collect();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    assert_eq!(pts.len(), 4);
    for (a, b) in pts.iter().zip([[5.0, 10.0], [5.0, 30.0], [25.0, 10.0], [25.0, 30.0]]) {
        assert_close(a[0], b[0], "x");
        assert_close(a[1], b[1], "y");
    }
    Ok(())
}

#[test]
fn exports_are_byte_identical() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = detect_sample(dir.path())?;
    for (i, format) in [Format::Yolo, Format::YoloSeg, Format::Masks].into_iter().enumerate() {
        let a = dir.path().join(format!("a{i}"));
        let b = dir.path().join(format!("b{i}"));
        export(&mut source, format, ImageMode::Copy, &a)?;
        export(&mut source, format, ImageMode::Copy, &b)?;
        let (fa, fb) = (files(&a)?, files(&b)?);
        assert!(fa.contains_key("manifest.json"));
        assert!(fa.len() > 5, "{:?}", fa.keys().collect::<Vec<_>>());
        assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
        for (path, bytes) in &fa {
            assert!(fb.get(path) == Some(bytes), "{format:?}: {path} differs between two exports");
        }
    }
    Ok(())
}

#[test]
fn reference_images_are_refused_for_yolo() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = detect_sample(dir.path())?;
    for format in [Format::Yolo, Format::YoloSeg] {
        let err = export(&mut source, format, ImageMode::Reference, &dir.path().join("ref"))
            .err()
            .ok_or("a referenced YOLO export must fail")?;
        assert!(matches!(err, ExportError::Invalid(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "YOLO reads labels next to images: use --images copy or hardlink (or none for labels only)"
        );
        assert!(!dir.path().join("ref").exists());
    }
    Ok(())
}

/// A small YOLO dataset written by hand: `data.yaml` with `names_yaml`, one label file.
fn hand_dataset(dir: &Path, names_yaml: &str, label: &str) -> Result<PathBuf, std::io::Error> {
    let root = dir.join("ds");
    std::fs::create_dir_all(root.join("labels/train"))?;
    std::fs::create_dir_all(root.join("images/train"))?;
    std::fs::write(
        root.join("data.yaml"),
        format!("path: .\ntrain: images/train\nval: images/train\n{names_yaml}"),
    )?;
    std::fs::write(root.join("images/train/a.JPG"), b"jpeg")?;
    std::fs::write(root.join("labels/train/a.txt"), label)?;
    Ok(root)
}

#[test]
fn bad_lines_are_problems_naming_file_and_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let label = "0 0.5 0.5 0.2 0.2\n\
                 1 0.5 0.5 0.2\n\
                 \n\
                 1 0.5 abc 0.2 0.2\n\
                 7 0.5 0.5 0.2 0.2\n\
                 -1 0.5 0.5 0.2 0.2\n\
                 1 0.1 0.1 0.9 0.1 0.5 0.8\n\
                 2 0.1 0.1 0.9 0.1 0.5 0.8 0.3\n";
    let root = hand_dataset(dir.path(), "names: [cat, dog]\n", label)?;
    let set = read_labels(&root, None)?;
    let img = find(&set, "a.JPG")?;
    assert_eq!(img.split, Some(Split::Train));
    assert_eq!(img.annotations.len(), 2, "{:?}", img.annotations);
    assert_eq!(img.annotations[0].class, "cat");
    assert_eq!(img.annotations[0].location.line, Some(1));
    assert!(matches!(img.annotations[1].geometry, Geometry::Polygon { .. }));
    assert_eq!(img.annotations[1].class, "dog");
    assert_eq!(img.annotations[1].location.line, Some(7));

    let file = root.join("labels/train/a.txt");
    let expect = [
        (
            LabelProblemKind::Malformed,
            2,
            "line 2: 4 values; a box needs 5 (class cx cy w h), a polygon class + at least 3 x y pairs",
        ),
        (LabelProblemKind::Malformed, 4, "line 4: value 3 (cy) `abc` is not a number"),
        (LabelProblemKind::UnknownClass, 5, "line 5: class index 7 but"),
        (LabelProblemKind::Malformed, 6, "line 6: class `-1` is not a class index"),
        (LabelProblemKind::Malformed, 8, "line 8: 8 values;"),
    ];
    assert_eq!(set.problems.len(), expect.len(), "{:?}", set.problems);
    for (p, (kind, line, start)) in set.problems.iter().zip(expect) {
        assert_eq!(p.kind, kind, "{p}");
        assert_eq!(p.location.file, file, "{p}");
        assert_eq!(p.location.line, Some(line), "{p}");
        assert!(p.message.starts_with(start), "{p}");
    }
    assert!(set.problems[2].message.contains("2 classes (0..1)"), "{}", set.problems[2]);
    assert_eq!(set.problems[1].location.field.as_deref(), Some("cy"));
    Ok(())
}

#[test]
fn names_as_a_list_or_a_mapping_read_the_same() -> TestResult {
    let dir = tempfile::tempdir()?;
    let label = "1 0.5 0.5 0.25 0.5\n0 0.25 0.25 0.1 0.1\n";
    let list =
        read_labels(&hand_dataset(&dir.path().join("l"), "names: [cat, \"dog: big\"]\n", label)?, None)?;
    let map = read_labels(
        &hand_dataset(&dir.path().join("m"), "names:\n  1: \"dog: big\"\n  0: cat\n", label)?
            .join("data.yaml"),
        None,
    )?;
    assert!(list.problems.is_empty() && map.problems.is_empty(), "{:?} {:?}", list.problems, map.problems);
    assert_eq!(list.classes, vec!["cat".to_string(), "dog: big".to_string()]);
    assert_eq!(map.classes, list.classes);
    let (a, b) = (find(&list, "a.JPG")?, find(&map, "a.JPG")?);
    assert_eq!(a.annotations.iter().map(|x| &x.class).collect::<Vec<_>>(), ["dog: big", "cat"]);
    assert_eq!(
        a.annotations.iter().map(|x| &x.geometry).collect::<Vec<_>>(),
        b.annotations.iter().map(|x| &x.geometry).collect::<Vec<_>>()
    );
    assert_eq!(a.annotations[0].geometry, boxed(0.375, 0.25, 0.625, 0.75));
    // A mapping with a gap is not a class list.
    let gap = hand_dataset(&dir.path().join("g"), "names:\n  0: cat\n  2: dog\n", label)?;
    assert!(matches!(read_labels(&gap, None), Err(ExportError::Malformed { .. })));
    Ok(())
}

#[test]
fn a_single_label_file_needs_class_names_nearby() -> TestResult {
    let dir = tempfile::tempdir()?;
    let labels = dir.path().join("x/labels/val/sub");
    std::fs::create_dir_all(&labels)?;
    let file = labels.join("0007.txt");
    std::fs::write(&file, "0 0.5 0.5 1 1\n")?;
    let err = read_labels(&file, None).err().ok_or("no class names: must fail")?;
    assert!(matches!(err, ExportError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("no classes.txt or data.yaml"), "{err}");

    std::fs::write(dir.path().join("x/classes.txt"), "bird\n")?;
    let set = read_labels(&file, None)?;
    assert_eq!(set.classes, vec!["bird".to_string()]);
    let img = find(&set, "sub/0007")?;
    assert!(img.match_stem);
    assert_eq!(img.split, Some(Split::Val));
    // With the image in the matching images folder, its extension is found.
    std::fs::create_dir_all(dir.path().join("x/images/val/sub"))?;
    std::fs::write(dir.path().join("x/images/val/sub/0007.webp"), b"webp")?;
    let set = read_labels(&file, None)?;
    assert!(!find(&set, "sub/0007.webp")?.match_stem);
    // A folder with classes.txt and labels/ reads the same way.
    let set = read_labels(&dir.path().join("x"), None)?;
    assert_eq!(set.images.len(), 1);
    assert_eq!(find(&set, "sub/0007.webp")?.annotations.len(), 1);
    Ok(())
}

/// Decoded PNG: bit depth, colour type, palette, and the pixel values.
struct Decoded {
    depth: png::BitDepth,
    color: png::ColorType,
    palette: Option<Vec<u8>>,
    width: u32,
    height: u32,
    values: Vec<u16>,
}

fn decode(path: &Path) -> Result<Decoded, Box<dyn std::error::Error>> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path)?));
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0u8; reader.output_buffer_size().ok_or("PNG too large")?];
    let info = reader.next_frame(&mut buf)?;
    let data = &buf[..info.buffer_size()];
    let values = match info.bit_depth {
        png::BitDepth::Eight => data.iter().map(|&v| u16::from(v)).collect(),
        png::BitDepth::Sixteen => data.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect(),
        other => return Err(format!("unexpected depth {other:?}").into()),
    };
    Ok(Decoded {
        depth: info.bit_depth,
        color: info.color_type,
        palette: reader.info().palette.as_ref().map(|p| p.to_vec()),
        width: info.width,
        height: info.height,
        values,
    })
}

fn rgb(hex: &str) -> Result<Vec<u8>, std::num::ParseIntError> {
    (0..3).map(|i| u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16)).collect()
}

#[test]
fn masks_paint_classes_and_instances() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (w, h) = (24u32, 18u32);
    let mut blob = BinaryMask::new(w, h);
    for (x, y) in [(20, 2), (21, 2), (20, 3), (21, 3), (22, 3)] {
        blob.set(x, y, true);
    }
    let annotations = vec![
        // Small object listed first: instance 1, painted last (on top of the big one).
        ann(1, Geometry::Polygon { parts: vec![vec![[4.0, 4.0], [8.0, 4.0], [8.0, 8.0], [4.0, 8.0]]] }),
        ann(0, Geometry::Polygon { parts: vec![vec![[2.0, 2.0], [14.0, 2.0], [14.0, 12.0], [2.0, 12.0]]] }),
        ann(2, boxed(16.0, 10.0, 22.0, 16.0)),
        ann(2, Geometry::Mask(Rle::from_mask(&blob))),
        crowd(
            0,
            Geometry::Polygon { parts: vec![vec![[0.0, 13.0], [10.0, 13.0], [10.0, 18.0], [0.0, 18.0]]] },
        ),
        // A two-part object: both parts get the same instance id.
        ann(
            1,
            Geometry::Polygon {
                parts: vec![
                    vec![[16.0, 6.0], [18.0, 6.0], [18.0, 8.0]],
                    vec![[20.0, 6.0], [23.0, 6.0], [23.0, 9.0], [20.0, 9.0]],
                ],
            },
        ),
    ];
    let mut source = Source {
        items: vec![
            (image(dir.path(), 1, "cam/frame.jpg", Split::Train, w, h)?, annotations.clone()),
            (
                image(dir.path(), 2, "cam/none.jpg", Split::Test, 5, 4)?,
                vec![ann(0, boxed(0.0, 0.0, 2.0, 2.0))],
            ),
        ],
    };
    let out = dir.path().join("masks");
    let summary = export(&mut source, Format::Masks, ImageMode::Copy, &out)?;
    assert_eq!(summary.skipped.get("box annotations have no mask"), Some(&2), "{:?}", summary.skipped);
    assert!(out.join("images/train/cam/frame.jpg").is_file());

    // Expected pixels from lacuna_core's own rasterisation: crowd first, then larger areas.
    let instance_of = |i: usize| [1u16, 2, 0, 3, 255, 4][i];
    let mut order: Vec<usize> = vec![4, 1, 5, 0, 3];
    order.sort_by(|&a, &b| {
        let crowd = |i: usize| annotations[i].attributes.crowd;
        crowd(b)
            .cmp(&crowd(a))
            .then(annotations[b].geometry.area().total_cmp(&annotations[a].geometry.area()))
    });
    assert_eq!(order, vec![4, 1, 0, 5, 3]);
    let mut class_px = vec![0u16; (w * h) as usize];
    let mut inst_px = vec![0u16; (w * h) as usize];
    for &i in &order {
        let m = annotations[i].geometry.to_mask_rle(w, h).to_mask()?;
        for (p, &on) in m.data.iter().enumerate() {
            if on != 0 {
                class_px[p] =
                    if annotations[i].attributes.crowd { 255 } else { annotations[i].class_index as u16 + 1 };
                inst_px[p] = instance_of(i);
            }
        }
    }
    let class = decode(&out.join("SegmentationClass/train/cam/frame.png"))?;
    let inst = decode(&out.join("SegmentationObject/train/cam/frame.png"))?;
    for d in [&class, &inst] {
        assert_eq!((d.width, d.height), (w, h));
        assert_eq!((d.depth, d.color), (png::BitDepth::Eight, png::ColorType::Indexed));
    }
    assert_eq!(class.values, class_px);
    assert_eq!(inst.values, inst_px);
    // Spot checks that do not depend on the rasteriser.
    let at = |d: &Decoded, x: u32, y: u32| d.values[(y * w + x) as usize];
    assert_eq!((at(&class, 5, 5), at(&inst, 5, 5)), (2, 1), "small object on top of the big one");
    assert_eq!((at(&class, 10, 10), at(&inst, 10, 10)), (1, 2));
    assert_eq!((at(&class, 20, 2), at(&inst, 20, 2)), (3, 3), "mask");
    assert_eq!((at(&class, 21, 7), at(&inst, 21, 7)), (2, 4), "second part of a two-part object");
    assert_eq!((at(&class, 3, 15), at(&inst, 3, 15)), (255, 255), "crowd is ignore");
    assert_eq!((at(&class, 18, 13), at(&inst, 18, 13)), (0, 0), "boxes are not painted");
    assert_eq!((at(&class, 0, 0), at(&inst, 0, 0)), (0, 0));
    let palette = class.palette.ok_or("class PNG has a palette")?;
    assert_eq!(&palette[0..3], &[0, 0, 0]);
    assert_eq!(palette[3..6].to_vec(), rgb(&default_class_color(0))?);
    assert_eq!(palette[9..12].to_vec(), rgb(&default_class_color(2))?);

    // An image with only a box: all background.
    let none = decode(&out.join("SegmentationClass/test/cam/none.png"))?;
    assert_eq!((none.width, none.height), (5, 4));
    assert!(none.values.iter().all(|&v| v == 0));

    let labelmap = std::fs::read_to_string(out.join("labelmap.txt"))?;
    let lines: Vec<&str> = labelmap.lines().filter(|l| !l.starts_with('#')).collect();
    let c = |i: usize| -> Result<String, std::num::ParseIntError> {
        Ok(rgb(&default_class_color(i))?.iter().map(u8::to_string).collect::<Vec<_>>().join(","))
    };
    assert!(labelmap.starts_with("# label:color_rgb:parts:actions\n"));
    assert_eq!(
        lines,
        vec![
            "background:0,0,0::".to_string(),
            format!("person:{}::", c(0)?),
            format!("traffic light_ red:{}::", c(1)?),
            format!("yes:{}::", c(2)?),
        ]
    );
    Ok(())
}

#[test]
fn masks_switch_to_16_bit_for_many_instances() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (w, h) = (20u32, 20u32);
    // 300 one-pixel squares: instance ids above 255.
    let annotations: Vec<DatasetAnnotation> = (0..300u32)
        .map(|i| {
            let (x, y) = (f64::from(i % 20), f64::from(i / 20));
            ann(
                0,
                Geometry::Polygon {
                    parts: vec![vec![[x, y], [x + 1.0, y], [x + 1.0, y + 1.0], [x, y + 1.0]]],
                },
            )
        })
        .collect();
    let mut source =
        Source { items: vec![(image(dir.path(), 1, "many.png", Split::Val, w, h)?, annotations)] };
    let out = dir.path().join("masks");
    export(&mut source, Format::Masks, ImageMode::None, &out)?;
    let inst = decode(&out.join("SegmentationObject/val/many.png"))?;
    assert_eq!((inst.depth, inst.color), (png::BitDepth::Sixteen, png::ColorType::Grayscale));
    for i in 0..300usize {
        assert_eq!(inst.values[i], i as u16 + 1);
    }
    assert!(inst.values[300..].iter().all(|&v| v == 0));
    let class = decode(&out.join("SegmentationClass/val/many.png"))?;
    assert_eq!(class.depth, png::BitDepth::Eight);
    assert!(class.values[..300].iter().all(|&v| v == 1));
    Ok(())
}

/// 100k images / 1M annotations, labels only (image copying is the disk's cost, not the
/// writer's). Run with `cargo test --release -p lacuna-export --test yolo_masks -- --ignored`.
#[test]
#[ignore = "timing run"]
fn yolo_export_of_a_million_boxes() -> TestResult {
    struct Big;
    impl DatasetSource for Big {
        fn for_each_image(
            &mut self,
            visit: &mut dyn FnMut(&DatasetImage, &[DatasetAnnotation]) -> Result<(), ExportError>,
        ) -> Result<(), ExportError> {
            let mut anns = Vec::new();
            for k in 0..100_000i64 {
                let image = DatasetImage {
                    key: k + 1,
                    path: format!("cam{}/{k:06}.jpg", k % 7),
                    source_path: PathBuf::from(format!("/data/cam{}/{k:06}.jpg", k % 7)),
                    content_hash: ContentHash([0; 32]),
                    file_size_bytes: 1000,
                    width_px: 640,
                    height_px: 480,
                    orientation: 1,
                    split: Split::ALL[(k % 3) as usize],
                    provenance: Provenance::default(),
                };
                anns.clear();
                for j in 0..10 {
                    let x = (k as f64 * 0.37 + f64::from(j) * 13.1) % 600.0;
                    let geometry = if j % 3 == 0 {
                        Geometry::Polygon { parts: vec![vec![[x, 10.0], [x + 20.5, 12.25], [x + 5.0, 40.0]]] }
                    } else {
                        boxed(x, 20.0 + f64::from(j), x + 33.3, 90.7)
                    };
                    anns.push(ann(j as usize % 3, geometry));
                }
                visit(&image, &anns)?;
            }
            Ok(())
        }
    }
    let dir = tempfile::tempdir()?;
    for format in [Format::Yolo, Format::YoloSeg] {
        let out = dir.path().join(format.as_str());
        let start = std::time::Instant::now();
        let summary = export(&mut Big, format, ImageMode::None, &out)?;
        let write = start.elapsed();
        let start = std::time::Instant::now();
        let set = read_labels(&out, None)?;
        let read = start.elapsed();
        eprintln!(
            "{format:?}: wrote {} images / {} annotations in {write:?}, read back in {read:?}",
            summary.images, summary.annotations
        );
        assert_eq!(summary.annotations, 1_000_000);
        assert_eq!(set.images.iter().map(|i| i.annotations.len()).sum::<usize>(), 1_000_000);
        assert!(write.as_secs_f64() < 10.0, "{write:?}");
    }
    Ok(())
}
