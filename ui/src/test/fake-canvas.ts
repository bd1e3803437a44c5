// A 2D context that records what is drawn, for tests that run without a browser.

import type { Ctx2D } from '../lib/canvas/render';
import type { Surface, SurfaceContext, SurfaceFactory } from '../lib/canvas/mask';

export interface Call {
  name: string;
  args: unknown[];
}

export class RecordingContext implements Ctx2D {
  calls: Call[] = [];
  lineWidth = 1;
  strokeStyle: string | CanvasGradient | CanvasPattern = '#000000';
  fillStyle: string | CanvasGradient | CanvasPattern = '#000000';
  globalAlpha = 1;
  font = '10px sans-serif';
  textBaseline: CanvasTextBaseline = 'alphabetic';
  imageSmoothingEnabled = true;

  private rec(name: string, args: unknown[]): void {
    this.calls.push({ name, args });
  }

  count(name: string): number {
    return this.calls.filter((c) => c.name === name).length;
  }

  reset(): void {
    this.calls = [];
  }

  save(): void {
    this.rec('save', []);
  }
  restore(): void {
    this.rec('restore', []);
  }
  setTransform(...args: unknown[]): void {
    this.rec('setTransform', args);
  }
  clearRect(...args: number[]): void {
    this.rec('clearRect', args);
  }
  drawImage(...args: unknown[]): void {
    this.rec('drawImage', args);
  }
  beginPath(): void {
    this.rec('beginPath', []);
  }
  moveTo(x: number, y: number): void {
    this.rec('moveTo', [x, y]);
  }
  lineTo(x: number, y: number): void {
    this.rec('lineTo', [x, y]);
  }
  closePath(): void {
    this.rec('closePath', []);
  }
  rect(x: number, y: number, w: number, h: number): void {
    this.rec('rect', [x, y, w, h]);
  }
  arc(...args: unknown[]): void {
    this.rec('arc', args);
  }
  stroke(): void {
    this.rec('stroke', [this.strokeStyle]);
  }
  fill(...args: unknown[]): void {
    this.rec('fill', args);
  }
  fillRect(x: number, y: number, w: number, h: number): void {
    this.rec('fillRect', [x, y, w, h]);
  }
  strokeRect(x: number, y: number, w: number, h: number): void {
    this.rec('strokeRect', [x, y, w, h]);
  }
  fillText(text: string, x: number, y: number): void {
    this.rec('fillText', [text, x, y]);
  }
  measureText(text: string): TextMetrics {
    return { width: text.length * 6 } as TextMetrics;
  }
  setLineDash(segments: number[]): void {
    this.rec('setLineDash', [segments]);
  }
}

/** Offscreen surfaces whose putImageData calls are recorded. */
export function recordingSurfaces(): { factory: SurfaceFactory; created: Array<{ width: number; height: number; puts: Array<{ dx: number; dy: number; width: number; height: number; data: Uint8ClampedArray }> }> } {
  const created: Array<{ width: number; height: number; puts: Array<{ dx: number; dy: number; width: number; height: number; data: Uint8ClampedArray }> }> = [];
  const factory: SurfaceFactory = (width, height) => {
    const entry = { width, height, puts: [] as Array<{ dx: number; dy: number; width: number; height: number; data: Uint8ClampedArray }> };
    created.push(entry);
    const ctx: SurfaceContext = {
      createImageData: (w, h) => ({ width: w, height: h, data: new Uint8ClampedArray(w * h * 4), colorSpace: 'srgb' }) as ImageData,
      putImageData: (img, dx, dy) => entry.puts.push({ dx, dy, width: img.width, height: img.height, data: img.data }),
    };
    const surface: Surface = { source: { width, height } as unknown as CanvasImageSource, ctx };
    return surface;
  };
  return { factory, created };
}

/** A deterministic random generator (mulberry32), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
