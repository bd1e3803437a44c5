//! Dataset versions as pure functions: stable split assignment, the content hash that is a
//! version's id, and the diff between two versions.

use std::collections::BTreeMap;

use lacuna_core::{Attributes, Geometry, ReviewState, Split};
use serde::{Deserialize, Serialize};

/// What images are grouped by when splits are assigned: a group never straddles splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Each image on its own, keyed by its content hash (so exact duplicates stay together).
    #[default]
    Image,
    /// Camera (EXIF make + model + serial); images without one fall back to their hash.
    Camera,
    /// Capture day (local date from EXIF); images without one fall back to their hash.
    CaptureDay,
    /// The image's folder (sequences are often one folder each).
    Folder,
}

impl GroupBy {
    pub const ALL: [Self; 4] = [Self::Image, Self::Camera, Self::CaptureDay, Self::Folder];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Camera => "camera",
            Self::CaptureDay => "capture_day",
            Self::Folder => "folder",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s || g.as_str().replace('_', "-") == s)
    }
}

/// Split ratios and grouping of a version.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SplitConfig {
    pub train: f64,
    pub val: f64,
    pub test: f64,
    pub group_by: GroupBy,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self { train: 0.8, val: 0.1, test: 0.1, group_by: GroupBy::Image }
    }
}

impl SplitConfig {
    /// Parses `train,val,test` ratios (`0.8,0.1,0.1` or `80,10,10`); they are normalised to
    /// sum to 1.
    pub fn parse_ratios(s: &str, group_by: GroupBy) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() != 3 {
            return Err(format!("split `{s}`: give three ratios train,val,test (e.g. 0.8,0.1,0.1)"));
        }
        let mut r = [0.0f64; 3];
        for (i, p) in parts.iter().enumerate() {
            r[i] = p
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("split `{s}`: `{p}` is not a ratio (a number >= 0)"))?;
        }
        let sum: f64 = r.iter().sum();
        if sum <= 0.0 {
            return Err(format!("split `{s}`: the ratios add up to 0"));
        }
        Ok(Self { train: r[0] / sum, val: r[1] / sum, test: r[2] / sum, group_by })
    }

    /// The split of a group: a hash of the group key mapped to `[0, 1)` and cut at the ratios.
    /// Depends on nothing but the key and the ratios, so adding images never moves one.
    pub fn assign(&self, group_key: &str) -> Split {
        let h = blake3::hash(group_key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h.as_bytes()[..8]);
        let u = (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
        let sum = self.train + self.val + self.test;
        if u < self.train / sum {
            Split::Train
        } else if u < (self.train + self.val) / sum {
            Split::Val
        } else {
            Split::Test
        }
    }
}

/// A version's identity and description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Content hash, 64 hex digits.
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    pub notes: String,
    pub created_at_unix_s: i64,
    pub created_by: String,
    pub split: SplitConfig,
}

/// An annotation as a version keeps it: the class by name, plus who made and reviewed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FrozenAnnotation {
    pub class: String,
    pub geometry: Geometry,
    #[serde(default)]
    pub attributes: Attributes,
    /// `human` | `model` | `imported`.
    pub source: String,
    /// The model run it was adopted from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub author: String,
    pub review_state: ReviewState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
}

impl FrozenAnnotation {
    /// The text that defines this annotation's content (class, geometry, attributes), used for
    /// hashing, the canonical order and diff matching. Authors, sources and review states are
    /// provenance: they are kept with the version but do not change its id.
    pub fn content_text(&self) -> String {
        crate::frozen::content_text(&self.class, &self.geometry, &self.attributes)
    }
}

/// Puts an image's annotations in canonical order (by content), so the same annotations made
/// in a different order freeze to the same bytes; returns their content texts in that order.
pub fn canonical_order(annotations: &mut Vec<FrozenAnnotation>) -> Vec<String> {
    crate::frozen::canonical_contents(annotations)
}

/// Computes a version's id: BLAKE3 over the class list and, for every image in path order,
/// its path, content hash, split and annotation contents.
#[derive(Debug, Default)]
pub struct VersionHasher {
    images: Vec<(String, [u8; 32])>,
}

