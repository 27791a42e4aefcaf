/**
 * `npm start` (scripts/start.ts) stops what it started on Ctrl-C. A terminal's Ctrl-C
 * sends SIGINT to the whole process group (npm, the start script, the worker, the API,
 * the dev server), and npm passes it on to the script once more. A signal to npm alone
 * must do the same: npm passes it on to its script, which runs with `exec` so that the
 * start script gets it (not only a shell that dies of it).
 */
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { dropDatabase, withDatabaseName } from '../../db/databases.js';
import { freePort } from '../../temporal/dev-server.js';
import { waitFor } from '../support/consolidation.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The members of a process group still running. Zombies do not count: tsx starts an
 * esbuild service under each node process whose files are not in its cache (a fresh
 * clone, a changed file), and when that process exits its esbuild is reparented to
 * PID 1 and lingers as a zombie until PID 1 reaps it. Dead, it holds nothing.
 */
async function liveMembers(pgid: number): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=,stat=,args=', '-g', String(pgid)]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !/^\d+\s+Z/.test(line));
}

/** The group's live members that `which` picks, once none are left or 30 s have passed. */
async function membersLeft(pgid: number, which: (member: string) => boolean = () => true): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const left = (await liveMembers(pgid)).filter(which);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `command` started in a process group of its own, as a terminal's foreground job is,
 * with its own ports, data directory and database; `run` gets it once its banner is out
 * and the worker and the API have started. Whatever is left is killed afterwards.
 */
async function withStarted(
  command: string,
  args: string[],
  run: (p: { pid: number; exited: Promise<number | null>; out: () => string; env: NodeJS.ProcessEnv }) => Promise<void>,
) {
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
  const start = spawn(command, args, { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  start.stdout.on('data', (d: Buffer) => (out += d.toString()));
  start.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => start.once('exit', (code) => resolve(code)));
  try {
    // The banner says ready only when the API answers: a request sent on reading it gets an answer.
    await waitFor('the banner', async () => out, (o) => o.includes('Batchworks is ready.'));
    const res = await fetch(`http://127.0.0.1:${env.PORT}/v1/batches`, { method: 'POST' });
    expect(res.status).toBe(401);
    await waitFor('the worker and the API to start', async () => out, (o) => o.includes('"msg":"worker started"') && o.includes('"msg":"api listening"'));
    await run({ pid: start.pid!, exited, out: () => out, env });
  } finally {
    try {
      process.kill(-start.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    await rm(dir, { recursive: true, force: true });
    await dropDatabase(databaseUrl);
  }
}

it('the banner comes once the API answers; Ctrl-C: the worker shuts down gracefully, the start script waits for everything and exits 0', async () => {
  await withStarted('npm', ['start'], async ({ pid, exited, out }) => {
    process.kill(-pid, 'SIGINT');
    // The worker hears SIGINT from the terminal, then SIGTERM from the start script: the
    // second used to kill it in the middle of its graceful shutdown, unlogged.
    expect(await exited).toBe(0);
    expect(out()).toContain('"msg":"worker stopped"');
    expect(out()).toContain('"msg":"api shutting down"');
    // Nothing of the group is left running: the worker, the API and the dev server have exited.
    expect(await liveMembers(pid)).toEqual([]);
  });
}, 120_000);

it('`npm start` stopped by a signal to npm alone (kill, timeout, a process manager) stops everything it started', async () => {
  await withStarted('npm', ['start'], async ({ pid, exited, out }) => {
    // npm passes SIGTERM to its script's shell. A shell running the script as its child
    // died of it and left the start script, the worker, the API and the dev server running.
    process.kill(pid, 'SIGTERM');
    await exited;
    expect(await membersLeft(pid)).toEqual([]);
    expect(out()).toContain('"msg":"worker stopped"');
    expect(out()).toContain('"msg":"api shutting down"');
  });
}, 120_000);

/** Runs `command` to its end: its exit code and output. */
function runToEnd(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const child = spawn(command, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
}

it('a second `npm start` on the same port stops at once, naming the port, and the first one runs on', async () => {
  await withStarted('npm', ['start'], async ({ pid, exited, env }) => {
    const second = await runToEnd('npm', ['start'], env);
    expect(second.code).toBe(1);
    expect(second.out).toContain(`something already listens on 127.0.0.1:${env.PORT}, the API's port`);
    // It started nothing: no banner, no worker of its own on the first one's task queue.
    expect(second.out).not.toContain('Batchworks is ready.');
    expect(second.out).not.toContain('"msg":"worker started"');
    expect((await fetch(`http://127.0.0.1:${env.PORT}/readyz`)).status).toBe(200);
    process.kill(-pid, 'SIGINT');
    expect(await exited).toBe(0);
  });
}, 120_000);

it('the API on a port already taken exits 1 saying so, not with a stack trace of an unhandled error', async () => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  try {
    const port = (holder.address() as net.AddressInfo).port;
    const api = await runToEnd(process.execPath, ['--import', 'tsx', 'api/server.ts'], { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' });
    expect(api.code).toBe(1);
    expect(api.out).toContain(`cannot listen on 127.0.0.1:${port}: another process has it`);
    expect(api.out).not.toContain("Unhandled 'error' event");
  } finally {
    holder.close();
  }
}, 60_000);

it('when the start script dies without stopping them (kill -9), the worker and the API stop by themselves', async () => {
  await withStarted('npm', ['start'], async ({ pid, out, env }) => {
    // The script itself: npm's child, its shell after the exec, is the node running scripts/start.ts.
    const members = await liveMembers(pid);
    const script = members.find((m) => m.includes('scripts/start.ts'));
    expect(script, members.join('\n')).toBeDefined();
    process.kill(Number(script!.split(/\s+/)[0]), 'SIGKILL');
    expect(await membersLeft(pid, (m) => m.includes('worker.ts') || m.includes('api/server.ts'))).toEqual([]);
    expect(out()).toContain('"msg":"worker stopped"');
    expect(out()).toContain('"msg":"api shutting down"');
    // The port is free again: the next start can have it.
    await expect(fetch(`http://127.0.0.1:${env.PORT}/readyz`)).rejects.toThrow();
  });
}, 120_000);
