// The UI benchmark (scripts/bench-ui.sh): the built UI in Chromium against a release
// `lacuna serve` on the 100,000-image project `lacuna-bench ui-project` makes. Measures
//
// - start → first grid paint: from spawning the server to every thumbnail of the first screen
//   decoded in the catalog grid (fresh server and browser context each repeat);
// - annotate image switch: key press (n) → the next image drawn, walking the labeling queue,
//   with the view's prefetch, at a reading pace (dwell) and back to back;
// - drag frame time: dragging one box on the image with 1,000 boxes — draw time per frame
//   and the interval between animation frames;
// - review decisions: key presses, round trips and time per decision in the review grid.
//
// Times come from the page's own clock (event timestamps, User Timing measures the app records
// when `localStorage.lacunaPerf = '1'`, requestAnimationFrame), not from Playwright's round trips.
// Writes the figures as JSON to LACUNA_BENCH_OUT and prints a table.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { expect, type Browser, type Page, test } from '@playwright/test';

const LACUNA = process.env.LACUNA_BIN ?? '';
const PROJECT = process.env.LACUNA_PROJECT ?? '';
const BOXES_IMAGE = Number(process.env.LACUNA_BOXES_IMAGE ?? '0');
const HUGE_IMAGE = Number(process.env.LACUNA_HUGE_IMAGE ?? '0');
const OUT = process.env.LACUNA_BENCH_OUT ?? '';
const UI = process.env.LACUNA_UI ?? '';
const STARTS = Number(process.env.LACUNA_BENCH_STARTS ?? '5');
const SWITCHES = Number(process.env.LACUNA_BENCH_SWITCHES ?? '60');
const DWELL_MS = 500;
const DECISIONS = Number(process.env.LACUNA_BENCH_DECISIONS ?? '100');
const TOKEN = `bench-${randomBytes(12).toString('hex')}`;

test.describe.configure({ mode: 'serial' });

const results: Record<string, unknown> = {};

interface Server {
  proc: ChildProcess;
  url: string;
  /** Date.now() when it was spawned and when it printed its address. */
  spawnedAt: number;
  readyAt: number;
}

function startServer(): Promise<Server> {
  const spawnedAt = Date.now();
  const proc = spawn(LACUNA, ['-p', PROJECT, '--author', 'bench', 'serve', '--port', '0', '--token', TOKEN, '--ui', UI], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
      if (m) {
        proc.stdout?.off('data', onData);
        resolve({ proc, url: m[0], spawnedAt, readyAt: Date.now() });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`lacuna serve exited (${code}): ${out}`)));
  });
}

async function stopServer(s: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    s.proc.once('exit', () => resolve());
    s.proc.kill('SIGTERM');
  });
}

async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.addInitScript(() => {
    localStorage.setItem('lacunaPerf', '1');
    // Round trips per command name, for the review figures.
    const calls: Record<string, number> = {};
    (window as unknown as { __calls: Record<string, number> }).__calls = calls;
    const original = window.fetch.bind(window);
    window.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const m = /\/api\/([a-z_]+)/.exec(url);
      if (m) calls[m[1]!] = (calls[m[1]!] ?? 0) + 1;
      return original(input, init);
    };
  });
  return context.newPage();
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

function stats(xs: number[]): { n: number; p50: number; p95: number; max: number; mean: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return { n: xs.length, p50: quantile(xs, 0.5), p95: quantile(xs, 0.95), max: Math.max(...xs), mean };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

function nav(page: Page, view: string) {
  return page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: view, exact: true });
}

/** Keys go to the window's handler, not to a focused button. */
async function press(page: Page, key: string): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press(key);
}

test.beforeAll(() => {
  expect(LACUNA, 'LACUNA_BIN (run through scripts/bench-ui.sh)').not.toBe('');
  expect(PROJECT).not.toBe('');
});

test.afterAll(() => {
  if (OUT) writeFileSync(OUT, JSON.stringify(results, null, 2));
  console.log(JSON.stringify(results, null, 2));
});

