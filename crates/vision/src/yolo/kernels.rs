//! CPU kernels for the YOLO layers on f32 NCHW tensors, as candle custom ops (no fork of
//! candle): convolution with bias, activation and an optional residual fused into one pass
//! over the output ([`ConvOp`]), the (area) attention's per-head `softmax(q^T k) v`
//! ([`AttentionOp`]), SPPF's pools ([`SppfPools`]), the Detect head's decoding
//! ([`DetectDecode`]) and nearest 2x upsampling ([`Upsample2`]).
//!
//! - Dense convolutions with AVX-512: k x k ones read a zero-bordered, stride-phase-split copy
//!   of the image in place (`direct`, no im2col); 1x1 ones copy each pixel tile into
//!   contiguous 32-pixel panels. Both run a 12 x 32 register-blocked micro-kernel that applies
//!   the epilogue in registers. Without AVX-512, per tile an im2col buffer and the `gemm`
//!   crate (candle's own matmul kernels) for the product, then a vectorised epilogue loop.
//!   bf16 products (`bf16`) use the panels for every kernel size.
//! - Depthwise convolutions (stride 1): per channel plane, a zero-bordered copy so that every
//!   tap is one contiguous multiply-add.
//! - Attention: per image, area, head and query block, scores, softmax and values product in
//!   one task, reading q, k, v in place from the `qkv` convolution's output.
//!
//! Work is split over images x tiles (channel planes for depthwise) on rayon's global pool,
//! which sizes itself from `RAYON_NUM_THREADS` like candle does; every product inside a task is
//! single-threaded. Elementwise loops are compiled for AVX-512 / AVX2 and picked at run time
//! (`simd_dispatch!`), as the build targets baseline x86-64. Non-CPU devices keep candle's own
//! ops (see `conv.rs`, `attention.rs`, `block.rs`, `head.rs`).

// `gemm` and the AVX-512 intrinsics are raw-pointer APIs, and the parallel tiles write
// disjoint parts of one output buffer through a shared pointer; every unsafe block says why
// its accesses stay in bounds.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor, bail};
use gemm::Parallelism;
use rayon::prelude::*;

/// The instance of a micro-kernel `$f::<R, V>` for a block of `$rows` output channels and
/// `$cols` columns: 4, 8 or `MR` accumulator rows (no multiply-adds for padding rows of a last
/// block of 16, 32, 64 ... channels) and one or two 16-column vectors.
macro_rules! block_rows_for {
    ($f:ident, $rows:expr, $cols:expr) => {
        match ($rows, $cols <= 16) {
            (0..=4, true) => $f::<4, 1>,
            (0..=4, false) => $f::<4, 2>,
            (5..=8, true) => $f::<8, 1>,
            (5..=8, false) => $f::<8, 2>,
            (_, true) => $f::<MR, 1>,
            (_, false) => $f::<MR, 2>,
        }
    };
}

mod bf16;
mod direct;

/// What follows the bias add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    Identity,
    Silu,
}

/// Roughly how many f32s one tile's gemm right-hand side may hold (an L2-sized working set).
const TILE_WORKING_SET: usize = 48 * 1024;

/// `conv2d(x, weight, padding, stride, groups) + bias`, then the activation, then plus
/// `residual` if given. Operands `(x [b, c1, h, w], weight [c2, c1 / groups, k, k], bias [c2]
/// or [1, c2, 1, 1])`. `x` may be a channel slice of a larger tensor (see [`batch_stride`]);
/// `weight`, `bias` and `residual` (shaped like the output) must be contiguous. Groups: 1, or
/// depthwise (`groups == c1 == c2`, stride 1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConvOp<'a> {
    pub(crate) padding: usize,
    pub(crate) stride: usize,
    pub(crate) groups: usize,
    pub(crate) act: Activation,
    /// Added to the output in the same pass (a residual connection); read through its own
    /// storage lock, as candle's custom ops take at most three operands.
    pub(crate) residual: Option<&'a Tensor>,
    /// Dense convolutions multiply in bf16 (f32 sums) where the CPU has AVX512_BF16.
    pub(crate) bf16: bool,
    /// Where the weights packed for the micro-kernels are kept between calls (`None`: pack
    /// for this call only).
    pub(crate) packed: Option<&'a PackedWeights>,
    /// More input channels after `x`'s, in order: the convolution reads
    /// `cat([x, more...], 1)` without that concatenation being made (1x1 convolutions read
    /// each part in place; other kernels get it joined). Same batch and size as `x`.
    pub(crate) more: &'a [Tensor],
}

/// A convolution's weights in the micro-kernels' layouts, packed on first use and kept: the
/// weights never change after loading, and packing them every forward cost 5-10% at 320 px.
#[derive(Debug, Default)]
pub(crate) struct PackedWeights {
    f32: std::sync::OnceLock<Vec<f32>>,
    bf16: std::sync::OnceLock<Vec<u32>>,
}

/// How the CPU kernels multiply in the dense convolutions of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuMultiply {
    /// f32 products and sums.
    #[default]
    F32,
    /// bf16 weights and inputs, f32 sums (AVX512_BF16 dot products); f32 where the CPU lacks
    /// the instruction. Activations and everything else stay f32.
    Bf16,
}

impl CpuMultiply {
    /// Whether this CPU runs `Bf16` as bf16 (otherwise it runs as `F32`).
    pub fn bf16_available() -> bool {
        bf16::available()
    }
}

thread_local! {
    /// The multiply of the model being built on this thread (see [`building_with`]).
    static BUILDING: std::cell::Cell<CpuMultiply> = const { std::cell::Cell::new(CpuMultiply::F32) };
}

/// Runs `build` with `multiply` as what [`building_multiply`] answers on this thread, so that
/// every convolution of a model picks it up without threading it through each block's
/// constructor.
pub(crate) fn building_with<T>(multiply: CpuMultiply, build: impl FnOnce() -> T) -> T {
    let before = BUILDING.with(|b| b.replace(multiply));
    let built = build();
    BUILDING.with(|b| b.set(before));
    built
}

/// The multiply of the model being built (F32 outside [`building_with`]).
pub(crate) fn building_multiply() -> CpuMultiply {
    BUILDING.with(std::cell::Cell::get)
}

/// Whether `t` can go through these kernels' ops: an f32 tensor on the CPU.
pub(crate) fn cpu_f32(t: &Tensor) -> bool {
    t.device().is_cpu() && t.dtype() == candle_core::DType::F32
}

/// The stride between images of a `[b, c, h, w]` layout whose channel planes are packed
/// (strides `[_, h * w, w, 1]`), which every kernel here can read in place; `None` otherwise.
pub(crate) fn batch_stride(layout: &Layout) -> Option<usize> {
    let dims = layout.dims();
    let stride = layout.stride();
    if dims.len() != 4 {
        return None;
    }
    let (c, h, w) = (dims[1], dims[2], dims[3]);
    let packed = (c <= 1 || stride[1] == h * w) && (h <= 1 || stride[2] == w) && (w <= 1 || stride[3] == 1);
    packed.then_some(stride[0])
}

fn f32_data<'a>(storage: &'a CpuStorage, what: &str) -> Result<&'a [f32]> {
    match storage {
        CpuStorage::F32(data) => Ok(data),
        other => bail!("{what}: expected f32, got {:?}", other.dtype()),
    }
}

fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = f32_data(storage, what)?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("{what}: expected a contiguous tensor"),
    }
}

/// An input whose images start `batch_stride` apart, each `[channels, height, width]` packed.
#[derive(Debug, Clone, Copy)]
struct Images<'a> {
    data: &'a [f32],
    batch_stride: usize,
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
}

impl<'a> Images<'a> {
    fn new(storage: &'a CpuStorage, layout: &Layout) -> Result<Self> {
        let data = f32_data(storage, "conv input")?;
        let (batch, channels, height, width) = layout.shape().dims4()?;
        let Some(batch_stride) = batch_stride(layout) else {
            bail!("conv input: channel planes are not packed (strides {:?})", layout.stride());
        };
        let data = &data[layout.start_offset()..];
        let image_len = channels * height * width;
        if batch > 0 && data.len() < (batch - 1) * batch_stride + image_len {
            bail!("conv input: storage shorter than its layout");
        }
        Ok(Self { data, batch_stride, batch, channels, height, width })
    }

    /// Contiguous `[batch, channels, height, width]` values.
    fn whole(data: &'a [f32], batch: usize, height: usize, width: usize) -> Self {
        let image_len = data.len() / batch.max(1);
        let channels = image_len / (height * width).max(1);
        Self { data, batch_stride: image_len, batch, channels, height, width }
    }

    fn image(&self, index: usize) -> &'a [f32] {
        &self.data[index * self.batch_stride..][..self.channels * self.height * self.width]
    }
}

/// `cat(parts, 1)` as contiguous values (parts of equal batch and size).
fn join_channels(parts: &[Images]) -> Vec<f32> {
    let mut joined = Vec::with_capacity(parts.iter().map(|p| p.batch * p.image(0).len()).sum());
    for image in 0..parts.first().map_or(0, |p| p.batch) {
        for part in parts {
            joined.extend_from_slice(part.image(image));
        }
    }
    joined
}

thread_local! {
    /// Set while this thread runs a whole forward by itself (see [`serially`]).
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every kernel it calls on this thread working alone: no parallel loop splits,
/// tiles sized for one thread. For forwards that already run one per thread (a batch's images
/// at once), where splitting each layer again only adds hand-offs and cross-image stealing.
pub(crate) fn serially<T>(f: impl FnOnce() -> T) -> T {
    let before = SERIAL.with(|s| s.replace(true));
    let out = f();
    SERIAL.with(|s| s.set(before));
    out
}

/// The threads a kernel's work may be split over.
fn threads() -> usize {
    if SERIAL.with(std::cell::Cell::get) { 1 } else { rayon::current_num_threads().max(1) }
}

/// The least work items per parallel piece: `least`, or all of them on one thread inside
/// [`serially`].
fn min_len(least: usize) -> usize {
    if SERIAL.with(std::cell::Cell::get) { usize::MAX } else { least }
}

/// The output pointer shared by the parallel tiles.
#[derive(Debug, Clone, Copy)]
struct SharedOut(*mut f32);

// SAFETY: the pointer is only dereferenced by tasks that write disjoint ranges of a buffer
// that outlives the parallel loop.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// A method, so that closures capture the whole (Send) struct, not the raw field.
    fn ptr(self) -> *mut f32 {
        self.0
    }
}

/// Pixels per tile: small enough that a tile's right-hand side (`depth` rows) stays in cache
/// and that there are a few tiles per thread, a multiple of 16 (the gemm micro-kernel width).
fn tile_pixels(batch: usize, pixels: usize, depth: usize) -> usize {
    let by_cache = TILE_WORKING_SET / depth.max(1);
    let threads = threads();
    let by_balance = (batch * pixels).div_ceil(4 * threads);
    let tile = by_cache.min(by_balance).max(16);
    tile.div_ceil(16) * 16
}

