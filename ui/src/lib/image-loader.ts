// Full-size images for crops: a few downloads at a time, one download per image however many
// crops it has, and only the last few decoded images kept (a 12-megapixel photo decodes to
// 48 MB; a grid of crops must not hold a hundred of them).

export interface DecodableImage {
  src: string;
  decoding?: string;
  decode(): Promise<void>;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
}

export class ImageLoader<I extends DecodableImage> {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly inflight = new Map<string, Promise<I>>();
  private readonly kept = new Map<string, I>();

  constructor(
    private readonly make: () => I,
    private readonly concurrency = 4,
    private readonly keep = 6,
  ) {}

  load(url: string): Promise<I> {
    const done = this.kept.get(url);
    if (done) {
      this.kept.delete(url);
      this.kept.set(url, done);
      return Promise.resolve(done);
    }
    const running = this.inflight.get(url);
    if (running) return running;
    const p = this.slot().then(async () => {
      try {
        const img = this.make();
        img.decoding = 'async';
        img.src = url;
        await img.decode();
        this.kept.set(url, img);
        while (this.kept.size > this.keep) this.kept.delete(this.kept.keys().next().value as string);
        return img;
      } finally {
        this.inflight.delete(url);
        this.active--;
        this.waiting.shift()?.();
      }
    });
    this.inflight.set(url, p);
    return p;
  }

  get pending(): number {
    return this.active + this.waiting.length;
  }

  private slot(): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push(() => {
        this.active++;
        resolve();
      }),
    );
  }
}
