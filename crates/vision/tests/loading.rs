//! Loading weights: ONNX and safetensors, model cards, batch-norm folding, bad input, and the
//! real default model (`models/yolov12n.onnx`, fetched by scripts/fetch-default-model.sh; those
//! tests say so and pass trivially when it is absent).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use lacuna_vision::{
    Family, ModelCard, OnnxModel, Scale, Task, VisionError, check_shapes, fold_batch_norm, load_weights,
};

const CPU: &Device = &Device::Cpu;

fn default_model() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/yolov12n.onnx");
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("note: {} is absent (run scripts/fetch-default-model.sh); skipping", path.display());
        None
    }
}

fn randn(dims: &[usize]) -> Tensor {
    Tensor::randn(0f32, 1.0, dims, CPU).expect("randn")
}

fn rand_pos(dims: &[usize]) -> Tensor {
    Tensor::rand(0.5f32, 1.5, dims, CPU).expect("rand")
}

/// A tiny "YOLOv8n" with an unfolded Conv (`model.0`) and a Detect head (`model.1`) for `nc`
/// classes, as a converted Ultralytics checkpoint would name it.
fn tiny_checkpoint(nc: usize) -> BTreeMap<String, Tensor> {
    let mut t = BTreeMap::new();
    t.insert("model.0.conv.weight".into(), randn(&[4, 3, 3, 3]));
    t.insert("model.0.bn.weight".into(), rand_pos(&[4]));
    t.insert("model.0.bn.bias".into(), randn(&[4]));
    t.insert("model.0.bn.running_mean".into(), randn(&[4]));
    t.insert("model.0.bn.running_var".into(), rand_pos(&[4]));
    t.insert("model.0.bn.num_batches_tracked".into(), Tensor::new(7i64, CPU).expect("scalar"));
    t.insert("model.1.cv2.0.2.weight".into(), randn(&[64, 4, 1, 1]));
    t.insert("model.1.cv2.0.2.bias".into(), randn(&[64]));
    t.insert("model.1.cv3.0.2.weight".into(), randn(&[nc, 4, 1, 1]));
    t.insert("model.1.cv3.0.2.bias".into(), randn(&[nc]));
    t.insert("model.1.dfl.conv.weight".into(), randn(&[1, 16, 1, 1]));
    t
}

fn tiny_metadata(names: &[&str]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert("names".into(), serde_json::to_string(names).expect("json"));
    m.insert("name".into(), "tiny".into());
    m.insert("family".into(), "v8".into());
    m.insert("scale".into(), "n".into());
    m.insert("task".into(), "detect".into());
    m.insert("imgsz".into(), "64".into());
    m.insert("stride".into(), "32".into());
    m
}

fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    metadata: Option<HashMap<String, String>>,
) {
    safetensors::serialize_to_file(tensors, metadata, path).expect("write safetensors");
}

fn tiny_card(names: &[&str]) -> ModelCard {
    ModelCard {
        name: "tiny".into(),
        family: Family::V8,
        scale: Scale::N,
        task: Task::Detect,
        class_names: names.iter().map(|s| s.to_string()).collect(),
        input_size_px: 64,
        stride_px: 32,
        source: None,
        license: None,
        sha256: None,
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()).expect("diff")
}

#[test]
fn missing_weights_file_names_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nope.safetensors");
    let err = load_weights(&path, CPU, DType::F32).expect_err("missing");
    assert!(matches!(&err, VisionError::Io { path: p, .. } if p == &path), "{err:?}");
    assert!(err.to_string().contains("nope.safetensors"), "{err}");
}

#[test]
fn random_bytes_are_format_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Deterministic "random" bytes (xorshift).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    for name in ["junk.safetensors", "junk.onnx"] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write");
        let err = load_weights(&path, CPU, DType::F32).expect_err("junk");
        assert!(matches!(&err, VisionError::Format { path: p, .. } if p == &path), "{err:?}");
    }
    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").expect("write");
    let err = load_weights(&empty, CPU, DType::F32).expect_err("empty");
    assert!(matches!(err, VisionError::Format { .. }), "{err:?}");
}