impl CustomOp3 for ConvOp<'_> {
    fn name(&self) -> &'static str {
        "lacuna-conv2d-bias-act"
    }

    fn cpu_fwd(
        &self,
        x_storage: &CpuStorage,
        x_layout: &Layout,
        w_storage: &CpuStorage,
        w_layout: &Layout,
        b_storage: &CpuStorage,
        b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let weight = contiguous_f32(w_storage, w_layout, "conv weight")?;
        let bias = contiguous_f32(b_storage, b_layout, "conv bias")?;
        let (c2, c1_per_group, k, kw) = w_layout.shape().dims4()?;
        let (pad, stride, groups) = (self.padding, self.stride, self.groups);
        let more_storage = self.more.iter().map(Tensor::storage_and_layout).collect::<Vec<_>>();
        let mut parts = vec![Images::new(x_storage, x_layout)?];
        for (storage, layout) in &more_storage {
            let candle_core::Storage::Cpu(storage) = &**storage else {
                bail!("conv input part: not on the CPU");
            };
            let part = Images::new(storage, layout)?;
            if (part.batch, part.height, part.width) != (parts[0].batch, parts[0].height, parts[0].width) {
                bail!("conv input parts: {:?} does not fit {:?}", layout.dims(), x_layout.dims());
            }
            parts.push(part);
        }
        // Only the f32 1x1 micro-kernel reads the parts in place.
        let in_place = parts.len() == 1
            || (groups == 1 && k == 1 && stride == 1 && pad == 0 && simd() == Simd::Avx512 && !self.bf16);
        let joined;
        if !in_place {
            joined = join_channels(&parts);
            parts = vec![Images::whole(&joined, parts[0].batch, parts[0].height, parts[0].width)];
        }
        let channels = parts.iter().map(|p| p.channels).sum::<usize>();
        // The single-part kernels' input (`parts` has one part unless the 1x1 kernel runs).
        let x = &parts[0];
        if k != kw || stride == 0 || groups == 0 || c1_per_group * groups != channels || bias.len() != c2 {
            bail!(
                "conv: weight {:?}, bias {:?} and groups {groups} do not fit input {:?}",
                w_layout.dims(),
                b_layout.dims(),
                x_layout.dims()
            );
        }
        if x.height + 2 * pad < k || x.width + 2 * pad < k {
            bail!("conv: {k}x{k} kernel larger than the padded {}x{} input", x.height, x.width);
        }
        let out_h = (x.height + 2 * pad - k) / stride + 1;
        let out_w = (x.width + 2 * pad - k) / stride + 1;
        let len = x.batch * c2 * out_h * out_w;
        let geometry = Geometry { k, stride, pad, out_h, out_w };
        let residual_storage = self.residual.map(Tensor::storage_and_layout);
        let residual = match &residual_storage {
            None => None,
            Some((storage, layout)) => {
                let candle_core::Storage::Cpu(storage) = &**storage else {
                    bail!("conv residual: not on the CPU");
                };
                if layout.dims() != [x.batch, c2, out_h, out_w] {
                    bail!(
                        "conv residual: shape {:?}, output {:?}",
                        layout.dims(),
                        [x.batch, c2, out_h, out_w]
                    );
                }
                Some(contiguous_f32(storage, layout, "conv residual")?)
            }
        };
        let out = if groups == 1 && simd() == Simd::Avx512 {
            // Every value is written exactly once, so start from uninitialised memory (no
            // zeroing pass).
            let mut uninit = Vec::with_capacity(len);
            let (act, packed, out) = (self.act, self.packed, &mut uninit.spare_capacity_mut()[..len]);
            if self.bf16 && bf16::available() {
                dense::<bf16::Bf16>(&parts, weight, bias, c2, geometry, act, residual, packed, out);
            } else if k > 1 {
                direct::conv(x, weight, bias, c2, geometry, act, residual, packed, out);
            } else {
                dense::<F32>(&parts, weight, bias, c2, geometry, act, residual, packed, out);
            }
            // SAFETY: the kernel wrote all `len` values (every image, pixel and channel).
            unsafe { uninit.set_len(len) };
            uninit
        } else if groups == 1 {
            let mut out = vec![0f32; len];
            if k == 1 && stride == 1 && pad == 0 {
                pointwise(x, weight, bias, c2, self.act, &mut out);
            } else {
                im2col_gemm(x, weight, bias, c2, geometry, self.act, &mut out);
            }
            if let Some(residual) = residual {
                add_assign(&mut out, residual);
            }
            out
        } else if groups == channels && c2 == channels && stride == 1 {
            let mut out = vec![0f32; len];
            depthwise(x, weight, bias, geometry, self.act, residual, &mut out);
            out
        } else {
            bail!("conv: groups {groups} with stride {stride} has no CPU kernel");
        };
        Ok((CpuStorage::F32(out), Shape::from((x.batch, c2, out_h, out_w))))
    }
}

#[derive(Debug, Clone, Copy)]
struct Geometry {
    k: usize,
    stride: usize,
    pad: usize,
    out_h: usize,
    out_w: usize,
}

/// `dst[r, j] = sum_d lhs[r, d] * rhs[d, j]` for an `m x n` tile, single-threaded, then the
/// epilogue `dst[r, j] = act(dst[r, j] + bias[r])` while the tile is still in cache.
///
/// # Safety
/// `dst` must be valid for writes at `r * dst_rs + j` and `rhs` for reads at `d * rhs_rs + j`
/// (`r < m`, `d < depth`, `j < n`), with no other thread touching those `dst` elements;
/// `lhs` holds `m x depth` row-major.
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn gemm_tile(
    m: usize,
    n: usize,
    depth: usize,
    dst: *mut f32,
    dst_rs: usize,
    lhs: &[f32],
    rhs: *const f32,
    rhs_rs: usize,
    bias: &[f32],
    act: Activation,
) {
    debug_assert!(lhs.len() >= m * depth && bias.len() >= m);
    // SAFETY: the caller's contract; `lhs` is checked above.
    unsafe {
        gemm::gemm(
            m,
            n,
            depth,
            dst,
            1,
            dst_rs as isize,
            false,
            lhs.as_ptr(),
            1,
            depth as isize,
            rhs,
            1,
            rhs_rs as isize,
            0f32,
            1f32,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
    for (r, &b) in bias.iter().enumerate().take(m) {
        // SAFETY: row `r` of the tile, `n` elements, owned by this task (the caller's contract).
        let row = unsafe { std::slice::from_raw_parts_mut(dst.add(r * dst_rs), n) };
        bias_act(row, b, act);
    }
}

/// Keeps freed memory in the process instead of handing it back to the kernel, once per
/// process. A forward allocates and frees the same activation sizes every time; with glibc's
/// defaults, buffers of a few MB are `mmap`ed or trimmed off the heap when freed, and every page
/// of the next forward's buffers faults in again (5-8% of a YOLOv12n forward on one core).
/// Costs the high-water mark of one forward's memory, which stays with the process.
pub(crate) fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes glibc's allocator parameters; both values are in
            // range (the mmap threshold is at most 32 MiB on 64-bit).
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}

/// The widest vector extension the elementwise loops may use, checked at run time (the build
/// targets baseline x86-64; `gemm` dispatches the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Simd {
    Baseline,
    Avx2,
    Avx512,
}

fn simd() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx2") && has!("fma") {
            return Simd::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Simd::Avx2;
        }
    }
    Simd::Baseline
}

/// Defines `$name`, which runs `$body` (an `#[inline(always)]` function with the same
/// arguments) compiled for AVX-512 or AVX2 + FMA when the CPU has them, baseline otherwise.
macro_rules! simd_dispatch {
    ($(#[$doc:meta])* fn $name:ident => $body:ident ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                #[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
                fn avx512($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
                fn avx2($($arg: $ty),*) {
                    $body($($arg),*)
                }
                match simd() {
                    // SAFETY: the CPU has the features the function is compiled for.
                    Simd::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    Simd::Avx2 => return unsafe { avx2($($arg),*) },
                    Simd::Baseline => {}
                }
            }
            $body($($arg),*)
        }
    };
}

mod decode;
mod pool;
mod upsample;
pub(crate) use decode::DetectDecode;
pub(crate) use pool::SppfPools;
pub(crate) use upsample::Upsample2;

/// `out += residual`, in parallel.
fn add_assign(out: &mut [f32], residual: &[f32]) {
    out.par_chunks_mut(16 * 1024)
        .zip(residual.par_chunks(16 * 1024))
        .with_min_len(min_len(1))
        .for_each(|(o, r)| add_run(o, r));
}

simd_dispatch! {
    /// `out += residual` over one run.
    fn add_run => add_run_body(out: &mut [f32], residual: &[f32])
}

#[inline(always)]
fn add_run_body(out: &mut [f32], residual: &[f32]) {
    out.iter_mut().zip(residual).for_each(|(o, &r)| *o += r);
}

simd_dispatch! {
    /// `row = act(row + bias)`.
    fn bias_act => bias_act_body(row: &mut [f32], bias: f32, act: Activation)
}

#[inline(always)]
fn bias_act_body(row: &mut [f32], bias: f32, act: Activation) {
    match act {
        Activation::Identity => row.iter_mut().for_each(|v| *v += bias),
        Activation::Silu => row.iter_mut().for_each(|v| *v = silu(*v + bias)),
    }
}

/// Rows of the AVX-512 micro-kernel's output block (output channels).
const MR: usize = 12;
/// Columns of the AVX-512 micro-kernel's output block (pixels, two 16-lane vectors).
const NR: usize = 32;

/// `weight [m, depth]` row-major, as `[m / MR, depth, MR]` (zero rows padding the last block).
fn pack_weights(weight: &[f32], m: usize, depth: usize) -> Vec<f32> {
    let mut packed = vec![0f32; m.div_ceil(MR) * depth * MR];
    for (r, row) in weight.chunks_exact(depth).take(m).enumerate() {
        let block = &mut packed[(r / MR) * depth * MR..][..depth * MR];
        for (p, &v) in row.iter().enumerate() {
            block[p * MR + r % MR] = v;
        }
    }
    packed
}

/// How a dense kernel multiplies: the packed layouts of the weights and of a tile's right-hand
/// side, and one output block. [`F32`] here; bf16 products in [`bf16::Bf16`].
trait Multiply {
    /// One packed value: an f32, or two bf16 in a u32.
    type Elem: Copy + Default + Send + Sync;
    /// Rows of a packed panel for a depth (pairs of rows for bf16).
    fn panel_rows(depth: usize) -> usize;
    /// `weight [m, depth]` in the kernel's layout, `MR` channels per block.
    fn pack_weights(weight: &[f32], m: usize, depth: usize) -> Vec<Self::Elem>;
    /// Where [`PackedWeights`] keeps this layout.
    fn kept(cache: &PackedWeights) -> &std::sync::OnceLock<Vec<Self::Elem>>;
    /// Output pixels `start..start + n` of one image as panels of `NR` pixels. The input is
    /// the concatenation of `parts` (one part unless the convolution is 1x1 in f32).
    #[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
    fn pack_tile(
        parts: &[Images],
        image: usize,
        g: Geometry,
        start: usize,
        n: usize,
        scratch: &mut Vec<f32>,
        panels: &mut [Self::Elem],
    );
    /// One output block of `bias.len() <= MR` channels and `cols <= NR` pixels.
    ///
    /// # Safety
    /// The CPU has this kernel's instructions; `rhs` is a packed panel of
    /// `panel_rows(depth)` rows; `residual` (unless null) is valid for reads and `dst` for
    /// writes at `i * dst_rs + j` (`i < bias.len()`, `j < cols`), which no other thread touches.
    #[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
    unsafe fn block(
        depth: usize,
        weights: &[Self::Elem],
        rhs: *const Self::Elem,
        cols: usize,
        bias: &[f32],
        act: Activation,
        residual: *const f32,
        dst: *mut f32,
        dst_rs: usize,
    );
}

/// f32 products and sums (AVX-512F).
struct F32;

impl Multiply for F32 {
    type Elem = f32;

    fn panel_rows(depth: usize) -> usize {
        depth
    }

    fn pack_weights(weight: &[f32], m: usize, depth: usize) -> Vec<f32> {
        pack_weights(weight, m, depth)
    }

