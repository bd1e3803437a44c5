//! Photo-like synthetic JPEGs: a sky-to-ground gradient, a few shapes, a light or dark scene,
//! sensor-like noise. Compressed sizes are close to real 1080p photos at quality 90.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;

/// SplitMix64: tiny, seeded, good enough for test pictures.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Packed RGB8 pixels of one generated picture.
pub fn picture(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let night = rng.unit() < 0.2;
    let light = if night { 0.15 } else { 0.6 + 0.4 * rng.unit() };
    let sky = [rng.unit() * 0.4 + 0.3, rng.unit() * 0.3 + 0.5, 0.9];
    let ground = [rng.unit() * 0.4 + 0.2, rng.unit() * 0.3 + 0.3, rng.unit() * 0.2 + 0.1];
    let horizon = 0.35 + 0.3 * rng.unit();
    let shapes: Vec<(f32, f32, f32, f32, [f32; 3])> = (0..12)
        .map(|_| {
            (
                rng.unit(),
                rng.unit(),
                0.02 + 0.15 * rng.unit(),
                0.02 + 0.15 * rng.unit(),
                [rng.unit(), rng.unit(), rng.unit()],
            )
        })
        .collect();
    let (w, h) = (width as usize, height as usize);
    let mut rgb = vec![0u8; w * h * 3];
    for y in 0..h {
        let fy = y as f32 / h as f32;
        for x in 0..w {
            let fx = x as f32 / w as f32;
            let base = if fy < horizon { sky } else { ground };
            let shade = 1.0 - 0.3 * (fy - horizon).abs();
            let mut c = [base[0] * shade, base[1] * shade, base[2] * shade];
            for &(cx, cy, rx, ry, col) in &shapes {
                let dx = (fx - cx) / rx;
                let dy = (fy - cy) / ry;
                if dx * dx + dy * dy < 1.0 {
                    let t = 0.5 + 0.5 * (dx * 9.0).sin() * (dy * 7.0).cos();
                    c = [col[0] * t + 0.2, col[1] * t + 0.2, col[2] * t + 0.2];
                }
            }
            // Texture and sensor noise, so the JPEG is as costly to decode as a photo.
            let texture = ((fx * 300.0).sin() * (fy * 170.0).cos()) * 0.04;
            let i = (y * w + x) * 3;
            for (k, channel) in c.iter().enumerate() {
                let noise = (rng.unit() - 0.5) * 0.08;
                let v = (channel * light + texture + noise).clamp(0.0, 1.0);
                rgb[i + k] = (v * 255.0) as u8;
            }
        }
    }
    rgb
}

/// Writes `count` pictures as `img00000.jpg`… into `dir` on all cores; skips files already there.
/// Returns how many were written.
pub fn write_jpegs(dir: &Path, count: usize, width: u32, height: u32, seed: u64) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let next = AtomicUsize::new(0);
    let written = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut handles = Vec::new();
        for t in 0..threads {
            let (next, written) = (&next, &written);
            let handle = std::thread::Builder::new().name(format!("gen-{t}")).spawn_scoped(
                scope,
                move || -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok(());
                        }
                        let path = dir.join(format!("img{i:05}.jpg"));
                        if path.exists() {
                            continue;
                        }
                        let rgb = picture(width, height, seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
                        let jpeg = lacuna_ingest::encode_jpeg(&rgb, width, height, 90)?;
                        let tmp = path.with_extension("tmp");
                        std::fs::write(&tmp, jpeg).with_context(|| format!("writing {}", tmp.display()))?;
                        std::fs::rename(&tmp, &path)?;
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                },
            )?;
            handles.push(handle);
        }
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("generator thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(written.into_inner())
}