/// Protobuf field `tag` with a length-delimited payload.
fn pb_bytes(tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(tag << 3) | 2];
    let mut n = payload.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(payload);
    out
}

/// A minimal ONNX file: one FLOAT initializer `model.0.conv.weight` of shape [2] in raw_data.
fn minimal_onnx() -> Vec<u8> {
    let mut tensor = vec![0x08, 2, 0x10, 1]; // dims = [2], data_type = FLOAT
    tensor.extend(pb_bytes(8, b"model.0.conv.weight"));
    tensor.extend(pb_bytes(9, &[0, 0, 128, 63, 0, 0, 0, 64])); // 1.0, 2.0
    let graph = pb_bytes(5, &tensor);
    let mut model = vec![0x08, 9]; // ir_version = 9
    model.extend(pb_bytes(7, &graph));
    model
}

#[test]
fn truncated_onnx_is_a_format_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = minimal_onnx();
    let onnx = OnnxModel::decode(&whole, Path::new("m.onnx")).expect("valid");
    assert_eq!(onnx.initializer_names().collect::<Vec<_>>(), ["model.0.conv.weight"]);
    for len in [whole.len() - 1, whole.len() / 2, 3] {
        let path = dir.path().join("cut.onnx");
        std::fs::write(&path, &whole[..len]).expect("write");
        let err = load_weights(&path, CPU, DType::F32).expect_err("truncated");
        assert!(matches!(&err, VisionError::Format { path: p, .. } if p == &path), "{len}: {err:?}");
    }
    // Valid, but without class names or a card.
    let path = dir.path().join("whole.onnx");
    std::fs::write(&path, &whole).expect("write");
    let err = load_weights(&path, CPU, DType::F32).expect_err("no card");
    assert!(err.to_string().contains("whole.model.toml"), "{err}");
}

#[test]
fn truncated_default_model_is_a_format_error() {
    let Some(model) = default_model() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(&model).expect("read");
    for len in [bytes.len() / 2, bytes.len() - 1, 100] {
        let path = dir.path().join("cut.onnx");
        std::fs::write(&path, &bytes[..len]).expect("write");
        let err = load_weights(&path, CPU, DType::F32).expect_err("truncated");
        assert!(matches!(&err, VisionError::Format { path: p, .. } if p == &path), "{len}: {err:?}");
    }
}

