/**
 * The real `batchworks` binary (`npx batchworks …`, as users run it) as a child
 * process, against the real app served on a free port with a worker on the test's
 * task queue, including the batch-control commands (list, cancel, retry, results).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../cli/input-file.js';
import { listJobs } from '../../db/jobs.js';
import { getJobTenantSettings } from '../../db/tenant-settings.js';
import { createHarness, type Harness } from '../support/harness.js';
import { serveApp } from '../support/serve.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let h: Harness;
let api: Awaited<ReturnType<typeof serveApp>>;
let dir: string;
let key: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['--no-install', 'batchworks', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BATCHWORKS_URL: api.url, DATABASE_URL: h.databaseUrl, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr: stderr.replace(/^npm warn .*\n/gm, '') }));
  });
}

beforeAll(async () => {
  h = await createHarness();
  api = await serveApp(h);
  dir = await mkdtemp(path.join(os.tmpdir(), 'batchworks-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await api?.close();
  await h?.close();
});

describe('batchworks CLI', () => {
  it('tenants create: a tenant, its key and its http allow-list, in the database', async () => {
    const r = await cli(['tenants', 'create', 'cli-tenant', '--allow-host', '127.0.0.1', '--allow-host', 'Intranet.Example', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const created = JSON.parse(r.stdout) as { id: string; name: string; apiKey: string; httpAllowHosts: string[] };
    expect(created).toMatchObject({ name: 'cli-tenant', httpAllowHosts: ['127.0.0.1', 'intranet.example'] });
    expect(created.apiKey).toMatch(/^bw_[0-9a-f]{8}_/);
    expect((await getJobTenantSettings(h.sql, created.id)).httpAllowHosts).toEqual(['127.0.0.1', 'intranet.example']);
    key = created.apiKey;
    const again = await cli(['tenants', 'create', 'cli-tenant']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists already/);
  });

  it('submit --watch follows an NDJSON batch to completion with a progress line, exit 0', async () => {
    const file = path.join(dir, 'jobs.ndjson');
    const lines = Array.from({ length: 12 }, (_, i) => JSON.stringify({ ms: 150, failTimes: i % 4 === 0 ? 1 : 0 }));
    await writeFile(file, `${lines.join('\n')}\n`);
    const r = await cli(['submit', file, '--type', 'sleep', '--concurrency', '3', '--watch'], { BATCHWORKS_API_KEY: key });
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim().split('\n')[0]!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.stderr).toMatch(/\] \d+\/12 /);
    expect(r.stderr).toMatch(/\] 12\/12 100\.0% ok 12 failed 0 cancelled 0 completed/);
    expect(r.stderr).toContain(`batch ${id} completed: 12 succeeded`);

    const status = await cli(['status', id, '--json'], { BATCHWORKS_API_KEY: key });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ id, status: 'completed', counters: { total: 12, succeeded: 12 } });
  });

  it('submit a CSV (cells typed by the job type’s schema); a partly failed batch exits 3', async () => {
    const file = path.join(dir, 'jobs.csv');
    await writeFile(file, 'ms,fatal,failTimes\n1,false,\n2,true,\n"3",false,0\n');
    const r = await cli(['submit', file, '--type', 'sleep', '--max-retries', '0', '--watch', '--json'], { BATCHWORKS_API_KEY: key });
    expect(r.code, r.stderr).toBe(3);
    const lines = r.stdout.trim().split('\n');
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ status: 'partial', counters: { total: 3, succeeded: 2, failed: 1 } });
  });

  it('reports API errors with the problem details (exit 1) and usage mistakes (exit 2)', async () => {
    const file = path.join(dir, 'bad.ndjson');
    await writeFile(file, '{"ms":-5}\n');
    const invalid = await cli(['submit', file, '--type', 'sleep'], { BATCHWORKS_API_KEY: key });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('body.items.0.input.ms');
    const badKey = await cli(['status', '3b241101-e2bb-4255-8caf-4136c566a962'], { BATCHWORKS_API_KEY: 'bw_nope' });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/401 Unauthorized/);
    const usage = await cli(['submit', file], { BATCHWORKS_API_KEY: key });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--type/);
    expect((await cli(['frobnicate'], { BATCHWORKS_API_KEY: key })).code).toBe(2);
  });

  it('list, retry, results and cancel: the batch-control commands end to end', async () => {
    const env = { BATCHWORKS_API_KEY: key };
    const file = path.join(dir, 'retry.ndjson');
    await writeFile(file, `${[{ ms: 0 }, { ms: 0, failTimes: 1 }].map((l) => JSON.stringify(l)).join('\n')}\n`);
    const submitted = await cli(['submit', file, '--type', 'sleep', '--max-retries', '0', '--watch'], env);
    expect(submitted.code, submitted.stderr).toBe(3);
    const id = submitted.stdout.trim().split('\n')[0]!;

    const listed = await cli(['list', '--status', 'partial', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { items: { id: string }[] }).items.map((b) => b.id)).toContain(id);
    const table = await cli(['list', '--limit', '1'], env);
    expect(table.stdout.split('\t')[0]).toMatch(/^[0-9a-f-]{36}$/);

    const retried = await cli(['retry', id, '--error-type', 'TransientJobError', '--watch', '--json'], env);
    expect(retried.code, retried.stderr).toBe(0);
    expect(JSON.parse(retried.stdout.trim().split('\n').at(-1)!)).toMatchObject({ id, status: 'completed', redrives: 1 });

    const rows = await listJobs(h.sql, id, { afterSeq: -1, limit: 10 });
    const nd = await cli(['results', id], env);
    expect(nd.code, nd.stderr).toBe(0);
    expect(nd.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; attempts: number })).toMatchObject(
      rows.map((r) => ({ id: r.id, attempts: r.attempts, status: 'succeeded' })),
    );
    const csv = await cli(['results', id, '--format', 'csv'], env);
    const [header, ...records] = parseCsv(csv.stdout);
    expect(header![0]).toBe('index');
    expect(records.map((r) => [r[1], r[3]])).toEqual(rows.map((r) => [r.id, String(r.attempts)]));

    const long = path.join(dir, 'long.ndjson');
    await writeFile(long, `${JSON.stringify({ ms: 60_000 })}\n`);
    const started = await cli(['submit', long, '--type', 'sleep'], env);
    const longId = started.stdout.trim();
    const cancelled = await cli(['cancel', longId], env);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toContain(`batch ${longId}`);
    const status = await cli(['status', longId, '--watch', '--json'], env);
    expect(status.code).toBe(5);
    expect(JSON.parse(status.stdout.trim().split('\n').at(-1)!)).toMatchObject({ status: 'cancelled', counters: { cancelled: 1 } });
    const again = await cli(['cancel', id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/409/);
  });
});
