//! Instance masks of segmentation models: mask coefficients × prototypes, as Ultralytics'
//! `process_mask` does (sigmoid, crop to the box, upsample, threshold 0.5), but evaluated
//! directly at the image's own pixels inside each box, then stored as COCO RLE and polygons.

use lacuna_core::{BinaryMask, Polygon, Rle, polygons_from_mask};

use crate::postprocess::Detection;
use crate::preprocess::Letterbox;

/// Polygon simplification tolerance, image pixels.
const POLYGON_TOLERANCE_PX: f32 = 1.0;

/// A detection's mask at image size.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceMask {
    pub rle: Rle,
    /// Outer outlines in image pixels, largest first.
    pub polygons: Vec<Polygon>,
}

/// Prototype masks of one image: `num_masks` planes of `height x width` (input size / 4).
#[derive(Debug, Clone, Copy)]
pub struct Prototypes<'a> {
    pub data: &'a [f32],
    pub num_masks: usize,
    pub height: usize,
    pub width: usize,
}

/// The mask of `detection` (which must carry mask coefficients), or `None` when it has none.
pub fn instance_mask(
    detection: &Detection,
    protos: &Prototypes<'_>,
    letterbox: &Letterbox,
) -> Option<InstanceMask> {
    let coeffs = detection.mask_coeffs.as_ref()?;
    let (ph, pw) = (protos.height, protos.width);
    let plane = ph * pw;
    // Mask logits on the prototype grid.
    let mut logits = vec![0f32; plane];
    for (k, &c) in coeffs.iter().enumerate().take(protos.num_masks) {
        let p = &protos.data[k * plane..(k + 1) * plane];
        for (l, &v) in logits.iter_mut().zip(p) {
            *l += c * v;
        }
    }
    let input_size = letterbox.input_size_px as f32;
    let proto_per_input = pw as f32 / input_size;
    let [bx0, by0, bx1, by1] = detection.bbox_input_xyxy;
    let (w, h) = (letterbox.image_width_px, letterbox.image_height_px);
    let mut mask = BinaryMask::new(w, h);
    let [ix0, iy0, ix1, iy1] = detection.bbox_xyxy_px;
    let (x_start, x_end) = (ix0.floor().max(0.0) as u32, (ix1.ceil() as u32).min(w));
    let (y_start, y_end) = (iy0.floor().max(0.0) as u32, (iy1.ceil() as u32).min(h));
    for y in y_start..y_end {
        let input_y = (y as f32 + 0.5) * letterbox.scale + letterbox.pad_y_px;
        if input_y < by0 || input_y >= by1 {
            continue;
        }
        let py = (input_y * proto_per_input - 0.5).clamp(0.0, (ph - 1) as f32);
        let (py0, wy) = (py.floor() as usize, py.fract());
        let py1 = (py0 + 1).min(ph - 1);
        for x in x_start..x_end {
            let input_x = (x as f32 + 0.5) * letterbox.scale + letterbox.pad_x_px;
            if input_x < bx0 || input_x >= bx1 {
                continue;
            }
            let px = (input_x * proto_per_input - 0.5).clamp(0.0, (pw - 1) as f32);
            let (px0, wx) = (px.floor() as usize, px.fract());
            let px1 = (px0 + 1).min(pw - 1);
            let top = logits[py0 * pw + px0] * (1.0 - wx) + logits[py0 * pw + px1] * wx;
            let bottom = logits[py1 * pw + px0] * (1.0 - wx) + logits[py1 * pw + px1] * wx;
            // sigmoid(v) > 0.5 ⇔ v > 0
            if top * (1.0 - wy) + bottom * wy > 0.0 {
                mask.set(x, y, true);
            }
        }
    }
    Some(InstanceMask {
        rle: Rle::from_mask(&mask),
        polygons: polygons_from_mask(&mask, POLYGON_TOLERANCE_PX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(bbox_input: [f32; 4], lb: &Letterbox) -> Detection {
        let (x0, y0) = lb.image_from_input(bbox_input[0], bbox_input[1]);
        let (x1, y1) = lb.image_from_input(bbox_input[2], bbox_input[3]);
        Detection {
            class_id: 0,
            score: 0.9,
            bbox_xyxy_px: [x0, y0, x1, y1],
            class_probs: vec![0.9],
            mask_coeffs: Some(vec![1.0]),
            mask: None,
            bbox_input_xyxy: bbox_input,
        }
    }

    #[test]
    fn a_positive_prototype_fills_exactly_the_box() {
        // 64 px input, 16x16 prototypes all positive: the mask is the box itself.
        let lb = Letterbox::new(64, 64, 64);
        let data = vec![3.0f32; 16 * 16];
        let protos = Prototypes { data: &data, num_masks: 1, height: 16, width: 16 };
        let det = detection([8.0, 16.0, 40.0, 48.0], &lb);
        let mask = instance_mask(&det, &protos, &lb).expect("mask");
        assert_eq!(mask.rle.area(), 32 * 32);
        assert_eq!(mask.polygons.len(), 1);
        assert_eq!(lacuna_core::polygon_area(&mask.polygons[0]), 1024.0);
    }

    #[test]
    fn negative_logits_give_an_empty_mask_and_halves_split_cleanly() {
        let lb = Letterbox::new(64, 64, 64);
        // Left half of the prototype grid positive, right half negative.
        let data: Vec<f32> = (0..16 * 16).map(|i| if i % 16 < 8 { 2.0 } else { -2.0 }).collect();
        let protos = Prototypes { data: &data, num_masks: 1, height: 16, width: 16 };
        let det = detection([0.0, 0.0, 64.0, 64.0], &lb);
        let mask = instance_mask(&det, &protos, &lb).expect("mask");
        assert_eq!(mask.rle.area(), 32 * 64, "the left half");
        let negative = vec![-1.0f32; 16 * 16];
        let protos = Prototypes { data: &negative, num_masks: 1, height: 16, width: 16 };
        assert_eq!(instance_mask(&det, &protos, &lb).expect("mask").rle.area(), 0);
        let no_coeffs = Detection { mask_coeffs: None, ..det };
        assert!(instance_mask(&no_coeffs, &protos, &lb).is_none());
    }
}
