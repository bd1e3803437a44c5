//! Lacuna's models, the only user of `candle`: YOLO detectors and segmenters (YOLOv8, YOLO11,
//! YOLOv12) written in the candle-transformers style, weights loaded from safetensors or
//! straight from an Ultralytics ONNX export, and the pre- and post-processing around them.
//!
//! Module map (each owned by one piece of work; see docs/ARCHITECTURE.md):
//! - `onnx`, `weights`, `card`: reading ONNX / safetensors / `model.toml`;
//! - `yolo`: the architectures;
//! - `preprocess`, `postprocess`: letterbox, NMS, mapping back to image pixels, masks.

mod postprocess;
mod preprocess;

pub use postprocess::{Detection, PostprocessOptions, detections_from_output, iou};
pub use preprocess::{Letterbox, PAD_VALUE, letterbox_into};
