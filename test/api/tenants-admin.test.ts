import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { getJobTenantSettings } from '../../db/tenant-settings.js';
import { defaultRegistry } from '../../job-types/registry.js';
import { createLogger } from '../../lib/logger.js';
import { createHarness, TEST_ADMIN_TOKEN, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ worker: false });
});
afterAll(() => h?.close());

const admin = (method: string, path: string, json?: unknown, token = TEST_ADMIN_TOKEN) =>
  h.request(method, path, { headers: { Authorization: `Bearer ${token}` }, ...(json !== undefined ? { json } : {}) });

interface CreatedTenant {
  id: string;
  name: string;
  httpAllowHosts: string[];
  apiKey: { id: string; prefix: string; key: string };
}

async function createTenant(name: string, extra: Record<string, unknown> = {}): Promise<CreatedTenant> {
  const res = await admin('POST', '/v1/tenants', { name, ...extra });
  expect(res.status).toBe(201);
  return (await res.json()) as CreatedTenant;
}

const asTenant = (key: string) => h.request('GET', '/v1/job-types', { key });

describe('admin authentication', () => {
  it('answers 503 when no admin token is configured', async () => {
    const app = createApp({ sql: h.sql, temporal: h.temporal, registry: defaultRegistry(), log: createLogger('silent', 'test') });
    const res = await app.request('/v1/tenants', { headers: { Authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toContain('ADMIN_TOKEN');
  });

  it('answers 401 without the token, with a wrong one, and with a tenant API key', async () => {
    const t = await h.tenant();
    expect((await h.request('GET', '/v1/tenants')).status).toBe(401);
    expect((await admin('GET', '/v1/tenants', undefined, `${TEST_ADMIN_TOKEN}x`)).status).toBe(401);
    expect((await admin('GET', '/v1/tenants', undefined, 'short')).status).toBe(401);
    expect((await h.request('GET', '/v1/tenants', { key: t.key })).status).toBe(401);
    expect((await h.request('POST', '/v1/tenants', { key: t.key, json: { name: 'sneaky' } })).status).toBe(401);
    expect((await h.sql`select 1 from tenants where name = 'sneaky'`).length).toBe(0);
  });
});

describe('tenants and keys', () => {
  it('creates a tenant with a first key that is shown once and stored hashed', async () => {
    const created = await createTenant('acme', { httpAllowHosts: ['Intranet.Example', '*.corp.example'] });
    expect(created.apiKey.key.startsWith(`${created.apiKey.prefix}_`)).toBe(true);
    expect(created.httpAllowHosts).toEqual(['*.corp.example', 'intranet.example']);
    expect((await asTenant(created.apiKey.key)).status).toBe(200);

    const [row] = await h.sql<{ keyHash: Buffer; prefix: string }[]>`
      select key_hash, prefix from api_keys where id = ${created.apiKey.id}
    `;
    expect(row!.prefix).toBe(created.apiKey.prefix);
    expect(Buffer.compare(row!.keyHash, createHash('sha256').update(created.apiKey.key).digest())).toBe(0);
    const leaked = await h.sql`select 1 from api_keys where position(${created.apiKey.key} in name || prefix) > 0`;
    expect(leaked.length).toBe(0);

    const detail = await admin('GET', `/v1/tenants/${created.id}`);
    const body = JSON.stringify(await detail.json());
    expect(body).toContain(created.apiKey.prefix);
    expect(body).not.toContain(created.apiKey.key);
  });

  it('rejects a taken name with 409 and a bad one with 400', async () => {
    await createTenant('dupe');
    expect((await admin('POST', '/v1/tenants', { name: 'dupe' })).status).toBe(409);
    const bad = await admin('POST', '/v1/tenants', { name: 'Not A Name' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('body.name');
  });

  it('revokes a key with immediate effect, leaving the tenant’s other keys working', async () => {
    const t = await createTenant('revoker');
    const res = await admin('POST', `/v1/tenants/${t.id}/keys`, { name: 'ci' });
    expect(res.status).toBe(201);
    const second = (await res.json()) as { id: string; key: string; prefix: string };
    expect((await asTenant(second.key)).status).toBe(200);

    expect((await admin('DELETE', `/v1/tenants/${t.id}/keys/${t.apiKey.id}`)).status).toBe(204);
    expect((await asTenant(t.apiKey.key)).status).toBe(401);
    expect((await asTenant(second.key)).status).toBe(200);
    // Idempotent, and scoped to the tenant named in the path.
    expect((await admin('DELETE', `/v1/tenants/${t.id}/keys/${t.apiKey.id}`)).status).toBe(204);
    const other = await createTenant('bystander');
    expect((await admin('DELETE', `/v1/tenants/${other.id}/keys/${second.id}`)).status).toBe(404);
    expect((await asTenant(second.key)).status).toBe(200);

    const keys = ((await (await admin('GET', `/v1/tenants/${t.id}`)).json()) as { keys: { id: string; revokedAt: string | null }[] }).keys;
    expect(keys.map((k) => [k.id, k.revokedAt === null])).toEqual([
      [t.apiKey.id, false],
      [second.id, true],
    ]);
  });

  it('answers 404 for an unknown tenant and 400 for a malformed id', async () => {
    const unknown = '3b241101-e2bb-4255-8caf-4136c566a962';
    expect((await admin('GET', `/v1/tenants/${unknown}`)).status).toBe(404);
    expect((await admin('POST', `/v1/tenants/${unknown}/keys`, {})).status).toBe(404);
    expect((await admin('PUT', `/v1/tenants/${unknown}/http-allow-hosts`, { hosts: [] })).status).toBe(404);
    expect((await admin('GET', '/v1/tenants/nope')).status).toBe(400);
  });

  it('sets the http.request allow-list', async () => {
    const t = await createTenant('allowlisted');
    const res = await admin('PUT', `/v1/tenants/${t.id}/http-allow-hosts`, { hosts: ['B.example', 'a.example', 'b.example', '127.0.0.1'] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ tenantId: t.id, httpAllowHosts: ['127.0.0.1', 'a.example', 'b.example'] });
    expect((await getJobTenantSettings(h.sql, t.id)).httpAllowHosts).toEqual(['127.0.0.1', 'a.example', 'b.example']);
    expect((await admin('PUT', `/v1/tenants/${t.id}/http-allow-hosts`, { hosts: ['http://x.example/'] })).status).toBe(400);
    expect((await getJobTenantSettings(h.sql, t.id)).httpAllowHosts).toEqual(['127.0.0.1', 'a.example', 'b.example']);
  });

  it("sets a tenant's cap on jobs in flight, which the tenant reads and cannot change", async () => {
    const t = await h.tenant();
    const other = await h.tenant();
    const read = async () => (await (await admin('GET', `/v1/tenants/${t.id}`)).json()) as Record<string, unknown>;
    const settings = async (key: string) => (await (await h.request('GET', '/v1/settings', { key })).json()) as Record<string, unknown>;
    // A tenant without a settings row: the default (TENANT_MAX_JOBS_IN_FLIGHT) applies.
    expect(await read()).toMatchObject({ maxJobsInFlight: null, effectiveMaxJobsInFlight: 1000, jobsInFlight: 0 });
    expect(await settings(t.key)).toMatchObject({ maxJobsInFlight: 1000 });

    const set = await admin('PATCH', `/v1/tenants/${t.id}`, { maxJobsInFlight: 25 });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ tenantId: t.id, maxJobsInFlight: 25, effectiveMaxJobsInFlight: 25, jobsInFlight: 0 });
    expect(await read()).toMatchObject({ maxJobsInFlight: 25, effectiveMaxJobsInFlight: 25 });
    expect(await settings(t.key)).toMatchObject({ maxJobsInFlight: 25 });
    expect(await settings(other.key)).toMatchObject({ maxJobsInFlight: 1000 });

    for (const body of [{ maxJobsInFlight: 0 }, { maxJobsInFlight: 1.5 }, { maxJobsInFlight: '5' }, {}, { maxJobsInFlight: 5, extra: 1 }]) {
      const res = await admin('PATCH', `/v1/tenants/${t.id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await admin('PATCH', '/v1/tenants/3b241101-e2bb-4255-8caf-4136c566a962', { maxJobsInFlight: 5 })).status).toBe(404);
    expect((await h.request('PATCH', `/v1/tenants/${t.id}`, { key: t.key, json: { maxJobsInFlight: 5000 } })).status).toBe(401);
    expect((await h.request('PATCH', '/v1/settings', { key: t.key, json: { maxJobsInFlight: 5000 } })).status).toBe(400);
    expect(await settings(t.key)).toMatchObject({ maxJobsInFlight: 25 });

    const cleared = await admin('PATCH', `/v1/tenants/${t.id}`, { maxJobsInFlight: null });
    expect(await cleared.json()).toMatchObject({ maxJobsInFlight: null, effectiveMaxJobsInFlight: 1000 });
    expect(await settings(t.key)).toMatchObject({ maxJobsInFlight: 1000 });
  });

  it('lists tenants by name, page by page', async () => {
    for (const n of ['list-a', 'list-b', 'list-c']) await createTenant(n);
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await admin('GET', `/v1/tenants?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      const page = (await res.json()) as { items: { name: string; activeKeys: number }[]; nextCursor: string | null };
      names.push(...page.items.map((i) => i.name));
      cursor = page.nextCursor;
    } while (cursor);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['list-a', 'list-b', 'list-c']));
  });
});