    fn kept(cache: &PackedWeights) -> &std::sync::OnceLock<Vec<f32>> {
        &cache.f32
    }

    fn pack_tile(
        parts: &[Images],
        image: usize,
        g: Geometry,
        start: usize,
        n: usize,
        scratch: &mut Vec<f32>,
        panels: &mut [f32],
    ) {
        if g.k == 1 && g.stride == 1 && g.pad == 0 {
            return pointwise_panels(parts, image, start, n, panels);
        }
        let [x] = parts else { panic!("a k x k convolution reads one input, not {} parts", parts.len()) };
        im2col_panels(x.image(image), x.height, x.width, g, start, n, scratch, panels);
    }

    unsafe fn block(
        depth: usize,
        weights: &[f32],
        rhs: *const f32,
        cols: usize,
        bias: &[f32],
        act: Activation,
        residual: *const f32,
        dst: *mut f32,
        dst_rs: usize,
    ) {
        // SAFETY: the caller's contract; a panel's rows are `NR` apart.
        unsafe { block_avx512(depth, weights, rhs, NR, cols, bias, act, residual, dst, dst_rs) }
    }
}

/// `weight [c2, depth]` in `M`'s layout: kept in `cache` (packed on first use) when given,
/// else packed into `owned` for this call.
fn packed_weights<'a, M: Multiply>(
    cache: Option<&'a PackedWeights>,
    weight: &[f32],
    c2: usize,
    depth: usize,
    owned: &'a mut Vec<M::Elem>,
) -> &'a [M::Elem] {
    match cache {
        Some(cache) => M::kept(cache).get_or_init(|| M::pack_weights(weight, c2, depth)),
        None => {
            *owned = M::pack_weights(weight, c2, depth);
            owned
        }
    }
}

/// Any dense convolution (1x1 included) with AVX-512: per image and pixel tile, the
/// right-hand side `[depth, tile]` is copied into panels of `NR` pixels (im2col for k x k);
/// every `MR`-channel weight block then runs over every panel, the epilogue adding the bias,
/// the activation and the residual before the block is stored. The weights are packed once
/// into `cache` when given.
///
/// The caller checked that the CPU has `M`'s instructions.
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
fn dense<M: Multiply>(
    parts: &[Images],
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
    let depth = parts.iter().map(|p| p.channels).sum::<usize>() * g.k * g.k;
    let batch = parts.first().map_or(0, |p| p.batch);
    if pixels == 0 || batch == 0 || c2 == 0 {
        return;
    }
    let mut owned = Vec::new();
    let packed = packed_weights::<M>(cache, weight, c2, depth, &mut owned);
    let rows_per_panel = M::panel_rows(depth);
    let tile = tile_pixels(batch, pixels, depth).div_ceil(NR) * NR;
    let tiles = pixels.div_ceil(tile);
    assert_eq!(out.len(), batch * c2 * pixels);
    assert!(residual.is_none_or(|r| r.len() == out.len()));
    let dst = SharedOut(out.as_mut_ptr().cast::<f32>());
    (0..batch * tiles).into_par_iter().with_min_len(min_len(1)).for_each_init(
        || (Vec::<M::Elem>::new(), Vec::<f32>::new()),
        |(panels, scratch), task| {
            let (image, start) = (task / tiles, (task % tiles) * tile);
            let n = tile.min(pixels - start);
            // No clearing: every value the kernel reads is written.
            panels.resize(n.div_ceil(NR) * rows_per_panel * NR, M::Elem::default());
            M::pack_tile(parts, image, g, start, n, scratch, panels);
            for (block, weights) in packed.chunks_exact(rows_per_panel * MR).enumerate() {
                let rows = MR.min(c2 - block * MR);
                let bias = &bias[block * MR..][..rows];
                for first in (0..n).step_by(NR) {
                    let cols = NR.min(n - first);
                    // SAFETY: the CPU has `M`'s instructions (the caller's check). Reads: panel
                    // `first / NR`, `rows_per_panel` rows of `NR` values, inside `panels`
                    // (`first < n`). Writes: this task alone owns channels `block * MR ..`
                    // (`rows`), pixels `start + first ..` (`cols`) of image `image`, inside
                    // `out`; `residual` has the same length as `out` and is read at the same
                    // places.
                    unsafe {
                        let offset = (image * c2 + block * MR) * pixels + start + first;
                        let dst = dst.ptr().add(offset);
                        let residual = residual.map_or(std::ptr::null(), |r| r.as_ptr().add(offset));
                        let rhs = panels.as_ptr().add(first * rows_per_panel);
                        M::block(depth, weights, rhs, cols, bias, act, residual, dst, pixels);
                    }
                }
            }
        },
    );
}

/// One `MR x NR` output block: `acc = weights [depth, MR]^T x rhs [depth, cols]`, then
/// `dst[i * dst_rs + j] = act(acc[i, j] + bias[i]) (+ residual[i * dst_rs + j])` for
/// `i < bias.len()`, `j < cols`.
///
/// # Safety
/// The CPU must have AVX-512F; `rhs` must be valid for reads at `p * rhs_rs + j` (`p < depth`,
/// `j < cols`), `residual` (unless null) for reads and `dst` for the writes above, which no
/// other thread may touch.
///
/// A block of at most 4 or 8 rows (the last one of 16, 32, 64 ... channels) runs a kernel of
/// that many rows, so no multiply-adds go to padding rows.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn block_avx512(
    depth: usize,
    weights: &[f32],
    rhs: *const f32,
    rhs_rs: usize,
    cols: usize,
    bias: &[f32],
    act: Activation,
    residual: *const f32,
    dst: *mut f32,
    dst_rs: usize,
) {
    // SAFETY: the caller's contract, passed on unchanged.
    unsafe {
        let f = block_rows_for!(block_rows, bias.len(), cols);
        f(depth, weights, rhs, rhs_rs, cols, bias, act, residual, dst, dst_rs)
    }
}

/// [`block_avx512`] with `R <= MR` accumulator rows (`bias.len() <= R`) and `V` vectors of 16
/// columns (`cols <= 16 * V`: a last panel of at most 16 pixels costs half); `weights` keeps
/// its `MR`-wide layout.
///
/// # Safety
/// As [`block_avx512`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn block_rows<const R: usize, const V: usize>(
    depth: usize,
    weights: &[f32],
    rhs: *const f32,
    rhs_rs: usize,
    cols: usize,
    bias: &[f32],
    act: Activation,
    residual: *const f32,
    dst: *mut f32,
    dst_rs: usize,
) {
    use std::arch::x86_64::{
        __m512, _mm512_fmadd_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps,
    };
    assert!(R <= MR && weights.len() >= depth * MR && bias.len() <= R && cols <= 16 * V);
    // Masked loads never touch the columns past `cols`.
    let mut masks = [0u16; V];
    for (v, mask) in masks.iter_mut().enumerate() {
        *mask = lane_mask(cols.saturating_sub(16 * v));
    }
    let mut acc: [[__m512; V]; R] = [[_mm512_setzero_ps(); V]; R];
    for (p, a) in weights.chunks_exact(MR).take(depth).enumerate() {
        let mut b = [_mm512_setzero_ps(); V];
        for (v, b) in b.iter_mut().enumerate() {
            // SAFETY: row `p < depth`, columns `< cols` (the caller's contract).
            *b = unsafe { _mm512_maskz_loadu_ps(masks[v], rhs.add(p * rhs_rs + 16 * v)) };
        }
        for (acc, &a) in acc.iter_mut().zip(a) {
            let a = _mm512_set1_ps(a);
            for (acc, &b) in acc.iter_mut().zip(&b) {
                *acc = _mm512_fmadd_ps(a, b, *acc);
            }
        }
    }
    // SAFETY: the caller's contract.
    unsafe { store_rows(&acc, bias, act, residual, dst, dst_rs, &masks) };
}

/// The mask of the first `n` of 16 lanes (all of them for `n >= 16`).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn lane_mask(n: usize) -> u16 {
    if n >= 16 { 0xffff } else { (1u16 << n) - 1 }
}

/// The micro-kernels' epilogue, in registers: `act(acc + bias) (+ residual)` for rows
/// `i < bias.len()`, stored through the column masks.
///
/// # Safety
/// The CPU must have AVX-512F; `residual` (unless null) must be valid for reads and `dst` for
/// writes at `i * dst_rs + j` for those rows and the columns the masks select.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn store_rows<const R: usize, const V: usize>(
    acc: &[[std::arch::x86_64::__m512; V]; R],
    bias: &[f32],
    act: Activation,
    residual: *const f32,
    dst: *mut f32,
    dst_rs: usize,
    masks: &[u16; V],
) {
    use std::arch::x86_64::{_mm512_add_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps};
    for (i, (acc, &b)) in acc.iter().zip(bias).enumerate() {
        let b = _mm512_set1_ps(b);
        for (v, (&acc, &mask)) in acc.iter().zip(masks).enumerate() {
            let mut x = _mm512_add_ps(acc, b);
            if act == Activation::Silu {
                x = silu_avx512(x);
            }
            // SAFETY: row `i < bias.len()`, columns `< cols` through the masks (the caller's
            // contract); masked-off lanes are neither read nor written.
            unsafe {
                let at = i * dst_rs + 16 * v;
                if !residual.is_null() {
                    x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, residual.add(at)));
                }
                _mm512_mask_storeu_ps(dst.add(at), mask, x);
            }
        }
    }
}

/// [`silu`] on sixteen lanes in 17 vector operations (it runs once per output value, a third
/// of a 64-deep 1x1 convolution's time): `e^-x = 2^n e^-t` with `t = x + n ln 2`, `|t| <=
/// ln 2 / 2`, from the degree-6 Taylor polynomial (1.2e-7 relative) and `vscalefps`; then
/// `x / (1 + e^-x)` from the 14-bit reciprocal estimate plus one Newton step (about 1e-8
/// relative) instead of a division. `x` is clamped to +-88 inside the exponential only.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn silu_avx512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::{
        _mm512_add_ps, _mm512_fmadd_ps, _mm512_fnmadd_ps, _mm512_max_ps, _mm512_min_ps, _mm512_mul_ps,
        _mm512_rcp14_ps, _mm512_set1_ps, _mm512_sub_ps,
    };
    let one = _mm512_set1_ps(1.0);
    let y = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0)), _mm512_set1_ps(-88.0));
    // n = round(-y log2 e): adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    let round = _mm512_set1_ps(12_582_912.0);
    let n = _mm512_sub_ps(_mm512_fmadd_ps(y, _mm512_set1_ps(-std::f32::consts::LOG2_E), round), round);
    let t = _mm512_fmadd_ps(n, _mm512_set1_ps(0.693_359_4), y);
    let t = _mm512_fmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), t);
    let e = scaled_exp_avx512(t, n, -1.0);
    let d = _mm512_add_ps(one, e);
    let inv = _mm512_rcp14_ps(d);
    let inv = _mm512_mul_ps(inv, _mm512_fnmadd_ps(d, inv, _mm512_set1_ps(2.0)));
    _mm512_mul_ps(x, inv)
}

/// `e^x` on sixteen lanes ([`exp`] with `vscalefps`), `x` clamped to `-87..=88`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exp_avx512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::{
        _mm512_fmadd_ps, _mm512_fnmadd_ps, _mm512_max_ps, _mm512_min_ps, _mm512_set1_ps, _mm512_sub_ps,
    };
    let x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.0)), _mm512_set1_ps(-87.0));
    // n = round(x log2 e): adding and subtracting 1.5 * 2^23 rounds to the nearest integer.
    let round = _mm512_set1_ps(12_582_912.0);
    let n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E), round), round);
    let t = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
    let t = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), t);
    scaled_exp_avx512(t, n, 1.0)
}

