//! SPPF's pooling on the CPU in one op: `cat([y, m(y), m(m(y)), m(m(m(y)))], 1)` with `m` a
//! k x k max pool, stride 1, "same" padding (`nn.MaxPool2d(k, 1, k // 2)`, which pads with
//! -inf, so the window is the image clamped to its borders). Each channel plane is pooled three
//! times in a row as separable row and column maxima in cache, and written straight into its
//! four slots of the concatenated output: no padded copies and no concatenation pass.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, bail};
use rayon::prelude::*;

use super::{Images, SharedOut, Simd, simd};

/// `[b, c, h, w]` -> `[b, 4c, h, w]`: the input, then three chained k x k max pools of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SppfPools {
    pub(crate) k: usize,
}

impl CustomOp1 for SppfPools {
    fn name(&self) -> &'static str {
        "lacuna-sppf-pools"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = Images::new(storage, layout)?;
        if self.k.is_multiple_of(2) {
            bail!("sppf pools: kernel size {} is not odd", self.k);
        }
        let plane = x.height * x.width;
        let mut out = vec![0f32; x.batch * 4 * x.channels * plane];
        let dst = SharedOut(out.as_mut_ptr());
        let (k, c, h, w) = (self.k, x.channels, x.height, x.width);
        (0..x.batch * c).into_par_iter().with_min_len(super::min_len(8)).for_each_init(
            Vec::new,
            |scratch, task| {
                let (image, channel) = (task / c, task % c);
                let src = &x.image(image)[channel * plane..][..plane];
                // SAFETY: this task alone writes channel `channel` of the four slots of image
                // `image` (planes `(image * 4 + slot) * c + channel`), inside `out`, which outlives
                // the loop.
                let slots: [&mut [f32]; 4] = std::array::from_fn(|slot| unsafe {
                    std::slice::from_raw_parts_mut(
                        dst.ptr().add(((image * 4 + slot) * c + channel) * plane),
                        plane,
                    )
                });
                let [s0, s1, s2, s3] = slots;
                s0.copy_from_slice(src);
                pool_plane(s0, h, w, k, scratch, s1);
                pool_plane(s1, h, w, k, scratch, s2);
                pool_plane(s2, h, w, k, scratch, s3);
            },
        );
        Ok((CpuStorage::F32(out), Shape::from((x.batch, 4 * c, h, w))))
    }
}

simd_dispatch! {
    /// One k x k max pool of an `[h, w]` plane, stride 1, window clamped to the plane: the
    /// maximum over the window's rows of the maxima along them.
    fn pool_plane => pool_plane_body(
        src: &[f32], h: usize, w: usize, k: usize, scratch: &mut Vec<f32>, out: &mut [f32]
    )
}

#[inline(always)]
fn pool_plane_body(src: &[f32], h: usize, w: usize, k: usize, scratch: &mut Vec<f32>, out: &mut [f32]) {
    let r = k / 2;
    // The plane with a border of r -inf values on every side, rows of `pw`, flat: then every
    // window is k values along a row and k rows down, and each pass below is one long run
    // over the flat plane (whole vectors even for 10-pixel rows; the border lanes compute
    // values nobody reads).
    let (pw, ph) = (w + 2 * r, h + 2 * r);
    let n = ph * pw;
    scratch.clear();
    scratch.resize(2 * n, f32::NEG_INFINITY);
    let (padded, row_max) = scratch.split_at_mut(n);
    for (y, row) in src.chunks_exact(w).enumerate() {
        padded[(y + r) * pw + r..][..w].copy_from_slice(row);
    }
    // Row maxima: row_max[i] = max(padded[i .. i + k]); the last k - 1 values stay -inf.
    let len = n - (k - 1);
    window_max(&mut row_max[..len], padded, k, 1);
    // Column maxima over k rows of the row maxima, written back into `padded` (no longer
    // needed) from its row 0: the window of output (y, x) starts at row_max[y * pw + x].
    window_max(&mut padded[..h * pw], row_max, k, pw);
    for (dst, row) in out.chunks_exact_mut(w).zip(padded.chunks_exact(pw)) {
        dst.copy_from_slice(&row[..w]);
    }
}

/// `dst[i] = max(src[i + d * step])` over `d < k`: one long run per `d`, which vectorises.
#[inline(always)]
fn window_max(dst: &mut [f32], src: &[f32], k: usize, step: usize) {
    dst.copy_from_slice(&src[..dst.len()]);
    for d in 1..k {
        for (m, &v) in dst.iter_mut().zip(&src[d * step..]) {
            *m = m.max(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    #[test]
    fn matches_candle_max_pool_with_replicated_borders() {
        for (b, c, h, w, k) in [(1, 3, 10, 10, 5), (2, 5, 7, 13, 5), (1, 2, 4, 3, 5), (1, 4, 6, 6, 3)] {
            let len = b * c * h * w;
            // Values with ties and negatives.
            let values: Vec<f32> = (0..len).map(|i| ((i * 7919) % 31) as f32 - 15.0).collect();
            let x = Tensor::from_vec(values, (b, c, h, w), &Device::Cpu).expect("x");
            let fast = x.apply_op1_no_bwd(&SppfPools { k }).expect("op");
            let pool = |t: &Tensor| -> Tensor {
                let p = k / 2;
                t.pad_with_same(2, p, p)
                    .and_then(|t| t.pad_with_same(3, p, p))
                    .and_then(|t| t.max_pool2d_with_stride(k, 1))
                    .expect("pool")
            };
            let (y1, y2, y3);
            y1 = pool(&x);
            y2 = pool(&y1);
            y3 = pool(&y2);
            let expected = Tensor::cat(&[&x, &y1, &y2, &y3], 1).expect("cat");
            let diff = (fast - expected)
                .and_then(|d| d.abs())
                .and_then(|d| d.max_all())
                .and_then(|d| d.to_scalar::<f32>())
                .expect("diff");
            assert_eq!(diff, 0.0, "b{b} c{c} {h}x{w} k{k}");
        }
    }
}
