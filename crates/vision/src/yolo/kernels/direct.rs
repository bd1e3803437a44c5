//! k x k convolutions (k > 1, any stride) in f32 without an im2col copy: the micro-kernel reads
//! its right-hand side straight from a zero-bordered copy of the image.
//!
//! The copy is split by stride phase: phase `(a, b)` of channel `c` holds the padded input's
//! rows `a, a + s, a + 2s, ...` and columns `b, b + s, ...` (for stride 1 there is one phase:
//! the padded plane). Output pixel `(oy, ox)` then reads tap `(dy, dx)` at row `oy + dy / s`,
//! column `ox + dx / s` of phase `(dy % s, dx % s)`, so over the "grid" index
//! `q = oy * pw + ox` (`pw`: a phase row's length) every tap is one contiguous run at a fixed
//! offset. The grid has `pw - out_w` columns per row that are no output pixel; the micro-kernel
//! computes them (2-20% more multiply-adds, for maps of 160 down to 10 columns) and the
//! epilogue compresses them out as it stores, so each output plane is written packed. This is
//! the layout trick of direct convolutions (compute on the padded grid, drop the border
//! columns), which removes the 9x-input copy that im2col made for every 3x3 tile.
//!
//! Phase planes are a little longer than their rows need, an odd number of cache lines, so
//! that the same tap of consecutive channels does not land in the same cache sets. Large maps
//! are prepared and multiplied in bands of output rows (at least 16, about 384 KiB of
//! prepared input), so the copy is still in L2 when the micro-kernel reads it: the first
//! convolutions of a 640 px input read 5-7 MB.
//!
//! Small images under a 3x3, stride 1, pad 1 convolution (YOLO's bottlenecks and heads on
//! 10x10 to 20x20 maps) skip the copy: [`same_3x3`] reads the image in place and masks off the
//! lanes whose tap falls in the padding. Its grid is the output plane, so it computes no
//! border columns either (a 10x10 map: 100 of 112 lanes used, against 100 of 128).

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::{Activation, Geometry, Images, MR, NR, PackedWeights, SharedOut, gather_strided, lane_mask};

/// Where a convolution's grid positions and taps lie in a prepared band of an image: the
/// phase rows that output rows `first_row .. first_row + band` read.
#[derive(Debug, Clone, Copy)]
struct Grid {
    stride: usize,
    pad: usize,
    /// Rows and columns of a whole phase plane.
    ph: usize,
    pw: usize,
    /// Output rows per band, and the phase rows a band reads (`band` plus the taps' reach).
    band: usize,
    rows: usize,
    /// Floats per prepared phase plane of a band (at least `rows * pw`; see the module docs).
    plane: usize,
    out_h: usize,
    out_w: usize,
}

impl Grid {
    /// The grid of `g` over an `h x w` image, in bands of at most `band` output rows.
    fn new(h: usize, w: usize, g: Geometry, band: usize) -> Self {
        let s = g.stride;
        let (ph, pw) = (Self::phase_len(h, g), Self::phase_len(w, g));
        let band = band.clamp(1, g.out_h.max(1));
        let reach = (g.k - 1) / s;
        let rows = band + reach;
        // The furthest tap reads `reach * (pw + 1)` past a grid position; junk positions of the
        // band's last row read zeros from the plane's tail.
        let len = (band - 1) * pw + g.out_w;
        let lines = (rows * pw).max(len + reach * (pw + 1)).div_ceil(16);
        let plane = (lines | 1) * 16;
        Self { stride: s, pad: g.pad, ph, pw, band, rows, plane, out_h: g.out_h, out_w: g.out_w }
    }

    /// The grid over an `h x w x channels` image in bands of about [`BAND_BYTES`] of prepared
    /// input, at least [`MIN_BAND`] output rows.
    fn banded(h: usize, w: usize, channels: usize, g: Geometry) -> Self {
        let s = g.stride;
        let band = BAND_BYTES / (4 * channels * s * s * Self::phase_len(w, g)).max(1);
        Self::new(h, w, g, band.max(MIN_BAND))
    }

    /// Rows (or columns) of a phase plane: the padded length `len + 2 * pad` over the stride.
    fn phase_len(len: usize, g: Geometry) -> usize {
        (len + 2 * g.pad).div_ceil(g.stride)
    }

