//! COCO and Pascal VOC: round trips through `write_dataset` and `read_labels`, deterministic
//! bytes, the manifest, and problems reported for bad input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use lacuna_core::{Attributes, BinaryMask, BoxXyxy, ContentHash, Geometry, Rle, Split};
use lacuna_export::{
    DatasetAnnotation, DatasetImage, DatasetSource, ExportError, ExportRequest, ExportSummary, Format,
    ImageMode, LabelProblemKind, LabelSet, LabeledImage, Provenance, SplitConfig, VersionInfo, read_labels,
    write_dataset,
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
    vec!["car".into(), "traffic light".into(), "a<b>&\"c\"".into()]
}

fn version() -> VersionInfo {
    VersionInfo {
        id: "ab".repeat(32),
        name: "first version".into(),
        parent: None,
        notes: String::new(),
        created_at_unix_s: 1_700_000_000,
        created_by: "tester".into(),
        split: SplitConfig::default(),
    }
}

/// An image whose file really exists under `dir/src/` (so copying can check its hash).
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

fn sample_mask(w: u32, h: u32) -> BinaryMask {
    let mut m = BinaryMask::new(w, h);
    for y in 3..h - 5 {
        for x in 2..w - 7 {
            if (x / 5 + y / 3) % 3 != 0 {
                m.set(x, y, true);
            }
        }
    }
    m
}

fn boxed(x0: f64, y0: f64, x1: f64, y1: f64) -> Geometry {
    Geometry::Box(BoxXyxy { x0, y0, x1, y1 })
}

fn ann(class_index: usize, geometry: Geometry, attributes: Attributes) -> DatasetAnnotation {
    DatasetAnnotation { class_index, geometry, attributes }
}

fn tags(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| s.to_string()).collect()
}

/// Four images over three splits: boxes with awkward fractions, a two-part polygon, a mask,
/// every attribute, an image without annotations, names that need escaping.
fn sample(dir: &Path) -> Result<Source, std::io::Error> {
    let polygon = Geometry::Polygon {
        parts: vec![
            vec![[1.5, 2.25], [20.125, 3.0], [15.0, 17.3], [0.1, 0.7]],
            vec![[30.0, 30.0], [40.5, 31.0], [35.0, 44.9]],
        ],
    };
    let items = vec![
        (
            image(dir, 11, "cam1/0001.jpg", Split::Train, 64, 48)?,
            vec![
                ann(
                    0,
                    boxed(1.1, 2.2, 30.7, 40.3),
                    Attributes {
                        occluded: true,
                        tags: tags(&["difficult", "night"]),
                        ..Attributes::default()
                    },
                ),
                ann(1, polygon.clone(), Attributes { truncated: true, ..Attributes::default() }),
                ann(
                    2,
                    Geometry::Mask(Rle::from_mask(&sample_mask(64, 48))),
                    Attributes { crowd: true, ..Attributes::default() },
                ),
            ],
        ),
        (
            image(dir, 12, "cam1/a&b 0002.jpg", Split::Train, 64, 48)?,
            vec![
                ann(1, boxed(0.0, 0.0, 64.0, 48.0), Attributes::default()),
                ann(
                    0,
                    boxed(0.1, 0.2, 0.3, 0.4),
                    Attributes { tags: tags(&["difficult"]), ..Attributes::default() },
                ),
            ],
        ),
        (image(dir, 13, "cam2/0003.png", Split::Val, 32, 24)?, Vec::new()),
        (
            image(dir, 14, "0004.jpg", Split::Test, 64, 48)?,
            vec![
                ann(0, polygon, Attributes::default()),
                ann(
                    2,
                    boxed(10.5, 11.25, 20.125, 30.0625),
                    Attributes { truncated: true, occluded: true, ..Attributes::default() },
                ),
            ],
        ),
    ];
    Ok(Source { items })
}