/// `2^n e^(sign t)` for `|t| <= ln 2 / 2` and `sign` 1 or -1: the degree-6 Taylor polynomial
/// of `e^(sign t)` (1.2e-7 relative) scaled by `vscalefps`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn scaled_exp_avx512(
    t: std::arch::x86_64::__m512,
    n: std::arch::x86_64::__m512,
    sign: f32,
) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_scalef_ps, _mm512_set1_ps};
    // sign^i / i!, i = 6 down to 0.
    let s = sign;
    let mut p = _mm512_set1_ps(1.0 / 720.0);
    for c in [s / 120.0, 1.0 / 24.0, s / 6.0, 0.5, s, 1.0] {
        p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(p, n)
}

/// Never called: [`simd`] only reports AVX-512 on x86-64.
#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn block_avx512(
    _: usize,
    _: &[f32],
    _: *const f32,
    _: usize,
    _: usize,
    _: &[f32],
    _: Activation,
    _: *const f32,
    _: *mut f32,
    _: usize,
) {
    unreachable!("AVX-512 is x86-64 only")
}

/// 1x1 convolution: per image and pixel tile, `out[:, tile] = weight [c2, c1] x x[:, tile]`.
fn pointwise(x: &Images, weight: &[f32], bias: &[f32], c2: usize, act: Activation, out: &mut [f32]) {
    let pixels = x.height * x.width;
    let c1 = x.channels;
    if pixels == 0 || x.batch == 0 {
        return;
    }
    let tile = tile_pixels(x.batch, pixels, c1);
    let tiles = pixels.div_ceil(tile);
    assert_eq!(out.len(), x.batch * c2 * pixels);
    let dst = SharedOut(out.as_mut_ptr());
    (0..x.batch * tiles).into_par_iter().with_min_len(min_len(1)).for_each(|task| {
        let (image, start) = (task / tiles, (task % tiles) * tile);
        let n = tile.min(pixels - start);
        let input = &x.image(image)[start..];
        // SAFETY: this task writes rows 0..c2, columns start..start + n of image `image`'s
        // `[c2, pixels]` output, disjoint from every other task; it reads rows 0..c1, columns
        // 0..n of `input` (row stride `pixels`), inside the image's `c1 * pixels` slice.
        unsafe {
            let dst = dst.ptr().add(image * c2 * pixels + start);
            gemm_tile(c2, n, c1, dst, pixels, weight, input.as_ptr(), pixels, bias, act);
        }
    });
}

/// Dense k x k convolution: per image and output pixel tile, copy the receptive fields into a
/// `[c1 * k * k, tile]` buffer and multiply by `weight [c2, c1 * k * k]`.
fn im2col_gemm(
    x: &Images,
    weight: &[f32],
    bias: &[f32],
    c2: usize,
    g: Geometry,
    act: Activation,
    out: &mut [f32],
) {
    let pixels = g.out_h * g.out_w;
    let depth = x.channels * g.k * g.k;
    if pixels == 0 || x.batch == 0 {
        return;
    }
    let tile = tile_pixels(x.batch, pixels, depth);
    let tiles = pixels.div_ceil(tile);
    assert_eq!(out.len(), x.batch * c2 * pixels);
    let dst = SharedOut(out.as_mut_ptr());
    (0..x.batch * tiles).into_par_iter().with_min_len(min_len(1)).for_each_init(
        Vec::new,
        |columns: &mut Vec<f32>, task| {
            let (image, start) = (task / tiles, (task % tiles) * tile);
            let n = tile.min(pixels - start);
            columns.clear();
            columns.resize(depth * n, 0.0);
            im2col(x.image(image), x.height, x.width, g, start, n, n, columns);
            // SAFETY: this task writes rows 0..c2, columns start..start + n of image `image`'s
            // `[c2, pixels]` output, disjoint from every other task; `columns` is `depth x n`.
            unsafe {
                let dst = dst.ptr().add(image * c2 * pixels + start);
                gemm_tile(c2, n, depth, dst, pixels, weight, columns.as_ptr(), n, bias, act);
            }
        },
    );
}

simd_dispatch! {
    /// Fills `columns [c * k * k, n]` (zeros for the padding) with the receptive fields of output pixels
    /// `start..start + n` of one `[c, h, w]` image.
    fn im2col => im2col_body(
        image: &[f32], h: usize, w: usize, g: Geometry, start: usize, n: usize, ld: usize, columns: &mut [f32]
    )
}

/// [`im2col`]; row `r` of `columns` starts at `r * ld` (`ld >= n`).
#[inline(always)]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
fn im2col_body(
    image: &[f32],
    h: usize,
    w: usize,
    g: Geometry,
    start: usize,
    n: usize,
    ld: usize,
    columns: &mut [f32],
) {
    let (k, s, pad) = (g.k, g.stride, g.pad);
    let channels = image.len() / (h * w).max(1);
    if k == 1 && s == 1 && pad == 0 {
        // Each row is a run of the channel plane, whatever output rows it spans.
        for (c, row) in columns.chunks_mut(ld).take(channels).enumerate() {
            copy_short(&mut row[..n], &image[c * h * w + start..][..n]);
        }
        return;
    }
    let runs = output_runs(start, n, g.out_w);
    for c in 0..channels {
        let plane = &image[c * h * w..][..h * w];
        for dy in 0..k {
            for dx in 0..k {
                let row = &mut columns[((c * k + dy) * k + dx) * ld..][..n];
                // Valid output columns: 0 <= ox * s + dx - pad < w.
                let ox_lo = pad.saturating_sub(dx).div_ceil(s);
                let ox_hi = if w + pad > dx { ((w + pad - dx - 1) / s + 1).min(g.out_w) } else { 0 };
                for &(oy, ox0, ox1, base) in &runs {
                    let iy = (oy * s + dy) as isize - pad as isize;
                    let (lo, hi) = (ox0.max(ox_lo), ox1.min(ox_hi));
                    let run = &mut row[base..base + ox1 - ox0];
                    if iy < 0 || iy as usize >= h || lo >= hi {
                        run.fill(0.0);
                        continue;
                    }
                    // The padding around the copied part.
                    run[..lo - ox0].fill(0.0);
                    run[hi - ox0..].fill(0.0);
                    let src = &plane[iy as usize * w..][..w];
                    let dst = &mut run[lo - ox0..hi - ox0];
                    let ix0 = lo * s + dx - pad;
                    let len = hi - lo;
                    if s == 1 {
                        copy_short(dst, &src[ix0..ix0 + len]);
                    } else {
                        gather_strided(dst, &src[ix0..ix0 + (len - 1) * s + 1], s);
                    }
                }
            }
        }
    }
}

simd_dispatch! {
    /// The right-hand side of output pixels `start..start + n` of one `[c, h, w]` image as
    /// panels of `NR` pixels: value `(r, j)` of the `[c * k * k, n]` im2col matrix at
    /// `panels[((j / NR) * depth + r) * NR + j % NR]`, so the micro-kernel reads each panel
    /// front to back. (1x1 convolutions: [`pointwise_panels`]; their rows lie a whole image
    /// plane apart, and a plane of 160 x 160 floats is a multiple of 4 KiB: read in place,
    /// every row would land in the same few cache sets.)
    fn im2col_panels => im2col_panels_body(
        image: &[f32], h: usize, w: usize, g: Geometry, start: usize, n: usize, scratch: &mut Vec<f32>,
        panels: &mut [f32]
    )
}

#[inline(always)]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
fn im2col_panels_body(
    image: &[f32],
    h: usize,
    w: usize,
    g: Geometry,
    start: usize,
    n: usize,
    scratch: &mut Vec<f32>,
    panels: &mut [f32],
) {
    let plane = h * w;
    let channels = image.len() / plane.max(1);
    let taps = g.k * g.k;
    let depth = channels * taps;
    assert!(panels.len() >= n.div_ceil(NR) * depth * NR);
    if g.stride == 1 && g.out_w > 0 {
        // Stride 1: the input rows the tile needs, zero-bordered, once per channel; every tap
        // of every output row is then one plain copy from them (no padding logic per tap).
        let runs = output_runs(start, n, g.out_w);
        let (first_row, last_row) = (start / g.out_w, (start + n - 1) / g.out_w);
        let (pw, rows) = (w + 2 * g.pad, last_row - first_row + g.k);
        scratch.resize(rows * pw, 0.0);
        for c in 0..channels {
            let src = &image[c * plane..][..plane];
            for (r, padded) in scratch.chunks_exact_mut(pw).take(rows).enumerate() {
                let iy = (first_row + r).checked_sub(g.pad).filter(|&iy| iy < h);
                match iy {
                    Some(iy) => {
                        padded[..g.pad].fill(0.0);
                        copy_short(&mut padded[g.pad..g.pad + w], &src[iy * w..][..w]);
                        padded[g.pad + w..].fill(0.0);
                    }
                    None => padded.fill(0.0),
                }
            }
            for dy in 0..g.k {
                for dx in 0..g.k {
                    let r = (c * g.k + dy) * g.k + dx;
                    for &(oy, ox0, ox1, base) in &runs {
                        // Output (oy, ox) reads input (oy + dy - pad, ox + dx - pad): padded
                        // row oy - first_row + dy, column ox + dx.
                        let from = &scratch[(oy - first_row + dy) * pw + ox0 + dx..][..ox1 - ox0];
                        put_in_panels(panels, depth, r, base, from);
                    }
                }
            }
        }
        return;
    }
    // One channel's `k * k` rows at a time through a small buffer that stays in L1.
    scratch.resize(taps * n, 0.0);
    for c in 0..channels {
        im2col_body(&image[c * plane..][..plane], h, w, g, start, n, n, scratch);
        for t in 0..taps {
            put_in_panels(panels, depth, c * taps + t, 0, &scratch[t * n..][..n]);
        }
    }
}

simd_dispatch! {
    /// The right-hand side of a 1x1 convolution over the concatenated channels of `parts`,
    /// pixels `start..start + n` of image `image`, as panels of `NR` pixels (the layout of
    /// [`im2col_panels`]): each part's rows are read in place, so a concatenation feeding the
    /// convolution never has to be made.
    fn pointwise_panels => pointwise_panels_body(
        parts: &[Images], image: usize, start: usize, n: usize, panels: &mut [f32]
    )
}

#[inline(always)]
fn pointwise_panels_body(parts: &[Images], image: usize, start: usize, n: usize, panels: &mut [f32]) {
    let depth = parts.iter().map(|p| p.channels).sum::<usize>();
    assert!(panels.len() >= n.div_ceil(NR) * depth * NR);
    let mut r = 0;
    for part in parts {
        let plane = part.height * part.width;
        for row in part.image(image).chunks_exact(plane) {
            put_in_panels(panels, depth, r, 0, &row[start..][..n]);
            r += 1;
        }
    }
}

/// Output pixels `start..start + n` as runs within output rows: (row, first column, end
/// column, offset of the run in the range).
fn output_runs(start: usize, n: usize, out_w: usize) -> Vec<(usize, usize, usize, usize)> {
    let mut runs = Vec::with_capacity(n / out_w.max(1) + 2);
    let mut q = start;
    while q < start + n {
        let (oy, ox0) = (q / out_w, q % out_w);
        let ox1 = (ox0 + start + n - q).min(out_w);
        runs.push((oy, ox0, ox1, q - start));
        q += ox1 - ox0;
    }
    runs
}