    /// Floats per prepared channel (all its phases).
    fn channel(&self) -> usize {
        self.stride * self.stride * self.plane
    }

    /// The bands: (first output row, output rows).
    fn bands(&self) -> impl Iterator<Item = (usize, usize)> + use<> {
        let (band, out_h) = (self.band, self.out_h);
        (0..out_h).step_by(band).map(move |first| (first, band.min(out_h - first)))
    }

    /// Grid positions of a band of `rows` output rows: up to its last output pixel.
    fn len(&self, rows: usize) -> usize {
        (rows - 1) * self.pw + self.out_w
    }

    /// Per depth index `(c, dy, dx)` (the weights' order), where its run starts relative to
    /// a grid position.
    fn taps(&self, channels: usize, k: usize) -> Vec<usize> {
        let s = self.stride;
        let mut taps = Vec::with_capacity(channels * k * k);
        for c in 0..channels {
            for dy in 0..k {
                for dx in 0..k {
                    let phase = (dy % s) * s + dx % s;
                    taps.push(c * self.channel() + phase * self.plane + (dy / s) * self.pw + dx / s);
                }
            }
        }
        taps
    }

    /// Writes phase `(a, b)` of one channel plane `[h, w]`, phase rows `first_row ..
    /// first_row + self.rows`, into `out` (one prepared phase plane): the pixels, and zeros
    /// everywhere the padded input has none (borders, rows past the plane, the tail).
    fn prepare(
        &self,
        src: &[f32],
        h: usize,
        w: usize,
        (a, b): (usize, usize),
        first_row: usize,
        out: &mut [f32],
    ) {
        let s = self.stride;
        let (rows, tail) = out.split_at_mut(self.rows * self.pw);
        tail.fill(0.0);
        // Phase column j holds input column s * j + b - pad.
        let first = self.pad.saturating_sub(b).div_ceil(s).min(self.pw);
        let end = (w + self.pad).saturating_sub(b).div_ceil(s).clamp(first, self.pw);
        for (r, row) in rows.chunks_exact_mut(self.pw).enumerate() {
            let r = first_row + r;
            let y = (s * r + a).checked_sub(self.pad).filter(|&y| y < h && r < self.ph);
            let (Some(y), true) = (y, first < end) else {
                row.fill(0.0);
                continue;
            };
            row[..first].fill(0.0);
            row[end..].fill(0.0);
            let x0 = s * first + b - self.pad;
            let src = &src[y * w + x0..(y + 1) * w];
            if s == 1 {
                row[first..end].copy_from_slice(&src[..end - first]);
            } else {
                gather_strided(&mut row[first..end], src, s);
            }
        }
    }

    /// Output block starting at grid position `q0` of the band from output row `first_row`,
    /// `cols` positions: which lanes are output pixels (bit per lane) and the output index of
    /// the first of them.
    fn block(&self, first_row: usize, q0: usize, cols: usize) -> (u32, usize) {
        let mut valid = 0u32;
        for j in 0..cols {
            if (q0 + j) % self.pw < self.out_w {
                valid |= 1 << j;
            }
        }
        let (row, col) = (first_row + q0 / self.pw, q0 % self.pw);
        (valid, row * self.out_w + col.min(self.out_w))
    }
}

/// Asks for every cache line of `values` to be brought into L1 (no effect without x86-64).
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
fn prefetch(values: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in values.chunks(16) {
        // SAFETY: a prefetch reads nothing and cannot fault; the address lies inside `values`.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast());
        }
    }
}

