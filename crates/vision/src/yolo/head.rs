//! Heads: `Detect` (decoupled box / class branches, DFL box decoding, anchors and strides) and
//! `Segment` (Detect plus mask coefficients and the `Proto` prototype network), producing what
//! Ultralytics' ONNX export produces.
//!
//! References: `ultralytics/nn/modules/head.py` (`Detect`, `Segment`), `block.py` (`DFL`,
//! `Proto`), `ultralytics/utils/tal.py` (`make_anchors`, `dist2bbox`); Li et al., "Generalized
//! Focal Loss" (NeurIPS 2020) for the distribution (DFL) box regression.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;
use candle_nn::ops::{sigmoid, softmax_last_dim};

use super::config::HeadSpec;
use super::conv::{Conv2d, ConvBlock, ConvTranspose2x2};
use super::kernels::{DetectDecode, cpu_f32};

/// Three convolutions in a row: one level of a head branch (`cv2.<i>`, `cv3.<i>`, `cv4.<i>`).
#[derive(Debug, Clone)]
struct Branch {
    first: Vec<ConvBlock>,
    last: Conv2d,
}

impl Branch {
    /// `[Conv(c1, c, 3), Conv(c, c, 3), nn.Conv2d(c, out, 1)]`.
    fn plain(c1: usize, c: usize, out: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            first: vec![ConvBlock::new(c1, c, 3, 1, vb.pp(0))?, ConvBlock::new(c, c, 3, 1, vb.pp(1))?],
            last: Conv2d::new(c, out, 1, 1, 1, vb.pp(2))?,
        })
    }

    /// `[[DWConv(c1, c1, 3), Conv(c1, c, 1)], [DWConv(c, c, 3), Conv(c, c, 1)], nn.Conv2d(c, out, 1)]`.
    fn separable(c1: usize, c: usize, out: usize, vb: VarBuilder) -> Result<Self> {
        let (a, b) = (vb.pp(0), vb.pp(1));
        Ok(Self {
            first: vec![
                ConvBlock::depthwise(c1, c1, 3, true, a.pp(0))?,
                ConvBlock::new(c1, c, 1, 1, a.pp(1))?,
                ConvBlock::depthwise(c, c, 3, true, b.pp(0))?,
                ConvBlock::new(c, c, 1, 1, b.pp(1))?,
            ],
            last: Conv2d::new(c, out, 1, 1, 1, vb.pp(2))?,
        })
    }
}

impl Module for Branch {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = x.clone();
        for conv in &self.first {
            y = conv.forward(&y)?;
        }
        self.last.forward(&y)
    }
}

/// Runs `branch[i]` on level `i`: `[b, out, h_i * w_i]` each.
fn level_outputs(branches: &[Branch], levels: &[Tensor]) -> Result<Vec<Tensor>> {
    branches.iter().zip(levels).map(|(branch, x)| branch.forward(x)?.flatten_from(2)).collect()
}

/// [`level_outputs`] concatenated: `[b, out, anchors]`.
fn run_levels(branches: &[Branch], levels: &[Tensor]) -> Result<Tensor> {
    Tensor::cat(&level_outputs(branches, levels)?, 2)
}

/// `DFL(reg_max)`: the expected bin index under a softmax over `reg_max` bins, per box side.
#[derive(Debug, Clone)]
struct Dfl {
    /// `[reg_max, 1]`: the bin values (`0, 1, ..., reg_max - 1` in every checkpoint).
    bins: Tensor,
    /// The same values, for the CPU decoding kernel.
    values: Vec<f32>,
    reg_max: usize,
}

impl Dfl {
    fn new(reg_max: usize, vb: VarBuilder) -> Result<Self> {
        let bins = if vb.contains_tensor("conv.weight") {
            vb.get((1, reg_max, 1, 1), "conv.weight")?.reshape((reg_max, 1))?
        } else {
            Tensor::arange(0u32, reg_max as u32, vb.device())?.to_dtype(vb.dtype())?.reshape((reg_max, 1))?
        };
        let values = bins.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
        Ok(Self { bins, values, reg_max })
    }
}

impl Module for Dfl {
    /// `[b, 4 * reg_max, a]` -> `[b, 4, a]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, _, a) = x.dims3()?;
        let logits = x.reshape((b, 4, self.reg_max, a))?.transpose(2, 3)?.contiguous()?;
        let probs = softmax_last_dim(&logits)?; // [b, 4, a, reg_max]
        probs.broadcast_matmul(&self.bins.to_dtype(probs.dtype())?)?.reshape((b, 4, a))
    }
}

