//! Human-made and imported labels: classes, annotations (boxes, polygons, masks), their
//! sources and review states, and the label state of a whole image.
//!
//! Coordinates are image pixels of the image as a viewer shows it (EXIF orientation applied),
//! continuous: the pixel at column 0 spans `0.0..1.0`, so a box covering a whole 640 × 480
//! image is `(0, 0)`–`(640, 480)`. They are `f64` so coordinates read from a label file come
//! back out byte for byte.

use serde::{Deserialize, Serialize};

use crate::geometry::{Polygon, Rle, mask_from_polygons, polygons_from_mask};
use crate::ids::{ImageId, RunId, id_type};

id_type!(
    /// Row id of a label class. Never reused, so a journal entry can always name its class.
    ClassId
);
id_type!(
    /// Row id of an annotation. Never reused: undoing a delete brings the same id back.
    AnnotationId
);
id_type!(
    /// One user action in the edit journal (one or many events committed together).
    ActionId
);

/// An axis-aligned box, corners in image pixels (`x0 <= x1`, `y0 <= y1`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BoxXyxy {
    pub x0: f64,
    pub y0: f64,
    pub x1: f64,
    pub y1: f64,
}

impl BoxXyxy {
    pub fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    pub fn area(&self) -> f64 {
        self.width().max(0.0) * self.height().max(0.0)
    }

    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, other: &Self) -> f64 {
        let iw = (self.x1.min(other.x1) - self.x0.max(other.x0)).max(0.0);
        let ih = (self.y1.min(other.y1) - self.y0.max(other.y0)).max(0.0);
        let inter = iw * ih;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// The box clipped to `0..width` × `0..height`, and whether anything was cut off.
    pub fn clipped(&self, width_px: u32, height_px: u32) -> (Self, bool) {
        let b = self.clamped_to(f64::from(width_px), f64::from(height_px));
        let changed = b != *self;
        (b, changed)
    }

    /// Every corner clamped into `0..w` × `0..h`.
    pub fn clamped_to(&self, w: f64, h: f64) -> Self {
        Self {
            x0: self.x0.clamp(0.0, w),
            y0: self.y0.clamp(0.0, h),
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
        }
    }
}

/// The shape of an annotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Geometry {
    /// An axis-aligned box.
    Box(BoxXyxy),
    /// One object drawn as one or more closed outlines (`[x, y]` corners each; an object
    /// split by an occluder has several parts).
    Polygon { parts: Vec<Vec<[f64; 2]>> },
    /// A pixel mask at the image's size, COCO RLE.
    Mask(Rle),
}

/// Which kind of [`Geometry`] (for filters, counts and storage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeometryKind {
    Box,
    Polygon,
    Mask,
}

impl GeometryKind {
    pub const ALL: [Self; 3] = [Self::Box, Self::Polygon, Self::Mask];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Box => "box",
            Self::Polygon => "polygon",
            Self::Mask => "mask",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Geometry that cannot be stored for its image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GeometryError(pub String);

impl Geometry {
    pub fn kind(&self) -> GeometryKind {
        match self {
            Self::Box(_) => GeometryKind::Box,
            Self::Polygon { .. } => GeometryKind::Polygon,
            Self::Mask(_) => GeometryKind::Mask,
        }
    }

    /// The tight bounding box (of all parts; of the set pixels of a mask). A mask with no
    /// pixels set gives an empty box at the origin.
    pub fn bbox(&self) -> BoxXyxy {
        match self {
            Self::Box(b) => *b,
            Self::Polygon { parts } => {
                let mut b = BoxXyxy { x0: f64::MAX, y0: f64::MAX, x1: f64::MIN, y1: f64::MIN };
                for &[x, y] in parts.iter().flatten() {
                    b.x0 = b.x0.min(x);
                    b.y0 = b.y0.min(y);
                    b.x1 = b.x1.max(x);
                    b.y1 = b.y1.max(y);
                }
                if b.x0 > b.x1 { BoxXyxy { x0: 0.0, y0: 0.0, x1: 0.0, y1: 0.0 } } else { b }
            }
            Self::Mask(rle) => rle_bbox(rle),
        }
    }

