//! [`Yolo`]: backbone, neck and head assembled from a [`YoloConfig`], layer `i` of the yaml
//! reading its tensors from `model.<i>.*` (Ultralytics' `DetectionModel.model` is an
//! `nn.Sequential` of the yaml's rows).
//!
//! Reference: `ultralytics/nn/tasks.py` (`parse_model`, `BaseModel._predict_once`).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use rayon::prelude::*;

use super::attention::{A2C2f, C2Psa};
use super::block::{C2f, Sppf};
use super::config::{LayerSpec, YoloConfig};
use super::conv::{ConvBlock, upsample2};
use super::head::{Detect, Segment};
use super::kernels;

/// One yaml row.
#[derive(Debug, Clone)]
enum Layer {
    Conv(ConvBlock),
    C2f(C2f),
    Sppf(Sppf),
    C2Psa(C2Psa),
    A2C2f(A2C2f),
    Upsample,
    /// `torch.cat([previous, outputs[other]], 1)`.
    Concat(usize),
}

impl Layer {
    fn new(spec: &LayerSpec, vb: VarBuilder) -> Result<Self> {
        Ok(match *spec {
            LayerSpec::Conv { c1, c2, k, s } => Self::Conv(ConvBlock::new(c1, c2, k, s, vb)?),
            LayerSpec::C2f { c1, c2, n, shortcut } => Self::C2f(C2f::new(c1, c2, n, shortcut, vb)?),
            LayerSpec::C3k2 { c1, c2, n, c3k, e } => Self::C2f(C2f::c3k2(c1, c2, n, c3k, e, vb)?),
            LayerSpec::Sppf { c1, c2, k } => Self::Sppf(Sppf::new(c1, c2, k, vb)?),
            LayerSpec::C2psa { c1, c2, n } => Self::C2Psa(C2Psa::new(c1, c2, n, vb)?),
            LayerSpec::A2c2f { c1, c2, n, a2, area, residual, mlp_ratio } => {
                Self::A2C2f(A2C2f::new(c1, c2, n, a2, area, residual, mlp_ratio, vb)?)
            }
            LayerSpec::Upsample => Self::Upsample,
            LayerSpec::Concat { other } => Self::Concat(other),
        })
    }

    /// The Ultralytics module name of this row, for profiles.
    fn kind(&self) -> &'static str {
        match self {
            Self::Conv(_) => "Conv",
            Self::C2f(_) => "C2f/C3k2",
            Self::Sppf(_) => "SPPF",
            Self::C2Psa(_) => "C2PSA",
            Self::A2C2f(_) => "A2C2f",
            Self::Upsample => "Upsample",
            Self::Concat(_) => "Concat",
        }
    }

    /// Whether [`Layer::forward_cat`] reads its input's parts in place (its first operation
    /// is a 1x1 convolution of the input and nothing else reads it).
    fn takes_parts(&self) -> bool {
        matches!(self, Self::C2f(_) | Self::A2C2f(_))
    }

    /// `forward(cat(parts, 1))`, the concatenation left to the layer's kernels where it
    /// [`Layer::takes_parts`].
    fn forward_cat(&self, parts: &[Tensor], outputs: &[Option<Tensor>]) -> Result<Tensor> {
        match (self, parts) {
            (_, [x]) => self.forward(x, outputs),
            (Self::C2f(m), _) => m.forward_cat(parts),
            (Self::A2C2f(m), _) => m.forward_cat(parts),
            _ => self.forward(&Tensor::cat(parts, 1)?, outputs),
        }
    }

    /// `x`: the previous layer's output; `outputs`: every kept earlier output, by yaml index.
    fn forward(&self, x: &Tensor, outputs: &[Option<Tensor>]) -> Result<Tensor> {
        match self {
            Self::Conv(m) => m.forward(x),
            Self::C2f(m) => m.forward(x),
            Self::Sppf(m) => m.forward(x),
            Self::C2Psa(m) => m.forward(x),
            Self::A2C2f(m) => m.forward(x),
            Self::Upsample => upsample2(x),
            Self::Concat(other) => Tensor::cat(&[x, saved(outputs, *other)?], 1),
        }
    }
}

/// Layer `index`'s kept output.
fn saved(outputs: &[Option<Tensor>], index: usize) -> Result<&Tensor> {
    match outputs.get(index) {
        Some(Some(saved)) => Ok(saved),
        _ => candle_core::bail!("layer {index}'s output was not kept for a Concat"),
    }
}

