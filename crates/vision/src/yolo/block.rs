//! CSP blocks: `Bottleneck`, `C2f` (YOLOv8), `C3k` / `C3k2` (YOLO11, YOLOv12) and `SPPF`.
//!
//! Reference: `ultralytics/nn/modules/block.py`. YOLOv8: Jocher et al., Ultralytics YOLOv8
//! (2023); YOLO11: Jocher & Qiu, Ultralytics YOLO11 (2024).

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::conv::{ConvBlock, max_pool_same};
use super::kernels::{SppfPools, cpu_f32};

/// `Bottleneck(c1, c2, shortcut, g=1, k=(3, 3), e)`: two 3x3 convs, plus the input when
/// `shortcut` and the channel counts agree.
#[derive(Debug, Clone)]
pub(crate) struct Bottleneck {
    cv1: ConvBlock,
    cv2: ConvBlock,
    add: bool,
}

impl Bottleneck {
    pub(crate) fn new(c1: usize, c2: usize, shortcut: bool, e: f64, vb: VarBuilder) -> Result<Self> {
        let hidden = (c2 as f64 * e) as usize;
        Ok(Self {
            cv1: ConvBlock::new(c1, hidden, 3, 1, vb.pp("cv1"))?,
            cv2: ConvBlock::new(hidden, c2, 3, 1, vb.pp("cv2"))?,
            add: shortcut && c1 == c2,
        })
    }
}

impl Module for Bottleneck {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.cv1.forward(x)?;
        if self.add { self.cv2.forward_add(&y, x) } else { self.cv2.forward(&y) }
    }
}

/// `C3k(c1, c2, n=2, shortcut, g=1, e=0.5, k=3)`: Ultralytics' C3 with 3x3 bottlenecks.
#[derive(Debug, Clone)]
pub(crate) struct C3k {
    cv1: ConvBlock,
    cv2: ConvBlock,
    cv3: ConvBlock,
    m: Vec<Bottleneck>,
}

impl C3k {
    pub(crate) fn new(c1: usize, c2: usize, n: usize, shortcut: bool, vb: VarBuilder) -> Result<Self> {
        let hidden = c2 / 2;
        let m = (0..n)
            .map(|i| Bottleneck::new(hidden, hidden, shortcut, 1.0, vb.pp("m").pp(i)))
            .collect::<Result<_>>()?;
        Ok(Self {
            cv1: ConvBlock::new(c1, hidden, 1, 1, vb.pp("cv1"))?,
            cv2: ConvBlock::new(c1, hidden, 1, 1, vb.pp("cv2"))?,
            cv3: ConvBlock::new(2 * hidden, c2, 1, 1, vb.pp("cv3"))?,
            m,
        })
    }
}

impl Module for C3k {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = self.cv1.forward(x)?;
        for block in &self.m {
            y = block.forward(&y)?;
        }
        self.cv3.forward_cat(&[y, self.cv2.forward(x)?])
    }
}

/// What a C2f-style block repeats.
#[derive(Debug, Clone)]
enum Inner {
    Bottleneck(Bottleneck),
    C3k(C3k),
}

impl Module for Inner {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Bottleneck(b) => b.forward(x),
            Self::C3k(c) => c.forward(x),
        }
    }
}

/// `C2f(c1, c2, n, shortcut, g=1, e=0.5)` and `C3k2(c1, c2, n, c3k, e, shortcut=True)`: split
/// `cv1`'s output in two halves, chain `n` blocks on the second half, concatenate every
/// intermediate and mix with `cv2`. C2f chains `Bottleneck(e=1.0)`; C3k2 chains
/// `Bottleneck(e=0.5)`, or `C3k(n=2)` when `c3k`.
#[derive(Debug, Clone)]
pub(crate) struct C2f {
    cv1: ConvBlock,
    cv2: ConvBlock,
    m: Vec<Inner>,
    hidden: usize,
}