    /// Area in square pixels: the box's, the polygon parts' (shoelace, summed), the mask's
    /// pixel count.
    pub fn area(&self) -> f64 {
        match self {
            Self::Box(b) => b.area(),
            Self::Polygon { parts } => parts.iter().map(|p| part_area(p)).sum(),
            Self::Mask(rle) => rle.area() as f64,
        }
    }

    /// Checks the geometry is well-formed for an image of this size: finite coordinates, a box
    /// with `x0 <= x1` and `y0 <= y1`, polygon parts of at least 3 points, a mask of exactly the
    /// image's size. Coordinates outside the image are allowed here (see [`Self::clipped`]).
    pub fn validate(&self, width_px: u32, height_px: u32) -> Result<(), GeometryError> {
        match self {
            Self::Box(b) => {
                if ![b.x0, b.y0, b.x1, b.y1].iter().all(|v| v.is_finite()) {
                    return Err(GeometryError("box has a coordinate that is not a finite number".into()));
                }
                if b.x0 > b.x1 || b.y0 > b.y1 {
                    return Err(GeometryError(format!(
                        "box ({}, {})–({}, {}) has its corners swapped",
                        b.x0, b.y0, b.x1, b.y1
                    )));
                }
            }
            Self::Polygon { parts } => {
                if parts.is_empty() {
                    return Err(GeometryError("polygon has no parts".into()));
                }
                for (i, part) in parts.iter().enumerate() {
                    if part.len() < 3 {
                        return Err(GeometryError(format!(
                            "polygon part {i} has {} points; at least 3 are needed",
                            part.len()
                        )));
                    }
                    if !part.iter().flatten().all(|v| v.is_finite()) {
                        return Err(GeometryError(format!(
                            "polygon part {i} has a coordinate that is not a finite number"
                        )));
                    }
                }
            }
            Self::Mask(rle) => {
                if rle.width_px != width_px || rle.height_px != height_px {
                    return Err(GeometryError(format!(
                        "mask is {}x{} but the image is {width_px}x{height_px}",
                        rle.width_px, rle.height_px
                    )));
                }
                let total: u64 = rle.counts.iter().map(|&c| u64::from(c)).sum();
                if total != u64::from(width_px) * u64::from(height_px) {
                    return Err(GeometryError(format!(
                        "mask counts add up to {total}, the image has {} pixels",
                        u64::from(width_px) * u64::from(height_px)
                    )));
                }
            }
        }
        Ok(())
    }

    /// The geometry clipped to the image (boxes and polygon points clamped into
    /// `0..width` × `0..height`; masks are always inside), and whether anything moved.
    pub fn clipped(&self, width_px: u32, height_px: u32) -> (Self, bool) {
        let (w, h) = (f64::from(width_px), f64::from(height_px));
        match self {
            Self::Box(b) => {
                let (b, changed) = b.clipped(width_px, height_px);
                (Self::Box(b), changed)
            }
            Self::Polygon { parts } => {
                let inside =
                    parts.iter().flatten().all(|&[x, y]| (0.0..=w).contains(&x) && (0.0..=h).contains(&y));
                if inside {
                    return (self.clone(), false);
                }
                let parts: Vec<Vec<[f64; 2]>> =
                    parts.iter().map(|p| clip_polygon(p, w, h)).filter(|p| p.len() >= 3).collect();
                (Self::Polygon { parts }, true)
            }
            Self::Mask(_) => (self.clone(), false),
        }
    }

