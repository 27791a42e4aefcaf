/**
 * The benchmark's system under test, all on this machine: a tuned Temporal dev server
 * (SQLite file in WAL mode), a fresh PostgreSQL database, the API over real HTTP and
 * the worker as its own process (so its memory can be measured).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../api/app.js';
import { loadConfig } from '../config.js';
import { createSql, type Sql } from '../db/client.js';
import { dropDatabase, withDatabaseName } from '../db/databases.js';
import { migrate } from '../db/migrate.js';
import { insertApiKey, insertTenant } from '../db/tenants.js';
import { defaultRegistry } from '../job-types/registry.js';
import { createLogger } from '../lib/logger.js';
import { freePort, startDevServer, type DevServer } from '../temporal/dev-server.js';
import { bundleWorkflows } from '../temporal/worker.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface System {
  apiUrl: string;
  key: string;
  tenantId: string;
  sql: Sql;
  client: Client;
  /** The dev server, for workers of the bench's own (the `floor` workload). */
  temporalAddress: string;
  workerPid(): number;
  /** CPU seconds used so far by each part of the system (Linux `/proc`). */
  cpu(): Promise<CpuSeconds>;
  stop(): Promise<void>;
}

export async function startSystem(log: (m: string) => void): Promise<System> {
  const config = loadConfig();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'batchworks-bench-'));
  const server: DevServer = await startDevServer({
    cliPath: config.temporalCliPath,
    cacheDir: config.cacheDir,
    namespace: 'default',
    port: 0,
    dbFilename: path.join(dir, 'temporal.db'),
    log,
  });
  const databaseUrl = withDatabaseName(config.databaseUrl, 'batchworks_bench');
  await dropDatabase(databaseUrl);
  await migrate(databaseUrl);
  const sql = createSql(databaseUrl, { max: 20 });
  const tenant = await insertTenant(sql, 'bench');
  const { key } = await insertApiKey(sql, tenant.id);

  const bundlePath = path.join(dir, 'workflow-bundle.js');
  await writeFile(bundlePath, (await bundleWorkflows()).code);
  const taskQueue = 'bench';
  // BENCH_CPU_PROF=<dir>: the worker writes a V8 CPU profile there when it stops (open it in
  // Chrome DevTools, or summarise it with bench/profile-summary.ts).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-interval', '250', '--cpu-prof-dir', path.resolve(process.env.BENCH_CPU_PROF)] : [];
  // BENCH_WORKER_LOG=<file>: the worker's log at debug level goes there (each chunk's phases: 'chunk ended').
  const workerLog = process.env.BENCH_WORKER_LOG ? await open(path.resolve(process.env.BENCH_WORKER_LOG), 'a') : undefined;
  const worker: ChildProcess = spawn(process.execPath, [...profile, '--import', 'tsx', path.join(root, 'worker.ts')], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_MAX: '20',
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_TASK_QUEUE: taskQueue,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      LOG_LEVEL: workerLog ? 'debug' : 'warn',
    },
    stdio: ['ignore', workerLog ? workerLog.fd : 'ignore', 'inherit'],
  });
  // The child has its own copy of the descriptor.
  await workerLog?.close();

  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  const app = createApp({
    sql,
    registry: defaultRegistry(),
    log: createLogger('warn', 'bench-api'),
    temporal: { client, namespace: 'default', taskQueue, uiUrl: 'http://localhost:8233' },
  });
  const port = await freePort();
  const http: ServerType = serve({ fetch: app.fetch, hostname: '127.0.0.1', port });
  // The worker is ready once its workflow bundle is loaded; a tiny batch proves it.
  return {
    apiUrl: `http://127.0.0.1:${port}`,
    key,
    tenantId: tenant.id,
    sql,
    client,
    temporalAddress: server.address,
    workerPid: () => worker.pid!,
    cpu: () => cpuSeconds(worker.pid!, server.pid),
    async stop() {
      http.close();
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
      await connection.close();
      await sql.end();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The worker's memory as a batch goes: the highest RSS seen in each tenth of its jobs
 * (by the counters of the polls), null for a tenth no poll fell in. Flat memory is a
 * last tenth no higher than the second's; a leak grows tenth by tenth.
 */
export function rssByTenth() {
  const tenths: (number | null)[] = new Array<number | null>(10).fill(null);
  return {
    note(processed: number, total: number, mb: number) {
      const i = Math.min(9, Math.floor((10 * processed) / Math.max(1, total)));
      tenths[i] = Math.max(tenths[i] ?? 0, mb);
    },
    tenths: () => [...tenths],
  };
}

/**
 * This process's resident memory, sampled every `everyMs` from now until `stop()`: its
 * RSS at the start and the highest seen, in MB (the API runs in the bench's process).
 */
export function ownRssSampler(everyMs: number) {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { rssBeforeMb: Math.round(before / 2 ** 20), rssPeakMb: Math.round(peak / 2 ** 20) };
    },
  };
}

/** Resident memory of a process now, in MB (Linux). */
export async function rssMb(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return 0;
  }
}

/**
 * CPU seconds (user + system) of the worker, the dev server, every PostgreSQL process and
 * this process (the bench client and the API). The work is CPU-bound on two cores, so the
 * difference between two readings says what a workload cost each part, more steadily
 * than its wall time does. PostgreSQL's is every `postgres` process alive at the reading
 * (backends that exited in between are missed; the pools keep theirs).
 */
export interface CpuSeconds {
  worker: number;
  devServer: number;
  postgres: number;
  benchAndApi: number;
}

const TICKS_PER_SECOND = 100;

async function processCpu(pid: number | undefined): Promise<{ comm: string; seconds: number } | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may hold spaces; utime and stime are fields 14 and 15.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

export async function cpuSeconds(workerPid: number, devServerPid: number | undefined): Promise<CpuSeconds> {
  let postgres = 0;
  for (const name of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const p = await processCpu(Number(name));
    if (p?.comm === 'postgres') postgres += p.seconds;
  }
  const own = process.cpuUsage();
  return {
    worker: (await processCpu(workerPid))?.seconds ?? 0,
    devServer: (await processCpu(devServerPid))?.seconds ?? 0,
    postgres,
    benchAndApi: (own.user + own.system) / 1e6,
  };
}

/** What each part used between two readings, in seconds to two places. */
export function cpuSpent(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  const d = (k: keyof CpuSeconds) => Number((after[k] - before[k]).toFixed(2));
  return { worker: d('worker'), devServer: d('devServer'), postgres: d('postgres'), benchAndApi: d('benchAndApi') };
}
