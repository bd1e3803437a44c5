#!/usr/bin/env python3
"""Draws Lacuna's app icon (a labeling box's corner brackets around a gap) into the sizes
tauri-build and the bundlers want: PNGs (RGBA), icon.ico (PNG-in-ICO) and icon.icns.

Standard library only. Run from anywhere: python3 src-tauri/icons/generate.py
"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

BACKGROUND = (30, 41, 59)  # slate
BRACKET = (248, 250, 252)  # near white
GAP = (45, 212, 191)  # teal


def rounded_rect_sdf(x, y, half, radius):
    """Signed distance to a square of half-size `half` centred on 0 with corner `radius`."""
    qx = abs(x) - (half - radius)
    qy = abs(y) - (half - radius)
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    inside = min(max(qx, qy), 0.0)
    return outside + inside - radius


def box_sdf(x, y, x0, y0, x1, y1):
    """Signed distance to the axis-aligned box [x0, x1] x [y0, y1]."""
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2, (y1 - y0) / 2
    dx, dy = abs(x - cx) - hx, abs(y - cy) - hy
    return math.hypot(max(dx, 0.0), max(dy, 0.0)) + min(max(dx, dy), 0.0)


def coverage(distance, pixel):
    """Anti-aliased coverage of a shape from its signed distance (one pixel of ramp)."""
    return min(max(0.5 - distance / pixel, 0.0), 1.0)


def bracket_sdf(x, y):
    """Four L-shaped corners of a bounding box, in units where the icon spans [-1, 1]."""
    ax, ay = abs(x), abs(y)  # the shape is symmetric in both axes
    outer, thick, arm = 0.62, 0.09, 0.30
    horizontal = box_sdf(ax, ay, outer - arm, outer - thick, outer, outer)
    vertical = box_sdf(ax, ay, outer - thick, outer - arm, outer, outer)
    return min(horizontal, vertical)


def render(size):
    pixel = 2.0 / size
    rows = []
    for j in range(size):
        row = bytearray([0])  # PNG filter type: none
        y = (j + 0.5) * pixel - 1.0
        for i in range(size):
            x = (i + 0.5) * pixel - 1.0
            base = coverage(rounded_rect_sdf(x, y, 0.94, 0.22), pixel)
            if base <= 0.0:
                row += bytes(4)
                continue
            colour = list(BACKGROUND)
            for sdf, paint in ((bracket_sdf(x, y), BRACKET), (math.hypot(x, y) - 0.20, GAP)):
                a = coverage(sdf, pixel)
                colour = [c * (1 - a) + p * a for c, p in zip(colour, paint)]
            row += bytes([round(c) for c in colour] + [round(255 * base)])
        rows.append(bytes(row))
    return png(size, size, b"".join(rows))


def png(width, height, raw):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def ico(images):
    """ICO with PNG entries (Windows Vista and later)."""
    out = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    for size, data in images:
        dim = 0 if size >= 256 else size
        out += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return out + b"".join(data for _, data in images)


def icns(images):
    """ICNS with PNG entries: ic07 128, ic08 256, ic09 512."""
    types = {128: b"ic07", 256: b"ic08", 512: b"ic09"}
    body = b"".join(types[s] + struct.pack(">I", 8 + len(d)) + d for s, d in images if s in types)
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main():
    rendered = {size: render(size) for size in (16, 32, 48, 128, 256, 512)}
    files = {
        "32x32.png": rendered[32],
        "128x128.png": rendered[128],
        "128x128@2x.png": rendered[256],
        "icon.png": rendered[512],
        "icon.ico": ico([(s, rendered[s]) for s in (16, 32, 48, 256)]),
        "icon.icns": icns([(s, rendered[s]) for s in (128, 256, 512)]),
    }
    for name, data in files.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
