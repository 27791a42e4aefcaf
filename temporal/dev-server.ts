/**
 * Starts `temporal server start-dev` for `npm start` and the tests, with the
 * project's search attributes and the settings this workload wants.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTE_FLAGS, SearchAttributes } from '../lib/names.js';
import { resolveTemporalCli, TEMPORAL_CLI_VERSION, type ResolvedCli } from './cli.js';
import { ensureSearchAttributes } from './search-attributes.js';

export interface DevServerOptions {
  cliPath: string | undefined;
  cacheDir: string;
  namespace: string;
  /** 0 picks a free port. */
  port: number;
  /** Set to serve the UI on this port; omit for a headless server. */
  uiPort?: number;
  /** Persistent SQLite file; omit for an in-memory server. */
  dbFilename?: string;
  log: (msg: string) => void;
  /** Receives the server's own output lines. */
  onOutput?: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string | undefined;
  cli: ResolvedCli | { path: 'sdk-download'; source: 'sdk-download' };
  /** The server's process, when this started it (bench/ reads its CPU time). */
  pid?: number;
  stop(): Promise<void>;
}

/** Settings passed to every dev server we start; see DESIGN.md "Temporal dev server here". */
export const DEV_SERVER_TUNING = [
  // Activities handed to the worker in the reply to its workflow task: one round trip less.
  '--dynamic-config-value',
  'system.enableActivityEagerExecution=true',
  // The server moves every timer at least this far into the future (default 1 s), which
  // turns a 100 ms retry backoff into a 1 s one. Batch retries want sub-second timers.
  '--dynamic-config-value',
  'history.timerProcessorMaxTimeShift="10ms"',
  // The timer queue reads its due timers at most 20 times a second by default; behind the
  // other timer tasks a busy server creates (activity and workflow-task timeouts), a
  // 200 ms backoff fired after 300-490 ms. At 1,000 reads a second they fire on time
  // (100 ms after 101-110 ms); W3 per activity at 20,000 jobs ran at 168 and 189 jobs/s
  // against 158 and 138, alternating. Chunked W3 did not move.
  '--dynamic-config-value',
  'history.timerProcessorMaxPollRPS=1000',
  // The same limit on the transfer queue, which hands new workflow and activity tasks to
  // matching: at 20 reads a second a new batch's first workflow task waited 20 ms (p50)
  // between being scheduled and a worker getting it; now 3. One-job batch p50 49 -> 32
  // ms (chunk), 107 -> 69 (per activity). Throughput did not move (under load the queue
  // is read without waiting), and the idle server's CPU did not either (0.01 s in 10 s).
  '--dynamic-config-value',
  'history.transferProcessorMaxPollRPS=1000',
  // Fair dispatch over fairness keys (our tenants; see temporal/batch-client.ts) instead
  // of FIFO: one tenant's backlog does not hold back another's tasks.
  '--dynamic-config-value',
  'matching.useNewMatcher=true',
  '--dynamic-config-value',
  'matching.enableFairness=true',
  '--dynamic-config-value',
  'matching.numTaskqueueReadPartitions=1',
  '--dynamic-config-value',
  'matching.numTaskqueueWritePartitions=1',
  '--sqlite-pragma',
  'journal_mode=wal',
  '--sqlite-pragma',
  'synchronous=normal',
];

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The server exited before it answered: a start that may be tried again. */
class ExitedEarly extends Error {}

/** The port asked for is held by another process: trying again cannot help. */
export class DevServerPortTaken extends Error {}

async function waitUntilReachable(address: string, child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const said = output();
      throw new ExitedEarly(`the Temporal dev server exited with code ${child.exitCode}${said ? `; its last output:\n${said}` : ' and printed nothing'}`);
    }
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        // Bounded, as the connect is: a server that took the connection and never answered this call would hold the start.
        await conn.withDeadline(Date.now() + 2_000, () => conn.healthService.check({}));
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`the Temporal dev server did not answer at ${address} within ${timeoutMs / 1000} s: ${String(lastError)}`);
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const cli = await resolveTemporalCli({ cliPath: opts.cliPath, cacheDir: opts.cacheDir, log: opts.log });
  const port = opts.port || (await freePort());
  const address = `127.0.0.1:${port}`;
  const uiUrl = opts.uiPort ? `http://localhost:${opts.uiPort}` : undefined;
  if (opts.dbFilename) await mkdir(path.dirname(opts.dbFilename), { recursive: true });

  if (!cli) {
    opts.log(`No Temporal CLI found and no Go toolchain to build ${TEMPORAL_CLI_VERSION}; trying the SDK's download (needs the internet).`);
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip: '127.0.0.1',
        port,
        namespace: opts.namespace,
        ui: Boolean(opts.uiPort),
        ...(opts.uiPort ? { uiPort: opts.uiPort } : {}),
        ...(opts.dbFilename ? { dbFilename: opts.dbFilename } : {}),
        searchAttributes: Object.values(SearchAttributes),
        extraArgs: DEV_SERVER_TUNING,
      },
    });
    return { address, uiUrl, cli: { path: 'sdk-download', source: 'sdk-download' }, stop: () => env.teardown() };
  }

  // A server that exits while starting is started again, up to twice, on a new port
  // when the port was picked here: seen once in a bench run (exit code 2, a Go panic),
  // with no cause found in 25 starts in a row after it. Its output goes into the error.
  // A port asked for and taken by another process fails at once.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(cli, opts, attempt === 1 ? port : opts.port || (await freePort()));
    } catch (err) {
      if (!(err instanceof ExitedEarly)) throw err;
      // A port given to it that another process holds stays held: no point in trying again.
      if (opts.port !== 0 && err.message.includes('address already in use')) throw new DevServerPortTaken(err.message);
      if (attempt === 3) throw err;
      opts.log(`${err.message}\nStarting it again (attempt ${attempt + 1} of 3).`);
    }
  }
}

async function launch(cli: ResolvedCli, opts: DevServerOptions, port: number): Promise<DevServer> {
  const address = `127.0.0.1:${port}`;
  const uiUrl = opts.uiPort ? `http://localhost:${opts.uiPort}` : undefined;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--namespace', opts.namespace];
  args.push(...(opts.uiPort ? ['--ui-port', String(opts.uiPort)] : ['--headless']));
  if (opts.dbFilename) args.push('--db-filename', opts.dbFilename);
  for (const flag of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', flag);
  args.push(...DEV_SERVER_TUNING, '--log-level', 'warn');

  opts.log(`Starting the Temporal dev server (${cli.path}, from ${cli.source}) on ${address}${uiUrl ? `, UI ${uiUrl}` : ''}`);
  const child = spawn(cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // The last lines it printed, for the error if it exits while starting.
  const last: string[] = [];
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      last.push(line);
      if (last.length > 20) last.shift();
      opts.onOutput?.(line);
    }
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntilReachable(address, child, 60_000, () => last.join('\n'));
    // Search attributes given on the command line apply only when the namespace is
    // first created; an older persistent database may lack newer ones.
    await ensureSearchAttributes(address, opts.namespace);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl, cli, stop, ...(child.pid !== undefined ? { pid: child.pid } : {}) };
}
