//! Attention blocks: YOLO11's position-sensitive attention (`Attention`, `PSABlock`, `C2PSA`)
//! and YOLOv12's area attention (`AAttn`, `ABlock`, `A2C2f`), in the plain matrix-product form
//! (not the flash-attention path).
//!
//! References: `ultralytics/nn/modules/block.py`; Tian, Ye & Doermann, "YOLOv12:
//! Attention-Centric Real-Time Object Detectors", arXiv:2502.12524 (2025).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;
use candle_nn::ops::softmax_last_dim;

use super::block::C3k;
use super::conv::ConvBlock;
use super::kernels::{AttentionOp, cpu_f32};

/// `Attention(dim, num_heads, attn_ratio=0.5)`: multi-head self-attention over all pixels with
/// short keys (`key_dim = head_dim * attn_ratio`) and a depthwise 3x3 positional encoding of
/// the values.
#[derive(Debug, Clone)]
struct Attention {
    qkv: ConvBlock,
    proj: ConvBlock,
    pe: ConvBlock,
    num_heads: usize,
    head_dim: usize,
    key_dim: usize,
}

impl Attention {
    fn new(dim: usize, num_heads: usize, attn_ratio: f64, vb: VarBuilder) -> Result<Self> {
        let head_dim = dim / num_heads;
        let key_dim = (head_dim as f64 * attn_ratio) as usize;
        let qkv_dim = dim + 2 * key_dim * num_heads;
        Ok(Self {
            qkv: ConvBlock::linear(dim, qkv_dim, 1, vb.pp("qkv"))?,
            proj: ConvBlock::linear(dim, dim, 1, vb.pp("proj"))?,
            pe: ConvBlock::with(dim, dim, 3, 1, dim, false, vb.pp("pe"))?,
            num_heads,
            head_dim,
            key_dim,
        })
    }
}

impl Module for Attention {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_plus(x, None)
    }
}

impl Attention {
    /// `forward(x) + residual`, the sum taken in the output projection's pass.
    fn forward_plus(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let n = h * w;
        let (kd, hd) = (self.key_dim, self.head_dim);
        let scale = (kd as f64).powf(-0.5);
        let qkv = self.qkv.forward(x)?;
        if cpu_f32(&qkv) {
            let op = AttentionOp {
                heads: self.num_heads,
                key_dim: kd,
                head_dim: hd,
                area: 1,
                scale: scale as f32,
            };
            let y = qkv.apply_op1_no_bwd(&op)?;
            let v = qkv.reshape((b, self.num_heads, 2 * kd + hd, n))?.narrow(2, 2 * kd, hd)?;
            let y = self.pe.forward_add(&v.reshape((b, c, h, w))?, &y)?;
            return self.proj.forward_plus(&y, residual);
        }
        let qkv = qkv.reshape((b, self.num_heads, 2 * kd + hd, n))?;
        let q = qkv.narrow(2, 0, kd)?;
        let k = qkv.narrow(2, kd, kd)?.contiguous()?;
        let v = qkv.narrow(2, 2 * kd, hd)?.contiguous()?;
        // [b, heads, n, n]: queries along rows, keys along columns.
        let attn = (q * scale)?.transpose(2, 3)?.contiguous()?.matmul(&k)?;
        let attn = softmax_last_dim(&attn)?;
        let y = v.matmul(&attn.transpose(2, 3)?)?.reshape((b, c, h, w))?;
        let y = (y + self.pe.forward(&v.reshape((b, c, h, w))?)?)?;
        self.proj.forward_plus(&y, residual)
    }
}

/// `PSABlock(c, attn_ratio=0.5, num_heads)`: attention then a 2x MLP, both residual.
#[derive(Debug, Clone)]
struct PsaBlock {
    attn: Attention,
    ffn0: ConvBlock,
    ffn1: ConvBlock,
}

impl PsaBlock {
    fn new(c: usize, num_heads: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            attn: Attention::new(c, num_heads, 0.5, vb.pp("attn"))?,
            ffn0: ConvBlock::new(c, 2 * c, 1, 1, vb.pp("ffn").pp(0))?,
            ffn1: ConvBlock::linear(2 * c, c, 1, vb.pp("ffn").pp(1))?,
        })
    }
}

impl Module for PsaBlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.attn.forward_plus(x, Some(x))?;
        self.ffn1.forward_add(&self.ffn0.forward(&x)?, &x)
    }
}

/// `C2PSA(c1, c2, n, e=0.5)`: split, `n` PSA blocks on one half, concatenate, mix.
#[derive(Debug, Clone)]
pub(crate) struct C2Psa {
    cv1: ConvBlock,
    cv2: ConvBlock,
    m: Vec<PsaBlock>,
    hidden: usize,
}