/// Anchor centres in grid units (all x values, then all y values) and each anchor's stride,
/// for feature maps of the given `(height, width)`s and strides: Ultralytics'
/// `make_anchors(feats, strides, 0.5)`.
fn anchors(sizes: &[(usize, usize)], strides: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let total: usize = sizes.iter().map(|(h, w)| h * w).sum();
    let mut xs = Vec::with_capacity(2 * total);
    let mut ys = Vec::with_capacity(total);
    let mut ss = Vec::with_capacity(total);
    for (&(h, w), &stride) in sizes.iter().zip(strides) {
        for y in 0..h {
            for x in 0..w {
                xs.push(x as f32 + 0.5);
                ys.push(y as f32 + 0.5);
                ss.push(stride as f32);
            }
        }
    }
    xs.extend(ys);
    (xs, ss)
}

/// `Detect(nc, reg_max=16, ch)`: per level a box branch (`cv2`, `4 * reg_max` DFL logits) and a
/// class branch (`cv3`), decoded into Ultralytics' `output0` rows: cx, cy, w, h in input pixels
/// (`dist2bbox(dfl(boxes), anchors, xywh=True) * strides`), then sigmoid class scores.
#[derive(Debug, Clone)]
pub(crate) struct Detect {
    cv2: Vec<Branch>,
    cv3: Vec<Branch>,
    dfl: Dfl,
}

impl Detect {
    pub(crate) fn new(spec: &HeadSpec, vb: VarBuilder) -> Result<Self> {
        let ch = spec.ch;
        let c2 = 16.max(ch[0] / 4).max(4 * spec.reg_max);
        let c3 = ch[0].max(spec.num_classes.min(100));
        let cv2 = ch
            .iter()
            .enumerate()
            .map(|(i, &c)| Branch::plain(c, c2, 4 * spec.reg_max, vb.pp("cv2").pp(i)))
            .collect::<Result<_>>()?;
        let cv3 = ch
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let vb = vb.pp("cv3").pp(i);
                if spec.legacy {
                    Branch::plain(c, c3, spec.num_classes, vb)
                } else {
                    Branch::separable(c, c3, spec.num_classes, vb)
                }
            })
            .collect::<Result<_>>()?;
        Ok(Self { cv2, cv3, dfl: Dfl::new(spec.reg_max, vb.pp("dfl"))? })
    }

    /// `levels`: P3, P4, P5; `input_hw`: the network input's height and width.
    /// Returns `[b, 4 + nc, anchors]`.
    pub(crate) fn forward(&self, levels: &[Tensor], input_hw: (usize, usize)) -> Result<Tensor> {
        let boxes = level_outputs(&self.cv2, levels)?;
        let scores = level_outputs(&self.cv3, levels)?;
        let sizes = levels.iter().map(|l| Ok((l.dim(2)?, l.dim(3)?))).collect::<Result<Vec<_>>>()?;
        let strides: Vec<usize> = sizes.iter().map(|&(h, _)| input_hw.0 / h.max(1)).collect();
        let (points, strides) = anchors(&sizes, &strides);
        if boxes.iter().chain(&scores).all(cpu_f32) {
            let op = DetectDecode { bins: &self.dfl.values, points: &points, strides: &strides };
            return op.run(&boxes, &scores);
        }
        self.decode_ops(&Tensor::cat(&boxes, 2)?, &Tensor::cat(&scores, 2)?, points, strides)
    }

    /// The decoding in candle ops (any device and dtype): `dist2bbox(dfl(boxes), anchors,
    /// xywh=True) * strides` (distances left, top, right, bottom from the anchor), then
    /// `sigmoid(scores)`.
    fn decode_ops(
        &self,
        boxes: &Tensor,
        scores: &Tensor,
        points: Vec<f32>,
        strides: Vec<f32>,
    ) -> Result<Tensor> {
        let total = strides.len();
        let points = Tensor::from_vec(points, (1, 2, total), boxes.device())?.to_dtype(boxes.dtype())?;
        let strides = Tensor::from_vec(strides, (1, 1, total), boxes.device())?.to_dtype(boxes.dtype())?;
        let dist = self.dfl.forward(boxes)?;
        let top_left = points.broadcast_sub(&dist.narrow(1, 0, 2)?)?;
        let bottom_right = points.broadcast_add(&dist.narrow(1, 2, 2)?)?;
        let centre = ((&top_left + &bottom_right)? / 2.0)?;
        let size = (bottom_right - top_left)?;
        let xywh = Tensor::cat(&[centre, size], 1)?.broadcast_mul(&strides)?;
        Tensor::cat(&[xywh, sigmoid(scores)?], 1)
    }
}