/// The dense f32 k x k convolution over prepared bands (see the module docs): per image and
/// band of output rows, the channels' phase rows are copied in parallel, then tasks of grid
/// tiles x groups of `MR`-channel weight blocks run the micro-kernel, reading the band in
/// place. Bands keep the prepared input in L2 for large maps (a 640 px input's first
/// convolutions read 5-7 MB). The weights are packed once into `cache` when given (the same
/// layout as the im2col kernel's).
///
/// The caller checked that the CPU has AVX-512F.
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
pub(super) fn conv(
    x: &Images,
    weight: &[f32],
    bias: &[f32],
    c2: usize,
    g: Geometry,
    act: Activation,
    residual: Option<&[f32]>,
    cache: Option<&PackedWeights>,
    out: &mut [MaybeUninit<f32>],
) {
    let pixels = g.out_h * g.out_w;
    let depth = x.channels * g.k * g.k;
    if pixels == 0 || x.batch == 0 || c2 == 0 {
        return;
    }
    let mut owned = Vec::new();
    let packed = super::packed_weights::<super::F32>(cache, weight, c2, depth, &mut owned);
    assert_eq!(out.len(), x.batch * c2 * pixels);
    assert!(residual.is_none_or(|r| r.len() == out.len()));
    if (g.k, g.stride, g.pad) == (3, 1, 1) && 4 * x.channels * x.height * x.width <= SAME_IMAGE_BYTES {
        return same_3x3(x, packed, bias, c2, act, residual, out);
    }
    let s = g.stride;
    let grid = Grid::banded(x.height, x.width, x.channels, g);
    let taps = grid.taps(x.channels, g.k);
    let plane = x.height * x.width;
    // Every value of a band is written before it is read. (A buffer kept between calls on
    // the thread measured 4% slower on YOLOv12n than this fresh one, and an uninitialised one
    // 5% slower.)
    let mut prepared = vec![0f32; x.channels * grid.channel()];

    let threads = super::threads();
    let weight_blocks = c2.div_ceil(MR);
    let dst = SharedOut(out.as_mut_ptr().cast::<f32>());
    let phases = s * s;

    for image in 0..x.batch {
        let src = x.image(image);
        for (first_row, rows) in grid.bands() {
            let len = grid.len(rows);
            let grid_blocks = len.div_ceil(NR);
            let Split { tile_blocks, tiles, group_blocks, groups } =
                Split::new(1, grid_blocks, weight_blocks, 4 * depth * c2, threads);
            prepared.par_chunks_mut(grid.plane).enumerate().with_min_len(super::min_len(1)).for_each(
                |(i, out)| {
                    let (channel, phase) = (i / phases, i % phases);
                    let src = &src[channel * plane..][..plane];
                    if phase == 0 {
                        // The band's input rows of this channel, requested from L3 at once
                        // (the phases read every other row, which the prefetchers follow
                        // late): the first convolutions at 320 px -6%.
                        let rows = (s * first_row).saturating_sub(g.pad)
                            ..(s * (first_row + grid.rows)).min(x.height);
                        prefetch(&src[rows.start * x.width..rows.end.max(rows.start) * x.width]);
                    }
                    grid.prepare(src, x.height, x.width, (phase / s, phase % s), first_row, out);
                },
            );
            let prepared = &prepared;
            (0..tiles * groups).into_par_iter().with_min_len(super::min_len(1)).for_each_init(
                Vec::new,
                |blocks, task| {
                    let (tile, group) = (task / groups, task % groups);
                    let first = tile * tile_blocks * NR;
                    let end = (first + tile_blocks * NR).min(len);
                    let weight_range = group * group_blocks..((group + 1) * group_blocks).min(weight_blocks);
                    blocks.clear();
                    blocks.extend((first..end).step_by(NR).map(|q0| {
                        let cols = NR.min(end - q0);
                        let (valid, o0) = grid.block(first_row, q0, cols);
                        (q0, cols, valid, o0)
                    }));
                    for block in weight_range {
                        let weights = &packed[block * depth * MR..][..depth * MR];
                        let rows = MR.min(c2 - block * MR);
                        let bias = &bias[block * MR..][..rows];
                        for &(q0, cols, valid, o0) in blocks.iter() {
                            if valid == 0 {
                                continue;
                            }
                            // SAFETY: the CPU has AVX-512F (the caller's check). Reads: for
                            // every tap, positions q0 + taps[p] + j (j < cols, q0 + cols <=
                            // len) lie inside the prepared band (`Grid::new` sizes the planes
                            // for the furthest tap). Writes: this task alone owns channels
                            // `block * MR ..` (`rows`) of image `image` and the output pixels
                            // of the band's grid positions q0 .. q0 + cols, which are
                            // `valid.count_ones()` values from `o0` on, inside `out`;
                            // `residual` has the same length as `out` and is read at the same
                            // places.
                            unsafe {
                                let offset = (image * c2 + block * MR) * pixels + o0;
                                let dst = dst.ptr().add(offset);
                                let residual = residual.map_or(std::ptr::null(), |r| r.as_ptr().add(offset));
                                let base = prepared.as_ptr().add(q0);
                                block_avx512(
                                    depth, weights, base, &taps, cols, valid, bias, act, residual, dst,
                                    pixels,
                                );
                            }
                        }
                    }
                },
            );
        }
    }
}

