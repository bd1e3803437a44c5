//! The Detect head's decoding on the CPU in one pass: per anchor, the DFL expectation of each
//! box side (softmax over `reg_max` bins), `dist2bbox(..., xywh=True) * stride`, and the
//! class sigmoids, written into Ultralytics' `output0` rows, read from each level's branch
//! outputs where they are. candle's ops took two concatenations of the levels, a reshape,
//! transpose and copy, a softmax, a matrix product, six elementwise passes and two more
//! concatenations for the same.

use std::mem::MaybeUninit;

use candle_core::{Device, Result, Storage, Tensor, bail};
use rayon::prelude::*;

use super::{SharedOut, Simd, contiguous_f32, exp, simd};

/// Anchors per task and per vector-friendly chunk.
const CHUNK: usize = 64;

/// Per level `(boxes [b, 4 * reg_max, a_l], scores [b, nc, a_l])` (or `[b, ch, h, w]`) ->
/// `[b, 4 + nc, a]` over all levels' anchors in order: cx, cy, w, h in input pixels, then
/// `sigmoid(scores)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DetectDecode<'a> {
    /// The DFL bin values (`0, 1, ..., reg_max - 1` in every checkpoint).
    pub(crate) bins: &'a [f32],
    /// Anchor centres in grid units, `a` x values then `a` y values.
    pub(crate) points: &'a [f32],
    /// Each anchor's stride in input pixels.
    pub(crate) strides: &'a [f32],
}

/// One level's branch outputs, read in place.
struct Level<'a> {
    boxes: &'a [f32],
    scores: &'a [f32],
    /// This level's anchors, and the index of its first one among all levels'.
    anchors: usize,
    first: usize,
}

