// End-to-end: the web UI in a real browser against `lacuna serve` on a fresh project made
// from assets/sample and pre-labeled (scripts/test-e2e.sh). Every edit goes through the UI;
// the HTTP API is called directly only to find suitable images and to check stored state.
// The tests run in order and build on each other (one project for the whole file).
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type Locator, type Page, test } from '@playwright/test';

const URL = process.env.LACUNA_URL ?? '';
const TOKEN = process.env.LACUNA_TOKEN ?? '';
const SAMPLE = process.env.LACUNA_SAMPLE ?? '';
const SAMPLE_IMAGES = 24;
const SCREENSHOT = join(dirname(fileURLToPath(import.meta.url)), '../../target/test-artifacts/e2e/annotate.png');

test.describe.configure({ mode: 'serial' });

interface Geometry {
  kind: 'box' | 'polygon' | 'mask';
  x0?: number;
  y0?: number;
  x1?: number;
  y1?: number;
}
interface Annotation {
  id: number;
  /** The class id (`classes` names it). */
  class: number;
  geometry: Geometry;
  review_state: string;
}
interface OpenPrediction {
  id: number;
  class: string | null;
  geometry: { kind: 'box'; x0: number; y0: number; x1: number; y1: number };
}
interface ImageSummary {
  id: number;
  path: string;
  width_px: number;
  height_px: number;
}

/** A command straight to the backend (state checks only). */
async function api<T>(command: string, args: object = {}): Promise<T> {
  const res = await fetch(`${URL}/api/${command}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(args),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${command}: HTTP ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

const annotationsOf = (image: number) => api<Annotation[]>('annotations', { image });
const predictionsOf = (image: number) => api<OpenPrediction[]>('image_predictions', { image });
const classNames = async () => new Map((await api<Array<{ id: number; name: string }>>('classes')).map((c) => [c.id, c.name]));
/** The class names of the annotations not rejected. */
async function namesOf(a: Annotation[]): Promise<string[]> {
  const names = await classNames();
  return shown(a).map((x) => names.get(x.class) ?? `#${x.class}`);
}
const shown = (a: Annotation[]) => a.filter((x) => x.review_state !== 'rejected');
const kindsOf = (a: Annotation[]) => shown(a).map((x) => x.geometry.kind).sort().join(' ');

// Chosen in the first annotate test, used by the later ones.
let drawImage = 0;
let predImage = 0;
let predsBefore = 0;
let keyImage = 0;
let keyPredsBefore = 0;
let cornerImage = 0;
let allImage = 0;
let allPredsBefore = 0;
let acceptedClass = '';
let className = '';

async function openApp(page: Page): Promise<void> {
  expect(URL, 'LACUNA_URL (run through scripts/test-e2e.sh)').not.toBe('');
  await page.goto(`${URL}/#token=${TOKEN}`);
  // With the project open the shell enables the project views.
  await expect(nav(page, 'Annotate')).toBeEnabled();
}

function nav(page: Page, view: string): Locator {
  return page.getByRole('navigation', { name: 'Views' }).getByRole('button', { name: view, exact: true });
}

async function go(page: Page, view: string): Promise<void> {
  await nav(page, view).click();
  await expect(nav(page, view)).toHaveAttribute('aria-pressed', 'true');
  if (view === 'Annotate') {
    // The view opens the queue's first image by itself; let it, or it may replace the one asked for.
    await expect(stage(page)).toHaveAttribute('data-image', /^\d+$/);
    await expect(message(page)).toHaveText(/^Image \d+: \d+×\d+/);
  }
}

const stage = (page: Page) => page.getByTestId('annotate-stage');
const canvas = (page: Page) => page.getByLabel('Image being annotated');
const message = (page: Page) => page.getByTestId('annotate-message');

/** Keys go to the window's shortcut handler, not to whatever button or field has focus. */
async function press(page: Page, key: string): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press(key);
}

