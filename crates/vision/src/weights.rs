//! Loading weights: an Ultralytics ONNX export or a (converted) safetensors file, with the
//! model card from the file's metadata or a `model.toml` beside it, batch-norm folded into the
//! convolutions, checked against the card.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::card::{ModelCard, Task, metadata_keys, sidecar_card_path};
use crate::error::{Result, VisionError};
use crate::onnx::OnnxModel;

/// The batch-norm epsilon of Ultralytics models: `initialize_weights` sets `eps = 1e-3` on
/// every `BatchNorm2d` (PyTorch's default would be 1e-5). Used for unfolded safetensors
/// checkpoints without a `bn_eps` metadata key.
pub const ULTRALYTICS_BN_EPS: f64 = 1e-3;

/// Weights ready for an architecture.
#[derive(Debug)]
pub struct LoadedWeights {
    /// Tensor name -> tensor, with Ultralytics module names (`model.0.conv.weight`), batch-norm
    /// ALWAYS folded into conv weight + bias by the loader (so architectures only ever see
    /// `<prefix>.conv.weight` and `<prefix>.conv.bias` for a Conv block), in `dtype` on `device`.
    pub tensors: HashMap<String, Tensor>,
    pub card: ModelCard,
    /// BLAKE3 hex of the weights file's bytes (recorded with each model run).
    pub weights_hash: String,
}

/// Loads `path` (`.onnx` or `.safetensors`) onto `device` as `dtype`.
///
/// `.onnx`: initializers + metadata (names, imgsz, stride, task, description -> family/scale).
/// `.safetensors`: tensors + safetensors metadata (see [`metadata_keys`]).
/// Either way a model card beside the file (`x.model.toml` for `x.onnx` / `x.safetensors`, or
/// `model.toml` in the folder) takes precedence, but must agree with the file's own metadata.
/// A card that disagrees with the weights (class count vs the Detect head's class-output
/// channels, task vs the presence of a mask head) is [`VisionError::CardMismatch`].
pub fn load_weights(path: &Path, device: &Device, dtype: DType) -> Result<LoadedWeights> {
    let bytes = std::fs::read(path).map_err(|e| VisionError::io(path, e))?;
    let weights_hash = blake3::hash(&bytes).to_hex().to_string();

    let raw = match WeightsFormat::of(path, &bytes) {
        WeightsFormat::Onnx => read_onnx(&bytes, path)?,
        WeightsFormat::Safetensors => read_safetensors(&bytes, path)?,
    };
    drop(bytes);

    let (card, card_path) = match (sidecar_card_path(path), raw.card) {
        (Some(card_path), embedded) => {
            let card = ModelCard::load(&card_path)?;
            if let Some(embedded) = &embedded {
                card.check_agrees_with(embedded, &card_path)?;
            }
            (card, card_path)
        }
        (None, Some(card)) => (card, path.to_owned()),
        (None, None) => {
            return Err(VisionError::format(
                path,
                format!(
                    "no model card: the file's metadata has no class names (`{}`) and there is \
                     no {} or model.toml beside it",
                    metadata_keys::NAMES,
                    sidecar_name(path).display()
                ),
            ));
        }
    };

    let mut tensors = raw.tensors;
    tensors.retain(|name, _| !name.ends_with(".num_batches_tracked"));
    fold_all_batch_norms(&mut tensors, &raw.bn_eps, raw.default_bn_eps)?;
    check_card_against_weights(&card, &tensors, &card_path)?;

    let tensors = tensors
        .into_iter()
        .map(|(name, t)| {
            let t = if t.dtype().is_float() && t.dtype() != dtype { t.to_dtype(dtype)? } else { t };
            Ok((name, t.to_device(device)?))
        })
        .collect::<Result<HashMap<_, _>>>()?;
    Ok(LoadedWeights { tensors, card, weights_hash })
}

