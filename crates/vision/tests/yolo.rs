//! The YOLO architectures against Ultralytics itself.
//!
//! `tests/fixtures/<name>.*` come from `models/fixtures/make_fixtures.py`: Ultralytics 8.4
//! networks (YOLOv8n, YOLO11n, YOLOv8n-seg, YOLOv12n) built from their yamls with seeded random
//! weights, batch norm folded by `model.fuse()`, and the export-mode forward's outputs on a
//! seeded [2, 3, 128, 160] input. Each test builds the same network with [`Yolo`], checks that it
//! reads every tensor of the checkpoint, runs it on that input and compares:
//! - box rows of `output0` (cx, cy, w, h in input pixels, values up to ~650): max |diff| <= 0.05 px;
//! - class scores (sigmoid) and mask coefficients: max |diff| <= 1e-3;
//! - prototypes (`output1`): max |diff| <= 1e-3;
//! - the embedding (pooled last backbone stage): max |diff| <= 1e-3 * max(1, max |value|).
//!
//! Measured: up to 7e-3 px on boxes, 2e-5 on scores, 2e-4 on prototypes. For scale, torch and
//! onnxruntime differ by up to 2.7e-3 px and 2e-5 on the same fixtures (printed by the script).
//!
//! Also: every preset's tensor names and shapes against Ultralytics' (`architectures.json`),
//! error messages naming a missing or misshapen tensor, and the real default model
//! (`models/yolov12n.onnx`, when fetched) against onnxruntime on a sample photo.
//!
//! `mod detector`: the whole [`lacuna_vision::Detector`] on sample photos: batched detections
//! after NMS against onnxruntime + the same post-processing, flip TTA, f16/bf16 against f32,
//! and masks from the segmentation fixture.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder};
use lacuna_vision::{Family, Scale, Task, Yolo, YoloConfig};

const CPU: &Device = &Device::Cpu;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One fixture: its description, the weights (merged with the fixture it shares layers with)
/// and the reference inputs/outputs.
struct Fixture {
    name: String,
    cfg: YoloConfig,
    weights: HashMap<String, Tensor>,
    io: HashMap<String, Tensor>,
}