/** Waits until every write of the annotate view has returned. */
async function settled(page: Page): Promise<void> {
  await expect(page.getByTestId('annotate-save')).toHaveClass(/\bsaved\b/);
  await expect(page.getByTestId('annotate-save')).toHaveText(/saved/i);
}

/** Opens image `id` through the id field; returns its size as the view reports it. */
async function openImage(page: Page, id: number): Promise<{ w: number; h: number }> {
  await page.getByLabel('Image id').fill(String(id));
  await page.getByRole('button', { name: 'Open', exact: true }).click();
  await expect(stage(page)).toHaveAttribute('data-image', String(id));
  await expect(message(page)).toHaveText(new RegExp(`^Image ${id}: \\d+×\\d+`));
  const m = /^Image \d+: (\d+)×(\d+)/.exec((await message(page).textContent()) ?? '');
  return { w: Number(m?.[1]), h: Number(m?.[2]) };
}

/** Image pixel → page coordinates, for the fitted view a freshly opened image has. */
async function mapper(page: Page, size: { w: number; h: number }): Promise<(x: number, y: number) => [number, number]> {
  const box = await canvas(page).boundingBox();
  if (!box) throw new Error('the canvas is not on screen');
  const pad = 16; // FIT_PADDING in lib/canvas/viewport.ts
  const scale = Math.min((box.width - 2 * pad) / size.w, (box.height - 2 * pad) / size.h);
  const ox = (box.width - size.w * scale) / 2;
  const oy = (box.height - size.h * scale) / 2;
  return (x, y) => [box.x + ox + x * scale, box.y + oy + y * scale];
}

async function selectTool(page: Page, name: 'Box' | 'Polygon' | 'Brush'): Promise<void> {
  const b = page.getByRole('group', { name: 'Tool' }).getByRole('button', { name, exact: true });
  await b.click();
  await expect(b).toHaveAttribute('aria-pressed', 'true');
}

/** Shift-drag: draws even where pre-labels cover the image. */
async function drag(page: Page, from: [number, number], to: [number, number], steps = 8): Promise<void> {
  await page.keyboard.down('Shift');
  await page.mouse.move(...from);
  await page.mouse.down();
  await page.mouse.move(...to, { steps });
  await page.mouse.up();
  await page.keyboard.up('Shift');
}

test('import: re-importing the sample finishes with every image unchanged', async ({ page }) => {
  expect(SAMPLE, 'LACUNA_SAMPLE').not.toBe('');
  await openApp(page);
  await go(page, 'Import');
  await page.getByLabel(/Folders or files to import/).fill(SAMPLE);
  await page.getByRole('button', { name: 'Start import' }).click();

  const panel = page.locator('.panel').filter({ has: page.getByRole('progressbar') });
  await expect(panel.locator('strong')).toHaveText(/^Finished/, { timeout: 60_000 });
  const row = (label: string) => panel.getByRole('row', { name: new RegExp(`^${label}`) }).getByRole('cell');
  await expect(row('Unchanged')).toHaveText(String(SAMPLE_IMAGES));
  await expect(row('Added')).toHaveText('0');
  await expect(row('Updated')).toHaveText('0');
  await expect(row('Moved')).toHaveText('0');
  await expect(row('Marked missing')).toHaveText('0');
  expect(await api<number>('images_count', { query: {} })).toBe(SAMPLE_IMAGES);
});

