import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { defaultRegistry } from '../../job-types/registry.js';
import { createLogger } from '../../lib/logger.js';
import { LIMITS } from '../../api/schemas.js';
import { createHarness, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
let t: TestTenant;
beforeAll(async () => {
  h = await createHarness({ worker: false });
  t = await h.tenant();
});
afterAll(() => h?.close());

const counts = async () =>
  (await h.sql<{ batches: number; jobs: number }[]>`
    select (select count(*)::int from batches) as batches, (select count(*)::int from jobs) as jobs
  `)[0]!;

async function problem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  return (await res.json()) as { detail: string; errors?: { path: string; message: string }[] };
}

const postRaw = (path: string, body: string | Uint8Array | ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
  h.app.request(path, {
    method: 'POST',
    headers: { Authorization: `Bearer ${t.key}`, 'Content-Type': 'application/json', ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);

describe('body size and item count', () => {
  it('answers 413 for a declared or streamed body over the route’s limit, and stores nothing', async () => {
    const before = await counts();
    const declared = await problem(await postRaw('/v1/batches', '{}', { 'Content-Length': String(LIMITS.maxBodyBytes + 1) }), 413);
    expect(declared.detail).toMatch(/NDJSON/);
    // No Content-Length: the limit is counted while reading.
    const chunk = new TextEncoder().encode(`"${'x'.repeat(64 * 1024)}",`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent++ === 0) ctl.enqueue(new TextEncoder().encode('{"scope":['));
        else if (sent < 40) ctl.enqueue(chunk);
        else ctl.close();
      },
    });
    await problem(await postRaw('/v1/consolidations', stream), 413);
    expect(await counts()).toEqual(before);
  });

  it('answers 400 naming body.items for one item more than the limit', async () => {
    const before = await counts();
    const items = Array.from({ length: LIMITS.maxItems + 1 }, () => ({ input: { ms: 0 } }));
    const p = await problem(await postRaw('/v1/batches', JSON.stringify({ type: 'sleep', items })), 400);
    expect(p.errors?.map((e) => e.path)).toContain('body.items');
    expect(await counts()).toEqual(before);
  });
});

describe('strict JSON', () => {
  it.each([
    ['a duplicate key', '{"type":"sleep","type":"sleep","items":[{"input":{"ms":0}}]}', 'body.type'],
    ['a duplicate key inside an input', '{"type":"sleep","items":[{"input":{"ms":0,"ms":1}}]}', 'body.items.0.input.ms'],
    ['__proto__', '{"type":"sleep","items":[{"input":{"ms":0,"__proto__":{"admin":true}}}]}', 'body.items.0.input.__proto__'],
    ['escaped __proto__', '{"type":"sleep","items":[{"input":{"\\u005f_proto__":{}}}]}', 'body.items.0.input.__proto__'],
    ['constructor.prototype', '{"type":"sleep","items":[{"input":{"constructor":{"prototype":{}}}}]}', 'body.items.0.input.constructor.prototype'],
    ['malformed JSON', '{"type":"sleep",', 'body'],
    ['invalid UTF-8', Uint8Array.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), 'body'],
  ])('refuses %s with 400 and stores nothing', async (_what, body, path) => {
    const before = await counts();
    const p = await problem(await postRaw('/v1/batches', body), 400);
    expect(p.errors?.[0]?.path).toBe(path);
    expect(await counts()).toEqual(before);
  });

  it('refuses nesting deeper than the limit', async () => {
    const deep = `{"type":"sleep","items":[{"input":${'['.repeat(100)}${']'.repeat(100)}}]}`;
    const p = await problem(await postRaw('/v1/batches', deep), 400);
    expect(p.detail).toMatch(/deeper/);
  });
});

describe('rate limit per API key', () => {
  it('answers 429 with Retry-After once a key’s bucket is empty; other keys are unaffected', async () => {
    let now = 0;
    const app = createApp({
      sql: h.sql,
      temporal: h.temporal,
      registry: defaultRegistry(),
      log: createLogger('silent', 'test'),
      rateLimit: { perSecond: 2, burst: 3, now: () => now },
    });
    const other = await h.tenant();
    const get = (key: string) => app.request('/v1/job-types', { headers: { Authorization: `Bearer ${key}` } });
    for (let i = 0; i < 3; i++) expect((await get(t.key)).status).toBe(200);
    const limited = await get(t.key);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.headers.get('content-type')).toBe('application/problem+json');
    expect((await get(other.key)).status).toBe(200);
    now += 500; // one token back
    expect((await get(t.key)).status).toBe(200);
    expect((await get(t.key)).status).toBe(429);
  });
});
