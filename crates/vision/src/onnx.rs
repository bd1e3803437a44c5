//! Reads the weights and metadata of an ONNX model (an Ultralytics export) without running it.
//!
//! Only the few protobuf messages needed are declared here, with `prost` derives (field numbers
//! from onnx.proto); every other field is skipped while decoding.
//!
//! Tensor names: Ultralytics exports keep the PyTorch parameter names for convolution weights
//! (`model.0.conv.weight`, `model.0.conv.bias`: batch-norm already folded). Where an exporter
//! renamed one (constant folding produces `onnx::Conv_123`), or shared one initializer between
//! parameters with equal values (a freshly initialised Detect head's `cv2.<i>.2.bias` are all
//! 1.0: one `model.21.cv2.0.2.bias` feeds all three convs), the module name is recovered from
//! the node that consumes it: a `Conv` node named `/model.21/cv3.2/cv3.2.2/Conv` with inputs
//! (X, W, B) gives `model.21.cv3.2.2.weight` / `.bias`; a `BatchNormalization` node's inputs
//! (X, scale, B, mean, var) give `<prefix>.weight`, `.bias`, `.running_mean`, `.running_var`.
//! Initializers that are not module parameters (reshape targets, split sizes, anchor grids such
//! as `/model.21/Constant_9_output_0`) are graph plumbing and are left out of
//! [`OnnxModel::module_tensors`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::error::{Result, VisionError};

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(string, tag = "3")]
    pub producer_version: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
    /// Only counted: sparse initializers are refused.
    #[prost(message, repeated, tag = "15")]
    pub sparse_initializer: Vec<Skipped>,
}

/// A message whose content is not needed.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Skipped {}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
    #[prost(string, tag = "7")]
    pub domain: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(float, optional, tag = "2")]
    pub f: Option<f32>,
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeProto {
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TypeProtoTensor>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TypeProtoTensor {
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Dimension {
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// Present only in segmented tensors, which are refused.
    #[prost(message, optional, tag = "3")]
    pub segment: Option<Skipped>,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int32, repeated, tag = "5")]
    pub int32_data: Vec<i32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    #[prost(double, repeated, tag = "10")]
    pub double_data: Vec<f64>,
    #[prost(uint64, repeated, tag = "11")]
    pub uint64_data: Vec<u64>,
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntryProto>,
    /// 0: DEFAULT (data in this message), 1: EXTERNAL.
    #[prost(int32, tag = "14")]
    pub data_location: i32,
}

/// ONNX `TensorProto.DataType` values.
mod data_type {
    pub const FLOAT: i32 = 1;
    pub const UINT8: i32 = 2;
    pub const INT16: i32 = 5;
    pub const INT32: i32 = 6;
    pub const INT64: i32 = 7;
    pub const BOOL: i32 = 9;
    pub const FLOAT16: i32 = 10;
    pub const DOUBLE: i32 = 11;
    pub const UINT32: i32 = 12;
    pub const BFLOAT16: i32 = 16;
}

const DATA_LOCATION_EXTERNAL: i32 = 1;
/// ONNX's default `BatchNormalization` epsilon.
const ONNX_BN_DEFAULT_EPS: f64 = 1e-5;

/// A decoded ONNX file: its metadata and initializers (weights), plus what is needed to name
/// them.
#[derive(Debug)]
pub struct OnnxModel {
    path: PathBuf,
    /// `metadata_props` (for Ultralytics: `names`, `imgsz`, `stride`, `task`, `description`,
    /// `license`, `author`, `version`, `date`, `batch`, `args`, `docs`).
    pub metadata: HashMap<String, String>,
    /// "pytorch 2.5.1".
    pub producer: String,
    /// The default-domain opset.
    pub opset: Option<i64>,
    /// Shape of the first graph input (dynamic dimensions as `None`), e.g. `[1, 3, 640, 640]`.
    pub input_shape: Option<Vec<Option<i64>>>,
    graph: GraphProto,
}

/// Tensors named like the PyTorch module parameters, on the CPU in the file's dtype, plus
/// the epsilon of each unfolded batch-norm (`model.0.bn` -> 1e-3).
#[derive(Debug, Default)]
pub(crate) struct ModuleTensors {
    pub tensors: HashMap<String, Tensor>,
    pub bn_eps: HashMap<String, f64>,
}