/// A 3x3, stride 1, pad 1 convolution (YOLO's bottlenecks and heads) straight from the
/// image, with no prepared copy: output pixel `q` of a plane reads tap `(dy, dx)` of channel
/// `c` at `c * plane + q + (dy - 1) * w + dx - 1`, and the lanes whose tap lies in the padding
/// (left of the first column, right of the last, above the first row or below the last) are
/// masked off, so they read as zeros. The grid is the output plane itself: no border columns
/// are computed. Tasks are tiles of `NR`-pixel blocks x groups of weight blocks, over every
/// image at once.
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
fn same_3x3(
    x: &Images,
    packed: &[f32],
    bias: &[f32],
    c2: usize,
    act: Activation,
    residual: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) {
    let (h, w) = (x.height, x.width);
    let plane = h * w;
    let depth = x.channels * 9;
    let taps: [isize; 9] =
        std::array::from_fn(|t| (t / 3) as isize * w as isize - w as isize + (t % 3) as isize - 1);
    let threads = super::threads();
    let weight_blocks = c2.div_ceil(MR);
    let blocks = plane.div_ceil(NR);
    let Split { tile_blocks, tiles, group_blocks, groups } =
        Split::new(x.batch, blocks, weight_blocks, 4 * depth * c2, threads);
    let dst = SharedOut(out.as_mut_ptr().cast::<f32>());
    (0..x.batch * tiles * groups).into_par_iter().with_min_len(super::min_len(1)).for_each_init(
        Vec::new,
        |masks, task| {
            let (image, tile, group) = (task / (tiles * groups), task / groups % tiles, task % groups);
            let first = tile * tile_blocks * NR;
            let end = (first + tile_blocks * NR).min(plane);
            // Per block, per tap, per 16-lane vector: the lanes whose tap is inside the image.
            masks.clear();
            for q0 in (first..end).step_by(NR) {
                for t in 0..9 {
                    let (dy, dx) = (t / 3, t % 3);
                    let mut lanes = [0u16; 2];
                    for j in 0..NR.min(end - q0) {
                        let (y, x) = ((q0 + j) / w, (q0 + j) % w);
                        if (1..=h).contains(&(y + dy)) && (1..=w).contains(&(x + dx)) {
                            lanes[j / 16] |= 1 << (j % 16);
                        }
                    }
                    masks.extend(lanes);
                }
            }
            let src = x.image(image);
            let weight_range = group * group_blocks..((group + 1) * group_blocks).min(weight_blocks);
            for block in weight_range {
                let weights = &packed[block * depth * MR..][..depth * MR];
                let rows = MR.min(c2 - block * MR);
                let bias = &bias[block * MR..][..rows];
                for (b, q0) in (first..end).step_by(NR).enumerate() {
                    let cols = NR.min(end - q0);
                    let masks: &[u16; 18] = masks[b * 18..][..18].try_into().expect("18 masks per block");
                    // SAFETY: the CPU has AVX-512F (the caller's check). Reads: the masks let
                    // through only taps inside the image's channel planes, in `src`. Writes:
                    // this task alone owns channels `block * MR ..` (`rows`) of image `image`
                    // at pixels q0 .. q0 + cols, inside `out`; `residual` has the same length
                    // as `out` and is read at the same places.
                    unsafe {
                        let offset = (image * c2 + block * MR) * plane + q0;
                        let dst = dst.ptr().add(offset);
                        let residual = residual.map_or(std::ptr::null(), |r| r.as_ptr().add(offset));
                        same_avx512(
                            x.channels,
                            weights,
                            src.as_ptr().add(q0),
                            &taps,
                            plane,
                            masks,
                            cols,
                            bias,
                            act,
                            residual,
                            dst,
                        );
                    }
                }
            }
        },
    );
}