impl LoadedWeights {
    /// Checks that every `(name, shape)` is present with that shape: the first missing tensor
    /// is [`VisionError::MissingTensor`], the first wrong shape [`VisionError::ShapeMismatch`].
    pub fn check_shapes(&self, expected: &[(&str, &[usize])]) -> Result<()> {
        check_shapes(&self.tensors, expected)
    }

    /// A `VarBuilder` over the tensors (for the architectures).
    pub fn var_builder(&self, dtype: DType, device: &Device) -> candle_nn::VarBuilder<'static> {
        candle_nn::VarBuilder::from_tensors(self.tensors.clone(), dtype, device)
    }

    /// The class count the Detect head's weights imply (see [`head_class_count`]).
    pub fn head_class_count(&self) -> Option<usize> {
        head_class_count(&self.tensors).map(|(_, n)| n)
    }

    /// Writes the (folded) tensors as safetensors, with the card as `__metadata__` (keys in
    /// [`metadata_keys`]): loading that file gives the same tensors and card.
    pub fn save_safetensors(&self, path: &Path) -> Result<()> {
        let cpu: BTreeMap<&str, Tensor> = self
            .tensors
            .iter()
            .map(|(name, t)| Ok((name.as_str(), t.to_device(&Device::Cpu)?.contiguous()?)))
            .collect::<Result<_>>()?;
        safetensors::serialize_to_file(cpu, Some(self.card.to_safetensors_metadata()), path).map_err(|e| {
            match e {
                safetensors::SafeTensorError::IoError(source) => VisionError::io(path, source),
                other => VisionError::format(path, other.to_string()),
            }
        })
    }
}

/// Checks that every `(name, shape)` is in `tensors` with that shape: the first missing tensor
/// is [`VisionError::MissingTensor`], the first wrong shape [`VisionError::ShapeMismatch`].
pub fn check_shapes(tensors: &HashMap<String, Tensor>, expected: &[(&str, &[usize])]) -> Result<()> {
    for (name, shape) in expected {
        let t = tensors.get(*name).ok_or_else(|| VisionError::MissingTensor { name: (*name).to_owned() })?;
        if t.dims() != *shape {
            return Err(VisionError::ShapeMismatch {
                name: (*name).to_owned(),
                expected: shape.to_vec(),
                found: t.dims().to_vec(),
            });
        }
    }
    Ok(())
}

/// Folds a batch-norm into the convolution before it:
/// `W' = W * gamma / sqrt(var + eps)` (per output channel) and
/// `b' = beta + (b - mean) * gamma / sqrt(var + eps)` (`b` = 0 without a conv bias).
/// Computed in f64 on the CPU, returned in `weight`'s dtype on its device.
pub fn fold_batch_norm(
    weight: &Tensor,
    bias: Option<&Tensor>,
    gamma: &Tensor,
    beta: &Tensor,
    running_mean: &Tensor,
    running_var: &Tensor,
    eps: f64,
) -> Result<(Tensor, Tensor)> {
    let cpu = &Device::Cpu;
    let f64_on_cpu = |t: &Tensor| -> Result<Tensor> { Ok(t.to_device(cpu)?.to_dtype(DType::F64)?) };
    let w = f64_on_cpu(weight)?;
    let out = *w
        .dims()
        .first()
        .ok_or_else(|| VisionError::Candle(candle_core::Error::Msg("a conv weight needs a shape".into())))?;
    let scale = (f64_on_cpu(gamma)? / (f64_on_cpu(running_var)? + eps)?.sqrt()?)?;
    let mut scale_shape = vec![1usize; w.rank()];
    scale_shape[0] = out;
    let w = w.broadcast_mul(&scale.reshape(scale_shape)?)?;
    let b = match bias {
        Some(b) => f64_on_cpu(b)?,
        None => Tensor::zeros(out, DType::F64, cpu)?,
    };
    let b = ((b - f64_on_cpu(running_mean)?)? * &scale)? + f64_on_cpu(beta)?;
    let dtype = weight.dtype();
    let device = weight.device();
    Ok((w.to_dtype(dtype)?.to_device(device)?, b?.to_dtype(dtype)?.to_device(device)?))
}