fn export(
    source: &mut Source,
    format: Format,
    images: ImageMode,
    out: &Path,
) -> Result<ExportSummary, ExportError> {
    let classes = classes();
    let version = version();
    let req = ExportRequest {
        format,
        images,
        classes: &classes,
        version: &version,
        out_dir: out,
        overwrite: false,
    };
    let cancel = AtomicBool::new(false);
    write_dataset(&req, source, &mut |_| {}, &cancel)
}

fn find<'a>(set: &'a LabelSet, path: &str) -> Result<&'a LabeledImage, String> {
    set.images
        .iter()
        .find(|i| i.path == path)
        .ok_or_else(|| format!("{path} is not in the set: {:?}", set.images))
}

/// Asserts `got` is `want` (boxes within `1e-9` px, everything else exactly).
fn assert_same_geometry(got: &Geometry, want: &Geometry) {
    match (got, want) {
        (Geometry::Box(g), Geometry::Box(w)) => {
            for (a, b) in [(g.x0, w.x0), (g.y0, w.y0), (g.x1, w.x1), (g.y1, w.y1)] {
                assert!((a - b).abs() <= 1e-9, "box {g:?} differs from {w:?}");
            }
        }
        _ => assert_eq!(got, want),
    }
}

/// Every file under `root`, relative `/`-separated path → bytes.
fn files_under(root: &Path) -> Result<BTreeMap<String, Vec<u8>>, std::io::Error> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), std::io::Error> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path.strip_prefix(root).map_err(std::io::Error::other)?;
                let rel =
                    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                out.insert(rel, std::fs::read(&path)?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

#[test]
fn coco_round_trip_keeps_boxes_polygons_masks_attributes_and_classes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = sample(dir.path())?;
    let out = dir.path().join("coco");
    let summary = export(&mut source, Format::Coco, ImageMode::Copy, &out)?;
    assert_eq!(summary.images, 4);
    assert_eq!(summary.annotations, 7);
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);

    let mut seen = 0;
    for split in Split::ALL {
        let file = out.join(format!("annotations/instances_{}.json", split.as_str()));
        let set = read_labels(&file, None)?;
        assert_eq!(set.format, Format::Coco);
        assert_eq!(set.classes, classes());
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        let expected: Vec<_> = source.items.iter().filter(|(i, _)| i.split == split).collect();
        assert_eq!(set.images.len(), expected.len(), "{split:?}");
        for (want, annotations) in expected {
            let got = find(&set, &want.path)?;
            assert_eq!(got.split, Some(split));
            assert_eq!((got.width_px, got.height_px), (Some(want.width_px), Some(want.height_px)));
            assert!(!got.match_stem);
            assert_eq!(got.annotations.len(), annotations.len(), "{}", want.path);
            for (g, w) in got.annotations.iter().zip(annotations) {
                assert_eq!(g.class, classes()[w.class_index]);
                assert_same_geometry(&g.geometry, &w.geometry);
                assert_eq!(g.attributes, w.attributes);
            }
            // The image itself was copied next to the labels.
            let placed = out.join(format!("images/{}/{}", split.as_str(), want.path));
            assert_eq!(std::fs::read(placed)?, std::fs::read(&want.source_path)?);
            seen += 1;
        }
    }
    assert_eq!(seen, 4);
    Ok(())
}

