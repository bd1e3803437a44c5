//! PNG masks (write only), Pascal VOC / CVAT "segmentation mask" style:
//!
//! ```text
//! labelmap.txt                                   (CVAT: name:r,g,b:: per line)
//! images/{split}/<path>
//! SegmentationClass/{split}/<path>.png           (pixel = class index + 1, 0 = background)
//! SegmentationObject/{split}/<path>.png          (pixel = instance 1..N, 0 = background)
//! ```
//!
//! - PNGs are at the image's size, 8-bit with a palette (class colours from
//!   [`lacuna_core::default_class_color`], background black) while the values fit, else 16-bit
//!   grayscale: the class PNG when there are more than 254 classes, an instance PNG when its
//!   image has more than 254 instances.
//! - Value 255 (65535 in 16-bit files) is "ignore", as VOC's void label and the usual
//!   `ignore_index=255` of segmentation trainers: crowd regions (COCO `iscrowd`) are painted with
//!   it in both PNGs (they are not one object, nor background), under every other annotation,
//!   and get no instance id. Hence 254 classes / instances at most in 8-bit files.
//! - Instance ids follow the annotations' order (boxes and crowd regions skipped); painting goes
//!   from the largest area to the smallest so small objects lying on larger ones stay visible.
//! - Boxes are not masks: they are skipped and counted in [`FormatWriter::skipped`].
//! - Polygons are filled exactly as [`Geometry::to_mask_rle`] fills them (even-odd rule at
//!   pixel centres, all parts of an object together), without building a whole-image mask per
//!   annotation: only the rows the polygon spans are scanned. Masks are painted from their runs.
//! - Bytes are deterministic: fixed compression (fdeflate, `Up` filter), no time stamps.

use std::collections::HashSet;
use std::fmt::Write as _;

use lacuna_core::{Geometry, Rle, default_class_color};

use super::{FormatWriter, WriteContext, with_extension};
use crate::output::OutputDir;
use crate::{DatasetAnnotation, DatasetImage, ExportError, ImageMode};

/// Colour of the "ignore" value 255 in 8-bit palettes (VOC's void colour).
pub const IGNORE_COLOR: [u8; 3] = [224, 224, 192];

const SKIP_BOX: &str = "box annotations have no mask";
const SKIP_MASK_SIZE: &str = "mask size differs from the image";

/// Writes class and instance PNGs per image and `labelmap.txt`.
#[derive(Debug)]
pub struct MasksWriter {
    classes: Vec<String>,
    images: ImageMode,
    class_palette: Vec<u8>,
    instance_palette: Vec<u8>,
    boxes: u64,
    bad_masks: u64,
    class_canvas: Vec<u16>,
    instance_canvas: Vec<u16>,
    bytes: Vec<u8>,
    crossings: Vec<f32>,
    written: HashSet<String>,
}

impl MasksWriter {
    pub fn new(ctx: &WriteContext<'_>) -> Result<Self, ExportError> {
        if ctx.classes.len() > 65534 {
            return Err(ExportError::Invalid(format!(
                "PNG masks hold at most 65534 classes; this version has {}",
                ctx.classes.len()
            )));
        }
        Ok(Self {
            classes: ctx.classes.to_vec(),
            images: ctx.images,
            class_palette: palette(ctx.classes.len().min(254)),
            instance_palette: palette(254),
            boxes: 0,
            bad_masks: 0,
            class_canvas: Vec::new(),
            instance_canvas: Vec::new(),
            bytes: Vec::new(),
            crossings: Vec::new(),
            written: HashSet::new(),
        })
    }
}

/// 256 palette entries: 0 black, 1..=n the class colours (entry k has colour k-1), 255 ignore.
fn palette(n: usize) -> Vec<u8> {
    let mut p = vec![0u8; 256 * 3];
    for k in 1..=n {
        p[k * 3..k * 3 + 3].copy_from_slice(&hex_rgb(&default_class_color(k - 1)));
    }
    p[255 * 3..].copy_from_slice(&IGNORE_COLOR);
    p
}