impl OnnxModel {
    /// Reads and decodes `path`.
    pub fn read(path: &Path) -> Result<OnnxModel> {
        let bytes = std::fs::read(path).map_err(|e| VisionError::io(path, e))?;
        Self::decode(&bytes, path)
    }

    /// Decodes the bytes of an ONNX file; `path` only names it in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<OnnxModel> {
        use prost::Message;
        let model = ModelProto::decode(bytes)
            .map_err(|e| VisionError::format(path, format!("not an ONNX model (protobuf: {e})")))?;
        let Some(graph) = model.graph else {
            return Err(VisionError::format(path, "not an ONNX model: it has no graph"));
        };
        if graph.initializer.is_empty() {
            return Err(VisionError::format(path, "the ONNX graph has no initializers (no weights)"));
        }
        if !graph.sparse_initializer.is_empty() {
            return Err(VisionError::format(
                path,
                "the ONNX graph has sparse initializers, which are not supported",
            ));
        }
        let metadata = model.metadata_props.into_iter().map(|e| (e.key, e.value)).collect();
        let opset = model
            .opset_import
            .iter()
            .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
            .map(|o| o.version);
        let input_shape = graph.input.first().and_then(|i| {
            let shape = i.r#type.as_ref()?.tensor_type.as_ref()?.shape.as_ref()?;
            Some(shape.dim.iter().map(|d| d.dim_value).collect())
        });
        Ok(OnnxModel {
            path: path.to_owned(),
            metadata,
            producer: format!("{} {}", model.producer_name, model.producer_version).trim().to_owned(),
            opset,
            input_shape,
            graph,
        })
    }

    /// Number of initializers in the graph (module parameters and constants).
    pub fn initializer_count(&self) -> usize {
        self.graph.initializer.len()
    }

    /// The initializers' names as stored in the file.
    pub fn initializer_names(&self) -> impl Iterator<Item = &str> {
        self.graph.initializer.iter().map(|t| t.name.as_str())
    }

    /// Number of nodes of each operator type.
    pub fn op_counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for node in &self.graph.node {
            *counts.entry(node.op_type.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// File name -> module name for every initializer that is a module parameter: names
    /// already of the form `model.…` keep theirs; others consumed as the weight / bias of a
    /// `Conv` / `ConvTranspose` or as a `BatchNormalization` parameter get the consuming node's
    /// module name. Also returns each batch-norm's epsilon, keyed by its module prefix.
    #[allow(clippy::type_complexity)]
    fn module_names<'a>(&'a self) -> Result<(HashMap<&'a str, Vec<String>>, HashMap<String, f64>)> {
        let initializers: HashMap<&str, &TensorProto> =
            self.graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut names: HashMap<&str, Vec<String>> = HashMap::new();
        for t in &self.graph.initializer {
            if is_module_name(&t.name) {
                names.entry(t.name.as_str()).or_default().push(t.name.clone());
            }
        }
        // Exporters that deduplicate equal initializers (torch 2.x) give the other users an
        // `Identity` node whose output carries the parameter's own name: follow those back to
        // the stored initializer.
        let mut aliases: HashMap<&str, &str> = HashMap::new();
        for node in &self.graph.node {
            if node.op_type == "Identity"
                && node.domain.is_empty()
                && let (Some(input), Some(output)) = (node.input.first(), node.output.first())
            {
                aliases.insert(output.as_str(), input.as_str());
            }
        }
        let resolve = |name: &'a str| -> &'a str {
            let mut current = name;
            for _ in 0..16 {
                match aliases.get(current) {
                    Some(next) if !initializers.contains_key(current) => current = next,
                    _ => break,
                }
            }
            current
        };
        let mut bn_eps = HashMap::new();
        for node in &self.graph.node {
            let params: &[&str] = match node.op_type.as_str() {
                "Conv" | "ConvTranspose" if node.domain.is_empty() => &["", "weight", "bias"],
                "BatchNormalization" if node.domain.is_empty() => {
                    &["", "weight", "bias", "running_mean", "running_var"]
                }
                _ => continue,
            };
            let prefix = module_prefix(&node.name);
            if node.op_type == "BatchNormalization"
                && let Some(prefix) = &prefix
            {
                let eps = node
                    .attribute
                    .iter()
                    .find(|a| a.name == "epsilon")
                    .and_then(|a| a.f)
                    .map_or(ONNX_BN_DEFAULT_EPS, f64::from);
                bn_eps.insert(prefix.clone(), eps);
            }
            for (input, param) in node.input.iter().zip(params).skip(1) {
                let input = resolve(input.as_str());
                if input.is_empty() || !initializers.contains_key(input) {
                    continue;
                }
                let Some(prefix) = &prefix else {
                    if is_module_name(input) {
                        continue;
                    }
                    return Err(VisionError::format(
                        &self.path,
                        format!(
                            "the {} node {:?} takes its {param} from the initializer {input:?}, \
                             and neither names the PyTorch module it belongs to",
                            node.op_type, node.name
                        ),
                    ));
                };
                // Also when the initializer has a module name of its own: exporters share one
                // initializer between parameters with equal values (`model.21.cv2.0.2.bias`
                // used by `cv2.1.2` and `cv2.2.2` too). A real initializer of that name wins.
                let module_name = format!("{prefix}.{param}");
                if module_name == *input || initializers.contains_key(module_name.as_str()) {
                    continue;
                }
                let entry = names.entry(input).or_default();
                if !entry.contains(&module_name) {
                    entry.push(module_name);
                }
            }
        }
        // Two different initializers may not claim the same module name.
        let mut owner: HashMap<&str, &str> = HashMap::new();
        for (file_name, module_names) in &names {
            for m in module_names {
                if let Some(other) = owner.insert(m.as_str(), file_name) {
                    return Err(VisionError::format(
                        &self.path,
                        format!(
                            "the initializers {other:?} and {file_name:?} both map to the \
                             module parameter {m:?}"
                        ),
                    ));
                }
            }
        }
        Ok((names, bn_eps))
    }

    /// The module parameters as tensors on the CPU, in the file's dtype, named like the
    /// PyTorch checkpoint (see the module documentation); graph constants are left out.
    pub(crate) fn module_tensors(&self) -> Result<ModuleTensors> {
        let (names, bn_eps) = self.module_names()?;
        let mut tensors = HashMap::new();
        for t in &self.graph.initializer {
            let Some(module_names) = names.get(t.name.as_str()) else {
                continue;
            };
            let tensor = tensor_from_proto(t, &self.path)?;
            for name in module_names {
                tensors.insert(name.clone(), tensor.clone());
            }
        }
        Ok(ModuleTensors { tensors, bn_eps })
    }
}