impl C2f {
    /// YOLOv8's `C2f`.
    pub(crate) fn new(c1: usize, c2: usize, n: usize, shortcut: bool, vb: VarBuilder) -> Result<Self> {
        let hidden = c2 / 2;
        let m = (0..n)
            .map(|i| Ok(Inner::Bottleneck(Bottleneck::new(hidden, hidden, shortcut, 1.0, vb.pp("m").pp(i))?)))
            .collect::<Result<_>>()?;
        Self::with_blocks(c1, c2, hidden, m, vb)
    }

    /// YOLO11's `C3k2` (shortcut always on, as in every yaml row).
    pub(crate) fn c3k2(c1: usize, c2: usize, n: usize, c3k: bool, e: f64, vb: VarBuilder) -> Result<Self> {
        let hidden = (c2 as f64 * e) as usize;
        let m = (0..n)
            .map(|i| {
                let vb = vb.pp("m").pp(i);
                Ok(if c3k {
                    Inner::C3k(C3k::new(hidden, hidden, 2, true, vb)?)
                } else {
                    Inner::Bottleneck(Bottleneck::new(hidden, hidden, true, 0.5, vb)?)
                })
            })
            .collect::<Result<_>>()?;
        Self::with_blocks(c1, c2, hidden, m, vb)
    }

    fn with_blocks(c1: usize, c2: usize, hidden: usize, m: Vec<Inner>, vb: VarBuilder) -> Result<Self> {
        let n = m.len();
        Ok(Self {
            cv1: ConvBlock::new(c1, 2 * hidden, 1, 1, vb.pp("cv1"))?,
            cv2: ConvBlock::new((2 + n) * hidden, c2, 1, 1, vb.pp("cv2"))?,
            m,
            hidden,
        })
    }
}

impl C2f {
    /// `forward(cat(parts, 1))` without the concatenation on the CPU (`cv1` is 1x1).
    pub(crate) fn forward_cat(&self, parts: &[Tensor]) -> Result<Tensor> {
        self.blocks(self.cv1.forward_cat(parts)?)
    }

    /// Everything after `cv1`.
    fn blocks(&self, y: Tensor) -> Result<Tensor> {
        let mut ys = vec![y.narrow(1, 0, self.hidden)?, y.narrow(1, self.hidden, self.hidden)?];
        for block in &self.m {
            let next = block.forward(&ys[ys.len() - 1])?;
            ys.push(next);
        }
        self.cv2.forward_cat(&ys)
    }
}

impl Module for C2f {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.blocks(self.cv1.forward(x)?)
    }
}

/// `SPPF(c1, c2, k=5)`: `cv1`, three chained k x k max pools, concatenation, `cv2`. (The yamls'
/// two-argument rows keep `cv1`'s activation.)
#[derive(Debug, Clone)]
pub(crate) struct Sppf {
    cv1: ConvBlock,
    cv2: ConvBlock,
    k: usize,
}

impl Sppf {
    pub(crate) fn new(c1: usize, c2: usize, k: usize, vb: VarBuilder) -> Result<Self> {
        let hidden = c1 / 2;
        Ok(Self {
            cv1: ConvBlock::new(c1, hidden, 1, 1, vb.pp("cv1"))?,
            cv2: ConvBlock::new(4 * hidden, c2, 1, 1, vb.pp("cv2"))?,
            k,
        })
    }
}

impl Module for Sppf {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y0 = self.cv1.forward(x)?;
        if cpu_f32(&y0) {
            return self.cv2.forward(&y0.apply_op1_no_bwd(&SppfPools { k: self.k })?);
        }
        let y1 = max_pool_same(&y0, self.k)?;
        let y2 = max_pool_same(&y1, self.k)?;
        let y3 = max_pool_same(&y2, self.k)?;
        self.cv2.forward(&Tensor::cat(&[&y0, &y1, &y2, &y3], 1)?)
    }
}