#[test]
fn coco_mask_is_pycocotools_rle_that_decodes_to_the_same_mask() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = sample(dir.path())?;
    let out = dir.path().join("coco");
    export(&mut source, Format::Coco, ImageMode::None, &out)?;
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("annotations/instances_train.json"))?)?;
    let anns = json["annotations"].as_array().ok_or("no annotations array")?;
    let ids: Vec<u64> = anns.iter().filter_map(|a| a["id"].as_u64()).collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5], "ids run 1..N in write order");
    let mask_ann = anns.iter().find(|a| a["segmentation"].is_object()).ok_or("no RLE annotation")?;
    let seg = &mask_ann["segmentation"];
    assert_eq!(seg["size"], serde_json::json!([48, 64]), "size is [h, w]");
    let counts = seg["counts"].as_str().ok_or("counts is not a string")?;
    let rle = Rle::from_coco_string(48, 64, counts)?;
    let mask = sample_mask(64, 48);
    assert_eq!(rle, Rle::from_mask(&mask));
    assert_eq!(rle.to_mask()?, mask);
    assert_eq!(mask_ann["area"].as_f64(), Some(mask.area() as f64));
    assert_eq!(mask_ann["iscrowd"], 1);
    let b = Geometry::Mask(rle).bbox();
    assert_eq!(mask_ann["bbox"], serde_json::json!([b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0]));
    // Boxes have an empty segmentation; polygons one flat list per part.
    assert_eq!(anns[0]["segmentation"], serde_json::json!([]));
    assert_eq!(anns[0]["bbox"][0].as_f64(), Some(1.1));
    assert_eq!(anns[1]["segmentation"][1], serde_json::json!([30.0, 30.0, 40.5, 31.0, 35.0, 44.9]));
    assert_eq!(
        anns[0]["attributes"],
        serde_json::json!({"occluded": true, "truncated": false, "tags": ["difficult", "night"]})
    );
    assert_eq!(json["images"][1]["file_name"], "cam1/a&b 0002.jpg");
    assert_eq!(
        json["categories"][2],
        serde_json::json!({"id": 3, "name": "a<b>&\"c\"", "supercategory": ""})
    );
    assert_eq!(json["info"]["version"], "ab".repeat(32));
    Ok(())
}

#[test]
fn voc_round_trip_keeps_boxes_and_flags_and_writes_polygons_as_their_bounding_box() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = sample(dir.path())?;
    let out = dir.path().join("voc");
    let summary = export(&mut source, Format::Voc, ImageMode::Copy, &out)?;
    assert_eq!(summary.skipped.get("polygon written as its bounding box"), Some(&2));
    assert_eq!(summary.skipped.get("mask written as its bounding box"), Some(&1));

    let set = read_labels(&out, None)?;
    assert_eq!(set.format, Format::Voc);
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    // In order of first appearance, files sorted by path: 0004.xml (car, a<b>..) comes first.
    assert_eq!(set.classes, vec![classes()[0].clone(), classes()[2].clone(), classes()[1].clone()]);
    assert_eq!(set.images.len(), 4);
    for (want, annotations) in &source.items {
        let got = find(&set, &want.path)?;
        assert_eq!(got.split, Some(want.split), "{}", want.path);
        assert_eq!((got.width_px, got.height_px), (Some(want.width_px), Some(want.height_px)));
        assert!(!got.match_stem);
        assert_eq!(got.annotations.len(), annotations.len(), "{}", want.path);
        for (g, w) in got.annotations.iter().zip(annotations) {
            assert_eq!(g.class, classes()[w.class_index]);
            // VOC stores corners as written: exact, not only within 1e-9.
            assert_eq!(g.geometry, Geometry::Box(w.geometry.bbox()));
            let difficult = w.attributes.tags.iter().any(|t| t == "difficult");
            let expected = Attributes {
                occluded: w.attributes.occluded,
                truncated: w.attributes.truncated,
                crowd: false,
                tags: if difficult { tags(&["difficult"]) } else { Vec::new() },
            };
            assert_eq!(g.attributes, expected);
        }
        assert_eq!(
            std::fs::read(out.join("JPEGImages").join(&want.path))?,
            std::fs::read(&want.source_path)?
        );
    }

    let xml = std::fs::read_to_string(out.join("Annotations/cam1/0001.xml"))?;
    assert!(xml.contains("<name>a&lt;b&gt;&amp;&quot;c&quot;</name>"), "{xml}");
    assert!(xml.contains("      <xmin>1.1</xmin>\n"), "{xml}");
    assert!(xml.contains("<filename>0001.jpg</filename>"), "{xml}");
    assert!(xml.contains("<difficult>1</difficult>"), "{xml}");
    assert_eq!(std::fs::read_to_string(out.join("ImageSets/Main/train.txt"))?, "cam1/0001\ncam1/a&b 0002\n");
    assert_eq!(std::fs::read_to_string(out.join("ImageSets/Main/val.txt"))?, "cam2/0003\n");
    assert_eq!(
        std::fs::read_to_string(out.join("labelmap.txt"))?,
        "# label:color_rgb:parts:actions\ncar:::\ntraffic light:::\na<b>&\"c\":::\n"
    );

    // A single file reads on its own, the image path being just its <filename>.
    let single = read_labels(&out.join("Annotations/cam1/a&b 0002.xml"), None)?;
    assert_eq!(single.images.len(), 1);
    assert_eq!(single.images[0].path, "a&b 0002.jpg");
    assert_eq!(single.images[0].annotations.len(), 2);
    Ok(())
}

