import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setHttpAllowHosts } from '../../db/tenant-settings.js';
import { createHarness, type Harness, type TestTenant } from '../support/harness.js';

let h: Harness;
let allowed: TestTenant;
let stranger: TestTenant;
let server: Server;
let base: string;
const hits = new Map<string, number>();
const closedEarly = new Set<string>();

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number, body: string) => void;
const routes: Record<string, Handler> = {
  '/ok': (_q, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"', 'set-cookie': 'session=secret', 'x-internal': 'nope' });
    res.end('hello');
  },
  '/echo': (req, res, _n, body) => {
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ method: req.method, contentType: req.headers['content-type'], body }));
  },
  '/big': (_q, res) => res.end('x'.repeat(10_000)),
  '/redirect': (_q, res) => res.writeHead(302, { location: '/ok' }).end(),
  '/redirect-metadata': (_q, res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
  '/flaky': (_q, res, n) => (n === 1 ? res.writeHead(503, { 'retry-after': '1' }).end('busy') : res.end('recovered')),
  '/rate': (_q, res, n) =>
    n === 1 ? res.writeHead(429, { 'retry-after': new Date(Date.now() + 1_000).toUTCString() }).end() : res.end('ok now'),
  '/always-500': (_q, res) => res.writeHead(500).end('broken'),
  '/missing': (_q, res) => res.writeHead(404).end('no such thing'),
  '/slow': () => {}, // never answers
};