/// Columns `j..j + values.len()` of row `r` of a panel-major matrix (`depth` rows, panels of
/// `NR` columns), split where the run crosses panels.
#[inline(always)]
fn put_in_panels(panels: &mut [f32], depth: usize, r: usize, mut j: usize, mut values: &[f32]) {
    while !values.is_empty() {
        let take = (NR - j % NR).min(values.len());
        let (dst, src) = (&mut panels[((j / NR) * depth + r) * NR + j % NR..][..take], &values[..take]);
        match (<&mut [f32; NR]>::try_from(&mut *dst), <&[f32; NR]>::try_from(src)) {
            // A whole panel row: a fixed-size copy (vector moves, not a `memcpy` call).
            (Ok(whole), Ok(from)) => *whole = *from,
            _ => copy_short(dst, src),
        }
        j += take;
        values = &values[take..];
    }
}

/// `dst[i] = src[i * stride]` (`src` holds `(dst.len() - 1) * stride + 1` values or more).
#[inline(always)]
fn gather_strided(dst: &mut [f32], src: &[f32], stride: usize) {
    #[cfg(target_arch = "x86_64")]
    if stride == 2 && simd() == Simd::Avx512 {
        // SAFETY: the CPU has AVX-512F.
        unsafe { gather_even_avx512(dst, src) };
        return;
    }
    for (i, v) in dst.iter_mut().enumerate() {
        *v = src[i * stride];
    }
}

/// `dst[i] = src[2 * i]`, sixteen at a time from two vectors and one permutation (the tail
/// through masks).
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn gather_even_avx512(dst: &mut [f32], src: &[f32]) {
    use std::arch::x86_64::{
        _mm512_loadu_ps, _mm512_maskz_loadu_ps, _mm512_permutex2var_ps, _mm512_setr_epi32, _mm512_storeu_ps,
    };
    let n = dst.len();
    assert!(n == 0 || src.len() > 2 * (n - 1));
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let mut i = 0;
    while i + 16 <= n {
        // Values 2i .. 2i + 31; the last one may lie past `src` (masked off).
        let rest = src.len() - (2 * i + 16);
        let mask = if rest >= 16 { 0xffff } else { (1u16 << rest) - 1 };
        // SAFETY: 2i + 15 <= 2n - 2 < src.len(); the second load reads only `rest` values that
        // exist; `dst` has i + 16 <= n values.
        unsafe {
            let lo = _mm512_loadu_ps(src.as_ptr().add(2 * i));
            let hi = _mm512_maskz_loadu_ps(mask, src.as_ptr().add(2 * i + 16));
            _mm512_storeu_ps(dst.as_mut_ptr().add(i), _mm512_permutex2var_ps(lo, even, hi));
        }
        i += 16;
    }
    if i < n {
        // The last 1..15 values through masks: src[2i ..= 2(n - 1)], 2m - 1 values.
        use std::arch::x86_64::_mm512_mask_storeu_ps;
        let m = n - i;
        let (lo_mask, hi_mask) = (lane_mask(2 * m - 1), lane_mask((2 * m - 1).saturating_sub(16)));
        // SAFETY: the masks select src[2i ..= 2(n - 1)] (inside `src`, asserted above) and
        // dst[i .. n]; masked-off lanes are neither read nor written.
        unsafe {
            let lo = _mm512_maskz_loadu_ps(lo_mask, src.as_ptr().add(2 * i));
            let hi = _mm512_maskz_loadu_ps(hi_mask, src.as_ptr().add(2 * i + 16));
            _mm512_mask_storeu_ps(
                dst.as_mut_ptr().add(i),
                lane_mask(m),
                _mm512_permutex2var_ps(lo, even, hi),
            );
        }
    }
}

/// `dst.copy_from_slice(src)` for the short runs of [`im2col`], in fixed-size pieces that
/// compile to vector moves instead of a `memcpy` call each.
#[inline(always)]
fn copy_short(dst: &mut [f32], src: &[f32]) {
    let (dst_chunks, dst_rest) = dst.as_chunks_mut::<8>();
    let (src_chunks, src_rest) = src.as_chunks::<8>();
    for (d, s) in dst_chunks.iter_mut().zip(src_chunks) {
        *d = *s;
    }
    for (d, s) in dst_rest.iter_mut().zip(src_rest) {
        *d = *s;
    }
}

/// Depthwise k x k convolution, stride 1, in parallel over channel planes (see
/// [`depthwise_plane`]); `residual` is added to each plane as it is written.
fn depthwise(
    x: &Images,
    weight: &[f32],
    bias: &[f32],
    g: Geometry,
    act: Activation,
    residual: Option<&[f32]>,
    out: &mut [f32],
) {
    let (k, h, w) = (g.k, x.height, x.width);
    let plane_len = g.out_h * g.out_w;
    if plane_len == 0 {
        return;
    }
    let channels = x.channels;
    out.par_chunks_mut(plane_len).enumerate().with_min_len(min_len(1)).for_each_init(
        || (Vec::new(), Vec::new()),
        |(padded, sums), (plane, o)| {
            let (image, c) = (plane / channels, plane % channels);
            let input = &x.image(image)[c * h * w..][..h * w];
            let taps = &weight[c * k * k..][..k * k];
            let residual = residual.map(|r| &r[plane * plane_len..][..plane_len]);
            depthwise_plane(input, taps, bias[c], g, h, w, act, padded, sums, residual, o);
        },
    );
}

simd_dispatch! {
    /// One channel plane of [`depthwise`].
    fn depthwise_plane => depthwise_plane_body(
        input: &[f32],
        taps: &[f32],
        bias: f32,
        g: Geometry,
        h: usize,
        w: usize,
        act: Activation,
        padded: &mut Vec<f32>,
        sums: &mut Vec<f32>,
        residual: Option<&[f32]>,
        o: &mut [f32]
    )
}

/// [`depthwise_plane`]: the plane is copied into a zero border (`padded`, width
/// `w + 2 * pad`), so that every tap is one multiply-add over a contiguous run; the sums live
/// on the padded width (`sums`; the `2 * pad` extra columns per row are discarded). The
/// AVX-512 path activates them in registers; the residual is added as they are copied out.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
fn depthwise_plane_body(
    input: &[f32],
    taps: &[f32],
    bias: f32,
    g: Geometry,
    h: usize,
    w: usize,
    act: Activation,
    padded: &mut Vec<f32>,
    sums: &mut Vec<f32>,
    residual: Option<&[f32]>,
    o: &mut [f32],
) {
    let (k, pad) = (g.k, g.pad);
    let wide = w + 2 * pad;
    let tall = h + 2 * pad;
    let len = g.out_h * wide;
    padded.clear();
    // Zeros past the padded plane: the last tap's run reaches `k - 1` values further, and
    // the AVX-512 path's last run up to `DW_RUN - 1` more.
    padded.resize(tall * wide + k + DW_RUN, 0.0);
    for (y, row) in input.chunks_exact(w).enumerate() {
        padded[(y + pad) * wide + pad..][..w].copy_from_slice(row);
    }
    sums.clear();
    // Whether `sums` already holds the activated values.
    let mut activated = false;
    #[cfg(target_arch = "x86_64")]
    if simd() == Simd::Avx512 {
        sums.resize(len.div_ceil(DW_RUN) * DW_RUN, 0.0);
        // SAFETY: the CPU has AVX-512F; `padded` holds every run's reach (sized above).
        unsafe { depthwise_runs_avx512(padded, taps, k, wide, bias, act, sums) };
        activated = true;
    }
    if !activated {
        sums.resize(len, bias);
        for dy in 0..k {
            for dx in 0..k {
                let tap = taps[dy * k + dx];
                let src = &padded[dy * wide + dx..][..len];
                for (s, &v) in sums.iter_mut().zip(src) {
                    *s += tap * v;
                }
            }
        }
    }
    let silu_here = act == Activation::Silu && !activated;
    for (y, (orow, srow)) in o.chunks_exact_mut(g.out_w).zip(sums.chunks_exact(wide)).enumerate() {
        let srow = &srow[..g.out_w];
        match (residual, silu_here) {
            (None, false) => orow.copy_from_slice(srow),
            (None, true) => orow.iter_mut().zip(srow).for_each(|(o, &v)| *o = silu(v)),
            (Some(residual), _) => {
                let rrow = &residual[y * g.out_w..][..g.out_w];
                for ((o, &v), &r) in orow.iter_mut().zip(srow).zip(rrow) {
                    *o = if silu_here { silu(v) } else { v } + r;
                }
            }
        }
    }
}

/// Positions per run of [`depthwise_runs_avx512`] (four vectors).
const DW_RUN: usize = 64;

/// `sums[q] = act(bias + sum_(dy, dx) taps[dy * k + dx] * padded[q + dy * wide + dx])` for
/// every `q < sums.len()` (a multiple of [`DW_RUN`]), one run of 64 positions at a time with its
/// sums in four registers over all taps: one load and one multiply-add per tap and vector,
/// not a pass over the sums in memory per tap.
///
/// # Safety
/// The CPU must have AVX-512F; `padded` must hold `sums.len() + (k - 1) * (wide + 1)` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn depthwise_runs_avx512(
    padded: &[f32],
    taps: &[f32],
    k: usize,
    wide: usize,
    bias: f32,
    act: Activation,
    sums: &mut [f32],
) {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps};
    assert!(taps.len() >= k * k && padded.len() >= sums.len() + (k - 1) * (wide + 1));
    for (r, run) in sums.chunks_exact_mut(DW_RUN).enumerate() {
        let mut acc = [_mm512_set1_ps(bias); 4];
        for dy in 0..k {
            for dx in 0..k {
                let tap = _mm512_set1_ps(taps[dy * k + dx]);
                // SAFETY: values r * DW_RUN + dy * wide + dx .. + DW_RUN, inside `padded` (the
                // assertion above).
                unsafe {
                    let src = padded.as_ptr().add(r * DW_RUN + dy * wide + dx);
                    for (j, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_fmadd_ps(tap, _mm512_loadu_ps(src.add(16 * j)), *a);
                    }
                }
            }
        }
        for (j, a) in acc.into_iter().enumerate() {
            let a = if act == Activation::Silu { silu_avx512(a) } else { a };
            // SAFETY: `run` holds DW_RUN = 4 x 16 values.
            unsafe { _mm512_storeu_ps(run.as_mut_ptr().add(16 * j), a) };
        }
    }
}

/// Multi-head self-attention inside `area` equal runs of pixels (YOLOv12's area attention;
/// `area = 1` is YOLO11's plain `Attention`), on the output of the `qkv` convolution
/// `[b, heads * (2 * key_dim + head_dim), h, w]`, where head `i`'s channels are its queries,
/// keys and values in that order. Returns `[b, heads * head_dim, h, w]`: channel
/// `i * head_dim + d`, pixel `p` holds `sum_q v[d, q] * softmax_q(scale * q[:, p] . k[:, q])`
/// over the pixels `q` of `p`'s area.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttentionOp {
    pub(crate) heads: usize,
    pub(crate) key_dim: usize,
    pub(crate) head_dim: usize,
    pub(crate) area: usize,
    pub(crate) scale: f32,
}

impl CustomOp1 for AttentionOp {
    fn name(&self) -> &'static str {
        "lacuna-area-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = Images::new(storage, layout)?;
        let (heads, kd, hd, area) = (self.heads, self.key_dim, self.head_dim, self.area);
        let per_head = 2 * kd + hd;
        let pixels = x.height * x.width;
        if x.channels != heads * per_head || area == 0 || !pixels.is_multiple_of(area) {
            bail!(
                "attention: {:?} does not split into {heads} heads of {per_head} over {area} areas",
                layout.dims()
            );
        }
        let all = heads * hd;
        let len = x.batch * all * pixels;
        let out = if pixels > 0 && simd() == Simd::Avx512 {
            let mut out = Vec::with_capacity(len);
            attention_avx512(&x, *self, &mut out.spare_capacity_mut()[..len]);
            // SAFETY: `attention_avx512` wrote all `len` values (every image, area, head,
            // query block and value channel).
            unsafe { out.set_len(len) };
            out
        } else {
            let mut out = vec![0f32; len];
            if pixels > 0 {
                attention_portable(&x, *self, &mut out);
            }
            out
        };
        Ok((CpuStorage::F32(out), Shape::from((x.batch, all, x.height, x.width))))
    }
}

