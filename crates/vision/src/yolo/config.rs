//! [`YoloConfig`]: Ultralytics' model yamls as data.
//!
//! The rows below are `ultralytics/cfg/models/v8/yolov8.yaml`, `11/yolo11.yaml` and
//! `12/yolo12.yaml` (the `-seg` yamls differ only in the last row), and [`YoloConfig::layers`]
//! resolves them exactly as `ultralytics/nn/tasks.py::parse_model` does: channel counts scaled by
//! `width` (capped at `max_channels`, rounded up to a multiple of 8), repeats scaled by `depth`,
//! C3k2 switched to C3k blocks for the m/l/x scales, A2C2f given residual scaling and a 1.2 MLP
//! ratio for l/x, and the Detect head's class branch built from depthwise-separable convolutions
//! unless the model is a "legacy" (v8) one.

use crate::card::{Family, Scale, Task};

/// Which YOLO to build: family, scale, task and class count, plus the derived multiples.
///
/// Build one with [`YoloConfig::new`]; the named presets live in [`Multiples::of`].
#[derive(Debug, Clone, PartialEq)]
pub struct YoloConfig {
    pub family: Family,
    pub scale: Scale,
    pub task: Task,
    pub num_classes: usize,
    /// The yaml's `scales:` row for `scale`.
    pub multiples: Multiples,
    /// DFL bins per box side (Ultralytics' `reg_max`).
    pub reg_max: usize,
    /// Segmentation: mask coefficients per anchor (`nm`).
    pub num_masks: usize,
    /// Segmentation: prototype channels before width scaling (`npr`, 256 in every yaml).
    pub num_protos_unscaled: usize,
}

/// Depth, width and channel cap of one scale: a row of the yaml's `scales:` table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Multiples {
    pub depth: f64,
    pub width: f64,
    pub max_channels: usize,
}

impl Multiples {
    /// The named presets, as in the yamls' `scales:` tables.
    pub fn of(family: Family, scale: Scale) -> Self {
        let (depth, width, max_channels) = match (family, scale) {
            (Family::V8, Scale::N) => (0.33, 0.25, 1024),
            (Family::V8, Scale::S) => (0.33, 0.50, 1024),
            (Family::V8, Scale::M) => (0.67, 0.75, 768),
            (Family::V8, Scale::L) => (1.00, 1.00, 512),
            (Family::V8, Scale::X) => (1.00, 1.25, 512),
            // YOLO11 and YOLOv12 share their scales table.
            (Family::V11 | Family::V12, Scale::N) => (0.50, 0.25, 1024),
            (Family::V11 | Family::V12, Scale::S) => (0.50, 0.50, 1024),
            (Family::V11 | Family::V12, Scale::M) => (0.50, 1.00, 512),
            (Family::V11 | Family::V12, Scale::L) => (1.00, 1.00, 512),
            (Family::V11 | Family::V12, Scale::X) => (1.00, 1.50, 512),
        };
        Self { depth, width, max_channels }
    }
}

/// One yaml row before scaling: `[from, repeats, module, args]`, `from` being the previous layer
/// unless it is a Concat.
#[derive(Debug, Clone, Copy)]
enum Row {
    /// `Conv, [c2, k, s]`
    Conv(usize, usize, usize),
    /// `C2f, [c2, shortcut]` with `n` repeats
    C2f(usize, usize, bool),
    /// `C3k2, [c2, c3k, e]` with `n` repeats
    C3k2(usize, usize, bool, f64),
    /// `SPPF, [c2, k]`
    Sppf(usize, usize),
    /// `C2PSA, [c2]` with `n` repeats
    C2psa(usize, usize),
    /// `A2C2f, [c2, a2, area]` with `n` repeats
    A2c2f(usize, usize, bool, i64),
    /// `nn.Upsample, [None, 2, "nearest"]`
    Upsample,
    /// `[[-1, other], 1, Concat, [1]]`
    Concat(usize),
}

use Row::{A2c2f, C2f, C2psa, C3k2, Concat, Conv, Sppf, Upsample};