    /// The geometry as a mask at the image's size (boxes and polygons filled at pixel
    /// centres).
    pub fn to_mask_rle(&self, width_px: u32, height_px: u32) -> Rle {
        match self {
            Self::Mask(rle) => rle.clone(),
            Self::Box(b) => {
                let part = vec![[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]];
                Self::Polygon { parts: vec![part] }.to_mask_rle(width_px, height_px)
            }
            Self::Polygon { parts } => {
                let polys: Vec<Polygon> =
                    parts.iter().map(|p| p.iter().map(|&[x, y]| [x as f32, y as f32]).collect()).collect();
                Rle::from_mask(&mask_from_polygons(&polys, width_px, height_px))
            }
        }
    }

    /// The geometry as polygon parts: a box's four corners, a mask's outer outlines
    /// (simplified at `tolerance_px`, largest first; holes are lost).
    pub fn to_polygon_parts(&self, tolerance_px: f32) -> Vec<Vec<[f64; 2]>> {
        match self {
            Self::Box(b) => vec![vec![[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]]],
            Self::Polygon { parts } => parts.clone(),
            Self::Mask(rle) => match rle.to_mask() {
                Ok(mask) => polygons_from_mask(&mask, tolerance_px)
                    .into_iter()
                    .map(|p| p.into_iter().map(|[x, y]| [f64::from(x), f64::from(y)]).collect())
                    .collect(),
                Err(_) => Vec::new(),
            },
        }
    }
}

/// Sutherland–Hodgman: the part of a polygon inside `0..w` × `0..h` (the true intersection
/// for convex and most concave outlines; never a point outside the image).
fn clip_polygon(part: &[[f64; 2]], w: f64, h: f64) -> Vec<[f64; 2]> {
    // Each edge: keep points where `inside(p)`; the crossing found by solving on one axis.
    let edges: [(usize, f64, bool); 4] = [(0, 0.0, true), (0, w, false), (1, 0.0, true), (1, h, false)];
    let mut out: Vec<[f64; 2]> = part.to_vec();
    for (axis, limit, keep_above) in edges {
        if out.is_empty() {
            break;
        }
        let inside = |p: &[f64; 2]| if keep_above { p[axis] >= limit } else { p[axis] <= limit };
        let input = std::mem::take(&mut out);
        for i in 0..input.len() {
            let cur = input[i];
            let prev = input[(i + input.len() - 1) % input.len()];
            let cross = |a: [f64; 2], b: [f64; 2]| {
                let t = (limit - a[axis]) / (b[axis] - a[axis]);
                let mut p = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
                p[axis] = limit;
                p
            };
            match (inside(&prev), inside(&cur)) {
                (true, true) => out.push(cur),
                (true, false) => out.push(cross(prev, cur)),
                (false, true) => {
                    out.push(cross(prev, cur));
                    out.push(cur);
                }
                (false, false) => {}
            }
        }
    }
    out.dedup();
    out
}

/// Area of one closed polygon part (shoelace), in square pixels.
pub fn part_area(part: &[[f64; 2]]) -> f64 {
    shoelace(part).abs()
}

fn shoelace(part: &[[f64; 2]]) -> f64 {
    let n = part.len();
    let mut s = 0.0;
    for i in 0..n {
        let [x0, y0] = part[i];
        let [x1, y1] = part[(i + 1) % n];
        s += x0 * y1 - x1 * y0;
    }
    s / 2.0
}

fn rle_bbox(rle: &Rle) -> BoxXyxy {
    let h = u64::from(rle.height_px.max(1));
    let (mut x0, mut y0, mut x1, mut y1) = (u64::MAX, u64::MAX, 0u64, 0u64);
    let mut i = 0u64;
    for (k, &count) in rle.counts.iter().enumerate() {
        let count = u64::from(count);
        if k % 2 == 1 && count > 0 {
            let (first, last) = (i, i + count - 1);
            let (fx, fy, lx, ly) = (first / h, first % h, last / h, last % h);
            x0 = x0.min(fx);
            x1 = x1.max(lx);
            if fx == lx {
                y0 = y0.min(fy);
                y1 = y1.max(ly);
            } else {
                // The run wraps into a later column: its rows span the whole height.
                y0 = 0;
                y1 = h - 1;
            }
        }
        i += count;
    }
    if x0 == u64::MAX {
        return BoxXyxy { x0: 0.0, y0: 0.0, x1: 0.0, y1: 0.0 };
    }
    BoxXyxy { x0: x0 as f64, y0: y0 as f64, x1: (x1 + 1) as f64, y1: (y1 + 1) as f64 }
}

/// Flags on an annotation (CVAT's and COCO's usual ones, plus free tags).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Attributes {
    #[serde(default, skip_serializing_if = "is_false")]
    pub occluded: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// COCO `iscrowd`: the region covers a group of objects.
    #[serde(default, skip_serializing_if = "is_false")]
    pub crowd: bool,
    /// Free tags, kept sorted and without duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Attributes {
    /// Sorts and de-duplicates the tags (the stored form).
    pub fn normalized(mut self) -> Self {
        self.tags.sort();
        self.tags.dedup();
        self
    }
}