test('annotate: create a class, then draw a box, a polygon and a mask', async ({ page }) => {
  // A JPEG without predictions to draw on, one with two or more predictions to review.
  const { items } = await api<{ items: ImageSummary[] }>('images', { query: { limit: 100 } });
  for (const img of items.filter((i) => /\.jpe?g$/i.test(i.path) && i.width_px >= 300)) {
    if ((await annotationsOf(img.id)).length > 0) continue;
    const n = (await predictionsOf(img.id)).length;
    if (n === 0 && !drawImage) drawImage = img.id;
    if (n >= 2 && !predImage) {
      predImage = img.id;
      predsBefore = n;
    } else if (n >= 2 && !keyImage) {
      keyImage = img.id;
      keyPredsBefore = n;
    } else if (n >= 1 && !cornerImage) {
      cornerImage = img.id;
    } else if (n >= 1 && !allImage) {
      allImage = img.id;
      allPredsBefore = n;
    }
  }
  expect(drawImage, 'an image without predictions').toBeGreaterThan(0);
  expect(predImage, 'an image with two or more predictions').toBeGreaterThan(0);
  expect(await annotationsOf(drawImage)).toEqual([]);

  await openApp(page);
  await go(page, 'Annotate');
  const size = await openImage(page, drawImage);
  await expect(stage(page)).toHaveAttribute('data-annotations', '0');

  // A class for the new shapes.
  const classes = await api<Array<{ name: string }>>('classes');
  className = classes[0]?.name ?? 'e2e-object';
  const classGroup = page.getByRole('group', { name: 'Class' });
  if (classes.length === 0) {
    await page.getByLabel('New class name').fill(className);
    await classGroup.getByRole('button', { name: 'Add' }).click();
    await expect(message(page)).toHaveText(`Class ${className} created.`);
  }
  const classButton = classGroup.getByRole('button', { name: new RegExp(`${className}$`) });
  await classButton.click();
  await expect(classButton).toHaveAttribute('aria-pressed', 'true');
  expect((await api<Array<{ name: string }>>('classes')).map((c) => c.name)).toContain(className);

  const at = await mapper(page, size);
  const { w, h } = size;

  // Box: a drag in the upper left.
  await selectTool(page, 'Box');
  await drag(page, at(w * 0.1, h * 0.1), at(w * 0.35, h * 0.4));
  await expect(stage(page)).toHaveAttribute('data-annotations', '1');
  await settled(page);
  await expect.poll(async () => kindsOf(await annotationsOf(drawImage))).toBe('box');
  const box = (await annotationsOf(drawImage))[0]!;
  expect(await namesOf([box])).toEqual([className]);
  expect(box.geometry.x0!).toBeCloseTo(w * 0.1, -1);
  expect(box.geometry.y1!).toBeCloseTo(h * 0.4, -1);

  // Polygon: four clicks in the upper right, closed by clicking the first point again.
  await press(page, 'Escape');
  await selectTool(page, 'Polygon');
  const pts = [at(w * 0.6, h * 0.1), at(w * 0.9, h * 0.15), at(w * 0.85, h * 0.45), at(w * 0.55, h * 0.4)];
  await page.keyboard.down('Shift');
  for (const p of [...pts, pts[0]!]) await page.mouse.click(...p);
  await page.keyboard.up('Shift');
  await expect(stage(page)).toHaveAttribute('data-annotations', '2');
  await settled(page);
  await expect.poll(async () => kindsOf(await annotationsOf(drawImage))).toBe('box polygon');

  // Mask: one brush stroke along the bottom.
  await press(page, 'Escape');
  await selectTool(page, 'Brush');
  await drag(page, at(w * 0.2, h * 0.75), at(w * 0.8, h * 0.8), 20);
  await expect(stage(page)).toHaveAttribute('data-annotations', '3');
  await settled(page);
  await expect(stage(page)).toHaveAttribute('data-kinds', 'box mask polygon');
  await expect.poll(async () => kindsOf(await annotationsOf(drawImage))).toBe('box mask polygon');
  expect(await namesOf(await annotationsOf(drawImage))).toEqual([className, className, className]);

  await press(page, 'Escape');
  await page.screenshot({ path: SCREENSHOT });
});