/// Whether `name` looks like a PyTorch parameter name of an Ultralytics model.
fn is_module_name(name: &str) -> bool {
    name.starts_with("model.") && !name.contains('/') && !name.contains("::")
}

/// The PyTorch module path in a node name written by `torch.onnx.export`:
/// `/model.21/cv3.2/cv3.2.2/Conv` -> `model.21.cv3.2.2`. Each scope component is the child's
/// attribute name, except that children of a `Sequential`/`ModuleList` repeat their parent's
/// name (`cv3.2` then `cv3.2.2`), so a component that extends the previous one replaces it.
/// The last component is the operator. `None` unless the path starts with `model.`.
pub(crate) fn module_prefix(node_name: &str) -> Option<String> {
    let trimmed = node_name.trim_start_matches('/');
    let mut comps: Vec<&str> = trimmed.split('/').collect();
    comps.pop()?;
    let mut parts: Vec<&str> = Vec::new();
    for c in comps {
        if c.is_empty() {
            continue;
        }
        match parts.last_mut() {
            Some(last)
                if c.len() > last.len() + 1 && c.starts_with(*last) && c.as_bytes()[last.len()] == b'.' =>
            {
                *last = c;
            }
            _ => parts.push(c),
        }
    }
    let prefix = parts.join(".");
    is_module_name(&format!("{prefix}.x")).then_some(prefix)
}

