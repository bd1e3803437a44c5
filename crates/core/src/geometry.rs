//! Mask geometry: binary masks, COCO run-length encoding and polygon outlines.
//!
//! RLE follows COCO (`pycocotools/_mask.pyx`): counts of alternating 0 and 1 runs over the
//! mask read column by column (Fortran order), starting with a run of zeros (possibly empty);
//! the compressed string form is pycocotools' LEB128-like text encoding.
//! Polygons trace pixel edges ("crack following"), so a polygon's area equals the pixel count
//! of its region exactly; they are then simplified with Douglas–Peucker.

use serde::{Deserialize, Serialize};

/// A binary mask, row-major, one byte per pixel (0 or 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryMask {
    pub width_px: u32,
    pub height_px: u32,
    /// `width_px * height_px` bytes, each 0 or 1.
    pub data: Vec<u8>,
}

impl BinaryMask {
    pub fn new(width_px: u32, height_px: u32) -> Self {
        Self { width_px, height_px, data: vec![0; width_px as usize * height_px as usize] }
    }

    pub fn get(&self, x: u32, y: u32) -> bool {
        self.data[y as usize * self.width_px as usize + x as usize] != 0
    }

    pub fn set(&mut self, x: u32, y: u32, on: bool) {
        self.data[y as usize * self.width_px as usize + x as usize] = u8::from(on);
    }

    /// Pixels set.
    pub fn area(&self) -> u64 {
        self.data.iter().filter(|&&v| v != 0).count() as u64
    }
}

/// COCO run-length encoding of a mask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Rle {
    pub height_px: u32,
    pub width_px: u32,
    /// Alternating run lengths, zeros first, column-major.
    pub counts: Vec<u32>,
}

/// An RLE whose counts do not add up to its size, or a malformed compressed string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RLE: {0}")]
pub struct RleError(pub String);

impl Rle {
    pub fn from_mask(mask: &BinaryMask) -> Self {
        let (w, h) = (mask.width_px as usize, mask.height_px as usize);
        let mut counts = Vec::new();
        let mut current = 0u8;
        let mut run = 0u32;
        for x in 0..w {
            for y in 0..h {
                let v = u8::from(mask.data[y * w + x] != 0);
                if v != current {
                    counts.push(run);
                    run = 0;
                    current = v;
                }
                run += 1;
            }
        }
        counts.push(run);
        Self { height_px: mask.height_px, width_px: mask.width_px, counts }
    }

    pub fn to_mask(&self) -> Result<BinaryMask, RleError> {
        let (w, h) = (self.width_px as usize, self.height_px as usize);
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total != (w * h) as u64 {
            return Err(RleError(format!("counts add up to {total}, the mask has {} pixels", w * h)));
        }
        let mut mask = BinaryMask::new(self.width_px, self.height_px);
        let mut i = 0usize;
        for (k, &count) in self.counts.iter().enumerate() {
            if k % 2 == 1 {
                for j in i..i + count as usize {
                    let (x, y) = (j / h, j % h);
                    mask.data[y * w + x] = 1;
                }
            }
            i += count as usize;
        }
        Ok(mask)
    }

    pub fn area(&self) -> u64 {
        self.counts.iter().skip(1).step_by(2).map(|&c| u64::from(c)).sum()
    }

    /// pycocotools' compressed `counts` string.
    pub fn to_coco_string(&self) -> String {
        let mut out = String::new();
        for (i, &count) in self.counts.iter().enumerate() {
            let mut x = i64::from(count);
            if i > 2 {
                x -= i64::from(self.counts[i - 2]);
            }
            loop {
                let mut c = (x & 0x1f) as u8;
                x >>= 5;
                let more = if c & 0x10 != 0 { x != -1 } else { x != 0 };
                if more {
                    c |= 0x20;
                }
                out.push(char::from(c + 48));
                if !more {
                    break;
                }
            }
        }
        out
    }

