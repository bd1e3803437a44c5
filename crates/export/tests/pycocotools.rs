//! Our COCO export read by the reference COCO API (pycocotools, a test-time reference from
//! scripts/requirements-test.txt in the repo's `.venv`): it loads, every RLE mask decodes to
//! exactly our pixels and bounding box, polygons rasterise to about their area, and a bbox
//! evaluation of the file against itself scores AP 1.0.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use lacuna_core::{Attributes, BinaryMask, BoxXyxy, ContentHash, Geometry, Rle, Split};
use lacuna_export::{
    DatasetAnnotation, DatasetImage, DatasetSource, ExportError, ExportRequest, Format, ImageMode,
    Provenance, SplitConfig, VersionInfo, write_dataset,
};

struct Source(Vec<(DatasetImage, Vec<DatasetAnnotation>)>);

impl DatasetSource for Source {
    fn for_each_image(
        &mut self,
        visit: &mut dyn FnMut(&DatasetImage, &[DatasetAnnotation]) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        for (image, annotations) in &self.0 {
            visit(image, annotations)?;
        }
        Ok(())
    }
}

const CHECK: &str = r#"
import json, sys
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from pycocotools import mask as M
coco = COCO(sys.argv[1])
out = {"images": len(coco.getImgIds()), "categories": [c["name"] for c in coco.loadCats(coco.getCatIds())], "anns": {}}
for ann in coco.loadAnns(coco.getAnnIds()):
    entry = {"bbox": ann["bbox"]}
    if ann["segmentation"]:
        rle = coco.annToRLE(ann)
        entry["pixels"] = int(coco.annToMask(ann).sum())
        entry["rle_bbox"] = [float(v) for v in M.toBbox(rle)]
    out["anns"][str(ann["id"])] = entry
dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
        for a in coco.loadAnns(coco.getAnnIds()) if not a["iscrowd"]]
ev = COCOeval(coco, coco.loadRes(dets), "bbox")
ev.params.useCats = 1
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    ev.evaluate(); ev.accumulate(); ev.summarize()
out["ap"] = float(ev.stats[0])
print(json.dumps(out))
"#;

/// The repo's `.venv` Python, else `python3`, if it can import pycocotools.
fn python_with_pycocotools() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [root.join(".venv/bin/python"), PathBuf::from("python3")].into_iter().find(|python| {
        std::process::Command::new(python)
            .args(["-c", "import pycocotools.coco"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

fn disc(w: u32, h: u32, cx: f32, cy: f32, r: f32) -> Rle {
    let mut m = BinaryMask::new(w, h);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            m.set(x, y, dx * dx + dy * dy <= r * r);
        }
    }
    Rle::from_mask(&m)
}

#[test]
fn pycocotools_reads_our_coco_export() {
    let Some(python) = python_with_pycocotools() else {
        eprintln!("note: no Python with pycocotools (scripts/setup-python.sh); skipping");
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let (w, h) = (160u32, 120u32);
    let image = |key: i64, path: &str| DatasetImage {
        key,
        path: path.into(),
        source_path: tmp.path().join(path),
        content_hash: ContentHash([key as u8; 32]),
        file_size_bytes: 0,
        width_px: w,
        height_px: h,
        orientation: 1,
        split: Split::Train,
        provenance: Provenance::default(),
    };
    let ann = |class_index, geometry| DatasetAnnotation {
        class_index,
        geometry,
        attributes: Attributes::default(),
    };
    let mask = disc(w, h, 50.0, 60.0, 23.5);
    let crowd = disc(w, h, 120.0, 30.0, 12.0);
    let polygon = Geometry::Polygon {
        parts: vec![
            vec![[10.0, 10.0], [60.0, 12.5], [40.0, 50.0]],
            vec![[100.0, 80.0], [150.0, 80.0], [150.0, 110.0], [100.0, 110.0]],
        ],
    };
    let items = vec![
        (
            image(1, "a/one.jpg"),
            vec![
                ann(0, Geometry::Box(BoxXyxy { x0: 3.25, y0: 4.5, x1: 40.75, y1: 90.0 })),
                ann(1, Geometry::Mask(mask.clone())),
                DatasetAnnotation {
                    class_index: 1,
                    geometry: Geometry::Mask(crowd.clone()),
                    attributes: Attributes { crowd: true, ..Attributes::default() },
                },
            ],
        ),
        (image(2, "b/two.jpg"), vec![ann(0, polygon.clone())]),
        (image(3, "b/empty.jpg"), vec![]),
    ];
    let classes = vec!["car".to_string(), "person".to_string()];
    let version = VersionInfo {
        id: "cd".repeat(32),
        name: "v1".into(),
        parent: None,
        notes: String::new(),
        created_at_unix_s: 1_700_000_000,
        created_by: "t".into(),
        split: SplitConfig::default(),
    };
    let out = tmp.path().join("coco");
    let req = ExportRequest {
        format: Format::Coco,
        images: ImageMode::None,
        classes: &classes,
        version: &version,
        out_dir: &out,
        overwrite: false,
    };
    write_dataset(&req, &mut Source(items), &mut |_| {}, &AtomicBool::new(false)).expect("export");

    let run = std::process::Command::new(&python)
        .args(["-c", CHECK])
        .arg(out.join("annotations/instances_train.json"))
        .output()
        .expect("python runs");
    assert!(run.status.success(), "pycocotools failed:\n{}", String::from_utf8_lossy(&run.stderr));
    // pycocotools prints its own progress lines first; ours is the last line.
    let stdout = String::from_utf8_lossy(&run.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let report: serde_json::Value = serde_json::from_str(last).expect("JSON from the check");
    assert_eq!(report["images"], 3, "{report}");
    assert_eq!(report["categories"], serde_json::json!(["car", "person"]));
    let anns = report["anns"].as_object().expect("anns");
    assert_eq!(anns.len(), 4, "{report}");

    // Annotation ids run 1.. in write order: box, mask, crowd mask, polygon.
    let bbox = |id: &str| -> Vec<f64> {
        anns[id]["bbox"].as_array().expect("bbox").iter().map(|v| v.as_f64().expect("number")).collect()
    };
    assert_eq!(bbox("1"), vec![3.25, 4.5, 37.5, 85.5]);
    for (id, rle) in [("2", &mask), ("3", &crowd)] {
        assert_eq!(anns[id]["pixels"].as_u64(), Some(rle.area()), "mask {id}: {report}");
        let b = Geometry::Mask(rle.clone()).bbox();
        let want = vec![b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0];
        let got: Vec<f64> = anns[id]["rle_bbox"]
            .as_array()
            .expect("rle bbox")
            .iter()
            .map(|v| v.as_f64().expect("num"))
            .collect();
        assert_eq!(got, want, "mask {id}");
        assert_eq!(bbox(id), want, "mask {id}: the written bbox is the mask's extent");
    }
    // Polygons: pycocotools' rasterisation differs from exact area by at most the outline.
    let pixels = anns["4"]["pixels"].as_f64().expect("polygon pixels");
    let area = polygon.area();
    assert!((pixels - area).abs() <= 0.5 * 400.0, "polygon: {pixels} pixels for area {area}");
    let ap = report["ap"].as_f64().expect("ap");
    assert!(ap > 0.99, "bbox AP of the file against itself: {ap}");
}
