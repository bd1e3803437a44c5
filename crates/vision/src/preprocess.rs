//! Letterbox: fit an image into the model's square input without distorting it, the way
//! Ultralytics does (`ultralytics/data/augment.py`, `LetterBox`): scale by
//! `min(size / h, size / w)`, resize bilinearly, pad evenly with grey 114.

/// How an image was placed into the model input; maps boxes back to image pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Model input side, pixels.
    pub input_size_px: u32,
    /// Image size the letterbox was made from (EXIF orientation applied).
    pub image_width_px: u32,
    pub image_height_px: u32,
    /// Input pixels per image pixel.
    pub scale: f32,
    /// Left and top padding, input pixels.
    pub pad_x_px: f32,
    pub pad_y_px: f32,
}

impl Letterbox {
    /// The placement Ultralytics computes for an image of `width` x `height`.
    pub fn new(image_width_px: u32, image_height_px: u32, input_size_px: u32) -> Self {
        let (w, h, s) = (image_width_px as f32, image_height_px as f32, input_size_px as f32);
        let scale = (s / h).min(s / w);
        let (new_w, new_h) = ((w * scale).round(), (h * scale).round());
        let (dw, dh) = ((s - new_w) / 2.0, (s - new_h) / 2.0);
        // Ultralytics: top = round(dh - 0.1), left = round(dw - 0.1).
        let (pad_x_px, pad_y_px) = ((dw - 0.1).round().max(0.0), (dh - 0.1).round().max(0.0));
        Self { input_size_px, image_width_px, image_height_px, scale, pad_x_px, pad_y_px }
    }

    /// Size of the resized image inside the input, before padding.
    pub fn resized_px(&self) -> (u32, u32) {
        (
            ((self.image_width_px as f32 * self.scale).round() as u32).max(1),
            ((self.image_height_px as f32 * self.scale).round() as u32).max(1),
        )
    }

    /// The same placement reported against a larger original: the letterbox was made from a
    /// reduced decode (DCT scaling) of an image of `full_width_px` x `full_height_px`.
    pub fn with_image_size(self, full_width_px: u32, full_height_px: u32) -> Self {
        if full_width_px == self.image_width_px || self.image_width_px == 0 {
            return Self { image_width_px: full_width_px, image_height_px: full_height_px, ..self };
        }
        let reduction = self.image_width_px as f32 / full_width_px as f32;
        Self {
            scale: self.scale * reduction,
            image_width_px: full_width_px,
            image_height_px: full_height_px,
            ..self
        }
    }

    /// A point in input pixels → image pixels (clamped to the image).
    pub fn image_from_input(&self, x: f32, y: f32) -> (f32, f32) {
        let ix = ((x - self.pad_x_px) / self.scale).clamp(0.0, self.image_width_px as f32);
        let iy = ((y - self.pad_y_px) / self.scale).clamp(0.0, self.image_height_px as f32);
        (ix, iy)
    }
}

/// Grey used for padding (Ultralytics' 114).
pub const PAD_VALUE: u8 = 114;

/// Writes `rgb` (packed RGB8, `width` x `height`) letterboxed into `out`, planar CHW f32 in
/// 0..1, `3 * size * size` values. Returns the placement.
pub fn letterbox_into(
    rgb: &[u8],
    width_px: u32,
    height_px: u32,
    input_size_px: u32,
    out: &mut [f32],
) -> Letterbox {
    let lb = Letterbox::new(width_px, height_px, input_size_px);
    let size = input_size_px as usize;
    let plane = size * size;
    debug_assert_eq!(out.len(), 3 * plane);
    out.fill(f32::from(PAD_VALUE) / 255.0);
    let (new_w, new_h) = lb.resized_px();
    let (ox, oy) = (lb.pad_x_px as usize, lb.pad_y_px as usize);
    let (src_w, src_h) = (width_px as usize, height_px as usize);
    // Bilinear with half-pixel centres (cv2.INTER_LINEAR), precomputed per column.
    let sx = src_w as f32 / new_w as f32;
    let sy = src_h as f32 / new_h as f32;
    let cols: Vec<(usize, usize, f32)> = (0..new_w as usize)
        .map(|x| {
            let fx = ((x as f32 + 0.5) * sx - 0.5).max(0.0);
            let x0 = (fx.floor() as usize).min(src_w - 1);
            let x1 = (x0 + 1).min(src_w - 1);
            (x0, x1, fx - x0 as f32)
        })
        .collect();
    for y in 0..new_h as usize {
        let fy = ((y as f32 + 0.5) * sy - 0.5).max(0.0);
        let y0 = (fy.floor() as usize).min(src_h - 1);
        let y1 = (y0 + 1).min(src_h - 1);
        let wy = fy - y0 as f32;
        let row0 = &rgb[y0 * src_w * 3..(y0 + 1) * src_w * 3];
        let row1 = &rgb[y1 * src_w * 3..(y1 + 1) * src_w * 3];
        let out_row = (oy + y) * size + ox;
        for (x, &(x0, x1, wx)) in cols.iter().enumerate() {
            for c in 0..3 {
                let a = f32::from(row0[x0 * 3 + c]);
                let b = f32::from(row0[x1 * 3 + c]);
                let d = f32::from(row1[x0 * 3 + c]);
                let e = f32::from(row1[x1 * 3 + c]);
                let top = a + (b - a) * wx;
                let bottom = d + (e - d) * wx;
                out[c * plane + out_row + x] = (top + (bottom - top) * wy) / 255.0;
            }
        }
    }
    lb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_matches_ultralytics_for_a_landscape_photo() {
        // 1920x1080 into 640: scale 1/3, 640x360, 140 px of padding above and below.
        let lb = Letterbox::new(1920, 1080, 640);
        assert!((lb.scale - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(lb.resized_px(), (640, 360));
        assert_eq!((lb.pad_x_px, lb.pad_y_px), (0.0, 140.0));
        let (x, y) = lb.image_from_input(320.0, 320.0);
        assert!((x - 960.0).abs() < 1e-3 && (y - 540.0).abs() < 1e-3);
        // Odd padding: 773x512 → 640x424, 216 px of padding: 108 / 108.
        let lb = Letterbox::new(773, 512, 640);
        assert_eq!(lb.resized_px(), (640, 424));
        assert_eq!(lb.pad_y_px, 108.0);
    }

    #[test]
    fn reduced_decodes_report_boxes_in_full_size_pixels() {
        // A 4000x3000 photo decoded at 1/4 (1000x750) for a 640 model.
        let lb = Letterbox::new(1000, 750, 640).with_image_size(4000, 3000);
        let (x, y) = lb.image_from_input(640.0, 560.0);
        assert!((x - 4000.0).abs() < 1e-2 && (y - 3000.0).abs() < 1e-2, "{x} {y}");
    }

    #[test]
    fn letterbox_pads_with_grey_and_keeps_colours() {
        let (w, h) = (4u32, 2u32);
        let rgb: Vec<u8> = (0..w * h).flat_map(|_| [255u8, 0, 0]).collect();
        let mut out = vec![0f32; 3 * 8 * 8];
        let lb = letterbox_into(&rgb, w, h, 8, &mut out);
        assert_eq!(lb.resized_px(), (8, 4));
        assert_eq!(lb.pad_y_px, 2.0);
        let grey = 114.0 / 255.0;
        assert!((out[0] - grey).abs() < 1e-6, "top row is padding");
        let inside = 3 * 8 + 3; // row 3, column 3
        assert!((out[inside] - 1.0).abs() < 1e-6, "red plane");
        assert!(out[64 + inside].abs() < 1e-6, "green plane");
    }
}