impl VersionHasher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an image, with its annotations' content texts in canonical order (see
    /// [`canonical_order`]).
    pub fn add_image(&mut self, path: &str, content_hash_hex: &str, split: Split, contents: &[String]) {
        let mut h = blake3::Hasher::new();
        h.update(content_hash_hex.as_bytes());
        h.update(b"\n");
        h.update(split.as_str().as_bytes());
        h.update(b"\n");
        for c in contents {
            h.update(c.as_bytes());
            h.update(b"\n");
        }
        self.images.push((path.to_string(), *h.finalize().as_bytes()));
    }

    pub fn finish(mut self, classes: &[String]) -> String {
        self.images.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut h = blake3::Hasher::new();
        h.update(b"lacuna-version-2\n");
        for c in classes {
            h.update(c.as_bytes());
            h.update(b"\n");
        }
        h.update(b"\n");
        for (path, digest) in &self.images {
            h.update(path.as_bytes());
            h.update(b"\0");
            h.update(digest);
        }
        h.finalize().to_hex().to_string()
    }
}

/// One side of an image in a diff.
#[derive(Debug, Clone, Copy)]
pub struct DiffSide<'a> {
    pub split: Split,
    pub annotations: &'a [FrozenAnnotation],
}

/// How one annotation changed between versions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AnnotationChange {
    pub path: String,
    pub before: FrozenAnnotation,
    pub after: FrozenAnnotation,
    /// IoU of the two bounding boxes.
    pub iou: f64,
    pub class_changed: bool,
    pub geometry_changed: bool,
    pub attributes_changed: bool,
}

/// An annotation only one side has.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AnnotationOnly {
    pub path: String,
    pub annotation: FrozenAnnotation,
}

/// Counts of a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DiffCounts {
    pub images_added: u64,
    pub images_removed: u64,
    pub images_split_changed: u64,
    pub images_changed: u64,
    pub annotations_added: u64,
    pub annotations_removed: u64,
    pub annotations_changed: u64,
    pub annotations_class_changed: u64,
    pub annotations_unchanged: u64,
}

/// An image whose split differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SplitChange {
    pub path: String,
    pub before: Split,
    pub after: Split,
}

/// Everything that differs between two versions (details capped at `max_details` entries per
/// list; counts are always complete).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VersionDiff {
    pub counts: DiffCounts,
    /// Class-change counts: `(before, after) -> n`.
    pub class_changes: BTreeMap<String, u64>,
    pub images_added: Vec<String>,
    pub images_removed: Vec<String>,
    pub split_changes: Vec<SplitChange>,
    pub annotations_added: Vec<AnnotationOnly>,
    pub annotations_removed: Vec<AnnotationOnly>,
    pub annotations_changed: Vec<AnnotationChange>,
    /// True when some lists were cut at `max_details`.
    pub truncated: bool,
}

/// Builds a [`VersionDiff`] image by image (feed every image of either version once).
#[derive(Debug)]
pub struct DiffBuilder {
    diff: VersionDiff,
    max_details: usize,
    iou_threshold: f64,
}

impl DiffBuilder {
    /// `iou_threshold`: boxes overlapping at least this much are the same object (0.5 is
    /// usual).
    pub fn new(max_details: usize, iou_threshold: f64) -> Self {
        Self { diff: VersionDiff::default(), max_details, iou_threshold }
    }

    fn push<T>(list: &mut Vec<T>, item: T, max: usize, truncated: &mut bool) {
        if list.len() < max {
            list.push(item);
        } else {
            *truncated = true;
        }
    }