impl DetectDecode<'_> {
    /// Decodes the levels' CPU f32 branch outputs (see the type).
    pub(crate) fn run(&self, boxes: &[Tensor], scores: &[Tensor]) -> Result<Tensor> {
        let reg_max = self.bins.len();
        if boxes.len() != scores.len() || boxes.is_empty() {
            bail!("detect decode: {} box and {} score levels", boxes.len(), scores.len());
        }
        let (batch, classes) = (boxes[0].dim(0)?, scores[0].dim(1)?);
        let guards = boxes.iter().chain(scores).map(Tensor::storage_and_layout).collect::<Vec<_>>();
        let (box_guards, score_guards) = guards.split_at(boxes.len());
        let mut levels = Vec::with_capacity(boxes.len());
        let mut total = 0;
        for ((bs, bl), (ss, sl)) in box_guards.iter().zip(score_guards) {
            let (Storage::Cpu(bs), Storage::Cpu(ss)) = (&**bs, &**ss) else {
                bail!("detect decode: the branch outputs are not on the CPU");
            };
            let (bd, sd) = (bl.dims(), sl.dims());
            let fits = bd.len() >= 3
                && bd[..2] == [batch, 4 * reg_max]
                && sd.len() == bd.len()
                && sd[..2] == [batch, classes]
                && sd[2..] == bd[2..];
            if !fits {
                bail!("detect decode: boxes {bd:?} and scores {sd:?} do not fit {reg_max} bins");
            }
            let anchors = bd[2..].iter().product::<usize>();
            let boxes = contiguous_f32(bs, bl, "detect boxes")?;
            let scores = contiguous_f32(ss, sl, "detect scores")?;
            levels.push(Level { boxes, scores, anchors, first: total });
            total += anchors;
        }
        if self.points.len() != 2 * total || self.strides.len() != total {
            bail!(
                "detect decode: {} anchor points and {} strides for {total} anchors",
                self.points.len() / 2,
                self.strides.len()
            );
        }
        let rows = 4 + classes;
        let len = batch * rows * total;
        let mut out = Vec::<f32>::with_capacity(len);
        let dst = SharedOut(out.spare_capacity_mut().as_mut_ptr().cast::<f32>());
        // Tasks: (image, level, chunk of the level's anchors).
        let chunks: Vec<(usize, usize)> = levels
            .iter()
            .enumerate()
            .flat_map(|(l, level)| (0..level.anchors).step_by(CHUNK).map(move |first| (l, first)))
            .collect();
        (0..batch * chunks.len()).into_par_iter().with_min_len(super::min_len(4)).for_each(|task| {
            let (image, (l, local)) = (task / chunks.len(), chunks[task % chunks.len()]);
            let level = &levels[l];
            let (anchors, n, first) = (level.anchors, CHUNK.min(level.anchors - local), level.first + local);
            // SAFETY: this task alone writes columns `first .. first + n` of every row of image
            // `image`'s `[rows, total]` output, inside `out`'s capacity, which outlives the loop.
            let row = |r: usize| unsafe {
                std::slice::from_raw_parts_mut(
                    dst.ptr().add((image * rows + r) * total + first).cast::<MaybeUninit<f32>>(),
                    n,
                )
            };
            let boxes = &level.boxes[image * 4 * reg_max * anchors..][..4 * reg_max * anchors];
            let mut dist = [[0f32; CHUNK]; 4];
            for (side, dist) in dist.iter_mut().enumerate() {
                let logits = &boxes[side * reg_max * anchors..][..reg_max * anchors];
                expectation(logits, anchors, local, self.bins, &mut dist[..n]);
            }
            let [l, t, r, b] = &dist;
            let (px, py) = (&self.points[first..][..n], &self.points[total + first..][..n]);
            let strides = &self.strides[first..][..n];
            let (cx, cy, w, h) = (row(0), row(1), row(2), row(3));
            for j in 0..n {
                cx[j].write((px[j] + 0.5 * (r[j] - l[j])) * strides[j]);
                cy[j].write((py[j] + 0.5 * (b[j] - t[j])) * strides[j]);
                w[j].write((l[j] + r[j]) * strides[j]);
                h[j].write((t[j] + b[j]) * strides[j]);
            }
            let scores = &level.scores[image * classes * anchors..][..classes * anchors];
            for c in 0..classes {
                sigmoid(&scores[c * anchors + local..][..n], row(4 + c));
            }
        });
        // SAFETY: the tasks wrote every row of every image over all anchors (the chunks cover
        // each level's anchors, the levels all `total`).
        unsafe { out.set_len(len) };
        Tensor::from_vec(out, (batch, rows, total), &Device::Cpu)
    }
}

simd_dispatch! {
    /// `out[j] = sum_i softmax(logits[., first + j])_i * bins[i]` for the anchors
    /// `first .. first + out.len()` of `logits [bins, anchors]`.
    fn expectation => expectation_body(
        logits: &[f32], anchors: usize, first: usize, bins: &[f32], out: &mut [f32]
    )
}

#[inline(always)]
fn expectation_body(logits: &[f32], anchors: usize, first: usize, bins: &[f32], out: &mut [f32]) {
    let n = out.len();
    let mut max = [f32::NEG_INFINITY; CHUNK];
    for i in 0..bins.len() {
        let row = &logits[i * anchors + first..][..n];
        for (m, &v) in max.iter_mut().zip(row) {
            *m = if v > *m { v } else { *m };
        }
    }
    let (mut sum, mut weighted) = ([0f32; CHUNK], [0f32; CHUNK]);
    for (i, &bin) in bins.iter().enumerate() {
        let row = &logits[i * anchors + first..][..n];
        for (((s, e), &v), &m) in sum.iter_mut().zip(weighted.iter_mut()).zip(row).zip(&max) {
            let p = exp(v - m);
            *s += p;
            *e += p * bin;
        }
    }
    for ((o, &s), &e) in out.iter_mut().zip(&sum).zip(&weighted) {
        *o = e / s;
    }
}

simd_dispatch! {
    /// `out[j] = 1 / (1 + e^-x[j])`.
    fn sigmoid => sigmoid_body(x: &[f32], out: &mut [MaybeUninit<f32>])
}

#[inline(always)]
fn sigmoid_body(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(1.0 / (1.0 + exp(-v)));
    }
}
