//! Convolutions: Ultralytics' `Conv` (conv + batch norm + SiLU, batch norm folded into the
//! convolution's bias by the loader), `DWConv`, plain `nn.Conv2d` / `nn.ConvTranspose2d`, and
//! the parameter-free ops (`nn.Upsample`, the SPPF max pool).
//!
//! Reference: `ultralytics/nn/modules/conv.py` (`Conv`, `DWConv`, `autopad`).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::kernels::{self, Activation, ConvOp};

/// How a convolution is computed off the CPU (or for non-f32 tensors); all give the same result
/// as `Tensor::conv2d`, the first two without its im2col copy (1x1) or its per-group loop
/// (depthwise). On the CPU in f32, [`ConvOp`] runs instead.
#[derive(Debug, Clone)]
enum Kernel {
    /// 1x1, stride 1, one group: a matrix product. Weight `[c2, c1]`.
    Pointwise(Tensor),
    /// Stride 1, one group per channel: a sum of `k * k` shifted, scaled copies. `taps[i]` is
    /// the weight of tap `i = dy * k + dx`, shaped `[1, c, 1, 1]`.
    Depthwise { taps: Vec<Tensor>, k: usize },
    /// Anything else. Weight `[c2, c1 / groups, k, k]`.
    General { weight: Tensor, stride: usize, groups: usize },
}

/// `nn.Conv2d` with a bias and "same" padding (`k / 2`): `<prefix>.weight`, `<prefix>.bias`.
#[derive(Debug, Clone)]
pub(crate) struct Conv2d {
    kernel: Kernel,
    /// `[c2, c1 / groups, k, k]`, contiguous (the CPU kernel's operand).
    weight: Tensor,
    /// `[1, c2, 1, 1]`
    bias: Tensor,
    padding: usize,
    stride: usize,
    groups: usize,
    /// Whether [`ConvOp`] has a kernel for this shape (dense, or depthwise with stride 1).
    cpu_kernel: bool,
    /// The CPU kernel multiplies in bf16 (the model was built for [`kernels::CpuMultiply::Bf16`]).
    bf16: bool,
    /// The weights in the CPU kernels' layout, packed at the first forward.
    packed: std::sync::Arc<kernels::PackedWeights>,
}

impl Conv2d {
    pub(crate) fn new(
        c1: usize,
        c2: usize,
        k: usize,
        stride: usize,
        groups: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let weight = vb.get((c2, c1 / groups, k, k), "weight")?;
        let bias = vb.get(c2, "bias")?.reshape((1, c2, 1, 1))?;
        let depthwise = groups == c1 && c1 == c2;
        let cpu_kernel = groups == 1 || (depthwise && stride == 1);
        let kernel = if k == 1 && stride == 1 && groups == 1 {
            Kernel::Pointwise(weight.reshape((c2, c1))?)
        } else if stride == 1 && depthwise {
            let flat = weight.reshape((c2, k * k))?;
            let taps = (0..k * k)
                .map(|i| flat.narrow(1, i, 1)?.reshape((1, c2, 1, 1)))
                .collect::<Result<Vec<_>>>()?;
            Kernel::Depthwise { taps, k }
        } else {
            Kernel::General { weight: weight.clone(), stride, groups }
        };
        let bf16 = groups == 1 && kernels::building_multiply() == kernels::CpuMultiply::Bf16;
        Ok(Self {
            kernel,
            weight,
            bias,
            padding: k / 2,
            stride,
            groups,
            cpu_kernel,
            bf16,
            packed: Default::default(),
        })
    }

    /// The convolution, bias and `act` in one pass on the CPU (f32), candle's ops elsewhere.
    pub(crate) fn forward_act(&self, x: &Tensor, act: Activation) -> Result<Tensor> {
        self.forward_fused(x, act, None)
    }

    /// `act(conv(x) + bias) + residual`, in one pass over the output on the CPU (f32).
    pub(crate) fn forward_fused(
        &self,
        x: &Tensor,
        act: Activation,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        self.forward_fused_parts(x, &[], act, residual)
    }

    /// [`Conv2d::forward_fused`] of `cat([x, more...], 1)`; on the CPU (f32) the kernel reads
    /// the parts where they are.
    pub(crate) fn forward_fused_parts(
        &self,
        x: &Tensor,
        more: &[Tensor],
        act: Activation,
        residual: Option<&Tensor>,
    ) -> Result<Tensor> {
        let on_cpu =
            kernels::cpu_f32(x) && more.iter().all(kernels::cpu_f32) && kernels::cpu_f32(&self.weight);
        let residual_ok = residual.is_none_or(kernels::cpu_f32);
        if on_cpu && residual_ok && self.cpu_kernel && (more.is_empty() || self.groups == 1) {
            // Channel slices (C2f's split) are read in place; other layouts get packed first.
            let readable = |t: &Tensor| -> Result<Tensor> {
                if kernels::batch_stride(t.layout()).is_some() { Ok(t.clone()) } else { t.contiguous() }
            };
            let more = more.iter().map(readable).collect::<Result<Vec<_>>>()?;
            let packed;
            let residual = match residual {
                Some(r) if !r.is_contiguous() => {
                    packed = r.contiguous()?;
                    Some(&packed)
                }
                other => other,
            };
            let op = ConvOp {
                padding: self.padding,
                stride: self.stride,
                groups: self.groups,
                act,
                residual,
                bf16: self.bf16,
                packed: Some(&self.packed),
                more: &more,
            };
            return readable(x)?.apply_op3_no_bwd(&self.weight, &self.bias, &op);
        }
        let joined;
        let x = if more.is_empty() {
            x
        } else {
            joined = Tensor::cat(&[std::slice::from_ref(x), more].concat(), 1)?;
            &joined
        };
        let y = self.forward_ops(x)?;
        let y = match act {
            Activation::Identity => y,
            Activation::Silu => y.silu()?,
        };
        match residual {
            Some(r) => y + r,
            None => Ok(y),
        }
    }