beforeAll(async () => {
  h = await createHarness();
  allowed = await h.tenant('allowed');
  stranger = await h.tenant('stranger');
  await setHttpAllowHosts(h.sql, allowed.id, ['127.0.0.1']);
  server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    req.on('close', () => {
      if (!res.writableEnded) closedEarly.add(path);
    });
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => (routes[path] ?? ((_q, r) => r.writeHead(404).end()))(req, res, n, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await h?.close();
});

interface JobBody {
  index: number;
  status: string;
  attempts: number;
  output: Record<string, unknown> | null;
  lastError: { type: string; message: string } | null;
}

async function run(key: string, inputs: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  const { id, status, body } = await h.submit(key, { type: 'http.request', items: inputs.map((input) => ({ input })), ...extra });
  expect(status, JSON.stringify(body)).toBe(202);
  const batch = await h.waitForBatch(key, id);
  const res = await h.request('GET', `/v1/batches/${id}/jobs?limit=100`, { key });
  return { batch, jobs: ((await res.json()) as { items: JobBody[] }).items };
}

describe('http.request', () => {
  it('succeeds on 2xx with status, a subset of headers and a body excerpt; follows a same-host redirect', async () => {
    const { batch, jobs } = await run(allowed.key, [
      { url: `${base}/ok` },
      { method: 'POST', url: `${base}/echo`, body: { hello: 'world' } },
      { url: `${base}/big` },
      { url: `${base}/redirect` },
    ]);
    expect(batch.status).toBe('completed');
    const [ok, echo, big, redirected] = jobs.map((j) => j.output!);
    expect(ok).toMatchObject({ status: 200, body: 'hello', bodyTruncated: false, headers: { 'content-type': 'text/plain', etag: '"v1"' } });
    expect(ok!.headers).not.toHaveProperty('set-cookie');
    expect(ok!.headers).not.toHaveProperty('x-internal');
    expect(JSON.parse(echo!.body as string)).toEqual({ method: 'POST', contentType: 'application/json', body: '{"hello":"world"}' });
    expect(echo!.status).toBe(201);
    expect(big).toMatchObject({ bodyTruncated: true });
    expect((big!.body as string).length).toBe(4_096);
    expect(redirected).toMatchObject({ status: 200, body: 'hello', url: `${base}/ok`, redirects: [`${base}/ok`] });
  });

  it('retries 503 and 429 honouring Retry-After (seconds and HTTP date), then succeeds', async () => {
    // The policy's own backoff is set to ten minutes: only an honoured Retry-After lets
    // the batch end within the harness's wait limit.
    const { batch, jobs } = await run(allowed.key, [{ url: `${base}/flaky` }, { url: `${base}/rate` }], {
      maxRetries: 2,
      backoff: { initialIntervalMs: 600_000, maximumIntervalMs: 600_000 },
    });
    expect(batch.status).toBe('completed');
    for (const j of jobs) {
      expect(j.attempts).toBe(2);
      expect(j.lastError?.type).toBe('TransientJobError');
    }
    expect(jobs[0]!.output).toMatchObject({ status: 200, body: 'recovered' });
    expect(hits.get('/flaky')).toBe(2);
    expect(hits.get('/rate')).toBe(2);
  });

  it('fails a job that keeps answering 5xx once its retries are spent', async () => {
    const { batch, jobs } = await run(allowed.key, [{ url: `${base}/always-500` }], { maxRetries: 1, backoff: { initialIntervalMs: 50 } });
    expect(batch.status).toBe('failed');
    expect(jobs[0]).toMatchObject({ status: 'failed', attempts: 2, lastError: { type: 'TransientJobError' } });
    expect(jobs[0]!.lastError!.message).toContain('500');
    expect(hits.get('/always-500')).toBe(2);
  });

  it('fails other 4xx at once, without retry', async () => {
    const { jobs } = await run(allowed.key, [{ url: `${base}/missing` }], { maxRetries: 3 });
    expect(jobs[0]).toMatchObject({ status: 'failed', attempts: 1, lastError: { type: 'HttpStatusError' } });
    expect(jobs[0]!.lastError!.message).toMatch(/404.*no such thing/);
    expect(hits.get('/missing')).toBe(1);
  });

  it('enforces timeoutMs by aborting the request', async () => {
    const { jobs } = await run(allowed.key, [{ url: `${base}/slow`, timeoutMs: 300 }], { maxRetries: 0 });
    expect(jobs[0]).toMatchObject({ status: 'failed', attempts: 1, lastError: { type: 'HttpTimeoutError' } });
    // The server sees the connection go away before it ever answered.
    for (let i = 0; i < 100 && !closedEarly.has('/slow'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(closedEarly.has('/slow')).toBe(true);
  });

  it('refuses a loopback destination for a tenant whose allow-list does not name it, without sending anything', async () => {
    const before = hits.get('/ok') ?? 0;
    const { batch, jobs } = await run(stranger.key, [{ url: `${base}/ok` }, { url: 'http://localhost:9/' }, { url: 'http://169.254.169.254/latest/meta-data/' }], {
      maxRetries: 3,
    });
    expect(batch.status).toBe('failed');
    for (const j of jobs) expect(j).toMatchObject({ status: 'failed', attempts: 1, lastError: { type: 'HttpDestinationRefused' } });
    expect(jobs[0]!.lastError!.message).toContain('127.0.0.1: loopback');
    expect(jobs[2]!.lastError!.message).toContain('cloud metadata');
    expect(hits.get('/ok') ?? 0).toBe(before);
  });

  it('checks every redirect target: an allowed host cannot bounce the request to the metadata address', async () => {
    const { jobs } = await run(allowed.key, [{ url: `${base}/redirect-metadata` }]);
    expect(jobs[0]).toMatchObject({ status: 'failed', attempts: 1, lastError: { type: 'HttpDestinationRefused' } });
    expect(jobs[0]!.lastError!.message).toContain('169.254.169.254');
  });

  it('rejects invalid inputs at submit', async () => {
    const { status, body } = await h.submit(allowed.key, {
      type: 'http.request',
      items: [{ input: { url: 'ftp://example.com/' } }, { input: { url: `${base}/ok`, body: 'x' } }],
    });
    expect(status).toBe(400);
    const paths = (body.errors as { path: string }[]).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['body.items.0.input.url', 'body.items.1.input.body']));
  });
});