fn hex_rgb(color: &str) -> [u8; 3] {
    let hex = color.trim_start_matches('#');
    let channel = |i: usize| hex.get(i..i + 2).and_then(|s| u8::from_str_radix(s, 16).ok()).unwrap_or(128);
    [channel(0), channel(2), channel(4)]
}

struct Item {
    index: usize,
    crowd: bool,
    area: f64,
    id: u16,
}

impl FormatWriter for MasksWriter {
    fn image(
        &mut self,
        out: &mut OutputDir<'_>,
        image: &DatasetImage,
        annotations: &[DatasetAnnotation],
    ) -> Result<String, ExportError> {
        let split = image.split.as_str();
        let image_rel = format!("images/{split}/{}", image.path);
        let png = with_extension(&image.path, "png");
        let class_rel = format!("SegmentationClass/{split}/{png}");
        let instance_rel = format!("SegmentationObject/{split}/{png}");
        if !self.written.insert(class_rel.clone()) {
            return Err(ExportError::Invalid(format!(
                "{}: its mask {class_rel} is also another image's (same name, other extension): \
                 rename one of them",
                image.path
            )));
        }
        let (w, h) = (image.width_px, image.height_px);
        if w == 0 || h == 0 {
            return Err(ExportError::Invalid(format!(
                "{}: the catalog has no size for this image ({w}x{h}); masks are drawn at it",
                image.path
            )));
        }
        out.place_image(&image_rel, image, self.images)?;

        let mut items = Vec::with_capacity(annotations.len());
        let mut instances = 0usize;
        for (index, a) in annotations.iter().enumerate() {
            match &a.geometry {
                Geometry::Box(_) => {
                    self.boxes += 1;
                    continue;
                }
                Geometry::Mask(rle) if !rle_fits(rle, w, h) => {
                    self.bad_masks += 1;
                    continue;
                }
                _ => {}
            }
            let crowd = a.attributes.crowd;
            let id = if crowd {
                0
            } else {
                instances += 1;
                u16::try_from(instances).map_err(|_| {
                    ExportError::Invalid(format!("{}: more than 65534 objects in one image", image.path))
                })?
            };
            if id == u16::MAX {
                return Err(ExportError::Invalid(format!(
                    "{}: more than 65534 objects in one image",
                    image.path
                )));
            }
            items.push(Item { index, crowd, area: a.geometry.area(), id });
        }
        // Crowd regions underneath, then larger areas first; ties in annotation order.
        items.sort_by(|a, b| {
            b.crowd.cmp(&a.crowd).then(b.area.total_cmp(&a.area)).then(a.index.cmp(&b.index))
        });

        let class16 = self.classes.len() > 254;
        let instance16 = instances > 254;
        let class_ignore = if class16 { u16::MAX } else { 255 };
        let instance_ignore = if instance16 { u16::MAX } else { 255 };
        let n = w as usize * h as usize;
        self.class_canvas.clear();
        self.class_canvas.resize(n, 0);
        self.instance_canvas.clear();
        self.instance_canvas.resize(n, 0);
        for item in &items {
            let a = &annotations[item.index];
            let (cv, iv) = if item.crowd {
                (class_ignore, instance_ignore)
            } else {
                (u16::try_from(a.class_index + 1).unwrap_or(u16::MAX), item.id)
            };
            let (class_canvas, instance_canvas) = (&mut self.class_canvas, &mut self.instance_canvas);
            paint(&a.geometry, w, h, &mut self.crossings, &mut |p| {
                class_canvas[p] = cv;
                instance_canvas[p] = iv;
            });
        }
        let class_palette = (!class16).then_some(self.class_palette.as_slice());
        write_png(out, &class_rel, w, h, &self.class_canvas, class_palette, &mut self.bytes)?;
        let instance_palette = (!instance16).then_some(self.instance_palette.as_slice());
        write_png(out, &instance_rel, w, h, &self.instance_canvas, instance_palette, &mut self.bytes)?;
        Ok(match self.images {
            ImageMode::Reference => image.source_path.to_string_lossy().replace('\\', "/"),
            _ => image_rel,
        })
    }