    pub fn image(&mut self, path: &str, before: Option<DiffSide<'_>>, after: Option<DiffSide<'_>>) {
        let max = self.max_details;
        let d = &mut self.diff;
        match (before, after) {
            (None, None) => {}
            (None, Some(a)) => {
                d.counts.images_added += 1;
                d.counts.annotations_added += a.annotations.len() as u64;
                Self::push(&mut d.images_added, path.to_string(), max, &mut d.truncated);
            }
            (Some(b), None) => {
                d.counts.images_removed += 1;
                d.counts.annotations_removed += b.annotations.len() as u64;
                Self::push(&mut d.images_removed, path.to_string(), max, &mut d.truncated);
            }
            (Some(b), Some(a)) => {
                if b.split != a.split {
                    d.counts.images_split_changed += 1;
                    let change = SplitChange { path: path.to_string(), before: b.split, after: a.split };
                    Self::push(&mut d.split_changes, change, max, &mut d.truncated);
                }
                let changed_before =
                    d.counts.annotations_added + d.counts.annotations_removed + d.counts.annotations_changed;
                self.match_annotations(path, b.annotations, a.annotations);
                let d = &mut self.diff;
                if d.counts.annotations_added + d.counts.annotations_removed + d.counts.annotations_changed
                    > changed_before
                {
                    d.counts.images_changed += 1;
                }
            }
        }
    }

    fn match_annotations(&mut self, path: &str, before: &[FrozenAnnotation], after: &[FrozenAnnotation]) {
        let max = self.max_details;
        let mut used_b = vec![false; before.len()];
        let mut used_a = vec![false; after.len()];
        // Identical annotations pair first, so overlapping neighbours never steal them.
        let keys_a: Vec<String> = after.iter().map(FrozenAnnotation::content_text).collect();
        for (i, b) in before.iter().enumerate() {
            let kb = b.content_text();
            if let Some(j) = (0..after.len()).find(|&j| !used_a[j] && keys_a[j] == kb) {
                used_b[i] = true;
                used_a[j] = true;
                self.diff.counts.annotations_unchanged += 1;
            }
        }
        // Then the rest by bounding-box IoU, best pairs first.
        let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
        for (i, b) in before.iter().enumerate().filter(|(i, _)| !used_b[*i]) {
            let bb = b.geometry.bbox();
            for (j, a) in after.iter().enumerate().filter(|(j, _)| !used_a[*j]) {
                let iou = bb.iou(&a.geometry.bbox());
                if iou >= self.iou_threshold {
                    pairs.push((iou, i, j));
                }
            }
        }
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        let d = &mut self.diff;
        for (iou, i, j) in pairs {
            if used_b[i] || used_a[j] {
                continue;
            }
            used_b[i] = true;
            used_a[j] = true;
            let (b, a) = (&before[i], &after[j]);
            let change = AnnotationChange {
                path: path.to_string(),
                before: b.clone(),
                after: a.clone(),
                iou,
                class_changed: b.class != a.class,
                geometry_changed: b.geometry != a.geometry,
                attributes_changed: b.attributes != a.attributes,
            };
            d.counts.annotations_changed += 1;
            if change.class_changed {
                d.counts.annotations_class_changed += 1;
                *d.class_changes.entry(format!("{} -> {}", b.class, a.class)).or_default() += 1;
            }
            Self::push(&mut d.annotations_changed, change, max, &mut d.truncated);
        }
        for (i, b) in before.iter().enumerate().filter(|(i, _)| !used_b[*i]) {
            let _ = i;
            d.counts.annotations_removed += 1;
            let only = AnnotationOnly { path: path.to_string(), annotation: b.clone() };
            Self::push(&mut d.annotations_removed, only, max, &mut d.truncated);
        }
        for (j, a) in after.iter().enumerate().filter(|(j, _)| !used_a[*j]) {
            let _ = j;
            d.counts.annotations_added += 1;
            let only = AnnotationOnly { path: path.to_string(), annotation: a.clone() };
            Self::push(&mut d.annotations_added, only, max, &mut d.truncated);
        }
    }

    pub fn finish(self) -> VersionDiff {
        self.diff
    }
}

#[cfg(test)]
mod tests {
    use lacuna_core::BoxXyxy;

    use super::*;

