// The backend over HTTP (`lacuna serve`): commands are POSTs, events come as server-sent
// events, media by URL. Every request carries the session token the server printed.

import { ApiError, asApiError, type Backend } from './backend';

/** The parts of EventSource used here. */
export interface EventSourceLike {
  onmessage: ((ev: MessageEvent) => void) | null;
  close(): void;
}

export type EventSourceFactory = (url: string) => EventSourceLike;

export interface HttpBackendOptions {
  /** Origin (and path prefix, if any) of the server, without a trailing slash; '' for same origin. */
  base: string;
  token: string;
  fetch?: typeof fetch;
  eventSource?: EventSourceFactory;
}

export class HttpBackend implements Backend {
  private readonly base: string;
  private readonly token: string;
  private readonly fetchFn: typeof fetch;
  private readonly makeEventSource: EventSourceFactory;
  private source: EventSourceLike | null = null;
  private readonly handlers = new Map<string, Set<(payload: unknown) => void>>();
  /**
   * Bumped when another project opens. Media are cached by URL (an hour) and the same image id
   * names another file in another project, so the URLs change with it.
   */
  private projectGeneration = 0;

  constructor(opts: HttpBackendOptions) {
    this.base = opts.base.replace(/\/+$/, '');
    this.token = opts.token;
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.makeEventSource = opts.eventSource ?? ((url) => new EventSource(url));
  }

  async call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(`${this.base}/api/${encodeURIComponent(command)}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.token}` },
        body: JSON.stringify(args ?? {}),
      });
    } catch (e) {
      throw new ApiError('network', `Cannot reach the Lacuna server${this.base ? ` at ${this.base}` : ''}: ${errorText(e)}`);
    }
    const text = await res.text();
    if (!res.ok) {
      const body = parseJson(text);
      throw asApiError(body) ?? new ApiError('bad_response', `The server answered ${res.status} ${res.statusText}: ${text.slice(0, 200)}`);
    }
    if (text.trim() === '') return undefined as T;
    const body = parseJson(text);
    if (body === undefined) throw new ApiError('bad_response', `The server's answer to ${command} is not JSON: ${text.slice(0, 200)}`);
    return body as T;
  }

  subscribe(event: string, handler: (payload: unknown) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(handler);
    this.open();
    return () => {
      const s = this.handlers.get(event);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) this.handlers.delete(event);
      // The stream stays open only while someone listens.
      if (this.handlers.size === 0) this.close();
    };
  }

  imageUrl(imageId: number): string {
    return this.mediaUrl('image', imageId);
  }

  thumbUrl(imageId: number): string {
    return this.mediaUrl('thumb', imageId);
  }

  private mediaUrl(kind: 'image' | 'thumb', imageId: number): string {
    const g = this.projectGeneration > 0 ? `&project=${this.projectGeneration}` : '';
    return `${this.base}/media/${kind}/${imageId}?token=${encodeURIComponent(this.token)}${g}`;
  }

  /** One stream for all subscriptions; EventSource reconnects by itself after drops. */
  private open(): void {
    if (this.source) return;
    // EventSource cannot send headers, so the token rides in the query string.
    const source = this.makeEventSource(`${this.base}/api/events?token=${encodeURIComponent(this.token)}`);
    source.onmessage = (ev) => {
      const data: unknown = ev.data;
      const msg = typeof data === 'string' ? parseJson(data) : undefined;
      if (typeof msg !== 'object' || msg === null) return;
      const { event, payload } = msg as { event?: unknown; payload?: unknown };
      if (typeof event !== 'string') return;
      if (event === 'project_opened') this.projectGeneration++;
      for (const h of [...(this.handlers.get(event) ?? [])]) h(payload);
    };
    this.source = source;
  }

  private close(): void {
    this.source?.close();
    this.source = null;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** sessionStorage key of the session token. */
export const TOKEN_KEY = 'lacuna.token';

export interface TokenEnvironment {
  location: { hash: string; pathname: string; search: string };
  history: { replaceState(data: unknown, unused: string, url?: string | URL | null): void };
  storage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
}

/**
 * The session token. `lacuna serve` opens the browser at `…/#token=…`: the fragment never
 * reaches a server or a Referer header. The token moves to sessionStorage (so a reload keeps
 * working) and leaves the address bar (so it is not bookmarked, shared or left on screen).
 */
export function takeToken(env: TokenEnvironment): string | null {
  const hash = env.location.hash.replace(/^#/, '');
  const params = new URLSearchParams(hash);
  const fromHash = params.get('token');
  if (fromHash) {
    env.storage.setItem(TOKEN_KEY, fromHash);
    params.delete('token');
    const rest = params.toString();
    env.history.replaceState(null, '', `${env.location.pathname}${env.location.search}${rest ? `#${rest}` : ''}`);
    return fromHash;
  }
  return env.storage.getItem(TOKEN_KEY);
}

/** The HTTP backend of the page's own server, with the token from the URL or the session. */
export function createHttpBackend(win: Window = window): HttpBackend {
  const token = takeToken({ location: win.location, history: win.history, storage: win.sessionStorage });
  if (!token) {
    throw new ApiError(
      'invalid_input',
      'No session token: open Lacuna through the link `lacuna serve` prints (it ends in #token=…).',
    );
  }
  return new HttpBackend({ base: win.location.origin, token });
}