/// Where an annotation came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum AnnotationSource {
    /// Drawn by a person.
    Human,
    /// Adopted from a model's prediction.
    Model { run: RunId, prediction: Option<i64> },
    /// Read from a label file.
    Imported,
}

impl AnnotationSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Model { .. } => "model",
            Self::Imported => "imported",
        }
    }
}

/// Where an annotation stands in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    Unreviewed,
    Accepted,
    Rejected,
    /// Changed by the reviewer (geometry or class), then accepted.
    Corrected,
}

impl ReviewState {
    pub const ALL: [Self; 4] = [Self::Unreviewed, Self::Accepted, Self::Rejected, Self::Corrected];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreviewed => "unreviewed",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Corrected => "corrected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a whole image stands in labeling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ImageLabelState {
    Unlabeled,
    InProgress,
    /// Every object is annotated.
    Labeled,
    /// Looked at: there is nothing to annotate (a negative example, not a forgotten image).
    LabeledEmpty,
    /// Labeled and checked by a reviewer.
    Reviewed,
    /// Deliberately left out (unusable, out of scope).
    Skipped,
}

impl ImageLabelState {
    pub const ALL: [Self; 6] =
        [Self::Unlabeled, Self::InProgress, Self::Labeled, Self::LabeledEmpty, Self::Reviewed, Self::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unlabeled => "unlabeled",
            Self::InProgress => "in_progress",
            Self::Labeled => "labeled",
            Self::LabeledEmpty => "labeled_empty",
            Self::Reviewed => "reviewed",
            Self::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the image's labels are finished: it goes into a frozen version.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Labeled | Self::LabeledEmpty | Self::Reviewed)
    }
}

/// A label class of the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LabelClass {
    pub id: ClassId,
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
    /// A single key that picks the class while annotating.
    pub hotkey: Option<String>,
    /// Order in the class list and in exports (class index = rank by position).
    pub position: i64,
}

/// Checks a colour is `#rrggbb` and returns it lower-cased.
pub fn parse_color(s: &str) -> Option<String> {
    let hex = s.strip_prefix('#')?;
    (hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("#{}", hex.to_ascii_lowercase()))
}

/// A stable colour for the `index`-th class (a 20-colour palette, then repeats).
pub fn default_class_color(index: usize) -> String {
    const PALETTE: [&str; 20] = [
        "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
        "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000", "#ffd8b1",
        "#000075", "#808080",
    ];
    PALETTE[index % PALETTE.len()].to_string()
}

/// An annotation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Annotation {
    pub id: AnnotationId,
    pub image: ImageId,
    pub class: ClassId,
    pub geometry: Geometry,
    #[serde(default)]
    pub attributes: Attributes,
    #[serde(flatten)]
    pub source: AnnotationSource,
    /// The model's score, for annotations adopted from a prediction.
    pub score: Option<f64>,
    pub author: String,
    pub review_state: ReviewState,
    pub reviewer: Option<String>,
    pub created_at_unix_s: i64,
    pub updated_at_unix_s: i64,
}