impl C2Psa {
    pub(crate) fn new(c1: usize, c2: usize, n: usize, vb: VarBuilder) -> Result<Self> {
        if c1 != c2 {
            candle_core::bail!("C2PSA needs equal input and output channels, got {c1} and {c2}");
        }
        let hidden = c1 / 2;
        let heads = (hidden / 64).max(1);
        let m = (0..n).map(|i| PsaBlock::new(hidden, heads, vb.pp("m").pp(i))).collect::<Result<_>>()?;
        Ok(Self {
            cv1: ConvBlock::new(c1, 2 * hidden, 1, 1, vb.pp("cv1"))?,
            cv2: ConvBlock::new(2 * hidden, c1, 1, 1, vb.pp("cv2"))?,
            m,
            hidden,
        })
    }
}

impl Module for C2Psa {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.cv1.forward(x)?;
        let a = y.narrow(1, 0, self.hidden)?;
        let mut b = y.narrow(1, self.hidden, self.hidden)?;
        for block in &self.m {
            b = block.forward(&b)?;
        }
        self.cv2.forward_cat(&[a, b])
    }
}

/// `AAttn(dim, num_heads, area)`: self-attention inside each of `area` horizontal strips of the
/// feature map (the whole map when `area` is 1), plus a depthwise 7x7 positional encoding of
/// the values.
#[derive(Debug, Clone)]
struct AreaAttention {
    qkv: ConvBlock,
    proj: ConvBlock,
    pe: ConvBlock,
    num_heads: usize,
    head_dim: usize,
    area: usize,
}

impl AreaAttention {
    fn new(dim: usize, num_heads: usize, area: usize, vb: VarBuilder) -> Result<Self> {
        let head_dim = dim / num_heads;
        let all = head_dim * num_heads;
        Ok(Self {
            qkv: ConvBlock::linear(dim, 3 * all, 1, vb.pp("qkv"))?,
            proj: ConvBlock::linear(all, dim, 1, vb.pp("proj"))?,
            pe: ConvBlock::with(all, all, 7, 1, all, false, vb.pp("pe"))?,
            num_heads,
            head_dim,
            area,
        })
    }
}

impl Module for AreaAttention {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_plus(x, None)
    }
}

impl AreaAttention {
    /// `forward(x) + residual`, the sum taken in the output projection's pass.
    fn forward_plus(&self, x: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        let (b, _, h, w) = x.dims4()?;
        let (heads, hd, area) = (self.num_heads, self.head_dim, self.area);
        let all = heads * hd;
        let n = h * w;
        if !n.is_multiple_of(area) {
            candle_core::bail!("area attention: {h}x{w} pixels do not split into {area} areas");
        }
        let na = n / area; // pixels per area
        let scale = (hd as f64).powf(-0.5);
        let qkv = self.qkv.forward(x)?;
        if cpu_f32(&qkv) {
            // Areas are runs of whole pixels, so both y and v keep the [b, all, h, w] order.
            let op = AttentionOp { heads, key_dim: hd, head_dim: hd, area, scale: scale as f32 };
            let y = qkv.apply_op1_no_bwd(&op)?;
            let v = qkv.reshape((b, heads, 3 * hd, n))?.narrow(2, 2 * hd, hd)?.reshape((b, all, h, w))?;
            return self.proj.forward_plus(&self.pe.forward_add(&v, &y)?, residual);
        }
        // Ultralytics flattens to [b, n, 3 * all] and folds areas into the batch; the same in
        // channel-first order: [b, 3 * all, area, na] -> [b * area, heads, 3 * hd, na].
        let qkv = qkv.reshape((b, 3 * all, area, na))?.transpose(1, 2)?.contiguous()?.reshape((
            b * area,
            heads,
            3 * hd,
            na,
        ))?;
        let q = qkv.narrow(2, 0, hd)?;
        let k = qkv.narrow(2, hd, hd)?.contiguous()?;
        let v = qkv.narrow(2, 2 * hd, hd)?.contiguous()?;
        let attn = (q * scale)?.transpose(2, 3)?.contiguous()?.matmul(&k)?;
        let attn = softmax_last_dim(&attn)?;
        let y = v.matmul(&attn.transpose(2, 3)?)?; // [b * area, heads, hd, na]
        // Back to [b, all, h, w]: channel = head * hd + d, pixel = area index * na + position.
        let unfold = |t: Tensor| -> Result<Tensor> {
            t.reshape((b, area, all, na))?.transpose(1, 2)?.contiguous()?.reshape((b, all, h, w))
        };
        let y = unfold(y)?;
        let v = unfold(v)?;
        self.proj.forward_plus(&(y + self.pe.forward(&v)?)?, residual)
    }
}