#[test]
fn unfolded_checkpoint_is_folded_with_ultralytics_eps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.safetensors");
    let ckpt = tiny_checkpoint(2);
    write_safetensors(&path, &ckpt, Some(tiny_metadata(&["cat", "dog"])));

    let w = load_weights(&path, CPU, DType::F32).expect("loads");
    assert_eq!(w.card, tiny_card(&["cat", "dog"]));
    assert!(!w.tensors.keys().any(|k| k.contains(".bn.")), "bn left");
    assert_eq!(w.tensors.len(), ckpt.len() - 5 + 1, "bn params gone, conv bias added");
    let (fw, fb) = fold_batch_norm(
        &ckpt["model.0.conv.weight"],
        None,
        &ckpt["model.0.bn.weight"],
        &ckpt["model.0.bn.bias"],
        &ckpt["model.0.bn.running_mean"],
        &ckpt["model.0.bn.running_var"],
        1e-3,
    )
    .expect("fold");
    assert_eq!(max_abs_diff(&w.tensors["model.0.conv.weight"], &fw), 0.0);
    assert_eq!(max_abs_diff(&w.tensors["model.0.conv.bias"], &fb), 0.0);
    // Untouched head tensors come through exactly.
    assert_eq!(max_abs_diff(&w.tensors["model.1.cv3.0.2.weight"], &ckpt["model.1.cv3.0.2.weight"]), 0.0);
    assert_eq!(w.weights_hash, blake3::hash(&std::fs::read(&path).expect("read")).to_hex().to_string());
    assert_eq!(w.head_class_count(), Some(2));

    // The folded conv equals conv + batch-norm on an input.
    let x = randn(&[1, 3, 8, 8]);
    let per_ch = |t: &Tensor| t.reshape((1, 4, 1, 1)).expect("reshape");
    let unfolded = x
        .conv2d(&ckpt["model.0.conv.weight"], 1, 1, 1, 1)
        .and_then(|y| y.broadcast_sub(&per_ch(&ckpt["model.0.bn.running_mean"])))
        .and_then(|y| y.broadcast_div(&per_ch(&(&ckpt["model.0.bn.running_var"] + 1e-3)?.sqrt()?)))
        .and_then(|y| y.broadcast_mul(&per_ch(&ckpt["model.0.bn.weight"])))
        .and_then(|y| y.broadcast_add(&per_ch(&ckpt["model.0.bn.bias"])))
        .expect("conv+bn");
    let folded = x
        .conv2d(&w.tensors["model.0.conv.weight"], 1, 1, 1, 1)
        .and_then(|y| y.broadcast_add(&per_ch(&w.tensors["model.0.conv.bias"])))
        .expect("folded conv");
    assert!(max_abs_diff(&unfolded, &folded) < 1e-4);

    // `bn_eps` in the metadata overrides the default.
    let mut meta = tiny_metadata(&["cat", "dog"]);
    meta.insert("bn_eps".into(), "1e-5".into());
    write_safetensors(&path, &ckpt, Some(meta));
    let w5 = load_weights(&path, CPU, DType::F32).expect("loads");
    let (fw5, _) = fold_batch_norm(
        &ckpt["model.0.conv.weight"],
        None,
        &ckpt["model.0.bn.weight"],
        &ckpt["model.0.bn.bias"],
        &ckpt["model.0.bn.running_mean"],
        &ckpt["model.0.bn.running_var"],
        1e-5,
    )
    .expect("fold");
    assert_eq!(max_abs_diff(&w5.tensors["model.0.conv.weight"], &fw5), 0.0);

    // dtype is honoured for float tensors.
    let half = load_weights(&path, CPU, DType::F16).expect("loads as f16");
    assert!(half.tensors.values().all(|t| t.dtype() == DType::F16));
}