#[test]
fn exports_are_byte_identical_for_the_same_input() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = sample(dir.path())?;
    for format in [Format::Coco, Format::Voc] {
        let a = dir.path().join(format!("{}-a", format.as_str()));
        let b = dir.path().join(format!("{}-b", format.as_str()));
        export(&mut source, format, ImageMode::Copy, &a)?;
        export(&mut source, format, ImageMode::Copy, &b)?;
        let (fa, fb) = (files_under(&a)?, files_under(&b)?);
        assert!(fa.contains_key("manifest.json"), "{:?}", fa.keys());
        assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
        for (path, bytes) in &fa {
            assert!(fb.get(path) == Some(bytes), "{format:?}: {path} differs between two exports");
        }
    }
    Ok(())
}

#[test]
fn manifest_lists_every_file_with_its_blake3() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = sample(dir.path())?;
    for format in [Format::Coco, Format::Voc] {
        let out = dir.path().join(format.as_str());
        let summary = export(&mut source, format, ImageMode::Copy, &out)?;
        let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json"))?)?;
        let listed = manifest["files"].as_array().ok_or("no files in the manifest")?;
        assert_eq!(summary.files, listed.len() as u64);
        let on_disk = files_under(&out)?;
        let mut names = Vec::new();
        for f in listed {
            let path = f["path"].as_str().ok_or("file without path")?;
            let bytes = on_disk.get(path).ok_or_else(|| format!("{path} is listed but not on disk"))?;
            assert_eq!(f["blake3"].as_str(), Some(blake3::hash(bytes).to_hex().as_str()), "{path}");
            assert_eq!(f["bytes"].as_u64(), Some(bytes.len() as u64), "{path}");
            names.push(path.to_string());
        }
        let mut expected: Vec<String> = on_disk.keys().filter(|p| *p != "manifest.json").cloned().collect();
        expected.sort();
        assert_eq!(
            names, expected,
            "{format:?}: files on disk and in the manifest differ (no spool files left)"
        );
        let must = match format {
            Format::Coco => vec![
                "annotations/instances_train.json",
                "annotations/instances_val.json",
                "annotations/instances_test.json",
                "images/train/cam1/0001.jpg",
            ],
            _ => vec![
                "Annotations/cam1/0001.xml",
                "Annotations/cam2/0003.xml",
                "ImageSets/Main/test.txt",
                "JPEGImages/0004.jpg",
                "labelmap.txt",
            ],
        };
        for m in must {
            assert!(names.iter().any(|n| n == m), "{format:?}: {m} not listed in {names:?}");
        }
        let images = manifest["images"].as_array().ok_or("no images in the manifest")?;
        let first = images.first().ok_or("empty image list")?;
        let expected_path =
            if format == Format::Coco { "images/train/cam1/0001.jpg" } else { "JPEGImages/cam1/0001.jpg" };
        assert_eq!(first["path"], expected_path);
    }
    Ok(())
}