/// Time spent in one yaml row during [`Yolo::forward_profiled`].
#[derive(Debug, Clone, PartialEq)]
pub struct LayerTiming {
    /// Yaml row (`model.<index>`); the head is the last row.
    pub index: usize,
    /// Ultralytics module name (`Conv`, `C2f/C3k2`, `A2C2f`, `Detect`, ...).
    pub kind: &'static str,
    pub duration_ms: f64,
}

/// Runs `layers` (yaml indices `first..`) on `x`, storing the outputs flagged in `keep`, and
/// timing each row when `profile` is given (CPU: every op is synchronous, so wall time per
/// row is that row's cost).
fn run(
    layers: &[Layer],
    first: usize,
    x: Tensor,
    keep: &[bool],
    outputs: &mut [Option<Tensor>],
    mut profile: Option<&mut Vec<LayerTiming>>,
) -> Result<Tensor> {
    // The next layer's input as channel parts: a Concat that only feeds a layer which
    // `takes_parts` is left to that layer's first convolution (no copy of both maps).
    let mut parts = vec![x];
    for (offset, layer) in layers.iter().enumerate() {
        let started = std::time::Instant::now();
        let index = first + offset;
        let next_takes_parts = layers.get(offset + 1).is_some_and(Layer::takes_parts);
        match layer {
            Layer::Concat(other) if next_takes_parts && !keep[index] => {
                parts.push(saved(outputs, *other)?.clone());
            }
            _ => parts = vec![layer.forward_cat(&parts, outputs)?],
        }
        if let Some(profile) = profile.as_deref_mut() {
            profile.push(LayerTiming {
                index,
                kind: layer.kind(),
                duration_ms: started.elapsed().as_secs_f64() * 1e3,
            });
        }
        if keep[index] {
            outputs[index] = Some(parts[0].clone());
        }
    }
    // The last layer is never left as parts: nothing follows it.
    match <[Tensor; 1]>::try_from(parts) {
        Ok([x]) => Ok(x),
        Err(parts) => Tensor::cat(&parts, 1),
    }
}

/// Layer outputs by yaml index, `None` where nothing later needs them.
#[derive(Debug, Clone)]
pub(crate) struct FeatureMaps {
    outputs: Vec<Option<Tensor>>,
    /// The last layer's output (the next layer's input).
    last: Tensor,
}

impl FeatureMaps {
    /// Output of yaml layer `index`, if it was kept.
    pub(crate) fn get(&self, index: usize) -> Option<&Tensor> {
        self.outputs.get(index).and_then(Option::as_ref)
    }
}

/// The yaml's `backbone:` section: stem, CSP stages, SPPF (and C2PSA / area-attention stages).
#[derive(Debug, Clone)]
pub(crate) struct Backbone {
    layers: Vec<Layer>,
    keep: Vec<bool>,
}

impl Backbone {
    pub(crate) fn forward(&self, x: &Tensor, profile: Option<&mut Vec<LayerTiming>>) -> Result<FeatureMaps> {
        let mut outputs = vec![None; self.keep.len()];
        let last = run(&self.layers, 0, x.clone(), &self.keep, &mut outputs, profile)?;
        Ok(FeatureMaps { outputs, last })
    }
}

/// The yaml's `head:` section up to the Detect / Segment row: the FPN + PAN that turns backbone
/// features into the P3, P4, P5 maps the head reads.
#[derive(Debug, Clone)]
pub(crate) struct Neck {
    layers: Vec<Layer>,
    first: usize,
    keep: Vec<bool>,
    /// Yaml indices of P3, P4, P5.
    levels: [usize; 3],
}

impl Neck {
    /// Consumes the backbone's features; returns [P3, P4, P5].
    pub(crate) fn forward(
        &self,
        features: FeatureMaps,
        profile: Option<&mut Vec<LayerTiming>>,
    ) -> Result<[Tensor; 3]> {
        let FeatureMaps { mut outputs, last } = features;
        run(&self.layers, self.first, last, &self.keep, &mut outputs, profile)?;
        let level = |i: usize| match outputs.get(i) {
            Some(Some(t)) => Ok(t.clone()),
            _ => candle_core::bail!("layer {i}'s output was not kept for the head"),
        };
        Ok([level(self.levels[0])?, level(self.levels[1])?, level(self.levels[2])?])
    }
}

#[derive(Debug, Clone)]
enum Head {
    Detect(Detect),
    Segment(Box<Segment>),
}