#[test]
fn wrong_shapes_name_the_tensor_and_both_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.safetensors");
    let mut ckpt = tiny_checkpoint(2);
    write_safetensors(&path, &ckpt, Some(tiny_metadata(&["a", "b"])));
    let w = load_weights(&path, CPU, DType::F32).expect("loads");

    // Up-front check against an architecture's expected shapes.
    let err = w
        .check_shapes(&[("model.0.conv.weight", &[4, 3, 3, 3]), ("model.1.cv2.0.2.weight", &[64, 8, 1, 1])])
        .expect_err("wrong shape");
    match &err {
        VisionError::ShapeMismatch { name, expected, found } => {
            assert_eq!(name, "model.1.cv2.0.2.weight");
            assert_eq!(expected, &[64, 8, 1, 1]);
            assert_eq!(found, &[64, 4, 1, 1]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("model.1.cv2.0.2.weight")
            && text.contains("[64, 8, 1, 1]")
            && text.contains("[64, 4, 1, 1]"),
        "{text}"
    );
    assert!(check_shapes(&w.tensors, &[("model.0.conv.bias", &[4])]).is_ok());

    // A batch-norm parameter that does not fit its conv fails at load.
    ckpt.insert("model.0.bn.running_var".into(), rand_pos(&[5]));
    write_safetensors(&path, &ckpt, Some(tiny_metadata(&["a", "b"])));
    let err = load_weights(&path, CPU, DType::F32).expect_err("bad bn");
    assert!(
        matches!(&err, VisionError::ShapeMismatch { name, expected, found }
            if name == "model.0.bn.running_var" && expected == &[4] && found == &[5]),
        "{err:?}"
    );
}

#[test]
fn missing_tensors_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.safetensors");
    let mut ckpt = tiny_checkpoint(2);
    write_safetensors(&path, &ckpt, Some(tiny_metadata(&["a", "b"])));
    let w = load_weights(&path, CPU, DType::F32).expect("loads");
    let err = w
        .check_shapes(&[("model.0.conv.weight", &[4, 3, 3, 3]), ("model.2.conv.weight", &[8, 4, 3, 3])])
        .expect_err("missing");
    assert!(matches!(&err, VisionError::MissingTensor { name } if name == "model.2.conv.weight"), "{err:?}");
    assert!(err.to_string().contains("model.2.conv.weight"));

    // A batch-norm without its conv, or missing one of its parameters, fails at load.
    ckpt.remove("model.0.bn.running_mean");
    write_safetensors(&path, &ckpt, Some(tiny_metadata(&["a", "b"])));
    let err = load_weights(&path, CPU, DType::F32).expect_err("missing bn param");
    assert!(
        matches!(&err, VisionError::MissingTensor { name } if name == "model.0.bn.running_mean"),
        "{err:?}"
    );
    let mut ckpt = tiny_checkpoint(2);
    ckpt.remove("model.0.conv.weight");
    write_safetensors(&path, &ckpt, Some(tiny_metadata(&["a", "b"])));
    let err = load_weights(&path, CPU, DType::F32).expect_err("missing conv");
    assert!(matches!(&err, VisionError::MissingTensor { name } if name == "model.0.conv.weight"), "{err:?}");
}

#[test]
fn model_cards_beside_the_weights() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.safetensors");
    let ckpt = tiny_checkpoint(2);

    // No metadata and no card: a clear error pointing at model.toml.
    candle_core::safetensors::save(&ckpt.clone().into_iter().collect(), &path).expect("save");
    let err = load_weights(&path, CPU, DType::F32).expect_err("no card");
    assert!(matches!(err, VisionError::Format { .. }), "{err:?}");
    assert!(err.to_string().contains("tiny.model.toml"), "{err}");

    // A folder-wide model.toml.
    let folder_card = dir.path().join("model.toml");
    tiny_card(&["a", "b"]).save(&folder_card).expect("save card");
    let w = load_weights(&path, CPU, DType::F32).expect("loads with model.toml");
    assert_eq!(w.card.class_names, ["a", "b"]);

    // `tiny.model.toml` wins over `model.toml`; a class count that disagrees with the head.
    let card_path = dir.path().join("tiny.model.toml");
    tiny_card(&["a", "b", "c"]).save(&card_path).expect("save card");
    let err = load_weights(&path, CPU, DType::F32).expect_err("3 vs 2 classes");
    match &err {
        VisionError::CardMismatch { path: p, reason } => {
            assert_eq!(p, &card_path);
            assert!(reason.contains("3 classes") && reason.contains("model.1.cv3.0.2.weight"));
            assert!(reason.contains("2 channels"), "{reason}");
        }
        other => panic!("expected CardMismatch, got {other:?}"),
    }

    // Task segment without a mask head.
    let mut seg = tiny_card(&["a", "b"]);
    seg.task = Task::Segment;
    seg.save(&card_path).expect("save card");
    let err = load_weights(&path, CPU, DType::F32).expect_err("no proto");
    assert!(matches!(err, VisionError::CardMismatch { .. }), "{err:?}");

    // A card that disagrees with the file's own metadata.
    write_safetensors(&path, &ckpt, Some(tiny_metadata(&["a", "z"])));
    tiny_card(&["a", "b"]).save(&card_path).expect("save card");
    let err = load_weights(&path, CPU, DType::F32).expect_err("names differ");
    assert!(matches!(&err, VisionError::CardMismatch { reason, .. } if reason.contains("\"z\"")), "{err:?}");

    // An invalid card is a format error naming the card.
    std::fs::write(&card_path, "name = \"x\"\nfamily = \"v9\"\n").expect("write");
    let err = load_weights(&path, CPU, DType::F32).expect_err("bad card");
    assert!(matches!(&err, VisionError::Format { path: p, .. } if p == &card_path), "{err:?}");

    // Metadata class count vs head, without any card file.
    std::fs::remove_file(&card_path).expect("rm");
    std::fs::remove_file(&folder_card).expect("rm");
    write_safetensors(&path, &ckpt, Some(tiny_metadata(&["a"])));
    let err = load_weights(&path, CPU, DType::F32).expect_err("1 vs 2 classes");
    assert!(matches!(&err, VisionError::CardMismatch { path: p, .. } if p == &path), "{err:?}");
}

