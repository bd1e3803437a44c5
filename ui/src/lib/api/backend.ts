// The one interface views use to reach the Rust side, whichever transport carries it.

import type { ErrorCode } from './types';

export interface Backend {
  /** Calls a `lacuna-api` use case by name; rejects with ApiError. */
  call<T>(command: string, args?: Record<string, unknown>): Promise<T>;
  /** Listens to a backend event; returns the function that stops listening. */
  subscribe(event: string, handler: (payload: unknown) => void): () => void;
  /** URL of an image at full size (EXIF orientation applied by the browser). */
  imageUrl(imageId: number): string;
  /** URL of an image's thumbnail (about 256 px on the long edge). */
  thumbUrl(imageId: number): string;
}

/**
 * Codes the client raises itself, beside the backend's `ErrorCode`s: the backend could not
 * be reached, or answered with something that is not an error body.
 */
export type ClientErrorCode = 'network' | 'bad_response';

/** A failed call: the backend's stable code (branch on this) and its plain-language message. */
export class ApiError extends Error {
  readonly code: string;

  constructor(code: ErrorCode | ClientErrorCode | (string & {}), message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/** `{code, message}` as the backend serialises `ApiError`, or null for anything else. */
export function asApiError(value: unknown): ApiError | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { code?: unknown; message?: unknown };
  if (typeof v.code !== 'string' || typeof v.message !== 'string') return null;
  return new ApiError(v.code, v.message);
}
