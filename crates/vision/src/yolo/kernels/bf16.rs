//! Dense convolutions with bf16 products and f32 sums (`vdpbf16ps`, AVX512_BF16): the
//! weights and each tile's im2col values are rounded to bf16 (round to nearest even) and packed
//! in pairs along the depth, and every instruction adds two products per lane to an f32
//! accumulator — twice the multiply-adds per instruction of the f32 kernel. Bias, activation,
//! residual and the output stay f32 (the same epilogue as the f32 kernel).
//!
//! Chosen by the user (`--precision bf16` on the CPU); used only where the CPU has the
//! instruction ([`available`]), otherwise the convolution runs in f32.

use super::{Activation, Geometry, Images, MR, Multiply, NR, PackedWeights, im2col, lane_mask};

/// Whether this CPU has the bf16 dot product (and the AVX-512 the rest of the path uses).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        has!("avx512bf16") && has!("avx512f") && has!("avx2") && has!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A value's bf16 bits, rounded to nearest even (as the vector packing below).
fn bf16_bits(x: f32) -> u32 {
    u32::from(half::bf16::from_f32(x).to_bits())
}

/// `weight [m, depth]` row-major as `[m / MR, depth / 2, MR]` bf16 pairs: lane `r` of pair
/// row `p` holds `weight[r, 2p]` in its low half and `weight[r, 2p + 1]` (0 past the end) in
/// its high half.
fn pack_weights(weight: &[f32], m: usize, depth: usize) -> Vec<u32> {
    let pairs = depth.div_ceil(2);
    let mut packed = vec![0u32; m.div_ceil(MR) * pairs * MR];
    for (r, row) in weight.chunks_exact(depth).take(m).enumerate() {
        let block = &mut packed[(r / MR) * pairs * MR..][..pairs * MR];
        for (p, two) in row.chunks(2).enumerate() {
            let high = two.get(1).copied().unwrap_or(0.0);
            block[p * MR + r % MR] = bf16_bits(two[0]) | (bf16_bits(high) << 16);
        }
    }
    packed
}

/// bf16 products, f32 sums (AVX512_BF16): [`super::dense`] with this multiplies in bf16.
pub(super) struct Bf16;

impl Multiply for Bf16 {
    type Elem = u32;

    fn panel_rows(depth: usize) -> usize {
        depth.div_ceil(2)
    }

    fn pack_weights(weight: &[f32], m: usize, depth: usize) -> Vec<u32> {
        pack_weights(weight, m, depth)
    }

    fn kept(cache: &PackedWeights) -> &std::sync::OnceLock<Vec<u32>> {
        &cache.bf16
    }

    fn pack_tile(
        parts: &[Images],
        image: usize,
        g: Geometry,
        start: usize,
        n: usize,
        scratch: &mut Vec<f32>,
        panels: &mut [u32],
    ) {
        assert!(available(), "the bf16 kernels need AVX512_BF16");
        let [x] = parts else { panic!("the bf16 kernel reads one input, not {} parts", parts.len()) };
        let depth = x.channels * g.k * g.k;
        let pixels = g.out_h * g.out_w;
        let input = x.image(image);
        // The f32 right-hand side `[depth, n]`: a 1x1 convolution's rows are the image's own
        // (row stride: the plane), anything else goes through im2col.
        let (rows, ld): (&[f32], usize) = if g.k == 1 && g.stride == 1 && g.pad == 0 {
            (&input[start..], pixels)
        } else {
            scratch.resize(depth * n, 0.0);
            im2col(input, x.height, x.width, g, start, n, n, scratch);
            (scratch, n)
        };
        // SAFETY: `available()` was checked above.
        unsafe { pack_panels(rows, ld, depth, n, panels) };
    }

    unsafe fn block(
        depth: usize,
        weights: &[u32],
        rhs: *const u32,
        cols: usize,
        bias: &[f32],
        act: Activation,
        residual: *const f32,
        dst: *mut f32,
        dst_rs: usize,
    ) {
        let pairs = depth.div_ceil(2);
        // SAFETY: the caller's contract, passed on.
        unsafe {
            match bias.len() {
                0..=4 => block_rows::<4>(pairs, weights, rhs, cols, bias, act, residual, dst, dst_rs),
                5..=8 => block_rows::<8>(pairs, weights, rhs, cols, bias, act, residual, dst, dst_rs),
                _ => block_rows::<MR>(pairs, weights, rhs, cols, bias, act, residual, dst, dst_rs),
            }
        }
    }
}

