//! A loaded model ready to run: weights + architecture + device + precision, and one call that
//! goes from letterboxed batches to detections and embeddings.

use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::error::{Result, VisionError};
use crate::masks::{Prototypes, instance_mask};
use crate::postprocess::{Detection, PostprocessOptions, detections_from_output};
use crate::preprocess::Letterbox;
use crate::weights::load_weights;
use crate::yolo::{CpuMultiply, Yolo, YoloConfig};
use crate::{ModelCard, Task};

/// Number precision of the weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    F16,
    Bf16,
}

impl Precision {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "f32" => Some(Self::F32),
            "f16" => Some(Self::F16),
            "bf16" => Some(Self::Bf16),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Bf16 => "bf16",
        }
    }

    fn dtype(self) -> DType {
        match self {
            Self::F32 => DType::F32,
            Self::F16 => DType::F16,
            Self::Bf16 => DType::BF16,
        }
    }
}

/// `cpu` or `cuda:N` (`cuda` alone means `cuda:0`).
pub fn parse_device(text: &str) -> Result<Device> {
    match text {
        "cpu" => Ok(Device::Cpu),
        cuda if cuda == "cuda" || cuda.starts_with("cuda:") => {
            let ordinal = match cuda.strip_prefix("cuda:") {
                None => 0,
                Some(n) => n.parse::<usize>().map_err(|_| VisionError::Device {
                    device: text.to_owned(),
                    reason: "expected cuda:N with N a GPU number".to_owned(),
                })?,
            };
            if !candle_core::utils::cuda_is_available() {
                return Err(VisionError::Device {
                    device: text.to_owned(),
                    reason: "this build of Lacuna has no CUDA support (build with --features cuda)"
                        .to_owned(),
                });
            }
            Device::new_cuda(ordinal)
                .map_err(|e| VisionError::Device { device: text.to_owned(), reason: e.to_string() })
        }
        other => Err(VisionError::Device {
            device: other.to_owned(),
            reason: "expected cpu, cuda or cuda:N".to_owned(),
        }),
    }
}

/// `cpu`, `cuda:N` (as [`parse_device`] reads them).
fn device_name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".to_owned(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// The operation a device has no kernel for in the requested dtype, when `e` says so.
fn unsupported_dtype_op(e: &candle_core::Error) -> Option<String> {
    use candle_core::Error as E;
    match e {
        E::UnsupportedDTypeForOp(_, op) => Some((*op).to_owned()),
        E::WithBacktrace { inner, .. } | E::Context { inner, .. } | E::WithPath { inner, .. } => {
            unsupported_dtype_op(inner)
        }
        // The CUDA backend's own error: "unsupported dtype BF16 for conv2d".
        other => {
            let text = other.to_string();
            text.to_ascii_lowercase().contains("unsupported dtype").then_some(text)
        }
    }
}

/// What the detector found in one image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDetections {
    pub detections: Vec<Detection>,
    /// Detections of the horizontally flipped image, mapped back onto the original (only when
    /// asked for).
    pub flipped: Vec<Detection>,
    /// Pooled backbone features of the (unflipped) image.
    pub embedding: Vec<f32>,
}

/// Where one [`Detector::detect_timed`] call spent its time (flip TTA included).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DetectTimings {
    /// The model: input upload, forward, waiting for the device.
    pub forward: Duration,
    /// Reading the outputs back, boxes, NMS, masks and embeddings.
    pub postprocess: Duration,
}

/// A model ready to run.
#[derive(Debug)]
pub struct Detector {
    model: Yolo,
    card: ModelCard,
    weights_hash: String,
    device: Device,
    precision: Precision,
    /// The tensors' dtype: the precision's, except bf16 on a CPU with bf16 dot products, which
    /// keeps f32 tensors and multiplies in bf16 inside the convolutions.
    dtype: DType,
}

