/** Reading just enough of an HTTP answer: a few headers, a body excerpt, Retry-After. */

/** Headers worth keeping in a job's output; the rest is noise or may carry secrets (set-cookie). */
const KEPT_HEADERS = [
  'cache-control',
  'content-length',
  'content-type',
  'date',
  'etag',
  'last-modified',
  'location',
  'retry-after',
  'x-request-id',
] as const;

export function subsetHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** At most `maxBytes` of the body as text; the rest is not downloaded. */
export async function readExcerpt(res: Response, maxBytes: number): Promise<{ text: string; bytes: number; truncated: boolean }> {
  if (!res.body) return { text: '', bytes: 0, truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      truncated = true;
      await reader.cancel();
      break;
    }
  }
  const all = Buffer.concat(chunks).subarray(0, maxBytes);
  // A cut may split a UTF-8 sequence; the decoder replaces the broken tail.
  return { text: new TextDecoder().decode(all), bytes: Math.min(bytes, maxBytes), truncated };
}

/** Longest Retry-After honoured; a server asking for more waits this long. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110
 * §10.2.3). Undefined when absent or unreadable, so the policy's backoff applies.
 */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1_000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}
