//! `nn.Upsample(scale_factor=2, mode="nearest")` on the CPU: each input row widened once
//! (every value twice) and written to both of its output rows, planes in parallel. candle's
//! `upsample_nearest2d` computes a source index per output value.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::{Images, Simd, simd};

/// `[b, c, h, w]` -> `[b, c, 2h, 2w]`, nearest neighbour.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Upsample2;

impl CustomOp1 for Upsample2 {
    fn name(&self) -> &'static str {
        "lacuna-upsample2"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = Images::new(storage, layout)?;
        let (h, w) = (x.height, x.width);
        let plane = h * w;
        let mut out = vec![0f32; x.batch * x.channels * 4 * plane];
        if plane > 0 {
            out.par_chunks_mut(4 * plane).enumerate().with_min_len(super::min_len(4)).for_each(|(i, out)| {
                let (image, channel) = (i / x.channels, i % x.channels);
                let src = &x.image(image)[channel * plane..][..plane];
                upsample_plane(src, w, out);
            });
        }
        Ok((CpuStorage::F32(out), Shape::from((x.batch, x.channels, 2 * h, 2 * w))))
    }
}

simd_dispatch! {
    /// One plane of rows `w` long into `out` (`4 * src.len()` values).
    fn upsample_plane => upsample_plane_body(src: &[f32], w: usize, out: &mut [f32])
}

#[inline(always)]
fn upsample_plane_body(src: &[f32], w: usize, out: &mut [f32]) {
    for (row, pair) in src.chunks_exact(w).zip(out.chunks_exact_mut(4 * w)) {
        let (top, bottom) = pair.split_at_mut(2 * w);
        for (two, &v) in top.chunks_exact_mut(2).zip(row) {
            two[0] = v;
            two[1] = v;
        }
        bottom.copy_from_slice(top);
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    #[test]
    fn matches_candle_nearest_upsampling() {
        for (b, c, h, w) in [(1, 3, 4, 5), (2, 2, 1, 7), (1, 1, 3, 1)] {
            let x = Tensor::arange(0f32, (b * c * h * w) as f32, &Device::Cpu)
                .and_then(|t| t.reshape((b, c, h, w)))
                .expect("x");
            let fast = x.apply_op1_no_bwd(&Upsample2).expect("op");
            let reference = x.upsample_nearest2d(2 * h, 2 * w).expect("reference");
            assert_eq!(fast.dims(), reference.dims());
            let diff = (fast - reference)
                .and_then(|d| d.abs())
                .and_then(|d| d.max_all())
                .and_then(|d| d.to_scalar::<f32>())
                .expect("diff");
            assert_eq!(diff, 0.0, "b{b} c{c} {h}x{w}");
        }
    }
}
