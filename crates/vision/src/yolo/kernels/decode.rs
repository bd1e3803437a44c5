//! The Detect head's decoding on the CPU in one pass: per anchor, the DFL expectation of each
//! box side (softmax over `reg_max` bins), `dist2bbox(..., xywh=True) * stride`, and the
//! class sigmoids, written into Ultralytics' `output0` rows. candle's ops took a reshape,
//! transpose and copy, a softmax, a matrix product, six elementwise passes and two
//! concatenations for the same.

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, bail};
use rayon::prelude::*;

use super::{SharedOut, Simd, contiguous_f32, exp, simd};

/// Anchors per task and per vector-friendly chunk.
const CHUNK: usize = 64;

/// `(boxes [b, 4 * reg_max, a], scores [b, nc, a])` -> `[b, 4 + nc, a]`: cx, cy, w, h in input
/// pixels, then `sigmoid(scores)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DetectDecode<'a> {
    /// The DFL bin values (`0, 1, ..., reg_max - 1` in every checkpoint).
    pub(crate) bins: &'a [f32],
    /// Anchor centres in grid units, `a` x values then `a` y values.
    pub(crate) points: &'a [f32],
    /// Each anchor's stride in input pixels.
    pub(crate) strides: &'a [f32],
}

impl CustomOp2 for DetectDecode<'_> {
    fn name(&self) -> &'static str {
        "lacuna-detect-decode"
    }

    fn cpu_fwd(
        &self,
        b_storage: &CpuStorage,
        b_layout: &Layout,
        s_storage: &CpuStorage,
        s_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let boxes = contiguous_f32(b_storage, b_layout, "detect boxes")?;
        let scores = contiguous_f32(s_storage, s_layout, "detect scores")?;
        let (batch, sides, anchors) = b_layout.shape().dims3()?;
        let (sb, classes, sa) = s_layout.shape().dims3()?;
        let reg_max = self.bins.len();
        if sides != 4 * reg_max || sb != batch || sa != anchors {
            bail!(
                "detect decode: boxes {:?} and scores {:?} do not fit {reg_max} bins",
                b_layout.dims(),
                s_layout.dims()
            );
        }
        if self.points.len() != 2 * anchors || self.strides.len() != anchors {
            bail!(
                "detect decode: {} anchor points and {} strides for {anchors} anchors",
                self.points.len() / 2,
                self.strides.len()
            );
        }
        let rows = 4 + classes;
        let mut out = vec![0f32; batch * rows * anchors];
        let dst = SharedOut(out.as_mut_ptr());
        let chunks = anchors.div_ceil(CHUNK);
        (0..batch * chunks).into_par_iter().with_min_len(super::min_len(4)).for_each(|task| {
            let (image, first) = (task / chunks, (task % chunks) * CHUNK);
            let n = CHUNK.min(anchors - first);
            // SAFETY: this task alone writes columns `first .. first + n` of every row of image
            // `image`'s `[rows, anchors]` output, inside `out`, which outlives the loop.
            let row = |r: usize| unsafe {
                std::slice::from_raw_parts_mut(dst.ptr().add((image * rows + r) * anchors + first), n)
            };
            let boxes = &boxes[image * sides * anchors..][..sides * anchors];
            let mut dist = [[0f32; CHUNK]; 4];
            for (side, dist) in dist.iter_mut().enumerate() {
                let logits = &boxes[side * reg_max * anchors..][..reg_max * anchors];
                expectation(logits, anchors, first, self.bins, &mut dist[..n]);
            }
            let [l, t, r, b] = &dist;
            let (px, py) = (&self.points[first..][..n], &self.points[anchors + first..][..n]);
            let strides = &self.strides[first..][..n];
            let (cx, cy, w, h) = (row(0), row(1), row(2), row(3));
            for j in 0..n {
                cx[j] = (px[j] + 0.5 * (r[j] - l[j])) * strides[j];
                cy[j] = (py[j] + 0.5 * (b[j] - t[j])) * strides[j];
                w[j] = (l[j] + r[j]) * strides[j];
                h[j] = (t[j] + b[j]) * strides[j];
            }
            let scores = &scores[image * classes * anchors..][..classes * anchors];
            for c in 0..classes {
                sigmoid(&scores[c * anchors + first..][..n], row(4 + c));
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((batch, rows, anchors))))
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
    fn sigmoid => sigmoid_body(x: &[f32], out: &mut [f32])
}

#[inline(always)]
fn sigmoid_body(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = 1.0 / (1.0 + exp(-v));
    }
}