/// A YOLOv8 / YOLO11 / YOLOv12 detector or segmenter (Ultralytics' `DetectionModel` /
/// `SegmentationModel` in export mode).
#[derive(Debug, Clone)]
pub struct Yolo {
    backbone: Backbone,
    neck: Neck,
    head: Head,
    embedding_layer: usize,
    max_stride: usize,
}

/// What one forward pass returns.
#[derive(Debug, Clone)]
pub struct YoloOutput {
    /// Exactly Ultralytics' ONNX `output0`: `[B, 4 + nc (+ nm for seg), A]`; rows 0..4 are cx,
    /// cy, w, h in input pixels (DFL decoded, strides applied); then class probabilities
    /// (sigmoid); then mask coefficients for segmentation. Anchors run over P3, P4, P5, each
    /// row-major.
    pub predictions: Tensor,
    /// Segmentation only: ONNX `output1`, prototypes `[B, nm, H/4, W/4]`.
    pub protos: Option<Tensor>,
    /// `[B, C]`: global-average-pooled output of the last backbone stage (SPPF for v8 and v11,
    /// the last area-attention stage for v12), for diversity ranking.
    pub embedding: Tensor,
}

impl Yolo {
    /// `vb` over tensors named like the checkpoint (`model.0.conv.weight`, ...), BN folded.
    /// A missing tensor or wrong shape surfaces as candle's error naming the tensor.
    pub fn new(cfg: &YoloConfig, vb: VarBuilder) -> Result<Self> {
        Self::build(cfg, vb)
    }

    /// [`Yolo::new`] whose dense convolutions multiply as `multiply` says on the CPU (f32
    /// tensors); other devices and dtypes are unaffected.
    pub fn with_cpu_multiply(cfg: &YoloConfig, vb: VarBuilder, multiply: super::CpuMultiply) -> Result<Self> {
        kernels::building_with(multiply, || Self::build(cfg, vb))
    }

    fn build(cfg: &YoloConfig, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("model");
        let (specs, head_spec) = cfg.layers();
        let total = specs.len();
        let backbone_len = cfg.backbone_len();
        let embedding_layer = cfg.embedding_layer();

        // What must outlive its successor: Concat sources, head inputs, the embedding.
        let mut keep = vec![false; total];
        for spec in &specs {
            if let LayerSpec::Concat { other } = spec {
                keep[*other] = true;
            }
        }
        for i in head_spec.from {
            keep[i] = true;
        }
        keep[embedding_layer] = true;

        let layers = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| Layer::new(spec, vb.pp(i)))
            .collect::<Result<Vec<_>>>()?;
        let mut layers = layers.into_iter();
        let backbone = Backbone { layers: layers.by_ref().take(backbone_len).collect(), keep: keep.clone() };
        let neck = Neck { layers: layers.collect(), first: backbone_len, keep, levels: head_spec.from };