test('annotate: accept one prediction (a) and reject another (r)', async ({ page }) => {
  expect(predImage).toBeGreaterThan(0);
  const preds = await predictionsOf(predImage);
  expect(preds.length).toBe(predsBefore);
  await openApp(page);
  await go(page, 'Annotate');
  await selectTool(page, 'Box');
  const size = await openImage(page, predImage);
  await expect(stage(page)).toHaveAttribute('data-predictions', String(predsBefore));
  await expect(stage(page)).toHaveAttribute('data-annotations', '0');

  // Press inside the smallest prediction: the hit test prefers the smallest shape under the pointer.
  const area = (p: OpenPrediction) => (p.geometry.x1 - p.geometry.x0) * (p.geometry.y1 - p.geometry.y0);
  const target = [...preds].sort((a, b) => area(a) - area(b))[0]!;
  const at = await mapper(page, size);
  await page.mouse.click(...at((target.geometry.x0 + target.geometry.x1) / 2, (target.geometry.y0 + target.geometry.y1) / 2));

  // a: accepted (it becomes an annotation) and the next prediction is selected; r rejects that one.
  await press(page, 'a');
  await expect(stage(page)).toHaveAttribute('data-annotations', '1');
  await expect(stage(page)).toHaveAttribute('data-predictions', String(predsBefore - 1));
  await settled(page);
  await press(page, 'r');
  await expect(message(page)).toHaveText('Rejected the prediction.');
  await expect(stage(page)).toHaveAttribute('data-predictions', String(predsBefore - 2));
  await settled(page);

  const open = await predictionsOf(predImage);
  expect(open.length).toBe(predsBefore - 2);
  expect(open.map((p) => p.id)).not.toContain(target.id);
  const anns = shown(await annotationsOf(predImage));
  expect(anns).toHaveLength(1);
  expect(anns[0]!.geometry.kind).toBe('box');
  acceptedClass = (await namesOf(anns))[0]!;
  if (target.class) expect(acceptedClass).toBe(target.class);
});

test('annotate: ctrl+z undoes the latest edit', async ({ page }) => {
  await openApp(page);
  await go(page, 'Annotate');
  await selectTool(page, 'Box');
  const size = await openImage(page, predImage);
  await expect(stage(page)).toHaveAttribute('data-annotations', '1');
  const classButton = page.getByRole('group', { name: 'Class' }).getByRole('button', { name: new RegExp(`${className}$`) });
  await classButton.click();
  const at = await mapper(page, size);

  // An extra box, then undo it.
  await drag(page, at(size.w * 0.05, size.h * 0.05), at(size.w * 0.2, size.h * 0.2));
  await expect(stage(page)).toHaveAttribute('data-annotations', '2');
  await settled(page);
  await expect.poll(async () => shown(await annotationsOf(predImage)).length).toBe(2);

  await press(page, 'Escape');
  await press(page, 'Control+z');
  await expect(message(page)).toHaveText(/^Undid: /);
  await expect(stage(page)).toHaveAttribute('data-annotations', '1');
  const anns = shown(await annotationsOf(predImage));
  expect(anns).toHaveLength(1);
  expect(await namesOf(anns)).toEqual([acceptedClass]);
  // The decisions before it stand.
  expect((await predictionsOf(predImage)).length).toBe(predsBefore - 2);
});

test('annotate by keyboard alone: a accepts the selected prediction, c then 1 accepts the next as class 1, undo and redo', async ({ page }) => {
  expect(keyImage, 'a second image with two or more predictions').toBeGreaterThan(0);
  await openApp(page);
  await go(page, 'Annotate');
  await openImage(page, keyImage);
  await expect(stage(page)).toHaveAttribute('data-predictions', String(keyPredsBefore));
  await expect(stage(page)).toHaveAttribute('data-annotations', '0');

  // The image opened with its first prediction selected: one key accepts it.
  await press(page, 'a');
  await expect(stage(page)).toHaveAttribute('data-annotations', '1');
  await expect(stage(page)).toHaveAttribute('data-predictions', String(keyPredsBefore - 1));
  await settled(page);
  // Tab goes round the open predictions and back (Shift+Tab the other way).
  await press(page, 'Tab');
  await press(page, 'Shift+Tab');
  // The next prediction, accepted as the first class.
  const first = (await api<Array<{ id: number; name: string; position: number }>>('classes')).sort((a, b) => a.position - b.position || a.id - b.id)[0]!;
  await press(page, 'c');
  await expect(message(page)).toHaveText('Press 1–9: the prediction is accepted as that class.');
  await press(page, '1');
  await expect(stage(page)).toHaveAttribute('data-annotations', '2');
  await settled(page);
  await expect.poll(async () => (await namesOf(await annotationsOf(keyImage))).includes(first.name)).toBe(true);
  expect((await predictionsOf(keyImage)).length).toBe(keyPredsBefore - 2);

  await press(page, 'Escape');
  await press(page, 'Control+z');
  await expect(message(page)).toHaveText(/^Undid: /);
  await expect(stage(page)).toHaveAttribute('data-annotations', '1');
  await expect.poll(async () => shown(await annotationsOf(keyImage)).length).toBe(1);
  await press(page, 'Control+Shift+z');
  await expect(message(page)).toHaveText(/^Redid: /);
  await expect(stage(page)).toHaveAttribute('data-annotations', '2');
  await expect.poll(async () => shown(await annotationsOf(keyImage)).length).toBe(2);
  expect((await predictionsOf(keyImage)).length).toBe(keyPredsBefore - 2);
});

