//! YOLO detectors and segmenters in candle, in the candle-transformers style: a
//! [`YoloConfig`] with the named presets of Ultralytics' yamls, one private struct per block
//! (`new(.., vb)` + `Module`), `vb.pp(..)` paths mirroring the checkpoint's tensor names
//! (`model.<layer>.<submodule>...`), and a backbone, neck and head that can be run apart.
//!
//! Implements, for inference on batch-norm-folded weights:
//! - YOLOv8 (Jocher, Chaurasia & Qiu, Ultralytics YOLOv8, 2023): `C2f`, `SPPF`, `Detect`;
//! - YOLO11 (Jocher & Qiu, Ultralytics YOLO11, 2024): `C3k2`, `C3k`, `C2PSA`, depthwise
//!   class branch in `Detect`;
//! - YOLOv12 (Tian, Ye & Doermann, "YOLOv12: Attention-Centric Real-Time Object Detectors",
//!   arXiv:2502.12524, 2025): `A2C2f` with area attention (`AAttn`, `ABlock`);
//! - instance segmentation (`Segment`, `Proto`) for every family.
//!
//! The reference for every block is Ultralytics 8.4 (`ultralytics/nn/modules/{conv,block,head}.py`,
//! `ultralytics/nn/tasks.py`), and [`YoloOutput::predictions`] is what its ONNX export calls
//! `output0`. `tests/yolo.rs` checks each family against outputs of that code
//! (`models/fixtures/make_fixtures.py`).
//!
//! Module map: `config` (yaml tables, channel/depth scaling), `conv` (Conv, DWConv, plain
//! convolutions, pooling), `block` (Bottleneck, C2f, C3k, C3k2, SPPF), `attention` (C2PSA,
//! A2C2f), `head` (Detect, Segment, DFL, anchors), `model` (backbone, neck, [`Yolo`]), `kernels`
//! (fused CPU convolution and attention as candle custom ops).

mod attention;
mod block;
mod config;
mod conv;
mod head;
pub(crate) mod kernels;
mod model;

pub use config::{Multiples, YoloConfig};
pub use kernels::CpuMultiply;
pub use model::{LayerTiming, Yolo, YoloOutput};