test('start to first grid paint', async ({ browser }) => {
  test.setTimeout(STARTS * 120_000);
  const runs: Array<{ server_ready_ms: number; navigation_to_paint_ms: number; start_to_paint_ms: number; thumbnails: number }> = [];
  for (let i = 0; i < STARTS; i++) {
    const server = await startServer();
    const page = await newPage(browser);
    try {
      await page.goto(`${server.url}/#token=${TOKEN}`);
      // Painted: the grid shows tiles and every tile on screen has its thumbnail decoded.
      const handle = await page.waitForFunction(
        () => {
          const scroller = document.querySelector('.scroller');
          if (!scroller || (scroller as HTMLElement).offsetParent === null) return false;
          const view = scroller.getBoundingClientRect();
          const tiles = [...scroller.querySelectorAll('.tile')].filter((t) => {
            const r = t.getBoundingClientRect();
            return r.bottom > view.top && r.top < view.bottom;
          });
          if (tiles.length === 0) return false;
          for (const t of tiles) {
            const img = t.querySelector('img');
            if (!img || !img.complete || img.naturalWidth === 0) return false;
          }
          return { at: performance.timeOrigin + performance.now(), sinceNavigation: performance.now(), thumbnails: tiles.length };
        },
        undefined,
        { polling: 'raf', timeout: 60_000 },
      );
      const painted = (await handle.jsonValue()) as { at: number; sinceNavigation: number; thumbnails: number };
      runs.push({
        server_ready_ms: server.readyAt - server.spawnedAt,
        navigation_to_paint_ms: painted.sinceNavigation,
        start_to_paint_ms: painted.at - server.spawnedAt,
        thumbnails: painted.thumbnails,
      });
    } finally {
      await page.context().close();
      await stopServer(server);
    }
  }
  results.start_to_first_grid_paint = {
    repeats: runs.length,
    thumbnails_on_first_screen: runs[0]?.thumbnails,
    server_ready_ms: stats(runs.map((r) => r.server_ready_ms)),
    navigation_to_paint_ms: stats(runs.map((r) => r.navigation_to_paint_ms)),
    start_to_paint_ms: stats(runs.map((r) => r.start_to_paint_ms)),
  };
});