test('annotate: dragging the selected prediction’s corner accepts it with the corrected box', async ({ page }) => {
  expect(cornerImage, 'a third image with a prediction').toBeGreaterThan(0);
  const preds = await predictionsOf(cornerImage);
  await openApp(page);
  await go(page, 'Annotate');
  await selectTool(page, 'Box');
  const size = await openImage(page, cornerImage);
  await expect(stage(page)).toHaveAttribute('data-predictions', String(preds.length));
  // The image opened with its first prediction selected: its corner handle is live.
  const target = preds[0]!;
  const at = await mapper(page, size);
  const box = await canvas(page).boundingBox();
  const scale = Math.min((box!.width - 32) / size.w, (box!.height - 32) / size.h);
  const [cx, cy] = at(target.geometry.x1, target.geometry.y1);
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx - 10, cy - 8, { steps: 4 });
  await page.mouse.move(cx - 20, cy - 16, { steps: 4 });
  await page.mouse.up();
  await expect(stage(page)).toHaveAttribute('data-annotations', '1');
  await expect(stage(page)).toHaveAttribute('data-predictions', String(preds.length - 1));
  await settled(page);
  const anns = shown(await annotationsOf(cornerImage));
  expect(anns).toHaveLength(1);
  const g = anns[0]!.geometry;
  expect(g.kind).toBe('box');
  expect(g.x0!).toBeCloseTo(target.geometry.x0, 0);
  expect(Math.abs(g.x1! - (target.geometry.x1 - 20 / scale))).toBeLessThan(2 / scale + 1);
  expect(Math.abs(g.y1! - (target.geometry.y1 - 16 / scale))).toBeLessThan(2 / scale + 1);
  expect((await predictionsOf(cornerImage)).map((p) => p.id)).not.toContain(target.id);
  if (target.class) expect(await namesOf(anns)).toEqual([target.class]);
});

test('annotate: Shift+Enter accepts every prediction left, marks the image done and moves on', async ({ page }) => {
  expect(allImage, 'a fourth image with predictions').toBeGreaterThan(0);
  await openApp(page);
  await go(page, 'Annotate');
  await openImage(page, allImage);
  await expect(stage(page)).toHaveAttribute('data-predictions', String(allPredsBefore));
  const before = await message(page).textContent();
  await press(page, 'Shift+Enter');
  await expect.poll(async () => shown(await annotationsOf(allImage)).length).toBe(allPredsBefore);
  expect(await predictionsOf(allImage)).toEqual([]);
  const labeledIds = async () => (await api<{ items: Array<{ id: number }> }>('images', { query: { label_state: 'labeled', limit: 1000 } })).items.map((i) => i.id);
  await expect.poll(labeledIds).toContain(allImage);
  // And on to the next image of the queue.
  await expect.poll(async () => (await message(page).textContent()) !== before).toBe(true);
});

