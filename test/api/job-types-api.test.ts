import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
let t: TestTenant;
beforeAll(async () => {
  h = await createHarness({ worker: false });
  t = await h.tenant();
});
afterAll(() => h?.close());

interface JobTypeItem {
  name: string;
  description: string;
  inputSchema: { type: string; properties: Record<string, { type?: string }>; required?: string[] };
  policy: { mode: string; maxRetries: number; nonRetryableErrorTypes: string[] };
}

describe('GET /v1/job-types', () => {
  it('lists every registered type with its input JSON Schema and policy', async () => {
    const res = await h.request('GET', '/v1/job-types', { key: t.key });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: JobTypeItem[] };
    expect(items.map((i) => i.name)).toEqual(['document.analyze', 'http.request', 'sleep']);
    const http = items.find((i) => i.name === 'http.request')!;
    expect(http.inputSchema.type).toBe('object');
    expect(http.inputSchema.required).toEqual(['url']);
    expect(Object.keys(http.inputSchema.properties)).toEqual(expect.arrayContaining(['method', 'url', 'headers', 'body', 'timeoutMs']));
    expect(http.policy).toMatchObject({ mode: 'activity', nonRetryableErrorTypes: ['HttpStatusError', 'HttpDestinationRefused'] });
    const sleep = items.find((i) => i.name === 'sleep')!;
    expect(sleep.inputSchema.properties.ms?.type).toBe('integer');
    expect(sleep.inputSchema.required).toEqual(['ms']);
  });

  it('needs an API key', async () => {
    expect((await h.request('GET', '/v1/job-types')).status).toBe(401);
  });
});