        let head_vb = vb.pp(head_spec.index);
        let head = match head_spec.masks {
            None => Head::Detect(Detect::new(&head_spec, head_vb)?),
            Some((masks, protos)) => {
                Head::Segment(Box::new(Segment::new(&head_spec, masks, protos, head_vb)?))
            }
        };
        Ok(Self { backbone, neck, head, embedding_layer, max_stride: cfg.max_stride() })
    }

    /// `x`: `[B, 3, H, W]`, RGB in 0..1, H and W multiples of 32.
    pub fn forward(&self, x: &Tensor) -> Result<YoloOutput> {
        self.forward_inner(x, None)
    }

    /// [`Yolo::forward`] with the time spent in each yaml row (the head as one row).
    pub fn forward_profiled(&self, x: &Tensor) -> Result<(YoloOutput, Vec<LayerTiming>)> {
        let mut profile = Vec::new();
        let output = self.forward_inner(x, Some(&mut profile))?;
        Ok((output, profile))
    }

    fn forward_inner(&self, x: &Tensor, mut profile: Option<&mut Vec<LayerTiming>>) -> Result<YoloOutput> {
        if x.device().is_cpu() && rayon::current_thread_index().is_none() {
            // The whole forward on one of rayon's workers (`scope` called from outside the pool
            // runs its closure there): each kernel's parallel loop then starts on a worker,
            // instead of this thread handing every layer to the pool and sleeping until it
            // ends (a wake-up and two context switches per layer, ~4% at 320 px).
            return rayon::scope(|_| self.forward_inner(x, profile));
        }
        let batch = x.dim(0)?;
        if batch <= 1 || !x.device().is_cpu() {
            return self.forward_batch(x, profile);
        }
        // On the CPU one image at a time is faster per image than the whole batch: a layer's
        // output then stays in cache for the next (at 640, batch 8, the first maps are 50 MB).
        // As many images at once as there are threads, each forward's kernels unsplit
        // (`kernels::serially`): the threads never wait on each other between layers (YOLOv8n
        // 320, batch 8, 2 threads: ratio 1.08 -> 1.01), and at most that many images'
        // activations are alive. A lone image splits every layer over the pool instead.
        self.check_input(x)?;
        let mut outputs = Vec::with_capacity(batch);
        let at_once = if profile.is_some() { 1 } else { rayon::current_num_threads().max(1) };
        for first in (0..batch).step_by(at_once) {
            let images = at_once.min(batch - first);
            if images > 1 {
                let group = (first..first + images)
                    .into_par_iter()
                    .map(|i| kernels::serially(|| self.forward_batch(&x.narrow(0, i, 1)?, None)))
                    .collect::<Result<Vec<_>>>()?;
                outputs.extend(group);
                continue;
            }
            let mut timings = profile.is_some().then(Vec::new);
            outputs.push(self.forward_batch(&x.narrow(0, first, 1)?, timings.as_mut())?);
            if let (Some(total), Some(timings)) = (profile.as_deref_mut(), timings) {
                if total.is_empty() {
                    *total = timings;
                } else {
                    for (sum, t) in total.iter_mut().zip(timings) {
                        sum.duration_ms += t.duration_ms;
                    }
                }
            }
        }
        let cat = |part: fn(&YoloOutput) -> &Tensor| -> Result<Tensor> {
            Tensor::cat(&outputs.iter().map(part).collect::<Vec<_>>(), 0)
        };
        let protos = match outputs.iter().map(|o| o.protos.as_ref()).collect::<Option<Vec<_>>>() {
            Some(protos) => Some(Tensor::cat(&protos, 0)?),
            None => None,
        };
        Ok(YoloOutput { predictions: cat(|o| &o.predictions)?, protos, embedding: cat(|o| &o.embedding)? })
    }

    /// [`Yolo::forward_inner`] on the whole batch at once.
    fn forward_batch(&self, x: &Tensor, mut profile: Option<&mut Vec<LayerTiming>>) -> Result<YoloOutput> {
        let (h, w) = self.check_input(x)?;
        let features = self.backbone.forward(x, profile.as_deref_mut())?;
        let embedding = self.pooled(&features)?;
        let levels = self.neck.forward(features, profile.as_deref_mut())?;
        let head_started = std::time::Instant::now();
        let (predictions, protos) = match &self.head {
            Head::Detect(detect) => (detect.forward(&levels, (h, w))?, None),
            Head::Segment(segment) => {
                let (predictions, protos) = segment.forward(&levels, (h, w))?;
                (predictions, Some(protos))
            }
        };
        if let Some(profile) = profile {
            let kind = match &self.head {
                Head::Detect(_) => "Detect",
                Head::Segment(_) => "Segment",
            };
            let index = profile.last().map_or(0, |t| t.index + 1);
            profile.push(LayerTiming {
                index,
                kind,
                duration_ms: head_started.elapsed().as_secs_f64() * 1e3,
            });
        }
        Ok(YoloOutput { predictions, protos, embedding })
    }

    /// Only [`YoloOutput::embedding`], running the backbone alone (no neck, no head).
    pub fn embed(&self, x: &Tensor) -> Result<Tensor> {
        self.check_input(x)?;
        self.pooled(&self.backbone.forward(x, None)?)
    }

    fn pooled(&self, features: &FeatureMaps) -> Result<Tensor> {
        match features.get(self.embedding_layer) {
            Some(t) => t.mean((2, 3)),
            None => candle_core::bail!("embedding layer {} was not kept", self.embedding_layer),
        }
    }

    /// Returns (H, W) when both are positive multiples of the largest stride.
    fn check_input(&self, x: &Tensor) -> Result<(usize, usize)> {
        let (_, _, h, w) = x.dims4()?;
        let s = self.max_stride;
        if h == 0 || w == 0 || !h.is_multiple_of(s) || !w.is_multiple_of(s) {
            candle_core::bail!("YOLO input is {h}x{w}; both sides must be positive multiples of {s}");
        }
        Ok((h, w))
    }
}