    /// Candle's ops: convolution plus bias.
    fn forward_ops(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.kernel {
            Kernel::Pointwise(weight) => {
                let (b, c1, h, w) = x.dims4()?;
                let y = weight.broadcast_matmul(&x.reshape((b, c1, h * w))?)?;
                y.reshape((b, (), h, w))?
            }
            Kernel::Depthwise { taps, k } => {
                let (_, _, h, w) = x.dims4()?;
                let p = self.padding;
                let padded = x.pad_with_zeros(2, p, p)?.pad_with_zeros(3, p, p)?;
                let mut acc: Option<Tensor> = None;
                for (i, tap) in taps.iter().enumerate() {
                    let (dy, dx) = (i / k, i % k);
                    let term = padded.narrow(2, dy, h)?.narrow(3, dx, w)?.broadcast_mul(tap)?;
                    acc = Some(match acc {
                        Some(sum) => (sum + term)?,
                        None => term,
                    });
                }
                match acc {
                    Some(sum) => sum,
                    None => candle_core::bail!("depthwise convolution without taps"),
                }
            }
            Kernel::General { weight, stride, groups } => {
                x.conv2d(weight, self.padding, *stride, 1, *groups)?
            }
        };
        y.broadcast_add(&self.bias)
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_act(x, Activation::Identity)
    }
}

/// Ultralytics' `Conv` (and `DWConv`, which is `Conv` with `groups = gcd(c1, c2)`): convolution,
/// folded batch norm, then SiLU unless `act` is false. Tensors `<prefix>.conv.weight`,
/// `<prefix>.conv.bias`.
#[derive(Debug, Clone)]
pub(crate) struct ConvBlock {
    conv: Conv2d,
    act: bool,
}

impl ConvBlock {
    pub(crate) fn new(c1: usize, c2: usize, k: usize, s: usize, vb: VarBuilder) -> Result<Self> {
        Self::with(c1, c2, k, s, 1, true, vb)
    }

    /// Without the activation (`act=False`).
    pub(crate) fn linear(c1: usize, c2: usize, k: usize, vb: VarBuilder) -> Result<Self> {
        Self::with(c1, c2, k, 1, 1, false, vb)
    }

    /// `DWConv(c1, c2, k)`.
    pub(crate) fn depthwise(c1: usize, c2: usize, k: usize, act: bool, vb: VarBuilder) -> Result<Self> {
        Self::with(c1, c2, k, 1, gcd(c1, c2), act, vb)
    }

    pub(crate) fn with(
        c1: usize,
        c2: usize,
        k: usize,
        s: usize,
        groups: usize,
        act: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        Ok(Self { conv: Conv2d::new(c1, c2, k, s, groups, vb.pp("conv"))?, act })
    }

    fn activation(&self) -> Activation {
        if self.act { Activation::Silu } else { Activation::Identity }
    }

    /// `residual + self.forward(x)`, the sum taken in the convolution's output pass.
    pub(crate) fn forward_add(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        self.forward_plus(x, Some(residual))
    }

    /// [`ConvBlock::forward_add`] when there is a residual, `forward` otherwise.
    pub(crate) fn forward_plus(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        self.conv.forward_fused(x, self.activation(), residual)
    }

    /// `forward(cat(parts, 1))`; on the CPU the concatenation is never made (a 1x1
    /// convolution reads each part in place).
    pub(crate) fn forward_cat(&self, parts: &[Tensor]) -> Result<Tensor> {
        match parts {
            [] => candle_core::bail!("conv: no input to concatenate"),
            [x, more @ ..] => self.conv.forward_fused_parts(x, more, self.activation(), None),
        }
    }
}

impl Module for ConvBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.conv.forward_act(x, self.activation())
    }
}

/// `nn.ConvTranspose2d(c, c, 2, 2, 0, bias=True)`: `<prefix>.weight` `[c1, c2, 2, 2]`,
/// `<prefix>.bias`.
#[derive(Debug, Clone)]
pub(crate) struct ConvTranspose2x2 {
    weight: Tensor,
    bias: Tensor,
}

impl ConvTranspose2x2 {
    pub(crate) fn new(c1: usize, c2: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get((c1, c2, 2, 2), "weight")?;
        let bias = vb.get(c2, "bias")?.reshape((1, c2, 1, 1))?;
        Ok(Self { weight, bias })
    }
}

impl Module for ConvTranspose2x2 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.conv_transpose2d(&self.weight, 0, 0, 2, 1)?.broadcast_add(&self.bias)
    }
}

/// `nn.MaxPool2d(k, stride=1, padding=k // 2)`. Replicating the border is the same as PyTorch's
/// implicit -inf padding here: every window that reaches past the border also holds the border
/// value it would replicate.
pub(crate) fn max_pool_same(x: &Tensor, k: usize) -> Result<Tensor> {
    let p = k / 2;
    x.pad_with_same(2, p, p)?.pad_with_same(3, p, p)?.max_pool2d_with_stride(k, 1)
}

/// `nn.Upsample(scale_factor=2, mode="nearest")`.
pub(crate) fn upsample2(x: &Tensor) -> Result<Tensor> {
    if kernels::cpu_f32(x) && kernels::batch_stride(x.layout()).is_some() {
        return x.apply_op1_no_bwd(&kernels::Upsample2);
    }
    let (_, _, h, w) = x.dims4()?;
    x.upsample_nearest2d(2 * h, 2 * w)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}