#[test]
fn referenced_images_are_named_by_their_absolute_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut source = sample(dir.path())?;
    let abs = source.items[0].0.source_path.to_string_lossy().replace('\\', "/");

    let out = dir.path().join("coco");
    export(&mut source, Format::Coco, ImageMode::Reference, &out)?;
    let set = read_labels(&out.join("annotations/instances_train.json"), Some(Format::Coco))?;
    assert_eq!(set.images[0].path, abs);
    let manifest = std::fs::read_to_string(out.join("manifest.json"))?;
    assert!(manifest.contains(&format!("\"path\":{}", serde_json::to_string(&abs)?)), "{manifest}");
    assert!(!out.join("images").exists(), "referenced images are not copied");

    let out = dir.path().join("voc");
    export(&mut source, Format::Voc, ImageMode::Reference, &out)?;
    let xml = std::fs::read_to_string(out.join("Annotations/cam1/0001.xml"))?;
    assert!(xml.contains(&format!("<path>{abs}</path>")), "{xml}");
    assert!(!out.join("JPEGImages").exists());
    Ok(())
}

#[test]
fn coco_syntax_error_names_the_line() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("instances_val.json");
    std::fs::write(
        &path,
        "{\n  \"images\": [\n    {\"id\": 1, \"file_name\": \"a.jpg\",, \"width\": 10, \"height\": 10}\n  ]\n}\n",
    )?;
    match read_labels(&path, None) {
        Err(ExportError::Malformed { location, message }) => {
            assert_eq!(location.file, path);
            assert_eq!(location.line, Some(3), "{message}");
        }
        other => panic!("expected a malformed-file error, got {other:?}"),
    }
    // Valid JSON that is not COCO at all is an error too, not an empty set.
    std::fs::write(&path, "{\"hello\": 1}")?;
    assert!(matches!(read_labels(&path, None), Err(ExportError::Malformed { .. })));
    Ok(())
}