#[test]
fn default_model_onnx_loads() {
    let Some(model) = default_model() else { return };
    let onnx = OnnxModel::read(&model).expect("reads");
    assert_eq!(onnx.initializer_count(), 264);
    assert_eq!(onnx.input_shape, Some(vec![Some(1), Some(3), Some(640), Some(640)]));
    assert_eq!(onnx.opset, Some(19));

    let card = ModelCard::from_onnx_metadata(&onnx.metadata, &model).expect("card");
    assert_eq!(card.class_names.len(), 80);
    assert_eq!(card.class_names[..2], ["person", "bicycle"]);
    assert_eq!(card.class_names[79], "toothbrush");
    assert_eq!(card.input_size_px, 640);
    assert_eq!(card.stride_px, 32);
    assert_eq!((card.family, card.scale, card.task), (Family::V12, Scale::N, Task::Detect));
    assert_eq!(card.name, "yolov12n");
    assert_eq!(card.license.as_deref(), Some("AGPL-3.0 License (https://ultralytics.com/license)"));

    let w = load_weights(&model, CPU, DType::F32).expect("loads");
    // 264 initializers: 239 module parameters + 25 graph constants (shapes, anchors, strides).
    assert_eq!(w.tensors.len(), 239);
    assert!(w.tensors.keys().all(|k| k.starts_with("model.")));
    assert_eq!(w.tensors["model.0.conv.weight"].dims(), &[16, 3, 3, 3]);
    assert_eq!(w.tensors["model.21.dfl.conv.weight"].dims(), &[1, 16, 1, 1]);
    assert_eq!(w.head_class_count(), Some(80));
    for (name, t) in &w.tensors {
        let v: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1()).expect("values");
        assert!(v.iter().all(|x| x.is_finite()), "{name} has a non-finite value");
    }
    // The committed card beside it (models/yolov12n.model.toml) is used and agrees.
    assert_eq!(w.card.class_names, card.class_names);
    assert_eq!((w.card.family, w.card.scale), (Family::V12, Scale::N));
    assert_eq!(w.card.license.as_deref(), Some("AGPL-3.0"));
    assert_eq!(
        w.card.sha256.as_deref(),
        Some("e548ab3a406227202334bf5a6623c9814ac6286ff04e68aeb4dc2357732d1a4f")
    );
    assert_eq!(w.weights_hash, blake3::hash(&std::fs::read(&model).expect("read")).to_hex().to_string());
}

