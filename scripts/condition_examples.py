#!/usr/bin/env python3
"""Labeled examples for measuring Lacuna's estimated conditions (light level, weather look).

Writes crates/select/tests/fixtures/condition_examples.csv: one row per example with its true
labels and the image statistics the importer would compute for it. The Rust test
`crates/select/tests/conditions.rs` reads that file and measures `estimated_conditions` on it, so
the test itself needs neither Python nor an image decoder. Run this script again only to change
the examples (it is deterministic: fixed seed, fixed photos).

Needs numpy and Pillow (not part of the project's environment):

    python3 -m venv /tmp/v && /tmp/v/bin/pip install numpy pillow
    /tmp/v/bin/python scripts/condition_examples.py

Examples:
- the real daytime photos under assets/sample/photos, as they are (light = day; weather labeled
  by eye where the sky or the light makes it clear, '-' = not scored);
- synthetic variants of each, made in linear light: night with lamps (exposure cut 6-8 stops,
  a tint, a few saturating lamps with halos, sensor noise), night as a camera's auto exposure
  would brighten it (less cut, more noise, lamps clipped), dark night without lamps, low light
  (dusk / dim: exposure cut 3-4.5 stops, no lamps), fog (blend toward a bright grey airlight with
  a transmission falling toward the top of the frame, slight blur), haze (the same, thinner)
  and overcast (large-scale shading evened out so cast shadows fill in, colours duller and cooler,
  a little darker).

Every example is shrunk to a 256-pixel long edge with area averaging, as the importer does
(crates/ingest/src/probe.rs), and its statistics are computed exactly as
crates/ingest/src/stats.rs computes them (Rec. 601 luma of 8-bit values, a 256-bin histogram for
the percentiles, RMS contrast, mean HSV saturation, variance of the 4-neighbour Laplacian). The
script checks its port against the unit-test values of stats.rs before writing anything.

The photos are split in two: thresholds in crates/select/src/conditions.rs were chosen looking at
the 'tune' photos only; the 'test' photos were measured after the rules were fixed.
"""

import csv
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "assets" / "sample" / "photos"
OUT = ROOT / "crates" / "select" / "tests" / "fixtures" / "condition_examples.csv"

# file, split, weather seen by eye on the original ('-' = cannot tell / not scored), note.
# ifd_tag_type.tiff (a 16-bit thermal frame) is left out: it is no daylight photograph.
SOURCES = [
    ("dog.jpg", "tune", "clear", "sunlit porch, hard shadows"),
    ("eagle.jpg", "tune", "-", "water close-up, no sky"),
    ("giraffe.jpg", "tune", "clear", "sunlit grass and trees"),
    ("kite.jpg", "tune", "overcast", "white-grey sky over a beach"),
    ("L01.jpg", "tune", "-", "pale sky, thin cloud"),
    ("flower.jpg", "tune", "-", "close-up, no sky"),
    ("02.jpg", "tune", "overcast", "grey sky over a city; a greyscale file"),
    ("horses.jpg", "test", "-", "broken cloud, sun on the horses"),
    ("person.jpg", "test", "clear", "blue sky, sunlit"),
    ("large.jpg", "test", "clear", "blue sky, sunlit street"),
    ("L02.jpg", "test", "clear", "blue sky with some cloud"),
    ("iptc.jpg", "test", "clear", "blue sky behind a wall"),
    ("frozenpond.mpo", "test", "-", "snowy woods, flat light"),
    ("xmp_test.jpg", "test", "-", "pavement close-up"),
    ("scream.jpg", "test", "-", "a painting"),
]

VARIANTS_PER_KIND = 2
WORK_EDGE = 512
STATS_EDGE = 256


# ---------------------------------------------------------------- statistics (port of stats.rs)


def shrink(img: Image.Image, edge: int) -> Image.Image:
    w, h = img.size
    if max(w, h) <= edge:
        return img
    if w >= h:
        nw, nh = edge, max(1, round(h * edge / w))
    else:
        nw, nh = max(1, round(w * edge / h)), edge
    return img.resize((nw, nh), Image.BOX)