/// `ABlock(dim, num_heads, mlp_ratio, area)`: area attention then an MLP, both residual.
#[derive(Debug, Clone)]
struct ABlock {
    attn: AreaAttention,
    mlp0: ConvBlock,
    mlp1: ConvBlock,
}

impl ABlock {
    fn new(dim: usize, num_heads: usize, mlp_ratio: f64, area: usize, vb: VarBuilder) -> Result<Self> {
        let hidden = (dim as f64 * mlp_ratio) as usize;
        Ok(Self {
            attn: AreaAttention::new(dim, num_heads, area, vb.pp("attn"))?,
            mlp0: ConvBlock::new(dim, hidden, 1, 1, vb.pp("mlp").pp(0))?,
            mlp1: ConvBlock::linear(hidden, dim, 1, vb.pp("mlp").pp(1))?,
        })
    }
}

impl Module for ABlock {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = self.attn.forward_plus(x, Some(x))?;
        self.mlp1.forward_add(&self.mlp0.forward(&x)?, &x)
    }
}

/// What an A2C2f repeats: two area-attention blocks, or a C3k when `a2` is off.
#[derive(Debug, Clone)]
enum A2Inner {
    Attention(Vec<ABlock>),
    C3k(Box<C3k>),
}

impl Module for A2Inner {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Attention(blocks) => {
                let mut y = x.clone();
                for block in blocks {
                    y = block.forward(&y)?;
                }
                Ok(y)
            }
            Self::C3k(c3k) => c3k.forward(x),
        }
    }
}

/// `A2C2f(c1, c2, n, a2, area, residual, mlp_ratio, e=0.5)`: YOLOv12's residual efficient
/// layer aggregation: `cv1`, `n` chained inner blocks, concatenation of all, `cv2`, and for the
/// l/x scales a learned per-channel scale `gamma` on a residual connection.
#[derive(Debug, Clone)]
pub(crate) struct A2C2f {
    cv1: ConvBlock,
    cv2: ConvBlock,
    m: Vec<A2Inner>,
    /// `[1, c2, 1, 1]`
    gamma: Option<Tensor>,
}

impl A2C2f {
    #[allow(clippy::too_many_arguments)] // mirrors the Ultralytics constructor
    pub(crate) fn new(
        c1: usize,
        c2: usize,
        n: usize,
        a2: bool,
        area: usize,
        residual: bool,
        mlp_ratio: f64,
        vb: VarBuilder,
    ) -> Result<Self> {
        let hidden = c2 / 2;
        if !hidden.is_multiple_of(32) {
            candle_core::bail!("A2C2f hidden width {hidden} is not a multiple of 32");
        }
        let m = (0..n)
            .map(|i| {
                let vb = vb.pp("m").pp(i);
                Ok(if a2 {
                    let heads = hidden / 32;
                    let blocks = (0..2)
                        .map(|j| ABlock::new(hidden, heads, mlp_ratio, area, vb.pp(j)))
                        .collect::<Result<_>>()?;
                    A2Inner::Attention(blocks)
                } else {
                    A2Inner::C3k(Box::new(C3k::new(hidden, hidden, 2, true, vb)?))
                })
            })
            .collect::<Result<_>>()?;
        let gamma = if a2 && residual { Some(vb.get(c2, "gamma")?.reshape((1, c2, 1, 1))?) } else { None };
        Ok(Self {
            cv1: ConvBlock::new(c1, hidden, 1, 1, vb.pp("cv1"))?,
            cv2: ConvBlock::new((1 + n) * hidden, c2, 1, 1, vb.pp("cv2"))?,
            m,
            gamma,
        })
    }
}

impl A2C2f {
    /// `forward(cat(parts, 1))`, without the concatenation on the CPU unless the block adds
    /// its input back (`gamma`).
    pub(crate) fn forward_cat(&self, parts: &[Tensor]) -> Result<Tensor> {
        if self.gamma.is_some() {
            return self.forward(&Tensor::cat(parts, 1)?);
        }
        self.blocks(self.cv1.forward_cat(parts)?)
    }

    /// Everything after `cv1`, before the residual.
    fn blocks(&self, y: Tensor) -> Result<Tensor> {
        let mut ys = vec![y];
        for block in &self.m {
            let next = block.forward(&ys[ys.len() - 1])?;
            ys.push(next);
        }
        self.cv2.forward_cat(&ys)
    }
}

impl Module for A2C2f {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.blocks(self.cv1.forward(x)?)?;
        match &self.gamma {
            Some(gamma) => x + y.broadcast_mul(gamma)?,
            None => Ok(y),
        }
    }
}