/// One `MR x NR` output block of [`same_3x3`]: `acc[i, j] = sum_(c, t) weights[9c + t, i] *
/// base[c * plane + taps[t] + j]` over the lanes `masks[2t + v]` lets through (the others
/// count as zeros), then the epilogue, stored at `dst[i * plane + j]` (`j < cols`).
///
/// # Safety
/// The CPU must have AVX-512F; `base` must be valid for reads at `c * plane + taps[t] + 16v +
/// l` for every channel `c`, tap `t` and lane `l` set in `masks[2t + v]`; `residual` (unless
/// null) for reads and `dst` for writes at `i * plane + j` (`i < bias.len()`, `j < cols`),
/// which no other thread touches.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn same_avx512(
    channels: usize,
    weights: &[f32],
    base: *const f32,
    taps: &[isize; 9],
    plane: usize,
    masks: &[u16; 18],
    cols: usize,
    bias: &[f32],
    act: Activation,
    residual: *const f32,
    dst: *mut f32,
) {
    // SAFETY: the caller's contract, passed on unchanged.
    unsafe {
        let f = block_rows_for!(same_rows, bias.len(), cols);
        f(channels, weights, base, taps, plane, masks, cols, bias, act, residual, dst)
    }
}

/// [`same_avx512`] with `R <= MR` accumulator rows and `V` vectors of 16 pixels.
///
/// # Safety
/// As [`same_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn same_rows<const R: usize, const V: usize>(
    channels: usize,
    weights: &[f32],
    base: *const f32,
    taps: &[isize; 9],
    plane: usize,
    masks: &[u16; 18],
    cols: usize,
    bias: &[f32],
    act: Activation,
    residual: *const f32,
    dst: *mut f32,
) {
    use std::arch::x86_64::{
        __m512, _mm512_fmadd_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    };
    assert!(R <= MR && weights.len() >= channels * 9 * MR && bias.len() <= R && cols <= 16 * V);
    let mut acc: [[__m512; V]; R] = [[_mm512_setzero_ps(); V]; R];
    for (c, weights) in weights.chunks_exact(9 * MR).take(channels).enumerate() {
        let channel = base.wrapping_add(c * plane);
        for (t, a) in weights.chunks_exact(MR).enumerate() {
            let mut b = [_mm512_setzero_ps(); V];
            for (v, b) in b.iter_mut().enumerate() {
                // SAFETY: only the lanes the mask sets are read, all inside the image (the
                // caller's contract); the pointer to the others is never dereferenced.
                *b = unsafe {
                    _mm512_maskz_loadu_ps(
                        masks[2 * t + v],
                        channel.wrapping_offset(taps[t] + 16 * v as isize),
                    )
                };
            }
            for (acc, &a) in acc.iter_mut().zip(a) {
                let a = _mm512_set1_ps(a);
                for (acc, &b) in acc.iter_mut().zip(&b) {
                    *acc = _mm512_fmadd_ps(a, b, *acc);
                }
            }
        }
    }
    let mut store = [0u16; V];
    for (v, mask) in store.iter_mut().enumerate() {
        *mask = lane_mask(cols.saturating_sub(16 * v));
    }
    // SAFETY: the caller's contract.
    unsafe { super::store_rows(&acc, bias, act, residual, dst, plane, &store) };
}

/// Never called: the caller checks for AVX-512, which is x86-64 only.
#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn same_avx512(
    _: usize,
    _: &[f32],
    _: *const f32,
    _: &[isize; 9],
    _: usize,
    _: &[u16; 18],
    _: usize,
    _: &[f32],
    _: Activation,
    _: *const f32,
    _: *mut f32,
) {
    unreachable!("AVX-512 is x86-64 only")
}

/// [`same_3x3`] reads the image in place when it is at most this large (an image stays in L2
/// while its tasks run). Larger ones (at batch 8, a 40x40 map of 64 channels: 85 against 105
/// GMAC/s) are read far more slowly in place than from the prepared bands, which copy them
/// row by row.
const SAME_IMAGE_BYTES: usize = 256 << 10;

/// How a convolution's output blocks become tasks: a few per thread over `images` images of
/// `grid_blocks` blocks each, in grid tiles of at most 8 blocks and, for small maps, groups of
/// weight blocks as well (the input is shared, so splitting costs no copies). Each tile reads
/// its groups' weights once: weights larger than half of L2 (a 10x10 map's 128 -> 256
/// convolution: 1.2 MB) go to groups over one tile per image, or every tile would read them
/// from L3 again.
struct Split {
    tile_blocks: usize,
    tiles: usize,
    group_blocks: usize,
    groups: usize,
}

