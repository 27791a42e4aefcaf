/** The real API entry point (api/server.ts) as a child process on a fixed loopback port, so a test can SIGTERM it and start another on the same port. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Harness } from '../../support/harness.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface ApiProcess {
  child: ChildProcess;
  url: string;
  ready: Promise<void>;
  exited: Promise<number | null>;
  /** Everything it wrote so far (JSON log lines). */
  output(): string;
}

export function spawnApi(h: Harness, port: number): ApiProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'api/server.ts')], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: h.databaseUrl,
      TEMPORAL_ADDRESS: h.temporalAddress,
      TEMPORAL_TASK_QUEUE: h.taskQueue,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      // The test's submission loop is one client hammering one key: not what the limit is for.
      RATE_LIMIT_PER_SECOND: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (output.includes('"msg":"api listening"')) resolve();
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`api exited (${code}) before it was listening:\n${output}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, url: `http://127.0.0.1:${port}`, ready, exited, output: () => output };
}
