/**
 * http.request: one HTTP call with Node's fetch (undici). 2xx succeeds; 408, 429 and
 * 5xx are retried (honouring Retry-After); other 4xx fail for good. Every hop, the
 * first and each redirect, passes the SSRF guard and connects only to the addresses
 * the guard vetted.
 */
import { Agent } from 'undici';
import { z } from 'zod';
import { HttpDestinationRefused, pinnedLookup, vetDestination } from './http-guard.js';
import { defineJobType, FatalJobError, TransientJobError } from './job-type.js';
import { readExcerpt, retryAfterMs, subsetHeaders } from './http-response.js';

/** A 4xx answer other than 408/429: asking again would get the same answer. */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
}

/** The request did not finish within `timeoutMs`; it was aborted, and may be retried. */
export class HttpTimeoutError extends Error {
  override readonly name = 'HttpTimeoutError';
}

const MAX_REDIRECTS = 5;
const MAX_TIMEOUT_MS = 120_000;
const BODY_EXCERPT_BYTES = 4_096;
const ERROR_EXCERPT_BYTES = 300;

const input = z
  .object({
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']).default('GET'),
    url: z.url({ protocol: /^https?$/, error: 'an absolute http:// or https:// URL' }),
    headers: z.record(z.string(), z.string()).optional(),
    /** A string is sent as is; any other JSON value is sent as JSON. */
    body: z.union([z.string(), z.json()]).optional(),
    timeoutMs: z.int().min(1).max(MAX_TIMEOUT_MS).default(30_000),
    followRedirects: z.boolean().default(true),
  })
  .strict()
  .refine((v) => v.body === undefined || (v.method !== 'GET' && v.method !== 'HEAD'), {
    message: 'GET and HEAD requests cannot have a body',
    path: ['body'],
  });

type Input = z.output<typeof input>;

function requestBody(v: Input): { body?: string; contentType?: string } {
  if (v.body === undefined) return {};
  if (typeof v.body === 'string') return { body: v.body };
  return { body: JSON.stringify(v.body), contentType: 'application/json' };
}

const isRedirect = (status: number) => [301, 302, 303, 307, 308].includes(status);
const isRetryable = (status: number) => status === 408 || status === 429 || status >= 500;

export const httpRequestJobType = defineJobType({
  name: 'http.request',
  description:
    'One HTTP request. 2xx succeeds (status, some headers, a body excerpt); 408, 429 and 5xx are retried honouring Retry-After; other 4xx fail without retry. Private, loopback and link-local destinations are refused unless the tenant allow-lists the host.',
  input,
  policy: {
    maxRetries: 3,
    backoff: { initialIntervalMs: 1_000, coefficient: 2, maximumIntervalMs: 60_000 },
    timeoutMs: MAX_TIMEOUT_MS + 30_000,
    heartbeatTimeoutMs: 30_000,
    nonRetryableErrorTypes: ['HttpStatusError', 'HttpDestinationRefused'],
  },
  async handler(v, ctx) {
    const allowHosts = (await ctx.tenantSettings?.())?.httpAllowHosts ?? [];
    const timeout = AbortSignal.timeout(v.timeoutMs);
    const signal = AbortSignal.any([ctx.signal, timeout]);
    const { body, contentType } = requestBody(v);
    const headers = new Headers(v.headers);
    if (contentType && !headers.has('content-type')) headers.set('content-type', contentType);

    let url = new URL(v.url);
    let method: string = v.method;
    let sendBody = body;
    const redirects: string[] = [];
    for (;;) {
      const addresses = await vetDestination(url, allowHosts);
      const dispatcher = new Agent({ connect: { lookup: pinnedLookup(addresses) } });
      try {
        const res = await fetch(url, { method, headers, body: sendBody, redirect: 'manual', signal, dispatcher });
        const location = res.headers.get('location');
        if (isRedirect(res.status) && location && v.followRedirects) {
          await res.body?.cancel();
          if (redirects.length >= MAX_REDIRECTS) throw new FatalJobError(`more than ${MAX_REDIRECTS} redirects, last to ${location}`);
          const next = new URL(location, url);
          // Credentials set for one origin must not travel to another.
          if (next.origin !== url.origin) headers.delete('authorization');
          if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
            method = method === 'HEAD' ? 'HEAD' : 'GET';
            sendBody = undefined;
            headers.delete('content-type');
          }
          url = next;
          redirects.push(url.toString());
          continue;
        }
        const where = `${method} ${url.origin}${url.pathname}`;
        if (res.ok || (isRedirect(res.status) && !v.followRedirects)) {
          const excerpt = method === 'HEAD' ? { text: '', bytes: 0, truncated: false } : await readExcerpt(res, BODY_EXCERPT_BYTES);
          return {
            status: res.status,
            statusText: res.statusText,
            url: url.toString(),
            redirects,
            headers: subsetHeaders(res.headers),
            body: excerpt.text,
            bodyTruncated: excerpt.truncated,
          };
        }
        const detail = (await readExcerpt(res, ERROR_EXCERPT_BYTES)).text.replace(/\s+/g, ' ').trim();
        const message = `${where} answered ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}`;
        if (isRetryable(res.status)) throw new TransientJobError(message, retryAfterMs(res.headers.get('retry-after')));
        throw new HttpStatusError(message);
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        if (timeout.aborted) throw new HttpTimeoutError(`${method} ${url.origin}${url.pathname} did not finish within ${v.timeoutMs} ms`);
        if (err instanceof HttpStatusError || err instanceof TransientJobError || err instanceof FatalJobError) throw err;
        if (err instanceof HttpDestinationRefused) throw err;
        const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
        throw new TransientJobError(`${method} ${url.origin}${url.pathname} failed: ${cause}`);
      } finally {
        await dispatcher.destroy().catch(() => {});
      }
    }
  },
});