#[test]
fn coco_bad_annotations_are_problems_naming_the_field() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("instances_train2017.json");
    let json = serde_json::json!({
        "categories": [{"id": 5, "name": "dog"}, {"id": 2, "name": "cat"}],
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 10, "height": 10},
            {"id": 2, "file_name": "empty/b.jpg", "width": 10, "height": 10}
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 5, "bbox": [1, 2, 3, 4], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4]},
            {"id": 3, "image_id": 1, "category_id": 5, "bbox": [1, 2, 3]},
            {"id": 4, "image_id": 1, "category_id": 5, "bbox": [1, 2, -3, 4]},
            {"id": 5, "image_id": 99, "category_id": 5, "bbox": [1, 2, 3, 4]},
            {"id": 6, "image_id": 1, "category_id": 2, "segmentation": [[0, 0, 5, 0, 5, 5], [1, 1, 2]]},
            {"id": 7, "image_id": 1, "category_id": 2, "segmentation": [[0, 0, 5, 0]]},
            {"id": 8, "image_id": 1, "category_id": 2, "iscrowd": 1,
             "segmentation": {"size": [10, 10], "counts": [5, 10, 85]}, "bbox": [0, 5, 2, 5]},
            {"id": 9, "image_id": 1, "category_id": 2, "bbox": [0.5, 1.5, 2, 3], "segmentation": [],
             "attributes": {"occluded": true, "rotation": 0.0}},
            {"id": 10, "image_id": 1, "category_id": 5, "segmentation": [[0, 0, 5, 0, 5, 5]],
             "attributes": {"tags": ["b", "a"]}},
            {"id": 11, "image_id": 1, "category_id": 5, "segmentation": "none"},
            {"id": 12, "image_id": 1, "category_id": 5, "bbox": "1,2,3,4"},
            {"id": 13, "image_id": 1, "category_id": 5, "segmentation": {"size": [10, 10], "counts": [5, 10]}},
            {"id": 14, "image_id": 1, "category_id": 5, "segmentation": [[]], "bbox": [0, 0, 1, 1]}
        ]
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&json)?)?;
    let set = read_labels(&path, None)?;
    assert_eq!(set.classes, vec!["cat".to_string(), "dog".to_string()], "sorted by category id");

    let problems: Vec<(LabelProblemKind, Option<&str>)> =
        set.problems.iter().map(|p| (p.kind, p.location.field.as_deref())).collect();
    assert_eq!(
        problems,
        vec![
            (LabelProblemKind::UnknownClass, Some("annotations[1].category_id")),
            (LabelProblemKind::Malformed, Some("annotations[2].bbox")),
            (LabelProblemKind::InvalidGeometry, Some("annotations[3].bbox")),
            (LabelProblemKind::Malformed, Some("annotations[4].image_id")),
            (LabelProblemKind::Malformed, Some("annotations[5].segmentation[1]")),
            (LabelProblemKind::InvalidGeometry, Some("annotations[6].segmentation[0]")),
            (LabelProblemKind::Malformed, Some("annotations[10].segmentation")),
            (LabelProblemKind::Malformed, Some("annotations[11].bbox")),
            (LabelProblemKind::Malformed, Some("annotations[12].segmentation.counts")),
        ]
    );
    assert!(set.problems.iter().all(|p| p.location.file == path));
    assert!(set.problems[3].message.contains("99"), "{}", set.problems[3].message);

    let a = find(&set, "a.jpg")?;
    assert_eq!(a.split, Some(Split::Train));
    let got: Vec<(&str, &Geometry, &Attributes)> =
        a.annotations.iter().map(|x| (x.class.as_str(), &x.geometry, &x.attributes)).collect();
    let mask = Rle { height_px: 10, width_px: 10, counts: vec![5, 10, 85] };
    let crowd = Attributes { crowd: true, ..Attributes::default() };
    let occluded = Attributes { occluded: true, ..Attributes::default() };
    let tagged = Attributes { tags: tags(&["a", "b"]), ..Attributes::default() };
    let triangle = Geometry::Polygon { parts: vec![vec![[0.0, 0.0], [5.0, 0.0], [5.0, 5.0]]] };
    assert_eq!(
        got,
        vec![
            ("dog", &boxed(1.0, 2.0, 4.0, 6.0), &Attributes::default()),
            ("cat", &Geometry::Mask(mask), &crowd),
            ("cat", &boxed(0.5, 1.5, 2.5, 4.5), &occluded),
            ("dog", &triangle, &tagged),
            ("dog", &boxed(0.0, 0.0, 1.0, 1.0), &Attributes::default()),
        ]
    );
    // An image without annotations stays: it was labeled and has no objects.
    assert!(find(&set, "empty/b.jpg")?.annotations.is_empty());
    Ok(())
}

const VOC_HEAD: &str = "<annotation>\n  <folder>x</folder>\n  <filename>street.png</filename>\n  \
                        <size><width>100</width><height>80</height><depth>3</depth></size>\n";