impl Detector {
    /// Loads weights (ONNX, or safetensors with its card) onto `device` at `precision`.
    pub fn load(path: &Path, device: &Device, precision: Precision) -> Result<Self> {
        if device.is_cpu() {
            crate::yolo::kernels::retain_freed_memory();
        }
        // bf16 on the CPU: candle has no bf16 convolution there, so where the CPU has bf16 dot
        // products the tensors stay f32 and the convolution kernels round and multiply in bf16.
        let (dtype, multiply) =
            if device.is_cpu() && precision == Precision::Bf16 && CpuMultiply::bf16_available() {
                (DType::F32, CpuMultiply::Bf16)
            } else {
                (precision.dtype(), CpuMultiply::F32)
            };
        let weights = load_weights(path, device, dtype)?;
        let card = weights.card.clone();
        let cfg = YoloConfig::new(card.family, card.scale, card.task, card.num_classes());
        let vb = VarBuilder::from_tensors(weights.tensors, dtype, device);
        let model = Yolo::with_cpu_multiply(&cfg, vb, multiply)?;
        let detector = Self {
            model,
            card,
            weights_hash: weights.weights_hash,
            device: device.clone(),
            precision,
            dtype,
        };
        if precision != Precision::F32 {
            detector.check_precision_runs()?;
        }
        Ok(detector)
    }

    /// Runs the network once on a small blank input, so that a device whose kernels lack the
    /// precision (candle's CPU backend has no bf16 convolution, for one) fails here, with a
    /// clear message, rather than at the first batch.
    fn check_precision_runs(&self) -> Result<()> {
        // 4 strides: every level's feature map splits into the area attention's 4 areas.
        let side = self.card.input_size_px.min(4 * self.card.stride_px) as usize;
        let dtype = self.dtype;
        let run = || -> candle_core::Result<()> {
            let x = Tensor::zeros((1, 3, side, side), dtype, &self.device)?;
            let output = self.model.forward(&x)?;
            output.predictions.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            Ok(())
        };
        match run() {
            Ok(()) => Ok(()),
            Err(e) => match unsupported_dtype_op(&e) {
                Some(op) => Err(VisionError::Device {
                    device: device_name(&self.device),
                    reason: format!(
                        "{} is not supported by this device's kernels for {op} (needed by {}); use f32",
                        self.precision.as_str(),
                        self.card.name
                    ),
                }),
                None => Err(e.into()),
            },
        }
    }

    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// BLAKE3 hex of the weights file.
    pub fn weights_hash(&self) -> &str {
        &self.weights_hash
    }