    fn finish(self: Box<Self>, out: &mut OutputDir<'_>) -> Result<(), ExportError> {
        let mut text = String::from("# label:color_rgb:parts:actions\n");
        text.push_str(
            "# SegmentationClass: 0 background, k = the k-th label after background; SegmentationObject: \
             0 background, 1..N instances; both: 255 (65535 in 16-bit files) crowd / ignore\n",
        );
        text.push_str("background:0,0,0::\n");
        for (i, name) in self.classes.iter().enumerate() {
            let [r, g, b] = hex_rgb(&default_class_color(i));
            let name: String =
                name.chars().map(|c| if c == ':' || c.is_control() { '_' } else { c }).collect();
            let _ = writeln!(text, "{name}:{r},{g},{b}::");
        }
        out.write_file("labelmap.txt", text.as_bytes())
    }

    fn skipped(&self) -> Vec<(String, u64)> {
        [(SKIP_BOX, self.boxes), (SKIP_MASK_SIZE, self.bad_masks)]
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .map(|(why, n)| (why.to_string(), n))
            .collect()
    }
}

fn rle_fits(rle: &Rle, w: u32, h: u32) -> bool {
    rle.width_px == w
        && rle.height_px == h
        && rle.counts.iter().map(|&c| u64::from(c)).sum::<u64>() == u64::from(w) * u64::from(h)
}

/// Calls `set` with the row-major index of every pixel the geometry covers: the pixels
/// [`Geometry::to_mask_rle`] sets, found without a whole-image mask.
fn paint<F: FnMut(usize)>(geometry: &Geometry, w: u32, h: u32, crossings: &mut Vec<f32>, set: &mut F) {
    match geometry {
        Geometry::Box(b) => {
            let part = vec![[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]];
            paint(&Geometry::Polygon { parts: vec![part] }, w, h, crossings, set);
        }
        Geometry::Mask(rle) => {
            let (wu, hu) = (w as usize, h as usize);
            let mut i = 0usize;
            for (k, &count) in rle.counts.iter().enumerate() {
                let count = count as usize;
                if k % 2 == 1 {
                    for j in i..i + count {
                        set((j % hu) * wu + j / hu);
                    }
                }
                i += count;
            }
        }
        Geometry::Polygon { parts } => {
            // The same f32 arithmetic as lacuna_core's mask_from_polygons, row by row.
            let parts: Vec<Vec<[f32; 2]>> =
                parts.iter().map(|p| p.iter().map(|&[x, y]| [x as f32, y as f32]).collect()).collect();
            let (mut y_min, mut y_max) = (f32::INFINITY, f32::NEG_INFINITY);
            for &[_, y] in parts.iter().flatten() {
                y_min = y_min.min(y);
                y_max = y_max.max(y);
            }
            if y_min > y_max {
                return;
            }
            // Rows whose centre y + 0.5 can lie in [y_min, y_max]; a superset is harmless.
            let first = ((y_min - 1.0).floor().max(0.0) as u64).min(u64::from(h)) as u32;
            let last = ((y_max + 1.0).ceil().max(0.0) as u64).min(u64::from(h)) as u32;
            for y in first..last {
                let cy = y as f32 + 0.5;
                crossings.clear();
                for poly in &parts {
                    for i in 0..poly.len() {
                        let [x0, y0] = poly[i];
                        let [x1, y1] = poly[(i + 1) % poly.len()];
                        if (y0 <= cy && y1 > cy) || (y1 <= cy && y0 > cy) {
                            crossings.push(x0 + (cy - y0) / (y1 - y0) * (x1 - x0));
                        }
                    }
                }
                crossings.sort_by(f32::total_cmp);
                let row = y as usize * w as usize;
                for pair in crossings.chunks_exact(2) {
                    let start = (pair[0] - 0.5).ceil().max(0.0) as u32;
                    let end = ((pair[1] - 0.5).floor() as i64).min(i64::from(w) - 1);
                    for x in i64::from(start)..=end {
                        set(row + x as usize);
                    }
                }
            }
        }
    }
}