    fn ann(class: &str, x0: f64) -> FrozenAnnotation {
        FrozenAnnotation {
            class: class.into(),
            geometry: Geometry::Box(BoxXyxy { x0, y0: 0.0, x1: x0 + 10.0, y1: 10.0 }),
            attributes: Attributes::default(),
            source: "human".into(),
            run: None,
            score: None,
            author: "a".into(),
            review_state: ReviewState::Unreviewed,
            reviewer: None,
        }
    }

    #[test]
    fn splits_follow_the_ratios_and_never_move_when_data_is_added() {
        let cfg = SplitConfig::default();
        let mut counts = [0usize; 3];
        let first: Vec<Split> = (0..10_000).map(|i| cfg.assign(&format!("img{i}"))).collect();
        for s in &first {
            counts[*s as usize] += 1;
        }
        assert!((7_700..8_300).contains(&counts[0]), "{counts:?}");
        assert!((800..1_200).contains(&counts[1]), "{counts:?}");
        // Same keys, more data around them: same splits.
        for (i, s) in first.iter().enumerate().step_by(97) {
            assert_eq!(cfg.assign(&format!("img{i}")), *s);
        }
        let r = SplitConfig::parse_ratios("70,20,10", GroupBy::Camera).expect("valid");
        assert!((r.train - 0.7).abs() < 1e-12 && r.group_by == GroupBy::Camera);
        assert!(
            SplitConfig::parse_ratios("0.8,0.2", GroupBy::Image).expect_err("two").contains("three ratios")
        );
        assert!(
            SplitConfig::parse_ratios("a,1,1", GroupBy::Image).expect_err("not a number").contains("`a`")
        );
    }

    #[test]
    fn the_id_depends_on_content_not_order_or_provenance() {
        let mut x = vec![ann("car", 0.0), ann("dog", 50.0)];
        let mut y = vec![ann("dog", 50.0), ann("car", 0.0)];
        y[0].author = "someone else".into();
        canonical_order(&mut x);
        canonical_order(&mut y);
        let id = |anns: &[FrozenAnnotation], split| {
            let mut h = VersionHasher::new();
            h.add_image("b.jpg", "00", Split::Train, &[]);
            let contents: Vec<String> = anns.iter().map(FrozenAnnotation::content_text).collect();
            h.add_image("a.jpg", "ff", split, &contents);
            h.finish(&["car".into(), "dog".into()])
        };
        assert_eq!(id(&x, Split::Train), id(&y, Split::Train));
        assert_ne!(id(&x, Split::Train), id(&x, Split::Val));
        let mut z = x.clone();
        if let Geometry::Box(b) = &mut z[0].geometry {
            b.x1 += 0.5;
        }
        assert_ne!(id(&x, Split::Train), id(&z, Split::Train));
    }

    #[test]
    fn diff_matches_boxes_by_iou_and_reports_class_changes() {
        let before = vec![ann("car", 0.0), ann("dog", 100.0), ann("cat", 200.0)];
        let mut moved = ann("car", 1.0);
        moved.class = "truck".into();
        let after = vec![moved, ann("dog", 100.0), ann("bird", 400.0)];
        let mut b = DiffBuilder::new(100, 0.5);
        b.image(
            "x.jpg",
            Some(DiffSide { split: Split::Train, annotations: &before }),
            Some(DiffSide { split: Split::Val, annotations: &after }),
        );
        b.image("new.jpg", None, Some(DiffSide { split: Split::Train, annotations: &after }));
        let d = b.finish();
        assert_eq!(d.counts.annotations_unchanged, 1);
        assert_eq!(d.counts.annotations_changed, 1);
        assert_eq!(d.counts.annotations_class_changed, 1);
        assert_eq!(d.class_changes.get("car -> truck"), Some(&1));
        assert_eq!(d.counts.annotations_removed, 1);
        assert_eq!(d.annotations_removed[0].annotation.class, "cat");
        assert_eq!(d.counts.annotations_added, 1 + 3);
        assert_eq!(d.counts.images_added, 1);
        assert_eq!(d.counts.images_split_changed, 1);
        assert_eq!(d.counts.images_changed, 1);
        assert!(d.annotations_changed[0].geometry_changed);
    }
}