impl Split {
    fn new(
        images: usize,
        grid_blocks: usize,
        weight_blocks: usize,
        weight_bytes: usize,
        threads: usize,
    ) -> Self {
        let tile_blocks = if weight_bytes > BIG_WEIGHTS {
            grid_blocks
        } else {
            (images * grid_blocks).div_ceil(4 * threads).clamp(1, 8).min(grid_blocks)
        };
        let tiles = grid_blocks.div_ceil(tile_blocks);
        let groups = (4 * threads).div_ceil(images * tiles).clamp(1, weight_blocks);
        let group_blocks = weight_blocks.div_ceil(groups);
        Self { tile_blocks, tiles, group_blocks, groups: weight_blocks.div_ceil(group_blocks) }
    }
}

/// Packed weights above this size are not read once per grid tile (see [`Split`]).
const BIG_WEIGHTS: usize = 512 << 10;

/// About this many bytes of prepared input per band (with the weights and the band's output
/// it stays in this CPU's 1 MiB L2).
const BAND_BYTES: usize = 384 << 10;

/// Output rows per band at least (thinner bands repeat too many halo rows and weight reads).
const MIN_BAND: usize = 16;

/// One `MR x NR` output block over a prepared image: `acc[i, j] = sum_p weights[p, i] *
/// base[taps[p] + j]`, then `act(acc + bias)` for the lanes in `valid`, compressed together,
/// plus the residual, stored at `dst[i * dst_rs ..]`.
///
/// # Safety
/// The CPU must have AVX-512F; `base` must be valid for reads at `taps[p] + j` (`p < depth`,
/// `j < cols`), `residual` (unless null) for reads and `dst` for writes at `i * dst_rs + j`
/// (`i < bias.len()`, `j < valid.count_ones()`), which no other thread touches.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn block_avx512(
    depth: usize,
    weights: &[f32],
    base: *const f32,
    taps: &[usize],
    cols: usize,
    valid: u32,
    bias: &[f32],
    act: Activation,
    residual: *const f32,
    dst: *mut f32,
    dst_rs: usize,
) {
    // SAFETY: the caller's contract, passed on unchanged.
    unsafe {
        let f = block_rows_for!(block_rows, bias.len(), cols);
        f(depth, weights, base, taps, cols, valid, bias, act, residual, dst, dst_rs)
    }
}

/// [`block_avx512`] with `R <= MR` accumulator rows (`bias.len() <= R`) and `V` vectors of 16
/// columns (`cols <= 16 * V`: a last block of at most 16 grid positions costs half).
///
/// # Safety
/// As [`block_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn block_rows<const R: usize, const V: usize>(
    depth: usize,
    weights: &[f32],
    base: *const f32,
    taps: &[usize],
    cols: usize,
    valid: u32,
    bias: &[f32],
    act: Activation,
    residual: *const f32,
    dst: *mut f32,
    dst_rs: usize,
) {
    use std::arch::x86_64::{
        __m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_mask_storeu_ps, _mm512_maskz_compress_ps,
        _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    };
    assert!(
        R <= MR && weights.len() >= depth * MR && taps.len() >= depth && bias.len() <= R && cols <= 16 * V
    );
    let mut masks = [0u16; V];
    for (v, mask) in masks.iter_mut().enumerate() {
        *mask = lane_mask(cols.saturating_sub(16 * v));
    }
    let mut acc: [[__m512; V]; R] = [[_mm512_setzero_ps(); V]; R];
    for (a, &tap) in weights.chunks_exact(MR).zip(&taps[..depth]) {
        let mut b = [_mm512_setzero_ps(); V];
        for (v, b) in b.iter_mut().enumerate() {
            // SAFETY: positions tap + j, j < cols (the caller's contract; masked lanes are not
            // read).
            *b = unsafe { _mm512_maskz_loadu_ps(masks[v], base.add(tap + 16 * v)) };
        }
        for (acc, &a) in acc.iter_mut().zip(a) {
            let a = _mm512_set1_ps(a);
            for (acc, &b) in acc.iter_mut().zip(&b) {
                *acc = _mm512_fmadd_ps(a, b, *acc);
            }
        }
    }
    for (i, (acc, &b)) in acc.iter().zip(bias).enumerate() {
        let b = _mm512_set1_ps(b);
        // Where this row's values go: the output pixels among each vector's lanes, packed to
        // the front, one vector's after the other's.
        let mut at = 0;
        for (v, &acc) in acc.iter().enumerate() {
            let keep = (valid >> (16 * v)) as u16;
            let n = keep.count_ones() as usize;
            let store = lane_mask(n);
            let mut x = _mm512_add_ps(acc, b);
            if act == Activation::Silu {
                x = super::silu_avx512(x);
            }
            x = _mm512_maskz_compress_ps(keep, x);
            // SAFETY: row `i < bias.len()`, values `at .. at + n` of the `valid.count_ones()`
            // from `dst` (the caller's contract).
            unsafe {
                let out = dst.add(i * dst_rs + at);
                if !residual.is_null() {
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(store, residual.add(i * dst_rs + at)));
                }
                _mm512_mask_storeu_ps(out, store, x);
            }
            at += n;
        }
    }
}