/// Writes `canvas` as an 8-bit palette PNG (`palette` given) or 16-bit grayscale.
fn write_png(
    out: &mut OutputDir<'_>,
    rel: &str,
    w: u32,
    h: u32,
    canvas: &[u16],
    palette: Option<&[u8]>,
    bytes: &mut Vec<u8>,
) -> Result<(), ExportError> {
    bytes.clear();
    match palette {
        Some(_) => bytes.extend(canvas.iter().map(|&v| v as u8)),
        None => {
            bytes.reserve(canvas.len() * 2);
            for v in canvas {
                bytes.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    let err = |e: png::EncodingError| ExportError::Io { path: rel.into(), message: format!("PNG: {e}") };
    let mut file = out.create(rel)?;
    {
        let mut encoder = png::Encoder::new(&mut file, w, h);
        match palette {
            Some(p) => {
                encoder.set_color(png::ColorType::Indexed);
                encoder.set_depth(png::BitDepth::Eight);
                encoder.set_palette(p);
            }
            None => {
                encoder.set_color(png::ColorType::Grayscale);
                encoder.set_depth(png::BitDepth::Sixteen);
            }
        }
        encoder.set_deflate_compression(png::DeflateCompression::FdeflateUltraFast);
        encoder.set_filter(png::Filter::Up);
        let mut writer = encoder.write_header().map_err(err)?;
        writer.write_image_data(bytes).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    out.finish(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lacuna_core::BinaryMask;

    fn painted(geometry: &Geometry, w: u32, h: u32) -> BinaryMask {
        let mut m = BinaryMask::new(w, h);
        let mut crossings = Vec::new();
        paint(geometry, w, h, &mut crossings, &mut |p| m.data[p] = 1);
        m
    }

    #[test]
    fn painting_matches_to_mask_rle() {
        // A deterministic spread of polygons, inside, across and outside the image edges.
        let mut seed = 0x2545f4914f6cdd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let (w, h) = (37u32, 23u32);
        for _ in 0..300 {
            let parts = (0..1 + (next() * 2.0) as usize)
                .map(|_| {
                    (0..3 + (next() * 6.0) as usize)
                        .map(|_| [next() * 50.0 - 6.0, next() * 34.0 - 5.0])
                        .collect()
                })
                .collect();
            let g = Geometry::Polygon { parts };
            let expected = g.to_mask_rle(w, h).to_mask().expect("mask");
            assert_eq!(painted(&g, w, h), expected, "{g:?}");
        }
        let mut m = BinaryMask::new(w, h);
        for (x, y) in [(0, 0), (36, 22), (5, 7), (5, 8), (6, 7)] {
            m.set(x, y, true);
        }
        assert_eq!(painted(&Geometry::Mask(Rle::from_mask(&m)), w, h), m);
    }

    #[test]
    fn palette_has_background_classes_and_ignore() {
        let p = palette(2);
        assert_eq!(&p[0..3], &[0, 0, 0]);
        assert_eq!(&p[3..6], &hex_rgb(&default_class_color(0)));
        assert_eq!(&p[6..9], &hex_rgb(&default_class_color(1)));
        assert_eq!(&p[765..768], &IGNORE_COLOR);
        assert_eq!(hex_rgb("#e6194b"), [0xe6, 0x19, 0x4b]);
    }
}
