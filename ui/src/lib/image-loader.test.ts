import { describe, expect, it } from 'vitest';
import { flush } from './testing/fake-backend';
import { type DecodableImage, ImageLoader } from './image-loader';

class FakeImage implements DecodableImage {
  static made: FakeImage[] = [];
  src = '';
  decoding = '';
  naturalWidth = 100;
  naturalHeight = 50;
  private done!: () => void;
  private readonly decoded = new Promise<void>((r) => (this.done = r));
  constructor() {
    FakeImage.made.push(this);
  }
  decode(): Promise<void> {
    return this.decoded;
  }
  finish(): void {
    this.done();
  }
}

describe('image loader', () => {
  it('downloads each image once, a few at a time, and keeps the last few', async () => {
    FakeImage.made = [];
    const loader = new ImageLoader(() => new FakeImage(), 2, 2);
    const a1 = loader.load('a');
    const a2 = loader.load('a');
    void loader.load('b');
    void loader.load('c');
    await flush();
    expect(FakeImage.made.map((m) => m.src)).toEqual(['a', 'b']);
    expect(loader.pending).toBe(3);
    FakeImage.made[0]!.finish();
    expect(await a1).toBe(await a2);
    await flush();
    expect(FakeImage.made.map((m) => m.src)).toEqual(['a', 'b', 'c']);
    FakeImage.made[1]!.finish();
    FakeImage.made[2]!.finish();
    await flush();
    expect(loader.pending).toBe(0);
    // 'a' was dropped (only two kept): it is downloaded again.
    void loader.load('a');
    await flush();
    expect(FakeImage.made).toHaveLength(4);
    // 'c' is kept: no new download.
    await loader.load('c');
    expect(FakeImage.made).toHaveLength(4);
  });
});