/// A dataset split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub const ALL: [Self; 3] = [Self::Train, Self::Val, Self::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Val => "val",
            Self::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BinaryMask;

    #[test]
    fn iou_of_overlapping_boxes() {
        let a = BoxXyxy { x0: 0.0, y0: 0.0, x1: 10.0, y1: 10.0 };
        let b = BoxXyxy { x0: 5.0, y0: 0.0, x1: 15.0, y1: 10.0 };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(a.iou(&a), 1.0);
    }

    #[test]
    fn clipping_reports_what_moved() {
        let g = Geometry::Box(BoxXyxy { x0: -3.0, y0: 2.0, x1: 50.0, y1: 8.0 });
        let (c, changed) = g.clipped(40, 30);
        assert!(changed);
        assert_eq!(c, Geometry::Box(BoxXyxy { x0: 0.0, y0: 2.0, x1: 40.0, y1: 8.0 }));
        let (_, changed) = c.clipped(40, 30);
        assert!(!changed);
    }

    #[test]
    fn polygons_are_clipped_to_the_image_not_squashed() {
        // A triangle poking out of the right edge keeps its inside part exactly.
        let g = Geometry::Polygon { parts: vec![vec![[10.0, 10.0], [30.0, 10.0], [10.0, 30.0]]] };
        let (c, changed) = g.clipped(20, 40);
        assert!(changed);
        let Geometry::Polygon { parts } = &c else { panic!("still a polygon") };
        assert!(parts[0].iter().all(|&[x, y]| (0.0..=20.0).contains(&x) && (0.0..=40.0).contains(&y)));
        // Area of the triangle left of x = 20: 200 - 50 (the cut-off corner triangle).
        assert!((c.area() - 150.0).abs() < 1e-9, "{}", c.area());
        // A part entirely outside disappears.
        let g = Geometry::Polygon { parts: vec![vec![[50.0, 1.0], [60.0, 1.0], [55.0, 5.0]]] };
        let (c, _) = g.clipped(20, 40);
        assert_eq!(c, Geometry::Polygon { parts: vec![] });
    }

    #[test]
    fn mask_bbox_matches_set_pixels() {
        let mut m = BinaryMask::new(7, 5);
        for (x, y) in [(2, 1), (3, 1), (3, 3), (5, 2)] {
            m.set(x, y, true);
        }
        let b = Geometry::Mask(Rle::from_mask(&m)).bbox();
        assert_eq!(b, BoxXyxy { x0: 2.0, y0: 1.0, x1: 6.0, y1: 4.0 });
        // A run that wraps from one column into the next covers the full height.
        let mut m = BinaryMask::new(3, 4);
        m.set(0, 3, true);
        m.set(1, 0, true);
        let b = Geometry::Mask(Rle::from_mask(&m)).bbox();
        assert_eq!(b, BoxXyxy { x0: 0.0, y0: 0.0, x1: 2.0, y1: 4.0 });
    }

    #[test]
    fn validate_names_the_problem() {
        let g = Geometry::Polygon { parts: vec![vec![[0.0, 0.0], [1.0, 1.0]]] };
        assert!(g.validate(10, 10).expect_err("invalid").0.contains("part 0 has 2 points"));
        let g = Geometry::Box(BoxXyxy { x0: 5.0, y0: 0.0, x1: 1.0, y1: 3.0 });
        assert!(g.validate(10, 10).expect_err("invalid").0.contains("swapped"));
        let g = Geometry::Mask(Rle::from_mask(&BinaryMask::new(4, 4)));
        assert!(g.validate(5, 4).expect_err("invalid").0.contains("4x4"));
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in ImageLabelState::ALL {
            assert_eq!(ImageLabelState::parse(s.as_str()), Some(s));
        }
        for s in ReviewState::ALL {
            assert_eq!(ReviewState::parse(s.as_str()), Some(s));
        }
        assert_eq!(parse_color("#A0b1C2").as_deref(), Some("#a0b1c2"));
        assert_eq!(parse_color("a0b1c2"), None);
    }
}