    pub fn input_size_px(&self) -> u32 {
        self.card.input_size_px
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Runs the network alone on a batch of `batch` planar images (no post-processing), for
    /// benchmarks against other runtimes; returns the raw output's shape.
    pub fn forward_only(&self, pixels: &[f32], batch: usize, size_px: usize) -> Result<Vec<usize>> {
        let input =
            Tensor::from_slice(pixels, (batch, 3, size_px, size_px), &self.device)?.to_dtype(self.dtype)?;
        let output = self.model.forward(&input)?;
        // Copying the result out makes sure the work is done (lazy devices).
        let dims = output.predictions.dims().to_vec();
        output.predictions.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(dims)
    }

    /// Runs a batch: `pixels` holds `letterboxes.len()` planar CHW f32 images of
    /// `3 x size x size` (see [`crate::letterbox_into`]).
    pub fn detect(
        &self,
        pixels: &[f32],
        letterboxes: &[Letterbox],
        options: &PostprocessOptions,
        flip_tta: bool,
    ) -> Result<Vec<ImageDetections>> {
        Ok(self.detect_timed(pixels, letterboxes, options, flip_tta)?.0)
    }

    /// [`Detector::detect`], also saying how long the model and the decoding of its output
    /// took.
    pub fn detect_timed(
        &self,
        pixels: &[f32],
        letterboxes: &[Letterbox],
        options: &PostprocessOptions,
        flip_tta: bool,
    ) -> Result<(Vec<ImageDetections>, DetectTimings)> {
        let mut timings = DetectTimings::default();
        let mut clock = Instant::now();
        let mut lap = |into: &mut Duration| {
            *into += clock.elapsed();
            clock = Instant::now();
        };
        let size = self.input_size_px() as usize;
        let batch = letterboxes.len();
        if pixels.len() != batch * 3 * size * size {
            return Err(VisionError::Device {
                device: format!("{:?}", self.device),
                reason: format!(
                    "a batch of {batch} images needs {} values, got {}",
                    batch * 3 * size * size,
                    pixels.len()
                ),
            });
        }
        let input = Tensor::from_slice(pixels, (batch, 3, size, size), &self.device)?.to_dtype(self.dtype)?;
        let output = self.model.forward(&input)?;
        // GPUs run asynchronously: wait, so that the forward's time is not counted as decoding.
        self.device.synchronize()?;
        lap(&mut timings.forward);
        let mut results = self.decode(&output.predictions, letterboxes, options, false)?;
        if let Some(protos) = &output.protos {
            let (_, num_masks, height, width) = protos.dims4()?;
            let all = protos.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            let per_image = num_masks * height * width;
            for (i, (result, lb)) in results.iter_mut().zip(letterboxes).enumerate() {
                let protos =
                    Prototypes { data: &all[i * per_image..(i + 1) * per_image], num_masks, height, width };
                for detection in &mut result.detections {
                    detection.mask = instance_mask(detection, &protos, lb);
                }
            }
        }
        let embeddings = output.embedding.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        for (result, embedding) in results.iter_mut().zip(embeddings) {
            result.embedding = embedding;
        }
        lap(&mut timings.postprocess);
        if flip_tta {
            let reversed: Vec<u32> = (0..size as u32).rev().collect();
            let index = Tensor::from_vec(reversed, size, &self.device)?;
            let flipped_input = input.index_select(&index, 3)?;
            let flipped_output = self.model.forward(&flipped_input)?;
            self.device.synchronize()?;
            lap(&mut timings.forward);
            let flipped = self.decode(&flipped_output.predictions, letterboxes, options, true)?;
            for (result, f) in results.iter_mut().zip(flipped) {
                result.flipped = f.detections;
            }
            lap(&mut timings.postprocess);
        }
        Ok((results, timings))
    }

    fn decode(
        &self,
        predictions: &Tensor,
        letterboxes: &[Letterbox],
        options: &PostprocessOptions,
        mirrored: bool,
    ) -> Result<Vec<ImageDetections>> {
        let (_, rows, anchors) = predictions.dims3()?;
        let num_classes = self.card.num_classes();
        let num_masks = match self.card.task {
            Task::Segment => rows.saturating_sub(4 + num_classes),
            Task::Detect => 0,
        };
        let all = predictions.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let size = self.input_size_px() as f32;
        let per_image = rows * anchors;
        letterboxes
            .iter()
            .enumerate()
            .map(|(i, lb)| {
                let mut slice = all[i * per_image..(i + 1) * per_image].to_vec();
                if mirrored {
                    // cx of a box in the mirrored input is size - cx in the original input.
                    for cx in &mut slice[..anchors] {
                        *cx = size - *cx;
                    }
                }
                let detections = detections_from_output(&slice, anchors, num_classes, num_masks, lb, options);
                Ok(ImageDetections { detections, flipped: Vec::new(), embedding: Vec::new() })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_kernels_are_recognised_through_wrappers() {
        let e = candle_core::Error::UnsupportedDTypeForOp(DType::BF16, "matmul").bt();
        assert_eq!(unsupported_dtype_op(&e).as_deref(), Some("matmul"));
        let e = candle_core::Error::Msg("unsupported dtype BF16 for conv2d".into()).context("forward");
        assert!(unsupported_dtype_op(&e).is_some_and(|op| op.contains("conv2d")));
        assert_eq!(unsupported_dtype_op(&candle_core::Error::Msg("shape mismatch".into())), None);
        assert_eq!(device_name(&Device::Cpu), "cpu");
    }
}