#[test]
fn voc_missing_coordinate_names_the_field_and_the_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let root = dir.path().join("voc");
    let ann_dir = root.join("Annotations/sub");
    std::fs::create_dir_all(&ann_dir)?;
    std::fs::create_dir_all(root.join("ImageSets/Main"))?;
    std::fs::write(root.join("ImageSets/Main/val.txt"), "sub/street\n")?;
    let file = ann_dir.join("street.xml");
    let xml = format!(
        "{VOC_HEAD}  <object><name>car</name><difficult>1</difficult>\n    \
         <bndbox><xmin>1.5</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40.25</ymax></bndbox></object>\n  \
         <object><name>bus</name>\n    <bndbox>\n      <ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>\n  \
         <object><name>van</name><bndbox><xmin>50</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>\n  \
         <object><name>tram &amp; co</name><bndbox><xmin>a</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>\n\
         </annotation>\n"
    );
    std::fs::write(&file, &xml)?;
    let broken = root.join("Annotations/broken.xml");
    std::fs::write(&broken, "<annotation>\n  <filename>b.jpg</filename>\n  <object>\n</annotation>\n")?;
    std::fs::write(root.join("Annotations/empty.xml"), format!("{VOC_HEAD}</annotation>\n"))?;

    let set = read_labels(&root, None)?;
    let problems: Vec<(LabelProblemKind, &Path, Option<&str>)> = set
        .problems
        .iter()
        .map(|p| (p.kind, p.location.file.as_path(), p.location.field.as_deref()))
        .collect();
    assert_eq!(
        problems,
        vec![
            (LabelProblemKind::Malformed, broken.as_path(), None),
            (LabelProblemKind::Malformed, file.as_path(), Some("object[1]/bndbox/xmin")),
            (LabelProblemKind::InvalidGeometry, file.as_path(), Some("object[2]/bndbox")),
            (LabelProblemKind::Malformed, file.as_path(), Some("object[3]/bndbox/xmin")),
        ]
    );
    assert!(set.problems[0].location.line.is_some(), "the broken file's line is given");
    assert!(set.problems[3].message.contains("tram & co"), "{}", set.problems[3].message);

    let street = find(&set, "sub/street.png")?;
    assert_eq!(street.split, Some(Split::Val));
    assert_eq!((street.width_px, street.height_px), (Some(100), Some(80)));
    assert_eq!(street.annotations.len(), 1);
    assert_eq!(street.annotations[0].class, "car");
    assert_eq!(street.annotations[0].geometry, boxed(1.5, 2.0, 30.0, 40.25));
    assert_eq!(street.annotations[0].attributes.tags, tags(&["difficult"]));
    assert_eq!(set.classes, vec!["car".to_string()]);
    // No objects: labeled, empty.
    let empty = find(&set, "empty.png")?;
    assert!(empty.annotations.is_empty());
    assert_eq!(empty.split, None);

    // The same file read alone gives the same problem; a broken file read alone is an error.
    let single = read_labels(&file, None)?;
    assert_eq!(single.images[0].path, "street.png");
    assert!(
        single
            .problems
            .iter()
            .any(|p| p.location.field.as_deref() == Some("object[1]/bndbox/xmin") && p.location.file == file)
    );
    match read_labels(&broken, None) {
        Err(ExportError::Malformed { location, .. }) => {
            assert_eq!(location.file, broken);
            assert!(location.line.is_some());
        }
        other => panic!("expected a malformed-file error, got {other:?}"),
    }
    Ok(())
}

/// 100k images with 10 annotations each, generated on the fly. Run with
/// `cargo test -p lacuna-export --release -- --ignored` to see the time.
#[test]
#[ignore = "timing run"]
fn coco_export_of_a_million_annotations() -> TestResult {
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
                    anns.push(ann(j as usize % 3, geometry, Attributes::default()));
                }
                visit(&image, &anns)?;
            }
            Ok(())
        }
    }
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("big");
    let classes = classes();
    let version = version();
    let req = ExportRequest {
        format: Format::Coco,
        images: ImageMode::None,
        classes: &classes,
        version: &version,
        out_dir: &out,
        overwrite: false,
    };
    let start = std::time::Instant::now();
    let summary = write_dataset(&req, &mut Big, &mut |_| {}, &AtomicBool::new(false))?;
    let write = start.elapsed();
    assert_eq!(summary.annotations, 1_000_000);
    let start = std::time::Instant::now();
    let set = read_labels(&out.join("annotations/instances_train.json"), None)?;
    eprintln!("write {write:?}, read of one split {:?} ({} images)", start.elapsed(), set.images.len());
    assert!(write.as_secs_f64() < 10.0, "export took {write:?}");
    Ok(())
}