/// The Detect head's class-output convolutions: for the head `model.<H>` (the largest module
/// index), the last layer of each class branch `model.<H>.cv3.<i>.<j>.weight` (largest `j`).
/// Returns one such tensor's name and its output channels (= number of classes), or `None`
/// when there is no such head. All branches must agree, else the first disagreeing one is
/// returned with its count.
pub fn head_class_count(tensors: &HashMap<String, Tensor>) -> Option<(String, usize)> {
    let head = head_index(tensors)?;
    let prefix = format!("model.{head}.cv3.");
    // branch i -> (largest j, name)
    let mut last: BTreeMap<usize, (usize, &str)> = BTreeMap::new();
    for name in tensors.keys() {
        let Some(rest) = name.strip_prefix(&prefix) else { continue };
        let Some(rest) = rest.strip_suffix(".weight") else { continue };
        let mut parts = rest.split('.');
        let (Some(i), Some(j), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(i), Ok(j)) = (i.parse::<usize>(), j.parse::<usize>()) else { continue };
        let entry = last.entry(i).or_insert((j, name));
        if j >= entry.0 {
            *entry = (j, name);
        }
    }
    let mut found: Option<(String, usize)> = None;
    for (_, name) in last.values() {
        let n = *tensors.get(*name)?.dims().first()?;
        match &found {
            None => found = Some(((*name).to_owned(), n)),
            Some((_, first)) if *first != n => return Some(((*name).to_owned(), n)),
            Some(_) => {}
        }
    }
    found
}

/// The largest `N` among `model.N.` prefixes: the head's module index.
fn head_index(tensors: &HashMap<String, Tensor>) -> Option<usize> {
    tensors
        .keys()
        .filter_map(|name| name.strip_prefix("model.")?.split('.').next()?.parse::<usize>().ok())
        .max()
}

/// Class count and task of `card` against the weights.
fn check_card_against_weights(
    card: &ModelCard,
    tensors: &HashMap<String, Tensor>,
    card_path: &Path,
) -> Result<()> {
    let nc = card.num_classes();
    let Some((name, found)) = head_class_count(tensors) else {
        return Err(VisionError::card_mismatch(
            card_path,
            "the weights have no Ultralytics Detect head (no `model.<N>.cv3.<i>.<j>.weight` \
             class-output convolutions) to check the card's class count against",
        ));
    };
    if found != nc {
        return Err(VisionError::card_mismatch(
            card_path,
            format!("it lists {nc} classes, but the head's class output `{name}` has {found} channels"),
        ));
    }
    let head = head_index(tensors).unwrap_or_default();
    let proto_prefix = format!("model.{head}.proto.");
    let has_masks = tensors.keys().any(|n| n.starts_with(&proto_prefix));
    match (card.task, has_masks) {
        (Task::Segment, false) => Err(VisionError::card_mismatch(
            card_path,
            format!("it says task segment, but the weights have no mask head (`{proto_prefix}*`)"),
        )),
        (Task::Detect, true) => Err(VisionError::card_mismatch(
            card_path,
            format!("it says task detect, but the weights have a mask head (`{proto_prefix}*`)"),
        )),
        _ => Ok(()),
    }
}