    /// Parses pycocotools' compressed `counts` string.
    pub fn from_coco_string(height_px: u32, width_px: u32, s: &str) -> Result<Self, RleError> {
        let bytes = s.as_bytes();
        let mut counts: Vec<u32> = Vec::new();
        let mut p = 0;
        while p < bytes.len() {
            let mut x: i64 = 0;
            let mut k = 0;
            loop {
                let byte = *bytes.get(p).ok_or_else(|| RleError("the string ends inside a number".into()))?;
                if !(48..48 + 64).contains(&byte) {
                    return Err(RleError(format!("byte {byte} at {p} is outside the RLE alphabet")));
                }
                let c = i64::from(byte) - 48;
                x |= (c & 0x1f) << (5 * k);
                p += 1;
                k += 1;
                if c & 0x20 == 0 {
                    if c & 0x10 != 0 {
                        x |= -1 << (5 * k);
                    }
                    break;
                }
                if k > 12 {
                    return Err(RleError("a number is too long".into()));
                }
            }
            let i = counts.len();
            if i > 2 {
                x += i64::from(counts[i - 2]);
            }
            counts.push(u32::try_from(x).map_err(|_| RleError(format!("run {i} has length {x}")))?);
        }
        let rle = Self { height_px, width_px, counts };
        let total: u64 = rle.counts.iter().map(|&c| u64::from(c)).sum();
        if total != u64::from(height_px) * u64::from(width_px) {
            return Err(RleError(format!(
                "counts add up to {total}, the mask has {} pixels",
                u64::from(height_px) * u64::from(width_px)
            )));
        }
        Ok(rle)
    }
}

/// A closed outline in pixel coordinates (`[x, y]` corners; the last point joins the first).
pub type Polygon = Vec<[f32; 2]>;

/// Outer outlines of the mask's regions (holes are not returned: COCO polygons cannot express
/// them; use RLE for exact masks), simplified with Douglas–Peucker at `tolerance_px`
/// (0 keeps every corner that is not collinear). Sorted by area, largest first.
pub fn polygons_from_mask(mask: &BinaryMask, tolerance_px: f32) -> Vec<Polygon> {
    let mut loops = trace_boundaries(mask);
    loops.retain(|l| signed_area(l) > 0.0);
    let mut polygons: Vec<Polygon> = loops.into_iter().map(|l| simplify_closed(&l, tolerance_px)).collect();
    polygons.sort_by(|a, b| signed_area(b).total_cmp(&signed_area(a)));
    polygons
}

/// Area of a closed polygon (shoelace); positive for the outer outlines this module returns.
pub fn polygon_area(polygon: &[[f32; 2]]) -> f32 {
    signed_area(polygon).abs()
}

/// Fills polygons into a mask (even-odd rule, pixel centres).
pub fn mask_from_polygons(polygons: &[Polygon], width_px: u32, height_px: u32) -> BinaryMask {
    let mut mask = BinaryMask::new(width_px, height_px);
    for y in 0..height_px {
        let cy = y as f32 + 0.5;
        let mut crossings: Vec<f32> = Vec::new();
        for poly in polygons {
            for i in 0..poly.len() {
                let [x0, y0] = poly[i];
                let [x1, y1] = poly[(i + 1) % poly.len()];
                if (y0 <= cy && y1 > cy) || (y1 <= cy && y0 > cy) {
                    crossings.push(x0 + (cy - y0) / (y1 - y0) * (x1 - x0));
                }
            }
        }
        crossings.sort_by(f32::total_cmp);
        for pair in crossings.chunks_exact(2) {
            let start = (pair[0] - 0.5).ceil().max(0.0) as u32;
            let end = ((pair[1] - 0.5).floor() as i64).min(i64::from(width_px) - 1);
            for x in start as i64..=end {
                mask.set(x as u32, y, true);
            }
        }
    }
    mask
}

fn signed_area(poly: &[[f32; 2]]) -> f32 {
    let mut sum = 0.0f64;
    for i in 0..poly.len() {
        let [x0, y0] = poly[i];
        let [x1, y1] = poly[(i + 1) % poly.len()];
        sum += f64::from(x0) * f64::from(y1) - f64::from(x1) * f64::from(y0);
    }
    (sum / 2.0) as f32
}

