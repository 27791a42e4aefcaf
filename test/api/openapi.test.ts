import { afterAll, beforeAll, expect, it } from 'vitest';
import { openApiPath } from '../../api/openapi.js';
import { createHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { parameters: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>;
}

const served = () => {
  const set = new Set<string>();
  for (const r of h.app.routes) if (r.method !== 'ALL') set.add(`${r.method.toLowerCase()} ${openApiPath(r.path)}`);
  return set;
};

it('documents every route the app serves, and only those', async () => {
  const res = await h.request('GET', '/openapi.json');
  expect(res.status).toBe(200);
  const doc = (await res.json()) as Doc;
  expect(doc.openapi).toBe('3.1.0');
  const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
  expect([...served()].filter((r) => !documented.has(r)), 'routes missing from the OpenAPI document').toEqual([]);
  expect([...documented].filter((r) => !served().has(r)), 'documented routes the app does not serve').toEqual([]);
});

it('describes bodies, path and query parameters from the zod schemas the routes validate', async () => {
  const doc = (await (await h.request('GET', '/openapi.json')).json()) as Doc;
  const submit = doc.paths['/v1/batches']!.post!;
  const body = submit.requestBody!.content['application/json']!.schema as { required: string[]; properties: Record<string, { maxItems?: number }> };
  expect(body.required).toEqual(expect.arrayContaining(['type', 'items']));
  expect(body.properties.items!.maxItems).toBe(100_000);
  expect(submit.requestBody!.content['application/x-ndjson']).toBeDefined();
  const jobs = doc.paths['/v1/batches/{id}/jobs']!.get!;
  expect(jobs.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(['path:id', 'query:status', 'query:limit', 'query:cursor']);
  expect(doc.paths['/v1/tenants/{id}/keys/{keyId}']!.delete!.parameters.map((p) => p.name)).toEqual(['id', 'keyId']);
});

it('serves the interactive docs and their assets from the npm package, no CDN', async () => {
  const page = await h.request('GET', '/docs');
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).not.toMatch(/https?:\/\//);
  for (const asset of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
    const res = await h.request('GET', asset[1]!);
    expect(res.status, asset[1]).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
  }
  expect((await h.request('GET', '/docs/package.json')).status).toBe(404);
  expect((await h.request('GET', '/docs/__proto__')).status).toBe(404);
});
