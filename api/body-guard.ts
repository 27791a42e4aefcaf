/**
 * Every request body passes here first: a size limit per route (413), and JSON read
 * once, parsed strictly (400 for malformed, duplicate-key, `__proto__` or too deeply
 * nested bodies) and handed to the validators from Hono's body cache. NDJSON is left to
 * the streaming reader (api/ndjson.ts), which has its own line and item limits.
 */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { InvalidInputError, PayloadTooLargeError } from '../lib/errors.js';
import { mediaType } from './content-type.js';
import { LIMITS } from './schemas.js';
import { findUnsafeJson } from './strict-json.js';

/** Bodies of every route but batch submission are small documents. */
export const SMALL_BODY_BYTES = 1024 * 1024;

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/;

export function maxBodyBytes(method: string, path: string): number {
  return method === 'POST' && /^\/v1\/batches\/?$/.test(path) ? LIMITS.maxBodyBytes : SMALL_BODY_BYTES;
}

const tooLarge = (max: number) =>
  new PayloadTooLargeError(
    max === LIMITS.maxBodyBytes
      ? `The JSON body is over ${max / 1024 / 1024} MiB; send large batches as NDJSON (Content-Type: application/x-ndjson).`
      : `The body is over ${max / 1024} KiB, the most this route accepts.`,
  );

async function readLimited(c: Context, max: number): Promise<Uint8Array> {
  const body = c.req.raw.body;
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(max);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

export const guardBodies = createMiddleware(async (c, next) => {
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
  const type = mediaType(c.req.header('Content-Type')) ?? '';
  if (type === 'application/x-ndjson') return next();
  const max = maxBodyBytes(method, c.req.path);
  const declared = Number(c.req.header('Content-Length') ?? '0');
  if (declared > max) throw tooLarge(max);
  if (!JSON_TYPE.test(type)) return next();

  const bytes = await readLimited(c, max);
  let text: string;
  let value: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    value = JSON.parse(text);
  } catch (err) {
    const why = err instanceof SyntaxError ? err.message : 'not valid UTF-8';
    throw new InvalidInputError(`The body is not valid JSON (${why}); nothing was stored.`, [{ path: 'body', message: 'not valid JSON' }]);
  }
  const unsafe = findUnsafeJson(text);
  if (unsafe) {
    const path = unsafe.path ? `body.${unsafe.path}` : 'body';
    throw new InvalidInputError(`The JSON body is refused: ${path}: ${unsafe.message}; nothing was stored.`, [{ path, message: unsafe.message }]);
  }
  // The body stream is spent: later readers get the parsed value from the cache, and
  // a fresh request for anything that reads the raw body again.
  // Hono keeps body promises in this cache under the reader's name (its type says otherwise).
  const cache = c.req.bodyCache as Record<string, Promise<unknown>>;
  cache.text = Promise.resolve(text);
  cache.json = Promise.resolve(value);
  c.req.raw = new Request(c.req.raw.url, { method, headers: c.req.raw.headers, body: bytes });
  await next();
});