/// Pixel-edge loops with the foreground on the right-hand side when walking in image
/// coordinates (y down), which makes outer loops positive in [`signed_area`].
fn trace_boundaries(mask: &BinaryMask) -> Vec<Polygon> {
    let (w, h) = (mask.width_px as i64, mask.height_px as i64);
    let on = |x: i64, y: i64| x >= 0 && y >= 0 && x < w && y < h && mask.get(x as u32, y as u32);
    // Directed edges between pixel corners, indexed by their start corner.
    let corner = |x: i64, y: i64| (y * (w + 1) + x) as usize;
    let mut outgoing: std::collections::HashMap<usize, Vec<(i64, i64, i64, i64)>> =
        std::collections::HashMap::new();
    for y in 0..h {
        for x in 0..w {
            if !on(x, y) {
                continue;
            }
            // Walk each exposed side so the pixel lies on the right (clockwise on screen).
            if !on(x, y - 1) {
                outgoing.entry(corner(x, y)).or_default().push((x, y, x + 1, y));
            }
            if !on(x + 1, y) {
                outgoing.entry(corner(x + 1, y)).or_default().push((x + 1, y, x + 1, y + 1));
            }
            if !on(x, y + 1) {
                outgoing.entry(corner(x + 1, y + 1)).or_default().push((x + 1, y + 1, x, y + 1));
            }
            if !on(x - 1, y) {
                outgoing.entry(corner(x, y + 1)).or_default().push((x, y + 1, x, y));
            }
        }
    }
    let mut starts: Vec<usize> = outgoing.keys().copied().collect();
    starts.sort_unstable();
    let mut loops = Vec::new();
    for start in starts {
        while let Some(first) = outgoing.get_mut(&start).and_then(Vec::pop) {
            let mut points: Polygon = vec![[first.0 as f32, first.1 as f32]];
            let (mut dx, mut dy) = (first.2 - first.0, first.3 - first.1);
            let (mut cx, mut cy) = (first.2, first.3);
            while (cx, cy) != (first.0, first.1) {
                points.push([cx as f32, cy as f32]);
                let Some(edges) = outgoing.get_mut(&corner(cx, cy)) else { break };
                // At a corner shared by two regions that touch diagonally, turn right: the
                // foreground is on the right, so regions touching at a corner stay separate.
                let pick = edges
                    .iter()
                    .position(|e| (e.2 - e.0, e.3 - e.1) == (-dy, dx))
                    .or_else(|| edges.iter().position(|e| (e.2 - e.0, e.3 - e.1) == (dx, dy)))
                    .unwrap_or(0);
                if edges.is_empty() {
                    break;
                }
                let e = edges.swap_remove(pick);
                (dx, dy) = (e.2 - e.0, e.3 - e.1);
                (cx, cy) = (e.2, e.3);
            }
            loops.push(points);
        }
    }
    loops
}

/// Douglas–Peucker on a closed loop; collinear corners always go.
fn simplify_closed(points: &[[f32; 2]], tolerance_px: f32) -> Polygon {
    if points.len() <= 4 {
        return drop_collinear(points);
    }
    // Split at the point farthest from the first, simplify both halves as open chains.
    let far = (1..points.len())
        .max_by(|&a, &b| dist2(points[0], points[a]).total_cmp(&dist2(points[0], points[b])))
        .unwrap_or(points.len() / 2);
    let mut first: Vec<[f32; 2]> = points[..=far].to_vec();
    let mut second: Vec<[f32; 2]> = points[far..].to_vec();
    second.push(points[0]);
    first = simplify_open(&first, tolerance_px);
    second = simplify_open(&second, tolerance_px);
    first.pop();
    second.pop();
    first.extend(second);
    drop_collinear(&first)
}

fn simplify_open(points: &[[f32; 2]], tolerance_px: f32) -> Vec<[f32; 2]> {
    if points.len() < 3 {
        return points.to_vec();
    }
    let (a, b) = (points[0], points[points.len() - 1]);
    let (mut index, mut max) = (0, -1.0f32);
    for (i, &p) in points.iter().enumerate().take(points.len() - 1).skip(1) {
        let d = distance_to_segment(p, a, b);
        if d > max {
            (index, max) = (i, d);
        }
    }
    if max > tolerance_px {
        let mut left = simplify_open(&points[..=index], tolerance_px);
        let right = simplify_open(&points[index..], tolerance_px);
        left.pop();
        left.extend(right);
        left
    } else {
        vec![a, b]
    }
}

fn drop_collinear(points: &[[f32; 2]]) -> Polygon {
    let n = points.len();
    if n < 3 {
        return points.to_vec();
    }
    (0..n)
        .filter(|&i| {
            let (p, q, r) = (points[(i + n - 1) % n], points[i], points[(i + 1) % n]);
            ((q[0] - p[0]) * (r[1] - q[1]) - (q[1] - p[1]) * (r[0] - q[0])).abs() > 1e-6
        })
        .map(|i| points[i])
        .collect()
}

