/**
 * Per-API-key rate limit: a token bucket per key, in this process's memory. With N API
 * processes behind a balancer a key gets up to N times the rate; a shared store (e.g.
 * PostgreSQL or Redis) would be needed for an exact global limit.
 */
import { createMiddleware } from 'hono/factory';
import type { AuthEnv } from './auth.js';
import { problemResponse } from './problem.js';

export interface RateLimitOptions {
  /** Tokens added per second; 0 turns the limit off. */
  perSecond: number;
  /** Bucket size: the burst a key may send at once. */
  burst: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Past this many keys, full (idle) buckets are dropped: they hold nothing worth keeping. */
const PRUNE_AT = 10_000;

export function rateLimitPerKey(o: RateLimitOptions) {
  const now = o.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();
  const refill = (b: Bucket, t: number) => {
    b.tokens = Math.min(o.burst, b.tokens + ((t - b.at) / 1000) * o.perSecond);
    b.at = t;
  };
  const prune = (t: number) => {
    for (const [k, b] of buckets) {
      refill(b, t);
      if (b.tokens >= o.burst) buckets.delete(k);
    }
  };

  return createMiddleware<AuthEnv>(async (c, next) => {
    if (o.perSecond <= 0) return next();
    const key = c.get('principal').keyId;
    const t = now();
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= PRUNE_AT) prune(t);
      b = { tokens: o.burst, at: t };
      buckets.set(key, b);
    }
    refill(b, t);
    if (b.tokens < 1) {
      const waitS = Math.max(1, Math.ceil((1 - b.tokens) / o.perSecond));
      c.header('Retry-After', String(waitS));
      return problemResponse(c, {
        title: 'Too many requests',
        status: 429,
        detail: `This API key sent more than ${o.burst} requests at once or ${o.perSecond} per second for too long; retry after ${waitS} s.`,
      });
    }
    b.tokens -= 1;
    await next();
  });
}