test.describe('on one running server', () => {
  let server: Server;
  let page: Page;

  test.beforeAll(async ({ browser }) => {
    server = await startServer();
    page = await newPage(browser);
    await page.goto(`${server.url}/#token=${TOKEN}`);
    await expect(nav(page, 'Annotate')).toBeEnabled();
  });

  test.afterAll(async () => {
    await page.context().close();
    await stopServer(server);
  });

  const stage = () => page.getByTestId('annotate-stage');

  type Shown = { ms: number; image: number; width: number; height: number };

  /** Runs `act` (a key press) and returns key event → the image it opens drawn (ms), and the image. */
  async function keyToShown(act: () => Promise<void>): Promise<Shown> {
    await page.evaluate(() => {
      const w = window as unknown as { __keyAt: number };
      w.__keyAt = -1;
      window.addEventListener('keydown', (e) => (w.__keyAt = e.timeStamp), { once: true, capture: true });
      performance.clearMeasures('lacuna:image-shown');
    });
    await act();
    const handle = await page.waitForFunction(() => {
      const m = performance.getEntriesByName('lacuna:image-shown')[0] as PerformanceMeasure | undefined;
      const keyAt = (window as unknown as { __keyAt: number }).__keyAt;
      if (!m || keyAt < 0) return false;
      const d = m.detail as { image: number; width: number; height: number };
      return { ms: m.startTime + m.duration - keyAt, ...d };
    }, undefined, { polling: 'raf', timeout: 60_000 });
    return (await handle.jsonValue()) as Shown;
  }

  /** Presses `n`: the next image of the queue. */
  const switchOnce = () => keyToShown(() => press(page, 'n'));

  /** Opens image `id` through the id field (Enter). */
  async function openById(id: number): Promise<Shown> {
    await page.getByLabel('Image id').fill(String(id));
    return keyToShown(() => page.getByLabel('Image id').press('Enter'));
  }

  /** Starts noting every animation frame's time; returns performance.now(). */
  function startFrames(): Promise<number> {
    return page.evaluate(() => {
      performance.clearMeasures('lacuna:frame');
      const w = window as unknown as { __raf: number[]; __rafOn: boolean };
      w.__raf = [];
      w.__rafOn = true;
      const tick = (t: number) => {
        w.__raf.push(t);
        if (w.__rafOn) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
      return performance.now();
    });
  }

  type Frame = { ms: number; base: boolean; overlay: boolean; shapes: number };

  /** Stops noting frames; the app's drawn frames and the intervals between animation frames in [from, to]. */
  async function framesBetween(from: number, to: number): Promise<{ measures: Frame[]; intervals: number[] }> {
    return (await page.evaluate(
      ([a, b]) => {
        const w = window as unknown as { __raf: number[]; __rafOn: boolean };
        w.__rafOn = false;
        const measures = (performance.getEntriesByName('lacuna:frame') as PerformanceMeasure[])
          .filter((m) => m.startTime >= a && m.startTime <= b)
          .map((m) => ({ ms: m.duration, ...(m.detail as { base: boolean; overlay: boolean; shapes: number }) }));
        const raf = w.__raf.filter((t) => t >= a && t <= b);
        return { measures, intervals: raf.slice(1).map((t, i) => t - raf[i]!) };
      },
      [from, to] as const,
    )) as { measures: Frame[]; intervals: number[] };
  }

  /** The stored annotations of an image (straight from the API). */
  async function annotationsOf(image: number): Promise<Array<{ id: number; geometry: { kind: string; x0: number; y0: number; x1: number; y1: number } }>> {
    const res = await fetch(`${server.url}/api/annotations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ image }),
    });
    return (await res.json()) as Array<{ id: number; geometry: { kind: string; x0: number; y0: number; x1: number; y1: number } }>;
  }

  test('annotate: image switch along the queue', async () => {
    test.setTimeout(300_000);
    await nav(page, 'Annotate').click();
    await expect(stage()).toHaveAttribute('data-image', /^\d+$/, { timeout: 60_000 });
    const walk = async (dwell: number) => {
      const out: Array<{ ms: number; width: number; height: number }> = [];
      for (let i = 0; i < SWITCHES; i++) {
        out.push(await switchOnce());
        if (dwell > 0) await page.waitForTimeout(dwell);
      }
      return out;
    };
    const paced = await walk(DWELL_MS);
    const backToBack = await walk(0);
    // The baseline: images opened by id that the walk never passed (nothing prefetched, nothing cached).
    const seen = new Set([...paced, ...backToBack].map((s) => s.image));
    const cold: Array<{ ms: number; width: number; height: number }> = [];
    for (let id = 1000; cold.length < 20 && id > 0; id--) {
      if (seen.has(id)) continue;
      cold.push(await openById(id));
      await page.waitForTimeout(DWELL_MS);
    }
    const sizes = [...new Set([...paced, ...backToBack, ...cold].map((s) => `${s.width}x${s.height}`))];
    results.annotate_image_switch = {
      switches: paced.length,
      image_sizes: sizes,
      with_prefetch_dwell_ms: DWELL_MS,
      paced_ms: stats(paced.map((s) => s.ms)),
      back_to_back_ms: stats(backToBack.map((s) => s.ms)),
      baseline_cold_open_by_id_ms: stats(cold.map((s) => s.ms)),
      paced_p50_vs_cold_p50: round(quantile(paced.map((s) => s.ms), 0.5) / quantile(cold.map((s) => s.ms), 0.5), 2),
      key_presses_per_switch: 1,
    };
  });

  test('annotate: drag one box among 1,000', async () => {
    test.skip(!BOXES_IMAGE, 'no image with 1,000 boxes (LACUNA_BOXES_IMAGE)');
    await page.getByLabel('Image id').fill(String(BOXES_IMAGE));
    await page.getByRole('button', { name: 'Open', exact: true }).click();
    await expect(stage()).toHaveAttribute('data-image', String(BOXES_IMAGE));
    await expect(stage()).toHaveAttribute('data-annotations', '1000');
    await page.getByRole('button', { name: 'Box', exact: true }).click();
    await press(page, 'Escape');
    // A box's centre, in page coordinates for the fitted view.
    const anns = await annotationsOf(BOXES_IMAGE);
    const msg = (await page.getByTestId('annotate-message').textContent()) ?? '';
    const m = /^Image \d+: (\d+)×(\d+)/.exec(msg);
    const size = { w: Number(m?.[1]), h: Number(m?.[2]) };
    const box = await page.getByLabel('Image being annotated').boundingBox();
    if (!box) throw new Error('no canvas');
    const scale = Math.min((box.width - 32) / size.w, (box.height - 32) / size.h);
    const at = (x: number, y: number): [number, number] => [
      box.x + (box.width - size.w * scale) / 2 + x * scale,
      box.y + (box.height - size.h * scale) / 2 + y * scale,
    ];
    // The largest box: pressing its centre hits it (the hit test prefers the smallest shape under the pointer; a big box's centre is rarely covered by a smaller one, and any box moved is a box among 1,000).
    const target = [...anns].sort((a, b) => (b.geometry.x1 - b.geometry.x0) * (b.geometry.y1 - b.geometry.y0) - (a.geometry.x1 - a.geometry.x0) * (a.geometry.y1 - a.geometry.y0))[0]!;
    const [sx, sy] = at((target.geometry.x0 + target.geometry.x1) / 2, (target.geometry.y0 + target.geometry.y1) / 2);

    const STEPS = 180;
    await page.mouse.move(sx, sy);
    await page.mouse.down();
    const dragStart = await startFrames();
    for (let i = 1; i <= STEPS; i++) {
      // 200 px to the right, weaving up and down, one pointer event per step (as fast as the driver sends them).
      const t = i / STEPS;
      await page.mouse.move(sx + 200 * t, sy + 40 * Math.sin(2 * Math.PI * t));
    }
    await page.mouse.up();
    const dragEnd = await page.evaluate(() => performance.now());
    await page.waitForTimeout(300);
    const frames = await framesBetween(dragStart, dragEnd);
    await expect(page.getByTestId('annotate-save')).toHaveClass(/\bsaved\b/);
    const after = await annotationsOf(BOXES_IMAGE);
    const moved = after.filter((a) => {
      const before = anns.find((b) => b.id === a.id);
      return before && (before.geometry.x0 !== a.geometry.x0 || before.geometry.y0 !== a.geometry.y0);
    });
    expect(after).toHaveLength(1000);
    const dragFrames = frames.measures.filter((f) => !f.base);
    results.drag_among_1000_boxes = {
      boxes: after.length,
      boxes_moved: moved.length,
      pointer_events: STEPS,
      drag_ms: dragEnd - dragStart,
      frames_drawn: frames.measures.length,
      overlay_only_frames: dragFrames.length,
      base_redraws: frames.measures.filter((f) => f.base).length,
      draw_ms_per_frame: stats(frames.measures.map((f) => f.ms)),
      animation_frame_interval_ms: stats(frames.intervals),
    };
    // Put it back where it was (one undo), so a rerun measures the same scene.
    await press(page, 'Control+z');
    await expect(page.getByTestId('annotate-save')).toHaveClass(/\bsaved\b/);
  });

  test('annotate: a 50-megapixel image (open, zoom, pan)', async () => {
    test.skip(!HUGE_IMAGE, 'no 50-megapixel image (LACUNA_HUGE_IMAGE)');
    test.setTimeout(120_000);
    const shown = await openById(HUGE_IMAGE);
    await page.waitForTimeout(300);
    const box = await page.getByLabel('Image being annotated').boundingBox();
    if (!box) throw new Error('no canvas');
    const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
    const from = await startFrames();
    // Zoom in to the pixels (wheel steps at the centre), pan with the right button, zoom back out.
    await page.mouse.move(cx, cy);
    for (let i = 0; i < 12; i++) await page.mouse.wheel(0, -240);
    await page.mouse.down({ button: 'right' });
    for (let i = 1; i <= 60; i++) await page.mouse.move(cx - 4 * i, cy - 2 * i);
    await page.mouse.up({ button: 'right' });
    for (let i = 0; i < 12; i++) await page.mouse.wheel(0, 240);
    const to = await page.evaluate(() => performance.now());
    await page.waitForTimeout(200);
    const frames = await framesBetween(from, to);
    results.image_50_megapixels = {
      size: `${shown.width}x${shown.height}`,
      megapixels: round((shown.width * shown.height) / 1e6, 1),
      open_by_id_ms: round(shown.ms),
      zoom_pan_frames: frames.measures.length,
      draw_ms_per_frame: stats(frames.measures.map((f) => f.ms)),
      animation_frame_interval_ms: stats(frames.intervals),
    };
  });

  test('review: decisions by keyboard', async () => {
    test.setTimeout(300_000);
    await nav(page, 'Review').click();
    const cards = page.locator('.review .card');
    await expect(cards.first()).toBeVisible({ timeout: 60_000 });
    const decided = page.locator('.review .bar strong');
    const count = async () => Number(((await decided.textContent()) ?? '0').replace(/[^0-9]/g, ''));
    const before = await count();
    const callsBefore = (await page.evaluate(() => ({ ...(window as unknown as { __calls: Record<string, number> }).__calls }))) as Record<string, number>;
    const keys: string[] = [];
    const times: number[] = [];
    const countTimes: number[] = [];
    const movedTimes: number[] = [];
    const t0 = await page.evaluate(() => performance.now());
    for (let i = 0; i < DECISIONS; i++) {
      // 3 accepts, 1 reject, and every tenth a class change (c, then a digit).
      const seq = i % 10 === 9 ? ['c', '2'] : i % 4 === 3 ? ['r'] : ['a'];
      // In the page, from the key press on, each animation frame notes when the decided card
      // left (the next one has the focus), when the decision was saved (the count moved) and
      // when the newly focused crop was drawn.
      await page.evaluate((want) => {
        const w = window as unknown as { __review: { key: number; moved: number; saved: number; drawn: number } };
        const r = { key: -1, moved: -1, saved: -1, drawn: -1 };
        w.__review = r;
        const was = document.querySelector('.review .card.focused')?.getAttribute('data-key') ?? '';
        window.addEventListener('keydown', (e) => (r.key = e.timeStamp), { once: true, capture: true });
        const tick = () => {
          // performance.now(), not the frame's timestamp: that is the frame's start, which can precede the key event handled in it.
          const t = performance.now();
          const focused = document.querySelector('.review .card.focused');
          if (r.key >= 0 && r.moved < 0 && (focused?.getAttribute('data-key') ?? '') !== was) r.moved = t;
          const n = Number((document.querySelector('.review .bar strong')?.textContent ?? '0').replace(/[^0-9]/g, ''));
          if (r.saved < 0 && n >= want) r.saved = t;
          const canvas = focused?.querySelector('canvas');
          if (r.moved >= 0 && r.drawn < 0 && (!canvas || canvas.width > 0)) r.drawn = t;
          if (r.moved < 0 || r.saved < 0 || r.drawn < 0) requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      }, before + i + 1);
      for (const k of seq) {
        await press(page, k);
        keys.push(k);
      }
      const handle = await page.waitForFunction(
        () => {
          const r = (window as unknown as { __review: { key: number; moved: number; saved: number; drawn: number } }).__review;
          return r.moved >= 0 && r.saved >= 0 && r.drawn >= 0 ? r : false;
        },
        undefined,
        { polling: 'raf', timeout: 30_000 },
      );
      const r = (await handle.jsonValue()) as { key: number; moved: number; saved: number; drawn: number };
      movedTimes.push(r.moved - r.key);
      countTimes.push(r.saved - r.key);
      times.push(r.drawn - r.key);
    }
    const t1 = await page.evaluate(() => performance.now());
    // Every decision saved.
    await expect.poll(count).toBe(before + DECISIONS);
    await expect(page.locator('.review .bar .error')).toHaveCount(0);
    const callsAfter = (await page.evaluate(() => ({ ...(window as unknown as { __calls: Record<string, number> }).__calls }))) as Record<string, number>;
    const calls: Record<string, number> = {};
    for (const [k, v] of Object.entries(callsAfter)) {
      const d = v - (callsBefore[k] ?? 0);
      if (d > 0) calls[k] = d;
    }
    const roundTrips = Object.values(calls).reduce((a, b) => a + b, 0);
    results.review_decisions = {
      decisions: DECISIONS,
      key_presses_per_decision: round(keys.length / DECISIONS, 2),
      key_presses: { accept: 1, reject: 1, change_class: 2 },
      round_trips_per_decision: round(roundTrips / DECISIONS, 2),
      round_trips_by_command: calls,
      ms_key_to_next_card_focused: stats(movedTimes),
      ms_key_to_saved: stats(countTimes),
      ms_key_to_next_crop_shown: stats(times),
      // Each decision here waits until it is saved and the next crop is drawn before the next key.
      decisions_per_minute_app_bound: round((60_000 * DECISIONS) / (t1 - t0), 0),
    };
  });
});
