/**
 * Property-based fuzzing of every route the app serves (read from `app.routes`, so a
 * new route is fuzzed without touching this file): random path parameters, query
 * strings, bodies, content types and credentials. Whatever comes in, the answer is
 * never a 5xx (but the 503 of a control update no worker applies), always arrives, and a rejected request leaves the database as it was.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHarness, TEST_ADMIN_TOKEN, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
let alice: TestTenant;
let bob: TestTenant;
let aliceBatch: string;

beforeAll(async () => {
  // No worker: nothing changes the database behind the requests' backs. Control
  // updates then wait for a workflow that never runs; they give up quickly here.
  h = await createHarness({ worker: false, controlTimeoutMs: 300 });
  alice = await h.tenant('alice');
  bob = await h.tenant('bob');
  aliceBatch = (await h.submit(alice.key, { type: 'sleep', items: [{ input: { ms: 0 } }] })).id;
});
afterAll(() => h?.close());

const TABLES = ['tenants', 'api_keys', 'tenant_settings', 'batches', 'jobs', 'consolidations', 'consolidation_schedules', 'idempotency_keys'] as const;

/** A digest of every row a request could write. */
async function fingerprint(): Promise<string> {
  const parts = await Promise.all(
    TABLES.map(async (t) => {
      const [row] = await h.sql<{ d: string }[]>`
        select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as d
        from ${h.sql(t)} x
      `;
      return row!.d;
    }),
  );
  return parts.join(':');
}

const routes = () => {
  const seen = new Map<string, { method: string; path: string }>();
  for (const r of h.app.routes) if (r.method !== 'ALL') seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  return [...seen.values()];
};

const segment = fc.oneof(
  fc.uuid(),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom('..', '%00', '%zz', 'nightly', '0', '-1', 'null', '__proto__', '3b241101-e2bb-4255-8caf-4136c566a962'),
  fc.constant('ALICE_BATCH'),
);

const queryValue = fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constantFrom('0', '-1', '1e9', 'NaN', 'failed', 'manual', '2026-01-01'));
const query = fc.dictionary(
  fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('limit', 'cursor', 'status', 'type', 'trigger', 'from', 'to', 'jobType', 'mode')),
  fc.oneof(queryValue, fc.array(queryValue, { minLength: 2, maxLength: 3 })),
  { maxKeys: 4 },
);

const plausibleBody = fc.record(
  {
    type: fc.oneof(fc.constantFrom('sleep', 'http.request', 'document.analyze'), fc.string({ maxLength: 10 })),
    items: fc.array(fc.record({ input: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ ms: fc.integer({ min: -5, max: 5 }) })) }), { maxLength: 3 }),
    name: fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('acme', 'Acme', '')),
    hosts: fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
    cron: fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('0 3 * * *', '* * * * * * *')),
    scope: fc.jsonValue({ maxDepth: 2 }),
    consolidationThreshold: fc.oneof(fc.integer(), fc.constant(null)),
    start: fc.string({ maxLength: 25 }),
    end: fc.string({ maxLength: 25 }),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.constant(undefined),
  plausibleBody.map((b) => JSON.stringify(b)),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{"a":1,"a":2}', '{"__proto__":{"x":1}}', '[[[[[[[[[[[[', '\u0000', '{"input":{}}\n{"input":{"ms":1}}\n'),
);

const contentType = fc.constantFrom(undefined, 'application/json', 'application/x-ndjson', 'text/plain', 'application/merge-patch+json', 'multipart/form-data');
/** Mostly the credential the route takes, so most requests get past authentication. */
const credentialFor = (path: string) =>
  fc.oneof(
    { arbitrary: fc.constant(path.startsWith('/v1/tenants') ? 'admin' : 'alice'), weight: 6 },
    { arbitrary: fc.constantFrom('alice', 'bob', 'admin', 'none', 'garbage'), weight: 2 },
  );

async function firstChunk(res: Response): Promise<string> {
  const reader = res.body!.getReader();
  const { value } = await reader.read();
  await reader.cancel();
  return new TextDecoder().decode(value);
}

it('no route answers 5xx, hangs, or writes on a rejected request', async () => {
  const list = routes();
  expect(list.length).toBeGreaterThan(10);
  let state = await fingerprint();
  const statuses = new Map<number, number>();

  for (const route of list) {
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 3, maxLength: 3 }), query, body, contentType, credentialFor(route.path), async (segs, q, b, type, who) => {
        let n = 0;
        const path = route.path.replace(/:[A-Za-z]+/g, () => {
          const s = segs[n++ % segs.length]!;
          return s === 'ALICE_BATCH' ? aliceBatch : s;
        });
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(q)) for (const x of Array.isArray(v) ? v : [v]) qs.append(k, x);
        const headers: Record<string, string> = {};
        if (type) headers['Content-Type'] = type;
        const token = ({ alice: alice.key, bob: bob.key, admin: TEST_ADMIN_TOKEN, none: undefined, garbage: 'bw_00000000_x' } as Record<string, string | undefined>)[who];
        if (token) headers.Authorization = `Bearer ${token}`;
        const url = `${path}${qs.size ? `?${qs}` : ''}`;

        let timer: NodeJS.Timeout | undefined;
        const res = await Promise.race([
          h.app.request(url, { method: route.method, headers, ...(b !== undefined && route.method !== 'GET' ? { body: b } : {}) }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${route.method} ${url} hung`)), 15_000);
          }),
        ]).finally(() => clearTimeout(timer));
        // An event stream lasts until its batch ends (never, here): its first event is the answer.
        const text = res.headers.get('content-type')?.startsWith('text/event-stream') ? await firstChunk(res) : await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        // 503 is the one deliberate 5xx: a control update the workflow (no worker here) did not apply in time.
        const deliberate = res.status === 503 && text.includes('/problems/service-unavailable') && route.path.startsWith('/v1/batches/:id');
        if (!deliberate) expect(res.status, `${route.method} ${url} → ${res.status} ${text}`).toBeLessThan(500);
        const now = await fingerprint();
        if (res.status >= 400) expect(now, `${route.method} ${url} → ${res.status} wrote to the database`).toBe(state);
        state = now;
      }),
      { numRuns: 50 },
    );
  }
  // The fuzzer reached past validation at least sometimes, or it tested little.
  expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
});