/// `yolov8.yaml` / `yolov8-seg.yaml`, up to the head row `[[15, 18, 21], 1, Detect, [nc]]`.
const V8: &[Row] = &[
    Conv(64, 3, 2),  // 0-P1/2
    Conv(128, 3, 2), // 1-P2/4
    C2f(128, 3, true),
    Conv(256, 3, 2), // 3-P3/8
    C2f(256, 6, true),
    Conv(512, 3, 2), // 5-P4/16
    C2f(512, 6, true),
    Conv(1024, 3, 2), // 7-P5/32
    C2f(1024, 3, true),
    Sppf(1024, 5), // 9
    Upsample,
    Concat(6),
    C2f(512, 3, false), // 12
    Upsample,
    Concat(4),
    C2f(256, 3, false), // 15 (P3/8)
    Conv(256, 3, 2),
    Concat(12),
    C2f(512, 3, false), // 18 (P4/16)
    Conv(512, 3, 2),
    Concat(9),
    C2f(1024, 3, false), // 21 (P5/32)
];

/// `yolo11.yaml` / `yolo11-seg.yaml`, up to the head row `[[16, 19, 22], 1, Detect, [nc]]`.
const V11: &[Row] = &[
    Conv(64, 3, 2),
    Conv(128, 3, 2),
    C3k2(256, 2, false, 0.25),
    Conv(256, 3, 2),
    C3k2(512, 2, false, 0.25),
    Conv(512, 3, 2),
    C3k2(512, 2, true, 0.5),
    Conv(1024, 3, 2),
    C3k2(1024, 2, true, 0.5),
    Sppf(1024, 5),  // 9
    C2psa(1024, 2), // 10
    Upsample,
    Concat(6),
    C3k2(512, 2, false, 0.5), // 13
    Upsample,
    Concat(4),
    C3k2(256, 2, false, 0.5), // 16 (P3/8)
    Conv(256, 3, 2),
    Concat(13),
    C3k2(512, 2, false, 0.5), // 19 (P4/16)
    Conv(512, 3, 2),
    Concat(10),
    C3k2(1024, 2, true, 0.5), // 22 (P5/32)
];

/// `yolo12.yaml` / `yolo12-seg.yaml`, up to the head row `[[14, 17, 20], 1, Detect, [nc]]`.
const V12: &[Row] = &[
    Conv(64, 3, 2),
    Conv(128, 3, 2),
    C3k2(256, 2, false, 0.25),
    Conv(256, 3, 2),
    C3k2(512, 2, false, 0.25),
    Conv(512, 3, 2),
    A2c2f(512, 4, true, 4),
    Conv(1024, 3, 2),
    A2c2f(1024, 4, true, 1), // 8
    Upsample,
    Concat(6),
    A2c2f(512, 2, false, -1), // 11
    Upsample,
    Concat(4),
    A2c2f(256, 2, false, -1), // 14 (P3/8)
    Conv(256, 3, 2),
    Concat(11),
    A2c2f(512, 2, false, -1), // 17 (P4/16)
    Conv(512, 3, 2),
    Concat(8),
    C3k2(1024, 2, true, 0.5), // 20 (P5/32)
];

/// A layer with every channel count resolved: what the model builds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum LayerSpec {
    Conv {
        c1: usize,
        c2: usize,
        k: usize,
        s: usize,
    },
    C2f {
        c1: usize,
        c2: usize,
        n: usize,
        shortcut: bool,
    },
    C3k2 {
        c1: usize,
        c2: usize,
        n: usize,
        c3k: bool,
        e: f64,
    },
    Sppf {
        c1: usize,
        c2: usize,
        k: usize,
    },
    C2psa {
        c1: usize,
        c2: usize,
        n: usize,
    },
    A2c2f {
        c1: usize,
        c2: usize,
        n: usize,
        a2: bool,
        area: usize,
        residual: bool,
        mlp_ratio: f64,
    },
    /// Nearest-neighbour x2.
    Upsample,
    /// Channel concatenation of the previous layer's output and layer `other`'s.
    Concat {
        other: usize,
    },
}