test('reload: every remaining edit is still there', async ({ page }) => {
  await openApp(page);
  await page.reload();
  await expect(nav(page, 'Annotate')).toBeEnabled();
  await go(page, 'Annotate');

  await openImage(page, drawImage);
  await expect(stage(page)).toHaveAttribute('data-annotations', '3');
  await expect(stage(page)).toHaveAttribute('data-kinds', 'box mask polygon');
  await expect(message(page)).toHaveText(new RegExp(`^Image ${drawImage}: \\d+×\\d+, 3 annotations, 0 predictions`));
  expect(kindsOf(await annotationsOf(drawImage))).toBe('box mask polygon');

  await openImage(page, predImage);
  await expect(stage(page)).toHaveAttribute('data-annotations', '1');
  await expect(stage(page)).toHaveAttribute('data-predictions', String(predsBefore - 2));
  await expect(message(page)).toHaveText(new RegExp(`^Image ${predImage}: \\d+×\\d+, 1 annotations, ${predsBefore - 2} predictions`));
  expect(await namesOf(await annotationsOf(predImage))).toEqual([acceptedClass]);
});

test('versions: mark images done, freeze a version and export it as COCO', async ({ page }) => {
  await openApp(page);
  await go(page, 'Annotate');
  // Enter marks the image labeled (then the view moves on to the next image of the queue).
  const labeled = async () => (await api<Array<{ state: string; images: number }>>('label_states')).find((s) => s.state === 'labeled')?.images ?? 0;
  let done = await labeled();
  for (const id of [drawImage, predImage]) {
    await openImage(page, id);
    const before = await message(page).textContent();
    await press(page, 'Enter');
    await expect.poll(labeled).toBe(++done);
    // Let the move to the next image finish before opening another one.
    await expect
      .poll(async () => {
        const t = (await message(page).textContent()) ?? '';
        return t !== before && /^Image \d+: \d+×\d+|no more images|^Cannot open image/.test(t);
      })
      .toBe(true);
  }

  await go(page, 'Versions');
  const freeze = page.locator('form').filter({ has: page.getByRole('heading', { name: 'Freeze a version' }) });
  await freeze.getByLabel('Name').fill('e2e-v1');
  await freeze.getByRole('button', { name: 'Freeze' }).click();
  await expect(freeze.getByText(/^Frozen e2e-v1/)).toBeVisible();
  await expect(page.getByRole('cell', { name: 'e2e-v1', exact: true })).toBeVisible();

  const out = join(mkdtempSync(join(tmpdir(), 'lacuna-e2e-')), 'coco');
  const exp = page.locator('form').filter({ has: page.getByRole('heading', { name: 'Export' }) });
  await expect(exp.getByLabel('Version')).toHaveValue(/.+/);
  await exp.getByLabel('Format').selectOption('coco');
  await exp.getByLabel('Images').selectOption('none');
  await exp.getByLabel('Export folder').fill(out);
  await exp.getByRole('button', { name: 'Export', exact: true }).click();
  await expect(exp.getByText('Finished', { exact: true })).toBeVisible({ timeout: 60_000 });
  await expect(exp.getByText(/^Manifest:/)).toBeVisible();

  expect(existsSync(join(out, 'manifest.json'))).toBe(true);
  const files = readdirSync(join(out, 'annotations')).filter((f: string) => /^instances_\w+\.json$/.test(f));
  expect(files.length).toBeGreaterThan(0);
  let images = 0;
  let annotations = 0;
  const categories = new Set<string>();
  for (const f of files) {
    const coco = JSON.parse(readFileSync(join(out, 'annotations', f), 'utf8')) as {
      images: unknown[];
      annotations: unknown[];
      categories: Array<{ name: string }>;
    };
    images += coco.images.length;
    annotations += coco.annotations.length;
    for (const c of coco.categories) categories.add(c.name);
  }
  expect(images).toBeGreaterThanOrEqual(2);
  expect(annotations).toBeGreaterThanOrEqual(4); // box, polygon, mask, the accepted prediction
  expect(categories).toContain(className);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as object;
  expect(Object.keys(manifest).length).toBeGreaterThan(0);
});