/// [`AttentionOp`] with the `gemm` crate: per image, area, head and block of queries, the
/// scores `[queries, keys]`, a softmax per row, then the values times the scores.
fn attention_portable(x: &Images, op: AttentionOp, out: &mut [f32]) {
    let (heads, kd, hd, area) = (op.heads, op.key_dim, op.head_dim, op.area);
    let per_head = 2 * kd + hd;
    let pixels = x.height * x.width;
    let all = heads * hd;
    let per_area = pixels / area;
    {
        // Query blocks: the scores of one block (`block x per_area`) stay in cache.
        let threads = threads();
        let groups = x.batch * area * heads;
        let by_cache = (TILE_WORKING_SET / 2 / per_area).max(16);
        let by_balance = (groups * per_area).div_ceil(4 * threads).max(16);
        let block = by_cache.min(by_balance).min(per_area);
        let blocks = per_area.div_ceil(block);
        let dst = SharedOut(out.as_mut_ptr());
        let scale = op.scale;
        (0..groups * blocks).into_par_iter().with_min_len(min_len(1)).for_each_init(
            Vec::new,
            |scores: &mut Vec<f32>, task| {
                let (group, first) = (task / blocks, (task % blocks) * block);
                let rows = block.min(per_area - first);
                let (image, rest) = (group / (area * heads), group % (area * heads));
                let (a, head) = (rest / heads, rest % heads);
                let input = x.image(image);
                // This head's queries, keys and values over this area: `[dim, per_area]` each,
                // row stride `pixels`.
                let base = head * per_head * pixels + a * per_area;
                let (q, k, v) =
                    (&input[base..], &input[base + kd * pixels..], &input[base + 2 * kd * pixels..]);
                scores.clear();
                scores.resize(rows * per_area, 0.0);
                // SAFETY: the reads stay in this image's channels `head * per_head ..
                // (head + 1) * per_head`, pixels `a * per_area .. (a + 1) * per_area` (inside
                // `input`); `scores` is `rows x per_area`.
                unsafe {
                    // scores[j, i] = scale * sum_d q[d, first + j] k[d, i]
                    gemm::gemm(
                        rows,
                        per_area,
                        kd,
                        scores.as_mut_ptr(),
                        1,
                        per_area as isize,
                        false,
                        q.as_ptr().add(first),
                        pixels as isize,
                        1,
                        k.as_ptr(),
                        1,
                        pixels as isize,
                        0f32,
                        scale,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                }
                for row in scores.chunks_exact_mut(per_area) {
                    softmax_in_place(row);
                }
                // SAFETY: this task alone writes output channels `head * hd .. (head + 1) * hd`,
                // pixels `a * per_area + first ..` (`rows` of them) of image `image`; it reads `v`
                // as above and `scores` (`rows x per_area`).
                unsafe {
                    // out[d, first + j] = sum_i v[d, i] scores[j, i]
                    let out = dst.ptr().add((image * all + head * hd) * pixels + a * per_area + first);
                    gemm::gemm(
                        hd,
                        rows,
                        per_area,
                        out,
                        1,
                        pixels as isize,
                        false,
                        v.as_ptr(),
                        1,
                        pixels as isize,
                        scores.as_ptr(),
                        per_area as isize,
                        1,
                        0f32,
                        1f32,
                        false,
                        false,
                        false,
                        Parallelism::None,
                    );
                }
            },
        );
    }
}

/// [`AttentionOp`] with the AVX-512 micro-kernel of the convolutions. Per image, area, head
/// and block of queries: the transposed scores `s[key, query] = (scale k)^T q` (keys as the
/// kernel's packed rows, queries read in place), a softmax down each column, then
/// `out[d, query] = v s / column sums` (values packed as rows).
fn attention_avx512(x: &Images, op: AttentionOp, out: &mut [MaybeUninit<f32>]) {
    let (heads, kd, hd, area) = (op.heads, op.key_dim, op.head_dim, op.area);
    let per_head = 2 * kd + hd;
    let pixels = x.height * x.width;
    let all = heads * hd;
    let per_area = pixels / area;
    let groups = x.batch * area * heads;
    // Query blocks: whole kernel panels, few enough keys x queries to stay in cache.
    let block = ((TILE_WORKING_SET / per_area).min(per_area).div_ceil(NR) * NR).max(NR);
    let blocks = per_area.div_ceil(block);
    // A task takes a run of one group's query blocks and packs the group's keys and values
    // once for all of them: as few runs per group as still give every thread a few tasks.
    let per_run = blocks.div_ceil((4 * threads()).div_ceil(groups).clamp(1, blocks));
    let runs = blocks.div_ceil(per_run);
    let dst = SharedOut(out.as_mut_ptr().cast::<f32>());
    (0..groups * runs).into_par_iter().with_min_len(min_len(1)).for_each_init(
        AttentionScratch::default,
        |scratch, task| {
            let (group, run) = (task / runs, task % runs);
            let (image, rest) = (group / (area * heads), group % (area * heads));
            let (a, head) = (rest / heads, rest % heads);
            let input = x.image(image);
            let base = head * per_head * pixels + a * per_area;
            let (q, k, v) = (&input[base..], &input[base + kd * pixels..], &input[base + 2 * kd * pixels..]);
            let AttentionScratch { keys, values, scores, sums } = scratch;
            // keys: [per_area / MR, kd, MR] = scale * k^T; values: [hd / MR, per_area, MR] = v.
            pack_rows(k, pixels, kd, per_area, op.scale, keys);
            pack_columns(v, pixels, hd, per_area, values);
            for first in (run * per_run * block..per_area).step_by(block).take(per_run) {
                let queries = block.min(per_area - first);
                let ld = if queries.div_ceil(16).is_multiple_of(4) {
                    queries.div_ceil(16) * 16 + 16
                } else {
                    queries.div_ceil(16) * 16
                };
                // No clearing: the first `queries` columns of every row are written before
                // they are read, the others never read.
                if scores.len() < per_area * ld {
                    scores.resize(per_area * ld, 0.0);
                }
                let scores = &mut scores[..per_area * ld];
                for (kb, keys) in keys.chunks_exact(kd * MR).enumerate() {
                    let rows = MR.min(per_area - kb * MR);
                    // SAFETY: AVX-512 (`simd()` chose this path). Reads `q` rows `0..kd` (stride
                    // `pixels`), columns `first ..` (`queries`), inside this area of `input`;
                    // writes rows `kb * MR ..` (`rows`), columns `0..queries` of `scores`
                    // (`per_area x ld`, `queries <= ld`).
                    unsafe {
                        let dst = scores.as_mut_ptr().add(kb * MR * ld);
                        product_avx512(kd, keys, rows, q.as_ptr().add(first), pixels, queries, dst, ld);
                    }
                }
                // SAFETY: AVX-512, as above.
                unsafe { softmax_columns_avx512(scores, ld, queries, sums) };
                for (vb, values) in values.chunks_exact(per_area * MR).enumerate() {
                    let rows = MR.min(hd - vb * MR);
                    // SAFETY: AVX-512. Reads `scores` rows `0..per_area` (stride `ld`), columns
                    // `0..queries`; this task alone writes output channels
                    // `head * hd + vb * MR ..` (`rows`), pixels `a * per_area + first ..`
                    // (`queries`) of image `image`.
                    unsafe {
                        let channel = image * all + head * hd + vb * MR;
                        let dst = dst.ptr().add(channel * pixels + a * per_area + first);
                        product_avx512(per_area, values, rows, scores.as_ptr(), ld, queries, dst, pixels);
                    }
                }
                for d in 0..hd {
                    // SAFETY: the same output row as above, `queries` pixels, owned by this
                    // task.
                    let row = unsafe {
                        let start = (image * all + head * hd + d) * pixels + a * per_area + first;
                        std::slice::from_raw_parts_mut(dst.ptr().add(start), queries)
                    };
                    scale_by(row, &sums[..queries]);
                }
            }
        },
    );
}

/// `dst[r * dst_rs + j] = sum_p lhs[p, r] * rhs[p * rhs_rs + j]` for `r < rows <= MR`,
/// `j < n`: one `MR`-row block of packed `lhs` (`[depth, MR]`) times `rhs`, panel by panel
/// (attention's two products; no bias or activation).
///
/// # Safety
/// The CPU must have AVX-512F; `rhs` must be valid for reads at `p * rhs_rs + j` (`p < depth`,
/// `j < n`) and `dst` for writes at `r * dst_rs + j`, which no other thread touches.
#[allow(clippy::too_many_arguments)] // shapes and strides of raw kernel operands
unsafe fn product_avx512(
    depth: usize,
    lhs: &[f32],
    rows: usize,
    rhs: *const f32,
    rhs_rs: usize,
    n: usize,
    dst: *mut f32,
    dst_rs: usize,
) {
    const ZEROS: [f32; MR] = [0.0; MR];
    for panel in (0..n).step_by(NR) {
        // SAFETY: columns `panel .. panel + cols` (`cols <= n - panel`) of the caller's ranges.
        unsafe {
            block_avx512(
                depth,
                lhs,
                rhs.add(panel),
                rhs_rs,
                NR.min(n - panel),
                &ZEROS[..rows],
                Activation::Identity,
                std::ptr::null(),
                dst.add(panel),
                dst_rs,
            );
        }
    }
}

/// Per-task buffers of [`attention_avx512`].
#[derive(Debug, Default)]
struct AttentionScratch {
    keys: Vec<f32>,
    values: Vec<f32>,
    scores: Vec<f32>,
    /// Per query: 1 / (sum of its exponentiated scores).
    sums: Vec<f32>,
}

/// `src [dim, len]` (row stride `rs`), times `scale`, transposed into the micro-kernel's packed
/// layout: `[len / MR, dim, MR]`, the last block zero-padded.
fn pack_rows(src: &[f32], rs: usize, dim: usize, len: usize, scale: f32, packed: &mut Vec<f32>) {
    packed.clear();
    packed.resize(len.div_ceil(MR) * dim * MR, 0.0);
    for d in 0..dim {
        let row = &src[d * rs..][..len];
        for (block, values) in row.chunks(MR).enumerate() {
            let dst = &mut packed[(block * dim + d) * MR..][..values.len()];
            for (o, &v) in dst.iter_mut().zip(values) {
                *o = v * scale;
            }
        }
    }
}

/// `src [dim, len]` (row stride `rs`) in the micro-kernel's packed layout with its rows as the
/// output rows: `[dim / MR, len, MR]`, the last block zero-padded.
fn pack_columns(src: &[f32], rs: usize, dim: usize, len: usize, packed: &mut Vec<f32>) {
    packed.clear();
    packed.resize(dim.div_ceil(MR) * len * MR, 0.0);
    for d in 0..dim {
        let row = &src[d * rs..][..len];
        let block = &mut packed[(d / MR) * len * MR..][..len * MR];
        for (i, &v) in row.iter().enumerate() {
            block[i * MR + d % MR] = v;
        }
    }
}

/// Softmax down each of the first `cols` columns of `scores [rows, ld]` (`ld` a multiple of
/// 16), leaving the exponentials unnormalised and `1 / column sum` in `sums`: per 64 columns,
/// one pass for the maxima and one for the exponentials and their sums.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn softmax_columns_avx512(scores: &mut [f32], ld: usize, cols: usize, sums: &mut Vec<f32>) {
    use std::arch::x86_64::{
        __m512, _mm512_add_ps, _mm512_fnmadd_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_max_ps,
        _mm512_mul_ps, _mm512_rcp14_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_sub_ps,
    };
    assert!(ld.is_multiple_of(16) && cols <= ld && scores.len().is_multiple_of(ld));
    sums.clear();
    sums.resize(cols.div_ceil(16) * 16, 0.0);
    for j in (0..cols).step_by(64) {
        let masks: [u16; 4] = std::array::from_fn(|v| lane_mask(cols.saturating_sub(j + 16 * v)));
        let mut max: [__m512; 4] = [_mm512_set1_ps(f32::NEG_INFINITY); 4];
        for row in scores.chunks_exact(ld) {
            for (v, m) in max.iter_mut().enumerate() {
                // SAFETY: columns `j + 16 v ..` of this row through the mask (`< cols <= ld`).
                let x = unsafe { _mm512_maskz_loadu_ps(masks[v], row.as_ptr().add(j + 16 * v)) };
                *m = _mm512_max_ps(*m, x);
            }
        }
        let mut sum: [__m512; 4] = [_mm512_setzero_ps(); 4];
        for row in scores.chunks_exact_mut(ld) {
            for v in 0..4 {
                // SAFETY: as above; masked-off lanes are neither read nor written.
                unsafe {
                    let at = row.as_mut_ptr().add(j + 16 * v);
                    let e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(masks[v], at), max[v]));
                    _mm512_mask_storeu_ps(at, masks[v], e);
                    sum[v] = _mm512_add_ps(sum[v], e);
                }
            }
        }
        for (v, s) in sum.into_iter().enumerate() {
            // 1 / s: the 14-bit estimate and one Newton step.
            let inv = _mm512_rcp14_ps(s);
            let inv = _mm512_mul_ps(inv, _mm512_fnmadd_ps(s, inv, _mm512_set1_ps(2.0)));
            // SAFETY: `sums` holds `cols` rounded up to 16 values.
            unsafe { _mm512_mask_storeu_ps(sums.as_mut_ptr().add(j + 16 * v), masks[v], inv) };
        }
    }
    sums.truncate(cols);
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn softmax_columns_avx512(_: &mut [f32], _: usize, _: usize, _: &mut Vec<f32>) {
    unreachable!("AVX-512 is x86-64 only")
}

