/**
 * `npm start` (scripts/start.ts) stops what it started on Ctrl-C. A terminal's Ctrl-C
 * sends SIGINT to the whole process group (the start script, the worker, the API, the
 * dev server), and the tsx launcher of `npm start` relays it to the script once more.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { dropDatabase, withDatabaseName } from '../../db/databases.js';
import { freePort } from '../../temporal/dev-server.js';
import { waitFor } from '../support/consolidation.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

it('Ctrl-C: the worker shuts down gracefully, the start script waits for everything and exits 0', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'batchworks-start-'));
  const databaseUrl = withDatabaseName(loadConfig().databaseUrl, 'batchworks_start_test');
  const env = {
    ...process.env,
    PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    BATCHWORKS_DATA_DIR: dir,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'info',
  };
  // Its own process group, as a terminal's foreground job is.
  const start = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  start.stdout.on('data', (d: Buffer) => (out += d.toString()));
  start.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => start.once('exit', (code) => resolve(code)));
  const group = -start.pid!;
  try {
    await waitFor('the worker and the API to start', async () => out, (o) => o.includes('"msg":"worker started"') && o.includes('"msg":"api listening"'));
    process.kill(group, 'SIGINT');
    process.kill(start.pid!, 'SIGINT');
    // The worker hears SIGINT from the terminal, then SIGTERM from the start script: the
    // second used to kill it in the middle of its graceful shutdown, unlogged.
    expect(await exited).toBe(0);
    expect(out).toContain('"msg":"worker stopped"');
    expect(out).toContain('"msg":"api shutting down"');
    // Nothing of the group is left: the worker, the API and the dev server have exited.
    expect(() => process.kill(group, 0)).toThrow();
  } finally {
    try {
      process.kill(group, 'SIGKILL');
    } catch {
      // already gone
    }
    await rm(dir, { recursive: true, force: true });
    await dropDatabase(databaseUrl);
  }
}, 120_000);
