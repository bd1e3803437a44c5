import { describe, expect, it, vi } from 'vitest';
import { ApiError } from './backend';
import { type EventSourceLike, HttpBackend, takeToken, TOKEN_KEY } from './http';

function jsonResponse(status: number, body: unknown): Response {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

function backendWith(fetch: typeof globalThis.fetch, sources: FakeSource[] = []): HttpBackend {
  return new HttpBackend({
    base: 'http://127.0.0.1:7878/',
    token: 's3cr3t/+=',
    fetch,
    eventSource: (url) => {
      const s = new FakeSource(url);
      sources.push(s);
      return s;
    },
  });
}

class FakeSource implements EventSourceLike {
  onmessage: ((ev: MessageEvent) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {}
  emit(data: unknown): void {
    this.onmessage?.(new MessageEvent('message', { data: typeof data === 'string' ? data : JSON.stringify(data) }));
  }
  close(): void {
    this.closed = true;
  }
}

describe('HTTP calls', () => {
  it('POSTs JSON to /api/{command} with the bearer token', async () => {
    const fetch = vi.fn(async (_input: RequestInfo | URL, _init?: RequestInit) => jsonResponse(200, [{ id: 1 }]));
    const b = backendWith(fetch);
    await expect(b.call('annotations', { image: 42 })).resolves.toEqual([{ id: 1 }]);
    expect(fetch).toHaveBeenCalledOnce();
    const [url, init] = fetch.mock.calls[0] ?? [];
    expect(url).toBe('http://127.0.0.1:7878/api/annotations');
    expect(init?.method).toBe('POST');
    expect(init?.headers).toEqual({ 'Content-Type': 'application/json', Authorization: 'Bearer s3cr3t/+=' });
    expect(JSON.parse(String(init?.body))).toEqual({ image: 42 });
  });

  it('sends {} when there are no arguments, and reads an empty answer as undefined', async () => {
    const fetch = vi.fn(async () => new Response(null, { status: 204 }));
    const b = backendWith(fetch);
    await expect(b.call('undo')).resolves.toBeUndefined();
    expect(fetch.mock.calls[0]).toBeDefined();
  });

  it('turns an error body into ApiError with its code and message', async () => {
    const b = backendWith(async () => jsonResponse(409, { code: 'conflict', message: 'annotation 7 was changed since' }));
    const err = await b.call('undo').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'conflict', message: 'annotation 7 was changed since' });
  });

  it('reports an error that is not an error body, with the status', async () => {
    const b = backendWith(async () => new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    await expect(b.call('classes')).rejects.toMatchObject({ code: 'bad_response', message: expect.stringMatching(/502/) as unknown });
  });

  it('reports a success that is not JSON', async () => {
    const b = backendWith(async () => new Response('not json', { status: 200 }));
    await expect(b.call('classes')).rejects.toMatchObject({ code: 'bad_response' });
  });

  it('reports an unreachable server as a network error', async () => {
    const b = backendWith(async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(b.call('classes')).rejects.toMatchObject({ code: 'network', message: expect.stringMatching(/Failed to fetch/) as unknown });
  });
});

describe('HTTP media URLs', () => {
  it('carry the token in the query (img elements cannot send headers)', () => {
    const b = backendWith(vi.fn());
    expect(b.imageUrl(12)).toBe('http://127.0.0.1:7878/media/image/12?token=s3cr3t%2F%2B%3D');
    expect(b.thumbUrl(12)).toBe('http://127.0.0.1:7878/media/thumb/12?token=s3cr3t%2F%2B%3D');
  });

  it('change when another project opens (the same id is another image there; media are cached)', () => {
    const sources: FakeSource[] = [];
    const b = backendWith(vi.fn(), sources);
    const before = b.imageUrl(12);
    b.subscribe('project_opened', () => {
      // Handlers already see the new URLs.
      expect(b.thumbUrl(12)).toBe('http://127.0.0.1:7878/media/thumb/12?token=s3cr3t%2F%2B%3D&project=1');
    });
    sources[0]?.emit({ event: 'labels_changed', payload: {} });
    expect(b.imageUrl(12)).toBe(before);
    sources[0]?.emit({ event: 'project_opened', payload: {} });
    expect(b.imageUrl(12)).toBe('http://127.0.0.1:7878/media/image/12?token=s3cr3t%2F%2B%3D&project=1');
  });
});

describe('HTTP events', () => {
  it('opens one stream for all subscriptions and routes by event name', () => {
    const sources: FakeSource[] = [];
    const b = backendWith(vi.fn(), sources);
    const jobs = vi.fn();
    const labels = vi.fn();
    const offJobs = b.subscribe('job_progress', jobs);
    const offLabels = b.subscribe('labels_changed', labels);
    expect(sources).toHaveLength(1);
    expect(sources[0]?.url).toBe('http://127.0.0.1:7878/api/events?token=s3cr3t%2F%2B%3D');

    sources[0]?.emit({ event: 'job_progress', payload: { done: 3 } });
    sources[0]?.emit({ event: 'labels_changed', payload: { image: 9 } });
    sources[0]?.emit('garbage');
    sources[0]?.emit({ payload: 1 });
    expect(jobs).toHaveBeenCalledWith({ done: 3 });
    expect(labels).toHaveBeenCalledWith({ image: 9 });
    expect(jobs).toHaveBeenCalledOnce();

    offJobs();
    sources[0]?.emit({ event: 'job_progress', payload: { done: 4 } });
    expect(jobs).toHaveBeenCalledOnce();
    expect(sources[0]?.closed).toBe(false);
    offLabels();
    expect(sources[0]?.closed).toBe(true);

    b.subscribe('labels_changed', labels);
    expect(sources).toHaveLength(2);
  });
});

describe('session token', () => {
  function env(hash: string, stored: string | null = null) {
    const storage = new Map<string, string>(stored ? [[TOKEN_KEY, stored]] : []);
    const replaced: Array<string | URL | null | undefined> = [];
    return {
      storage,
      replaced,
      env: {
        location: { hash, pathname: '/app/', search: '?x=1' },
        history: { replaceState: (_d: unknown, _u: string, url?: string | URL | null) => replaced.push(url) },
        storage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => void storage.set(k, v) },
      },
    };
  }

  it('takes it from the fragment, keeps it for the session, and clears the address bar', () => {
    const e = env('#token=abc123');
    expect(takeToken(e.env)).toBe('abc123');
    expect(e.storage.get(TOKEN_KEY)).toBe('abc123');
    expect(e.replaced).toEqual(['/app/?x=1']);
  });

  it('keeps other fragment parameters', () => {
    const e = env('#view=catalog&token=abc');
    expect(takeToken(e.env)).toBe('abc');
    expect(e.replaced).toEqual(['/app/?x=1#view=catalog']);
  });

  it('falls back to the session after a reload', () => {
    const e = env('', 'kept');
    expect(takeToken(e.env)).toBe('kept');
    expect(e.replaced).toEqual([]);
  });

  it('is null when there is none', () => {
    expect(takeToken(env('').env)).toBeNull();
  });
});