/// Replaces every `<p>.bn.{weight,bias,running_mean,running_var}` + `<p>.conv.weight` (+
/// `<p>.conv.bias`) by the folded `<p>.conv.weight` + `<p>.conv.bias`.
fn fold_all_batch_norms(
    tensors: &mut HashMap<String, Tensor>,
    eps_by_prefix: &HashMap<String, f64>,
    default_eps: f64,
) -> Result<()> {
    const BN_PARAMS: [&str; 4] = ["weight", "bias", "running_mean", "running_var"];
    let bases: HashSet<String> = tensors
        .keys()
        .filter_map(|name| {
            BN_PARAMS.iter().find_map(|p| name.strip_suffix(&format!(".bn.{p}"))).map(str::to_owned)
        })
        .collect();
    let mut bases: Vec<String> = bases.into_iter().collect();
    bases.sort();
    for base in bases {
        let take = |tensors: &mut HashMap<String, Tensor>, name: String| {
            tensors.remove(&name).ok_or(VisionError::MissingTensor { name })
        };
        let weight_name = format!("{base}.conv.weight");
        let bias_name = format!("{base}.conv.bias");
        let weight = tensors
            .get(&weight_name)
            .cloned()
            .ok_or_else(|| VisionError::MissingTensor { name: weight_name.clone() })?;
        let out = weight.dims().first().copied().unwrap_or(0);
        let mut bn = Vec::with_capacity(4);
        for p in BN_PARAMS {
            let name = format!("{base}.bn.{p}");
            let t = take(tensors, name.clone())?;
            if t.dims() != [out] {
                return Err(VisionError::ShapeMismatch {
                    name,
                    expected: vec![out],
                    found: t.dims().to_vec(),
                });
            }
            bn.push(t);
        }
        let bias = tensors.get(&bias_name);
        if let Some(b) = bias
            && b.dims() != [out]
        {
            return Err(VisionError::ShapeMismatch {
                name: bias_name,
                expected: vec![out],
                found: b.dims().to_vec(),
            });
        }
        let eps = eps_by_prefix.get(&format!("{base}.bn")).copied().unwrap_or(default_eps);
        let (w, b) = fold_batch_norm(&weight, bias, &bn[0], &bn[1], &bn[2], &bn[3], eps)?;
        tensors.insert(weight_name, w);
        tensors.insert(bias_name, b);
    }
    Ok(())
}

enum WeightsFormat {
    Onnx,
    Safetensors,
}

impl WeightsFormat {
    /// By extension; otherwise a safetensors header (8-byte length, then `{`) or ONNX.
    fn of(path: &Path, bytes: &[u8]) -> WeightsFormat {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("onnx") => WeightsFormat::Onnx,
            Some("safetensors") => WeightsFormat::Safetensors,
            _ if bytes.get(8) == Some(&b'{') => WeightsFormat::Safetensors,
            _ => WeightsFormat::Onnx,
        }
    }
}

/// What a weights file holds before folding and checking.
struct RawWeights {
    tensors: HashMap<String, Tensor>,
    card: Option<ModelCard>,
    bn_eps: HashMap<String, f64>,
    default_bn_eps: f64,
}

fn read_onnx(bytes: &[u8], path: &Path) -> Result<RawWeights> {
    let model = OnnxModel::decode(bytes, path)?;
    let channels = match model.metadata.get("channels") {
        Some(c) => c.trim().parse::<i64>().ok(),
        None => model.input_shape.as_ref().and_then(|s| s.get(1).copied().flatten()),
    };
    if let Some(c) = channels
        && c != 3
    {
        return Err(VisionError::format(
            path,
            format!("the model takes {c} input channels; only RGB (3) models are supported"),
        ));
    }
    let module = model.module_tensors()?;
    let card = if model.metadata.contains_key(metadata_keys::NAMES) {
        let mut metadata = model.metadata.clone();
        // Fall back on the graph's input height for the input size.
        if !metadata.contains_key(metadata_keys::IMGSZ)
            && let Some(Some(h)) = model.input_shape.as_ref().and_then(|s| s.get(2))
        {
            metadata.insert(metadata_keys::IMGSZ.to_owned(), h.to_string());
        }
        Some(ModelCard::from_onnx_metadata(&metadata, path)?)
    } else {
        None
    };
    Ok(RawWeights {
        tensors: module.tensors,
        card,
        bn_eps: module.bn_eps,
        // ONNX BatchNormalization nodes carry their own epsilon; this is never used.
        default_bn_eps: ULTRALYTICS_BN_EPS,
    })
}

