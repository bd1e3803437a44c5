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

    let dir = tempfile::tempdir().expect("temp dir");
    let input_path = dir.path().join("images.f32");
    let output_path = dir.path().join("output0.f32");
    let bytes: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&input_path, bytes).expect("write input");
    let run = std::process::Command::new(&python)
        .args(["-c", ONNXRUNTIME_REFERENCE])
        .arg(&onnx)
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
    let values: Vec<f32> =
        raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
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

/// argv: model.onnx, input (raw little-endian f32, [1, 3, size, size]), output path, size.
const ONNXRUNTIME_REFERENCE: &str = r#"
import sys
import numpy as np
import onnxruntime as ort
model, inp, out, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
x = np.fromfile(inp, dtype="<f4").reshape(1, 3, size, size)
session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
(y,) = session.run(["output0"], {session.get_inputs()[0].name: x})
np.ascontiguousarray(y, dtype="<f4").tofile(out)
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
