//! Lacuna's models, the only user of `candle`: YOLO detectors and segmenters (YOLOv8, YOLO11,
//! YOLOv12) written in the candle-transformers style, weights loaded from safetensors or
//! straight from an Ultralytics ONNX export, and the pre- and post-processing around them.
//!
//! Module map (each owned by one piece of work; see docs/ARCHITECTURE.md):
//! - `onnx`, `weights`, `card`: reading ONNX / safetensors / `model.toml`;
//! - `yolo`: the architectures;
//! - `preprocess`, `postprocess`, `masks`: letterbox, NMS, mapping back to image pixels,
//!   instance masks as RLE and polygons;
//! - `detector`: [`Detector`], weights + architecture + device + precision in one call.

mod card;
mod detector;
mod error;
mod masks;
mod onnx;
mod postprocess;
mod preprocess;
mod weights;
mod yolo;

pub use candle_core::{DType, Device, Tensor};
pub use card::{
    DEFAULT_INPUT_SIZE_PX, DEFAULT_STRIDE_PX, Family, ModelCard, Scale, Task, metadata_keys,
    parse_class_names, sidecar_card_path,
};
pub use detector::{DetectTimings, Detector, ImageDetections, Precision, parse_device};
pub use error::{Result, VisionError};
pub use masks::{InstanceMask, Prototypes, instance_mask};
pub use onnx::OnnxModel;
pub use postprocess::{Detection, PostprocessOptions, detections_from_output, iou};
pub use preprocess::{Letterbox, PAD_VALUE, letterbox_into};
pub use weights::{
    LoadedWeights, ULTRALYTICS_BN_EPS, check_shapes, fold_batch_norm, head_class_count, load_weights,
};
pub use yolo::{CpuMultiply, LayerTiming, Multiples, Yolo, YoloConfig, YoloOutput};