/// The Detect / Segment head with its resolved channels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct HeadSpec {
    /// The head's yaml index (its tensors are `model.<index>.*`).
    pub index: usize,
    /// Layers feeding P3, P4, P5.
    pub from: [usize; 3],
    /// Their channel counts.
    pub ch: [usize; 3],
    pub num_classes: usize,
    pub reg_max: usize,
    /// Ultralytics' `Detect.legacy`: v8 heads use plain 3x3 convs in the class branch,
    /// later ones (any model with C3k2 / A2C2f) depthwise-separable ones.
    pub legacy: bool,
    /// Segmentation: (mask coefficients, prototype channels).
    pub masks: Option<(usize, usize)>,
}

impl YoloConfig {
    /// The preset for `family` x `scale` x `task` with `num_classes` classes (80 for COCO).
    pub fn new(family: Family, scale: Scale, task: Task, num_classes: usize) -> Self {
        Self {
            family,
            scale,
            task,
            num_classes,
            multiples: Multiples::of(family, scale),
            reg_max: 16,
            num_masks: 32,
            num_protos_unscaled: 256,
        }
    }

    /// Channels of a layer whose yaml says `c`: `make_divisible(min(c, max_channels) * width, 8)`.
    pub fn channels(&self, c: usize) -> usize {
        let scaled = c.min(self.multiples.max_channels) as f64 * self.multiples.width;
        (scaled / 8.0).ceil() as usize * 8
    }

    /// Repeats of a block whose yaml says `n`: `max(round(n * depth), 1)` for `n > 1`, with
    /// Python's round-half-to-even.
    pub fn repeats(&self, n: usize) -> usize {
        if n > 1 { ((n as f64 * self.multiples.depth).round_ties_even() as usize).max(1) } else { n }
    }

    /// Index of the layer whose pooled output is the embedding: SPPF for v8 and v11, the last
    /// backbone A2C2f for v12.
    pub fn embedding_layer(&self) -> usize {
        match self.family {
            Family::V8 | Family::V11 => 9,
            Family::V12 => 8,
        }
    }

    /// Number of backbone layers: the yaml's `backbone:` section.
    pub fn backbone_len(&self) -> usize {
        match self.family {
            Family::V8 => 10,
            Family::V11 => 11,
            Family::V12 => 9,
        }
    }

    /// Largest stride of the network: input sides must be multiples of it.
    pub fn max_stride(&self) -> usize {
        32
    }

    /// The yaml rows before the head, and the head's inputs (P3, P4, P5).
    fn rows(&self) -> (&'static [Row], [usize; 3]) {
        match self.family {
            Family::V8 => (V8, [15, 18, 21]),
            Family::V11 => (V11, [16, 19, 22]),
            Family::V12 => (V12, [14, 17, 20]),
        }
    }