simd_dispatch! {
    /// `row[j] *= scale[j]`.
    fn scale_by => scale_by_body(row: &mut [f32], scale: &[f32])
}

#[inline(always)]
fn scale_by_body(row: &mut [f32], scale: &[f32]) {
    row.iter_mut().zip(scale).for_each(|(v, &s)| *v *= s);
}

simd_dispatch! {
    /// `row = softmax(row)`.
    fn softmax_in_place => softmax_body(row: &mut [f32])
}

#[inline(always)]
fn softmax_body(row: &mut [f32]) {
    // Eight running lanes, so that the reductions vectorize.
    let mut lanes = [f32::NEG_INFINITY; 8];
    let mut chunks = row.chunks_exact(8);
    for chunk in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(chunk) {
            *m = if v > *m { v } else { *m };
        }
    }
    let max =
        chunks.remainder().iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    row.iter_mut().for_each(|v| *v = exp(*v - max));
    let mut lanes = [0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for chunk in &mut chunks {
        for (s, &v) in lanes.iter_mut().zip(chunk) {
            *s += v;
        }
    }
    let sum: f32 = chunks.remainder().iter().sum::<f32>() + lanes.iter().sum::<f32>();
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

/// `x * sigmoid(x)`.
#[inline(always)]
pub(crate) fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// `e^x` to about 2 ulp, branch-free so that loops over it vectorize (Cephes' `expf`
/// polynomial on `x - n ln 2`, scaled by `2^n` through the exponent bits).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    // `shifted`'s low mantissa bits hold `n` (two's complement); `(n + 127) << 23` is 2^n
    // (the shift drops the rest of `shifted`'s bits). No float-to-int cast: those saturate,
    // which does not vectorize.
    let scale = f32::from_bits(shifted.to_bits().wrapping_add(127) << 23);
    p * scale
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    /// Deterministic values in [-1, 1).
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn tensor(dims: &[usize], seed: u64) -> Tensor {
        let len = dims.iter().product();
        Tensor::from_vec(values(len, seed), dims, &Device::Cpu).expect("tensor")
    }

    /// Max |a - b| / max(1, max |b|).
    fn relative_diff(a: &Tensor, b: &Tensor) -> f32 {
        let a = a.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("a");
        let b = b.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("b");
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
        a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    /// candle's own `conv2d` (padding k / 2) + bias, then the activation: what the kernels must equal.
    /// A "same"-padded f32 convolution op with nothing else: no residual, no kept weights, one
    /// input.
    fn plain_op(k: usize, stride: usize, groups: usize, act: Activation) -> ConvOp<'static> {
        ConvOp { padding: k / 2, stride, groups, act, residual: None, bf16: false, packed: None, more: &[] }
    }

    fn reference_conv(
        x: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        stride: usize,
        groups: usize,
        act: Activation,
    ) -> Tensor {
        let (c2, _, k, _) = weight.dims4().expect("weight [c2, c1 / groups, k, k]");
        let y = x
            .conv2d(weight, k / 2, stride, 1, groups)
            .and_then(|y| y.broadcast_add(&bias.reshape((1, c2, 1, 1))?))
            .expect("reference");
        if act == Activation::Silu { y.silu().expect("silu") } else { y }
    }

    #[allow(clippy::too_many_arguments)] // one case's shape, spelled out
    fn check_conv(
        b: usize,
        c1: usize,
        c2: usize,
        h: usize,
        w: usize,
        k: usize,
        stride: usize,
        groups: usize,
    ) {
        for (seed, act) in [(1, Activation::Silu), (2, Activation::Identity)] {
            let x = tensor(&[b, c1, h, w], seed);
            let weight = tensor(&[c2, c1 / groups, k, k], seed + 10);
            let bias = tensor(&[c2], seed + 20);
            let op = plain_op(k, stride, groups, act);
            let fast = x.apply_op3_no_bwd(&weight, &bias, &op).expect("custom op");
            let reference = reference_conv(&x, &weight, &bias, stride, groups, act);
            assert_eq!(fast.dims(), reference.dims());
            let diff = relative_diff(&fast, &reference);
            assert!(
                diff <= 1e-4,
                "b{b} c{c1}->{c2} {h}x{w} k{k} s{stride} g{groups} {act:?}: relative diff {diff}"
            );
            let residual = tensor(reference.dims(), seed + 30);
            let op = ConvOp { residual: Some(&residual), ..op };
            let fast = x.apply_op3_no_bwd(&weight, &bias, &op).expect("custom op with residual");
            let diff = relative_diff(&fast, &(&reference + &residual).expect("sum"));
            assert!(
                diff <= 1e-4,
                "b{b} c{c1}->{c2} {h}x{w} k{k} s{stride} g{groups} {act:?} + residual: {diff}"
            );
        }
    }

    #[test]
    fn pointwise_matches_conv2d() {
        check_conv(1, 16, 24, 7, 9, 1, 1, 1);
        check_conv(3, 33, 17, 13, 5, 1, 1, 1);
        check_conv(2, 64, 64, 20, 20, 1, 1, 1);
    }

    #[test]
    fn dense_3x3_matches_conv2d() {
        check_conv(1, 3, 16, 17, 11, 3, 1, 1);
        check_conv(3, 8, 12, 9, 13, 3, 1, 1);
        check_conv(1, 3, 16, 32, 32, 3, 2, 1);
        check_conv(3, 5, 7, 11, 9, 3, 2, 1);
        check_conv(2, 16, 8, 15, 15, 5, 1, 1);
        check_conv(1, 4, 8, 9, 70, 3, 2, 1);
        check_conv(2, 3, 13, 6, 100, 3, 1, 1);
        // Several weight blocks and grid tiles, split into groups on small maps.
        check_conv(1, 64, 80, 10, 10, 3, 1, 1);
        check_conv(2, 32, 44, 40, 23, 3, 2, 1);
        check_conv(1, 7, 9, 8, 8, 2, 2, 1);
        // 3x3 stride 1 read in place: one row, one column, rows of exactly 16 and 17
        // pixels, several images split into tiles, c2 not a multiple of the block rows.
        check_conv(5, 12, 30, 1, 37, 3, 1, 1);
        check_conv(2, 9, 25, 33, 1, 3, 1, 1);
        check_conv(4, 20, 36, 16, 17, 3, 1, 1);
        check_conv(8, 24, 16, 10, 16, 3, 1, 1);
        // Maps large enough for the direct kernel's bands (several per image).
        check_conv(1, 32, 16, 64, 200, 3, 1, 1);
        check_conv(2, 16, 8, 90, 300, 3, 2, 1);
    }

    /// The gemm-crate path (CPUs without AVX-512) against the same reference.
    #[test]
    fn portable_dense_path_matches_conv2d() {
        for (b, c1, c2, h, w, k, stride) in
            [(1, 16, 24, 7, 9, 1, 1), (3, 8, 12, 9, 13, 3, 1), (2, 5, 7, 11, 9, 3, 2)]
        {
            let x = tensor(&[b, c1, h, w], 4);
            let weight = tensor(&[c2, c1, k, k], 5);
            let bias = tensor(&[c2], 6);
            let reference = reference_conv(&x, &weight, &bias, stride, 1, Activation::Silu);
            let (storage, layout) = x.storage_and_layout();
            let candle_core::Storage::Cpu(storage) = &*storage else { panic!("x is on the CPU") };
            let images = Images::new(storage, layout).expect("images");
            let weight = weight.flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("weight");
            let bias = bias.to_vec1::<f32>().expect("bias");
            let (out_h, out_w) = ((h + 2 * (k / 2) - k) / stride + 1, (w + 2 * (k / 2) - k) / stride + 1);
            let g = Geometry { k, stride, pad: k / 2, out_h, out_w };
            let mut out = vec![0f32; b * c2 * out_h * out_w];
            if k == 1 {
                pointwise(&images, &weight, &bias, c2, Activation::Silu, &mut out);
            } else {
                im2col_gemm(&images, &weight, &bias, c2, g, Activation::Silu, &mut out);
            }
            let fast = Tensor::from_vec(out, (b, c2, out_h, out_w), &Device::Cpu).expect("out");
            let diff = relative_diff(&fast, &reference);
            assert!(diff <= 1e-4, "b{b} c{c1}->{c2} {h}x{w} k{k} s{stride}: relative diff {diff}");
        }
    }

    #[test]
    fn depthwise_matches_conv2d() {
        check_conv(1, 8, 8, 9, 7, 3, 1, 8);
        check_conv(3, 5, 5, 13, 11, 3, 1, 5);
        check_conv(2, 6, 6, 10, 12, 7, 1, 6);
        check_conv(1, 4, 4, 3, 2, 7, 1, 4);
        check_conv(1, 16, 16, 40, 40, 7, 1, 16);
    }

    /// bf16 products, f32 sums: equal to the f32 convolution of the bf16-rounded input and
    /// weights (where the CPU has AVX512_BF16; elsewhere the f32 result).
    fn check_conv_bf16(b: usize, c1: usize, c2: usize, h: usize, w: usize, k: usize, stride: usize) {
        let round = |t: &Tensor| {
            t.to_dtype(candle_core::DType::BF16).and_then(|t| t.to_dtype(candle_core::DType::F32))
        };
        for (seed, act) in [(3, Activation::Silu), (4, Activation::Identity)] {
            let x = tensor(&[b, c1, h, w], seed);
            let weight = tensor(&[c2, c1, k, k], seed + 10);
            let bias = tensor(&[c2], seed + 20);
            let residual = tensor(
                &[b, c2, (h + 2 * (k / 2) - k) / stride + 1, (w + 2 * (k / 2) - k) / stride + 1],
                seed + 30,
            );
            let op = ConvOp { residual: Some(&residual), bf16: true, ..plain_op(k, stride, 1, act) };
            let fast = x.apply_op3_no_bwd(&weight, &bias, &op).expect("bf16 op");
            let (x_ref, w_ref) = if bf16::available() {
                (round(&x).expect("round"), round(&weight).expect("round"))
            } else {
                (x.clone(), weight.clone())
            };
            let reference = (reference_conv(&x_ref, &w_ref, &bias, stride, 1, act) + &residual).expect("sum");
            let diff = relative_diff(&fast, &reference);
            assert!(
                diff <= 1e-4,
                "bf16 b{b} c{c1}->{c2} {h}x{w} k{k} s{stride} {act:?}: relative diff {diff}"
            );
            // Against the exact f32 convolution: what rounding to bf16 costs.
            let exact = (reference_conv(&x, &weight, &bias, stride, 1, act) + &residual).expect("sum");
            let rounding = relative_diff(&fast, &exact);
            assert!(rounding <= 3e-2, "bf16 rounding error {rounding}");
        }
    }

    #[test]
    fn bf16_products_match_the_rounded_f32_convolution() {
        // Odd depths (an unpaired last row), 1x1 read in place, 4-, 8- and 12-row blocks,
        // partial panels, stride 2, several images.
        check_conv_bf16(1, 16, 24, 7, 9, 1, 1);
        check_conv_bf16(2, 33, 17, 13, 5, 1, 1);
        check_conv_bf16(1, 3, 16, 17, 11, 3, 1);
        check_conv_bf16(3, 5, 7, 11, 9, 3, 2);
        check_conv_bf16(2, 64, 64, 20, 20, 3, 1);
        check_conv_bf16(1, 8, 13, 9, 70, 3, 2);
    }

    #[test]
    fn packed_weights_are_kept_and_give_the_same_output() {
        let x = tensor(&[2, 12, 9, 11], 41);
        let weight = tensor(&[20, 12, 3, 3], 42);
        let bias = tensor(&[20], 43);
        for bf16 in [false, true] {
            let op = ConvOp { bf16, ..plain_op(3, 1, 1, Activation::Silu) };
            let fresh = x.apply_op3_no_bwd(&weight, &bias, &op).expect("uncached");
            let cache = PackedWeights::default();
            let cached = ConvOp { packed: Some(&cache), ..op };
            let first = x.apply_op3_no_bwd(&weight, &bias, &cached).expect("first");
            let second = x.apply_op3_no_bwd(&weight, &bias, &cached).expect("second");
            assert_eq!(relative_diff(&first, &fresh), 0.0);
            assert_eq!(relative_diff(&second, &fresh), 0.0);
            if simd() == Simd::Avx512 {
                let kept = if bf16 && bf16::available() {
                    cache.bf16.get().is_some()
                } else {
                    cache.f32.get().is_some()
                };
                assert!(kept, "bf16 {bf16}: the packed weights were not kept");
            }
        }
    }

    #[test]
    fn gathers_every_other_value() {
        for n in 0..50 {
            for extra in [0, 1] {
                // The shortest source `gather_strided` is given, and one value longer.
                let src = values(if n == 0 { extra } else { 2 * n - 1 + extra }, n as u64);
                let mut dst = vec![f32::NAN; n];
                gather_strided(&mut dst, &src, 2);
                let want: Vec<f32> = (0..n).map(|i| src[2 * i]).collect();
                assert_eq!(dst, want, "n {n}, source {}", src.len());
            }
        }
    }

    #[test]
    fn reads_concatenated_parts_in_place() {
        // cat([x, a channel slice, y], 1): three parts of 5 + 3 + 6 channels, 2 images.
        let x = tensor(&[2, 5, 9, 7], 41);
        let wide = tensor(&[2, 8, 9, 7], 42);
        let slice = wide.narrow(1, 2, 3).expect("narrow");
        let y = tensor(&[2, 6, 9, 7], 43);
        let joined = Tensor::cat(&[&x, &slice, &y], 1).expect("cat");
        for (k, c2) in [(1, 13), (1, 4), (3, 7)] {
            let weight = tensor(&[c2, 14, k, k], 44);
            let bias = tensor(&[c2], 45);
            let more = [slice.clone(), y.clone()];
            let op = ConvOp { more: &more, ..plain_op(k, 1, 1, Activation::Silu) };
            let fast = x.apply_op3_no_bwd(&weight, &bias, &op).expect("op over parts");
            let reference = reference_conv(&joined, &weight, &bias, 1, 1, Activation::Silu);
            let diff = relative_diff(&fast, &reference);
            assert!(diff <= 1e-4, "k{k} c2 {c2}: relative diff {diff}");
        }
        let weight = tensor(&[4, 14, 1, 1], 46);
        let short = [tensor(&[2, 9, 8, 7], 48)];
        let op = ConvOp { more: &short, ..plain_op(1, 1, 1, Activation::Identity) };
        let err = x.apply_op3_no_bwd(&weight, &tensor(&[4], 47), &op).expect_err("parts of other sizes");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }

    #[test]
    fn reads_a_channel_slice_in_place() {
        let x = tensor(&[3, 10, 6, 5], 7);
        let part = x.narrow(1, 4, 6).expect("narrow");
        assert!(batch_stride(part.layout()).is_some());
        let weight = tensor(&[4, 6, 1, 1], 8);
        let bias = tensor(&[4], 9);
        let op = plain_op(1, 1, 1, Activation::Silu);
        let fast = part.apply_op3_no_bwd(&weight, &bias, &op).expect("op");
        let reference = part
            .contiguous()
            .and_then(|p| p.conv2d(&weight, 0, 1, 1, 1))
            .and_then(|y| y.broadcast_add(&bias.reshape((1, 4, 1, 1))?))
            .and_then(|y| y.silu())
            .expect("reference");
        assert!(relative_diff(&fast, &reference) <= 1e-4);
    }

    /// The attention in candle ops, as `attention.rs` computes it off the CPU.
    fn attention_reference(qkv: &Tensor, op: AttentionOp) -> Result<Tensor> {
        let (b, channels, h, w) = qkv.dims4()?;
        let (heads, kd, hd, area) = (op.heads, op.key_dim, op.head_dim, op.area);
        let na = h * w / area;
        let qkv = qkv.reshape((b, channels, area, na))?.transpose(1, 2)?.contiguous()?.reshape((
            b * area,
            heads,
            2 * kd + hd,
            na,
        ))?;
        let q = qkv.narrow(2, 0, kd)?;
        let k = qkv.narrow(2, kd, kd)?.contiguous()?;
        let v = qkv.narrow(2, 2 * kd, hd)?.contiguous()?;
        let attn = (q * op.scale as f64)?.transpose(2, 3)?.contiguous()?.matmul(&k)?;
        let attn = candle_nn::ops::softmax_last_dim(&attn)?;
        let y = v.matmul(&attn.transpose(2, 3)?)?;
        y.reshape((b, area, heads * hd, na))?.transpose(1, 2)?.contiguous()?.reshape((b, heads * hd, h, w))
    }

    #[test]
    fn attention_matches_candle_ops() {
        for (b, heads, kd, hd, area, h, w) in [
            (1, 2, 32, 32, 4, 8, 10),
            (3, 1, 8, 16, 1, 5, 7),
            (2, 4, 16, 32, 1, 20, 20),
            (1, 2, 8, 8, 2, 40, 10),
            // One group of many query blocks: several tasks share it, the last run shorter.
            (1, 1, 16, 16, 1, 40, 40),
        ] {
            let qkv = (tensor(&[b, heads * (2 * kd + hd), h, w], 3) * 3.0).expect("scale");
            let op = AttentionOp { heads, key_dim: kd, head_dim: hd, area, scale: (kd as f32).powf(-0.5) };
            let fast = qkv.apply_op1_no_bwd(&op).expect("op");
            let reference = attention_reference(&qkv, op).expect("reference");
            assert_eq!(fast.dims(), reference.dims());
            let diff = relative_diff(&fast, &reference);
            assert!(
                diff <= 1e-4,
                "b{b} heads {heads} kd {kd} hd {hd} area {area} {h}x{w}: relative diff {diff}"
            );
            // The gemm-crate path (CPUs without AVX-512).
            let (storage, layout) = qkv.storage_and_layout();
            let candle_core::Storage::Cpu(storage) = &*storage else { panic!("qkv is on the CPU") };
            let mut out = vec![0f32; b * heads * hd * h * w];
            attention_portable(&Images::new(storage, layout).expect("images"), op, &mut out);
            let portable = Tensor::from_vec(out, (b, heads * hd, h, w), &Device::Cpu).expect("out");
            let diff = relative_diff(&portable, &reference);
            assert!(diff <= 1e-4, "portable: b{b} heads {heads} area {area} {h}x{w}: relative diff {diff}");
        }
    }

    #[test]
    fn serial_kernels_give_the_same_output() {
        let x = tensor(&[2, 24, 20, 20], 11);
        for (k, stride) in [(1, 1), (3, 1), (3, 2)] {
            let weight = tensor(&[20, 24, k, k], 12);
            let bias = tensor(&[20], 13);
            let op = plain_op(k, stride, 1, Activation::Silu);
            let parallel = x.apply_op3_no_bwd(&weight, &bias, &op).expect("parallel");
            let serial = serially(|| x.apply_op3_no_bwd(&weight, &bias, &op)).expect("serial");
            assert_eq!(relative_diff(&serial, &parallel), 0.0, "k{k} s{stride}");
        }
        let pools = serially(|| x.apply_op1_no_bwd(&SppfPools { k: 5 })).expect("serial pools");
        assert_eq!(relative_diff(&pools, &x.apply_op1_no_bwd(&SppfPools { k: 5 }).expect("pools")), 0.0);
    }

    #[test]
    fn exp_is_close_to_std() {
        for i in -2000..=2000 {
            let x = i as f32 * 0.043;
            let (fast, std) = (exp(x), x.exp());
            assert!((fast - std).abs() <= 4e-7 * std, "exp({x}) = {fast}, std {std}");
        }
        assert!(silu(-200.0).abs() < 1e-30);
        #[cfg(target_arch = "x86_64")]
        if simd() == Simd::Avx512 {
            use std::arch::x86_64::{_mm512_loadu_ps, _mm512_storeu_ps};
            let xs: Vec<f32> = (-1600..1600).map(|i| i as f32 * 0.07).collect();
            for chunk in xs.chunks_exact(16) {
                let mut out = [0f32; 16];
                // SAFETY: the CPU has AVX-512F; both buffers hold 16 floats.
                unsafe { _mm512_storeu_ps(out.as_mut_ptr(), silu_avx512(_mm512_loadu_ps(chunk.as_ptr()))) };
                for (&x, &y) in chunk.iter().zip(&out) {
                    let want = x as f64 / (1.0 + (-x as f64).exp());
                    assert!(
                        (y as f64 - want).abs() <= 1e-6 * want.abs().max(1e-3),
                        "silu({x}) = {y}, want {want}"
                    );
                }
            }
        }
        assert!((silu(200.0) - 200.0).abs() < 1e-4);
    }
}