#[test]
fn default_model_round_trips_through_safetensors() {
    let Some(model) = default_model() else { return };
    let w = load_weights(&model, CPU, DType::F32).expect("loads");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("yolov12n.safetensors");
    w.save_safetensors(&path).expect("saves");
    let back = load_weights(&path, CPU, DType::F32).expect("loads back");
    assert_eq!(back.tensors.len(), w.tensors.len());
    for (name, t) in &w.tensors {
        let b = back.tensors.get(name).expect("same names");
        assert_eq!(b.dims(), t.dims(), "{name}");
        let x: Vec<f32> = t.flatten_all().and_then(|t| t.to_vec1()).expect("values");
        let y: Vec<f32> = b.flatten_all().and_then(|t| t.to_vec1()).expect("values");
        assert!(x.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()), "{name} differs");
    }
    let mut expected = w.card.clone();
    expected.sha256 = None; // the hash of the ONNX file is not carried over
    assert_eq!(back.card, expected);
    assert_ne!(back.weights_hash, w.weights_hash);

    // Plain candle save (no metadata) + the card as model.toml gives the same tensors too.
    let plain = dir.path().join("plain.safetensors");
    candle_core::safetensors::save(&w.tensors, &plain).expect("save");
    w.card.save(&dir.path().join("plain.model.toml")).expect("card");
    let again = load_weights(&plain, CPU, DType::F32).expect("loads");
    assert_eq!(again.card, w.card);
    assert_eq!(again.tensors.len(), w.tensors.len());
}

/// Checks models/convert_ultralytics.py: with `LACUNA_CONVERTER_CHECK_DIR` pointing at a folder
/// with `unfused/<m>.safetensors` (the converter's default) and `fused/<m>.safetensors` (its
/// `--fuse`, Ultralytics' own folding), each with its `.model.toml`, Lacuna's folding of the
/// first must match the second, and so must an `onnx/<m>.onnx` export when present. Skipped without the variable (it needs torch + ultralytics).
#[test]
fn converter_output_folds_like_ultralytics_fuse() {
    let Some(dir) = std::env::var_os("LACUNA_CONVERTER_CHECK_DIR").map(PathBuf::from) else {
        return;
    };
    let mut checked = 0;
    for entry in std::fs::read_dir(dir.join("unfused")).expect("unfused/") {
        let unfused = entry.expect("entry").path();
        if unfused.extension().is_none_or(|e| e != "safetensors") {
            continue;
        }
        let fused = dir.join("fused").join(unfused.file_name().expect("name"));
        let a = load_weights(&unfused, CPU, DType::F32).expect("unfused loads");
        let b = load_weights(&fused, CPU, DType::F32).expect("fused loads");
        assert_eq!(a.card.class_names, b.card.class_names);
        assert_eq!((a.card.family, a.card.scale, a.card.task), (b.card.family, b.card.scale, b.card.task));
        let mut names_a: Vec<_> = a.tensors.keys().collect();
        let mut names_b: Vec<_> = b.tensors.keys().collect();
        names_a.sort();
        names_b.sort();
        assert_eq!(names_a, names_b, "{}", unfused.display());
        for (name, t) in &a.tensors {
            let scale = b.tensors[name].abs().and_then(|t| t.flatten_all()?.max(0)?.to_scalar::<f32>());
            let diff = max_abs_diff(t, &b.tensors[name]);
            assert!(diff <= 1e-5 * scale.expect("max").max(1.0), "{name}: {diff}");
        }
        // An ONNX export of the same checkpoint, if present, holds the same tensors.
        let onnx = dir.join("onnx").join(unfused.with_extension("onnx").file_name().expect("name"));
        if onnx.is_file() {
            let c = load_weights(&onnx, CPU, DType::F32).expect("onnx loads");
            assert_eq!(c.card.class_names, b.card.class_names);
            assert_eq!(
                (c.card.family, c.card.scale, c.card.task),
                (b.card.family, b.card.scale, b.card.task)
            );
            assert_eq!(c.tensors.len(), b.tensors.len(), "{}", onnx.display());
            for (name, t) in &b.tensors {
                let other = c.tensors.get(name).unwrap_or_else(|| panic!("{name} missing in the ONNX"));
                assert!(max_abs_diff(t, other) <= 1e-6, "{name}");
            }
            eprintln!("{}: same tensors", onnx.display());
        }
        eprintln!("{}: {} tensors match", unfused.display(), a.tensors.len());
        checked += 1;
    }
    assert!(checked > 0, "no .safetensors in {}", dir.join("unfused").display());
}