def stats(rgb: np.ndarray) -> dict:
    """ImageStats of an HxWx3 uint8 array, as crates/ingest/src/stats.rs computes them."""
    h, w, _ = rgb.shape
    n = w * h
    px = rgb.reshape(-1, 3)
    r, g, b = (px[:, i].astype(np.float32) for i in range(3))
    y = np.float32(0.299) * r + np.float32(0.587) * g + np.float32(0.114) * b
    bins = (y + np.float32(0.5)).astype(np.int64) & 0xFF
    histogram = np.bincount(bins, minlength=256)
    y64 = y.astype(np.float64)
    mean = y64.sum() / n
    variance = max(0.0, (y64 * y64).sum() / n - mean * mean)
    mx = px.max(axis=1).astype(np.float64)
    mn = px.min(axis=1).astype(np.float64)
    sat = np.where(mx > 0, (mx - mn) / np.where(mx > 0, mx, 1.0), 0.0)

    def percentile(p: float) -> float:
        needed = max(1, math.ceil(n * p))
        cumulative = np.cumsum(histogram)
        return float(np.argmax(cumulative >= needed)) / 255.0

    luma = y.reshape(h, w).astype(np.float64)
    if w >= 3 and h >= 3:
        lap = (
            4 * luma[1:-1, 1:-1] - luma[1:-1, :-2] - luma[1:-1, 2:] - luma[:-2, 1:-1] - luma[2:, 1:-1]
        )
        sharp = max(0.0, float((lap * lap).mean() - lap.mean() ** 2)) / (255.0 * 255.0)
    else:
        sharp = 0.0
    return {
        "luma_mean": mean / 255.0,
        "luma_p05": percentile(0.05),
        "luma_p50": percentile(0.50),
        "luma_p95": percentile(0.95),
        "contrast": math.sqrt(variance) / 255.0,
        "saturation_mean": float(sat.sum() / n),
        "sharpness": sharp,
    }


def check_port() -> None:
    """The values asserted by the unit tests of crates/ingest/src/stats.rs."""

    def image(w, h, f):
        return np.array([[f(x, y) for x in range(w)] for y in range(h)], dtype=np.uint8)

    def close(a, b, tol=1e-4):
        assert abs(a - b) < tol, (a, b)

    s = stats(image(40, 30, lambda x, y: [128] * 3))
    close(s["luma_mean"], 128 / 255)
    close(s["luma_p05"], 128 / 255)
    close(s["contrast"], 0.0)
    s = stats(image(40, 30, lambda x, y: [0] * 3 if x < 20 else [255] * 3))
    close(s["luma_mean"], 0.5)
    close(s["luma_p50"], 0.0)
    close(s["luma_p95"], 1.0)
    close(s["contrast"], 0.5)
    close(s["sharpness"], 2 / 38)
    close(stats(image(8, 8, lambda x, y: [200, 100, 100]))["saturation_mean"], 0.5)
    close(stats(image(32, 32, lambda x, y: [(x + y) % 2 * 255] * 3))["sharpness"], 16.0)
    s = stats(image(256, 2, lambda x, y: [x] * 3))
    close(s["luma_p05"], 12 / 255, 1.5 / 255)
    close(s["luma_p50"], 127 / 255, 1.5 / 255)
    close(s["luma_p95"], 243 / 255, 1.5 / 255)


# ---------------------------------------------------------------- variants, in linear light


def to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def luminance(lin: np.ndarray) -> np.ndarray:
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def blur(lin: np.ndarray, radius: int) -> np.ndarray:
    """Box blur, separable, edges clamped."""
    if radius <= 0:
        return lin
    out = lin
    for axis in (0, 1):
        pad = [(0, 0)] * 3
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="edge")
        c = np.cumsum(padded, axis=axis, dtype=np.float64)
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
        k = 2 * radius + 1
        size = out.shape[axis]
        out = (np.take(c, range(k, k + size), axis=axis) - np.take(c, range(0, size), axis=axis)) / k
    return out