/// Rows `2p` and `2p + 1` of `rows` (`depth` rows of `n` values at stride `ld`; a missing last
/// row counts as zeros) as bf16 pairs in panels of `NR` columns: pair `(p, j)` at
/// `panels[((j / NR) * pairs + p) * NR + j % NR]`.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn pack_panels(rows: &[f32], ld: usize, depth: usize, n: usize, panels: &mut [u32]) {
    use std::arch::x86_64::{
        __m512, __m512i, _mm512_add_epi32, _mm512_and_si512, _mm512_castps_si512, _mm512_mask_storeu_epi32,
        _mm512_maskz_loadu_ps, _mm512_or_si512, _mm512_set1_epi32, _mm512_setzero_ps, _mm512_srli_epi32,
    };
    // Round to nearest even: add 0x7fff plus the lowest kept bit, keep the high 16 bits.
    let round = |v: __m512| -> __m512i {
        let bits = _mm512_castps_si512(v);
        let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(bits), _mm512_set1_epi32(1));
        _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)))
    };
    let pairs = depth.div_ceil(2);
    assert!(panels.len() >= n.div_ceil(NR) * pairs * NR);
    assert!(depth == 0 || rows.len() >= (depth - 1) * ld + n);
    for p in 0..pairs {
        let low = &rows[2 * p * ld..][..n];
        let high = (2 * p + 1 < depth).then(|| &rows[(2 * p + 1) * ld..][..n]);
        for j in (0..n).step_by(16) {
            let count = (n - j).min(16);
            let mask = lane_mask(count);
            // SAFETY: lanes `j .. j + count` of rows of `n` values; the store goes to pair row
            // `p` of panel `j / NR`, lanes `j % NR ..` (`count` <= NR - j % NR, as NR is a
            // multiple of 16), inside `panels` (asserted above).
            unsafe {
                let lo = _mm512_maskz_loadu_ps(mask, low.as_ptr().add(j));
                let hi = match high {
                    Some(h) => _mm512_maskz_loadu_ps(mask, h.as_ptr().add(j)),
                    None => _mm512_setzero_ps(),
                };
                let pair = _mm512_or_si512(
                    _mm512_srli_epi32::<16>(round(lo)),
                    _mm512_and_si512(round(hi), _mm512_set1_epi32(0xffff_0000_u32 as i32)),
                );
                let at = ((j / NR) * pairs + p) * NR + j % NR;
                _mm512_mask_storeu_epi32(panels.as_mut_ptr().add(at).cast(), mask, pair);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn pack_panels(_: &[f32], _: usize, _: usize, _: usize, _: &mut [u32]) {
    unreachable!("AVX-512 is x86-64 only")
}

/// `R` accumulator rows of two 16-lane vectors; per pair row, two loads, `R` broadcasts and
/// `2R` bf16 dot products.
///
/// # Safety
/// As [`Multiply::block`], with `pairs` pair rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bf16,avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn block_rows<const R: usize>(
    pairs: usize,
    weights: &[u32],
    rhs: *const u32,
    cols: usize,
    bias: &[f32],
    act: Activation,
    residual: *const f32,
    dst: *mut f32,
    dst_rs: usize,
) {
    use std::arch::x86_64::{
        __m512, __m512bh, __m512i, _mm512_dpbf16_ps, _mm512_maskz_loadu_epi32, _mm512_set1_epi32,
        _mm512_setzero_ps,
    };
    assert!(R <= MR && weights.len() >= pairs * MR && bias.len() <= R && cols <= NR);
    let (mask0, mask1) = (lane_mask(cols), lane_mask(cols.saturating_sub(16)));
    let as_bh = |v: __m512i| -> __m512bh {
        // SAFETY: both are 512-bit vectors; `__m512bh` is 32 bf16 lanes of any bits.
        unsafe { std::mem::transmute::<__m512i, __m512bh>(v) }
    };
    let mut acc: [[__m512; 2]; R] = [[_mm512_setzero_ps(); 2]; R];
    for (p, a) in weights.chunks_exact(MR).take(pairs).enumerate() {
        // SAFETY: pair row `p < pairs`, lanes `< cols` (the caller's contract).
        let (b0, b1) = unsafe {
            let row = rhs.add(p * NR);
            (
                as_bh(_mm512_maskz_loadu_epi32(mask0, row.cast())),
                as_bh(_mm512_maskz_loadu_epi32(mask1, row.add(16).cast())),
            )
        };
        for (acc, &a) in acc.iter_mut().zip(a) {
            let a = as_bh(_mm512_set1_epi32(a as i32));
            acc[0] = _mm512_dpbf16_ps(acc[0], a, b0);
            acc[1] = _mm512_dpbf16_ps(acc[1], a, b1);
        }
    }
    // SAFETY: the caller's contract.
    unsafe { super::store_rows(&acc, bias, act, residual, dst, dst_rs, &[mask0, mask1]) };
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn block_rows<const R: usize>(
    _: usize,
    _: &[u32],
    _: *const u32,
    _: usize,
    _: &[f32],
    _: Activation,
    _: *const f32,
    _: *mut f32,
    _: usize,
) {
    unreachable!("AVX-512 is x86-64 only")
}