/// Never called: the caller checks for AVX-512, which is x86-64 only.
#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn block_avx512(
    _: usize,
    _: &[f32],
    _: *const f32,
    _: &[usize],
    _: usize,
    _: u32,
    _: &[f32],
    _: Activation,
    _: *const f32,
    _: *mut f32,
    _: usize,
) {
    unreachable!("AVX-512 is x86-64 only")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_blocks_skip_the_border_columns() {
        // 5 x 5 input, 3x3 stride 1 pad 1: padded 7 wide, 5 output columns per 7 positions.
        let g = Geometry { k: 3, stride: 1, pad: 1, out_h: 5, out_w: 5 };
        let grid = Grid::new(5, 5, g, 100);
        assert_eq!((grid.ph, grid.pw, grid.band, grid.rows, grid.len(5)), (7, 7, 5, 7, 4 * 7 + 5));
        assert!(grid.plane >= 7 * 7 + 2 * 7 + 2 && (grid.plane / 16) % 2 == 1);
        let (valid, first) = grid.block(0, 0, 32);
        // Positions 0..32: columns 0-4 of rows 0-3 valid, 5-6 not; row 4 columns 0-3.
        let expected: u32 = (0..32).filter(|q| q % 7 < 5).fold(0, |m, q| m | 1 << q);
        assert_eq!((valid, first), (expected, 0));
        let (valid, first) = grid.block(0, 32, 1);
        assert_eq!((valid, first), (1, 4 * 5 + 4));
        // Bands of 2 output rows: 0-1, 2-3, 4; a band's position 0 is its first row's pixel 0.
        let banded = Grid::new(5, 5, g, 2);
        assert_eq!(banded.bands().collect::<Vec<_>>(), [(0, 2), (2, 2), (4, 1)]);
        assert_eq!(banded.rows, 4);
        assert_eq!(banded.block(2, 7, 1), (1, 3 * 5));
    }

    #[test]
    fn stride_two_phases_hold_every_other_pixel() {
        // 4 x 4 input, 3x3 stride 2 pad 1: padded 6 x 6, phases 3 x 3, output 2 x 2.
        let g = Geometry { k: 3, stride: 2, pad: 1, out_h: 2, out_w: 2 };
        let grid = Grid::new(4, 4, g, 2);
        let src: Vec<f32> = (1..=16).map(|v| v as f32).collect();
        // Garbage first: every value must be written.
        let mut out = vec![f32::NAN; grid.channel()];
        for (phase, plane) in out.chunks_exact_mut(grid.plane).enumerate() {
            grid.prepare(&src, 4, 4, (phase / 2, phase % 2), 0, plane);
        }
        assert!(out.iter().all(|v| !v.is_nan()));
        let phase = |a: usize, b: usize| out[(a * 2 + b) * grid.plane..][..9].to_vec();
        // Padded row 2a + r, column 2b + j; input (y, x) = padded (y + 1, x + 1).
        assert_eq!(phase(1, 1), [1.0, 3.0, 0.0, 9.0, 11.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(phase(0, 0), [0.0, 0.0, 0.0, 0.0, 6.0, 8.0, 0.0, 14.0, 16.0]);
        assert_eq!(phase(1, 0), [0.0, 2.0, 4.0, 0.0, 10.0, 12.0, 0.0, 0.0, 0.0]);
        assert_eq!(phase(0, 1)[3..6], [5.0, 7.0, 0.0]);
    }
}