fn load_safetensors(path: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(path, CPU).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn fixture(name: &str) -> Fixture {
    let dir = fixtures_dir();
    let meta_path = dir.join(format!("{name}.json"));
    let text = std::fs::read_to_string(&meta_path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", meta_path.display()));
    let meta: serde_json::Value = serde_json::from_str(&text).expect("fixture json");
    let field = |key: &str| meta[key].as_str().unwrap_or_else(|| panic!("{name}.json: no {key}"));
    let family = Family::parse(field("family")).expect("family");
    let scale = Scale::parse(field("scale")).expect("scale");
    let task = Task::parse(field("task")).expect("task");
    let num_classes = meta["num_classes"].as_u64().expect("num_classes") as usize;

    let mut weights = HashMap::new();
    if let Some(base) = meta["shares_weights_with"].as_str() {
        weights.extend(load_safetensors(&dir.join(format!("{base}.safetensors"))));
    }
    weights.extend(load_safetensors(&dir.join(format!("{name}.safetensors"))));
    let io = load_safetensors(&dir.join(format!("{name}.io.safetensors")));
    Fixture { name: name.to_string(), cfg: YoloConfig::new(family, scale, task, num_classes), weights, io }
}

/// A `VarBuilder` backend over a map that remembers which tensors the model read.
struct Recording {
    tensors: HashMap<String, Tensor>,
    read: Arc<Mutex<BTreeSet<String>>>,
}

impl SimpleBackend for Recording {
    fn get(&self, s: Shape, name: &str, h: Init, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.read.lock().expect("lock").insert(name.to_string());
        SimpleBackend::get(&self.tensors, s, name, h, dtype, dev)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.read.lock().expect("lock").insert(name.to_string());
        SimpleBackend::get_unchecked(&self.tensors, name, dtype, dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("max |diff|")
}

fn max_abs(a: &Tensor) -> f32 {
    a.abs()
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("max")
}

fn rows(t: &Tensor, start: usize, len: usize) -> Tensor {
    t.narrow(1, start, len).expect("narrow")
}

/// Builds the fixture's model (checking it reads every tensor in the checkpoint), runs it on
/// the fixture's input and compares every output with Ultralytics'.
fn check_against_ultralytics(name: &str) {
    let fx = fixture(name);
    let read = Arc::new(Mutex::new(BTreeSet::new()));
    let names: BTreeSet<String> = fx.weights.keys().cloned().collect();
    let backend = Recording { tensors: fx.weights, read: Arc::clone(&read) };
    let vb = VarBuilder::from_backend(Box::new(backend), DType::F32, CPU.clone());
    let model = Yolo::new(&fx.cfg, vb).unwrap_or_else(|e| panic!("{}: building: {e}", fx.name));
    let unread: Vec<_> = names.difference(&read.lock().expect("lock")).cloned().collect();
    assert!(unread.is_empty(), "{}: the model ignores checkpoint tensors {unread:?}", fx.name);

    let images = &fx.io["images"];
    let out = model.forward(images).unwrap_or_else(|e| panic!("{}: forward: {e}", fx.name));
    let expected = &fx.io["output0"];
    assert_eq!(out.predictions.dims(), expected.dims(), "{}: output0 shape", fx.name);

    let nc = fx.cfg.num_classes;
    let boxes = max_abs_diff(&rows(&out.predictions, 0, 4), &rows(expected, 0, 4));
    let scores = max_abs_diff(&rows(&out.predictions, 4, nc), &rows(expected, 4, nc));
    let embedding = max_abs_diff(&out.embedding, &fx.io["embedding"]);
    let embedding_scale = max_abs(&fx.io["embedding"]).max(1.0);
    println!(
        "{}: max |candle - torch|: boxes {boxes:.2e} px, scores {scores:.2e}, embedding {embedding:.2e} (of {embedding_scale:.1})",
        fx.name
    );
    assert!(boxes <= 0.05, "{}: boxes differ by {boxes} px", fx.name);
    assert!(scores <= 1e-3, "{}: class scores differ by {scores}", fx.name);
    assert!(embedding <= 1e-3 * embedding_scale, "{}: embedding differs by {embedding}", fx.name);
    let backbone_only = model.embed(images).unwrap_or_else(|e| panic!("{}: embed: {e}", fx.name));
    assert_eq!(max_abs_diff(&backbone_only, &out.embedding), 0.0, "{}: embed != forward's", fx.name);

    match fx.cfg.task {
        Task::Detect => assert!(out.protos.is_none(), "{}: a detector returned prototypes", fx.name),
        Task::Segment => {
            let nm = expected.dim(1).expect("dim") - 4 - nc;
            let coefficients = max_abs_diff(&rows(&out.predictions, 4 + nc, nm), &rows(expected, 4 + nc, nm));
            let protos = out.protos.as_ref().expect("a segmenter returns prototypes");
            let protos = max_abs_diff(protos, &fx.io["output1"]);
            println!("{}: mask coefficients {coefficients:.2e}, prototypes {protos:.2e}", fx.name);
            assert!(coefficients <= 1e-3, "{}: mask coefficients differ by {coefficients}", fx.name);
            assert!(protos <= 1e-3, "{}: prototypes differ by {protos}", fx.name);
        }
    }
}

#[test]
fn yolov8n_detect_matches_ultralytics() {
    check_against_ultralytics("yolov8n");
}

#[test]
fn yolo11n_detect_matches_ultralytics() {
    check_against_ultralytics("yolo11n");
}

#[test]
fn yolov8n_segment_matches_ultralytics() {
    check_against_ultralytics("yolov8n-seg");
}

#[test]
fn yolo12n_detect_matches_ultralytics() {
    check_against_ultralytics("yolo12n");
}

/// A `VarBuilder` backend that hands out zeros of whatever shape is asked for and records the
/// requests, to compare a preset's tensor names and shapes with Ultralytics' checkpoint.
struct ShapeRecorder {
    requested: Arc<Mutex<Vec<NamedShape>>>,
}

/// A tensor name and its dims.
type NamedShape = (String, Vec<usize>);

impl SimpleBackend for ShapeRecorder {
    fn get(&self, s: Shape, name: &str, _: Init, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        self.requested.lock().expect("lock").push((name.to_string(), s.dims().to_vec()));
        Tensor::zeros((), dtype, dev)?.broadcast_as(s)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("{name}: shape unknown")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        true // every Ultralytics checkpoint has every tensor, including the DFL's
    }
}

/// FNV-1a, 64 bits (as `make_fixtures.py::fnv1a64`).
fn fnv1a64(text: &str) -> String {
    let hash =
        text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}")
}

/// Every preset (3 families x 5 scales x 2 tasks) asks for exactly the tensors, with exactly
/// the shapes, of the fused Ultralytics checkpoint built from the same yaml.
#[test]
fn every_preset_matches_ultralytics_tensor_names_and_shapes() {
    let path = fixtures_dir().join("architectures.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let summaries: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).expect("json");
    assert_eq!(summaries.len(), 30, "expected 3 families x 5 scales x 2 tasks");
    let mut failures = Vec::new();
    for (name, expected) in &summaries {
        let field = |key: &str| expected[key].as_str().expect("string field");
        let cfg = YoloConfig::new(
            Family::parse(field("family")).expect("family"),
            Scale::parse(field("scale")).expect("scale"),
            Task::parse(field("task")).expect("task"),
            80,
        );
        let requested = Arc::new(Mutex::new(Vec::new()));
        let vb = VarBuilder::from_backend(
            Box::new(ShapeRecorder { requested: Arc::clone(&requested) }),
            DType::F32,
            CPU.clone(),
        );
        if let Err(e) = Yolo::new(&cfg, vb) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        let mut requested = requested.lock().expect("lock").clone();
        requested.sort();
        let lines: String = requested
            .iter()
            .map(|(n, dims)| {
                let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
                format!("{n}:{}\n", dims.join(","))
            })
            .collect();
        let params: usize = requested.iter().map(|(_, dims)| dims.iter().product::<usize>()).sum();
        let ours = (requested.len() as u64, params as u64, fnv1a64(&lines));
        let theirs = (
            expected["tensors"].as_u64().expect("tensors"),
            expected["params"].as_u64().expect("params"),
            field("fnv1a64").to_string(),
        );
        if ours != theirs {
            failures.push(format!("{name}: (tensors, params, hash) ours {ours:?}, Ultralytics {theirs:?}"));
        }
    }
    assert!(failures.is_empty(), "presets differing from Ultralytics:\n{}", failures.join("\n"));
}

fn build_error(fx: &Fixture, weights: HashMap<String, Tensor>) -> String {
    let vb = VarBuilder::from_tensors(weights, DType::F32, CPU);
    match Yolo::new(&fx.cfg, vb) {
        Ok(_) => panic!("{}: built without a required tensor", fx.name),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_tensor_error_names_it() {
    let fx = fixture("yolo12n");
    for name in ["model.0.conv.weight", "model.6.m.1.0.attn.pe.conv.bias", "model.21.cv3.2.2.bias"] {
        let mut weights = fx.weights.clone();
        assert!(weights.remove(name).is_some(), "fixture lacks {name}");
        let message = build_error(&fx, weights);
        assert!(message.contains(name), "error {message:?} does not name {name}");
    }
}

#[test]
fn wrong_shape_error_names_the_tensor() {
    let fx = fixture("yolov8n");
    let name = "model.22.cv2.1.0.conv.weight";
    let mut weights = fx.weights.clone();
    weights.insert(name.to_string(), Tensor::zeros((64, 128, 1, 1), DType::F32, CPU).expect("zeros"));
    let message = build_error(&fx, weights);
    assert!(message.contains(name), "error {message:?} does not name {name}");
}

#[test]
fn input_sides_must_be_multiples_of_32() {
    let fx = fixture("yolo11n");
    let vb = VarBuilder::from_tensors(fx.weights, DType::F32, CPU);
    let model = Yolo::new(&fx.cfg, vb).expect("model");
    let x = Tensor::zeros((1, 3, 96, 100), DType::F32, CPU).expect("zeros");
    let message = model.forward(&x).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("96x100"), "unexpected {message:?}");
}

/// The real default model (`models/yolov12n.onnx`, fetched by scripts/fetch-default-model.sh)
/// loaded with [`lacuna_vision::load_weights`], run on a sample photo, against onnxruntime
/// running the same ONNX file on the same input. Passes with a printed note when the model or a
/// Python with onnxruntime (the repo's `.venv`, from scripts/setup-python.sh, or `python3`) is
/// absent.
#[test]
fn real_yolov12n_matches_onnxruntime_on_a_photo() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let onnx = root.join("models/yolov12n.onnx");
    if !onnx.is_file() {
        eprintln!("note: {} is absent (scripts/fetch-default-model.sh); skipping", onnx.display());
        return;
    }
    let Some(python) = python_with_onnxruntime(&root) else {
        eprintln!("note: no Python with onnxruntime and numpy (scripts/setup-python.sh); skipping");
        return;
    };

    // The photo, letterboxed to 640 as the pipeline does.
    let photo = root.join("assets/sample/photos/dog.jpg");
    let rgb = image::open(&photo).unwrap_or_else(|e| panic!("{}: {e}", photo.display())).to_rgb8();
    let size = 640;
    let mut input = vec![0f32; 3 * size * size];
    lacuna_vision::letterbox_into(rgb.as_raw(), rgb.width(), rgb.height(), size as u32, &mut input);

    let weights = lacuna_vision::load_weights(&onnx, CPU, DType::F32).expect("load the default model");
    let card = &weights.card;
    assert_eq!((card.family, card.scale, card.task), (Family::V12, Scale::N, Task::Detect));
    let cfg = YoloConfig::new(card.family, card.scale, card.task, card.num_classes());
    let model = Yolo::new(&cfg, weights.var_builder(DType::F32, CPU)).expect("build YOLOv12n");
    let x = Tensor::from_slice(&input, (1, 3, size, size), CPU).expect("input tensor");
    let ours = model.forward(&x).expect("forward").predictions;

    let values = onnxruntime_output0(&python, &onnx, &input, size);
    let reference = Tensor::from_vec(values, ours.dims(), CPU).expect("reference tensor");

    let nc = cfg.num_classes;
    let boxes = max_abs_diff(&rows(&ours, 0, 4), &rows(&reference, 0, 4));
    let scores = max_abs_diff(&rows(&ours, 4, nc), &rows(&reference, 4, nc));
    // The photo (darknet's classic) shows a dog, a bicycle and a truck; the first two are clear.
    let class_scores = rows(&ours, 4, nc).squeeze(0).expect("squeeze"); // [nc, anchors]
    let best = class_scores.max(1).expect("max").to_vec1::<f32>().expect("to_vec");
    let name = |c: usize| card.class_names.get(c).map(String::as_str).unwrap_or("?");
    println!(
        "yolov12n on dog.jpg: max |candle - onnxruntime|: boxes {boxes:.2e} px, scores {scores:.2e}; \
         best scores: {} {:.3}, {} {:.3}, {} {:.3}",
        name(16),
        best[16],
        name(1),
        best[1],
        name(7),
        best[7]
    );
    assert!(boxes <= 0.05, "boxes differ by {boxes} px");
    assert!(scores <= 1e-3, "class scores differ by {scores}");
    for class in [16, 1] {
        assert!(best[class] > 0.5, "{} scores only {}", name(class), best[class]);
    }
}

/// argv: model.onnx, input (raw little-endian f32, [batch, 3, size, size]), output path, size.
/// Writes `output0` for the whole batch (raw little-endian f32, [batch, rows, anchors]).
const ONNXRUNTIME_REFERENCE: &str = r#"
import sys
import numpy as np
import onnxruntime as ort
model, inp, out, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
x = np.fromfile(inp, dtype="<f4").reshape(-1, 3, size, size)
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
# The export has a fixed batch of 1: run the images one by one.
ys = [session.run(["output0"], {name: x[i : i + 1]})[0] for i in range(len(x))]
np.ascontiguousarray(np.concatenate(ys), dtype="<f4").tofile(out)
"#;

/// The repo's `.venv` Python, else `python3`, if it can import onnxruntime and numpy.
fn python_with_onnxruntime(root: &Path) -> Option<PathBuf> {
    let candidates = [root.join(".venv/bin/python"), PathBuf::from("python3")];
    candidates.into_iter().find(|python| {
        std::process::Command::new(python)
            .args(["-c", "import numpy, onnxruntime"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// onnxruntime's `output0` for `input` (`[batch, 3, size, size]`, planar f32), flattened.
fn onnxruntime_output0(python: &Path, onnx: &Path, input: &[f32], size: usize) -> Vec<f32> {
    let dir = tempfile::tempdir().expect("temp dir");
    let input_path = dir.path().join("images.f32");
    let output_path = dir.path().join("output0.f32");
    let bytes: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&input_path, bytes).expect("write input");
    let run = std::process::Command::new(python)
        .args(["-c", ONNXRUNTIME_REFERENCE])
        .arg(onnx)
        .arg(&input_path)
        .arg(&output_path)
        .arg(size.to_string())
        .output()
        .expect("run python");
    assert!(
        run.status.success(),
        "{} failed: {}\nstdout: {}\nstderr: {}",
        python.display(),
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let raw = std::fs::read(&output_path).expect("read onnxruntime output");
    raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// The whole detector (`Detector::load` + `Detector::detect`: letterbox, batching, NMS, mapping
/// back to image pixels, masks, flip TTA, reduced precision) on real photos and on the
/// segmentation fixture.
mod detector {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use candle_core::{DType, Tensor};
    use lacuna_vision::{
        CpuMultiply, Detection, Detector, Family, ImageDetections, Letterbox, ModelCard, PostprocessOptions,
        Precision, Scale, Task, VisionError, Yolo, YoloConfig, detections_from_output, iou,
    };

    use super::{CPU, fixture, max_abs_diff, onnxruntime_output0, python_with_onnxruntime, rows};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// `models/yolov12n.onnx`, or `None` with a note when it has not been fetched.
    fn default_model() -> Option<PathBuf> {
        let onnx = root().join("models/yolov12n.onnx");
        if onnx.is_file() {
            Some(onnx)
        } else {
            eprintln!("note: {} is absent (scripts/fetch-default-model.sh); skipping", onnx.display());
            None
        }
    }

    /// Decodes `assets/sample/photos/<name>.jpg` (these photos need no EXIF rotation) and
    /// letterboxes it into `out` (`3 * size * size` values).
    fn letterbox_photo(name: &str, size: u32, out: &mut [f32]) -> Letterbox {
        let photo = root().join(format!("assets/sample/photos/{name}.jpg"));
        let rgb = image::open(&photo).unwrap_or_else(|e| panic!("{}: {e}", photo.display())).to_rgb8();
        lacuna_vision::letterbox_into(rgb.as_raw(), rgb.width(), rgb.height(), size, out)
    }

    /// The photos letterboxed one after the other into one batch.
    fn batch_of(photos: &[&str], size: u32) -> (Vec<f32>, Vec<Letterbox>) {
        let per_image = 3 * size as usize * size as usize;
        let mut pixels = vec![0f32; photos.len() * per_image];
        let letterboxes = photos
            .iter()
            .zip(pixels.chunks_exact_mut(per_image))
            .map(|(p, out)| letterbox_photo(p, size, out))
            .collect();
        (pixels, letterboxes)
    }

    fn shown(detections: &[Detection], threshold: f32) -> Vec<&Detection> {
        detections.iter().filter(|d| d.score >= threshold).collect()
    }

    fn summary(detections: &[&Detection], names: &[String]) -> String {
        let lines: Vec<String> = detections
            .iter()
            .map(|d| {
                let [x0, y0, x1, y1] = d.bbox_xyxy_px;
                let name = names.get(d.class_id as usize).map(String::as_str).unwrap_or("?");
                format!("  {name} ({}) {:.4} [{x0:.2}, {y0:.2}, {x1:.2}, {y1:.2}]", d.class_id, d.score)
            })
            .collect();
        lines.join("\n")
    }

    fn max_box_diff(a: &Detection, b: &Detection) -> f32 {
        a.bbox_xyxy_px.iter().zip(&b.bbox_xyxy_px).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    /// Runs the default model through `Detector::detect` on batches of sample photos (4, then
    /// 2: kite.jpg is 1352x900, so its boxes are scaled up from the input), and onnxruntime on
    /// the very same input tensors followed by the same post-processing: the detections a user
    /// is shown must be the same list (classes, order, scores within 1e-3, boxes within
    /// 0.05 image px). The raw `output0` is compared too (through [`Yolo`] on the same batch).
    #[test]
    fn detections_after_nms_match_onnxruntime_on_the_sample_photos() {
        let Some(onnx) = default_model() else { return };
        let Some(python) = python_with_onnxruntime(&root()) else {
            eprintln!("note: no Python with onnxruntime and numpy (scripts/setup-python.sh); skipping");
            return;
        };
        let batches: [&[&str]; 2] = [&["dog", "horses", "person", "giraffe"], &["kite", "eagle"]];
        let detector = Detector::load(&onnx, CPU, Precision::F32).expect("load the default model");
        let card = detector.card().clone();
        let size = detector.input_size_px();
        assert_eq!(size, 640);
        let (nc, anchors) = (card.num_classes(), 8400);
        let per_image = (4 + nc) * anchors;
        let options = PostprocessOptions::default();
        let weights = lacuna_vision::load_weights(&onnx, CPU, DType::F32).expect("load weights");
        let cfg = YoloConfig::new(card.family, card.scale, card.task, nc);
        let model = Yolo::new(&cfg, weights.var_builder(DType::F32, CPU)).expect("build YOLOv12n");

        let (mut compared, mut kept_ours, mut kept_theirs) = (0, 0, 0);
        let (mut worst_score, mut worst_box, mut worst_probs) = (0f32, 0f32, 0f32);
        let (mut worst_raw_boxes, mut worst_raw_scores) = (0f32, 0f32);
        for photos in batches {
            let (pixels, letterboxes) = batch_of(photos, size);
            let started = Instant::now();
            let ours = detector.detect(&pixels, &letterboxes, &options, false).expect("detect");
            let detect_s = started.elapsed().as_secs_f32();
            assert_eq!(ours.len(), photos.len());
            let started = Instant::now();
            let reference = onnxruntime_output0(&python, &onnx, &pixels, size as usize);
            let ort_s = started.elapsed().as_secs_f32();
            assert_eq!(reference.len(), photos.len() * per_image, "onnxruntime output0 size");

            // The raw output of the same batch.
            let s = size as usize;
            let x = Tensor::from_slice(&pixels, (photos.len(), 3, s, s), CPU).expect("input tensor");
            let raw = model.forward(&x).expect("forward").predictions;
            let theirs = Tensor::from_slice(&reference, raw.dims(), CPU).expect("reference tensor");
            let boxes = max_abs_diff(&rows(&raw, 0, 4), &rows(&theirs, 0, 4));
            let scores = max_abs_diff(&rows(&raw, 4, nc), &rows(&theirs, 4, nc));
            println!(
                "yolov12n, batch of {} ({}): raw output0 max |candle - onnxruntime|: boxes {boxes:.2e} px, \
                 class scores {scores:.2e}; detect {detect_s:.1} s, onnxruntime {ort_s:.1} s",
                photos.len(),
                photos.join(", ")
            );
            assert!(boxes <= 0.05, "raw boxes differ by {boxes} px");
            assert!(scores <= 1e-3, "raw class scores differ by {scores}");
            worst_raw_boxes = worst_raw_boxes.max(boxes);
            worst_raw_scores = worst_raw_scores.max(scores);

            for (i, (photo, result)) in photos.iter().zip(&ours).enumerate() {
                let slice = &reference[i * per_image..(i + 1) * per_image];
                let expected = detections_from_output(slice, anchors, nc, 0, &letterboxes[i], &options);
                kept_ours += result.detections.len();
                kept_theirs += expected.len();
                assert!(!result.embedding.is_empty(), "{photo}: no embedding");
                assert!(result.flipped.is_empty(), "{photo}: flipped detections without flip TTA");
                let a = shown(&result.detections, options.display_threshold);
                let b = shown(&expected, options.display_threshold);
                let both = || {
                    format!(
                        "candle:\n{}\nonnxruntime:\n{}",
                        summary(&a, &card.class_names),
                        summary(&b, &card.class_names)
                    )
                };
                assert!(!a.is_empty(), "{photo}: nothing detected");
                assert_eq!(a.len(), b.len(), "{photo}: different numbers of detections\n{}", both());
                for (d, e) in a.iter().zip(&b) {
                    assert_eq!(d.class_id, e.class_id, "{photo}: different classes\n{}", both());
                    let score = (d.score - e.score).abs();
                    let bbox = max_box_diff(d, e);
                    let probs = d
                        .class_probs
                        .iter()
                        .zip(&e.class_probs)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0, f32::max);
                    assert!(score <= 1e-3, "{photo}: scores differ by {score}\n{}", both());
                    assert!(bbox <= 0.05, "{photo}: boxes differ by {bbox} px\n{}", both());
                    assert!(probs <= 1e-3, "{photo}: class probabilities differ by {probs}\n{}", both());
                    worst_score = worst_score.max(score);
                    worst_box = worst_box.max(bbox);
                    worst_probs = worst_probs.max(probs);
                }
                compared += a.len();
                println!("{photo}: {} detections shown\n{}", a.len(), summary(&a, &card.class_names));
            }
        }
        println!(
            "raw output0 max |candle - onnxruntime|: boxes {worst_raw_boxes:.2e} px, class scores \
             {worst_raw_scores:.2e}; {compared} shown detections compared (kept at >= {}: {kept_ours} \
             candle, {kept_theirs} onnxruntime); max |diff|: scores {worst_score:.2e}, boxes \
             {worst_box:.2e} image px, class probabilities {worst_probs:.2e}",
            options.keep_threshold
        );
    }

    /// The flipped pass of flip TTA, mapped back onto the original, finds the same objects:
    /// every confident flipped detection (score > 0.5) overlaps an unflipped one of the same
    /// class by IoU > 0.8.
    ///
    /// One allowance, at most once per photo: the same object under a label both passes hesitate
    /// between. On dog.jpg the pickup is "car" 0.719 (truck 0.115) unflipped, but "car" 0.643 and,
    /// from another anchor, "truck" 0.510 (car 0.312) mirrored; onnxruntime gives the same scores
    /// on the mirrored input, so that is the model, not the flip. Since a box takes its best
    /// class only, the unflipped truck is not a detection of its own; it is accepted when an
    /// unflipped detection overlaps by IoU > 0.8 and each pass gives the other's class >= 0.1.
    #[test]
    fn flip_tta_finds_the_same_objects_mirrored_back() {
        let Some(onnx) = default_model() else { return };
        let photos = ["dog", "horses"];
        let detector = Detector::load(&onnx, CPU, Precision::F32).expect("load the default model");
        let names = &detector.card().class_names;
        let name = |c: u32| names.get(c as usize).map(String::as_str).unwrap_or("?");
        let (pixels, letterboxes) = batch_of(&photos, detector.input_size_px());
        let results = detector
            .detect(&pixels, &letterboxes, &PostprocessOptions::default(), true)
            .expect("detect with flip TTA");
        for (photo, result) in photos.iter().zip(&results) {
            let confident: Vec<&Detection> = result.flipped.iter().filter(|d| d.score > 0.5).collect();
            assert!(!confident.is_empty(), "{photo}: nothing confident in the flipped pass");
            let best_overlap = |f: &Detection, same_class: bool| {
                result
                    .detections
                    .iter()
                    .filter(|d| !same_class || d.class_id == f.class_id)
                    .map(|d| (iou(&d.bbox_xyxy_px, &f.bbox_xyxy_px), d))
                    .max_by(|x, y| x.0.total_cmp(&y.0))
            };
            let (mut matched, mut relabelled) = (0, 0);
            for f in &confident {
                let cls = name(f.class_id);
                match best_overlap(f, true) {
                    Some((overlap, d)) if overlap > 0.8 => {
                        matched += 1;
                        println!(
                            "{photo}: flipped {cls} {:.3} <-> {:.3}, IoU {overlap:.3}, {:?} vs {:?}",
                            f.score, d.score, f.bbox_xyxy_px, d.bbox_xyxy_px
                        );
                    }
                    _ => {
                        let other = best_overlap(f, false).filter(|(overlap, d)| {
                            *overlap > 0.8
                                && d.class_probs[f.class_id as usize] >= 0.1
                                && f.class_probs[d.class_id as usize] >= 0.1
                        });
                        let Some((overlap, d)) = other else {
                            panic!(
                                "{photo}: flipped {cls} {:.3} {:?} matches no unflipped detection\nunflipped:\n{}",
                                f.score,
                                f.bbox_xyxy_px,
                                summary(&shown(&result.detections, 0.05), names)
                            );
                        };
                        relabelled += 1;
                        println!(
                            "{photo}: flipped {cls} {:.3} ({} {:.3}) <-> {} {:.3} ({cls} {:.3}), IoU {overlap:.3}",
                            f.score,
                            name(d.class_id),
                            f.class_probs[d.class_id as usize],
                            name(d.class_id),
                            d.score,
                            d.class_probs[f.class_id as usize]
                        );
                    }
                }
            }
            assert!(matched > 0, "{photo}: no confident flipped detection matches its class");
            assert!(relabelled <= 1, "{photo}: {relabelled} objects change class when mirrored");
        }
    }

    /// The default model at f16 and bf16 on the CPU: either it runs and stays close to f32 (the
    /// shown detections: same classes, scores within 0.02), or loading refuses with a message
    /// naming the precision and suggesting f32. Measured (docs/models.md, "Reduced precision"):
    /// f16 runs in candle's f16 ops; bf16 runs in the fused kernels' bf16 dot products where the
    /// CPU has AVX512_BF16, and is refused elsewhere (candle 0.11's CPU backend has no bf16
    /// convolution).
    #[test]
    fn half_precision_stays_close_to_f32() {
        let Some(onnx) = default_model() else { return };
        let photos = ["dog", "horses"];
        let reference = Detector::load(&onnx, CPU, Precision::F32).expect("load at f32");
        let card = reference.card().clone();
        let (nc, size) = (card.num_classes(), reference.input_size_px() as usize);
        let (pixels, letterboxes) = batch_of(&photos, size as u32);
        let options = PostprocessOptions::default();
        let expected = reference.detect(&pixels, &letterboxes, &options, false).expect("detect at f32");
        // The raw output as the detector computes it: bf16 on a CPU with bf16 dot products
        // keeps f32 tensors and multiplies in bf16 inside the convolutions.
        let raw = |precision: Precision| -> Tensor {
            let bf16_kernels = precision == Precision::Bf16 && CpuMultiply::bf16_available();
            let (dtype, multiply) = match precision {
                Precision::F32 => (DType::F32, CpuMultiply::F32),
                Precision::F16 => (DType::F16, CpuMultiply::F32),
                Precision::Bf16 if bf16_kernels => (DType::F32, CpuMultiply::Bf16),
                Precision::Bf16 => (DType::BF16, CpuMultiply::F32),
            };
            let weights = lacuna_vision::load_weights(&onnx, CPU, dtype).expect("load weights");
            let cfg = YoloConfig::new(card.family, card.scale, card.task, nc);
            let model =
                Yolo::with_cpu_multiply(&cfg, weights.var_builder(dtype, CPU), multiply).expect("build");
            let x = Tensor::from_slice(&pixels, (photos.len(), 3, size, size), CPU)
                .and_then(|x| x.to_dtype(dtype))
                .expect("input tensor");
            let y = model.forward(&x).expect("forward").predictions;
            y.to_dtype(DType::F32).expect("to f32")
        };
        let raw_f32 = raw(Precision::F32);

        for precision in [Precision::F16, Precision::Bf16] {
            let name = precision.as_str();
            let started = Instant::now();
            let detector = match Detector::load(&onnx, CPU, precision) {
                Ok(detector) => detector,
                Err(e) => {
                    let message = e.to_string();
                    eprintln!("{name} on the CPU: refused: {message}");
                    assert!(matches!(e, VisionError::Device { .. }), "{name}: unexpected error kind: {e:?}");
                    assert!(
                        message.contains(name),
                        "{name}: the error does not name the precision: {message}"
                    );
                    assert!(message.contains("use f32"), "{name}: the error does not suggest f32: {message}");
                    continue;
                }
            };
            assert_eq!(detector.precision(), precision);
            let results: Vec<ImageDetections> =
                detector.detect(&pixels, &letterboxes, &options, false).expect("detect at reduced precision");
            let detect_s = started.elapsed().as_secs_f32();
            let ours = raw(precision);
            let boxes = max_abs_diff(&rows(&ours, 0, 4), &rows(&raw_f32, 0, 4));
            let scores = max_abs_diff(&rows(&ours, 4, nc), &rows(&raw_f32, 4, nc));
            // The same at the anchors that matter: those whose best f32 class score is shown.
            let (confident_boxes, confident_scores) =
                diff_at_confident_anchors(&ours, &raw_f32, nc, options.display_threshold);

            // Same objects: every shown detection has a counterpart of the same class (the
            // best-overlapping one) within 0.02 in score, except ones so close to the display
            // threshold that 0.02 can put them on either side.
            let tolerance = 0.02;
            let borderline = |d: &Detection| d.score < options.display_threshold + tolerance;
            let (mut compared, mut worst_score, mut worst_box) = (0, 0f32, 0f32);
            for ((photo, result), reference) in photos.iter().zip(&results).zip(&expected) {
                let got = shown(&result.detections, options.display_threshold);
                let want = shown(&reference.detections, options.display_threshold);
                eprintln!(
                    "{photo}, {name}:\n{}\n{photo}, f32:\n{}",
                    summary(&got, &card.class_names),
                    summary(&want, &card.class_names)
                );
                assert!(!want.is_empty(), "{photo}: nothing detected at f32");
                for (from, to, label) in [(&got, &want, "f32"), (&want, &got, name)] {
                    for d in from {
                        let best = to.iter().filter(|e| e.class_id == d.class_id).max_by(|x, y| {
                            iou(&x.bbox_xyxy_px, &d.bbox_xyxy_px)
                                .total_cmp(&iou(&y.bbox_xyxy_px, &d.bbox_xyxy_px))
                        });
                        match best {
                            Some(e) if iou(&e.bbox_xyxy_px, &d.bbox_xyxy_px) > 0.8 => {
                                let diff = (d.score - e.score).abs();
                                assert!(
                                    diff <= tolerance,
                                    "{photo}, {name}: class {} scores differ by {diff}",
                                    d.class_id
                                );
                                if label == "f32" {
                                    compared += 1;
                                    worst_score = worst_score.max(diff);
                                    worst_box = worst_box.max(max_box_diff(d, e));
                                }
                            }
                            _ => assert!(
                                borderline(d),
                                "{photo}, {name}: class {} {:.3} {:?} has no counterpart at {label}",
                                d.class_id,
                                d.score,
                                d.bbox_xyxy_px
                            ),
                        }
                    }
                }
            }
            eprintln!(
                "{name} on the CPU, {}: raw output0 max |{name} - f32|: boxes {boxes:.3} input px, class \
                 scores {scores:.2e} (at anchors scoring >= {}: boxes {confident_boxes:.3} px, scores \
                 {confident_scores:.2e}); {compared} shown detections: scores {worst_score:.2e}, boxes \
                 {worst_box:.3} image px; load + detect {detect_s:.1} s",
                photos.join(", "),
                options.display_threshold
            );
        }
    }

    /// Max |a - b| on the boxes and on the class scores of `[batch, 4 + nc, anchors]` outputs,
    /// over the anchors whose best class score in `b` is at least `threshold`.
    fn diff_at_confident_anchors(a: &Tensor, b: &Tensor, nc: usize, threshold: f32) -> (f32, f32) {
        let (batch, rows, anchors) = b.dims3().expect("dims");
        let flat = |t: &Tensor| t.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("to_vec");
        let (a, b) = (flat(a), flat(b));
        let (mut boxes, mut scores) = (0f32, 0f32);
        for i in 0..batch {
            let at = |v: &[f32], r: usize, k: usize| v[(i * rows + r) * anchors + k];
            for k in 0..anchors {
                if (0..nc).map(|c| at(&b, 4 + c, k)).fold(0.0, f32::max) < threshold {
                    continue;
                }
                for r in 0..4 + nc {
                    let d = (at(&a, r, k) - at(&b, r, k)).abs();
                    if r < 4 {
                        boxes = boxes.max(d);
                    } else {
                        scores = scores.max(d);
                    }
                }
            }
        }
        (boxes, scores)
    }

    /// The YOLOv8n-seg fixture (random weights) written as safetensors + model.toml, loaded
    /// with `Detector::load`, run on a photo: every detection carries a mask of the image's size
    /// that stays inside its box.
    #[test]
    fn segmentation_detector_produces_masks() {
        let fx = fixture("yolov8n-seg");
        let input_hw = (fx.io["images"].dim(2).expect("h"), fx.io["images"].dim(3).expect("w"));
        // The fixture's input is 128x160; the card needs a square size: the larger side.
        let size = input_hw.0.max(input_hw.1) as u32;
        let dir = tempfile::tempdir().expect("temp dir");
        let weights_path = dir.path().join("yolov8n-seg.safetensors");
        candle_core::safetensors::save(&fx.weights, &weights_path).expect("write safetensors");
        let card = ModelCard {
            name: "yolov8n-seg-fixture".to_owned(),
            family: Family::V8,
            scale: Scale::N,
            task: Task::Segment,
            class_names: (0..fx.cfg.num_classes).map(|c| format!("class{c}")).collect(),
            input_size_px: size,
            stride_px: 32,
            source: Some("tests/fixtures/yolov8n-seg (random weights)".to_owned()),
            license: None,
            sha256: None,
        };
        card.save(&dir.path().join("model.toml")).expect("write model.toml");
        let detector = Detector::load(&weights_path, CPU, Precision::F32).expect("load the fixture");
        assert_eq!(detector.card(), &card);
        assert_eq!(detector.input_size_px(), size);

        let photo = "dog";
        let (pixels, letterboxes) = batch_of(&[photo], size);
        let lb = letterboxes[0];
        // Random weights: keep everything, the masks are what is checked.
        let options = PostprocessOptions {
            keep_threshold: 0.0,
            display_threshold: 0.0,
            iou_threshold: 0.7,
            max_detections: 100,
        };
        let results = detector.detect(&pixels, &letterboxes, &options, false).expect("detect");
        let detections = &results[0].detections;
        assert!(!detections.is_empty(), "no detections even at threshold 0");
        let (mut non_empty, mut total_area) = (0, 0u64);
        for (i, d) in detections.iter().enumerate() {
            let mask = d.mask.as_ref().unwrap_or_else(|| panic!("detection {i} has no mask"));
            assert!(
                d.mask_coeffs.as_ref().is_some_and(|c| c.len() == 32),
                "detection {i}: mask coefficients"
            );
            assert_eq!(
                (mask.rle.width_px, mask.rle.height_px),
                (lb.image_width_px, lb.image_height_px),
                "detection {i}: the mask is not at image size"
            );
            let counted: u64 = mask.rle.counts.iter().map(|&c| u64::from(c)).sum();
            assert_eq!(
                counted,
                u64::from(lb.image_width_px) * u64::from(lb.image_height_px),
                "detection {i}: RLE"
            );
            let [x0, y0, x1, y1] = d.bbox_xyxy_px;
            let box_area = (x1 - x0 + 2.0) * (y1 - y0 + 2.0);
            let area = mask.rle.area();
            assert!(area as f32 <= box_area, "detection {i}: mask area {area} > box {:?}", d.bbox_xyxy_px);
            for polygon in &mask.polygons {
                for &[x, y] in polygon {
                    assert!(
                        x >= x0 - 1.0 && x <= x1 + 1.0 && y >= y0 - 1.0 && y <= y1 + 1.0,
                        "detection {i}: polygon point ({x}, {y}) outside the box {:?}",
                        d.bbox_xyxy_px
                    );
                }
            }
            if area > 0 {
                non_empty += 1;
            }
            total_area += area;
        }
        println!(
            "yolov8n-seg fixture at {size} px on {photo}.jpg: {} detections (best score {:.3}), {non_empty} \
             non-empty masks, {total_area} mask pixels in all",
            detections.len(),
            detections[0].score
        );
        assert!(non_empty > 0, "every mask is empty");
    }
}