def noise(lin: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    # Shot-like noise: stronger where brighter, plus a read-noise floor.
    s = np.sqrt(np.maximum(lin, 0) * sigma * 0.02 + sigma * sigma)
    return lin + rng.normal(0.0, 1.0, lin.shape) * s


def add_lamps(lin: np.ndarray, rng: np.random.Generator, count: int, gain: float) -> np.ndarray:
    h, w, _ = lin.shape
    yy, xx = np.mgrid[0:h, 0:w]
    out = lin.copy()
    for _ in range(count):
        cy, cx = rng.uniform(0.05, 0.75) * h, rng.uniform(0.05, 0.95) * w
        radius = rng.uniform(0.008, 0.03) * max(w, h)
        colour = np.array(
            [[1.0, 0.75, 0.4], [1.0, 0.9, 0.75], [0.85, 0.9, 1.0], [1.0, 0.6, 0.25]][rng.integers(4)]
        )
        d2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / (radius * radius)
        core = np.exp(-d2) * rng.uniform(3.0, 10.0)
        halo = np.exp(-d2 / 25.0) * rng.uniform(0.05, 0.2) * gain
        out += (core + halo)[:, :, None] * colour[None, None, :]
    return out


def night_lamps(lin, rng):
    tint = np.array([[0.8, 0.9, 1.25], [1.3, 1.0, 0.6]][rng.integers(2)])
    out = lin * rng.uniform(2 ** -8, 2 ** -6) * tint
    out = add_lamps(out, rng, int(rng.integers(2, 7)), 1.0)
    return noise(out, rng, 0.002)


def night_auto_exposed(lin, rng):
    # What a phone's night mode or a long exposure does: the scene lifted, lamps clipped, noise.
    tint = np.array([[0.85, 0.9, 1.2], [1.35, 1.0, 0.55]][rng.integers(2)])
    out = lin * rng.uniform(2 ** -5, 2 ** -4) * tint
    out = add_lamps(out, rng, int(rng.integers(3, 8)), 2.0)
    return noise(out, rng, 0.006)


def night_dark(lin, rng):
    out = lin * rng.uniform(2 ** -9, 2 ** -7) * np.array([0.8, 0.9, 1.2])
    return noise(out, rng, 0.0015)


def low_light(lin, rng):
    tint = np.array([[1.1, 0.95, 0.8], [0.9, 0.95, 1.1], [1.0, 1.0, 1.0]][rng.integers(3)])
    out = lin * rng.uniform(2 ** -4.5, 2 ** -3) * tint
    return noise(out, rng, 0.003)


def fog(lin, rng, thin=False):
    h = lin.shape[0]
    t0 = rng.uniform(0.45, 0.65) if thin else rng.uniform(0.15, 0.35)
    # Transmission falls toward the top of the frame (farther away, usually).
    t = (t0 + (1 - t0) * 0.35 * np.linspace(0.0, 1.0, h) ** 2)[:, None, None]
    airlight = rng.uniform(0.5, 0.8) * np.array([0.97, 1.0, 1.03])
    out = blur(lin, 1) * t + airlight * (1 - t)
    return noise(out, rng, 0.002)


def overcast(lin, rng):
    # Soft light from the whole sky: large-scale shading (cast shadows, sunlit sides) evened
    # out while small-scale detail stays, colours duller and cooler, a little less light.
    y = luminance(lin)[:, :, None]
    h, w, _ = lin.shape
    shading = blur(y, max(2, max(h, w) // 10)) + 1e-4
    out = lin * (float(np.mean(shading)) / shading) ** rng.uniform(0.5, 0.7)
    y = luminance(out)[:, :, None]
    out = y + (out - y) * rng.uniform(0.35, 0.6)
    out = out * rng.uniform(0.6, 0.9) * np.array([0.96, 1.0, 1.05])
    return noise(out, rng, 0.002)


KINDS = [
    ("night_lamps", "night", "-", night_lamps),
    ("night_auto_exposed", "night", "-", night_auto_exposed),
    ("night_dark", "night", "-", night_dark),
    ("low_light", "low_light", "-", low_light),
    ("fog", "day", "fog_haze", lambda lin, rng: fog(lin, rng, thin=False)),
    ("haze", "day", "fog_haze", lambda lin, rng: fog(lin, rng, thin=True)),
    ("overcast", "day", "overcast", overcast),
]


def main() -> int:
    check_port()
    rng = np.random.default_rng(20240611)
    rows = []
    for name, split, weather, _note in SOURCES:
        with Image.open(PHOTOS / name) as im:
            im.seek(0)
            base = shrink(im.convert("RGB"), WORK_EDGE)
        srgb = np.asarray(base, dtype=np.float64) / 255.0
        lin = to_linear(srgb)
        examples = [("original", "day", weather, np.asarray(base, dtype=np.uint8))]
        for kind, light, kind_weather, make in KINDS:
            for i in range(VARIANTS_PER_KIND):
                out = to_srgb(make(lin, rng))
                u8 = np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
                examples.append((f"{kind}_{i + 1}", light, kind_weather, u8))
        for variant, light, w, u8 in examples:
            small = np.asarray(shrink(Image.fromarray(u8, "RGB"), STATS_EDGE), dtype=np.uint8)
            s = stats(small)
            rows.append(
                {"photo": name, "variant": variant, "split": split, "light": light, "weather": w}
                | {k: f"{v:.5f}" for k, v in s.items()}
            )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} examples to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