    /// Every layer before the head, in yaml order, with resolved channels, and the head.
    pub(crate) fn layers(&self) -> (Vec<LayerSpec>, HeadSpec) {
        let large = matches!(self.scale, Scale::L | Scale::X);
        let c3k_forced = matches!(self.scale, Scale::M | Scale::L | Scale::X);
        let mut legacy = true;
        let mut out: Vec<usize> = Vec::new(); // output channels per layer
        let mut layers = Vec::new();
        let mut c1 = 3;
        let (rows, from) = self.rows();
        for row in rows {
            let (spec, c2) = match *row {
                Conv(c, k, s) => {
                    let c2 = self.channels(c);
                    (LayerSpec::Conv { c1, c2, k, s }, c2)
                }
                C2f(c, n, shortcut) => {
                    let c2 = self.channels(c);
                    (LayerSpec::C2f { c1, c2, n: self.repeats(n), shortcut }, c2)
                }
                C3k2(c, n, c3k, e) => {
                    legacy = false;
                    let c2 = self.channels(c);
                    let c3k = c3k || c3k_forced;
                    (LayerSpec::C3k2 { c1, c2, n: self.repeats(n), c3k, e }, c2)
                }
                Sppf(c, k) => {
                    let c2 = self.channels(c);
                    (LayerSpec::Sppf { c1, c2, k }, c2)
                }
                C2psa(c, n) => {
                    let c2 = self.channels(c);
                    (LayerSpec::C2psa { c1, c2, n: self.repeats(n) }, c2)
                }
                A2c2f(c, n, a2, area) => {
                    legacy = false;
                    let c2 = self.channels(c);
                    let (residual, mlp_ratio) = if large { (true, 1.2) } else { (false, 2.0) };
                    let area = usize::try_from(area).unwrap_or(1);
                    let n = self.repeats(n);
                    (LayerSpec::A2c2f { c1, c2, n, a2, area, residual, mlp_ratio }, c2)
                }
                Upsample => (LayerSpec::Upsample, c1),
                Concat(other) => (LayerSpec::Concat { other }, c1 + out[other]),
            };
            layers.push(spec);
            out.push(c2);
            c1 = c2;
        }
        let masks = match self.task {
            Task::Detect => None,
            Task::Segment => Some((self.num_masks, self.channels(self.num_protos_unscaled))),
        };
        let head = HeadSpec {
            index: layers.len(),
            from,
            ch: from.map(|i| out[i]),
            num_classes: self.num_classes,
            reg_max: self.reg_max,
            legacy,
            masks,
        };
        (layers, head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(family: Family, scale: Scale) -> YoloConfig {
        YoloConfig::new(family, scale, Task::Detect, 80)
    }

    #[test]
    fn channels_and_repeats_follow_parse_model() {
        let v8n = cfg(Family::V8, Scale::N);
        assert_eq!(v8n.channels(64), 16);
        assert_eq!(v8n.channels(1024), 256);
        assert_eq!(v8n.repeats(3), 1);
        assert_eq!(v8n.repeats(6), 2);
        let v8m = cfg(Family::V8, Scale::M);
        assert_eq!(v8m.channels(1024), 576); // min(1024, 768) * 0.75
        assert_eq!(v8m.repeats(3), 2);
        assert_eq!(v8m.repeats(6), 4);
        let v11x = cfg(Family::V11, Scale::X);
        assert_eq!(v11x.channels(1024), 768);
        assert_eq!(v11x.repeats(2), 2);
        assert_eq!(v11x.repeats(1), 1);
    }

    #[test]
    fn heads_take_p3_p4_p5_with_yaml_indices() {
        let (layers, head) = cfg(Family::V8, Scale::N).layers();
        assert_eq!((layers.len(), head.index, head.from, head.ch), (22, 22, [15, 18, 21], [64, 128, 256]));
        assert!(head.legacy);
        let (layers, head) = cfg(Family::V11, Scale::N).layers();
        assert_eq!((layers.len(), head.index, head.from, head.ch), (23, 23, [16, 19, 22], [64, 128, 256]));
        assert!(!head.legacy);
        let (layers, head) = cfg(Family::V12, Scale::L).layers();
        assert_eq!((layers.len(), head.index, head.ch), (21, 21, [256, 512, 512]));
        assert!(matches!(
            layers[6],
            LayerSpec::A2c2f { c2: 512, n: 4, a2: true, area: 4, residual: true, .. }
        ));
        assert!(matches!(layers[11], LayerSpec::A2c2f { a2: false, area: 1, .. }));
        assert!(matches!(layers[2], LayerSpec::C3k2 { c3k: true, .. }));
    }

    #[test]
    fn segment_protos_scale_with_width() {
        let seg = YoloConfig::new(Family::V8, Scale::N, Task::Segment, 80);
        assert_eq!(seg.layers().1.masks, Some((32, 64)));
        let seg = YoloConfig::new(Family::V11, Scale::X, Task::Segment, 80);
        assert_eq!(seg.layers().1.masks, Some((32, 384)));
    }
}