fn read_safetensors(bytes: &[u8], path: &Path) -> Result<RawWeights> {
    let bad = |e: safetensors::SafeTensorError| {
        VisionError::format(path, format!("not a valid safetensors file: {e}"))
    };
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(bad)?;
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(bad)?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        use candle_core::safetensors::Load;
        let t = view
            .load(&Device::Cpu)
            .map_err(|e| VisionError::format(path, format!("tensor {name:?} cannot be read: {e}")))?;
        tensors.insert(name, t);
    }
    let card = ModelCard::from_safetensors_metadata(&metadata, path)?;
    let default_bn_eps = match metadata.get(metadata_keys::BN_EPS) {
        Some(v) => v.trim().parse::<f64>().ok().filter(|e| e.is_finite() && *e >= 0.0).ok_or_else(|| {
            VisionError::format(
                path,
                format!("metadata `{}`: {v:?} is not a non-negative number", metadata_keys::BN_EPS),
            )
        })?,
        None => ULTRALYTICS_BN_EPS,
    };
    Ok(RawWeights { tensors, card, bn_eps: HashMap::new(), default_bn_eps })
}

fn sidecar_name(path: &Path) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    PathBuf::from(format!("{stem}.model.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_matches_conv_then_batch_norm() -> Result<()> {
        let dev = &Device::Cpu;
        let (out, inp, k) = (4usize, 3usize, 3usize);
        let x = Tensor::randn(0f32, 1.0, (2, inp, 8, 8), dev)?;
        let w = Tensor::randn(0f32, 0.5, (out, inp, k, k), dev)?;
        let conv_b = Tensor::randn(0f32, 0.5, out, dev)?;
        let gamma = Tensor::rand(0.5f32, 1.5, out, dev)?;
        let beta = Tensor::randn(0f32, 1.0, out, dev)?;
        let mean = Tensor::randn(0f32, 1.0, out, dev)?;
        let var = Tensor::rand(0.1f32, 2.0, out, dev)?;
        let eps = 1e-3;
        for bias in [None, Some(&conv_b)] {
            // Unfolded: conv (+ bias), then batch-norm with candle ops.
            let mut y = x.conv2d(&w, 1, 1, 1, 1)?;
            if let Some(b) = bias {
                y = y.broadcast_add(&b.reshape((1, out, 1, 1))?)?;
            }
            let per_channel = |t: &Tensor| t.reshape((1, out, 1, 1));
            let y = y
                .broadcast_sub(&per_channel(&mean)?)?
                .broadcast_div(&per_channel(&(&var + eps)?.sqrt()?)?)?
                .broadcast_mul(&per_channel(&gamma)?)?
                .broadcast_add(&per_channel(&beta)?)?;
            // Folded.
            let (fw, fb) = fold_batch_norm(&w, bias, &gamma, &beta, &mean, &var, eps)?;
            assert_eq!(fw.dtype(), DType::F32);
            let z = x.conv2d(&fw, 1, 1, 1, 1)?.broadcast_add(&fb.reshape((1, out, 1, 1))?)?;
            let diff = (y - z)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "max difference {diff}");
        }
        Ok(())
    }

    #[test]
    fn head_class_count_uses_the_last_module_and_last_layer() -> Result<()> {
        let dev = &Device::Cpu;
        let mut t = HashMap::new();
        let z = |dims: &[usize]| Tensor::zeros(dims, DType::F32, dev);
        t.insert("model.3.conv.weight".to_owned(), z(&[8, 3, 3, 3])?);
        t.insert("model.22.cv3.0.0.conv.weight".to_owned(), z(&[16, 8, 3, 3])?);
        t.insert("model.22.cv3.0.2.weight".to_owned(), z(&[5, 16, 1, 1])?);
        t.insert("model.22.cv3.1.2.weight".to_owned(), z(&[5, 16, 1, 1])?);
        t.insert("model.22.cv2.0.2.weight".to_owned(), z(&[64, 16, 1, 1])?);
        assert_eq!(head_class_count(&t), Some(("model.22.cv3.0.2.weight".to_owned(), 5)));
        t.insert("model.22.cv3.2.2.weight".to_owned(), z(&[7, 16, 1, 1])?);
        assert_eq!(head_class_count(&t), Some(("model.22.cv3.2.2.weight".to_owned(), 7)));
        Ok(())
    }
}