/// `Proto(c1, c_=npr, c2=nm)`: 3x3 conv, learned x2 upsampling, 3x3 conv, 1x1 conv to `nm`
/// prototype masks at a quarter of the input resolution.
#[derive(Debug, Clone)]
struct Proto {
    cv1: ConvBlock,
    upsample: ConvTranspose2x2,
    cv2: ConvBlock,
    cv3: ConvBlock,
}

impl Proto {
    fn new(c1: usize, protos: usize, masks: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            cv1: ConvBlock::new(c1, protos, 3, 1, vb.pp("cv1"))?,
            upsample: ConvTranspose2x2::new(protos, protos, vb.pp("upsample"))?,
            cv2: ConvBlock::new(protos, protos, 3, 1, vb.pp("cv2"))?,
            cv3: ConvBlock::new(protos, masks, 1, 1, vb.pp("cv3"))?,
        })
    }
}

impl Module for Proto {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.upsample.forward(&self.cv1.forward(x)?)?;
        self.cv3.forward(&self.cv2.forward(&y)?)
    }
}

/// `Segment(nc, nm=32, npr, ch)`: Detect plus `nm` mask coefficients per anchor (`cv4`) and the
/// prototypes (`proto`, from P3).
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    detect: Detect,
    cv4: Vec<Branch>,
    proto: Proto,
}

impl Segment {
    pub(crate) fn new(spec: &HeadSpec, masks: usize, protos: usize, vb: VarBuilder) -> Result<Self> {
        let c4 = (spec.ch[0] / 4).max(masks);
        let cv4 = spec
            .ch
            .iter()
            .enumerate()
            .map(|(i, &c)| Branch::plain(c, c4, masks, vb.pp("cv4").pp(i)))
            .collect::<Result<_>>()?;
        Ok(Self {
            detect: Detect::new(spec, vb.clone())?,
            cv4,
            proto: Proto::new(spec.ch[0], protos, masks, vb.pp("proto"))?,
        })
    }

    /// Returns (`[b, 4 + nc + nm, anchors]`, prototypes `[b, nm, h / 4, w / 4]`).
    pub(crate) fn forward(&self, levels: &[Tensor], input_hw: (usize, usize)) -> Result<(Tensor, Tensor)> {
        let detections = self.detect.forward(levels, input_hw)?;
        let coefficients = run_levels(&self.cv4, levels)?;
        let protos = self.proto.forward(&levels[0])?;
        Ok((Tensor::cat(&[detections, coefficients], 1)?, protos))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;

    #[test]
    fn cpu_decoding_matches_the_candle_ops() {
        let (b, reg_max, classes) = (2, 16, 5);
        let sizes = [(12, 11), (2, 3), (1, 2)]; // level 0 spans three chunks of anchors
        let strides = [8, 16, 32];
        let total: usize = sizes.iter().map(|(h, w)| h * w).sum();
        let boxes = Tensor::randn(0f32, 3.0, (b, 4 * reg_max, total), &Device::Cpu).expect("boxes");
        let scores = Tensor::randn(0f32, 4.0, (b, classes, total), &Device::Cpu).expect("scores");
        // The levels as the branches give them: [b, ch, h, w] each.
        let mut first = 0;
        let (mut box_levels, mut score_levels) = (Vec::new(), Vec::new());
        for &(h, w) in &sizes {
            let level = |t: &Tensor| t.narrow(2, first, h * w)?.contiguous()?.reshape((b, t.dim(1)?, h, w));
            box_levels.push(level(&boxes).expect("box level"));
            score_levels.push(level(&scores).expect("score level"));
            first += h * w;
        }
        let vb = VarBuilder::zeros(DType::F32, &Device::Cpu);
        let spec = HeadSpec {
            index: 0,
            from: [0; 3],
            ch: [16, 32, 64],
            num_classes: classes,
            reg_max,
            legacy: true,
            masks: None,
        };
        let detect = Detect::new(&spec, vb).expect("detect");
        let (points, anchor_strides) = anchors(&sizes, &strides);
        let op = DetectDecode { bins: &detect.dfl.values, points: &points, strides: &anchor_strides };
        let fast = op.run(&box_levels, &score_levels).expect("decode");
        let reference =
            detect.decode_ops(&boxes, &scores, points.clone(), anchor_strides.clone()).expect("ops");
        assert_eq!(fast.dims(), [b, 4 + classes, total]);
        let diff = (fast - reference)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar::<f32>())
            .expect("diff");
        assert!(diff < 1e-4, "max difference {diff}");
    }
}