fn dist2(a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

fn distance_to_segment(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let len2 = dist2(a, b);
    if len2 == 0.0 {
        return dist2(p, a).sqrt();
    }
    let t = (((p[0] - a[0]) * (b[0] - a[0]) + (p[1] - a[1]) * (b[1] - a[1])) / len2).clamp(0.0, 1.0);
    dist2(p, [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_from_rows(rows: &[&str]) -> BinaryMask {
        let h = rows.len() as u32;
        let w = rows[0].len() as u32;
        let mut m = BinaryMask::new(w, h);
        for (y, row) in rows.iter().enumerate() {
            for (x, c) in row.chars().enumerate() {
                m.set(x as u32, y as u32, c == '#');
            }
        }
        m
    }

    #[test]
    fn rle_matches_pycocotools_for_a_known_mask() {
        // pycocotools.mask.encode(np.asfortranarray([[0,1],[1,1]], dtype=np.uint8))
        // gives counts b'101' on this 2x2 mask: runs 1 zero, 3 ones... in column-major order
        // the pixels are 0,1,1,1 → counts [1, 3].
        let m = mask_from_rows(&[".#", "##"]);
        let rle = Rle::from_mask(&m);
        assert_eq!(rle.counts, vec![1, 3]);
        assert_eq!(rle.to_coco_string(), "13");
        assert_eq!(rle.area(), 3);
        assert_eq!(Rle::from_coco_string(2, 2, "13").expect("parses"), rle);
        // A mask starting with ones has an empty first run of zeros.
        let m = mask_from_rows(&["#.", ".."]);
        assert_eq!(Rle::from_mask(&m).counts, vec![0, 1, 3]);
    }

    #[test]
    fn rle_round_trips_large_counts_through_the_string_form() {
        let mut m = BinaryMask::new(300, 200);
        for y in 20..180 {
            for x in 10..290 {
                if (x / 37 + y / 23) % 3 != 0 {
                    m.set(x, y, true);
                }
            }
        }
        let rle = Rle::from_mask(&m);
        let s = rle.to_coco_string();
        // The same mask through pycocotools.mask.encode: 2697 characters starting with these.
        assert!(s.starts_with("Wo1^1g000UOd0k0\\O00UOd0k0\\O00UOd0k0"), "{}", &s[..40]);
        assert_eq!(s.len(), 2697);
        let back = Rle::from_coco_string(200, 300, &s).expect("parses");
        assert_eq!(back, rle);
        assert_eq!(back.to_mask().expect("mask"), m);
        assert!(Rle::from_coco_string(200, 300, "1").is_err(), "counts must cover the mask");
        assert!(Rle::from_coco_string(2, 2, "1 3").is_err(), "outside the alphabet");
    }

    #[test]
    fn polygon_area_equals_pixel_count_before_simplification() {
        let m = mask_from_rows(&["..........", ".####.....", ".#..#..##.", ".####..##.", ".........."]);
        let polys = polygons_from_mask(&m, 0.0);
        assert_eq!(polys.len(), 2, "{polys:?}");
        // The ring's outline encloses its hole too (COCO polygons have no holes): 4x3 = 12.
        assert_eq!(polygon_area(&polys[0]), 12.0);
        assert_eq!(polygon_area(&polys[1]), 4.0);
        assert_eq!(polys[1].len(), 4, "a square has four corners: {:?}", polys[1]);
    }

    #[test]
    fn regions_touching_at_a_corner_stay_separate() {
        let m = mask_from_rows(&["#.", ".#"]);
        let polys = polygons_from_mask(&m, 0.0);
        assert_eq!(polys.len(), 2, "{polys:?}");
        assert!(polys.iter().all(|p| polygon_area(p) == 1.0));
    }

    #[test]
    fn polygon_to_mask_and_back_is_exact_for_pixel_outlines() {
        let m = mask_from_rows(&["......", ".###..", ".####.", "..##..", "......"]);
        let polys = polygons_from_mask(&m, 0.0);
        assert_eq!(mask_from_polygons(&polys, 6, 5), m);
    }

    #[test]
    fn simplification_error_is_bounded_by_the_tolerance() {
        // A filled disc: simplified outlines stay within the tolerance of the pixel outline,
        // so the filled area moves by at most perimeter x tolerance.
        let (w, h) = (120u32, 100u32);
        let mut m = BinaryMask::new(w, h);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 + 0.5 - 60.0, y as f32 + 0.5 - 50.0);
                m.set(x, y, dx * dx + dy * dy <= 40.0 * 40.0);
            }
        }
        let exact = polygons_from_mask(&m, 0.0);
        let simple = polygons_from_mask(&m, 1.0);
        assert_eq!(polygon_area(&exact[0]) as u64, m.area());
        assert!(simple[0].len() < exact[0].len() / 2, "{} vs {}", simple[0].len(), exact[0].len());
        let perimeter = 2.0 * std::f32::consts::PI * 40.0;
        let diff = (polygon_area(&simple[0]) - polygon_area(&exact[0])).abs();
        assert!(diff <= perimeter * 1.0, "area moved by {diff}");
        let refilled = mask_from_polygons(&simple, w, h);
        let xor = refilled.data.iter().zip(&m.data).filter(|(a, b)| a != b).count() as f32;
        assert!(xor <= perimeter * 1.0, "{xor} pixels differ");
    }
}