/// One initializer as a CPU tensor in its own dtype.
fn tensor_from_proto(t: &TensorProto, path: &Path) -> Result<Tensor> {
    let bad = |reason: String| VisionError::format(path, format!("tensor {:?}: {reason}", t.name));
    if t.data_location == DATA_LOCATION_EXTERNAL || !t.external_data.is_empty() {
        let location =
            t.external_data.iter().find(|e| e.key == "location").map_or("another file", |e| e.value.as_str());
        return Err(bad(format!(
            "its data is stored outside the ONNX file (in {location:?}); external data is not \
             supported: export the model as a single file"
        )));
    }
    if t.segment.is_some() {
        return Err(bad("segmented tensors are not supported".into()));
    }
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| bad(format!("negative dimension {d}"))))
        .collect::<Result<_>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("dimensions {shape:?} overflow")))?;
    let (dtype, elem_size) = match t.data_type {
        data_type::FLOAT => (DType::F32, 4),
        data_type::DOUBLE => (DType::F64, 8),
        data_type::FLOAT16 => (DType::F16, 2),
        data_type::BFLOAT16 => (DType::BF16, 2),
        data_type::INT64 => (DType::I64, 8),
        data_type::INT32 => (DType::I32, 4),
        data_type::INT16 => (DType::I16, 2),
        data_type::UINT8 | data_type::BOOL => (DType::U8, 1),
        data_type::UINT32 => (DType::U32, 4),
        other => {
            return Err(bad(format!(
                "ONNX data type {other} is not supported (supported: float, double, float16, \
                 bfloat16, int64, int32, int16, uint8, bool, uint32)"
            )));
        }
    };
    let cpu = &Device::Cpu;
    if !t.raw_data.is_empty() || count == 0 {
        let want = count.checked_mul(elem_size).ok_or_else(|| bad("too large".into()))?;
        if t.raw_data.len() != want {
            return Err(bad(format!(
                "raw_data holds {} bytes, its shape {shape:?} needs {want}",
                t.raw_data.len()
            )));
        }
        // ONNX raw_data is little-endian, like every platform candle runs on.
        return Ok(Tensor::from_raw_buffer(&t.raw_data, dtype, &shape, cpu)?);
    }
    let check_len = |len: usize, field: &str| {
        if len == count {
            Ok(())
        } else {
            Err(bad(format!("{field} holds {len} values, its shape {shape:?} needs {count}")))
        }
    };
    let tensor = match t.data_type {
        data_type::FLOAT => {
            check_len(t.float_data.len(), "float_data")?;
            Tensor::from_slice(&t.float_data, shape.as_slice(), cpu)?
        }
        data_type::DOUBLE => {
            check_len(t.double_data.len(), "double_data")?;
            Tensor::from_slice(&t.double_data, shape.as_slice(), cpu)?
        }
        data_type::INT64 => {
            check_len(t.int64_data.len(), "int64_data")?;
            Tensor::from_slice(&t.int64_data, shape.as_slice(), cpu)?
        }
        data_type::UINT32 => {
            check_len(t.uint64_data.len(), "uint64_data")?;
            let v: Vec<u32> = t.uint64_data.iter().map(|&x| x as u32).collect();
            Tensor::from_slice(&v, shape.as_slice(), cpu)?
        }
        // The remaining types are stored in int32_data (16-bit floats as their bit patterns).
        _ => {
            check_len(t.int32_data.len(), "int32_data")?;
            let d = &t.int32_data;
            match t.data_type {
                data_type::FLOAT16 => {
                    let v: Vec<half::f16> = d.iter().map(|&x| half::f16::from_bits(x as u16)).collect();
                    Tensor::from_slice(&v, shape.as_slice(), cpu)?
                }
                data_type::BFLOAT16 => {
                    let v: Vec<half::bf16> = d.iter().map(|&x| half::bf16::from_bits(x as u16)).collect();
                    Tensor::from_slice(&v, shape.as_slice(), cpu)?
                }
                data_type::INT32 => Tensor::from_slice(d, shape.as_slice(), cpu)?,
                data_type::INT16 => {
                    let v: Vec<i16> = d.iter().map(|&x| x as i16).collect();
                    Tensor::from_slice(&v, shape.as_slice(), cpu)?
                }
                _ => {
                    let v: Vec<u8> = d.iter().map(|&x| x as u8).collect();
                    Tensor::from_slice(&v, shape.as_slice(), cpu)?
                }
            }
        }
    };
    Ok(tensor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn f32_tensor(name: &str, dims: &[i64], values: &[f32], raw: bool) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: data_type::FLOAT,
            raw_data: if raw { values.iter().flat_map(|v| v.to_le_bytes()).collect() } else { Vec::new() },
            float_data: if raw { Vec::new() } else { values.to_vec() },
            ..Default::default()
        }
    }

    fn node(op: &str, name: &str, inputs: &[&str]) -> NodeProto {
        NodeProto {
            op_type: op.into(),
            name: name.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![format!("{name}_output_0")],
            ..Default::default()
        }
    }

    fn model(initializer: Vec<TensorProto>, node: Vec<NodeProto>) -> Vec<u8> {
        ModelProto {
            ir_version: 9,
            producer_name: "test".into(),
            graph: Some(GraphProto { node, initializer, ..Default::default() }),
            metadata_props: vec![StringStringEntryProto { key: "names".into(), value: "{0: 'a'}".into() }],
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn module_prefixes() {
        assert_eq!(module_prefix("/model.0/conv/Conv").as_deref(), Some("model.0.conv"));
        assert_eq!(module_prefix("/model.21/cv3.2/cv3.2.2/Conv").as_deref(), Some("model.21.cv3.2.2"));
        assert_eq!(
            module_prefix("/model.21/cv3.2/cv3.2.1/cv3.2.1.1/conv/Conv").as_deref(),
            Some("model.21.cv3.2.1.1.conv")
        );
        assert_eq!(
            module_prefix("/model.6/m.0/m.0.0/attn/qkv/conv/Conv").as_deref(),
            Some("model.6.m.0.0.attn.qkv.conv")
        );
        // `m` then `m.0`... but `model.2` followed by `m.0` is a new component.
        assert_eq!(module_prefix("/model.2/m.0/cv1/conv/Conv").as_deref(), Some("model.2.m.0.cv1.conv"));
        assert_eq!(module_prefix("Conv_12"), None);
        assert_eq!(module_prefix("/backbone/conv/Conv"), None);
    }

    /// Regression: a random-init YOLOv8n exported by torch 2.15 shares its all-zero biases
    /// through `Identity` nodes named after each parameter; loading failed with
    /// "cannot find tensor model.2.m.0.cv1.conv.bias".
    #[test]
    fn follows_identity_aliases_of_deduplicated_initializers() {
        let bytes = model(
            vec![
                f32_tensor("model.0.conv.weight", &[2, 1, 1, 1], &[1.0, 2.0], true),
                f32_tensor("model.0.conv.bias", &[2], &[0.0, 0.0], true),
                f32_tensor("model.1.conv.weight", &[2, 2, 1, 1], &[1.0, 0.0, 0.0, 1.0], true),
            ],
            vec![
                node("Identity", "Identity_0", &["model.0.conv.bias"]),
                node("Conv", "/model.0/conv/Conv", &["images", "model.0.conv.weight", "model.0.conv.bias"]),
                node("Conv", "/model.1/conv/Conv", &["x", "model.1.conv.weight", "model.1.conv.bias"]),
            ],
        );
        // The Identity node's output carries the second parameter's name.
        let mut model_proto = ModelProto::decode(bytes.as_slice()).expect("decodes");
        if let Some(graph) = model_proto.graph.as_mut() {
            graph.node[0].output = vec!["model.1.conv.bias".into()];
        }
        let onnx = OnnxModel::decode(&model_proto.encode_to_vec(), Path::new("x.onnx")).expect("reads");
        let tensors = onnx.module_tensors().expect("names").tensors;
        let bias = tensors.get("model.1.conv.bias").expect("aliased bias found");
        assert_eq!(bias.to_vec1::<f32>().expect("values"), vec![0.0, 0.0]);
        assert!(tensors.contains_key("model.0.conv.bias"));
    }

    #[test]
    fn recovers_renamed_initializers_and_reads_both_encodings() {
        let bytes = model(
            vec![
                f32_tensor("model.0.conv.weight", &[2, 1, 1, 1], &[1.0, 2.0], true),
                f32_tensor("onnx::Conv_7", &[2], &[0.5, -0.5], false),
                f32_tensor("onnx::Conv_8", &[2, 2, 1, 1], &[1.0, 0.0, 0.0, 1.0], true),
                f32_tensor("/model.1/Constant_output_0", &[1], &[3.0], true),
                TensorProto {
                    name: "onnx::Split_3".into(),
                    dims: vec![2],
                    data_type: data_type::INT64,
                    int64_data: vec![1, 1],
                    ..Default::default()
                },
            ],
            vec![
                node("Conv", "/model.0/conv/Conv", &["images", "model.0.conv.weight", "onnx::Conv_7"]),
                node("Conv", "/model.1/cv2.0/cv2.0.2/Conv", &["x", "onnx::Conv_8"]),
                node("Split", "/model.1/Split", &["x", "onnx::Split_3"]),
                // Shares both initializers with model.0 (equal values, deduplicated).
                node("Conv", "/model.2/conv/Conv", &["x", "model.0.conv.weight", "onnx::Conv_7"]),
            ],
        );
        let m = OnnxModel::decode(&bytes, Path::new("t.onnx")).expect("decodes");
        assert_eq!(m.initializer_count(), 5);
        assert_eq!(m.metadata.get("names").map(String::as_str), Some("{0: 'a'}"));
        let t = m.module_tensors().expect("tensors").tensors;
        let mut names: Vec<_> = t.keys().cloned().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "model.0.conv.bias",
                "model.0.conv.weight",
                "model.1.cv2.0.2.weight",
                "model.2.conv.bias",
                "model.2.conv.weight"
            ]
        );
        let bias: Vec<f32> = t["model.0.conv.bias"].to_vec1().expect("vec");
        assert_eq!(bias, [0.5, -0.5]);
        assert_eq!(t["model.1.cv2.0.2.weight"].dims(), &[2, 2, 1, 1]);
    }

    #[test]
    fn batch_norm_nodes_name_their_parameters_and_eps() {
        let mut bn = node(
            "BatchNormalization",
            "/model.0/bn/BatchNormalization",
            &["c", "onnx::BN_1", "onnx::BN_2", "onnx::BN_3", "onnx::BN_4"],
        );
        bn.attribute.push(AttributeProto { name: "epsilon".into(), f: Some(1e-3), i: None });
        let bytes = model(
            vec![
                f32_tensor("model.0.conv.weight", &[1, 1, 1, 1], &[1.0], true),
                f32_tensor("onnx::BN_1", &[1], &[1.0], true),
                f32_tensor("onnx::BN_2", &[1], &[0.0], true),
                f32_tensor("onnx::BN_3", &[1], &[0.0], true),
                f32_tensor("onnx::BN_4", &[1], &[1.0], true),
            ],
            vec![node("Conv", "/model.0/conv/Conv", &["images", "model.0.conv.weight"]), bn],
        );
        let m = OnnxModel::decode(&bytes, Path::new("t.onnx")).expect("decodes");
        let mt = m.module_tensors().expect("tensors");
        for p in ["weight", "bias", "running_mean", "running_var"] {
            assert!(mt.tensors.contains_key(&format!("model.0.bn.{p}")), "{p}");
        }
        let eps = mt.bn_eps.get("model.0.bn").copied().expect("eps");
        assert!((eps - 1e-3).abs() < 1e-9);
    }

    #[test]
    fn refuses_external_data_and_unnamed_weights() {
        let mut ext = f32_tensor("model.0.conv.weight", &[1], &[], true);
        ext.data_location = DATA_LOCATION_EXTERNAL;
        ext.external_data
            .push(StringStringEntryProto { key: "location".into(), value: "weights.bin".into() });
        let bytes = model(vec![ext], vec![]);
        let m = OnnxModel::decode(&bytes, Path::new("t.onnx")).expect("decodes");
        let err = m.module_tensors().expect_err("external");
        assert!(err.to_string().contains("weights.bin"), "{err}");

        let bytes = model(
            vec![f32_tensor("onnx::Conv_1", &[1, 1, 1, 1], &[1.0], true)],
            vec![node("Conv", "Conv_0", &["x", "onnx::Conv_1"])],
        );
        let m = OnnxModel::decode(&bytes, Path::new("t.onnx")).expect("decodes");
        let err = m.module_tensors().expect_err("unnamed");
        assert!(err.to_string().contains("onnx::Conv_1"), "{err}");

        let bytes = model(vec![f32_tensor("model.0.conv.weight", &[3], &[1.0], true)], vec![]);
        let m = OnnxModel::decode(&bytes, Path::new("t.onnx")).expect("decodes");
        let err = m.module_tensors().expect_err("short raw data");
        assert!(err.to_string().contains("needs 12"), "{err}");
    }
}
