/**
 * The dev server's start (temporal/dev-server.ts) for `npm start`, the tests and the
 * bench: the error that ends a failed start carries what the server said, not only its
 * exit code.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { startDevServer } from '../../temporal/dev-server.js';

it('a dev server whose port is taken fails at once, saying why', async () => {
  // Something else holds the port asked for (and takes the start's connection attempts).
  const sockets = new Set<net.Socket>();
  const holder = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as net.AddressInfo).port;
  const config = loadConfig();
  const said: string[] = [];
  try {
    const start = startDevServer({ cliPath: config.temporalCliPath, cacheDir: config.cacheDir, namespace: 'default', port, log: (m) => said.push(m) });
    await expect(start).rejects.toThrow(/exited with code \d+; its last output:[\s\S]*address already in use/);
    // Trying again could not free the port.
    expect(said.filter((m) => m.startsWith('Starting the Temporal dev server'))).toHaveLength(1);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => holder.close(resolve));
  }
});

it('a dev server that exits while starting is started again, twice, and the error carries its output', async () => {
  // A stand-in for the CLI that dies as a Go panic does (exit code 2), once per start.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'batchworks-dev-server-'));
  const cli = path.join(dir, 'temporal');
  await writeFile(cli, `#!/bin/sh\necho start >> ${JSON.stringify(path.join(dir, 'starts'))}\necho 'panic: runtime error: stand-in' >&2\nexit 2\n`);
  await chmod(cli, 0o755);
  const config = loadConfig();
  try {
    const start = startDevServer({ cliPath: cli, cacheDir: config.cacheDir, namespace: 'default', port: 0, log: () => {} });
    await expect(start).rejects.toThrow(/exited with code 2; its last output:\npanic: runtime error: stand-in/);
    expect((await readFile(path.join(dir, 'starts'), 'utf8')).trim().split('\n')).toHaveLength(3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
