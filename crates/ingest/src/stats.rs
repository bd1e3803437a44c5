//! Image statistics on the reduced (thumbnail-size) RGB image.

use lacuna_core::ImageStats;

/// Computes [`ImageStats`] of packed RGB8 pixels (`width * height * 3` bytes).
pub(crate) fn compute(rgb: &[u8], width: u32, height: u32) -> ImageStats {
    let (w, h) = (width as usize, height as usize);
    let n = w * h;
    if n == 0 || rgb.len() < n * 3 {
        return ImageStats::default();
    }
    // Luma scaled to 0..=255, kept for the Laplacian.
    let mut luma = Vec::with_capacity(n);
    let mut histogram = [0u32; 256];
    let (mut sum, mut sum_sq, mut sat_sum) = (0f64, 0f64, 0f64);
    for px in rgb[..n * 3].chunks_exact(3) {
        let (r, g, b) = (f32::from(px[0]), f32::from(px[1]), f32::from(px[2]));
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        luma.push(y);
        histogram[(y + 0.5) as usize & 0xFF] += 1;
        sum += f64::from(y);
        sum_sq += f64::from(y) * f64::from(y);
        let max = px[0].max(px[1]).max(px[2]);
        if max > 0 {
            let min = px[0].min(px[1]).min(px[2]);
            sat_sum += f64::from(max - min) / f64::from(max);
        }
    }
    let count = n as f64;
    let mean = sum / count;
    let variance = (sum_sq / count - mean * mean).max(0.0);
    ImageStats {
        luma_mean: (mean / 255.0) as f32,
        luma_p05: percentile(&histogram, n, 0.05),
        luma_p50: percentile(&histogram, n, 0.50),
        luma_p95: percentile(&histogram, n, 0.95),
        contrast: (variance.sqrt() / 255.0) as f32,
        saturation_mean: (sat_sum / count) as f32,
        sharpness: laplacian_variance(&luma, w, h),
    }
}

/// The smallest histogram bin (as 0..=1) below which at least `p` of the pixels lie.
fn percentile(histogram: &[u32; 256], total: usize, p: f64) -> f32 {
    let needed = ((total as f64 * p).ceil() as u64).max(1);
    let mut cumulative = 0u64;
    for (bin, &count) in histogram.iter().enumerate() {
        cumulative += u64::from(count);
        if cumulative >= needed {
            return bin as f32 / 255.0;
        }
    }
    1.0
}

/// Variance of the 4-neighbour Laplacian of luma (on a 0..=1 scale) over interior pixels.
fn laplacian_variance(luma: &[f32], w: usize, h: usize) -> f32 {
    if w < 3 || h < 3 {
        return 0.0;
    }
    let (mut sum, mut sum_sq) = (0f64, 0f64);
    for y in 1..h - 1 {
        let row = &luma[y * w..(y + 1) * w];
        let up = &luma[(y - 1) * w..y * w];
        let down = &luma[(y + 1) * w..(y + 2) * w];
        let (mut row_sum, mut row_sq) = (0f32, 0f32);
        for x in 1..w - 1 {
            let lap = 4.0 * row[x] - row[x - 1] - row[x + 1] - up[x] - down[x];
            row_sum += lap;
            row_sq += lap * lap;
        }
        sum += f64::from(row_sum);
        sum_sq += f64::from(row_sq);
    }
    let count = ((w - 2) * (h - 2)) as f64;
    let mean = sum / count;
    let variance = (sum_sq / count - mean * mean).max(0.0);
    (variance / (255.0 * 255.0)) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let mut out = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                out.extend_from_slice(&f(x, y));
            }
        }
        out
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn constant_grey_image() {
        let s = compute(&image(40, 30, |_, _| [128, 128, 128]), 40, 30);
        assert!(close(s.luma_mean, 128.0 / 255.0), "{s:?}");
        assert!(close(s.luma_p05, 128.0 / 255.0));
        assert!(close(s.luma_p50, 128.0 / 255.0));
        assert!(close(s.luma_p95, 128.0 / 255.0));
        assert!(close(s.contrast, 0.0));
        assert!(close(s.saturation_mean, 0.0));
        assert!(close(s.sharpness, 0.0));
    }

    #[test]
    fn half_black_half_white() {
        let s = compute(&image(40, 30, |x, _| if x < 20 { [0; 3] } else { [255; 3] }), 40, 30);
        assert!(close(s.luma_mean, 0.5), "{s:?}");
        assert!(close(s.luma_p05, 0.0));
        assert!(close(s.luma_p50, 0.0));
        assert!(close(s.luma_p95, 1.0));
        assert!(close(s.contrast, 0.5));
        assert!(close(s.saturation_mean, 0.0));
        // The edge columns give Laplacians of +1 and -1, the rest 0.
        assert!(s.sharpness > 0.0);
        let edge_fraction = 2.0 / 38.0;
        assert!(close(s.sharpness, edge_fraction), "{}", s.sharpness);
    }

    #[test]
    fn saturation_of_pure_and_mixed_colours() {
        let red = compute(&image(8, 8, |_, _| [255, 0, 0]), 8, 8);
        assert!(close(red.saturation_mean, 1.0));
        assert!(close(red.luma_mean, 0.299));
        let pastel = compute(&image(8, 8, |_, _| [200, 100, 100]), 8, 8);
        assert!(close(pastel.saturation_mean, 0.5));
        let black = compute(&image(8, 8, |_, _| [0, 0, 0]), 8, 8);
        assert!(close(black.saturation_mean, 0.0));
        assert!(close(black.luma_mean, 0.0));
    }

    #[test]
    fn checkerboard_is_sharper_than_gradient() {
        let checker = compute(&image(32, 32, |x, y| [((x + y) % 2 * 255) as u8; 3]), 32, 32);
        // Every interior Laplacian is +-4 (on 0..1): variance 16.
        assert!(close(checker.sharpness, 16.0), "{}", checker.sharpness);
        let gradient = compute(&image(32, 32, |x, _| [(x * 8) as u8; 3]), 32, 32);
        // A linear ramp has zero Laplacian.
        assert!(close(gradient.sharpness, 0.0), "{}", gradient.sharpness);
        assert!(gradient.contrast > 0.0);
    }

    #[test]
    fn percentiles_of_a_ramp() {
        // 256 columns, one per grey level.
        let s = compute(&image(256, 2, |x, _| [x as u8; 3]), 256, 2);
        assert!((s.luma_p05 - 12.0 / 255.0).abs() < 1.5 / 255.0, "{}", s.luma_p05);
        assert!((s.luma_p50 - 127.0 / 255.0).abs() < 1.5 / 255.0, "{}", s.luma_p50);
        assert!((s.luma_p95 - 243.0 / 255.0).abs() < 1.5 / 255.0, "{}", s.luma_p95);
    }

    #[test]
    fn tiny_and_empty_images() {
        assert_eq!(compute(&[], 0, 0), ImageStats::default());
        let s = compute(&[10, 20, 30], 1, 1);
        assert!(close(s.sharpness, 0.0));
        assert!(close(s.contrast, 0.0));
    }
}
